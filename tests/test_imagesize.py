"""Image sizes from the header before decoding (mynaid.imagesize), and that every decode
path refuses an image bomb with a typed error: a small PNG declaring 20000 × 20000, a card
photo whose SIZ was patched to 64 Mpx, an empty file."""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

import pytest

from mynaid.errors import ParseError
from mynaid.imagesize import (
    ImageFormatError,
    ImageTooLargeError,
    check_image,
    image_size,
)

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
    chunk += struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(b"\x00" * 4096, 9)
    chunk += struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(
        ">I", zlib.crc32(b"IDAT" + idat))
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _encoded(ext: str, width: int = 137, height: int = 123, channels: int = 3) -> bytes:
    shape = (height, width, channels) if channels > 1 else (height, width)
    image = np.random.default_rng(1).integers(0, 255, shape, dtype=np.uint8)
    ok, data = cv2.imencode(ext, image)
    assert ok
    return bytes(data.tobytes())


@pytest.mark.parametrize("ext", [".png", ".jpg", ".jp2", ".bmp", ".tiff", ".ppm", ".webp"])
def test_sizes_match_the_decoder(ext: str) -> None:
    try:
        data = _encoded(ext)
    except cv2.error:
        pytest.skip(f"OpenCV here cannot encode {ext}")
    size = image_size(data)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert (size.width, size.height) == (decoded.shape[1], decoded.shape[0])


def test_png_bomb_is_refused_before_decoding() -> None:
    from mynaid.face.imaging import decode_image

    bomb = _png_header(20000, 20000)
    assert len(bomb) < 1024
    with pytest.raises(ImageTooLargeError) as info:
        decode_image(bomb)
    assert info.value.reason == "image-too-large"
    assert "20000 × 20000" in str(info.value)


def test_card_photo_with_patched_siz_is_refused() -> None:
    from mynaid import photo
    from mynaid.emulator import default_profile

    visual = default_profile().visual
    assert visual is not None
    jp2 = visual.photo  # the emulated card's JPEG 2000 photo (300 × 240)
    decoded = photo.decode(jp2)
    assert (decoded.width, decoded.height) == (image_size(jp2).width, image_size(jp2).height)
    at = jp2.find(b"\xff\x4f\xff\x51") + 2  # SIZ after SOC
    patched = bytearray(jp2)
    patched[at + 6:at + 14] = struct.pack(">II", 8000, 8000)  # Xsiz, Ysiz: 64 Mpx
    with pytest.raises(ImageTooLargeError):
        photo.decode(bytes(patched))
    # Also when only the codestream is given (a raw J2K photo).
    codestream = bytes(patched[at - 2:])
    with pytest.raises(ImageTooLargeError):
        photo.decode(codestream)


def test_empty_and_unknown_images_are_typed(tmp_path: Path) -> None:
    from mynaid.face.imaging import decode_image, load_image

    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ParseError) as info:
        load_image(tmp_path / "empty.png")
    assert str(tmp_path / "empty.png") in str(info.value)
    for data in (b"GIF", b"\x89PNG\r\n\x1a\n", b"hello world", b"\xff\xd8\xff\xd9"):
        with pytest.raises(ParseError):
            decode_image(data)


def test_mutated_headers_never_leak_foreign_exceptions() -> None:
    rng = random.Random(11)
    seeds = [_png_header(40, 30), _encoded(".png"), _encoded(".jpg"), _encoded(".bmp"),
             _encoded(".tiff"), _encoded(".ppm")]
    from mynaid.emulator import default_profile

    visual = default_profile().visual
    assert visual is not None
    seeds.append(visual.photo)
    for _ in range(3000):
        data = bytearray(rng.choice(seeds)[:600])
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            del data[rng.randrange(len(data)):]
        try:
            check_image(bytes(data))
        except (ImageFormatError, ImageTooLargeError):
            pass
