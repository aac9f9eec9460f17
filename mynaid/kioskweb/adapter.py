"""The web page's side of :class:`mynaid.kiosk.KioskUI`: a board the browser reads, and UI
calls that block until the browser (or staff) answers.

The flow (:class:`mynaid.kiosk.KioskFlow`) runs in its own thread. Each UI call publishes a
*screen* (a small JSON-able dict with an ``id``) on the :class:`Board` and waits for an
answer carrying that ``id``; a stale answer (for a screen that is gone) is ignored. Events
that are not answers are *signals* raised inside the waiting call: the card was removed
(:class:`~mynaid.errors.CardRemovedError`), staff cancelled
(:class:`~mynaid.kiosk.KioskCancelled`) or switched the method
(:class:`~mynaid.kiosk.MethodSwitch`), or the screen timed out
(:class:`~mynaid.kiosk.KioskTimeout`). So the page adds no states of its own: it shows what
the flow asks.

What the board holds is split by audience. The patient view never holds the chip photo, a
PIN, 照合番号B or a My Number (answers are consumed and dropped); the staff view adds the
flow's English messages and, during 目視確認 only, a flag that the chip photo is available
(the photo itself is served to the authenticated staff page only).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mynaid.errors import CardRemovedError, MynaidError
from mynaid.kiosk import (
    FaceAttempt,
    KioskCancelled,
    KioskTimeout,
    Method,
    MethodSwitch,
    Step,
)

if TYPE_CHECKING:
    from mynaid.face.camera import Frame
    from mynaid.face.matcher import FaceMatcher
    from mynaid.face.models import FaceSample

#: Preview frames are scaled to this width before JPEG encoding (the patient's own image).
PREVIEW_WIDTH = 320
#: Notices kept for the staff view.
STAFF_LOG = 8


class Board:
    """The shared state between the flow thread and the web handlers (thread-safe)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.version = 0
        self._next_id = 0
        self.patient: dict[str, Any] = {"screen": "card", "id": 0}
        self.staff: dict[str, Any] = {"step": "card", "log": [], "photo": False,
                                      "expects": None, "offered": []}
        self._answer: tuple[int, Any] | None = None
        self._signal: MynaidError | None = None
        self._photo: bytes | None = None
        self._preview: bytes | None = None
        self.unsafe_threshold: float | None = None
        self.calibrated_threshold: float | None = None
        self.closed = False

    def close(self) -> None:
        """End the event streams (the server is shutting down)."""
        with self._cond:
            self.closed = True
            self._bump()

    # --- publishing (flow thread) -----------------------------------------------------------

    def _bump(self) -> None:
        self.version += 1
        self._cond.notify_all()

    def show(self, screen: str, **fields: Any) -> int:
        """Publish a patient screen (with a fresh id) and return its id."""
        with self._cond:
            self._next_id += 1
            self.patient = {"screen": screen, "id": self._next_id, **fields}
            if self.unsafe_threshold is not None:
                self.patient["unsafe_threshold"] = self.unsafe_threshold
                self.patient["calibrated_threshold"] = self.calibrated_threshold
            self._answer = None
            self._bump()
            return self._next_id

    def update(self, **fields: Any) -> None:
        """Change fields of the current patient screen (same id: guidance, preview)."""
        with self._cond:
            self.patient = {**self.patient, **fields}
            self._bump()

    def set_staff(self, **fields: Any) -> None:
        with self._cond:
            self.staff = {**self.staff, **fields}
            self._bump()

    def staff_log(self, text: str) -> None:
        with self._cond:
            log = [*self.staff["log"], text][-STAFF_LOG:]
            self.staff = {**self.staff, "log": log}
            self._bump()

    def set_photo(self, png: bytes | None) -> None:
        with self._cond:
            self._photo = png
            self.staff = {**self.staff, "photo": png is not None}
            self._bump()

    def photo(self) -> bytes | None:
        with self._cond:
            return self._photo

    def set_preview(self, jpeg: bytes | None) -> None:
        with self._cond:
            self._preview = jpeg

    def preview(self) -> bytes | None:
        with self._cond:
            return self._preview

    # --- answers and signals (web handlers) ------------------------------------------------

    def answer(self, screen_id: int, value: Any) -> bool:
        """An answer for screen ``screen_id``; False when that screen is no longer shown."""
        with self._cond:
            if screen_id != self.patient.get("id"):
                return False
            self._answer = (screen_id, value)
            self._cond.notify_all()
            return True

    def signal(self, error: MynaidError) -> None:
        """Interrupt whatever the flow waits for (removal, cancel, method switch)."""
        with self._cond:
            self._signal = error
            self._cond.notify_all()

    def clear_signal(self) -> None:
        with self._cond:
            self._signal = None

    def raise_signal(self) -> None:
        """Raise a pending signal (called by the flow thread between frames too)."""
        with self._cond:
            error, self._signal = self._signal, None
        if error is not None:
            raise error

    def wait_answer(self, screen_id: int, timeout: float | None,
                    accept: Callable[[Any], bool]) -> Any:
        """Block until an accepted answer for ``screen_id``, a signal, or the timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._signal is not None:
                    error, self._signal = self._signal, None
                    raise error
                if self._answer is not None and self._answer[0] == screen_id:
                    value = self._answer[1]
                    self._answer = None
                    if accept(value):
                        return value
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise KioskTimeout(f"no answer within {timeout:g} s")
                self._cond.wait(remaining)

    def wait_change(self, version: int, timeout: float) -> int:
        """Block until the board's version differs from ``version`` (or the timeout)."""
        with self._cond:
            if self.version == version and not self.closed:
                self._cond.wait(timeout)
            return self.version

    def snapshot(self) -> tuple[int, dict[str, Any], dict[str, Any]]:
        with self._cond:
            return self.version, dict(self.patient), dict(self.staff)


