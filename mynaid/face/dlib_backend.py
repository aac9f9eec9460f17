"""The default face backend: dlib's HOG detector, 5-point landmarks and ResNet encoder.

* Detection: HOG + linear SVM (``get_frontal_face_detector``), ~16 ms on a 640×480 frame.
  It finds frontal faces down to ~80 px; when it finds none in an image of at most
  ``retry_max_pixels`` (640×480 by default: card photos and camera frames) it runs again on
  the image upsampled once, which finds faces down to ~40 px (~70 ms at 640×480, paid only
  when the first pass found nothing).
* Reduced-frame detection (``detect_max_side``, e.g. 320 for a kiosk camera): HOG runs on a
  copy scaled down to that side (a quarter of the pixels for 640×480 → 320×240, ~4× less
  time), and the boxes are scaled back; landmarks and the encoding use the full image, so
  the embedding is the same as without it. A kiosk patient stands close: faces are large.
* Landmarks: the 5-point model (public domain), used to align the face for the encoder.
* Encoding: the ResNet model (public domain), a 128-d vector; ~60 ms a face on 2 cores.
* Distance: Euclidean. dlib's own rule of thumb, 0.6, gave 99.38 % balanced accuracy on
  LFW; it is not a low-false-match setting. See :data:`DEFAULT_THRESHOLD`.

The 68-point model (``landmarks68``, for the optional liveness checks) is trained on
iBUG 300-W, whose terms exclude commercial use: it is loaded only with
``enable_68_point_landmarks=True``, and nothing else needs it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mynaid.errors import DependencyMissingError
from mynaid.face._deps import load_dlib, load_numpy, locate_dlib_models
from mynaid.face.models import Face, FaceBox

if TYPE_CHECKING:
    from mynaid.face._typing import ImageArray, Vector

#: Provisional default threshold for the dlib backend (match when distance < 0.55).
#: Measured on card-style pairs (``benchmarks/make_face_pairs.py``: greyscale 233×300
#: JPEG 2000 card photos of ~3.5 KB against colour 640×480 frames of *other* photos):
#: same person 0.334–0.499 (6 pairs, 1 identity), different people 0.752–0.873 (14 pairs,
#: 3 identities incl. scikit-image's astronaut). Any value in (0.50, 0.75] separates them;
#: 0.55 keeps 0.05 above the worst genuine pair and 0.20 below the closest impostor. It
#: sits below dlib's LFW rule of thumb (0.6, a balanced-accuracy setting) because a false
#: match at a counter costs more than a retry or the PIN fallback, and because the ResNet
#: model is reported to separate East Asian faces less well than the mostly Western faces
#: it was trained on, which these identities cannot measure. Smaller card photos raise
#: genuine distances (at 200 px / 1.5 KB: 0.41–0.52; at 120 px / 1.1 KB: 0.51–0.57) while
#: impostors stayed >= 0.70. Recalibrate with ``mynaid face eval`` on pairs from the
#: population served (thousands of impostor pairs for an FMR near 1 %).
DEFAULT_THRESHOLD = 0.55
#: Images up to this many pixels get the upsampled second detection pass.
RETRY_MAX_PIXELS = 640 * 480


class DlibBackend:
    """dlib face engine. Loading the models takes ~0.3 s: make one and reuse it."""

    name = "dlib-resnet"
    default_threshold = DEFAULT_THRESHOLD

    def __init__(self, models_dir: str | Path | None = None, *,
                 enable_68_point_landmarks: bool = False, num_jitters: int = 1,
                 retry_max_pixels: int = RETRY_MAX_PIXELS,
                 detect_max_side: int | None = None) -> None:
        """Load the models (from ``models_dir``, ``$MYNAID_FACE_MODELS`` or the
        ``face_recognition_models`` package).

        ``enable_68_point_landmarks`` loads the non-commercial 68-point model for
        :meth:`landmarks68`. ``num_jitters`` > 1 averages encodings of jittered copies
        (slower, slightly more stable). ``detect_max_side``: detect on a copy scaled down
        to this longest side (None: full size).
        """
        if detect_max_side is not None and detect_max_side < 64:
            raise ValueError("detect_max_side must be at least 64")
        self._detect_max_side = detect_max_side
        dlib = load_dlib()
        self._np = load_numpy()
        files = locate_dlib_models(models_dir)
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._shape5 = dlib.shape_predictor(str(files.shape5))
        self._encoder = dlib.face_recognition_model_v1(str(files.resnet))
        self._shape68: Any = None
        if enable_68_point_landmarks:
            if files.shape68 is None:
                raise DependencyMissingError(
                    "the 68-point landmark model (shape_predictor_68_face_landmarks.dat) "
                    "was not found next to the other models")
            self._shape68 = dlib.shape_predictor(str(files.shape68))
        self._num_jitters = max(1, int(num_jitters))
        self._retry_max_pixels = retry_max_pixels

    @property
    def has_68_point_landmarks(self) -> bool:
        return self._shape68 is not None

    def _run_detector(self, image: ImageArray, upsample: int) -> list[tuple[Any, float]]:
        rects, scores, _kinds = self._detector.run(image, upsample, 0.0)
        return list(zip(rects, scores, strict=True))

    def _detect_rects(self, image: ImageArray) -> list[tuple[Any, float]]:
        height, width = image.shape[:2]
        scale = 1.0
        small = image
        if self._detect_max_side is not None and max(height, width) > self._detect_max_side:
            from mynaid.face._deps import load_cv2

            cv2 = load_cv2()
            scale = self._detect_max_side / max(height, width)
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = self._np.ascontiguousarray(
                cv2.resize(image, size, interpolation=cv2.INTER_AREA))
        found = self._run_detector(small, 0)
        if not found and small.shape[0] * small.shape[1] <= self._retry_max_pixels:
            found = self._run_detector(small, 1)
        if scale == 1.0:
            return found
        rect = self._dlib.rectangle
        return [(rect(int(r.left() / scale), int(r.top() / scale),
                      min(width - 1, int(r.right() / scale)),
                      min(height - 1, int(r.bottom() / scale))), score)
                for r, score in found]

    def detect(self, image: ImageArray) -> Sequence[Face]:
        """Faces in ``image`` (RGB uint8), largest first."""
        found = self._detect_rects(image)
        faces = []
        for rect, score in found:
            shape = self._shape5(image, rect)
            points = tuple((float(p.x), float(p.y)) for p in shape.parts())
            box = FaceBox(int(rect.left()), int(rect.top()),
                          int(rect.right()) + 1, int(rect.bottom()) + 1)
            faces.append(Face(box, points, float(score), handle=shape))
        faces.sort(key=lambda f: f.box.area, reverse=True)
        return faces

    def _shape_of(self, image: ImageArray, face: Face) -> Any:
        if isinstance(face.handle, self._dlib.full_object_detection):
            return face.handle
        b = face.box
        rect = self._dlib.rectangle(b.left, b.top, b.right - 1, b.bottom - 1)
        return self._shape5(image, rect)

    def embedding(self, image: ImageArray, face: Face) -> Vector:
        """The 128-d ResNet embedding of ``face`` (aligned with its 5-point landmarks)."""
        shape = self._shape_of(image, face)
        descriptor = self._encoder.compute_face_descriptor(image, shape, self._num_jitters)
        vector: Vector = self._np.asarray(descriptor, dtype=self._np.float64)
        return vector

    def distance(self, a: Vector, b: Vector) -> float:
        """Euclidean distance (0 identical; ~0.3–0.5 same person; ~0.8 strangers)."""
        return float(math.sqrt(float(self._np.sum((a - b) ** 2))))

    def landmarks68(self, image: ImageArray, face: Face) -> tuple[tuple[float, float], ...]:
        """The 68 landmarks of ``face`` (needs ``enable_68_point_landmarks=True``)."""
        if self._shape68 is None:
            raise DependencyMissingError(
                "68-point landmarks are off: create DlibBackend("
                "enable_68_point_landmarks=True); the model is not cleared for commercial use")
        b = face.box
        rect = self._dlib.rectangle(b.left, b.top, b.right - 1, b.bottom - 1)
        shape = self._shape68(image, rect)
        return tuple((float(p.x), float(p.y)) for p in shape.parts())
