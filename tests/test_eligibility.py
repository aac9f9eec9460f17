"""The eligibility-check prototype (examples/eligibility): server, kiosk client, demo.

Every server here listens on 127.0.0.1, port 0, in a thread stopped at teardown; the card
is the in-process emulator. Time-dependent cases use a fake clock, never sleeps.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import http.client
import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from examples.eligibility import client as kiosk_client
from examples.eligibility import run_demo
from examples.eligibility.client import (
    CheckResult,
    ClientError,
    DeviceIdentity,
    ServiceClient,
    TerminalUI,
    exit_code,
    print_result,
    run_check,
)
from examples.eligibility.records import InsuranceRecord, RecordStore, certificate_key
from examples.eligibility.seed import DEMO_HOLDER, seed_database
from examples.eligibility.server import (
    EligibilityService,
    RunningServer,
    ServiceConfig,
    default_trust,
)
from examples.eligibility.wire import (
    DEFAULT_CONTEXT,
    DeviceClaim,
    public_key_to_text,
)
from mynaid.challenge import ChallengeResponse, respond, signed_message
from mynaid.emulator import EmulatedCard, build_card
from mynaid.emulator.profile import CardProfile
from mynaid.emulator.testpki import TestPki, generate_profile
from mynaid.kiosk import Method
from mynaid.protocol import CardProtocol
from mynaid.transport.emulated import EmulatorTransport
from mynaid.trust.anchors import TrustStore
from mynaid.trust.path import TEST_AUTH_POLICY
from mynaid.trust.revocation import CrlSource, OcspChecker, RevocationChecker
from tests.trust_pki import (
    AUTH_KU,
    NOW,
    OcspResponder,
    Spec,
    crl_der,
    fresh_key,
    issue,
    make_crl,
    name,
    root,
    serve_ocsp,
)

KIOSK = "kiosk-test-1"
DEVICE_KEY = Ed25519PrivateKey.generate()
PIN = "1234"  # the test card's published PIN


class FakeClock:
    """Real time at construction, then only moved by the test."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Harness:
    service: EligibilityService
    server: RunningServer
    api: ServiceClient
    clock: FakeClock

    def nonce(self) -> bytes:
        status, answer = self.api.post("/nonce", {})
        assert status == 200 and answer["context"] == DEFAULT_CONTEXT
        return bytes.fromhex(answer["nonce"])

    def verify(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return self.api.post("/verify", body)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "records.sqlite3"
    seed_database(path)
    return path


@pytest.fixture
def start(database: Path) -> Iterator[Callable[..., Harness]]:
    """Start a server (config fields as keyword arguments); all are stopped at teardown."""
    servers: list[RunningServer] = []

    def _start(**changes: Any) -> Harness:
        config = ServiceConfig(database=database, devices={KIOSK: DEVICE_KEY.public_key()})
        config = dataclasses.replace(config, **changes)
        clock = FakeClock()
        service = EligibilityService(config, clock=clock)
        server = RunningServer(service).start()
        servers.append(server)
        return Harness(service, server, ServiceClient(server.url), clock)

    yield _start
    for server in servers:
        server.stop()


@pytest.fixture
def harness(start: Callable[..., Harness]) -> Harness:
    return start()


@pytest.fixture(scope="module")
def other_card() -> tuple[CardProfile, TestPki]:
    """A fresh random card on a fresh random root (same root DN as the test root)."""
    return generate_profile(None)


def _protocol(card: EmulatedCard) -> CardProtocol:
    return CardProtocol(EmulatorTransport(card))


def pin_body(protocol: CardProtocol, nonce: bytes) -> dict[str, Any]:
    response = respond(protocol, nonce, PIN, context=DEFAULT_CONTEXT)
    return {"route": "pin", "response": response.as_dict()}


def auth_cert(label: str, **changes: Any) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A JPKI-profile auth certificate from the committed test root (the default card's)."""
    key = fresh_key(label)
    spec = Spec(subject=name(label), key_usage=AUTH_KU, eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
                policies=(TEST_AUTH_POLICY,), holder=False)
    return key, issue(root("auth"), key, dataclasses.replace(spec, **changes))


def signed_body(key: rsa.RSAPrivateKey, cert: x509.Certificate, nonce: bytes
                ) -> dict[str, Any]:
    """What a card holding ``key`` would answer (signed here, with no card)."""
    signature = key.sign(signed_message(DEFAULT_CONTEXT, nonce), padding.PKCS1v15(),
                         hashes.SHA256())
    response = ChallengeResponse(nonce, DEFAULT_CONTEXT, signature, cert)
    return {"route": "pin", "response": response.as_dict()}


def device_body(cert: x509.Certificate, nonce: bytes, *, method: str = "face",
                kiosk_id: str = KIOSK, key: Ed25519PrivateKey = DEVICE_KEY,
                ca_certificates: tuple[x509.Certificate, ...] = ()) -> dict[str, Any]:
    claim = DeviceClaim(kiosk_id, method, nonce, DEFAULT_CONTEXT, cert, ca_certificates)
    return {"route": "device", "claim": claim.as_dict(),
            "device_signature": base64.b64encode(claim.sign(key)).decode()}


def card_cert(profile: CardProfile) -> x509.Certificate:
    return x509.load_der_x509_certificate(profile.jpki.auth_cert)


def scripted(method: Method, answers: str) -> TerminalUI:
    return TerminalUI(method, stdin=io.StringIO(answers), out=io.StringIO())


# --- the valid card ---------------------------------------------------------------------------


def test_pin_route_valid_card_gets_its_record(harness: Harness, protocol: CardProtocol,
                                              profile: CardProfile) -> None:
    result = run_check(harness.api, protocol, scripted(Method.PIN, f"{PIN}\ny\n"))
    assert result.outcome.verified and result.outcome.method is Method.PIN
    assert result.status == 200
    answer = result.answer
    assert answer is not None and answer["ok"] is True and answer["eligible"] is True
    assert answer["route"] == "pin" and answer["status"] == "in-force"
    record = answer["record"]
    assert record["insurer_number"] == "06139990"  # the in-force one, not the lapsed one
    assert record["holder_name"] == DEMO_HOLDER and record["copayment_ratio"] == 30
    issuer, serial = certificate_key(card_cert(profile))
    assert answer["certificate"]["issuer"] == issuer
    assert answer["certificate"]["serial"] == serial
    assert answer["certificate"]["policy_kind"] == "test"
    assert exit_code(result) == 0
    out = io.StringIO()
    print_result(result, out)
    assert "06139990" in out.getvalue() and "3割" in out.getvalue()
    assert "123456789018" not in out.getvalue()  # the test card's My Number: never read


def test_bare_challenge_response_is_the_pin_route(harness: Harness,
                                                  protocol: CardProtocol) -> None:
    """What `mynaid auth --json` prints can be posted as it is."""
    body = pin_body(protocol, harness.nonce())["response"]
    status, answer = harness.verify(body)
    assert status == 200 and answer["route"] == "pin"


def test_visual_route_with_registered_device_key(harness: Harness,
                                                 protocol: CardProtocol) -> None:
    device = DeviceIdentity(KIOSK, DEVICE_KEY)
    result = run_check(harness.api, protocol, scripted(Method.VISUAL, "y\ny\n"),
                       device=device)
    assert result.outcome.method is Method.VISUAL and result.outcome.pin_attempts == 0
    assert result.status == 200 and result.answer is not None
    assert result.answer["route"] == "device" and result.answer["method"] == "visual"
    assert result.answer["kiosk_id"] == KIOSK and result.answer["eligible"] is True


def test_face_route_claim_with_registered_device_key(harness: Harness,
                                                     profile: CardProfile) -> None:
    status, answer = harness.verify(device_body(card_cert(profile), harness.nonce()))
    assert status == 200 and answer["method"] == "face"
    assert answer["record"]["insurer_number"] == "06139990"


# --- device key ------------------------------------------------------------------------------


def test_wrong_device_key_is_rejected(harness: Harness, profile: CardProfile) -> None:
    body = device_body(card_cert(profile), harness.nonce(),
                       key=Ed25519PrivateKey.generate())
    status, answer = harness.verify(body)
    assert (status, answer["reason"]) == (403, "bad-device-signature")


def test_unregistered_kiosk_is_rejected(harness: Harness, profile: CardProfile) -> None:
    rogue = Ed25519PrivateKey.generate()
    body = device_body(card_cert(profile), harness.nonce(), kiosk_id="rogue", key=rogue)
    status, answer = harness.verify(body)
    assert (status, answer["reason"]) == (403, "bad-device-signature")
    assert "not registered" in answer["message"]


def test_tampered_claim_is_rejected(harness: Harness, profile: CardProfile) -> None:
    body = device_body(card_cert(profile), harness.nonce(), method="visual")
    body["claim"]["method"] = "face"  # changed after signing
    status, answer = harness.verify(body)
    assert (status, answer["reason"]) == (403, "bad-device-signature")


def test_bad_device_signature_does_not_spend_the_nonce(harness: Harness,
                                                       profile: CardProfile) -> None:
    nonce = harness.nonce()
    bad = device_body(card_cert(profile), nonce, key=Ed25519PrivateKey.generate())
    assert harness.verify(bad)[1]["reason"] == "bad-device-signature"
    assert harness.verify(device_body(card_cert(profile), nonce))[0] == 200


def test_device_route_validates_the_certificate(harness: Harness) -> None:
    _, cert = auth_cert("device expired", not_before=NOW - dt.timedelta(days=800),
                          not_after=NOW - dt.timedelta(days=1))
    status, answer = harness.verify(device_body(cert, harness.nonce()))
    assert (status, answer["reason"]) == (403, "expired")


# --- unknown certificates ---------------------------------------------------------------------


def test_unknown_certificate_is_not_found(start: Callable[..., Harness],
                                          other_card: tuple[CardProfile, TestPki]) -> None:
    profile, pki = other_card
    trust = default_trust()
    trust.add_certificate(pki.auth_root_cert)  # so that its path validates
    h = start(trust=trust)
    status, answer = h.verify(pin_body(_protocol(build_card(profile)), h.nonce()))
    assert (status, answer["reason"]) == (404, "not-found")
    assert answer["authenticated"] is True
    assert answer["certificate"]["serial"] == certificate_key(card_cert(profile))[1]


def test_certificate_from_an_untrusted_root_is_rejected(
        harness: Harness, other_card: tuple[CardProfile, TestPki]) -> None:
    profile, _ = other_card
    status, answer = harness.verify(pin_body(_protocol(build_card(profile)), harness.nonce()))
    assert status == 403
    # The card's own CA certificate names the test root's DN but is not the trusted one.
    assert answer["reason"] == "untrusted-anchor" == answer["library_reason"]


def test_lapsed_record_is_found_but_not_eligible(
        start: Callable[..., Harness], database: Path,
        other_card: tuple[CardProfile, TestPki]) -> None:
    profile, pki = other_card
    issuer, serial = certificate_key(card_cert(profile))
    RecordStore(database).add([InsuranceRecord(
        issuer, serial, "06139991", "lapsed TEST", "T", "1", "00", "試験\u3000三郎", 30,
        dt.date(2010, 4, 1), dt.date(2015, 3, 31))])
    trust = default_trust()
    trust.add_certificate(pki.auth_root_cert)
    h = start(trust=trust)
    result = run_check(h.api, _protocol(build_card(profile)), scripted(Method.PIN, f"{PIN}\ny\n"))
    assert result.status == 200 and result.answer is not None
    assert result.answer["eligible"] is False and result.answer["status"] == "lapsed"
    assert exit_code(result) == 1


# --- nonces ----------------------------------------------------------------------------------


def test_replayed_nonce_is_rejected(harness: Harness, protocol: CardProtocol) -> None:
    body = pin_body(protocol, harness.nonce())
    assert harness.verify(body)[0] == 200
    status, answer = harness.verify(body)
    assert (status, answer["reason"]) == (403, "nonce-replayed")


def test_replayed_device_claim_is_rejected(harness: Harness, profile: CardProfile) -> None:
    body = device_body(card_cert(profile), harness.nonce())
    assert harness.verify(body)[0] == 200
    status, answer = harness.verify(body)
    assert (status, answer["reason"]) == (403, "nonce-replayed")


def test_nonce_spent_on_one_route_is_refused_on_the_other(
        harness: Harness, protocol: CardProtocol, profile: CardProfile) -> None:
    nonce = harness.nonce()
    assert harness.verify(device_body(card_cert(profile), nonce))[0] == 200
    status, answer = harness.verify(pin_body(protocol, nonce))
    assert (status, answer["reason"]) == (403, "nonce-replayed")


def test_unknown_nonce_is_rejected(harness: Harness, protocol: CardProtocol) -> None:
    status, answer = harness.verify(pin_body(protocol, b"\x42" * 32))
    assert (status, answer["reason"]) == (403, "nonce-unknown")


def test_expired_nonce_is_rejected(harness: Harness, protocol: CardProtocol) -> None:
    body = pin_body(protocol, harness.nonce())
    harness.clock.now += dt.timedelta(minutes=2, seconds=1)
    status, answer = harness.verify(body)
    assert (status, answer["reason"]) == (403, "nonce-expired")


# --- certificate and signature failures -------------------------------------------------------


def test_expired_certificate_is_rejected(harness: Harness) -> None:
    key, cert = auth_cert("expired auth", not_before=NOW - dt.timedelta(days=800),
                          not_after=NOW - dt.timedelta(days=1))
    status, answer = harness.verify(signed_body(key, cert, harness.nonce()))
    assert (status, answer["reason"]) == (403, "expired")


def test_card_certificate_expired_by_the_clock(harness: Harness,
                                               protocol: CardProtocol) -> None:
    """The same check on the emulator's card, with the service's clock past its expiry
    (the nonce is issued at that time too, so only the certificate is out of date)."""
    harness.clock.now = dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc)
    status, answer = harness.verify(pin_body(protocol, harness.nonce()))
    assert (status, answer["reason"]) == (403, "expired")


def test_revoked_certificate_is_rejected_crl(start: Callable[..., Harness], tmp_path: Path,
                                             protocol: CardProtocol) -> None:
    key, cert = auth_cert("revoked auth")
    crl_file = tmp_path / "auth.crl"
    crl_file.write_bytes(crl_der(make_crl(root("auth"), [cert.serial_number])))
    crls = CrlSource()
    crls.add_path(crl_file)
    h = start(revocation=RevocationChecker(crls=crls))
    status, answer = h.verify(signed_body(key, cert, h.nonce()))
    assert (status, answer["reason"]) == (403, "revoked")
    # The card itself is not on the CRL: it passes, with the check reported.
    status, answer = h.verify(pin_body(protocol, h.nonce()))
    assert status == 200
    assert [r["status"] for r in answer["certificate"]["revocation"]] == ["good"]


def test_revoked_certificate_is_rejected_ocsp(start: Callable[..., Harness]) -> None:
    key, cert = auth_cert("revoked auth ocsp")
    responder = OcspResponder(root("auth"), [cert])
    responder.answer.status = ocsp.OCSPCertStatus.REVOKED
    with serve_ocsp(responder.respond) as url:
        h = start(revocation=RevocationChecker(ocsp=OcspChecker(url=url)))
        status, answer = h.verify(signed_body(key, cert, h.nonce()))
        h.server.stop()  # before the responder goes away
    assert (status, answer["reason"]) == (403, "revoked")
    assert responder.requests == 1


def test_revoked_certificate_is_rejected_on_the_device_route(
        start: Callable[..., Harness], tmp_path: Path) -> None:
    _, cert = auth_cert("revoked auth device")
    crls = CrlSource()
    crls.add_crl(make_crl(root("auth"), [cert.serial_number]))
    h = start(revocation=RevocationChecker(crls=crls))
    status, answer = h.verify(device_body(cert, h.nonce()))
    assert (status, answer["reason"]) == (403, "revoked")


def test_no_revocation_information_is_a_service_error(start: Callable[..., Harness],
                                                      tmp_path: Path,
                                                      protocol: CardProtocol) -> None:
    empty = tmp_path / "no-crls"
    empty.mkdir()
    crls = CrlSource()
    crls.add_path(empty)
    h = start(revocation=RevocationChecker(crls=crls))
    status, answer = h.verify(pin_body(protocol, h.nonce()))
    assert (status, answer["reason"]) == (503, "revocation-unavailable")


def test_wrong_signature_is_rejected(harness: Harness, protocol: CardProtocol) -> None:
    body = pin_body(protocol, harness.nonce())
    signature = bytearray(base64.b64decode(body["response"]["signature"]))
    signature[17] ^= 0x01
    body["response"]["signature"] = base64.b64encode(bytes(signature)).decode()
    status, answer = harness.verify(body)
    assert (status, answer["reason"]) == (403, "bad-signature")


def test_signature_for_another_context_is_rejected(harness: Harness,
                                                   protocol: CardProtocol) -> None:
    response = respond(protocol, harness.nonce(), PIN, context="another-service")
    status, answer = harness.verify({"route": "pin", "response": response.as_dict()})
    assert (status, answer["reason"]) == (403, "challenge-context-mismatch")


# --- the client --------------------------------------------------------------------------------


class NoPinUI(TerminalUI):
    def pin(self, tries_left: int) -> str:
        raise AssertionError("the PIN must not be asked")


def test_client_refuses_a_foreign_context(start: Callable[..., Harness],
                                          protocol: CardProtocol) -> None:
    h = start(context="someone-else")
    ui = NoPinUI(Method.PIN, stdin=io.StringIO(f"{PIN}\n"), out=io.StringIO())
    with pytest.raises(ClientError, match="context"):
        run_check(h.api, protocol, ui)


def test_face_and_visual_need_a_device_key(harness: Harness, protocol: CardProtocol) -> None:
    """Without a device identity the kiosk offers the PIN route only."""
    ui = scripted(Method.VISUAL, f"pin\n{PIN}\ny\n")  # visual not offered: asked again
    result = run_check(harness.api, protocol, ui)
    assert result.outcome.method is Method.PIN and result.status == 200


def test_wrong_pin_then_right_pin(harness: Harness, protocol: CardProtocol) -> None:
    result = run_check(harness.api, protocol, scripted(Method.PIN, f"9999\n{PIN}\ny\n"))
    assert result.outcome.pin_attempts == 2 and result.status == 200


def test_cancelled_flow_asks_nothing_of_the_server(harness: Harness,
                                                   protocol: CardProtocol) -> None:
    result = run_check(harness.api, protocol, scripted(Method.PIN, ""))  # end of input
    assert not result.outcome.verified and result.answer is None
    assert exit_code(result) == 3
    out = io.StringIO()
    print_result(result, out)
    assert "not completed" in out.getvalue()


def test_client_command_line(harness: Harness, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PIN}\ny\n"))
    code = kiosk_client.main(["--server", harness.server.url, "--emulator", "--method", "pin"])
    out = capsys.readouterr()
    assert code == 0 and "ELIGIBLE" in out.out and "3割" in out.out
    assert PIN not in out.out and PIN not in out.err


def test_client_command_line_visual_with_key_file(harness: Harness, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from examples.eligibility.wire import save_device_key

    key_file = tmp_path / "kiosk.pem"
    save_device_key(DEVICE_KEY, key_file)
    assert key_file.stat().st_mode & 0o077 == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("y\nn\n"))
    code = kiosk_client.main(["--server", harness.server.url, "--emulator", "--method",
                              "visual", "--kiosk-id", KIOSK, "--device-key", str(key_file),
                              "--json"])
    answer = json.loads(capsys.readouterr().out)
    assert code == 0 and answer["method"] == "visual" and answer["eligible"] is True


def _closed_port_url() -> str:
    """A loopback URL on which nothing listens (the port was bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_client_without_a_server(protocol: CardProtocol) -> None:
    with pytest.raises(ClientError, match="did not answer"):
        run_check(ServiceClient(_closed_port_url()), protocol, scripted(Method.PIN, ""))


# --- HTTP and configuration --------------------------------------------------------------------


def _raw(h: Harness, method: str, path: str, body: bytes = b"",
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    host, port = h.server.httpd.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        assert response.getheader("Cache-Control") == "no-store"
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_bound_to_loopback_only(harness: Harness) -> None:
    assert harness.server.httpd.server_address[0] == "127.0.0.1"
    assert harness.server.url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize(("method", "path", "body", "headers", "expected"), [
    ("POST", "/verify", b"{not json", {"Content-Type": "application/json"},
     (400, "malformed")),
    ("POST", "/verify", b"[1, 2]", {"Content-Type": "application/json"}, (400, "malformed")),
    ("POST", "/verify", b'{"route": "pin", "response": {"nonce": "zz"}}',
     {"Content-Type": "application/json"}, (400, "malformed")),
    ("POST", "/verify", b'{"route": "device", "claim": {"kiosk_id": "x"}}',
     {"Content-Type": "application/json"}, (400, "malformed")),
    ("POST", "/verify", b'{"route": "teleport"}', {"Content-Type": "application/json"},
     (400, "malformed")),
    ("POST", "/verify", b"{}", {"Content-Type": "text/plain"},
     (415, "unsupported-media-type")),
    ("POST", "/verify", b"x" * (64 * 1024 + 1), {"Content-Type": "application/json"},
     (413, "too-large")),
    ("GET", "/nonce", b"", {}, (405, "method-not-allowed")),
    ("POST", "/elsewhere", b"{}", {"Content-Type": "application/json"},
     (404, "no-such-endpoint")),
])
def test_http_errors(harness: Harness, method: str, path: str, body: bytes,
                     headers: dict[str, str], expected: tuple[int, str]) -> None:
    status, answer = _raw(harness, method, path, body, headers)
    assert (status, answer["reason"]) == expected and answer["ok"] is False


def test_nonce_answer(harness: Harness) -> None:
    status, answer = _raw(harness, "POST", "/nonce")
    assert status == 200 and len(bytes.fromhex(answer["nonce"])) == 32
    assert answer["lifetime_seconds"] == 120 and answer["context"] == DEFAULT_CONTEXT
    assert dt.datetime.fromisoformat(answer["expires_at"]) > dt.datetime.fromisoformat(
        answer["issued_at"])


def test_logs_hold_no_personal_data(harness: Harness, protocol: CardProtocol,
                                    profile: CardProfile,
                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="eligibility.server")
    assert harness.verify(pin_body(protocol, harness.nonce()))[0] == 200
    text = caplog.text
    assert "route=pin" in text and "-> 200 ok" in text
    serial = certificate_key(card_cert(profile))[1]
    for secret in (serial, DEMO_HOLDER, "06139990", PIN + "\n"):
        assert secret not in text


def test_config_file(tmp_path: Path, database: Path, protocol: CardProtocol) -> None:
    from examples.eligibility.server import DEFAULT_ANCHOR

    key, cert = auth_cert("revoked by config")
    (tmp_path / "crls").mkdir()
    (tmp_path / "crls" / "auth.crl").write_bytes(
        crl_der(make_crl(root("auth"), [cert.serial_number])))
    (tmp_path / "eligibility.json").write_text(json.dumps({
        "database": database.name,
        "trust_anchors": [str(DEFAULT_ANCHOR), "jpki"],
        "devices": {KIOSK: public_key_to_text(DEVICE_KEY.public_key())},
        "revocation": {"crl_files": ["crls"]},
        "nonce_lifetime_seconds": 30,
        "port": 0,
    }), encoding="utf-8")
    config = ServiceConfig.from_file(tmp_path / "eligibility.json")
    assert config.database == database and config.port == 0
    assert config.nonce_lifetime == dt.timedelta(seconds=30)
    assert TrustStore.jpki().pinned <= config.trust.pinned and len(config.trust.anchors) == 1
    with RunningServer(EligibilityService(config)) as server:
        api = ServiceClient(server.url)
        result: CheckResult = run_check(api, protocol, scripted(Method.PIN, f"{PIN}\ny\n"))
        assert result.status == 200
        nonce = bytes.fromhex(api.post("/nonce", {})[1]["nonce"])
        status, answer = api.post("/verify", signed_body(key, cert, nonce))
        assert (status, answer["reason"]) == (403, "revoked")


# --- the demo ----------------------------------------------------------------------------------


def test_demo_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_demo.main([]) == 0
    out = capsys.readouterr().out
    assert "ELIGIBLE" in out and "06139990" in out and "server stopped" in out


def test_demo_command_visual_route(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_demo.main(["--method", "visual"]) == 0
    assert "identified by visual" in capsys.readouterr().out
