"""Liveness signals on synthetic landmarks and frames (no model needed)."""

from __future__ import annotations

import pytest

from mynaid.face.liveness import (
    BlinkChallenge,
    ChallengeState,
    HeadTurnChallenge,
    TurnDirection,
    count_blinks,
    ear_from_landmarks68,
    eye_aspect_ratio,
    yaw_ratio,
)
from mynaid.face.models import FaceBox

Point = tuple[float, float]


def eye(width: float, opening: float, x0: float = 0.0) -> list[Point]:
    """Six eye points: corners at x0 and x0+width, lids ``opening`` apart."""
    half = opening / 2
    return [(x0, 0.0), (x0 + width / 3, -half), (x0 + 2 * width / 3, -half),
            (x0 + width, 0.0), (x0 + 2 * width / 3, half), (x0 + width / 3, half)]


def test_eye_aspect_ratio_exact() -> None:
    assert eye_aspect_ratio(eye(30, 9)) == pytest.approx(0.3)
    assert eye_aspect_ratio(eye(30, 0)) == 0.0
    assert eye_aspect_ratio([(0.0, 0.0)] * 6) == 0.0
    with pytest.raises(ValueError):
        eye_aspect_ratio(eye(30, 9)[:5])


def test_ear_from_68_points_averages_both_eyes() -> None:
    points: list[Point] = [(0.0, 0.0)] * 68
    points[36:42] = eye(30, 9, 100)
    points[42:48] = eye(30, 3, 200)
    assert ear_from_landmarks68(points) == pytest.approx((0.3 + 0.1) / 2)
    with pytest.raises(ValueError):
        ear_from_landmarks68(points[:5])


@pytest.mark.parametrize(("ears", "blinks"), [
    ([0.30, 0.30, 0.10, 0.30], 1),
    ([0.30, 0.12, 0.11, 0.31, 0.29, 0.10, 0.30], 2),
    ([0.30, 0.28, 0.29, 0.30], 0),           # no closure
    ([0.10, 0.10, 0.30, 0.30], 0),           # starts closed: opening only
    ([0.30, 0.30, 0.10, 0.10], 0),           # ends closed: no reopening seen
    ([0.05, 0.06, 0.05], 0),                 # never open
    ([], 0),
])
def test_count_blinks(ears: list[float], blinks: int) -> None:
    assert count_blinks(ears) == blinks


def test_blink_challenge_passes_and_fails() -> None:
    challenge = BlinkChallenge(max_frames=10)
    assert challenge.feed(0.3) is ChallengeState.PENDING
    assert challenge.feed(None) is ChallengeState.PENDING  # no face in that frame
    assert challenge.feed(0.1) is ChallengeState.PENDING
    assert challenge.feed(0.3) is ChallengeState.PASSED
    assert challenge.feed(0.1) is ChallengeState.PASSED  # final
    still = BlinkChallenge(max_frames=3)
    states = [still.feed(0.3) for _ in range(3)]
    assert states[-1] is ChallengeState.FAILED


def five_points(nose_x: float) -> list[Point]:
    """dlib 5-point layout: eye on the image's right (0-1), other eye (2-3), nose (4)."""
    return [(140.0, 100.0), (120.0, 100.0), (60.0, 100.0), (80.0, 100.0), (nose_x, 140.0)]


def test_yaw_ratio_from_five_points() -> None:
    # Eye centres at x 130 and 70: midpoint 100, span 60.
    assert yaw_ratio(five_points(100)) == 0.0
    assert yaw_ratio(five_points(112)) == pytest.approx(0.2)
    assert yaw_ratio(five_points(91)) == pytest.approx(-0.15)
    with pytest.raises(ValueError):
        yaw_ratio(five_points(100)[:4])


def test_head_turn_needs_a_frontal_frame_then_the_asked_side() -> None:
    challenge = HeadTurnChallenge(TurnDirection.LEFT, max_frames=10)
    assert "left" in challenge.instruction
    # Turned before any frontal frame: not enough (could be a photo of a turned face).
    assert challenge.feed(five_points(112)) is ChallengeState.PENDING
    assert challenge.feed(five_points(101)) is ChallengeState.PENDING  # frontal
    assert challenge.feed(None) is ChallengeState.PENDING
    assert challenge.feed(five_points(88)) is ChallengeState.PENDING  # the other way
    assert challenge.feed(five_points(112)) is ChallengeState.PASSED


def test_head_turn_wrong_side_fails_and_mirroring_flips() -> None:
    wrong = HeadTurnChallenge(TurnDirection.RIGHT, max_frames=4)
    states = [wrong.feed(five_points(x)) for x in (100, 112, 112, 112)]
    assert states[-1] is ChallengeState.FAILED
    mirrored = HeadTurnChallenge(TurnDirection.RIGHT, mirrored=True)
    mirrored.feed(five_points(100))
    assert mirrored.feed(five_points(112)) is ChallengeState.PASSED


def test_head_turn_direction_is_random_when_not_given() -> None:
    directions = {HeadTurnChallenge().direction for _ in range(64)}
    assert directions == {TurnDirection.LEFT, TurnDirection.RIGHT}


def test_motion_signal_separates_still_from_moving() -> None:
    np = pytest.importorskip("numpy")
    pytest.importorskip("cv2")
    from mynaid.face.liveness import looks_static, motion_score

    rng = np.random.default_rng(7)
    base = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    base = np.repeat(np.repeat(base[::8, ::8], 8, axis=0), 8, axis=1)  # blocky texture
    box = FaceBox(200, 120, 400, 320)

    def noisy(image: object) -> object:
        return np.clip(image + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8)

    still = [(noisy(base), box) for _ in range(5)]
    moving = [(noisy(np.roll(base, 3 * i, axis=1)), box) for i in range(5)]
    assert looks_static(still).static
    signal = looks_static(moving)
    assert not signal.static and signal.motion > motion_score(still)
    with pytest.raises(ValueError):
        motion_score(still[:1])
