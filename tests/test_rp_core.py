"""The relying-party library (mynaid.rp) against both stores: SQLite and a real PostgreSQL.

Cards are the in-process emulator (registration and login go through the card's keys and
PINs); a renewal card is a fresh card for the same holder, an attacker's card one for
someone else. Time-dependent cases use a fake clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509 import ocsp

from mynaid.cardspec import Aid, TextFile
from mynaid.emulator import build_card, default_profile
from mynaid.emulator.composite import CompositeCard
from mynaid.emulator.filesystem import PrivateKeyFile
from mynaid.emulator.profile import CardProfile
from mynaid.emulator.testpki import TestHolder, TestPki, generate_profile
from mynaid.integrity import IssuerKey, load_issuer_key
from mynaid.protocol import CardProtocol
from mynaid.rp.binding import REQUIRED_CHECKS, CardFaceIdentity, bind, presence_challenge
from mynaid.rp.client import face_body, face_claim, login_body, registration_body, sign_claim
from mynaid.rp.core import RelyingParty, RpConfig
from mynaid.rp.models import Person
from mynaid.rp.reasons import RpError
from mynaid.rp.revocation import CrlFiles, Ocsp, PlatformOperator, RevocationChain
from mynaid.rp.store import PostgresStore, SqliteStore, Store
from mynaid.transport.emulated import EmulatorTransport
from mynaid.trust.anchors import TrustStore
from mynaid.trust.revocation import CrlSource, OcspChecker
from tests.rp_helpers import CONTEXT, DEMO_COLLATION_B, PKI
from tests.trust_pki import OcspResponder, make_crl, root, serve_ocsp

KIOSK = "kiosk-1"
DEVICE = Ed25519PrivateKey.generate()


class FakeClock:
    """Real time at construction, then a millisecond per reading (so records are ordered)
    and whatever the test adds."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(milliseconds=1)
        return self.now


@pytest.fixture(scope="session")
def pg_dsn(postgres: Any) -> str:
    dsn: str = postgres.create_database("rp_core")
    PostgresStore(dsn).migrate()
    return dsn


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s: Store = SqliteStore(tmp_path / "rp.sqlite3")
    else:
        s = PostgresStore(request.getfixturevalue("pg_dsn"))
        with s.transaction() as tx:
            tx.run("TRUNCATE insurance_records, confirmation_records, nonces, certificates, "
                   "persons")
    s.migrate()
    yield s
    s.close()


@pytest.fixture(scope="module")
def renewal() -> tuple[CardProfile, TestPki]:
    """A new card of the same holder (new keys, new certificates, new serials)."""
    return generate_profile(None)


@pytest.fixture(scope="module")
def attacker() -> tuple[CardProfile, TestPki]:
    """Someone else's genuine card (other name, birth date, sex)."""
    holder = TestHolder(name="攻撃\u3000太郎", sex="1", birth="319900505",
                        address="大阪府大阪市試験区４－５－６")
    return generate_profile(None, holder=holder)


def _trust(*pkis: TestPki) -> TrustStore:
    store = TrustStore.empty()
    store.add_file(PKI / "auth-root.pem")
    store.add_file(PKI / "sign-root.pem")
    for pki in pkis:
        store.add_certificate(pki.auth_root_cert)
        store.add_certificate(pki.sign_root_cert)
    return store


def _issuer_keys(*pkis: TestPki) -> list[IssuerKey]:
    keys = [load_issuer_key(PKI / "text-issuer.pem"), load_issuer_key(PKI / "visual-issuer.pem")]
    for pki in pkis:
        assert pki.text_issuer_key is not None and pki.visual_issuer_key is not None
        keys += [IssuerKey("text", pki.text_issuer_key.public_key()),
                 IssuerKey("visual", pki.visual_issuer_key.public_key())]
    return keys


@pytest.fixture
def make_rp(store: Store, renewal: tuple[CardProfile, TestPki],
            attacker: tuple[CardProfile, TestPki]) -> Callable[..., RelyingParty]:
    clock = FakeClock()

    def _make(**changes: Any) -> RelyingParty:
        config = RpConfig(trust=_trust(renewal[1], attacker[1]), context=CONTEXT,
                          devices={KIOSK: DEVICE.public_key()})
        return RelyingParty(store, dataclasses.replace(config, **changes), clock=clock)

    return _make


