"""Make the default test card's face images (needs the ``vectors`` extra: Pillow, scikit-image).

Usage::

    python vectors/make_card_face_images.py           # write the files that are missing
    python vectors/make_card_face_images.py --force   # rewrite all of them

Written to ``vectors/card-face/``:

* ``photo.jp2``: the face photo in the card's geometry (card-reference §9): greyscale JPEG
  2000 in a JP2 container, 378 × 472 px, reversible 5/3 wavelet, 5 decomposition levels, one
  tile, a few KB (a rate-truncated codestream), cropped from scikit-image's ``astronaut``
  picture (Eileen Collins, a NASA photo in the public domain, shipped inside scikit-image:
  no network needed);
* ``name.png``, ``address.png``, ``security-code.png``, ``my-number.png``: 1-bit PNGs of the
  card's printed text, rendered with Pillow's built-in font. That font has no kanji, so the
  images show the romanised test data (the text AP's records hold the real kanji strings).

Why committed files rather than regenerated on every run: JPEG 2000 and PNG bytes depend on
the Pillow, OpenJPEG, FreeType and zlib versions, so ``make_vectors.py --check`` could not be
byte-exact across machines, and the test environment does not install Pillow at all. The
images are made once, committed (about 6 KB in all), and ``make_vectors.py`` embeds them into
``default-card.json``. Delete a file (or pass ``--force``) to make it again, then run
``make_vectors.py``.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "vectors" / "card-face"

#: Astronaut crop (rows, columns) around the face and shoulders (378 : 472 like the card's
#: photo), then the card photo size.
CROP = (slice(8, 258), slice(125, 325))
PHOTO_SIZE = (378, 472)  # width, height
#: JPEG 2000 compression ratio: ~178 000 pixels / 40 ≈ 4.5 KB.
PHOTO_RATE = 40
#: 5 decomposition levels = 6 resolutions.
PHOTO_RESOLUTIONS = 6

TEXTS = {
    "name.png": ("SHIKEN HANAKO  (TEST)", (512, 48)),
    "address.png": ("1-2-3 SHIKEN-CHO, CHIYODA-KU, TOKYO  (TEST)", (640, 48)),
    "security-code.png": ("2285", (128, 40)),
    "my-number.png": ("1234 5678 9018", (320, 48)),
}


def make_photo() -> bytes:
    from PIL import Image
    from skimage import data

    rgb = data.astronaut()[CROP]
    image = Image.fromarray(rgb).convert("L").resize(PHOTO_SIZE, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    # Reversible 5/3 wavelet, 5 levels, one tile (Pillow's default: no tile_size), truncated
    # at a fixed rate: the card's coding (card-reference §9).
    image.save(buffer, "JPEG2000", irreversible=False, num_resolutions=PHOTO_RESOLUTIONS,
               quality_mode="rates", quality_layers=[PHOTO_RATE], no_jp2=False)
    return buffer.getvalue()


def make_text_png(text: str, size: tuple[int, int]) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    font: Any = ImageFont.load_default(size=28)
    image = Image.new("1", size, 1)  # white background, 1 bit per pixel
    ImageDraw.Draw(image).text((6, 8), text, fill=0, font=font)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def build() -> dict[Path, bytes]:
    files = {OUT / "photo.jp2": make_photo()}
    for name, (text, size) in TEXTS.items():
        files[OUT / name] = make_text_png(text, size)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--force", action="store_true", help="rewrite existing files too")
    args = parser.parse_args(argv)
    try:
        files = build()
    except ImportError as exc:
        print(f"needs Pillow and scikit-image (pip install 'mynaid[vectors]'): {exc}",
              file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    for path, content in files.items():
        if path.exists() and not args.force:
            continue
        path.write_bytes(content)
        print(f"wrote {path.relative_to(REPO)} ({len(content)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
