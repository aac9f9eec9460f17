"""The event model behind ``mynaid watch``, without readers: snapshot diffs and the loop."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from mynaid.cli.diag import render_watch_item
from mynaid.emulator.card import DEFAULT_ATR
from mynaid.events import (
    EventKind,
    ReaderEvent,
    ReaderState,
    Snapshot,
    diff_states,
    iter_events,
)

T0 = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
OTHER_ATR = bytes.fromhex("3BC5FF8131FB458073C6010000")


def kinds(events: Sequence[ReaderEvent]) -> list[tuple[str, str]]:
    return [(e.kind.value, e.reader) for e in events]


def test_card_insertion_and_removal() -> None:
    empty = [ReaderState("R", False, None, 0)]
    full = [ReaderState("R", True, DEFAULT_ATR, 1)]
    inserted = diff_states(empty, full, T0)
    assert kinds(inserted) == [("card-inserted", "R")]
    assert inserted[0].atr == DEFAULT_ATR and inserted[0].time == T0
    assert kinds(diff_states(full, empty, T0)) == [("card-removed", "R")]
    assert diff_states(full, full, T0) == []


def test_reader_arrival_and_removal_carry_their_card() -> None:
    with_card = [ReaderState("R", True, DEFAULT_ATR)]
    assert kinds(diff_states([], with_card, T0)) == [("reader-added", "R"),
                                                    ("card-inserted", "R")]
    assert kinds(diff_states(with_card, [], T0)) == [("card-removed", "R"),
                                                    ("reader-removed", "R")]
    assert kinds(diff_states([], [ReaderState("S", False)], T0)) == [("reader-added", "S")]


def test_swapped_card_is_a_removal_then_an_insertion() -> None:
    before = [ReaderState("R", True, DEFAULT_ATR, 1)]
    # Another ATR: certainly another card.
    other = diff_states(before, [ReaderState("R", True, OTHER_ATR, 3)], T0)
    assert kinds(other) == [("card-removed", "R"), ("card-inserted", "R")]
    # Same ATR, but the event counter moved by two: removed and re-inserted in between.
    same = diff_states(before, [ReaderState("R", True, DEFAULT_ATR, 3)], T0)
    assert kinds(same) == [("card-removed", "R"), ("card-inserted", "R")]
    # A card that came and went between snapshots is reported too (ATR unknown).
    gone = diff_states([ReaderState("R", False, None, 0xFFFF)],
                       [ReaderState("R", False, None, 1)], T0)  # the 16-bit counter wrapped
    assert kinds(gone) == [("card-inserted", "R"), ("card-removed", "R")]
    assert gone[0].atr is None


def test_event_json_line() -> None:
    event = ReaderEvent(EventKind.CARD_INSERTED, "Virtual PCD 00 00", T0, DEFAULT_ATR)
    line = json.loads(json.dumps(event.to_dict()))
    assert line == {"event": "card-inserted", "time": "2030-01-01T00:00:00+00:00",
                    "reader": "Virtual PCD 00 00", "atr": "3B E0 00 FF 81 31 FE 45 14"}
    text = render_watch_item(event)
    assert "card-inserted" in text and "3B E0 00 FF" in text and "My Number Card" in text


class FakeSource:
    """A scripted StateSource: each wait returns the next snapshot (None = timeout)."""

    def __init__(self, first: list[ReaderState],
                 changes: list[list[ReaderState] | None]) -> None:
        self.first = first
        self.changes = list(changes)
        self.waits: list[float] = []

    def snapshot(self) -> list[ReaderState]:
        return self.first

    def wait(self, timeout: float) -> list[ReaderState] | None:
        self.waits.append(timeout)
        return self.changes.pop(0) if self.changes else None


class FakeClock:
    """Monotonic time that advances by each wait's timeout (no real waiting)."""

    def __init__(self, source: FakeSource) -> None:
        self.source = source

    def __call__(self) -> float:
        return sum(self.source.waits)


def test_iter_events_snapshot_first_then_events_until_count() -> None:
    empty = [ReaderState("R", False)]
    full = [ReaderState("R", True, DEFAULT_ATR)]
    source = FakeSource(empty, [None, full, None, empty, full])
    items = list(iter_events(source, count=2, now=lambda: T0, monotonic=FakeClock(source)))
    assert isinstance(items[0], Snapshot)
    assert items[0].to_dict()["readers"] == [{"name": "R", "card_present": False,
                                              "atr": None, "mute": False}]
    assert [i.kind for i in items[1:] if isinstance(i, ReaderEvent)] == [
        EventKind.CARD_INSERTED, EventKind.CARD_REMOVED]
    assert len(source.changes) == 1  # stopped after the second event


def test_iter_events_stops_at_timeout_and_on_request() -> None:
    source = FakeSource([], [])
    items = list(iter_events(source, timeout=2.0, poll=0.5, now=lambda: T0,
                             monotonic=FakeClock(source)))
    assert len(items) == 1  # the snapshot only
    assert source.waits == [0.5, 0.5, 0.5, 0.5]
    stopped = FakeSource([], [])
    assert len(list(iter_events(stopped, stop=lambda: True))) == 1
    assert stopped.waits == []


def test_snapshot_text_lists_every_reader() -> None:
    snap = Snapshot(T0, (ReaderState("A", True, DEFAULT_ATR), ReaderState("B", False)))
    text = render_watch_item(snap)
    assert "watching 2 readers" in text
    assert "A  [card 3B E0" in text and "B  [no card]" in text


states = st.lists(
    st.builds(ReaderState, st.sampled_from(["A", "B", "C"]), st.booleans(),
              st.sampled_from([DEFAULT_ATR, OTHER_ATR]), st.integers(0, 0xFFFF)),
    max_size=3, unique_by=lambda s: s.name,
).map(lambda items: [ReaderState(s.name, s.card_present, s.atr if s.card_present else None,
                                 s.event_count) for s in items])


@settings(max_examples=300, deadline=None)
@given(states, states)
def test_replaying_events_on_before_gives_after(before: list[ReaderState],
                                                after: list[ReaderState]) -> None:
    """Whatever the two snapshots, the events explain the second from the first."""
    readers = {s.name: (s.card_present, s.atr) for s in before}
    for event in diff_states(before, after, T0):
        if event.kind is EventKind.READER_ADDED:
            assert event.reader not in readers
            readers[event.reader] = (False, None)
        elif event.kind is EventKind.READER_REMOVED:
            assert readers.pop(event.reader) == (False, None)
        elif event.kind is EventKind.CARD_INSERTED:
            assert readers[event.reader][0] is False
            readers[event.reader] = (True, event.atr)
        else:
            assert readers[event.reader][0] is True
            readers[event.reader] = (False, None)
    final = {name: present for name, (present, _atr) in readers.items()}
    assert final == {s.name: s.card_present for s in after}
    for s in after:
        if s.card_present:
            assert readers[s.name][1] == s.atr