@pytest.fixture
def rp(make_rp: Callable[..., RelyingParty]) -> RelyingParty:
    return make_rp()


def card(profile: CardProfile | None = None) -> CardProtocol:
    return CardProtocol(EmulatorTransport(build_card(profile or default_profile())))


def register(rp: RelyingParty, protocol: CardProtocol) -> dict[str, Any]:
    nonce = bytes.fromhex(rp.issue("register")["nonce"])
    return rp.register(registration_body(protocol, nonce, CONTEXT, sign_password="TEST1234",
                                         auth_pin="1234"))


def login(rp: RelyingParty, protocol: CardProtocol) -> dict[str, Any]:
    nonce = bytes.fromhex(rp.issue("login")["nonce"])
    return rp.login(login_body(protocol, nonce, CONTEXT, auth_pin="1234"))


def refused(call: Callable[[], Any]) -> str:
    with pytest.raises(RpError) as info:
        call()
    return info.value.reason


# --- registration and login --------------------------------------------------------------


def test_registration_links_the_person_and_login_finds_them(rp: RelyingParty) -> None:
    protocol = card()
    registered = register(rp, protocol)
    assert registered["operation"] == "register" and not registered["renewed"]
    logged_in = login(rp, protocol)
    assert logged_in["person_id"] == registered["person_id"]
    kinds = {c["kind"]: c["status"] for c in rp.certificates(registered["person_id"])}
    assert kinds == {"sign": "active", "auth": "active"}
    records = rp.records(person_id=registered["person_id"])
    assert [(r.operation, r.result, r.reason) for r in records] == [
        ("login", "accepted", "ok"), ("register", "accepted", "ok")]
    assert records[1].sign_serial and records[1].auth_serial == records[0].auth_serial


def test_login_before_registration_is_refused(rp: RelyingParty) -> None:
    assert refused(lambda: login(rp, card())) == "not-registered"


def test_registration_needs_both_signatures(rp: RelyingParty) -> None:
    protocol = card()
    nonce = bytes.fromhex(rp.issue("register")["nonce"])
    body = registration_body(protocol, nonce, CONTEXT, sign_password="TEST1234",
                             auth_pin="1234")
    body["auth"]["signature"] = body["sign"]["signature"]  # the auth key did not sign
    assert refused(lambda: rp.register(body)) == "bad-signature"
    # The nonce was spent by the refused answer: the honest retry needs a new one.
    body2 = registration_body(protocol, nonce, CONTEXT, sign_password="TEST1234",
                              auth_pin="1234")
    assert refused(lambda: rp.register(body2)) == "nonce-replayed"


def test_replay_wrong_purpose_expiry_and_context(rp: RelyingParty) -> None:
    protocol = card()
    register(rp, protocol)
    nonce = bytes.fromhex(rp.issue("login")["nonce"])
    body = login_body(protocol, nonce, CONTEXT, auth_pin="1234")
    rp.login(body)
    assert refused(lambda: rp.login(body)) == "nonce-replayed"
    other = bytes.fromhex(rp.issue("register")["nonce"])
    assert refused(lambda: rp.login(login_body(protocol, other, CONTEXT,
                                               auth_pin="1234"))) == "nonce-wrong-purpose"
    late = bytes.fromhex(rp.issue("login")["nonce"])
    rp.clock.now += dt.timedelta(minutes=3)  # type: ignore[attr-defined]
    assert refused(lambda: rp.login(login_body(protocol, late, CONTEXT,
                                               auth_pin="1234"))) == "nonce-expired"
    foreign = bytes.fromhex(rp.issue("login")["nonce"])
    assert refused(lambda: rp.login(login_body(protocol, foreign, "another-service",
                                               auth_pin="1234"))) \
        == "challenge-context-mismatch"
    unknown = bytes(32)
    assert refused(lambda: rp.login(login_body(protocol, unknown, CONTEXT,
                                               auth_pin="1234"))) == "nonce-unknown"


# --- renewal and replacement -----------------------------------------------------------------