_SCREEN_OF_STEP = {Step.CARD: "card", Step.METHOD: "method", Step.FACE: "face",
                   Step.PIN: "pin", Step.VISUAL: "staff", Step.CONSENT: "consent",
                   Step.DONE: "done"}


@dataclass
class WebKioskUI:
    """:class:`mynaid.kiosk.KioskUI` (and :class:`~mynaid.kiosk.StaffPhotoUI`) on a
    :class:`Board`. ``timeout``: seconds each screen waits for an answer (0: forever)."""

    board: Board
    timeout: float = 120.0

    def _wait(self, screen_id: int, accept: Callable[[Any], bool]) -> Any:
        return self.board.wait_answer(screen_id, self.timeout or None, accept)

    def _deadline(self) -> dict[str, Any]:
        return {"timeout": self.timeout} if self.timeout else {}

    def show(self, step: Step, message: str) -> None:
        code = getattr(message, "code", None)
        params = dict(getattr(message, "params", {}))
        # Staff see the flow's message (English, never a secret: the flow's messages
        # hold counts and reasons only); the patient sees the notice by its code.
        self.board.staff_log(f"[{step.value}] {message}")
        self.board.set_staff(step=step.value)
        if code is not None:
            self.board.update(notice={"code": code, **params})

    def choose_method(self, offered: tuple[Method, ...]) -> Method | None:
        patient = [m.value for m in offered if m is not Method.VISUAL]
        notice = self.board.patient.get("notice")
        screen_id = self.board.show("method", options=patient, notice=notice,
                                    staff_only=not patient, **self._deadline())
        self.board.set_staff(step="method", expects="method",
                             offered=[m.value for m in offered])
        names = {m.value: m for m in offered}

        def accept(value: Any) -> bool:
            return value == "cancel" or value in names

        try:
            value = self._wait(screen_id, accept)
        finally:
            self.board.set_staff(expects=None, offered=[])
        return None if value == "cancel" else names[value]

    def collation_b(self) -> str:
        # The card-face scan gave nothing: staff type 照合番号B on the staff page.
        screen_id = self.board.show("wait-staff", reason="collation", **self._deadline())
        self.board.set_staff(expects="collation")
        try:
            value = self._wait(screen_id, lambda v: isinstance(v, str) and len(v) <= 64)
        finally:
            self.board.set_staff(expects=None)
        return str(value)

    def pin(self, tries_left: int) -> str:
        notice = self.board.patient.get("notice")
        if not (isinstance(notice, dict) and notice.get("code") in ("wrong-pin",
                                                                      "pin-format")):
            notice = None
        screen_id = self.board.show("pin", tries_left=tries_left, notice=notice,
                                    **self._deadline())
        value = self._wait(screen_id, lambda v: isinstance(v, str) and len(v) <= 16)
        if value == "cancel":  # the patient's 終了する on the keypad screen
            raise KioskCancelled("cancelled by the patient")
        return str(value)

    def consent(self) -> bool:
        screen_id = self.board.show("consent", **self._deadline())
        return bool(self._wait(screen_id, lambda v: isinstance(v, bool)))

    def staff_confirms(self) -> bool:
        screen_id = self.board.show("wait-staff", reason="visual", **self._deadline())
        self.board.set_staff(step="visual", expects="visual")
        try:
            return bool(self._wait(screen_id, lambda v: isinstance(v, bool)))
        finally:
            self.board.set_staff(expects=None)

    def staff_photo(self, photo: bytes | None) -> None:
        if photo is None:
            self.board.set_photo(None)
            return
        from mynaid.photo import decode

        try:
            png = decode(photo).to_png()  # browsers do not show JPEG 2000
        except MynaidError:
            png = None
        self.board.set_photo(png)


