"""The results of face analysis and matching: frozen dataclasses, no image data.

A :class:`MatchResult` holds the decision, the distance, the threshold and the plain
reasons; it holds no pixels and no embedding, so it can be logged or kept as an audit
record. Embeddings (biometric templates) live only in :class:`FaceSample`, whose
``repr`` never shows them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mynaid.face._typing import Vector

__all__ = [
    "Face",
    "FaceBox",
    "FaceSample",
    "MatchResult",
    "QualityCode",
    "QualityIssue",
    "QualityReport",
]


class QualityCode(str, enum.Enum):
    """Why an image cannot be used (the value is what ``--json`` prints)."""

    UNREADABLE = "unreadable"
    """The image could not be decoded."""
    NO_FACE = "no-face"
    """No face was found."""
    MULTIPLE_FACES = "multiple-faces"
    """More than one face was found: whose to compare is unknown."""
    FACE_TOO_SMALL = "face-too-small"
    """The face is smaller than the policy's minimum (too far from the camera)."""
    TOO_BLURRY = "too-blurry"
    """Variance of the Laplacian below the policy's minimum (motion blur, out of focus)."""
    TOO_DARK = "too-dark"
    TOO_BRIGHT = "too-bright"
    NO_EMBEDDING = "no-embedding"
    """The backend found the face but could not encode it."""


@dataclass(frozen=True)
class QualityIssue:
    """One reason an image was rejected: a stable ``code`` and a plain ``message``."""

    subject: str
    """``"card"`` (the card photo) or ``"frame"`` (the camera image)."""
    code: QualityCode
    message: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"subject": self.subject, "code": self.code.value, "message": self.message}


@dataclass(frozen=True)
class FaceBox:
    """A face's bounding box in pixels (``right``/``bottom`` exclusive)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def area(self) -> int:
        return max(self.width, 0) * max(self.height, 0)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2, (self.top + self.bottom) / 2)

    def clipped(self, width: int, height: int) -> FaceBox:
        """The box clipped to an image of ``width`` × ``height``."""
        return FaceBox(min(max(self.left, 0), width), min(max(self.top, 0), height),
                       min(max(self.right, 0), width), min(max(self.bottom, 0), height))

    def to_dict(self) -> dict[str, int]:
        return {"left": self.left, "top": self.top, "width": self.width, "height": self.height}


@dataclass(frozen=True)
class Face:
    """A detected face: box, landmarks (backend-specific order) and the backend's handle.

    ``landmarks`` are ``(x, y)`` pixel coordinates; for the dlib backend the 5 points of
    its 5-point model (outer and inner corner of the eye on the image's right, outer and
    inner corner of the other eye, base of the nose). ``handle`` is opaque data the same
    backend needs to encode this face (not compared, not shown).
    """

    box: FaceBox
    landmarks: tuple[tuple[float, float], ...]
    score: float = 0.0
    handle: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class QualityReport:
    """What was found in one image and whether it can be used."""

    subject: str
    issues: tuple[QualityIssue, ...]
    face_count: int
    face: FaceBox | None = None
    sharpness: float | None = None
    """Variance of the Laplacian of the face (or, with no face, the whole image), measured
    at 128×128 after contrast normalisation."""
    brightness: float | None = None
    """Mean grey level (0–255) of the face, or of the whole image when no face is found."""

    @property
    def ok(self) -> bool:
        return not self.issues

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "ok": self.ok,
            "face_count": self.face_count,
            "face": self.face.to_dict() if self.face else None,
            "sharpness": None if self.sharpness is None else round(self.sharpness, 1),
            "brightness": None if self.brightness is None else round(self.brightness, 1),
            "issues": [issue.to_dict() for issue in self.issues],
        }


@dataclass(frozen=True)
class FaceSample:
    """One analysed image: its quality report and, when usable, the face and embedding.

    The card photo's sample is the reference that frames are compared with; make it once.
    ``embedding`` is a biometric template: keep it in memory only as long as needed (it is
    never shown by ``repr``).
    """

    report: QualityReport
    face: Face | None = None
    embedding: Vector | None = field(default=None, repr=False, compare=False)
    backend: str = ""

    @property
    def usable(self) -> bool:
        return self.report.ok and self.embedding is not None


@dataclass(frozen=True)
class MatchResult:
    """The decision for one card photo and one frame.

    ``match`` is true only when both images passed the quality checks and
    ``distance < threshold``. ``reasons`` lists every quality issue of both images (empty
    when both were usable); ``distance`` is None when it could not be computed.
    """

    match: bool
    distance: float | None
    threshold: float
    reasons: tuple[QualityIssue, ...]
    card: QualityReport
    frame: QualityReport
    backend: str

    @property
    def acquired(self) -> bool:
        """Both faces were found and encoded (a distance exists)."""
        return self.distance is not None

    def summary(self) -> str:
        """One line for people: the decision and why."""
        if self.distance is None:
            return "not verified: " + "; ".join(str(r) for r in self.reasons)
        verdict = "match" if self.match else "no match"
        relation = "<" if self.distance < self.threshold else ">="
        return f"{verdict}: distance {self.distance:.3f} {relation} threshold {self.threshold:.3f}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "match": self.match,
            "distance": None if self.distance is None else round(self.distance, 4),
            "threshold": self.threshold,
            "backend": self.backend,
            "reasons": [r.to_dict() for r in self.reasons],
            "card": self.card.to_dict(),
            "frame": self.frame.to_dict(),
        }
