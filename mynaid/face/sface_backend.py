"""An optional backend on OpenCV's own face models: YuNet (detector) and SFace (encoder).

Nothing is downloaded: the user supplies the two ONNX files (from the OpenCV model zoo,
e.g. ``face_detection_yunet_2023mar.onnx`` and ``face_recognition_sface_2021dec.onnx``;
check their licences) and OpenCV's DNN module runs them. It shows that the matcher and
the kiosk flow need only :class:`~mynaid.face.backend.FaceBackend`.

Distance is the cosine distance ``1 − cos``. OpenCV documents a same-person cut at cosine
similarity 0.363, hence the default threshold 0.637; it has **not** been calibrated on
card-style photos here (no model files were available): run ``mynaid face eval`` before use.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mynaid.errors import DependencyMissingError
from mynaid.face._deps import load_cv2, load_numpy
from mynaid.face.models import Face, FaceBox

if TYPE_CHECKING:
    from mynaid.face._typing import ImageArray, Vector

#: OpenCV's documented SFace cosine-similarity cut (0.363), as a distance. Uncalibrated.
SFACE_DEFAULT_THRESHOLD = 1.0 - 0.363


class SFaceBackend:
    """YuNet + SFace through ``cv2.FaceDetectorYN`` and ``cv2.FaceRecognizerSF``."""

    name = "opencv-sface"
    default_threshold = SFACE_DEFAULT_THRESHOLD

    def __init__(self, detector_model: str | Path, recognizer_model: str | Path, *,
                 score_threshold: float = 0.8, nms_threshold: float = 0.3,
                 top_k: int = 50) -> None:
        cv2 = load_cv2()
        self._np = load_numpy()
        for path in (detector_model, recognizer_model):
            if not Path(path).is_file():
                raise DependencyMissingError(f"SFace backend: model file {path} not found")
        self._cv2 = cv2
        self._detector: Any = cv2.FaceDetectorYN.create(
            str(detector_model), "", (320, 320), score_threshold, nms_threshold, top_k)
        self._recognizer: Any = cv2.FaceRecognizerSF.create(str(recognizer_model), "")

    def _bgr(self, image: ImageArray) -> Any:
        return self._cv2.cvtColor(image, self._cv2.COLOR_RGB2BGR)

    def detect(self, image: ImageArray) -> Sequence[Face]:
        """Faces found by YuNet, largest first; ``handle`` is YuNet's 15-value row."""
        height, width = image.shape[:2]
        self._detector.setInputSize((width, height))
        _status, rows = self._detector.detect(self._bgr(image))
        faces = []
        for row in ([] if rows is None else rows):
            x, y, w, h = (float(v) for v in row[:4])
            points = tuple((float(row[4 + 2 * i]), float(row[5 + 2 * i])) for i in range(5))
            box = FaceBox(round(x), round(y), round(x + w), round(y + h))
            faces.append(Face(box, points, float(row[14]), handle=self._np.array(row)))
        faces.sort(key=lambda f: f.box.area, reverse=True)
        return faces

    def embedding(self, image: ImageArray, face: Face) -> Vector:
        """SFace's 128-d feature of the aligned face, L2-normalised."""
        if face.handle is None:
            raise ValueError("the face was not found by this backend")
        aligned = self._recognizer.alignCrop(self._bgr(image), face.handle)
        feature = self._np.asarray(self._recognizer.feature(aligned),
                                   dtype=self._np.float64).reshape(-1)
        norm = float(self._np.linalg.norm(feature))
        vector: Vector = feature / norm if norm > 0 else feature
        return vector

    def distance(self, a: Vector, b: Vector) -> float:
        """Cosine distance ``1 − cos(a, b)`` (0 identical, up to 2)."""
        norm = float(self._np.linalg.norm(a)) * float(self._np.linalg.norm(b))
        if norm == 0:
            return 1.0
        return 1.0 - float(self._np.dot(a, b)) / norm