def test_renewal_links_the_new_card_and_retires_the_old(
        rp: RelyingParty, renewal: tuple[CardProfile, TestPki]) -> None:
    old, new = card(), card(renewal[0])
    first = register(rp, old)
    renewed = register(rp, new)
    assert renewed["operation"] == "renew" and renewed["retired_certificates"] == 2
    assert renewed["person_id"] == first["person_id"]
    assert login(rp, new)["person_id"] == first["person_id"]
    assert refused(lambda: login(rp, old)) == "certificate-retired"
    assert refused(lambda: register(rp, old)) == "certificate-retired"
    statuses = sorted(c["status"] for c in rp.certificates(first["person_id"]))
    assert statuses == ["active", "active", "retired", "retired"]


def test_registering_the_same_card_twice_changes_nothing(rp: RelyingParty) -> None:
    protocol = card()
    first = register(rp, protocol)
    again = register(rp, protocol)
    assert again["person_id"] == first["person_id"] and again["operation"] == "register"
    assert len(rp.certificates(first["person_id"])) == 2


# --- the face route and its binding ------------------------------------------------------------


def _face(rp: RelyingParty, protocol: CardProtocol, collation_b: str,
          keys: list[IssuerKey], **changes: Any) -> dict[str, Any]:
    nonce = bytes.fromhex(rp.issue("face")["nonce"])
    return rp.face(face_body(protocol, nonce, CONTEXT, collation_b=collation_b,
                             issuer_keys=keys, kiosk_id=KIOSK, device_key=DEVICE, **changes))


def test_face_route_genuine_card_passes(rp: RelyingParty) -> None:
    protocol = card()
    person = register(rp, protocol)["person_id"]
    answer = _face(rp, protocol, DEMO_COLLATION_B, _issuer_keys())
    assert answer["person_id"] == person and answer["operation"] == "face"
    record = rp.records(person_id=person)[0]
    assert record.details["binding"] == "matched" and record.kiosk_id == KIOSK
    assert all(record.details["card_face_checks"][name] for name in REQUIRED_CHECKS)
    assert record.details["card_face_checks"]["text-presence"] is True


def _refused_face(rp: RelyingParty, protocol: CardProtocol) -> tuple[str, dict[str, Any]]:
    """The reason and the card-face checks of a refused face route."""
    with pytest.raises(RpError) as info:
        _face(rp, protocol, DEMO_COLLATION_B, _issuer_keys())
    record = rp.records()[0]
    assert (record.operation, record.result, record.reason) == (
        "face", "refused", info.value.reason)
    assert str(info.value).endswith("present: text-presence")  # named, and alone
    return info.value.reason, record.details["card_face_checks"]


def test_face_route_refuses_a_text_ap_that_signs_with_an_uncertified_key(
        rp: RelyingParty) -> None:
    # The text AP answers the presence challenge, but with a key DF51 does not name (a
    # copy of the text records in a card without their card key).
    emulated = build_card(default_profile())
    node = emulated.applications[Aid.TEXT.value].files[TextFile.CARD_KEY]
    assert isinstance(node, PrivateKeyFile)
    node.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    protocol = CardProtocol(EmulatorTransport(emulated))
    register(rp, protocol)
    reason, checks = _refused_face(rp, protocol)
    assert reason == "card-face-not-verified"
    assert checks["text-presence"] is False
    assert all(v is True for k, v in checks.items() if k != "text-presence")


def test_face_route_refuses_a_text_ap_without_its_signed_card_key(rp: RelyingParty) -> None:
    emulated = build_card(default_profile())
    del emulated.applications[Aid.TEXT.value].files[TextFile.SIGNED_CARD_KEY]
    protocol = CardProtocol(EmulatorTransport(emulated))
    register(rp, protocol)
    reason, checks = _refused_face(rp, protocol)
    assert reason == "card-face-not-verified"
    assert checks["text-presence"] is None  # not made: the card offers no proof
    assert all(v is True for k, v in checks.items() if k != "text-presence")


