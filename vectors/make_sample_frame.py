"""Make ``vectors/sample-frame.jpg``: a 640×480 colour "camera frame" of the default test card's
holder, for ``make demo`` and the kiosk tests.

The default card's photo is cropped from scikit-image's ``astronaut`` (Eileen Collins, NASA,
public domain); this frame is the same picture in colour, scaled and padded to a camera's
640×480, as a kiosk camera would see the holder. Run once; the output is committed (JPEG
bytes depend on library versions, so the file, not this script, is the vector).

    pip install 'mynaid[vectors,photo]' && python vectors/make_sample_frame.py
"""

from __future__ import annotations

from pathlib import Path

OUT = Path(__file__).resolve().parent / "sample-frame.jpg"
WIDTH, HEIGHT = 640, 480


def main() -> None:
    import cv2
    import numpy as np
    from skimage import data

    # Head and shoulders only: on the whole picture HOG also "finds" a face on the suit's
    # patch, and the kiosk rightly refuses a frame with two faces.
    rgb = data.astronaut()[0:360, 40:400]
    scaled = cv2.resize(rgb, (HEIGHT, HEIGHT), interpolation=cv2.INTER_AREA)
    frame = np.full((HEIGHT, WIDTH, 3), 128, dtype=np.uint8)
    left = (WIDTH - HEIGHT) // 2
    frame[:, left : left + HEIGHT] = scaled
    bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(OUT), bgr, [cv2.IMWRITE_JPEG_QUALITY, 85]):
        raise SystemExit(f"could not write {OUT}")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
