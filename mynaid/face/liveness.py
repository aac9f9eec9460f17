"""Optional liveness checks from landmarks, and a simple presentation-attack signal.

None of these is a certified presentation-attack detector (ISO/IEC 30107-3). They are
cheap CPU signals that raise the cost of the simplest attacks; each says what it stops
and what it does not. They are off unless the caller runs them.

**Blink challenge** (:class:`BlinkChallenge`): the person is asked to blink; the eye
aspect ratio (EAR, Soukupová & Čech 2016) from the 68-point landmarks must drop and
recover within the window. Needs ``DlibBackend(enable_68_point_landmarks=True)``: that
model is trained on iBUG 300-W, whose terms exclude commercial use — clear the licence
before enabling it in a product.

* Stops: a printed photo or a still image on a screen held to the camera.
* Does not stop: a video replay of the person (videos contain blinks), a photo with the
  eyes cut out and real eyes behind, masks, a stream injected as a virtual camera.

**Head-turn challenge** (:class:`HeadTurnChallenge`): the person is asked to turn to a
random side; the nose must move sideways relative to the eyes (yaw from the 5-point
landmarks, so the non-commercial model is not needed), after a frontal frame.

* Stops: flat photos and screens, even when tilted or rotated (turning a flat picture
  squeezes nose and eyes alike, so the ratio does not change: squeezing the shared photos
  to 70 % width moved it by at most 0.02, against 0.15 needed); a replay that turns the
  wrong way (one in two per attempt: limit attempts).
* Does not stop: a video of the person that turns the requested way, a live video call,
  3D masks, injected streams; a strongly bent photo can fake some yaw.

**Stillness signal** (:func:`motion_score`, :func:`looks_static`): the face region of
consecutive frames is compared after contrast normalisation; a live face moves a little
(breathing, micro-movements, blinks), a photo on a stand or a frozen frame does not.

* Stops: a photo or screen propped in front of the camera, a frozen image.
* Does not stop: a hand-held photo (it moves), any video replay, masks.
"""

from __future__ import annotations

import enum
import itertools
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mynaid.face._deps import load_cv2, load_numpy

if TYPE_CHECKING:
    from mynaid.face._typing import ImageArray
    from mynaid.face.models import FaceBox

Point = tuple[float, float]

#: 68-point indices of the eye on the image's left (the subject's right eye) and right.
EYE_IMAGE_LEFT = tuple(range(36, 42))
EYE_IMAGE_RIGHT = tuple(range(42, 48))
NOSE_TIP_68 = 30


def _dist(a: Point, b: Point) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def eye_aspect_ratio(eye: Sequence[Point]) -> float:
    """EAR of one eye's six points p1..p6: (|p2−p6| + |p3−p5|) / (2 |p1−p4|).

    About 0.25–0.35 for an open eye, under ~0.15 when closed.
    """
    if len(eye) != 6:
        raise ValueError("an eye has 6 landmarks")
    width = _dist(eye[0], eye[3])
    if width <= 0:
        return 0.0
    return (_dist(eye[1], eye[5]) + _dist(eye[2], eye[4])) / (2.0 * width)


def ear_from_landmarks68(points: Sequence[Point]) -> float:
    """Mean EAR of both eyes from 68 landmarks."""
    if len(points) != 68:
        raise ValueError("68 landmarks expected")
    left = eye_aspect_ratio([points[i] for i in EYE_IMAGE_LEFT])
    right = eye_aspect_ratio([points[i] for i in EYE_IMAGE_RIGHT])
    return (left + right) / 2.0


def count_blinks(ears: Sequence[float], *, closed_fraction: float = 0.7,
                 min_open: float = 0.2) -> int:
    """Blinks in an EAR series: open, then closed for at least one frame, then open again.

    "Open" is relative to the person's own baseline (the series' maximum, at least
    ``min_open``): a frame is closed when its EAR is below ``closed_fraction`` × baseline
    and open when at or above it. A series that starts or ends closed counts no blink for
    that run (the opening or the reopening was not seen).
    """
    if not ears:
        return 0
    baseline = max(max(ears), min_open)
    limit = closed_fraction * baseline
    blinks = 0
    seen_open = closed = False
    for ear in ears:
        if ear < limit:
            closed = seen_open
        else:
            if closed:
                blinks += 1
            closed = False
            seen_open = True
    return blinks


def yaw_ratio(landmarks: Sequence[Point]) -> float:
    """Sideways offset of the nose from the eyes' midpoint, in inter-eye distances.

    Takes dlib's 5 points (eye on the image's right: 0–1, other eye: 2–3, nose base: 4) or
    68 points (eyes 36–47, nose tip 30). ~0 for a frontal face; positive when the nose is
    to the image's right of the eyes — in an unmirrored camera image, the person turned to
    their own left.
    """
    if len(landmarks) == 5:
        eye_a = _mid(landmarks[0], landmarks[1])
        eye_b = _mid(landmarks[2], landmarks[3])
        nose = landmarks[4]
    elif len(landmarks) == 68:
        eye_a = _centroid([landmarks[i] for i in EYE_IMAGE_RIGHT])
        eye_b = _centroid([landmarks[i] for i in EYE_IMAGE_LEFT])
        nose = landmarks[NOSE_TIP_68]
    else:
        raise ValueError("5 or 68 landmarks expected")
    span = _dist(eye_a, eye_b)
    if span <= 0:
        return 0.0
    middle = _mid(eye_a, eye_b)
    return (nose[0] - middle[0]) / span