def test_face_route_refuses_copied_text_data_with_another_cards_card_key(
        rp: RelyingParty, attacker: tuple[CardProfile, TestPki]) -> None:
    # The victim's text records with another genuine card's EF 0007 and card key: that
    # DF52 is by the other card's EF 0004 key, not the one certifying the victim's DF33.
    emulated = build_card(default_profile())
    other = build_card(attacker[0]).applications[Aid.TEXT.value].files
    files = emulated.applications[Aid.TEXT.value].files
    files[TextFile.SIGNED_CARD_KEY] = other[TextFile.SIGNED_CARD_KEY]
    files[TextFile.CARD_KEY] = other[TextFile.CARD_KEY]
    protocol = CardProtocol(EmulatorTransport(emulated))
    register(rp, protocol)
    with pytest.raises(RpError) as info:
        _face(rp, protocol, DEMO_COLLATION_B, _issuer_keys(attacker[1]))
    assert info.value.reason == "card-face-not-verified"
    assert rp.records()[0].details["card_face_checks"]["text-presence"] is False


def test_presence_challenges_are_separated_per_application() -> None:
    nonce = bytes(range(32))
    text = presence_challenge(CONTEXT, nonce, "text")
    visual = presence_challenge(CONTEXT, nonce, "visual")
    assert len({text, visual, presence_challenge(CONTEXT, bytes(32), "text"),
                presence_challenge("other", nonce, "text")}) == 4
    assert visual == presence_challenge(CONTEXT, nonce)
    with pytest.raises(ValueError):
        presence_challenge(CONTEXT, nonce, "jpki")


def test_composite_card_is_refused_on_the_face_route(
        rp: RelyingParty, attacker: tuple[CardProfile, TestPki]) -> None:
    victim = build_card(default_profile())
    register(rp, CardProtocol(EmulatorTransport(victim)))
    # The victim's JPKI application, the attacker's own genuine card-face applications
    # (issuer keys trusted, so every integrity and presence check passes).
    composite = CompositeCard(victim, build_card(attacker[0]))
    relay = CardProtocol(EmulatorTransport(composite))  # type: ignore[arg-type]
    assert attacker[0].text is not None
    reason = refused(lambda: _face(rp, relay, attacker[0].text.pin_b,  # type: ignore[union-attr]
                                   _issuer_keys(attacker[1])))
    assert reason == "card-face-mismatch"
    record = rp.records()[0]
    assert (record.operation, record.result, record.reason) == (
        "face", "refused", "card-face-mismatch")
    assert record.details["binding"] == "refused"


def test_face_route_refuses_an_unverified_card_face(rp: RelyingParty) -> None:
    protocol = card()
    register(rp, protocol)
    # Without trusted issuer keys the CV certificates cannot be checked.
    assert refused(lambda: _face(rp, protocol, DEMO_COLLATION_B, [])) \
        == "card-face-not-verified"


def test_face_route_device_signature_and_registration(rp: RelyingParty) -> None:
    protocol = card()
    register(rp, protocol)
    nonce = bytes.fromhex(rp.issue("face")["nonce"])
    body = face_body(protocol, nonce, CONTEXT, collation_b=DEMO_COLLATION_B,
                     issuer_keys=_issuer_keys(), kiosk_id=KIOSK, device_key=DEVICE)
    tampered = json.loads(json.dumps(body))
    tampered["claim"]["card_face"]["name"] = "別人\u3000名前"
    assert refused(lambda: rp.face(tampered)) == "bad-device-signature"
    stranger = json.loads(json.dumps(body))
    stranger["claim"]["kiosk_id"] = "kiosk-unknown"
    assert refused(lambda: rp.face(stranger)) == "unknown-device"
    rp.face(body)  # the refusals above spent nothing
    assert refused(lambda: rp.face(body)) == "nonce-replayed"


def test_binding_compares_fields_without_naming_values() -> None:
    person = Person("p", "試験\u3000花子", "0", dt.date(1980, 2, 17), "319800217", "2", "x")
    ok = dict.fromkeys(REQUIRED_CHECKS, True)
    bind(CardFaceIdentity("試験 花子", dt.date(1980, 2, 17), "female", ok), person)
    with pytest.raises(RpError) as info:
        bind(CardFaceIdentity("試験\u3000花子", dt.date(1980, 2, 18), "male", ok), person)
    assert info.value.reason == "card-face-mismatch"
    assert "1980" not in str(info.value) and "birth date, sex" in str(info.value)
    failed = {**ok, "visual-presence": False}
    with pytest.raises(RpError) as info:
        bind(CardFaceIdentity("試験\u3000花子", dt.date(1980, 2, 17), "female", failed), person)
    assert info.value.reason == "card-face-not-verified"


