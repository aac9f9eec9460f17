"""Image input and the quality measures: decoding, colour conversion, sharpness, brightness.

Every function returns or takes the matcher's working format: H×W×3 uint8 RGB,
C-contiguous. OpenCV decodes to BGR (or one grey channel, or BGRA); frames from
``cv2.VideoCapture`` are BGR; dlib's encoder needs three channels (a greyscale card photo
detects but does not encode until converted).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mynaid.errors import ParseError
from mynaid.face._deps import load_cv2, load_numpy

if TYPE_CHECKING:
    from mynaid.face._typing import ImageArray
    from mynaid.face.models import FaceBox

#: Largest image file read (a camera frame or a photo; card photos are a few KB).
MAX_IMAGE_BYTES = 64 << 20
#: Largest image decoded, checked on the header first (:mod:`mynaid.imagesize`).
MAX_IMAGE_PIXELS = 40_000_000
#: Side of the square the face is resized to before measuring sharpness.
SHARPNESS_SIZE = 128
#: Grey-level standard deviation the face is normalised to before the Laplacian, so
#: that a dark or low-contrast face is not mistaken for a blurred one.
SHARPNESS_CONTRAST = 32.0

ChannelOrder = Literal["rgb", "bgr"]


def as_rgb(image: Any, order: ChannelOrder = "bgr") -> ImageArray:
    """Convert an array to H×W×3 uint8 RGB, C-contiguous.

    Accepts greyscale (H×W or H×W×1), three channels in ``order`` (``"bgr"`` for anything
    that came from OpenCV, the default; ``"rgb"`` for Pillow, scikit-image, dlib) or four
    channels (alpha dropped), in uint8 or uint16 (scaled down).
    """
    cv2 = load_cv2()
    np = load_numpy()
    array = np.asarray(image)
    if array.dtype == np.uint16:
        array = (array >> 8).astype(np.uint8)
    elif array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating) and array.size and float(array.max()) <= 1.0:
            array = array * 255.0
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        rgb = cv2.cvtColor(np.ascontiguousarray(array), cv2.COLOR_GRAY2RGB)
    elif array.ndim == 3 and array.shape[2] == 3:
        rgb = cv2.cvtColor(np.ascontiguousarray(array),
                           cv2.COLOR_BGR2RGB) if order == "bgr" else array
    elif array.ndim == 3 and array.shape[2] == 4:
        code = cv2.COLOR_BGRA2RGB if order == "bgr" else cv2.COLOR_RGBA2RGB
        rgb = cv2.cvtColor(np.ascontiguousarray(array), code)
    else:
        raise ParseError(f"not an image array (shape {tuple(array.shape)})")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ParseError("empty image")
    result: ImageArray = np.ascontiguousarray(rgb, dtype=np.uint8)
    return result


def decode_image(data: bytes) -> ImageArray:
    """Decode an encoded image (JPEG, PNG, JPEG 2000 JP2/J2K, ...) to RGB.

    Uses ``IMREAD_UNCHANGED`` (``IMREAD_COLOR`` returns None for a greyscale JPEG 2000
    codestream), then converts. Raises :class:`ParseError` for data OpenCV cannot decode.
    """
    if len(data) > MAX_IMAGE_BYTES:
        raise ParseError(f"image is {len(data)} bytes, over the {MAX_IMAGE_BYTES} limit")
    if not data:
        raise ParseError("the image file is empty", reason="malformed-image")
    from mynaid.imagesize import check_image

    # Width × height from the header before decoding: a small file can declare a huge
    # image, and the decoder allocates what it declares.
    check_image(data, max_pixels=MAX_IMAGE_PIXELS)
    import os

    # OpenCV's own bound (read on first use) as a second line behind the header check.
    os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_PIXELS))
    cv2 = load_cv2()
    np = load_numpy()
    try:
        pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        raise ParseError("cannot decode the image (corrupt data)",
                         reason="malformed-image") from None
    if pixels is None:
        raise ParseError("cannot decode the image (unknown format, truncated or corrupt)")
    return as_rgb(pixels, "bgr")


def load_image(path: str | Path) -> ImageArray:
    """Read and decode an image file to RGB (:class:`ParseError` if it is no image)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise ParseError(f"{path}: {size} bytes, over the {MAX_IMAGE_BYTES} limit")
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return decode_image(data)
    except ParseError as exc:
        raise ParseError(f"{path}: {exc.message}") from exc


def limit_size(image: ImageArray, max_side: int) -> ImageArray:
    """``image`` scaled down (area interpolation) so its longer side is at most ``max_side``."""
    height, width = image.shape[:2]
    longest = max(height, width)
    if max_side <= 0 or longest <= max_side:
        return image
    cv2 = load_cv2()
    scale = max_side / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized: ImageArray = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return resized


def _grey_region(image: ImageArray, box: FaceBox | None) -> Any:
    cv2 = load_cv2()
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    if box is not None:
        height, width = grey.shape[:2]
        b = box.clipped(width, height)
        if b.width > 0 and b.height > 0:
            grey = grey[b.top:b.bottom, b.left:b.right]
    return grey


def brightness(image: ImageArray, box: FaceBox | None = None) -> float:
    """Mean grey level (0–255) of the face box, or of the whole image."""
    return float(_grey_region(image, box).mean())


def sharpness(image: ImageArray, box: FaceBox | None = None) -> float:
    """Variance of the Laplacian of the face box (or the whole image).

    The region is resized to 128×128 and its contrast normalised (grey-level standard
    deviation 32) first, so the figure does not depend on the face's size in pixels or on
    the lighting: about 80–280 for sharp faces, 35–75 with a slight blur (Gaussian σ 1 px
    on a 180 px face), 12–23 at σ 2, under 12 at σ 3.
    """
    cv2 = load_cv2()
    np = load_numpy()
    grey = _grey_region(image, box)
    patch = cv2.resize(grey, (SHARPNESS_SIZE, SHARPNESS_SIZE),
                       interpolation=cv2.INTER_AREA).astype(np.float64)
    spread = float(patch.std())
    patch = (patch - float(patch.mean())) * (SHARPNESS_CONTRAST / max(spread, 1.0))
    return float(cv2.Laplacian(patch, cv2.CV_64F).var())
