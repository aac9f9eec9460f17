"""Card photo realism (card-reference §9): greyscale JPEG 2000 in a JP2 container, 378 × 472,
reversible 5/3 wavelet, 5 decomposition levels, one tile, read back from the SIZ and COD
markers of the test card's photo and of the face tooling's card-style conversion."""

from __future__ import annotations

import struct
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mynaid.emulator import default_profile
from mynaid.errors import MynaidError

cardstyle = pytest.importorskip("mynaid.face.cardstyle")
np = pytest.importorskip("numpy")
pytest.importorskip("cv2")

FACE_DIR = Path(__file__).resolve().parent.parent / "vectors" / "card-face"
CARD = (378, 472, 1, 1, 5, True, True)


def geometry(data: bytes) -> tuple[Any, ...]:
    g = cardstyle.jp2_geometry(data)
    return (g.width, g.height, g.components, g.tiles, g.levels, g.reversible, g.jp2_container)


def test_the_test_cards_photo_has_the_real_geometry() -> None:
    committed = (FACE_DIR / "photo.jp2").read_bytes()
    assert geometry(committed) == CARD
    profile = default_profile()
    assert profile.visual is not None
    assert profile.visual.photo == committed  # what the emulated card's DF27 holds
    assert 1024 < len(committed) < 8192


class _OneFace:
    """A stand-in detector: one face box in the middle of the image."""

    def detect(self, image: Any) -> list[Any]:
        from mynaid.face.models import FaceBox

        rows, cols = image.shape[:2]
        return [SimpleNamespace(box=FaceBox(cols // 3, rows // 4, 2 * cols // 3, rows // 2))]


def test_card_style_conversion_has_the_real_geometry() -> None:
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, size=(720, 960, 3), dtype=np.uint8)
    pixels = cardstyle.card_photo_pixels(_OneFace(), image)  # type: ignore[arg-type]
    assert pixels.shape == (472, 378)
    photo = cardstyle.make_card_photo(_OneFace(), image)  # type: ignore[arg-type]
    assert geometry(photo) == CARD
    assert len(photo) < 16384  # a few KB at the default rate


@pytest.mark.parametrize("cut", [0, 3, 20, 45, 60])
def test_geometry_reader_refuses_truncated_input(cut: int) -> None:
    data = (FACE_DIR / "photo.jp2").read_bytes()
    with pytest.raises(MynaidError):
        cardstyle.jp2_geometry(data[:cut] if cut < 45 else _without_cod(data))


def _without_cod(data: bytes) -> bytes:
    from mynaid.photo import jp2_codestream

    stream = jp2_codestream(data)
    siz_end = 4 + struct.unpack(">H", stream[6:8])[0]
    return stream[:siz_end] + b"\xff\x90" + bytes(10)  # SOT straight after SIZ


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 120))
def test_geometry_reader_on_mutated_input(noise: bytes, cut: int) -> None:
    """Hostile bytes: a typed error or a result, never another exception, never a hang."""
    base = (FACE_DIR / "photo.jp2").read_bytes()
    for data in (noise, base[:cut] + noise, base[: 40 + cut] + noise + base[40 + cut:]):
        try:
            cardstyle.jp2_geometry(data)
        except MynaidError:
            pass
