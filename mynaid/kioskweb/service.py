"""The kiosk loop behind the page: wait for a card, run :class:`~mynaid.kiosk.KioskFlow`,
show the result, wait for the card to go, repeat.

One thread runs the loop (the flow blocks on the page's answers; see
:mod:`mynaid.kioskweb.adapter`). Cards come from a :class:`CardSlot`:

* :class:`PcscSlot`: a PC/SC reader, watched with :class:`mynaid.transport.pcsc.ReaderMonitor`
  (insertions start a pass; a removal at any step interrupts it, back to screen ①);
* :class:`EmulatorSlot`: the built-in emulated card in-process (``--emulator``), "placed"
  and "removed" from the staff page.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from mynaid.errors import MynaidError
from mynaid.kiosk import (
    CollationBSource,
    KioskConfig,
    KioskFlow,
    Method,
    Outcome,
    Result,
    SessionKioskCard,
)
from mynaid.kioskweb.adapter import Board, WebFaceRoute, WebKioskUI, card_removed

if TYPE_CHECKING:
    from mynaid.emulator.card import EmulatedCard
    from mynaid.face.matcher import FaceMatcher
    from mynaid.integrity import IssuerKey
    from mynaid.protocol import CardProtocol

log = logging.getLogger("mynaid.kioskweb")

#: How often the waiting loops look at the stop flag (s); not a synchronisation sleep.
POLL = 0.25


def _result_advice(result: Result) -> dict[str, Any]:
    """What the result screen adds to its code: where a blocked auth PIN can be reset, in
    the wording of :func:`mynaid.pins.reset_advice` (one source with the CLI's)."""
    if result is not Result.PIN_BLOCKED:
        return {}
    from mynaid.cardspec import AUTH_PIN
    from mynaid.pins import reset_advice

    return {"advice": {lang: reset_advice(AUTH_PIN.name, lang) for lang in ("ja", "en")}}


class CardSlot(Protocol):
    """Where the patient's card is placed."""

    def wait_inserted(self, stop: threading.Event) -> str | None:
        """Block until a card is present; its reader name (None when ``stop`` is set)."""

    def connect(self, reader: str) -> contextlib.AbstractContextManager[CardProtocol]:
        """Open the card in ``reader``."""

    def watch_removal(self, reader: str, on_removed: Callable[[], None],
                      stop: threading.Event) -> None:
        """Call ``on_removed`` once when the card leaves ``reader`` (runs in a thread)."""

    def wait_removed(self, reader: str, stop: threading.Event, timeout: float) -> bool:
        """Block until the card is gone (True), or ``timeout`` / ``stop`` (False)."""


class PcscSlot:
    """A PC/SC reader (``reader``: a name substring; None: any reader)."""

    def __init__(self, reader: str | None = None) -> None:
        self.reader = reader

    def _matches(self, name: str) -> bool:
        return self.reader is None or self.reader.lower() in name.lower()

    def wait_inserted(self, stop: threading.Event) -> str | None:
        from mynaid.events import EventKind, ReaderEvent, iter_events
        from mynaid.transport.pcsc import ReaderMonitor

        monitor = ReaderMonitor()
        for item in iter_events(monitor, poll=POLL, stop=stop.is_set):
            if isinstance(item, ReaderEvent):
                if item.kind is EventKind.CARD_INSERTED and self._matches(item.reader):
                    return item.reader
            else:
                for state in item.readers:
                    if state.card_present and self._matches(state.name):
                        return state.name
        return None

    @contextlib.contextmanager
    def connect(self, reader: str) -> Iterator[CardProtocol]:
        from mynaid.connect import connect

        with connect(reader) as protocol:
            yield protocol

    def _present(self, reader: str) -> bool:
        from mynaid.transport.pcsc import ReaderMonitor

        return any(s.card_present for s in ReaderMonitor().snapshot() if s.name == reader)

    def wait_removed(self, reader: str, stop: threading.Event, timeout: float) -> bool:
        from mynaid.events import EventKind, ReaderEvent, iter_events
        from mynaid.transport.pcsc import ReaderMonitor

        for item in iter_events(ReaderMonitor(), poll=POLL, stop=stop.is_set,
                                timeout=timeout):
            if isinstance(item, ReaderEvent):
                if item.kind is EventKind.CARD_REMOVED and item.reader == reader:
                    return True
            elif not any(s.card_present for s in item.readers if s.name == reader):
                return True
        return False

    def watch_removal(self, reader: str, on_removed: Callable[[], None],
                      stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                removed = self.wait_removed(reader, stop, 3600.0)
            except MynaidError:
                removed = True  # the reader or the PC/SC service went away: no card
            if removed:
                if not stop.is_set():
                    on_removed()
                return


class EmulatorSlot:
    """The in-process emulated card; :meth:`place` and :meth:`remove` come from staff."""

    reader_name = "emulator"

    def __init__(self, card_factory: Callable[[], EmulatedCard], *,
                 placed: bool = True) -> None:
        self.card_factory = card_factory
        self._present = threading.Event()
        self._removed = threading.Event()
        if placed:
            self._present.set()

    def place(self) -> None:
        self._removed.clear()
        self._present.set()

    def remove(self) -> None:
        self._present.clear()
        self._removed.set()

    def wait_inserted(self, stop: threading.Event) -> str | None:
        while not stop.is_set():
            if self._present.wait(POLL):
                return self.reader_name
        return None

    @contextlib.contextmanager
    def connect(self, reader: str) -> Iterator[CardProtocol]:
        from mynaid.connect import connect

        with connect(card=self.card_factory()) as protocol:
            yield protocol

    def wait_removed(self, reader: str, stop: threading.Event, timeout: float) -> bool:
        return self._removed.wait(timeout)

    def watch_removal(self, reader: str, on_removed: Callable[[], None],
                      stop: threading.Event) -> None:
        while not stop.is_set():
            if self._removed.wait(POLL):
                on_removed()
                return


@dataclass
class KioskSettings:
    """What the kiosk is configured with (checked before any patient is asked anything)."""

    config: KioskConfig = field(default_factory=KioskConfig)
    #: Opens the camera or video file for a pass (None: no face route).
    open_frames: Callable[[], Any] | None = None
    matcher: FaceMatcher | None = None
    issuer_keys: tuple[IssuerKey, ...] = ()
    collation_b_source: CollationBSource | None = None
    #: Seconds the result screen waits for the card to be taken before returning to ①.
    result_timeout: float = 30.0
    burst: int = 5
    clock: Callable[[], dt.datetime] | None = None
    challenge: Callable[[], bytes | None] | None = None

    def problems(self) -> list[str]:
        """Configuration mistakes that would offer a route that cannot complete."""
        issues = []
        if self.open_frames is not None and self.matcher is None:
            issues.append("a camera is given but no face matcher")
        if self.open_frames is not None and not self.issuer_keys:
            issues.append("a camera is given but no trusted issuer key: the card face "
                          "cannot be shown authentic, so the face route is not offered")
        return issues


class KioskService:
    """The loop in a thread. ``on_outcome`` receives each pass's :class:`Outcome` (no photo,
    no My Number: hand it to the eligibility check)."""

    def __init__(self, slot: CardSlot, settings: KioskSettings | None = None, *,
                 on_outcome: Callable[[Outcome], None] | None = None) -> None:
        self.slot = slot
        self.settings = settings or KioskSettings()
        self.board = Board()
        self.on_outcome = on_outcome
        self.outcomes: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._route: WebFaceRoute | None = None
        matcher = self.settings.matcher
        self.board.set_staff(emulator=isinstance(slot, EmulatorSlot))
        if matcher is not None and getattr(matcher, "unsafe_threshold", False):
            self.board.unsafe_threshold = matcher.threshold
            self.board.calibrated_threshold = float(matcher.backend.default_threshold)

    # --- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="mynaid-kiosk", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.board.signal(card_removed())
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    # --- staff actions -------------------------------------------------------------------------

    def staff_action(self, action: str, value: Any = None) -> bool:
        """Apply a staff action; False when it does not apply now."""
        from mynaid.kioskweb.adapter import cancelled, switch

        board = self.board
        _version, patient, staff = board.snapshot()
        expects = staff.get("expects")
        if action == "cancel":
            if patient.get("screen") in ("card", "result", "done"):
                return False
            board.signal(cancelled())
            return True
        if action == "visual":
            if expects == "method" and Method.VISUAL.value in staff.get("offered", []):
                return board.answer(int(patient["id"]), Method.VISUAL.value)
            if patient.get("screen") in ("face", "pin", "method"):
                board.signal(switch(Method.VISUAL))
                return True
            return False
        if action in ("confirm", "reject") and expects == "visual":
            return board.answer(int(patient["id"]), action == "confirm")
        if action == "collation" and expects == "collation" and isinstance(value, str):
            return board.answer(int(patient["id"]), value)
        if action in ("place", "remove") and isinstance(self.slot, EmulatorSlot):
            if action == "place":
                self.slot.place()
            else:
                self.slot.remove()
            return True
        return False

    # --- the loop ---------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.board.show("card")
            self.board.set_staff(step="card", expects=None, offered=[])
            try:
                reader = self.slot.wait_inserted(self._stop)
            except MynaidError as exc:
                log.warning("waiting for a card failed: %s", exc.message)
                self._stop.wait(1.0)
                continue
            if reader is None:
                return
            self.board.clear_signal()
            self.board.set_staff(log=[])  # the previous patient's messages go
            self.board.show("reading")
            outcome = self._one_pass(reader)
            if outcome is None or self._stop.is_set():
                continue
            data = outcome.as_dict()
            self.outcomes.append(data)
            if self.on_outcome is not None:
                self.on_outcome(outcome)
            if outcome.result is Result.CARD_REMOVED:
                continue  # straight back to ①
            if outcome.verified:
                self.board.show("done", consent=outcome.consent, method=data["method"])
            else:
                self.board.show("result", result=outcome.result.value,
                                **_result_advice(outcome.result))
            try:
                self.slot.wait_removed(reader, self._stop, self.settings.result_timeout)
            except MynaidError as exc:
                log.warning("waiting for the card to go failed: %s", exc.message)

    def _one_pass(self, reader: str) -> Outcome | None:
        settings = self.settings
        watcher_stop = threading.Event()
        config = replace(settings.config, collation_b_source=settings.collation_b_source
                         or settings.config.collation_b_source)
        ui = WebKioskUI(self.board, timeout=config.step_timeout)
        route = None
        if settings.open_frames is not None and settings.matcher is not None:
            route = WebFaceRoute(settings.matcher, settings.open_frames, self.board,
                                 burst=settings.burst, timeout=config.step_timeout)
        try:
            with self.slot.connect(reader) as protocol:
                watcher = threading.Thread(
                    target=self.slot.watch_removal,
                    args=(reader, lambda: self.board.signal(card_removed()), watcher_stop),
                    name="mynaid-kiosk-removal", daemon=True)
                watcher.start()
                card = SessionKioskCard(protocol, pin_reserve=config.pin_reserve,
                                        issuer_keys=settings.issuer_keys)
                kwargs: dict[str, Any] = {}
                if settings.clock is not None:
                    kwargs["clock"] = settings.clock
                challenge = settings.challenge() if settings.challenge else None
                flow = KioskFlow(card, ui, route, config=config, challenge=challenge,
                                 **kwargs)
                return flow.run()
        except MynaidError as exc:
            # The card could not be opened at all (mute card, gone already): back to ①.
            log.warning("the card could not be used: %s", exc.message)
            return None
        finally:
            watcher_stop.set()
            if route is not None:
                route.close()
            self.board.set_preview(None)
            self.board.set_photo(None)