def test_claim_round_trip_is_canonical() -> None:
    protocol = card()
    from mynaid.cardspec import CertificateSlot
    from mynaid.sessions.jpki import JpkiSession

    cert = JpkiSession(protocol).read_certificate(CertificateSlot.AUTH)
    identity = CardFaceIdentity("試験\u3000花子", dt.date(1980, 2, 17), "female",
                                dict.fromkeys(REQUIRED_CHECKS, True))
    body = sign_claim(face_claim(KIOSK, "visual", bytes(32), CONTEXT, cert, (), identity),
                      DEVICE)
    assert CardFaceIdentity.from_dict(json.loads(json.dumps(body))["claim"]["card_face"]) \
        == identity


# --- revocation -----------------------------------------------------------------------------


@pytest.fixture
def registered(make_rp: Callable[..., RelyingParty]) -> tuple[CardProtocol, str]:
    protocol = card()
    return protocol, register(make_rp(), protocol)["person_id"]


def _auth_cert() -> Any:
    from cryptography import x509

    return x509.load_der_x509_certificate(default_profile().jpki.auth_cert)


def test_revocation_good_by_ocsp(make_rp: Callable[..., RelyingParty],
                                 registered: tuple[CardProtocol, str]) -> None:
    responder = OcspResponder(root("auth"), [_auth_cert()])
    with serve_ocsp(responder.respond) as url:
        rp = make_rp(revocation=RevocationChain([Ocsp(OcspChecker(url=url))]))
        login(rp, registered[0])
    assert rp.records()[0].details["revocation"] == ["ocsp:good"]


def test_revocation_revoked_by_ocsp(make_rp: Callable[..., RelyingParty],
                                    registered: tuple[CardProtocol, str]) -> None:
    responder = OcspResponder(root("auth"), [_auth_cert()])
    responder.answer.status = ocsp.OCSPCertStatus.REVOKED
    with serve_ocsp(responder.respond) as url:
        rp = make_rp(revocation=RevocationChain([Ocsp(OcspChecker(url=url))]))
        assert refused(lambda: login(rp, registered[0])) == "revoked"
    assert rp.records()[0].reason == "revoked"


def test_revocation_unknown_by_ocsp(make_rp: Callable[..., RelyingParty],
                                    registered: tuple[CardProtocol, str]) -> None:
    responder = OcspResponder(root("auth"), [])  # knows no certificate
    with serve_ocsp(responder.respond) as url:
        rp = make_rp(revocation=RevocationChain([Ocsp(OcspChecker(url=url))]))
        assert refused(lambda: login(rp, registered[0])) == "revocation-unknown"


def test_responder_down_falls_back_to_the_crl(make_rp: Callable[..., RelyingParty],
                                             registered: tuple[CardProtocol, str]) -> None:
    with serve_ocsp(lambda _: b"") as url:
        pass  # the server is stopped: its port refuses connections
    crls = CrlSource()
    crls.add_crl(make_crl(root("auth")))  # a current CRL that lists nothing
    down = Ocsp(OcspChecker(url=url, timeout=2))
    rp = make_rp(revocation=RevocationChain([down, CrlFiles(crls)]))
    login(rp, registered[0])
    assert rp.records()[0].details["revocation"] == ["crl:good"]
    # Without the CRL the same outage is the service's problem (503), not the patient's.
    rp_no_crl = make_rp(revocation=RevocationChain([down]))
    with pytest.raises(RpError) as info:
        login(rp_no_crl, registered[0])
    assert (info.value.reason, info.value.status) == ("revocation-unreachable", 503)


