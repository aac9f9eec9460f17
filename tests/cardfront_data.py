"""Card-front photos for the tests, made at test time from the emulator's profile."""

from __future__ import annotations

import datetime as dt
import functools
import random
import shutil
from pathlib import Path

import pytest

from mynaid.emulator import default_profile
from mynaid.emulator.profile import CardProfile

#: The day the generated holders' cards are judged on (fixed: results do not drift).
TODAY = dt.date(2026, 12, 1)


def ocr_available() -> bool:
    try:
        import tesserocr  # noqa: F401
        from PIL import Image  # noqa: F401

        from mynaid.cardfront.ocr import tessdata_dir
        from mynaid.cardfront.render import available_fonts

        tessdata_dir()
        return bool(available_fonts()) and shutil.which("tesseract") is not None
    except Exception:
        return False


needs_ocr = pytest.mark.skipif(not ocr_available(),
                               reason="needs tesserocr, Tesseract's Japanese model and a font "
                                      "(make test installs them)")


@functools.lru_cache(maxsize=8)
def front_photo(seed: int = 5, kind: str = "phone", profile: CardProfile | None = None) -> bytes:
    """A camera-like JPEG of the test card's front."""
    from mynaid.cardfront.augment import augment
    from mynaid.cardfront.render import CardFrontData, render_front

    data = CardFrontData.from_profile(profile or default_profile(), serial="1234567890123456")
    rng = random.Random(seed)
    return augment(render_front(data, rng=rng), rng, kind).jpeg


def bad_photo() -> bytes:
    """The same card, out of focus: nothing on it can be read safely."""
    import cv2
    import numpy as np

    img = cv2.imdecode(np.frombuffer(front_photo(), np.uint8), cv2.IMREAD_COLOR)
    img = cv2.GaussianBlur(img, (0, 0), 5)
    return bytes(cv2.imencode(".jpg", img)[1].tobytes())


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
