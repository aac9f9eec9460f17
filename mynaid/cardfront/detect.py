"""Find the card in a photo and rectify it to the ID-1 aspect (85.60 × 53.98 mm).

Candidates are the four-sided outlines found in three views of the image (edges, and Otsu
thresholds of brightness and of saturation: the card is a light, slightly tinted plastic on
whatever it lies on). The best candidate is the largest whose rectified sides are close to
the ID-1 aspect. A card that fills the frame (a flatbed scan cropped to the card) has no
outline: the whole image is then taken when its own aspect fits. The rectified card is
turned right side up by the photo, the one large dark block, which is on the right.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from mynaid.cardfront.errors import CardFrontError
from mynaid.cardfront.render import CARD_SIZE

#: Largest input accepted, in pixels (decoded): a bound against decompression bombs.
MAX_PIXELS = 40_000_000
#: Images are worked on with their long side at most this (speed; the card is still big).
WORK_SIZE = 1280
ID1_ASPECT = 85.60 / 53.98
#: Largest relative aspect error of a card outline: any outline, and one whose sides are
#: seen all round (a card photographed at a slant looks shorter than ID-1).
MAX_ASPECT_ERROR = (0.18, 0.25)


@dataclass(frozen=True)
class RectifiedCard:
    """The card, rectified to :data:`CARD_SIZE` (grey), and how sure the finder was."""

    grey: Any  # np.ndarray uint8, CARD_SIZE[1] × CARD_SIZE[0]
    corners: Any  # 4 × 2 float32, in the input image's pixels
    aspect_error: float


def decode_image(data: bytes) -> Any:
    """Decode image bytes (JPEG, PNG, ...) to BGR, refusing what is not a bounded image."""
    if not data:
        raise CardFrontError("image", "the file is empty")
    if len(data) > 64 * 1024 * 1024:
        raise CardFrontError("image", "the image file is larger than 64 MiB")
    # The header's size first (Pillow reads only the header): a huge image is refused
    # before any pixel is allocated.
    import io
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
    except Exception:  # Pillow raises many types for hostile headers; all mean "no"
        raise CardFrontError("image", "the file is not an image that can be read") from None
    if width * height > MAX_PIXELS or width <= 0 or height <= 0:
        raise CardFrontError("image", "the image has too many pixels")
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        img = None
    if img is None:
        raise CardFrontError("image", "the file is not an image OpenCV can decode")
    return img


def _order(pts: Any) -> Any:
    """Corners in order top-left, top-right, bottom-right, bottom-left, the first edge long."""
    pts = np.asarray(pts, np.float32).reshape(4, 2)
    c = pts.mean(axis=0)
    ang = np.arctan2(pts[:, 1] - c[1], pts[:, 0] - c[0])
    pts = pts[np.argsort(ang)]  # clockwise in image coordinates (y down)
    e01 = np.linalg.norm(pts[1] - pts[0]) + np.linalg.norm(pts[3] - pts[2])
    e12 = np.linalg.norm(pts[2] - pts[1]) + np.linalg.norm(pts[0] - pts[3])
    if e12 > e01:  # make the first edge the long one
        pts = np.roll(pts, -1, axis=0)
    return pts


def _aspect_error(pts: Any) -> float:
    long = (np.linalg.norm(pts[1] - pts[0]) + np.linalg.norm(pts[3] - pts[2])) / 2
    short = (np.linalg.norm(pts[2] - pts[1]) + np.linalg.norm(pts[0] - pts[3])) / 2
    if short <= 0:
        return 9.0
    return float(abs(long / short - ID1_ASPECT) / ID1_ASPECT)


_T = np.linspace(0.05, 0.95, 40)[:, None]


def _side_points(quad: Any) -> tuple[Any, Any]:
    """Points along the quad's four sides (160 × 2) and each side's outward normal there."""
    quad = np.asarray(quad, np.float64)
    centre = quad.mean(axis=0)
    points, normals = [], []
    for k in range(4):
        a, b = quad[k], quad[(k + 1) % 4]
        along = (b - a) / (float(np.linalg.norm(b - a)) + 1e-9)
        normal = np.array([along[1], -along[0]])
        if float(np.dot((a + b) / 2 - centre, normal)) < 0:
            normal = -normal  # pointing out of the quad
        points.append(a + (b - a) * _T)
        normals.append(np.broadcast_to(normal, (len(_T), 2)))
    return np.concatenate(points), np.concatenate(normals)


def _sample(image: Any, pts: Any) -> tuple[Any, Any]:
    """Pixel values at ``pts`` and which of the points lie inside the image."""
    h, w = image.shape[:2]
    x, y = pts[:, 0].astype(np.int64), pts[:, 1].astype(np.int64)
    inside = (pts[:, 0] >= 0) & (x < w) & (pts[:, 1] >= 0) & (y < h)
    return image[np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)].astype(np.int32), inside


def _edge_support(quad: Any, edges: Any) -> float:
    """The fraction of points along the quad's sides that lie on an edge of the image."""
    pts, _ = _side_points(quad)
    values, inside = _sample(edges, pts)
    return float(np.count_nonzero(inside & (values > 0))) / len(pts)


