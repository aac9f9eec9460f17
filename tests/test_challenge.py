"""Challenge-response authentication (mynaid.challenge) with the emulated card."""

from __future__ import annotations

import datetime as dt
import importlib
import io
import json
import sys
from dataclasses import replace

import pytest
from cryptography.x509.oid import NameOID

from mynaid.challenge import (
    DOMAIN_TAG,
    ChallengeResponse,
    ChallengeVerifier,
    respond,
    signed_message,
)
from mynaid.cli.main import main
from mynaid.emulator import build_card, default_profile
from mynaid.errors import WrongPinError
from mynaid.protocol import CardProtocol
from mynaid.trust.anchors import TrustStore, fingerprint
from mynaid.trust.errors import Reason, VerificationError
from mynaid.trust.revocation import CrlSource, RevocationChecker
from tests.trust_pki import make_crl, root, trust

# mynaid.connect is the function; the module of the same name, by its full name.
CONNECT_MODULE = importlib.import_module("mynaid.connect")


class FakeClock:
    def __init__(self) -> None:
        self.now = dt.datetime(2027, 1, 1, 12, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def verifier(clock: FakeClock) -> ChallengeVerifier:
    return ChallengeVerifier(trust=trust("auth"), context="clinic-42", clock=clock)


def _reason(verifier: ChallengeVerifier, response: ChallengeResponse) -> Reason:
    with pytest.raises(VerificationError) as info:
        verifier.verify(response)
    return info.value.reason


def test_round_trip(protocol: CardProtocol, verifier: ChallengeVerifier) -> None:
    challenge = verifier.issue()
    assert len(challenge.nonce) == 32 and challenge.context == "clinic-42"
    response = respond(protocol, challenge.nonce, "1234", context=challenge.context)
    result = verifier.verify(response)
    cert = response.certificate
    assert result.serial == cert.serial_number
    assert result.subject_id == cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert len(result.subject_id) == 23
    assert result.path.policy_kind.value == "test"
    assert result.as_dict()["authenticated"] is True


def test_one_time_use(protocol: CardProtocol, verifier: ChallengeVerifier) -> None:
    challenge = verifier.issue()
    response = respond(protocol, challenge.nonce, "1234", context="clinic-42")
    verifier.verify(response)
    assert _reason(verifier, response) is Reason.CHALLENGE_REUSED


def test_unknown_nonce(protocol: CardProtocol, verifier: ChallengeVerifier) -> None:
    response = respond(protocol, b"\x42" * 32, "1234", context="clinic-42")
    assert _reason(verifier, response) is Reason.CHALLENGE_UNKNOWN


def test_expired(protocol: CardProtocol, verifier: ChallengeVerifier,
                 clock: FakeClock) -> None:
    challenge = verifier.issue()
    response = respond(protocol, challenge.nonce, "1234", context="clinic-42")
    clock.now += dt.timedelta(minutes=2, seconds=1)
    assert _reason(verifier, response) is Reason.CHALLENGE_EXPIRED
    # Consumed even though it failed; and long after, it is simply forgotten.
    assert _reason(verifier, response) is Reason.CHALLENGE_REUSED
    clock.now += dt.timedelta(hours=1)
    assert _reason(verifier, response) is Reason.CHALLENGE_UNKNOWN


def test_context_binding(protocol: CardProtocol, verifier: ChallengeVerifier) -> None:
    challenge = verifier.issue()
    other = respond(protocol, challenge.nonce, "1234", context="another-verifier")
    assert _reason(verifier, other) is Reason.CHALLENGE_CONTEXT_MISMATCH
    # Claiming our context for a signature made for another one fails on the signature.
    assert _reason(verifier, replace(other, context="clinic-42")) is Reason.BAD_SIGNATURE


def test_nonce_binding(protocol: CardProtocol, verifier: ChallengeVerifier) -> None:
    first, second = verifier.issue(), verifier.issue()
    response = respond(protocol, first.nonce, "1234", context="clinic-42")
    assert _reason(verifier, replace(response, nonce=second.nonce)) is Reason.BAD_SIGNATURE


def test_signed_message_is_domain_separated() -> None:
    message = signed_message("ab", b"\x00" * 32)
    assert message.startswith(DOMAIN_TAG)
    assert signed_message("a", b"b" + b"\x00" * 31) != signed_message("ab", b"\x00" * 31 +
                                                                      b"\x00")
    with pytest.raises(ValueError):
        signed_message("x", b"short")
    with pytest.raises(ValueError):
        signed_message("", b"\x00" * 32)


def test_certificate_checks(protocol: CardProtocol, verifier: ChallengeVerifier,
                            clock: FakeClock) -> None:
    # The card's own CA certificate comes along, but trust needs a pin.
    unpinned = ChallengeVerifier(trust=TrustStore.jpki(), context="clinic-42", clock=clock)
    challenge = unpinned.issue()
    response = respond(protocol, challenge.nonce, "1234", context="clinic-42")
    assert _reason(unpinned, response) is Reason.UNTRUSTED_ANCHOR
    pinned_store = TrustStore.jpki()
    pinned_store.pin(fingerprint(root("auth").cert))
    pinned = ChallengeVerifier(trust=pinned_store, context="clinic-42", clock=clock)
    challenge = pinned.issue()
    response = respond(protocol, challenge.nonce, "1234", context="clinic-42")
    assert pinned.verify(response).path.anchor == root("auth").cert
    # Production-only verifiers refuse the test-card policy.
    strict = ChallengeVerifier(trust=trust("auth"), context="clinic-42", clock=clock,
                               production_only=True)
    fresh = strict.issue()
    assert _reason(strict, respond(protocol, fresh.nonce, "1234", context="clinic-42")) is \
        Reason.POLICY_NOT_ACCEPTED
    # The signature certificate (no clientAuth) cannot authenticate.
    fresh = verifier.issue()
    good = respond(protocol, fresh.nonce, "1234", context="clinic-42")
    from mynaid.cardspec import CertificateSlot
    from mynaid.sessions.jpki import JpkiSession

    sign_cert = JpkiSession(protocol).read_certificate(CertificateSlot.SIGN, "TEST1234")
    assert _reason(verifier, replace(good, certificate=sign_cert)) is Reason.BAD_SIGNATURE


def test_revoked_auth_certificate(protocol: CardProtocol, clock: FakeClock) -> None:
    ca = root("auth")
    crls = CrlSource()
    verifier = ChallengeVerifier(trust=trust("auth"), context="kiosk", clock=clock,
                                 revocation=RevocationChecker(crls=crls))
    challenge = verifier.issue()
    response = respond(protocol, challenge.nonce, "1234", context="kiosk")
    crls.add_crl(make_crl(ca, [response.certificate.serial_number],
                          last_update=clock.now - dt.timedelta(hours=1),
                          next_update=clock.now + dt.timedelta(days=1),
                          revocation_date=clock.now - dt.timedelta(days=1)))
    assert _reason(verifier, response) is Reason.REVOKED


def test_wrong_pin_is_a_card_error(protocol: CardProtocol) -> None:
    with pytest.raises(WrongPinError):
        respond(protocol, b"\x01" * 32, "9999")


def test_response_serialisation(protocol: CardProtocol, verifier: ChallengeVerifier) -> None:
    challenge = verifier.issue()
    response = respond(protocol, challenge.nonce, "1234", context="clinic-42")
    again = ChallengeResponse.from_dict(json.loads(json.dumps(response.as_dict())))
    assert again == response
    with pytest.raises(VerificationError) as info:
        ChallengeResponse.from_dict({"nonce": "zz"})
    assert info.value.reason is Reason.MALFORMED


def test_cli_auth(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                  clock: FakeClock) -> None:
    card = build_card(default_profile())
    monkeypatch.setattr(CONNECT_MODULE, "emulated_card",
                        lambda profile=None, options=None: card)
    verifier = ChallengeVerifier(trust=trust("auth"), clock=clock)
    challenge = verifier.issue()
    monkeypatch.setattr(sys, "stdin", io.StringIO("1234\n"))
    assert main(["--emulator", "--json", "auth", "--challenge", challenge.nonce.hex()]) == 0
    out, err = capsys.readouterr()
    assert "1234" not in err
    data = json.loads(out)
    assert data["context"] == "mynaid-auth"
    result = verifier.verify(ChallengeResponse.from_dict(data))
    assert format(result.serial, "X") == data["certificate_serial"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("1234\n"))
    assert main(["--emulator", "auth", "--challenge", "00" * 32]) == 0
    text = capsys.readouterr().out
    assert "Signature:" in text and "-----BEGIN CERTIFICATE-----" in text
    assert main(["--emulator", "auth", "--challenge", "abc"]) == 2
    capsys.readouterr()
