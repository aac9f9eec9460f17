"""``diagnose`` and ``mynaid diag`` on the in-process emulated card.

Through pcscd (each emulator variant) see tests/test_diag_pcsc.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator

import pytest

from mynaid.cardspec import AUTH_PIN, Aid, JpkiFile
from mynaid.cli.diag import diag_exit_code, render_report
from mynaid.cli.exitcodes import ExitCode
from mynaid.cli.main import main
from mynaid.diag import (
    DiagReport,
    ServiceStatus,
    diagnose,
    diagnose_card,
    latency_stats,
    percentile,
)
from mynaid.emulator import EmulatedCard, EmulatorOptions, build_card
from mynaid.emulator.applications import build_jpki
from mynaid.emulator.card import ALTERNATE_ATR, DEFAULT_ATR
from mynaid.emulator.filesystem import KeyFile
from mynaid.emulator.profile import CardProfile
from mynaid.errors import CardRemovedError, WrongPinError
from mynaid.iso7816.apdu import decode_command
from mynaid.pins import pin_status
from mynaid.protocol import CardProtocol
from mynaid.sessions.jpki import JpkiSession
from mynaid.transport.emulated import EmulatorTransport

NOW = dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)
#: The default test card's auth certificate expires on this day (vectors/test-pki).
AUTH_NOT_AFTER = dt.datetime(2030, 6, 1, tzinfo=dt.timezone.utc)


def counters(card: EmulatedCard) -> dict[tuple[bytes, int], int]:
    """Every retry counter of the card, read from the emulator's own state."""
    return {(app.aid, ef.fid): ef.tries_left for app in card.applications.values()
            for ef in app.files.values() if isinstance(ef, KeyFile)}


def ticking_clock(step_ns: int = 1_000_000) -> Iterator[int]:
    value = 0
    while True:
        yield value
        value += step_ns


class RecordingTransport(EmulatorTransport):
    """Keeps every command APDU sent, to prove what diag never sends."""

    def __init__(self, card: EmulatedCard, fail_after: int | None = None) -> None:
        super().__init__(card)
        self.sent: list[bytes] = []
        self.fail_after = fail_after

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise CardRemovedError("the card was removed (test)")
        self.sent.append(bytes(apdu))
        return super().transmit(apdu)


def test_default_card_report(card: EmulatedCard) -> None:
    report = diagnose(card=card, rounds=10, now=NOW)
    assert report.ok and report.errors == () and report.warnings == ()
    assert report.service.kind == "emulator" and report.service.available
    found = report.card
    assert found is not None
    assert found.atr == DEFAULT_ATR and found.atr_info is not None
    assert found.atr_info.known_name is not None
    assert found.protocol == "T=1"
    apps = {a.name: a.present for a in found.applications}
    # The 住基AP and the 共通AP answer SELECT too (card-reference §9).
    assert apps["JPKI"] is True and apps["JUKI"] is True and apps["COMMON"] is True
    assert found.token is not None and found.token.label == "JPKIAPICCTOKEN2"
    certs = {c.slot: c for c in found.certificates}
    assert certs["auth"].status == "valid"
    assert certs["auth"].not_after == AUTH_NOT_AFTER
    assert certs["auth"].days_to_expiry == (AUTH_NOT_AFTER - NOW).days
    assert certs["auth-ca"].status == certs["sign-ca"].status == "valid"
    assert certs["sign"].status == "not-read" and certs["sign"].subject is None
    pins = {p.name: p for p in found.pins}
    assert pins["auth-pin"].tries_left == 3 and pins["sign-password"].tries_left == 5
    assert found.extended_length is not None and found.extended_length.supported is True
    assert found.latency is not None and found.latency.rounds == 10
    assert found.apdus > 10


def test_diag_leaves_every_pin_counter_unchanged(card: EmulatedCard,
                                                 protocol: CardProtocol) -> None:
    # Lower one counter first, so that "unchanged" is not just "all full".
    with pytest.raises(WrongPinError):
        JpkiSession(protocol).verify(AUTH_PIN, "0000")
    before_card = counters(card)
    before_query = pin_status(protocol)
    report = diagnose(card=card, rounds=5, now=NOW)
    assert counters(card) == before_card
    assert pin_status(protocol) == before_query
    pins = {p.name: p for p in report.card.pins} if report.card else {}
    assert pins["auth-pin"].tries_left == 2
    assert any("auth-pin: 2 of 3 tries left" in w for w in report.warnings)


def test_diag_never_sends_a_secret_nor_reads_the_signature_certificate(
        card: EmulatedCard) -> None:
    transport = RecordingTransport(card)
    diagnose_card(transport, rounds=3, now=NOW)
    commands = [decode_command(raw) for raw in transport.sent]
    assert commands
    for command in commands:
        assert command.ins not in (0x24, 0x2C, 0x2A), "no change, reset or signature"
        if command.ins == 0x20:
            assert command.data == b"", "VERIFY only as the empty counter query"
        if command.ins == 0xA4 and command.p1 == 0x02:
            assert command.data != int(JpkiFile.SIGN_CERT).to_bytes(2, "big")


