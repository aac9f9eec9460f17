"""The card-face photo: JPEG 2000 detection (pure) and decoding with OpenCV (optional extra).

The visual application's photo (DF27, card-reference §6) is greyscale JPEG 2000, either in a
JP2 container or as a raw J2K codestream; readers must tell them apart by their magic bytes.
Decoding uses OpenCV (``pip install mynaid[photo]``), imported only when a function needs it
so that the rest of the library works without it. OpenCV decodes a greyscale codestream only
with ``IMREAD_UNCHANGED`` (``IMREAD_COLOR`` gives None), so that flag is always used.
"""

from __future__ import annotations

import enum
import importlib
from dataclasses import dataclass
from typing import Any

from mynaid.errors import DependencyMissingError, ParseError

JP2_MAGIC = bytes.fromhex("0000000C6A5020200D0A870A")
J2K_MAGIC = bytes.fromhex("FF4FFF51")
PNG_MAGIC = bytes.fromhex("89504E470D0A1A0A")
#: Decoding bound: a card photo is a few KB; anything far larger is not a card's.
MAX_PHOTO_BYTES = 1 << 20
#: Pixel bound, checked on the JP2/J2K header before decoding (a card photo is about
#: 0.1 Mpx; a patched SIZ can declare 64 Mpx in a few KB).
MAX_PHOTO_PIXELS = 4_000_000


class PhotoFormat(enum.Enum):
    """How the photo bytes are packaged."""

    JP2 = "jp2"  # JPEG 2000 file format (boxes around the codestream)
    J2K = "j2k"  # raw JPEG 2000 codestream
    UNKNOWN = "unknown"

    @property
    def extension(self) -> str:
        return {"jp2": ".jp2", "j2k": ".j2k"}.get(self.value, ".bin")


def detect_format(data: bytes) -> PhotoFormat:
    """JP2 container or raw J2K codestream, by magic bytes (UNKNOWN otherwise)."""
    if data.startswith(JP2_MAGIC):
        return PhotoFormat.JP2
    if data.startswith(J2K_MAGIC):
        return PhotoFormat.J2K
    return PhotoFormat.UNKNOWN


def is_png(data: bytes) -> bool:
    return data.startswith(PNG_MAGIC)


def jp2_codestream(data: bytes) -> bytes:
    """The raw codestream inside a JP2 file (its ``jp2c`` box), or ``data`` if it is one.

    Walks the top-level boxes (ISO/IEC 15444-1 annex I) with bounds checks; raises
    :class:`ParseError` when no codestream box is found.
    """
    fmt = detect_format(data)
    if fmt is PhotoFormat.J2K:
        return data
    if fmt is not PhotoFormat.JP2:
        raise ParseError("not a JPEG 2000 file")
    pos = 0
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        box_type = data[pos + 4 : pos + 8]
        header = 8
        if length == 1:  # 64-bit extended length follows the type
            if pos + 16 > len(data):
                break
            length = int.from_bytes(data[pos + 8 : pos + 16], "big")
            header = 16
        elif length == 0:  # the box runs to the end of the file
            length = len(data) - pos
        if length < header or pos + length > len(data):
            break
        if box_type == b"jp2c":
            return data[pos + header : pos + length]
        pos += length
    raise ParseError("the JP2 file has no complete codestream box")


@dataclass(frozen=True)
class DecodedPhoto:
    """A decoded photo: ``pixels`` is an OpenCV array (H×W greyscale or H×W×C BGR)."""

    width: int
    height: int
    channels: int
    pixels: Any  # numpy.ndarray; Any keeps numpy an optional dependency for type checking

    def to_png(self) -> bytes:
        """The pixels as a PNG (lossless)."""
        cv2 = require_opencv()
        ok, encoded = cv2.imencode(".png", self.pixels)
        if not ok:
            raise ParseError("OpenCV could not encode the photo as PNG")
        return bytes(encoded.tobytes())


def require_opencv() -> Any:
    """The cv2 module, or :class:`DependencyMissingError` naming the extra to install."""
    import os

    from mynaid.imagesize import MAX_IMAGE_PIXELS

    # OpenCV's own decode bound (read on first use), as a second line behind the header
    # check: the default allows 2^30 pixels.
    os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_PIXELS))
    try:
        return importlib.import_module("cv2")
    except ImportError as exc:
        raise DependencyMissingError(
            "decoding the photo needs OpenCV: pip install 'mynaid[photo]'") from exc


def decode(data: bytes) -> DecodedPhoto:
    """Decode a JP2 or J2K photo with OpenCV (greyscale stays one channel)."""
    if detect_format(data) is PhotoFormat.UNKNOWN:
        raise ParseError("the photo is neither a JP2 file nor a J2K codestream")
    if len(data) > MAX_PHOTO_BYTES:
        raise ParseError(f"the photo is {len(data)} bytes, over {MAX_PHOTO_BYTES}")
    from mynaid.imagesize import check_image

    # The header's size first: the decoder allocates what the codestream declares.
    check_image(data, max_pixels=MAX_PHOTO_PIXELS, max_side=8192)
    cv2 = require_opencv()
    # numpy comes with OpenCV; typed as Any so that it stays an optional dependency.
    np: Any = importlib.import_module("numpy")
    buffer = np.frombuffer(data, dtype=np.uint8)
    # IMREAD_UNCHANGED: IMREAD_COLOR returns None for a greyscale codestream.
    try:
        pixels = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        raise ParseError("OpenCV could not decode the photo (corrupt data)",
                         reason="malformed-image") from None
    if pixels is None:
        raise ParseError("OpenCV could not decode the photo (truncated or corrupt data)")
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    channels = 1 if pixels.ndim == 2 else int(pixels.shape[2])
    return DecodedPhoto(width, height, channels, pixels)


def export(data: bytes, fmt: str) -> tuple[bytes, str]:
    """The photo as stored (``"jp2"``: JP2 or J2K bytes unchanged) or as PNG (``"png"``).

    Returns the bytes and the file extension that fits them.
    """
    if fmt == "png":
        return decode(data).to_png(), ".png"
    if fmt == "jp2":
        return data, detect_format(data).extension
    raise ValueError(f"unknown photo export format {fmt!r}")
