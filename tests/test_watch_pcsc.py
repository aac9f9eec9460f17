"""``mynaid watch`` through the real pcscd: the emulator behind vpcd is started, then killed."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest

from mynaid.events import EventKind, ReaderEvent, Snapshot, iter_events
from tests.pcsc_rig import PcscRig

pytestmark = pytest.mark.pcsc

READER = "Virtual PCD 00 00"
PORT = 35963
#: Bounds the watcher if an event never comes (a guard against hangs, not a synchronisation).
GUARD_SECONDS = "60"


def start_watch(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mynaid", "watch", "--count", "2", "--timeout", GUARD_SECONDS,
         *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_watch_json_reports_insertion_and_removal(rig: PcscRig) -> None:
    watcher = start_watch("--json")
    try:
        assert watcher.stdout is not None
        # The snapshot line says the watcher holds its baseline: from here on, no event
        # can be missed, so the card can be inserted without any sleep.
        ready = json.loads(watcher.stdout.readline())
        assert ready["event"] == "snapshot"
        states = {r["name"]: r for r in ready["readers"]}
        assert states[READER]["card_present"] is False
        card = rig.insert_card(port=PORT)
        rig.remove_card(card, abrupt=True)
        out, err = watcher.communicate(timeout=float(GUARD_SECONDS))
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
    assert watcher.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(line["event"], line["reader"]) for line in lines] == [
        ("card-inserted", READER), ("card-removed", READER)]
    assert lines[0]["atr"] == "3B E0 00 FF 81 31 FE 45 14"
    assert lines[1]["atr"] is None
    for line in lines:
        assert dt.datetime.fromisoformat(line["time"]).tzinfo is not None


def test_watch_text_lines(rig: PcscRig) -> None:
    watcher = start_watch()
    try:
        assert watcher.stdout is not None
        header = watcher.stdout.readline()
        assert "watching 2 readers" in header
        # One line per reader follows the header; read them before inserting.
        reader_lines = [watcher.stdout.readline() for _ in range(2)]
        assert any(READER in line and "no card" in line for line in reader_lines)
        card = rig.insert_card("--alternate-atr", port=PORT)
        rig.remove_card(card)
        out, err = watcher.communicate(timeout=float(GUARD_SECONDS))
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()
    assert watcher.returncode == 0, err
    inserted, removed = out.splitlines()
    assert "card-inserted" in inserted and READER in inserted
    assert "3B C5 FF 81 31 FB 45 80 73 C6 01 00 00" in inserted
    assert "My Number Card" in inserted
    assert "card-removed" in removed and READER in removed


def test_reader_monitor_in_process(rig: PcscRig) -> None:
    """The library loop a kiosk embeds: ReaderMonitor + iter_events, no CLI."""
    from mynaid.transport.pcsc import ReaderMonitor

    with ReaderMonitor() as monitor:
        events = iter_events(monitor, count=2, timeout=float(GUARD_SECONDS))
        snapshot = next(events)
        assert isinstance(snapshot, Snapshot)
        assert {s.name for s in snapshot.readers} == {READER, "Virtual PCD 00 01"}
        card = rig.insert_card(port=PORT)
        try:
            inserted = next(events)
        finally:
            rig.remove_card(card, abrupt=True)
        removed = next(events)
        assert next(events, None) is None
    assert isinstance(inserted, ReaderEvent) and isinstance(removed, ReaderEvent)
    assert (inserted.kind, inserted.reader) == (EventKind.CARD_INSERTED, READER)
    assert (removed.kind, removed.reader) == (EventKind.CARD_REMOVED, READER)
