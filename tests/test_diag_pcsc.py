"""``mynaid diag`` through the real pcscd, on each emulator variant behind vpcd."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from mynaid.cardspec import CertificateSlot
from mynaid.connect import connect
from mynaid.diag import diagnose
from mynaid.emulator.card import ALTERNATE_ATR, DEFAULT_ATR
from mynaid.models import PinState
from mynaid.pins import pin_status
from tests.pcsc_rig import CardProcess, PcscRig

pytestmark = pytest.mark.pcsc

READER = "Virtual PCD 00 00"
PORT = 35963
EMPTY_READER = "Virtual PCD 00 01"

VARIANTS = {
    "default": (),
    "alternate-atr": ("--alternate-atr",),
    "cert-filler": ("--cert-filler", "300"),
    "get-response": ("--get-response",),
}


@pytest.fixture(params=list(VARIANTS))
def variant(request: pytest.FixtureRequest, rig: PcscRig) -> Iterator[tuple[str, CardProcess]]:
    card = rig.insert_card(*VARIANTS[request.param], port=PORT)
    try:
        yield request.param, card
    finally:
        rig.remove_card(card)


def counters() -> list[PinState]:
    with connect(READER) as protocol:
        return pin_status(protocol)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mynaid", *args], capture_output=True,
                          text=True, timeout=60)


def test_diag_on_each_variant(variant: tuple[str, CardProcess]) -> None:
    name, _card = variant
    before = counters()
    report = diagnose(READER, rounds=20)
    after = counters()
    assert after == before, "diag changed a PIN counter"
    assert report.ok, report.errors
    assert report.service.kind == "pcsc" and report.service.available
    assert {r.name for r in report.readers} == {READER, EMPTY_READER}
    assert report.reader == READER
    found = report.card
    assert found is not None
    expected_atr = ALTERNATE_ATR if name == "alternate-atr" else DEFAULT_ATR
    assert found.atr == expected_atr
    assert found.atr_info is not None and found.atr_info.known_name is not None
    assert found.atr_info.tck_ok is True and found.atr_info.protocols == (1,)
    assert found.protocol == "T=1"
    assert {a.name for a in found.applications if a.present} >= {"JPKI"}
    assert found.token is not None and found.token.label == "JPKIAPICCTOKEN2"
    statuses = {c.slot: c.status for c in found.certificates}
    assert statuses[CertificateSlot.SIGN.value] == "not-read"
    for slot in ("auth", "auth-ca", "sign-ca"):
        assert statuses[slot] in ("valid", "expiring")
    pins = {p.name: p.tries_left for p in found.pins}
    assert pins["auth-pin"] == 3 and pins["sign-password"] == 5
    # Debian's vpcd passes extended APDUs through, and every variant here accepts them.
    assert found.extended_length is not None and found.extended_length.supported is True
    assert found.latency is not None and found.latency.rounds == 20
    assert found.latency.min_ms <= found.latency.p50_ms <= found.latency.p99_ms \
        <= found.latency.max_ms


def test_diag_refused_extended_length(rig: PcscRig) -> None:
    card = rig.insert_card("--no-extended", port=PORT)
    try:
        report = diagnose(READER, rounds=0)
    finally:
        rig.remove_card(card)
    assert report.ok, report.errors
    assert report.card is not None and report.card.extended_length is not None
    assert report.card.extended_length.supported is False
    assert {c.slot: c.status for c in report.card.certificates}["auth"] in ("valid",
                                                                            "expiring")


def test_cli_diag_through_pcscd(rig: PcscRig) -> None:
    card = rig.insert_card(port=PORT)
    try:
        as_json = run_cli("--reader", "00 00", "diag", "--json", "--rounds", "10")
        as_text = run_cli("--reader", "00 00", "diag", "--rounds", "10")
        empty = run_cli("--reader", "00 01", "--json", "diag")
    finally:
        rig.remove_card(card)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["ok"] is True and data["reader"] == READER
    assert data["card"]["atr"] == "3B E0 00 FF 81 31 FE 45 14"
    assert data["card"]["protocol"] == "T=1"
    assert as_text.returncode == 0, as_text.stderr
    assert "My Number Card" in as_text.stdout and "Errors           none" in as_text.stdout
    # The reader without a card: a report, not a crash, and exit 5 (no card).
    assert empty.returncode == 5
    report = json.loads(empty.stdout)
    assert report["card"] is None
    assert [e["error"] for e in report["errors"]] == ["NoCardError"]
