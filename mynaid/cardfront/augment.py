"""Camera-like shots of a rendered card front: the augmentation generator of the test set.

Each shot puts the card on a cluttered background at some scale and rotation, in
perspective, then adds lighting (a gradient and sometimes a glare spot), blur, sensor noise
and JPEG compression. Three kinds of shot: ``camera`` (a kiosk camera frame), ``phone`` (a
larger, sharper photo) and ``scan`` (a flatbed scan: nearly square to the glass, light
background). Everything is drawn from ``rng``, so a seed gives the same shots every time.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

KINDS = ("camera", "phone", "scan")


@dataclass(frozen=True)
class Shot:
    """One augmented image (JPEG bytes) and how it was made (for the benchmark's report)."""

    jpeg: bytes
    kind: str
    angle: float
    blur: float
    noise: float
    quality: int
    glare: bool


def _background(rng: random.Random, w: int, h: int, light: bool) -> Any:
    nrng = np.random.default_rng(rng.getrandbits(32))
    if light:
        base = np.full((h, w, 3), rng.randint(225, 250), np.uint8)
        return base
    c1 = np.array([rng.randint(20, 160) for _ in range(3)], np.float32)
    c2 = np.array([rng.randint(20, 160) for _ in range(3)], np.float32)
    t = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
    img = (c1 * (1 - t) + c2 * t).repeat(h, axis=0)
    img += nrng.normal(0, 10, (h, w, 1)).astype(np.float32)  # texture (wood, cloth)
    out = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(rng.randint(4, 14)):  # clutter: papers, pens, cables, coins
        color = tuple(int(v) for v in nrng.integers(0, 256, 3))
        kind = rng.random()
        x, y = rng.randint(0, w), rng.randint(0, h)
        if kind < 0.4:
            cv2.line(out, (x, y), (rng.randint(0, w), rng.randint(0, h)), color,
                     rng.randint(2, 12))
        elif kind < 0.7:
            cv2.circle(out, (x, y), rng.randint(10, 80), color, -1)
        else:
            cv2.rectangle(out, (x, y), (x + rng.randint(20, 200), y + rng.randint(20, 200)),
                          color, -1)
    return out


def augment(card_rgb: Any, rng: random.Random, kind: str | None = None) -> Shot:
    """A camera-like shot of ``card_rgb`` (an RGB array or PIL image of the card front)."""
    card = cv2.cvtColor(np.asarray(card_rgb), cv2.COLOR_RGB2BGR)
    ch, cw = card.shape[:2]
    kind = kind or rng.choice(KINDS)
    if kind == "scan":
        w, h = 1100, 760
        frac = rng.uniform(0.72, 0.85)
        angle = rng.uniform(-4, 4) + rng.choice((0, 0, 180))
        persp = 0.0
    else:
        w, h = (1280, 960) if kind == "camera" else (1600, 1200)
        frac = rng.uniform(0.5, 0.75)
        r = rng.random()
        angle = (rng.uniform(-25, 25) if r < 0.6 else
                 rng.uniform(-15, 15) + rng.choice((90, 180, 270)))
        persp = rng.uniform(0.0, 0.07)
    bg = _background(rng, w, h, light=kind == "scan")
    # Card corners, scaled, rotated, each moved a little (perspective), then placed.
    scale = frac * w / cw
    pts = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], np.float32) - [cw / 2, ch / 2]
    pts *= scale
    a = math.radians(angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], np.float32)
    pts = pts @ rot.T
    size = cw * scale
    pts += np.array([[rng.uniform(-persp, persp) * size for _ in range(2)] for _ in range(4)],
                    np.float32)
    half = np.abs(pts).max(axis=0)
    cx = rng.uniform(half[0] + 10, max(half[0] + 11, w - half[0] - 10))
    cy = rng.uniform(half[1] + 10, max(half[1] + 11, h - half[1] - 10))
    pts += [cx, cy]
    src = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], np.float32)
    m = cv2.getPerspectiveTransform(src, pts.astype(np.float32))
    warped = cv2.warpPerspective(card, m, (w, h), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((ch, cw), 255, np.uint8), m, (w, h))
    if kind != "scan":  # a soft shadow under the card
        shadow = cv2.GaussianBlur(mask, (0, 0), 6)
        bg = (bg.astype(np.float32) * (1 - 0.35 * shadow[..., None] / 255)).astype(np.uint8)
    img: Any = np.where(mask[..., None] > 127, warped, bg).astype(np.float32)
    if kind == "scan":  # the card's edge casts a thin grey line on the scanner glass
        edge = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        img[edge] = rng.randint(150, 200)
    # Lighting: a linear gradient, sometimes a glare spot.
    gx, gy = rng.uniform(-1, 1), rng.uniform(-1, 1)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 1 + rng.uniform(0, 0.25) * ((xx / w - 0.5) * gx + (yy / h - 0.5) * gy)
    img *= rng.uniform(0.8, 1.1) * light[..., None]
    glare = kind != "scan" and rng.random() < 0.25
    if glare:
        gxc, gyc = rng.uniform(0, w), rng.uniform(0, h)
        rad = rng.uniform(0.04, 0.1) * w
        spot = np.exp(-((xx - gxc) ** 2 + (yy - gyc) ** 2) / (2 * rad * rad))
        img += rng.uniform(60, 140) * spot[..., None]
    blur = rng.choice((0.0, rng.uniform(0.3, 1.2))) if kind != "scan" else rng.uniform(0, 0.5)
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    noise = rng.uniform(0, 7)
    img = img + np.random.default_rng(rng.getrandbits(32)).normal(
        0, noise, img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    quality = rng.randint(45, 95)
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return Shot(buf.tobytes(), kind, angle, blur, noise, quality, glare)
