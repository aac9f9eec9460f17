"""The interface a face engine implements (detector, landmarks, encoder, distance).

:class:`~mynaid.face.matcher.FaceMatcher` and the kiosk flow talk only to this protocol, so
another engine can be added without touching them. Two are provided:

* :class:`~mynaid.face.dlib_backend.DlibBackend` (the default): dlib's HOG detector, its
  5-point landmarks and ResNet encoder (all public domain), Euclidean distance.
* :class:`~mynaid.face.sface_backend.SFaceBackend`: OpenCV's YuNet detector and SFace
  recogniser, from ONNX model files that the user supplies; cosine distance.

A backend receives H×W×3 uint8 RGB, C-contiguous images (the matcher converts greyscale
and BGR input first) and is used from one thread at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from mynaid.face._typing import ImageArray, Vector
    from mynaid.face.models import Face


@runtime_checkable
class FaceBackend(Protocol):
    """Detect faces, encode one, and measure the distance between two encodings."""

    @property
    def name(self) -> str:
        """A short, stable name (recorded in results: thresholds are per backend)."""
        ...

    @property
    def default_threshold(self) -> float:
        """The distance below which two encodings are the same person, by default."""
        ...

    def detect(self, image: ImageArray) -> Sequence[Face]:
        """Every face in ``image``, with box and landmarks (empty when none)."""
        ...

    def embedding(self, image: ImageArray, face: Face) -> Vector:
        """The embedding of ``face`` (found by this backend's :meth:`detect` in ``image``)."""
        ...

    def distance(self, a: Vector, b: Vector) -> float:
        """Dissimilarity of two embeddings: 0 for identical, larger for less alike."""
        ...


@runtime_checkable
class DenseLandmarkBackend(Protocol):
    """Optional: 68-point landmarks (iBUG 300-W layout) for the liveness checks."""

    def landmarks68(self, image: ImageArray, face: Face) -> tuple[tuple[float, float], ...]:
        """The 68 points of ``face`` (jaw 0–16, brows 17–26, nose 27–35, eyes 36–47,
        mouth 48–67)."""
        ...