class FakePlatform:
    """A platform operator answering per the documented contract (version 1)."""

    def __init__(self, status: str) -> None:
        self.status = status
        self.requests: list[dict[str, Any]] = []

    def __call__(self, url: str, body: bytes, headers: dict[str, str],
                 timeout: float) -> tuple[int, bytes]:
        assert url.endswith("/v1/certificate-status")
        assert headers["Authorization"] == "Bearer secret-token"
        self.requests.append(json.loads(body))
        now = dt.datetime.now(dt.timezone.utc)
        answer = {"status": self.status, "produced_at": now.isoformat(),
                  "next_update": (now + dt.timedelta(hours=1)).isoformat(),
                  "revoked_at": (now - dt.timedelta(days=1)).isoformat()
                  if self.status == "revoked" else None,
                  "revocation_reason": "keyCompromise" if self.status == "revoked" else None}
        return 200, json.dumps(answer).encode()


@pytest.mark.parametrize(("status", "reason"), [("good", None), ("revoked", "revoked"),
                                                ("unknown", "revocation-unknown")])
def test_platform_operator_adapter(make_rp: Callable[..., RelyingParty],
                                   registered: tuple[CardProtocol, str], status: str,
                                   reason: str | None) -> None:
    fake = FakePlatform(status)
    platform = PlatformOperator("https://platform.example", token="secret-token", post=fake)
    rp = make_rp(revocation=RevocationChain([platform]))
    if reason is None:
        login(rp, registered[0])
    else:
        assert refused(lambda: login(rp, registered[0])) == reason
    assert len(fake.requests) == 1 and "certificate" in fake.requests[0]


def test_platform_operator_garbage_is_not_good() -> None:
    cert = _auth_cert()
    for status, body in [(500, b"{}"), (200, b"[" * 30000), (200, b'{"status": "good"}'),
                         (200, b'{"status": "maybe", "produced_at": "2026-01-01T00:00:00Z"}')]:
        platform = PlatformOperator("https://p.example",
                                    post=lambda *_a, s=status, b=body: (s, b))
        result = platform.check(cert, root("auth").cert, dt.datetime.now(dt.timezone.utc))
        assert not result.good and result.reason is not None


# --- 現況確認 ----------------------------------------------------------------------------------


def test_recheck_marks_a_revoked_certificate(make_rp: Callable[..., RelyingParty],
                                             registered: tuple[CardProtocol, str]) -> None:
    protocol, person = registered
    crls = CrlSource()
    crls.add_crl(make_crl(root("auth"), [_auth_cert().serial_number]))
    crls.add_crl(make_crl(root("sign")))
    checker = make_rp(revocation=RevocationChain([CrlFiles(crls)]))
    results = {r["kind"]: r for r in checker.recheck(person_id=person)}
    assert (results["auth"]["status"], results["auth"]["reason"]) == ("revoked", "revoked")
    assert (results["sign"]["status"], results["sign"]["reason"]) == ("good", "ok")
    # Logins with the revoked certificate are refused from now on, even without a live
    # revocation check.
    assert refused(lambda: login(make_rp(), protocol)) == "certificate-revoked"
    recheck_records = [r for r in checker.records(person_id=person)
                       if r.operation == "recheck"]
    assert sorted(r.result for r in recheck_records) == ["accepted", "refused"]


def test_recheck_due_and_indeterminate(make_rp: Callable[..., RelyingParty],
                                       registered: tuple[CardProtocol, str]) -> None:
    crls = CrlSource()  # no CRL at all: status unknown, nothing changes
    checker = make_rp(revocation=RevocationChain([CrlFiles(crls)]))
    assert checker.recheck() == []  # just registered: not due yet
    checker.clock.now += dt.timedelta(days=2)  # type: ignore[attr-defined]
    results = checker.recheck()
    assert len(results) == 2 and {r["reason"] for r in results} == {"revocation-unavailable"}
    assert login(make_rp(), registered[0])["person_id"] == registered[1]


# --- what the records hold ---------------------------------------------------------------------


def test_records_hold_no_my_number_no_photo_no_card_face(rp: RelyingParty) -> None:
    protocol = card()
    register(rp, protocol)
    _face(rp, protocol, DEMO_COLLATION_B, _issuer_keys())
    profile = default_profile()
    assert profile.text is not None and profile.visual is not None
    dump = json.dumps([r.as_dict() for r in rp.records()], ensure_ascii=False)
    assert profile.text.my_number not in dump
    assert "花子" not in dump and "1980-02-17" not in dump  # no card-face attribute
    assert profile.visual.photo[:24].hex() not in dump
