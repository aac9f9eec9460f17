"""The eligibility-check prototype (examples/eligibility) on the relying-party service.

The prototype is a thin kiosk client and a seed over mynaid.service (issue 14): the
service itself is tested in tests/test_rp_*.py; these tests cover the kiosk's three
routes end to end, what the security finding was about (a composite card must not get the
victim's insurance record on the face/visual route), and the answers a reception sees.
Every service listens on 127.0.0.1, port 0, in a thread stopped at teardown.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from examples.eligibility import run_demo
from examples.eligibility.client import (
    CheckResult,
    DeviceIdentity,
    ServiceClient,
    TerminalUI,
    exit_code,
    print_result,
    run_check,
)
from examples.eligibility.seed import DEMO_HOLDER, demo_records, seed_database
from examples.eligibility.server import RunningServer, settings
from examples.eligibility.wire import DEFAULT_CONTEXT
from mynaid.emulator import build_card, default_profile
from mynaid.emulator.composite import CompositeCard
from mynaid.emulator.profile import CardProfile
from mynaid.emulator.testpki import TestHolder, TestPki, generate_profile
from mynaid.integrity import IssuerKey, load_issuer_key
from mynaid.kiosk import Method
from mynaid.protocol import CardProtocol
from mynaid.rp.client import ClientError
from mynaid.rp.eligibility import InsuranceRecord, add_records
from mynaid.rp.store import SqliteStore
from mynaid.transport.emulated import EmulatorTransport
from tests.rp_helpers import DEMO_COLLATION_B, PKI

KIOSK = "kiosk-test-1"
DEVICE = DeviceIdentity(KIOSK, Ed25519PrivateKey.generate())
KEYS = [load_issuer_key(PKI / "text-issuer.pem"), load_issuer_key(PKI / "visual-issuer.pem")]


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'records.sqlite3'}"


@pytest.fixture
def server(store_url: str) -> Iterator[RunningServer]:
    seed_database(store_url)
    with RunningServer(settings(store_url, devices={KIOSK: DEVICE.key.public_key()})) as s:
        yield s


def _check(server: RunningServer, card: Any, method: Method, answers: str, *,
           keys: list[IssuerKey] = KEYS) -> CheckResult:
    ui = TerminalUI(method, stdin=io.StringIO(answers), out=io.StringIO())
    protocol = CardProtocol(EmulatorTransport(card))
    return run_check(ServiceClient(server.url), protocol, ui, device=DEVICE, issuer_keys=keys)


def test_pin_route_gets_the_record(server: RunningServer) -> None:
    result = _check(server, build_card(default_profile()), Method.PIN, "1234\ny\n")
    assert (result.status, exit_code(result)) == (200, 0)
    assert result.answer is not None and result.answer["eligible"] is True
    assert result.answer["record"]["holder_name"] == DEMO_HOLDER
    assert result.answer["record"]["insurer_number"] == "06139990"
    out = io.StringIO()
    print_result(result, out)
    assert "ELIGIBLE" in out.getvalue() and "3割" in out.getvalue()


def test_visual_route_binds_the_card_face(server: RunningServer) -> None:
    result = _check(server, build_card(default_profile()), Method.VISUAL,
                    f"y\ny\n{DEMO_COLLATION_B}\n")
    assert (result.status, exit_code(result)) == (200, 0)
    assert result.answer is not None and result.answer["method"] == "visual"


@pytest.fixture(scope="module")
def attacker() -> tuple[CardProfile, TestPki]:
    holder = TestHolder(name="攻撃\u3000太郎", sex="1", birth="319900505",
                        address="大阪府大阪市試験区４－５－６")
    return generate_profile(None, holder=holder)


def test_composite_card_does_not_get_the_victims_record(
        server: RunningServer, attacker: tuple[CardProfile, TestPki]) -> None:
    """The security finding: the victim's JPKI application with the attacker's card-face
    applications. Staff (or the face matcher) see the attacker, who matches the attacker's
    own card face; the service refuses because that card face is not the victim's."""
    pki = attacker[1]
    assert pki.text_issuer_key is not None and pki.visual_issuer_key is not None
    assert attacker[0].text is not None
    keys = [*KEYS, IssuerKey("t", pki.text_issuer_key.public_key()),
            IssuerKey("v", pki.visual_issuer_key.public_key())]
    composite = CompositeCard(build_card(default_profile()), build_card(attacker[0]))
    result = _check(server, composite, Method.VISUAL, f"y\ny\n{attacker[0].text.pin_b}\n",
                    keys=keys)
    assert result.answer is not None and "record" not in result.answer
    assert (result.status, result.answer["reason"], exit_code(result)) == (
        403, "card-face-mismatch", 2)


def test_unregistered_card_is_not_registered(store_url: str) -> None:
    with RunningServer(settings(store_url)) as s:  # nobody registered
        result = _check(s, build_card(default_profile()), Method.PIN, "1234\ny\n")
    assert result.answer is not None
    assert (result.status, result.answer["reason"], exit_code(result)) == (
        404, "not-registered", 1)


def test_registered_person_without_records_is_not_found(store_url: str) -> None:
    seed_database(store_url)
    store = SqliteStore(store_url[len("sqlite:///"):])
    with store.transaction() as tx:
        tx.run("DELETE FROM insurance_records")
    with RunningServer(settings(store_url, devices={KIOSK: DEVICE.key.public_key()})) as s:
        result = _check(s, build_card(default_profile()), Method.PIN, "1234\ny\n")
    assert result.answer is not None
    assert (result.status, result.answer["reason"], exit_code(result)) == (404, "not-found", 1)


def test_lapsed_record_is_found_but_not_eligible(store_url: str) -> None:
    person = seed_database(store_url)
    store = SqliteStore(store_url[len("sqlite:///"):])
    with store.transaction() as tx:
        tx.run("DELETE FROM insurance_records")
    lapsed = demo_records(person)[1]
    add_records(store, [lapsed])
    with RunningServer(settings(store_url)) as s:
        result = _check(s, build_card(default_profile()), Method.PIN, "1234\ny\n")
    assert result.answer is not None and result.status == 200
    assert (result.answer["eligible"], result.answer["status"], exit_code(result)) == (
        False, "lapsed", 1)
    assert isinstance(lapsed, InsuranceRecord) and lapsed.valid_to == dt.date(2024, 3, 31)


def test_kiosk_refuses_a_nonce_for_another_context(server: RunningServer) -> None:
    client = ServiceClient(server.url, context="another-service")
    with pytest.raises(ClientError, match="context"):
        client.nonce("login")
    assert ServiceClient(server.url).context == DEFAULT_CONTEXT


@pytest.mark.parametrize("method", ["pin", "visual"])
def test_demo_runs(method: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_demo.main(["--method", method]) == 0
    out = capsys.readouterr().out
    assert "ELIGIBLE (in-force" in out and f"identified by {method}" in out