def test_expiry_warnings(card: EmulatedCard) -> None:
    soon = AUTH_NOT_AFTER - dt.timedelta(days=30)
    report = diagnose(card=card, rounds=0, now=soon)
    certs = {c.slot: c for c in report.card.certificates} if report.card else {}
    assert certs["auth"].status == "expiring" and certs["auth"].days_to_expiry == 30
    assert report.ok  # a warning, not an error
    assert any("auth certificate expires in 30 days" in w for w in report.warnings)
    late = diagnose(card=card, rounds=0, now=AUTH_NOT_AFTER + dt.timedelta(days=1))
    assert late.card is not None
    assert {c.slot: c.status for c in late.card.certificates}["auth"] == "expired"
    assert any("auth certificate has expired" in w for w in late.warnings)
    early = diagnose(card=card, rounds=0, now=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    assert early.card is not None
    assert {c.slot: c.status for c in early.card.certificates}["auth"] == "not-yet-valid"


def test_blocked_pin_is_a_warning(card: EmulatedCard) -> None:
    card.key_file(Aid.JPKI.value, JpkiFile.SIGN_PIN).tries_left = 0
    report = diagnose(card=card, rounds=0, now=NOW)
    assert report.ok
    assert any("sign-password is BLOCKED" in w for w in report.warnings)


def test_variants_in_process(profile: CardProfile) -> None:
    refusing = build_card(profile, EmulatorOptions(extended_length=False, cert_filler=300,
                                                   use_get_response=True, strict_le=True,
                                                   atr=ALTERNATE_ATR))
    report = diagnose(card=refusing, rounds=3, now=NOW)
    assert report.ok, report.errors
    assert report.card is not None and report.card.extended_length is not None
    assert report.card.extended_length.supported is False
    assert report.card.atr_info is not None and report.card.atr_info.historical
    assert {c.slot: c.status for c in report.card.certificates}["auth"] == "valid"


def test_card_without_my_number_applications(profile: CardProfile) -> None:
    blank = EmulatedCard([])
    report = diagnose(card=blank, rounds=2, now=NOW)
    assert report.ok  # nothing failed: the card simply is not a My Number Card
    assert report.card is not None
    assert not any(a.present for a in report.card.applications)
    assert report.card.token is None and report.card.certificates == ()
    assert all(not p.present for p in report.card.pins)
    assert report.card.extended_length is not None
    assert report.card.extended_length.supported is None
    assert any("no JPKI application" in w for w in report.warnings)
    jpki_only = EmulatedCard([build_jpki(profile.jpki, EmulatorOptions())])
    only = diagnose(card=jpki_only, rounds=0, now=NOW)
    assert only.ok and only.card is not None
    assert {p.name: p.present for p in only.card.pins}["text-pin"] is False


def test_card_removed_midway_is_collected_not_raised(card: EmulatedCard) -> None:
    transport = RecordingTransport(card, fail_after=8)
    found, errors, _warnings = diagnose_card(transport, rounds=5, now=NOW)
    assert errors and errors[0].error == "CardRemovedError"
    assert len(errors) == 1  # later stages are skipped once the card is gone
    assert found.latency is None
    report = DiagReport(NOW, ServiceStatus("emulator", True, "test"), (), "x", found,
                        tuple(errors))
    assert not report.ok and diag_exit_code(report) is ExitCode.NO_CARD


def test_latency_uses_the_clock_and_nearest_rank_percentiles(card: EmulatedCard) -> None:
    ticks = ticking_clock()
    report = diagnose(card=card, rounds=7, now=NOW, clock=lambda: next(ticks))
    assert report.card is not None and report.card.latency is not None
    assert dataclasses.astuple(report.card.latency) == (7, 1.0, 1.0, 1.0, 1.0, 1.0)
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 90) == 4.0
    assert percentile([5.0], 99) == 5.0
    stats = latency_stats([float(x) for x in range(100, 0, -1)])
    assert (stats.p50_ms, stats.p90_ms, stats.p99_ms, stats.max_ms, stats.min_ms) == (
        50.0, 90.0, 99.0, 100.0, 1.0)
    with pytest.raises(ValueError):
        percentile([], 50)


def test_report_json_and_text(card: EmulatedCard) -> None:
    report = diagnose(card=card, rounds=3, now=NOW)
    data = json.loads(json.dumps(report.to_dict(), ensure_ascii=False))
    assert data["ok"] is True
    assert data["card"]["atr_decoded"]["protocols"] == ["T=1"]
    assert data["card"]["token"]["label"] == "JPKIAPICCTOKEN2"
    assert data["card"]["extended_length"]["supported"] is True
    assert set(data["card"]["latency"]) >= {"p50_ms", "p90_ms", "p99_ms", "max_ms"}
    text = render_report(report)
    for expected in ("ATR              3B E0 00 FF 81 31 FE 45 14", "TCK  14  checksum correct",
                     "Protocol in use  T=1", "Token            JPKIAPICCTOKEN2",
                     "auth-pin       3/3", "Extended length  supported",
                     "3 SELECTs: p50", "Errors           none"):
        assert expected in text


def test_cli_diag_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--emulator", "diag", "--json", "--rounds", "4"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True and data["card"]["latency"]["rounds"] == 4
    assert main(["--emulator", "diag", "--rounds", "0"]) == 0
    out = capsys.readouterr().out
    assert "My Number Card" in out and "Latency" not in out


def test_cli_watch_refuses_the_in_process_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--emulator", "watch", "--count", "1"]) == ExitCode.USAGE
    assert "PC/SC" in capsys.readouterr().err