def _mid(a: Point, b: Point) -> Point:
    return ((a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0)


def _centroid(points: Sequence[Point]) -> Point:
    return (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points))


class ChallengeState(str, enum.Enum):
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"


class BlinkChallenge:
    """Feed the EAR of each frame (:func:`ear_from_landmarks68`); passes on one blink
    within ``max_frames`` frames (about 3 s at 15 fps by default)."""

    instruction = "Please blink"

    def __init__(self, *, max_frames: int = 45, closed_fraction: float = 0.7) -> None:
        self.max_frames = max_frames
        self.closed_fraction = closed_fraction
        self._ears: list[float] = []
        self._frames = 0
        self.state = ChallengeState.PENDING

    def feed(self, ear: float | None) -> ChallengeState:
        """One frame's EAR (None when no face was found in it: counts as a frame)."""
        if self.state is not ChallengeState.PENDING:
            return self.state
        if ear is not None:
            self._ears.append(ear)
        self._frames += 1
        if count_blinks(self._ears, closed_fraction=self.closed_fraction) >= 1:
            self.state = ChallengeState.PASSED
        elif self._frames >= self.max_frames:
            self.state = ChallengeState.FAILED
        return self.state


class TurnDirection(str, enum.Enum):
    """The side the person turns to, their own left or right."""

    LEFT = "left"
    RIGHT = "right"


class HeadTurnChallenge:
    """Feed the 5-point (or 68-point) landmarks of each frame; passes when a frontal frame
    (``|yaw| < frontal``) is followed by a turn to ``direction`` (``|yaw| >= turned``).

    The direction is random (``secrets``) unless given. ``mirrored=True`` when frames are
    flipped horizontally (a selfie preview) before analysis.
    """

    def __init__(self, direction: TurnDirection | None = None, *, frontal: float = 0.06,
                 turned: float = 0.15, max_frames: int = 60, mirrored: bool = False) -> None:
        self.direction = direction if direction is not None else secrets.choice(
            list(TurnDirection))
        self.frontal = frontal
        self.turned = turned
        self.max_frames = max_frames
        self.mirrored = mirrored
        self.state = ChallengeState.PENDING
        self._frames = 0
        self._saw_frontal = False

    @property
    def instruction(self) -> str:
        return f"Please turn your head slowly to your {self.direction.value}"

    def _expected_sign(self) -> float:
        # Turning to one's own left moves the nose to the image's right (unmirrored).
        sign = 1.0 if self.direction is TurnDirection.LEFT else -1.0
        return -sign if self.mirrored else sign

    def feed(self, landmarks: Sequence[Point] | None) -> ChallengeState:
        """One frame's landmarks (None when no face was found: counts as a frame)."""
        if self.state is not ChallengeState.PENDING:
            return self.state
        self._frames += 1
        if landmarks is not None:
            yaw = yaw_ratio(landmarks)
            if abs(yaw) < self.frontal:
                self._saw_frontal = True
            elif self._saw_frontal and yaw * self._expected_sign() >= self.turned:
                self.state = ChallengeState.PASSED
                return self.state
        if self._frames >= self.max_frames:
            self.state = ChallengeState.FAILED
        return self.state


# --- stillness (presentation-attack signal) ------------------------------------------------

#: Side of the square face patch compared between frames.
MOTION_PATCH = 64
#: Below this median change (grey levels, after normalising the patch to std 32) the face
#: is reported as static. Measured on the shared photos as 640×480 frames: added Gaussian
#: noise of σ 1–4 grey levels (a still scene) gives 0.1–0.8; a 1 px shift between frames,
#: with the face detected anew in each, gives 2–13. Synthetic figures: check with your
#: camera and lighting before relying on it.
DEFAULT_MIN_MOTION = 1.0


def _patch(image: ImageArray, box: FaceBox) -> object:
    cv2 = load_cv2()
    np = load_numpy()
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    height, width = grey.shape[:2]
    b = box.clipped(width, height)
    if b.width <= 0 or b.height <= 0:
        raise ValueError("the face box lies outside the image")
    patch = cv2.resize(grey[b.top:b.bottom, b.left:b.right], (MOTION_PATCH, MOTION_PATCH),
                       interpolation=cv2.INTER_AREA).astype(np.float64)
    spread = float(patch.std())
    return (patch - float(patch.mean())) * (32.0 / max(spread, 1.0))


def motion_score(frames: Sequence[tuple[ImageArray, FaceBox]]) -> float:
    """Median mean-absolute change of the face patch between consecutive frames.

    Each item is an RGB frame and the face box found in it. Needs two frames or more.
    """
    if len(frames) < 2:
        raise ValueError("motion needs at least two frames")
    np = load_numpy()
    patches = [_patch(image, box) for image, box in frames]
    changes = sorted(float(np.mean(np.abs(np.subtract(a, b))))
                     for a, b in itertools.pairwise(patches))
    middle = len(changes) // 2
    if len(changes) % 2:
        return changes[middle]
    return (changes[middle - 1] + changes[middle]) / 2.0


@dataclass(frozen=True)
class StillnessSignal:
    """The stillness signal of a burst: ``static`` when the face did not move at all."""

    motion: float
    static: bool


def looks_static(frames: Sequence[tuple[ImageArray, FaceBox]],
                 min_motion: float = DEFAULT_MIN_MOTION) -> StillnessSignal:
    """:func:`motion_score` against ``min_motion``."""
    motion = motion_score(frames)
    return StillnessSignal(motion, motion < min_motion)
