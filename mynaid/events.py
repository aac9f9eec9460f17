"""Reader and card events: the model a kiosk loop consumes (pure; no PC/SC here).

A *source* (for PC/SC, :class:`mynaid.transport.pcsc.ReaderMonitor`) produces snapshots
of every reader's state; :func:`diff_states` turns two consecutive snapshots into events,
and :func:`iter_events` runs the loop with a stop condition (event count, deadline, or a
caller's flag). Keeping the comparison pure makes it testable without readers.
"""

from __future__ import annotations

import datetime as dt
import enum
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

#: pcsc-lite counts card insertions and removals per reader in 16 bits.
EVENT_COUNTER_MODULUS = 0x10000


class EventKind(enum.Enum):
    """What happened."""

    READER_ADDED = "reader-added"
    READER_REMOVED = "reader-removed"
    CARD_INSERTED = "card-inserted"
    CARD_REMOVED = "card-removed"


@dataclass(frozen=True)
class ReaderState:
    """One reader as seen at one moment.

    ``event_count`` is the reader's card-event counter when the platform reports one
    (pcsc-lite and Windows do, in the upper 16 bits of the reader state): it reveals a
    removal and re-insertion that happened between two snapshots. ``mute`` marks a card
    that is present but does not answer (it counts as no card).
    """

    name: str
    card_present: bool
    atr: bytes | None = None
    event_count: int | None = None
    mute: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "card_present": self.card_present,
                "atr": _hex(self.atr), "mute": self.mute}


@dataclass(frozen=True)
class ReaderEvent:
    """A card insertion or removal, or a reader arrival or removal, with its time."""

    kind: EventKind
    reader: str
    time: dt.datetime
    atr: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON line of ``mynaid watch --json``."""
        return {"event": self.kind.value, "time": self.time.isoformat(),
                "reader": self.reader, "atr": _hex(self.atr)}


def _hex(data: bytes | None) -> str | None:
    return data.hex(" ").upper() if data else None


def _counter_delta(before: ReaderState, after: ReaderState) -> int | None:
    if before.event_count is None or after.event_count is None:
        return None
    return (after.event_count - before.event_count) % EVENT_COUNTER_MODULUS


def diff_states(before: Sequence[ReaderState], after: Sequence[ReaderState],
                when: dt.datetime) -> list[ReaderEvent]:
    """The events that lead from snapshot ``before`` to snapshot ``after``.

    Order: for a vanished reader its card's removal, then the reader; for a new reader
    the reader, then its card. A card swapped between the snapshots (other ATR, or the
    event counter advanced while presence looks unchanged) yields a removal and an
    insertion, so that a kiosk never keeps serving the previous holder's session.
    """
    old = {state.name: state for state in before}
    new = {state.name: state for state in after}
    events: list[ReaderEvent] = []

    def add(kind: EventKind, name: str, atr: bytes | None = None) -> None:
        events.append(ReaderEvent(kind, name, when, atr))

    for name, state in old.items():
        if name not in new:
            if state.card_present:
                add(EventKind.CARD_REMOVED, name)
            add(EventKind.READER_REMOVED, name)
    for name, state in new.items():
        previous = old.get(name)
        if previous is None:
            add(EventKind.READER_ADDED, name)
            if state.card_present:
                add(EventKind.CARD_INSERTED, name, state.atr)
            continue
        delta = _counter_delta(previous, state)
        if previous.card_present and state.card_present:
            if previous.atr != state.atr or (delta is not None and delta >= 2):
                add(EventKind.CARD_REMOVED, name)
                add(EventKind.CARD_INSERTED, name, state.atr)
        elif previous.card_present:
            add(EventKind.CARD_REMOVED, name)
        elif state.card_present:
            add(EventKind.CARD_INSERTED, name, state.atr)
        elif delta is not None and delta >= 2:
            # A card came and went between the snapshots; its ATR is unknown.
            add(EventKind.CARD_INSERTED, name)
            add(EventKind.CARD_REMOVED, name)
    return events


class StateSource(Protocol):
    """Where snapshots come from (PC/SC's ReaderMonitor, or a fake in tests)."""

    def snapshot(self) -> Sequence[ReaderState]:
        """The current state of every reader; later waits report changes from it."""

    def wait(self, timeout: float) -> Sequence[ReaderState] | None:
        """Block up to ``timeout`` seconds; a new snapshot when something changed."""


@dataclass(frozen=True)
class Snapshot:
    """The readers' state when watching starts (the first item :func:`iter_events` yields)."""

    time: dt.datetime
    readers: tuple[ReaderState, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"event": "snapshot", "time": self.time.isoformat(),
                "readers": [state.to_dict() for state in self.readers]}


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iter_events(source: StateSource, *, count: int | None = None,
                timeout: float | None = None, poll: float = 0.5,
                stop: Callable[[], bool] | None = None,
                now: Callable[[], dt.datetime] = _utcnow,
                monotonic: Callable[[], float] = time.monotonic,
                ) -> Iterator[Snapshot | ReaderEvent]:
    """Yield the initial :class:`Snapshot`, then each :class:`ReaderEvent` as it happens.

    Stops after ``count`` events, after ``timeout`` seconds, or when ``stop()`` turns
    true (checked at least every ``poll`` seconds, which also bounds how long a Ctrl-C
    waits: the wait is a blocking call that Python signals cannot interrupt).
    """
    current = tuple(source.snapshot())
    yield Snapshot(now(), current)
    seen = 0
    deadline = None if timeout is None else monotonic() + timeout
    while count is None or seen < count:
        if stop is not None and stop():
            return
        wait = poll
        if deadline is not None:
            remaining = deadline - monotonic()
            if remaining <= 0:
                return
            wait = min(wait, remaining)
        changed = source.wait(wait)
        if changed is None:
            continue
        changed = tuple(changed)
        events = diff_states(current, changed, now())
        current = changed
        for event in events:
            yield event
            seen += 1
            if count is not None and seen >= count:
                return