def _contrast_support(quad: Any, grey: Any, step: float = 5.0, threshold: float = 12.0
                      ) -> float:
    """The fraction of points along the quad's sides where the image differs across the side
    (just inside against just outside). A quad that swallowed a light object lying against
    the card has sides running through the background, where nothing changes across them;
    the card's own outline changes all along, even where its edge is too faint for Canny."""
    pts, normals = _side_points(quad)
    inner, ok_in = _sample(grey, pts - normals * step)
    outer, ok_out = _sample(grey, pts + normals * step)
    hits = ok_in & ok_out & (np.abs(inner - outer) > threshold)
    return float(np.count_nonzero(hits)) / len(pts)


def _candidates(small: Any, edges: Any, blur: Any) -> list[Any]:
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    views = [edges]
    _, bright = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    views.append(bright)
    # Light and not saturated: the card's tint is faint, most backgrounds are not.
    light = ((hsv[..., 2] > 150) & (hsv[..., 1] < 60)).astype(np.uint8) * 255
    views.append(cv2.morphologyEx(light, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8)))
    area_min = 0.08 * small.shape[0] * small.shape[1]
    area_max = 0.97 * small.shape[0] * small.shape[1]  # the frame itself is not the card
    quads = []
    for view in views:
        contours, _ = cv2.findContours(view, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        for cnt in contours:
            if not area_min <= cv2.contourArea(cnt) <= area_max:
                continue
            hull = cv2.convexHull(cnt)
            peri = cv2.arcLength(hull, True)
            approx = None
            for eps in (0.02, 0.03, 0.05):
                a = cv2.approxPolyDP(hull, eps * peri, True)
                if len(a) == 4:
                    approx = a
                    break
            if approx is None:
                rect = cv2.minAreaRect(hull)
                approx = cv2.boxPoints(rect)
                # A rotated rectangle fitted to a blob that is not one: keep it only if full.
                if cv2.contourArea(hull) < 0.9 * rect[1][0] * rect[1][1]:
                    continue
            quads.append(_order(approx))
    return quads


def _upright(card: Any) -> Any:
    """Turn the rectified card 180° when its photo (a dark block) is on the left."""
    h, w = card.shape
    right = card[int(h * 0.25) : int(h * 0.75), int(w * 0.72) : int(w * 0.95)]
    left = card[int(h * 0.25) : int(h * 0.75), int(w * 0.05) : int(w * 0.28)]
    if float(left.mean()) + 4 < float(right.mean()) or (
            abs(float(left.mean()) - float(right.mean())) <= 4
            and float(left.std()) > float(right.std())):
        return cv2.rotate(card, cv2.ROTATE_180)
    return card


def find_card(image: Any) -> RectifiedCard:
    """The card in a BGR image, rectified, or :class:`CardFrontError` (field ``card``)."""
    h0, w0 = image.shape[:2]
    if min(h0, w0) < 200:
        raise CardFrontError("card", "the image is too small to read the card")
    f = min(1.0, WORK_SIZE / max(h0, w0))
    small = cv2.resize(image, (round(w0 * f), round(h0 * f)), interpolation=cv2.INTER_AREA) \
        if f < 1 else image
    blur = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
    # Low thresholds: a light card on a light scanner bed has faint edges.
    edges = cv2.dilate(cv2.Canny(blur, 15, 45), np.ones((5, 5), np.uint8))
    best = None
    best_score = -1.0
    for quad in _candidates(small, edges, blur):
        err = _aspect_error(quad)
        if err > MAX_ASPECT_ERROR[1]:
            continue
        area = float(cv2.contourArea(quad))
        if area > 0.9 * small.shape[0] * small.shape[1]:
            continue  # the frame's own border (the whole-frame case is handled below)
        support = max(_edge_support(quad, edges), _contrast_support(quad, blur))
        if err > MAX_ASPECT_ERROR[0] and support < 0.95:
            continue  # a strong perspective is believed only of an outline seen all round
        score = area * (1 - err) * support ** 3
        if score > best_score:
            best, best_score = quad, score
    if best is None:
        # A scan cropped to the card: the whole frame, if its shape is the card's.
        whole = np.array([[0, 0], [small.shape[1] - 1, 0],
                          [small.shape[1] - 1, small.shape[0] - 1],
                          [0, small.shape[0] - 1]], np.float32)
        whole = _order(whole)
        if _aspect_error(whole) > 0.1:
            raise CardFrontError("card", "no card found in the image: place the whole card "
                                 "in the frame, on a darker surface")
        best = whole
    corners = best / f
    w, h = CARD_SIZE
    dst = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
    m = cv2.getPerspectiveTransform(corners.astype(np.float32), dst)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    card = cv2.warpPerspective(grey, m, (w, h), flags=cv2.INTER_AREA)
    return RectifiedCard(_upright(card), corners, _aspect_error(best))