class WebFaceRoute:
    """:class:`mynaid.kiosk.FaceRoute` for the page: frames from a server-side source, a
    preview and plain guidance per frame, and the burst's best frame encoded once.

    ``open_frames`` opens the camera (or video file) when the face step starts; the
    service closes it with :meth:`close` at the end of the pass.
    """

    def __init__(self, matcher: FaceMatcher, open_frames: Callable[[], Any], board: Board,
                 *, burst: int = 5, timeout: float = 0.0) -> None:
        self.matcher = matcher
        self.timeout = timeout
        self.open_frames = open_frames
        self.board = board
        self.burst = burst
        self._frames: Any = None

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()
            self._frames = None

    def enroll(self, card_photo: bytes) -> Any:
        from mynaid.kiosk import CameraFaceRoute

        return CameraFaceRoute(self.matcher, None).enroll(card_photo)

    def _publish(self, frame: Frame, sample: FaceSample, attempt: int) -> None:
        from mynaid.face._deps import load_cv2

        cv2 = load_cv2()
        image = frame.image
        height, width = image.shape[:2]
        scale = PREVIEW_WIDTH / width
        small = cv2.resize(image, (PREVIEW_WIDTH, max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, 70])
        self.board.set_preview(bytes(jpeg) if ok else None)
        box = None
        if sample.face is not None:
            b = sample.face.box
            box = [b.left / width, b.top / height, b.right / width, b.bottom / height]
        codes = [issue.code.value for issue in sample.report.issues]
        self.board.update(guidance=_guidance(codes), box=box, frame=frame.index,
                          attempt=attempt)

    def attempt(self, reference: Any) -> FaceAttempt:
        from mynaid.face.errors import CameraError
        from mynaid.face.quality import quality_score

        if self._frames is None:
            try:
                self._frames = self.open_frames()
            except CameraError:
                return FaceAttempt(False, "the camera could not be opened")
        screen = self.board.patient
        attempt = int(screen.get("attempt", 0)) + 1 if screen.get("screen") == "face" else 1
        if screen.get("screen") != "face":
            extra = {"timeout": self.timeout} if self.timeout else {}
            self.board.show("face", attempt=1, guidance="position", **extra)
        policy = self.matcher.frame_policy
        best: tuple[float, Any, Any, FaceSample] | None = None
        for _ in range(self.burst):
            self.board.raise_signal()  # removal, cancel or a switch stop the burst
            frame = self._frames.read()
            if frame is None:
                break
            rgb = self.matcher.prepare(frame.image)
            sample = self.matcher.analyze_rgb(rgb, subject="frame", policy=policy,
                                              encode=False)
            self._publish(frame, sample, attempt)
            score = quality_score(sample.report, policy)
            if best is None or score > best[0]:
                best = (score, frame, rgb, sample)
        if best is None:
            return FaceAttempt(False, "the camera gave no picture")
        _score, _frame, rgb, sample = best
        if sample.report.ok and sample.face is not None:
            sample = self.matcher.encode(rgb, sample.report, sample.face)
        result = self.matcher.compare_samples(reference, sample)
        return FaceAttempt(result.match, result.summary(), result.distance)


def _guidance(codes: list[str]) -> str:
    """The one plain instruction for a frame's quality issues (the page translates it)."""
    for code, hint in (("multiple-faces", "one-face"), ("no-face", "position"),
                       ("face-too-small", "closer"), ("too-dark", "brighter"),
                       ("too-bright", "less-light"), ("too-blurry", "still")):
        if code in codes:
            return hint
    return "ok" if not codes else "position"


def card_removed() -> CardRemovedError:
    return CardRemovedError("the card was removed")


def cancelled() -> KioskCancelled:
    return KioskCancelled("cancelled by staff")


def switch(method: Method) -> MethodSwitch:
    return MethodSwitch(method)
