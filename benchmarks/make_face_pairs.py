"""Build card-style photos, camera frames and a pairs CSV for ``mynaid face eval``.

    python benchmarks/make_face_pairs.py OUT_DIR [--faces DIR]

From the real photos in ``../shared/faces`` (obama, obama2, obama3: one person; biden:
another) and scikit-image's astronaut (a third person) and camera (no face), it writes to
OUT_DIR:

* ``card_<name>.jp2``: a card-style photo of each face (ID crop, greyscale, 378 × 472,
  reversible 5/3 JPEG 2000, a few KB), as on the My Number Card;
* ``frame_<name>.png``: a 640×480 colour "camera frame" of each photo, and
  ``frame_camera.png`` with no face;
* ``pairs.csv`` (``file_x,file_y,Decision``): every card against every frame made from a
  *different* photo (Yes when the same person), and every card against the no-face frame.

The images are test data derived from third-party photos: keep them out of the repository
(write them to a temporary or ignored folder).
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mynaid.face.cardstyle import make_card_photo, make_frame  # noqa: E402
from mynaid.face.dlib_backend import DlibBackend  # noqa: E402
from mynaid.face.imaging import as_rgb, load_image  # noqa: E402

if TYPE_CHECKING:
    from mynaid.face._typing import ImageArray

DEFAULT_FACES = ROOT.parent / "shared" / "faces"
#: Photo name → person (the shared photos, then scikit-image's astronaut).
PEOPLE = {"obama": "obama", "obama2": "obama", "obama3": "obama", "biden": "biden",
          "astronaut": "astronaut"}


@dataclass(frozen=True)
class PairsSet:
    """What :func:`build` wrote: the CSV and the counts."""

    csv_path: Path
    genuine: int
    impostor: int
    no_face: int


def _sources(faces_dir: Path) -> dict[str, ImageArray]:
    images: dict[str, ImageArray] = {}
    for name in ("obama", "obama2", "obama3", "biden"):
        path = faces_dir / f"{name}.jpg"
        if path.is_file():
            images[name] = load_image(path)
    try:
        from skimage import data as skdata
    except ImportError:
        print("scikit-image missing: no astronaut, no camera frame", file=sys.stderr)
        return images
    images["astronaut"] = as_rgb(skdata.astronaut(), "rgb")
    images["camera"] = as_rgb(skdata.camera(), "rgb")
    return images


def build(out_dir: Path, faces_dir: Path = DEFAULT_FACES,
          backend: DlibBackend | None = None) -> PairsSet:
    """Write the card photos, frames and ``pairs.csv`` into ``out_dir``."""
    import cv2

    backend = backend or DlibBackend()
    out_dir.mkdir(parents=True, exist_ok=True)
    images = _sources(faces_dir)
    people = [name for name in PEOPLE if name in images]
    if not people:
        raise SystemExit(f"no face photos in {faces_dir}")
    for name in people:
        (out_dir / f"card_{name}.jp2").write_bytes(make_card_photo(backend, images[name]))
        frame = make_frame(backend, images[name])
        cv2.imwrite(str(out_dir / f"frame_{name}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    rows: list[tuple[str, str, str]] = []
    for card in people:
        for frame_name in people:
            if frame_name != card:
                same = PEOPLE[card] == PEOPLE[frame_name]
                rows.append((f"card_{card}.jp2", f"frame_{frame_name}.png",
                             "Yes" if same else "No"))
    no_face = 0
    if "camera" in images:
        camera = cv2.resize(images["camera"], (640, 480), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(out_dir / "frame_camera.png"), cv2.cvtColor(camera, cv2.COLOR_RGB2BGR))
        for card in people:
            rows.append((f"card_{card}.jp2", "frame_camera.png", "No"))
            no_face += 1
    csv_path = out_dir / "pairs.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file_x", "file_y", "Decision"])
        writer.writerows(rows)
    genuine = sum(1 for row in rows if row[2] == "Yes")
    return PairsSet(csv_path, genuine, len(rows) - genuine - no_face, no_face)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--faces", type=Path, default=DEFAULT_FACES,
                        help=f"folder of the shared photos (default {DEFAULT_FACES})")
    args = parser.parse_args(argv)
    made = build(args.out_dir, args.faces)
    print(f"wrote {made.csv_path}: {made.genuine} genuine, {made.impostor} impostor, "
          f"{made.no_face} no-face pairs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
