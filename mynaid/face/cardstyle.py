"""Card-style test images: what a My Number Card photo and a kiosk camera frame look like.

The card's photo (visual application, DF27) is a greyscale JPEG 2000 portrait of
378 × 472 pixels, coded with the reversible 5/3 wavelet, 5 decomposition levels and one tile,
in a JP2 container (card-reference §9). :func:`make_card_photo` makes one from any photo: a
crop around the face in those proportions, greyscale, 378 × 472, JPEG 2000 at a rate that
gives a few KB (OpenCV's JP2 writer, which codes reversible 5/3 with 5 levels and one tile;
:func:`jp2_geometry` reads the coding parameters back from the SIZ and COD markers).
:func:`make_frame` makes a 640×480 colour "camera frame" with the face at kiosk distance.
They are for calibration, tests and benchmarks (``mynaid face eval``,
``benchmarks/make_face_pairs.py``); they never decode a real card's photo.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mynaid.errors import MynaidError
from mynaid.face._deps import load_cv2, load_numpy

if TYPE_CHECKING:
    from mynaid.face._typing import ImageArray
    from mynaid.face.backend import FaceBackend
    from mynaid.face.models import FaceBox

#: The card photo's size in pixels, width × height (card-reference §9).
CARD_PHOTO_SIZE = (378, 472)
#: Width : height of the card's photo.
CARD_ASPECT = CARD_PHOTO_SIZE[0] / CARD_PHOTO_SIZE[1]
#: Wavelet decomposition levels of the card photo (5, i.e. 6 resolutions).
CARD_DECOMPOSITION_LEVELS = 5
#: The crop is this many face-box heights high (head, hair, shoulders).
CARD_CROP_FACES = 2.2
#: JPEG 2000 compression parameter (OpenCV's 1000 / ratio): 25 is 40:1, ~4.5 KB at 378 × 472.
CARD_JP2_COMPRESSION = 25
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


def card_photo_pixels(backend: FaceBackend, image: ImageArray,
                      height: int = CARD_PHOTO_SIZE[1]) -> ImageArray:
    """The greyscale H×W card-style portrait of the (largest) face in RGB ``image``
    (378 × 472 at the default height, as on the card)."""
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
    """JPEG 2000 (JP2 file) bytes of ``pixels``, via OpenCV: reversible 5/3 wavelet, 5
    decomposition levels, one tile (checked: another OpenCV build could code otherwise)."""
    cv2 = load_cv2()
    ok, buffer = cv2.imencode(".jp2", pixels,
                              [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, int(compression)])
    if not ok:
        raise MynaidError("OpenCV could not encode JPEG 2000")
    data = bytes(buffer.tobytes())
    geometry = jp2_geometry(data)
    if not (geometry.reversible and geometry.levels == CARD_DECOMPOSITION_LEVELS
            and geometry.tiles == 1):
        raise MynaidError(f"OpenCV's JPEG 2000 writer coded {geometry}, not the card's "
                          "reversible 5/3 wavelet with 5 levels in one tile")
    return data


def make_card_photo(backend: FaceBackend, image: ImageArray,
                    height: int = CARD_PHOTO_SIZE[1],
                    compression: int = CARD_JP2_COMPRESSION) -> bytes:
    """A card-style photo (greyscale JPEG 2000, ID crop, ``height`` px; 378 × 472 by
    default, the card's geometry) of RGB ``image``."""
    return encode_jp2(card_photo_pixels(backend, image, height), compression)


@dataclass(frozen=True)
class Jp2Geometry:
    """Coding parameters of a JPEG 2000 image, from its SIZ and COD marker segments."""

    width: int
    height: int
    components: int
    tiles: int
    levels: int
    reversible: bool
    jp2_container: bool


def jp2_geometry(data: bytes) -> Jp2Geometry:
    """Read size, component count, tile count, decomposition levels and wavelet (5/3
    reversible or 9/7 irreversible) of a JP2 file or raw J2K codestream (pure, bounded)."""
    from mynaid.photo import PhotoFormat, detect_format, jp2_codestream

    kind = detect_format(data)
    stream = jp2_codestream(data) if kind is PhotoFormat.JP2 else data
    if stream[:4] != b"\xff\x4f\xff\x51" or len(stream) < 42:
        raise MynaidError("not a JPEG 2000 codestream (no SOC + SIZ)")
    (xsiz, ysiz, xo, yo, xt, yt, xto, yto) = struct.unpack(">8I", stream[8:40])
    csiz = struct.unpack(">H", stream[40:42])[0]
    if not (xt and yt):
        raise MynaidError("JPEG 2000 SIZ with a zero tile size")
    tiles = (-(-(xsiz - xto) // xt)) * (-(-(ysiz - yto) // yt))
    # Walk the main header's marker segments (SIZ, then COD, QCD, COM, CAP, ...) to COD.
    pos = 2  # SIZ, right after SOC
    cod: tuple[int, int] | None = None
    for _ in range(64):
        if len(stream) < pos + 4 or stream[pos] != 0xFF:
            break
        marker, length = stream[pos + 1], struct.unpack(">H", stream[pos + 2:pos + 4])[0]
        if marker == 0x90 or length < 2:  # SOT: the main header ended without COD
            break
        if marker == 0x52 and len(stream) >= pos + 14:
            cod = stream[pos + 9], stream[pos + 13]  # decomposition levels, transformation
            break
        pos += 2 + length
    else:
        raise MynaidError("JPEG 2000 main header too long")
    if cod is None:
        raise MynaidError("JPEG 2000 codestream without a COD marker")
    levels, transform = cod
    return Jp2Geometry(xsiz - xo, ysiz - yo, csiz, tiles, levels, transform == 1,
                       kind is PhotoFormat.JP2)


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
