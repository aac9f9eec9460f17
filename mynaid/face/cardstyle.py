"""Card-style test images: what a My Number Card photo and a kiosk camera frame look like.

The card's photo (visual application, DF27) is a small greyscale JPEG 2000 portrait of a
few KB. :func:`make_card_photo` makes one from any photo: a crop around the face in ID
photo proportions (35 × 45), greyscale, ~300 px high, JPEG 2000 (JP2) at a compression
that gives ~3–4 KB. :func:`make_frame` makes a 640×480 colour "camera frame" with the face
at kiosk distance. They are for calibration, tests and benchmarks (``mynaid face eval``,
``benchmarks/make_face_pairs.py``); they never decode a real card's photo.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mynaid.errors import MynaidError
from mynaid.face._deps import load_cv2, load_numpy

if TYPE_CHECKING:
    from mynaid.face._typing import ImageArray
    from mynaid.face.backend import FaceBackend
    from mynaid.face.models import FaceBox

#: Width : height of the card's photo (ID photo, 35 mm × 45 mm).
CARD_ASPECT = 35 / 45
#: The crop is this many face-box heights high (head, hair, shoulders).
CARD_CROP_FACES = 2.2
#: JPEG 2000 compression parameter (OpenCV's ratio × 1000): 50 gives ~3.5 KB at 300 px.
CARD_JP2_COMPRESSION = 50
FRAME_SIZE = (640, 480)
#: The frame is this many face-box widths wide (face ~180 px in 640×480).
FRAME_CROP_FACES = 3.5


def _face_box(backend: FaceBackend, image: ImageArray) -> FaceBox:
    faces = backend.detect(image)
    if not faces:
        raise MynaidError("no face found to build the card-style image around")
    return faces[0].box


def _crop(image: ImageArray, cx: float, cy: float, width: int, height: int) -> ImageArray:
    """A ``width`` × ``height`` crop centred on (cx, cy), edges replicated where it
    leaves the image."""
    cv2 = load_cv2()
    rows, cols = image.shape[:2]
    x0, y0 = round(cx - width / 2), round(cy - height / 2)
    pad_top, pad_left = max(0, -y0), max(0, -x0)
    pad_bottom, pad_right = max(0, y0 + height - rows), max(0, x0 + width - cols)
    padded = cv2.copyMakeBorder(image, pad_top, pad_bottom, pad_left, pad_right,
                                cv2.BORDER_REPLICATE)
    top, left = y0 + pad_top, x0 + pad_left
    out: ImageArray = padded[top:top + height, left:left + width]
    return out


def card_photo_pixels(backend: FaceBackend, image: ImageArray, height: int = 300) -> ImageArray:
    """The greyscale H×W card-style portrait of the (largest) face in RGB ``image``."""
    cv2 = load_cv2()
    box = _face_box(backend, image)
    cx, cy = box.center
    crop_h = max(8, round(box.height * CARD_CROP_FACES))
    crop_w = max(8, round(crop_h * CARD_ASPECT))
    # The face sits a little above the centre of an ID photo (room for the shoulders).
    crop = _crop(image, cx, cy + 0.1 * box.height, crop_w, crop_h)
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    size = (max(1, round(height * CARD_ASPECT)), height)
    small: ImageArray = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return small


def encode_jp2(pixels: ImageArray, compression: int = CARD_JP2_COMPRESSION) -> bytes:
    """JPEG 2000 (JP2 file) bytes of ``pixels``, via OpenCV."""
    cv2 = load_cv2()
    ok, buffer = cv2.imencode(".jp2", pixels,
                              [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, int(compression)])
    if not ok:
        raise MynaidError("OpenCV could not encode JPEG 2000")
    return bytes(buffer.tobytes())


def make_card_photo(backend: FaceBackend, image: ImageArray, height: int = 300,
                    compression: int = CARD_JP2_COMPRESSION) -> bytes:
    """A card-style photo (greyscale JPEG 2000, ID crop, ``height`` px) of RGB ``image``."""
    return encode_jp2(card_photo_pixels(backend, image, height), compression)


def make_frame(backend: FaceBackend, image: ImageArray) -> ImageArray:
    """A 640×480 RGB "camera frame" of the (largest) face in RGB ``image``."""
    cv2 = load_cv2()
    box = _face_box(backend, image)
    width = max(8, round(box.width * FRAME_CROP_FACES))
    height = width * FRAME_SIZE[1] // FRAME_SIZE[0]
    crop = _crop(image, *box.center, width, height)
    frame: ImageArray = cv2.resize(crop, FRAME_SIZE, interpolation=cv2.INTER_AREA)
    return frame


def side_by_side(left: ImageArray, right: ImageArray,
                 size: tuple[int, int] = FRAME_SIZE) -> ImageArray:
    """Two images in one ``size`` frame (each scaled into one half): a two-person frame."""
    cv2 = load_cv2()
    np = load_numpy()
    width, height = size
    half = width // 2
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    for index, image in enumerate((left, right)):
        rows, cols = image.shape[:2]
        scale = min(half / cols, height / rows)
        scaled = cv2.resize(image, (max(1, int(cols * scale)), max(1, int(rows * scale))),
                            interpolation=cv2.INTER_AREA)
        y = (height - scaled.shape[0]) // 2
        x = index * half + (half - scaled.shape[1]) // 2
        canvas[y:y + scaled.shape[0], x:x + scaled.shape[1]] = scaled
    result: ImageArray = canvas
    return result
