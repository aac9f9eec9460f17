"""Image dimensions from the header, before any decoding (pure, I/O-free).

A few hundred kilobytes of PNG or JPEG 2000 can declare 20000 × 20000 pixels, and a decoder
allocates what the header says. So every image mynaid decodes (card photos, face images,
camera stills) is sized here first and refused when it is too large, with a typed error:
:class:`ImageTooLargeError` (``image-too-large``) or :class:`ImageFormatError`
(``unsupported-image-format`` / ``malformed-image``) for data whose size cannot be read.
Formats: PNG (IHDR), JPEG (the first SOFn), JPEG 2000 (the JP2 ``ihdr`` box and the
codestream's SIZ marker, which is what the decoder uses), BMP, GIF, WebP, TIFF (every IFD),
PNM. Anything else is refused rather than handed to a decoder unchecked.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from mynaid.errors import ParseError

__all__ = [
    "MAX_IMAGE_PIXELS",
    "ImageFormatError",
    "ImageSize",
    "ImageTooLargeError",
    "check_image",
    "image_size",
]

#: Default bound: 40 Mpx (a 4K camera frame is 8.3 Mpx, a phone photo 12-48 Mpx).
MAX_IMAGE_PIXELS = 40_000_000
#: Longest side accepted by default (decoders and resizes work per row).
MAX_IMAGE_SIDE = 16384
#: Most channels/components accepted (grey, grey+alpha, RGB, RGBA).
MAX_COMPONENTS = 4
#: Most JPEG 2000 tiles accepted.
MAX_TILES = 4096


class ImageFormatError(ParseError):
    """The image's format is not one whose size can be read from its header, or the header
    is malformed."""

    reason: str = "unsupported-image-format"


class ImageTooLargeError(ParseError):
    """The header declares more pixels (or a longer side) than the bound."""

    reason: str = "image-too-large"


@dataclass(frozen=True)
class ImageSize:
    """What a header declares."""

    format: str
    width: int
    height: int
    components: int = 1

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _malformed(fmt: str, what: str) -> ImageFormatError:
    return ImageFormatError(f"cannot decode the image: the {fmt} header is malformed ({what})",
                            reason="malformed-image")


def _u16(data: bytes, pos: int, order: str = ">") -> int:
    if pos + 2 > len(data):
        raise IndexError(pos)
    value: int = struct.unpack_from(order + "H", data, pos)[0]
    return value


def _u32(data: bytes, pos: int, order: str = ">") -> int:
    if pos + 4 > len(data):
        raise IndexError(pos)
    value: int = struct.unpack_from(order + "I", data, pos)[0]
    return value


def _png(data: bytes) -> ImageSize:
    if data[12:16] != b"IHDR":
        raise _malformed("PNG", "the first chunk is not IHDR")
    colour = data[25] if len(data) > 25 else 0
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour, 4)
    return ImageSize("png", _u32(data, 16), _u32(data, 20), channels)


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(data: bytes) -> ImageSize:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise _malformed("JPEG", "a marker was expected")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            break  # end of image or start of scan before any frame header
        length = _u16(data, pos + 2)
        if length < 2:
            raise _malformed("JPEG", "a segment length is too small")
        if marker in _SOF:
            height = _u16(data, pos + 5)
            width = _u16(data, pos + 7)
            components = data[pos + 9] if pos + 9 < len(data) else 0
            if height == 0:
                # A DNL marker would give the height later: not supported, refuse.
                raise _malformed("JPEG", "the height is deferred to a DNL marker")
            return ImageSize("jpeg", width, height, components)
        pos += 2 + length
    raise _malformed("JPEG", "no frame header before the scan")


def _siz(data: bytes, pos: int) -> ImageSize:
    """The JPEG 2000 codestream's SIZ marker segment at ``pos`` (right after SOC)."""
    if data[pos:pos + 2] != b"\xff\x51":
        raise _malformed("JPEG 2000", "SIZ does not follow SOC")
    xsiz, ysiz = _u32(data, pos + 6), _u32(data, pos + 10)
    xo, yo = _u32(data, pos + 14), _u32(data, pos + 18)
    xt, yt = _u32(data, pos + 22), _u32(data, pos + 26)
    xto, yto = _u32(data, pos + 30), _u32(data, pos + 34)
    components = _u16(data, pos + 38)
    if xo >= xsiz or yo >= ysiz:
        raise _malformed("JPEG 2000", "the image offset lies outside the reference grid")
    if xt == 0 or yt == 0 or xto > xo or yto > yo:
        raise _malformed("JPEG 2000", "bad tile size or tile offset")
    # Decoders allocate per tile: a tiny tile size over a large grid is its own bomb.
    tiles = -(-(xsiz - xto) // xt) * -(-(ysiz - yto) // yt)
    if tiles > MAX_TILES:
        raise ImageTooLargeError(f"the JPEG 2000 codestream declares {tiles} tiles, over "
                                 f"{MAX_TILES}")
    return ImageSize("j2k", xsiz - xo, ysiz - yo, components)


def _jp2(data: bytes) -> ImageSize:
    pos = 0
    declared: ImageSize | None = None
    codestream: ImageSize | None = None
    while pos + 8 <= len(data):
        length = _u32(data, pos)
        kind = data[pos + 4:pos + 8]
        header = 8
        if length == 1:
            length = int.from_bytes(data[pos + 8:pos + 16], "big")
            header = 16
        elif length == 0:
            length = len(data) - pos
        if length < header or pos + length > len(data):
            raise _malformed("JP2", "a box runs past the end of the file")
        body = pos + header
        if kind == b"jp2h":
            inner = body
            while inner + 8 <= pos + length:
                inner_length = _u32(data, inner)
                if data[inner + 4:inner + 8] == b"ihdr":
                    declared = ImageSize("jp2", _u32(data, inner + 12), _u32(data, inner + 8),
                                         _u16(data, inner + 16))
                if inner_length < 8:
                    break
                inner += inner_length
        elif kind == b"jp2c":
            if data[body:body + 2] != b"\xff\x4f":
                raise _malformed("JP2", "the codestream does not start with SOC")
            codestream = _siz(data, body + 2)
        pos += length
    if codestream is None:
        raise _malformed("JP2", "no codestream box")
    # The decoder uses the codestream; a container that claims less is not believed either.
    if declared is not None and declared.pixels > codestream.pixels:
        return ImageSize("jp2", declared.width, declared.height, codestream.components)
    return ImageSize("jp2", codestream.width, codestream.height, codestream.components)


def _bmp(data: bytes) -> ImageSize:
    header_size = _u32(data, 14, "<")
    if header_size == 12:
        return ImageSize("bmp", _u16(data, 18, "<"), _u16(data, 20, "<"), 3)
    width = struct.unpack_from("<i", data, 18)[0]
    height = struct.unpack_from("<i", data, 22)[0]
    return ImageSize("bmp", abs(width), abs(height), 4)


def _gif(data: bytes) -> ImageSize:
    return ImageSize("gif", _u16(data, 6, "<"), _u16(data, 8, "<"), 4)


def _webp(data: bytes) -> ImageSize:
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
        return ImageSize("webp", width, height, 4)
    if chunk == b"VP8L":
        if len(data) < 25:
            raise IndexError(25)
        bits = int.from_bytes(data[21:25], "little")
        return ImageSize("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 4)
    if chunk == b"VP8 ":
        return ImageSize("webp", _u16(data, 26, "<") & 0x3FFF, _u16(data, 28, "<") & 0x3FFF, 3)
    raise _malformed("WebP", "unknown chunk")


def _tiff(data: bytes) -> ImageSize:
    order = "<" if data[:2] == b"II" else ">"
    offset = _u32(data, 4, order)
    largest: ImageSize | None = None
    seen: set[int] = set()
    while offset and offset not in seen and len(seen) < 64:
        seen.add(offset)
        count = _u16(data, offset, order)
        width = height = 0
        samples = 1
        for index in range(count):
            entry = offset + 2 + 12 * index
            tag, kind = _u16(data, entry, order), _u16(data, entry + 2, order)
            value = _u16(data, entry + 8, order) if kind == 3 else _u32(data, entry + 8, order)
            if tag == 256:
                width = value
            elif tag == 257:
                height = value
            elif tag == 277:
                samples = value
        size = ImageSize("tiff", width, height, samples)
        if largest is None or size.pixels > largest.pixels:
            largest = size
        offset = _u32(data, offset + 2 + 12 * count, order)
    if largest is None or largest.pixels == 0:
        raise _malformed("TIFF", "no image file directory with a size")
    return largest


def _pnm(data: bytes) -> ImageSize:
    fields: list[int] = []
    pos = 2
    wanted = 2
    while len(fields) < wanted and pos < min(len(data), 1024):
        char = data[pos:pos + 1]
        if char == b"#":
            end = data.find(b"\n", pos)
            pos = len(data) if end < 0 else end + 1
        elif char.isspace():
            pos += 1
        elif char.isdigit():
            start = pos
            while pos < len(data) and data[pos:pos + 1].isdigit() and pos - start < 10:
                pos += 1
            fields.append(int(data[start:pos]))
        else:
            raise _malformed("PNM", "the header is not numeric")
    if len(fields) < wanted:
        raise _malformed("PNM", "no width and height")
    channels = 3 if data[1:2] in (b"3", b"6") else 1
    return ImageSize("pnm", fields[0], fields[1], channels)


def image_size(data: bytes) -> ImageSize:
    """The size a header declares; :class:`ImageFormatError` when it cannot be read."""
    data = bytes(data[:1 << 20]) if len(data) > 1 << 20 else bytes(data)
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            return _png(data)
        if data.startswith(b"\xff\xd8"):
            return _jpeg(data)
        if data.startswith(b"\x00\x00\x00\x0cjP  \r\n\x87\n"):
            return _jp2(data)
        if data.startswith(b"\xff\x4f\xff\x51"):
            return _siz(data, 2)
        if data.startswith(b"BM"):
            return _bmp(data)
        if data.startswith((b"GIF87a", b"GIF89a")):
            return _gif(data)
        if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
            return _webp(data)
        if data.startswith((b"II*\x00", b"MM\x00*")):
            return _tiff(data)
        if data[:1] == b"P" and data[1:2] in (b"1", b"2", b"3", b"4", b"5", b"6"):
            return _pnm(data)
    except (IndexError, struct.error):
        raise ImageFormatError("cannot decode the image: its header is truncated",
                               reason="malformed-image") from None
    raise ImageFormatError("cannot decode the image: not a format whose size can be checked "
                           "before decoding (PNG, JPEG, JPEG 2000, BMP, GIF, WebP, TIFF, PNM)")


def check_image(data: bytes, *, max_pixels: int = MAX_IMAGE_PIXELS,
                max_side: int = MAX_IMAGE_SIDE) -> ImageSize:
    """The declared size, after checking it against the bounds (raises
    :class:`ImageTooLargeError` or :class:`ImageFormatError`)."""
    size = image_size(data)
    if size.width <= 0 or size.height <= 0:
        raise ImageFormatError(f"the {size.format} header declares an empty image",
                               reason="malformed-image")
    if size.components > MAX_COMPONENTS or size.components < 1:
        raise ImageFormatError(f"the {size.format} header declares {size.components} "
                               "components", reason="malformed-image")
    if size.pixels > max_pixels or max(size.width, size.height) > max_side:
        raise ImageTooLargeError(f"the {size.format} image declares {size.width} × "
                                 f"{size.height} pixels, over the limit of {max_pixels} "
                                 f"pixels ({max_side} per side)")
    return size
