"""Quality policy: when an image is good enough to compare, with a plain reason when not.

Checks, in this order: exactly one face; its height at least ``min_face_px``; sharpness
(variance of the Laplacian, see :func:`mynaid.face.imaging.sharpness`) at least
``min_sharpness``; mean brightness of the face between ``min_brightness`` and
``max_brightness``. When no face is found the whole image's brightness and sharpness are
still checked, so "too dark" or "too blurred" can explain the missing face.

The figures are starting points measured on the shared photos and their degraded copies
(see ``mynaid.face.imaging.sharpness``): a camera with a poor lens may need a lower
``min_sharpness``. Brightness limits are kept wide: a narrow band would reject darker skin
in normal light before it rejected bad lighting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mynaid.face.imaging import brightness, sharpness
from mynaid.face.models import Face, QualityCode, QualityIssue, QualityReport

if TYPE_CHECKING:
    from mynaid.face._typing import ImageArray


@dataclass(frozen=True)
class QualityPolicy:
    """Thresholds for one kind of image (card photo or camera frame)."""

    min_face_px: int
    min_sharpness: float
    min_brightness: float = 40.0
    max_brightness: float = 220.0


#: Card photos: small (a ~300 px high portrait has a ~130 px face box), compressed.
CARD_PHOTO_POLICY = QualityPolicy(min_face_px=40, min_sharpness=8.0)
#: Camera frames (640×480): the face must fill a fair part of the frame and be sharp.
FRAME_POLICY = QualityPolicy(min_face_px=80, min_sharpness=15.0)


def _advice(subject: str, text: str) -> str:
    """Advice for the person at the camera (a card photo cannot follow any)."""
    return f": {text}" if subject == "frame" else ""


def _light_issues(subject: str, level: float, policy: QualityPolicy,
                  where: str) -> list[QualityIssue]:
    if level < policy.min_brightness:
        return [QualityIssue(subject, QualityCode.TOO_DARK,
                             f"{where} is too dark (brightness {level:.0f}, needs at least "
                             f"{policy.min_brightness:.0f})" + _advice(subject, "add light"))]
    if level > policy.max_brightness:
        return [QualityIssue(subject, QualityCode.TOO_BRIGHT,
                             f"{where} is overexposed (brightness {level:.0f}, at most "
                             f"{policy.max_brightness:.0f})"
                             + _advice(subject, "reduce glare or backlight"))]
    return []


def _blur_issues(subject: str, value: float, policy: QualityPolicy,
                 where: str) -> list[QualityIssue]:
    if value < policy.min_sharpness:
        return [QualityIssue(subject, QualityCode.TOO_BLURRY,
                             f"{where} is blurred (sharpness {value:.1f}, needs at least "
                             f"{policy.min_sharpness:.0f})"
                             + _advice(subject, "hold still, check focus"))]
    return []


def assess(image: ImageArray, faces: Sequence[Face], policy: QualityPolicy,
           subject: str) -> QualityReport:
    """The quality report of ``image`` given the faces the backend found in it."""
    issues: list[QualityIssue] = []
    if not faces:
        level = brightness(image)
        sharp = sharpness(image)
        issues.append(QualityIssue(subject, QualityCode.NO_FACE, "no face found"))
        issues += _light_issues(subject, level, policy, "the image")
        issues += _blur_issues(subject, sharp, policy, "the image")
        return QualityReport(subject, tuple(issues), 0, None, sharp, level)
    face = faces[0]
    if len(faces) > 1:
        issues.append(QualityIssue(subject, QualityCode.MULTIPLE_FACES,
                                   f"{len(faces)} faces found: exactly one person must be "
                                   "in view"))
    box = face.box
    if box.height < policy.min_face_px:
        issues.append(QualityIssue(subject, QualityCode.FACE_TOO_SMALL,
                                   f"the face is {box.height} px high, needs at least "
                                   f"{policy.min_face_px} px"
                                   + _advice(subject, "come closer")))
    sharp = sharpness(image, box)
    level = brightness(image, box)
    issues += _blur_issues(subject, sharp, policy, "the face")
    issues += _light_issues(subject, level, policy, "the face")
    return QualityReport(subject, tuple(issues), len(faces), box, sharp, level)


def quality_score(report: QualityReport, policy: QualityPolicy) -> float:
    """A figure to rank frames of one burst: usable frames first, then sharper and larger.

    ``(1 if ok else 0) * 100 + min(sharpness / min_sharpness, 4) + min(face / min_face, 3)``;
    a frame with no face scores ``-len(issues)``.
    """
    if report.face is None or report.sharpness is None:
        return -float(len(report.issues))
    score = min(report.sharpness / max(policy.min_sharpness, 1e-9), 4.0)
    score += min(report.face.height / max(policy.min_face_px, 1), 3.0)
    if report.ok:
        score += 100.0
    return score - float(len(report.issues))
