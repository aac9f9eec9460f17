"""CardProtocol (ISO response rules, bounded reads) and JpkiSession, in-process."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from mynaid.cardspec import AUTH_PIN, SIGN_PASSWORD, Aid, CertificateSlot
from mynaid.emulator import CardProfile, EmulatedCard, EmulatorOptions, build_card
from mynaid.emulator.profile import default_profile
from mynaid.errors import (
    CardError,
    CardRemovedError,
    ConditionsNotSatisfiedError,
    FileNotFoundOnCardError,
    InvalidSecretError,
    LockoutGuardError,
    ParseError,
    PinBlockedError,
    SecurityStatusNotSatisfiedError,
    TransportError,
    UnsupportedCommandError,
    WrongLengthError,
    WrongPinError,
)
from mynaid.iso7816 import status
from mynaid.iso7816.apdu import CommandApdu
from mynaid.iso7816.tlv import encode_tlv
from mynaid.models import CertificateAvailability, TokenInfo, TokenKind
from mynaid.protocol import MAX_GET_RESPONSE_ROUNDS, CardProtocol, ExtendedLength
from mynaid.sessions.jpki import JpkiSession, digest_info
from mynaid.transport.base import Transport
from mynaid.transport.emulated import EmulatorTransport

PROFILE = default_profile()
JPKI = Aid.JPKI.value
CERTS = {
    CertificateSlot.AUTH: PROFILE.jpki.auth_cert,
    CertificateSlot.AUTH_CA: PROFILE.jpki.auth_ca_cert,
    CertificateSlot.SIGN: PROFILE.jpki.sign_cert,
    CertificateSlot.SIGN_CA: PROFILE.jpki.sign_ca_cert,
}
HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class RecordingTransport(EmulatorTransport):
    """The in-process transport, remembering every APDU sent."""

    def __init__(self, card: EmulatedCard) -> None:
        super().__init__(card)
        self.sent: list[bytes] = []

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        self.sent.append(bytes(apdu))
        return super().transmit(apdu)

    def count(self, ins: int, *, with_data: bool | None = None) -> int:
        return sum(1 for a in self.sent if a[1] == ins
                   and (with_data is None or (len(a) > 5) == with_data))


class ScriptedTransport(Transport):
    """A fake reader whose answers come from a function of the APDU."""

    def __init__(self, answer: Callable[[bytes], tuple[bytes, int]]) -> None:
        self.answer = answer
        self.sent: list[bytes] = []

    @property
    def atr(self) -> bytes:
        return bytes.fromhex("3BE000FF8131FE4514")

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        self.sent.append(bytes(apdu))
        if len(self.sent) > 10_000:
            raise AssertionError("unbounded exchange")
        return self.answer(bytes(apdu))

    def begin_transaction(self) -> None:
        pass

    def end_transaction(self) -> None:
        pass

    def close(self) -> None:
        pass


def file_card(content: bytes, *, truncate_extended: int | None = None,
              extended_error: Exception | None = None
              ) -> Callable[[bytes], tuple[bytes, int]]:
    """Answers of a card where every SELECT works and every EF holds ``content``."""

    def answer(apdu: bytes) -> tuple[bytes, int]:
        if apdu[1] == 0xA4:
            return b"", 0x9000
        if apdu[1] == 0xB0:
            offset = (apdu[2] << 8) | apdu[3]
            extended = len(apdu) == 7
            if extended and extended_error is not None:
                raise extended_error
            le = (int.from_bytes(apdu[5:7], "big") or 65536) if extended else (apdu[4] or 256)
            if extended and truncate_extended is not None:
                le = min(le, truncate_extended)
            if offset >= len(content):
                return b"", 0x6B00
            return content[offset : offset + le], 0x9000
        return b"", 0x6D00

    return answer


def session_for(card: EmulatedCard, extended: ExtendedLength = ExtendedLength.AUTO,
                reserve: dict[str, int] | None = None
                ) -> tuple[JpkiSession, RecordingTransport]:
    transport = RecordingTransport(card)
    return JpkiSession(CardProtocol(transport, extended), reserve=reserve), transport


@pytest.fixture
def fresh() -> EmulatedCard:
    return build_card(PROFILE)


def tries(card: EmulatedCard, fid: int) -> int:
    return card.key_file(JPKI, fid).tries_left


def public_key(der: bytes | None) -> rsa.RSAPublicKey:
    assert der is not None
    key = x509.load_der_x509_certificate(der).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


# --- 61 xx / 6C xx ---------------------------------------------------------------------------


def test_get_response_is_followed() -> None:
    card = build_card(PROFILE, EmulatorOptions(use_get_response=True))
    transport = RecordingTransport(card)
    protocol = CardProtocol(transport)
    assert protocol.select_application(JPKI).sw == 0x9000
    assert protocol.select_file(0x0006).sw == 0x9000
    response = protocol.read_binary(0, 256)
    assert response.sw == 0x9000
    assert response.data[:32] == b"JPKIAPICCTOKEN2".ljust(32)
    assert transport.sent[-1] == bytes.fromhex("00C00000A0")


def test_wrong_le_is_resent_with_the_exact_length() -> None:
    card = build_card(PROFILE, EmulatorOptions(strict_le=True))
    transport = RecordingTransport(card)
    protocol = CardProtocol(transport)
    protocol.select_application(JPKI)
    protocol.select_file(0x0008)
    response = protocol.read_binary(0, 256)
    assert (response.data, response.sw) == (bytes.fromhex("8F8F00"), 0x9000)
    assert transport.sent[-2:] == [bytes.fromhex("00B0000000"), bytes.fromhex("00B0000003")]
    assert protocol.stats.commands == 4


def test_6c_then_61_are_both_handled() -> None:
    def answer(apdu: bytes) -> tuple[bytes, int]:
        if apdu == bytes.fromhex("00B0000000"):
            return b"", 0x6C05
        if apdu == bytes.fromhex("00B0000005"):
            return b"", 0x6105
        if apdu == bytes.fromhex("00C0000005"):
            return b"ABCDE", 0x9000
        return b"", 0x6F00

    protocol = CardProtocol(ScriptedTransport(answer))
    response = protocol.read_binary(0, 256)
    assert (response.data, response.sw) == (b"ABCDE", 0x9000)


def test_6c_without_le_is_returned_as_is() -> None:
    transport = ScriptedTransport(lambda apdu: (b"", 0x6C10))
    response = CardProtocol(transport).send(CommandApdu(0x00, 0xA4, 0x02, 0x0C, b"\x00\x06"))
    assert response.sw == 0x6C10
    assert len(transport.sent) == 1


@pytest.mark.parametrize(("data", "sw"), [(b"", 0x6101), (b"\x00", 0x6101),
                                          (bytes(256), 0x6100)])
def test_get_response_loop_is_bounded(data: bytes, sw: int) -> None:
    transport = ScriptedTransport(lambda apdu: (data, sw))
    with pytest.raises(ParseError):
        CardProtocol(transport).read_binary(0, 1)
    assert len(transport.sent) <= 1 + MAX_GET_RESPONSE_ROUNDS


# --- bounded file reads ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", [ExtendedLength.AUTO, ExtendedLength.OFF])
def test_certificate_declaring_60000_bytes_is_refused(mode: ExtendedLength) -> None:
    content = bytes.fromhex("3082EA5C") + bytes(60000)  # a TLV of 60004 bytes
    transport = ScriptedTransport(file_card(content))
    session = JpkiSession(CardProtocol(transport, mode))
    with pytest.raises(ParseError):
        session.read_certificate_der(CertificateSlot.AUTH)
    assert sum(1 for a in transport.sent if a[1] == 0xB0) <= 2


def test_length_over_the_tlv_bound_is_refused() -> None:
    content = bytes.fromhex("30830100 00") + bytes(300)
    transport = ScriptedTransport(file_card(content))
    with pytest.raises(ParseError):
        CardProtocol(transport, ExtendedLength.OFF).read_tlv_file()


def test_card_returning_no_data_mid_file() -> None:
    content = bytes.fromhex("308203E8") + bytes(1000)

    def answer(apdu: bytes) -> tuple[bytes, int]:
        if apdu[1] == 0xB0 and apdu[2:4] != b"\x00\x00":
            return b"", 0x9000
        return file_card(content)(apdu)

    transport = ScriptedTransport(answer)
    with pytest.raises(ParseError):
        CardProtocol(transport, ExtendedLength.OFF).read_tlv_file()
    assert len(transport.sent) == 2


def test_read_tlv_file_with_a_small_bound() -> None:
    content = encode_tlv(0x30, bytes(500))
    protocol = CardProtocol(ScriptedTransport(file_card(content)), ExtendedLength.OFF)
    with pytest.raises(ParseError):
        protocol.read_tlv_file(max_size=len(content) - 1)
    assert protocol.read_tlv_file(max_size=len(content)) == (content, 0x9000)


def test_truncated_extended_answer_falls_back_to_short_reads() -> None:
    content = encode_tlv(0x30, bytes(range(256)) * 4) + b"\xff" * 10
    transport = ScriptedTransport(file_card(content, truncate_extended=256))
    protocol = CardProtocol(transport)
    data, sw = protocol.read_tlv_file()
    assert (data, sw) == (content[:-10], 0x9000)
    assert protocol.extended_supported is False
    extended_reads = [a for a in transport.sent if len(a) == 7]
    assert len(extended_reads) == 1
    protocol.read_tlv_file()  # remembered: no second extended attempt
    assert len([a for a in transport.sent if len(a) == 7]) == 1


def test_transport_refusing_extended_apdus_falls_back() -> None:
    content = encode_tlv(0x30, bytes(700))
    transport = ScriptedTransport(file_card(content, extended_error=TransportError("no")))
    protocol = CardProtocol(transport)
    assert protocol.read_tlv_file() == (content, 0x9000)
    assert protocol.extended_supported is False


def test_card_removed_during_extended_read_propagates() -> None:
    content = encode_tlv(0x30, bytes(700))
    transport = ScriptedTransport(file_card(content, extended_error=CardRemovedError("gone")))
    with pytest.raises(CardRemovedError):
        CardProtocol(transport).read_tlv_file()


def test_read_binary_offset_range() -> None:
    protocol = CardProtocol(ScriptedTransport(lambda apdu: (b"", 0x9000)))
    with pytest.raises(ParseError):
        protocol.read_binary(0x8000, 1)


# --- APDU counts -----------------------------------------------------------------------------


@pytest.mark.parametrize("slot", [CertificateSlot.AUTH, CertificateSlot.AUTH_CA,
                                  CertificateSlot.SIGN_CA])
@pytest.mark.parametrize("filler", [0, 300])
def test_short_reads_use_ceil_size_over_256_apdus(slot: CertificateSlot, filler: int) -> None:
    card = build_card(PROFILE, EmulatorOptions(cert_filler=filler))
    session, transport = session_for(card, ExtendedLength.OFF)
    der = session.read_certificate_der(slot)
    assert der == CERTS[slot]
    assert transport.count(0xB0) == -(-len(der) // 256)
    assert all(len(a) == 5 for a in transport.sent if a[1] == 0xB0)  # all short


@pytest.mark.parametrize("filler", [0, 300])
def test_auto_reads_a_certificate_in_one_apdu(filler: int) -> None:
    card = build_card(PROFILE, EmulatorOptions(cert_filler=filler))
    session, transport = session_for(card)
    assert session.read_certificate_der(CertificateSlot.AUTH) == CERTS[CertificateSlot.AUTH]
    assert transport.count(0xB0) == 1
    assert session.protocol.extended_supported is True


def test_auto_on_a_card_refusing_extended_length() -> None:
    card = build_card(PROFILE, EmulatorOptions(extended_length=False))
    session, transport = session_for(card)
    for slot in (CertificateSlot.AUTH, CertificateSlot.AUTH_CA):
        assert session.read_certificate_der(slot) == CERTS[slot]
    assert session.protocol.extended_supported is False
    extended = [a for a in transport.sent if a[1] == 0xB0 and len(a) == 7]
    assert len(extended) == 1  # tried once, then remembered


# --- certificates ----------------------------------------------------------------------------

VARIANTS = [
    EmulatorOptions(),
    EmulatorOptions(use_get_response=True),
    EmulatorOptions(strict_le=True),
    EmulatorOptions(extended_length=False, cert_filler=77),
    EmulatorOptions(use_get_response=True, extended_length=False, strict_le=True),
    EmulatorOptions(verified_query_ok=True),
]


@pytest.mark.parametrize("options", VARIANTS)
@pytest.mark.parametrize("mode", [ExtendedLength.AUTO, ExtendedLength.OFF])
def test_read_every_certificate(options: EmulatorOptions, mode: ExtendedLength) -> None:
    session, _ = session_for(build_card(PROFILE, options), mode)
    for slot, der in CERTS.items():
        password = "TEST1234" if slot is CertificateSlot.SIGN else None
        cert = session.read_certificate(slot, password)
        assert cert.public_bytes(serialization.Encoding.DER) == der
        assert session.read_certificate_der(slot, password) == der
    info = session.token_info()
    assert (info.label, info.kind) == ("JPKIAPICCTOKEN2", TokenKind.CARD)
    availability = session.certificate_availability()
    assert (availability.signature, availability.authentication) == (True, True)


def test_sign_certificate_without_password(fresh: EmulatedCard) -> None:
    session, _ = session_for(fresh)
    with pytest.raises(SecurityStatusNotSatisfiedError) as info:
        session.read_certificate_der(CertificateSlot.SIGN)
    assert info.value.sw == 0x6982


def test_sign_password_is_upper_cased(fresh: EmulatedCard) -> None:
    session, _ = session_for(fresh)
    assert session.read_certificate_der(CertificateSlot.SIGN, "test1234") == \
        CERTS[CertificateSlot.SIGN]


def test_wrong_sign_password(fresh: EmulatedCard) -> None:
    session, _ = session_for(fresh)
    with pytest.raises(WrongPinError) as info:
        session.read_certificate_der(CertificateSlot.SIGN, "WRONG123")
    assert (info.value.tries_left, info.value.sw) == (4, 0x63C4)
    assert tries(fresh, 0x1B) == 4


def test_card_without_signature_certificate() -> None:
    young = CardProfile("young", dataclasses.replace(PROFILE.jpki, sign_cert=None,
                                                     sign_key=None))
    session, _ = session_for(build_card(young))
    availability = session.certificate_availability()
    assert (availability.signature, availability.authentication) == (False, True)
    with pytest.raises(FileNotFoundOnCardError):
        session.read_certificate_der(CertificateSlot.SIGN, "TEST1234")


def test_card_without_jpki_application() -> None:
    session, _ = session_for(EmulatedCard([]))
    with pytest.raises(FileNotFoundOnCardError) as info:
        session.token_info()
    assert info.value.sw == 0x6A82


def test_malformed_certificate_is_a_parse_error() -> None:
    content = encode_tlv(0x30, b"\x02\x01\x00")  # a TLV, not an X.509 certificate
    session = JpkiSession(CardProtocol(ScriptedTransport(file_card(content))))
    with pytest.raises(ParseError):
        session.read_certificate(CertificateSlot.AUTH)


# --- PINs, the guard and reserves ------------------------------------------------------------


def test_pin_states(fresh: EmulatedCard) -> None:
    session, transport = session_for(fresh)
    states = session.pin_states()
    assert [(s.name, s.tries_left, s.max_tries, s.blocked) for s in states] == [
        ("auth-pin", 3, 3, False), ("sign-password", 5, 5, False)]
    with pytest.raises(WrongPinError):
        session.verify(AUTH_PIN, "0000")
    assert session.pin_state(AUTH_PIN).tries_left == 2
    assert transport.count(0x20, with_data=True) == 1  # queries sent no secret


def test_lockout_guard_auth_pin(fresh: EmulatedCard) -> None:
    session, transport = session_for(fresh)
    for left in (2, 1):
        with pytest.raises(WrongPinError) as info:
            session.verify(AUTH_PIN, "0000")
        assert info.value.tries_left == left
    sent = transport.count(0x20, with_data=True)
    with pytest.raises(LockoutGuardError) as guard:
        session.verify(AUTH_PIN, "1234")
    assert guard.value.tries_left == 1
    assert tries(fresh, 0x18) == 1
    assert transport.count(0x20, with_data=True) == sent  # nothing sent
    with pytest.raises(LockoutGuardError):
        session.sign_digest("auth", "sha256", hashlib.sha256(b"x").digest(), "1234")
    assert tries(fresh, 0x18) == 1
    session.verify(AUTH_PIN, "1234", force=True)
    assert tries(fresh, 0x18) == 3


def test_lockout_guard_sign_password(fresh: EmulatedCard) -> None:
    session, transport = session_for(fresh)
    for left in (4, 3, 2, 1):
        with pytest.raises(WrongPinError) as info:
            session.read_certificate_der(CertificateSlot.SIGN, "WRONG123")
        assert info.value.tries_left == left
    sent = transport.count(0x20, with_data=True)
    for attempt in ("TEST1234", "WRONG123"):
        with pytest.raises(LockoutGuardError) as guard:
            session.read_certificate_der(CertificateSlot.SIGN, attempt)
        assert guard.value.tries_left == 1
        with pytest.raises(LockoutGuardError):
            session.verify(SIGN_PASSWORD, attempt)
    assert tries(fresh, 0x1B) == 1
    assert transport.count(0x20, with_data=True) == sent
    # force sends it: a wrong value now blocks the key ...
    with pytest.raises(PinBlockedError) as blocked:
        session.verify(SIGN_PASSWORD, "WRONG123", force=True)
    assert blocked.value.sw == 0x63C0
    assert tries(fresh, 0x1B) == 0
    # ... after which nothing is sent any more, forced or not.
    sent = transport.count(0x20, with_data=True)
    for force in (False, True):
        with pytest.raises(PinBlockedError):
            session.verify(SIGN_PASSWORD, "TEST1234", force=force)
    assert transport.count(0x20, with_data=True) == sent
    assert session.pin_state(SIGN_PASSWORD).blocked


def test_reserve_is_configurable(fresh: EmulatedCard) -> None:
    session, _ = session_for(fresh, reserve={"auth-pin": 2})
    with pytest.raises(WrongPinError):
        session.verify(AUTH_PIN, "0000")
    with pytest.raises(LockoutGuardError) as guard:
        session.verify(AUTH_PIN, "1234")
    assert guard.value.tries_left == 2
    assert tries(fresh, 0x18) == 2
    # The reserve of the other secret is still the default (1).
    with pytest.raises(WrongPinError):
        session.verify(SIGN_PASSWORD, "WRONG123")
    session.verify(SIGN_PASSWORD, "TEST1234")


def test_reserve_below_one_is_refused(fresh: EmulatedCard) -> None:
    # The last try is reachable only with an explicit force, never by configuration.
    with pytest.raises(ValueError):
        session_for(fresh, reserve={"auth-pin": 0})


@pytest.mark.parametrize(("call", "secret"), [
    ("verify-auth", "123"), ("verify-auth", "12345"), ("verify-auth", "12a4"),
    ("verify-auth", "１２３４"), ("verify-sign", "TEST"), ("verify-sign", "TEST-1234"),
    ("verify-sign", "A" * 17), ("cert-sign", "ab"), ("sign-auth", "abcd"),
    ("sign-sign", "ab"), ("verify-auth", ""),
])
def test_invalid_secret_format_sends_nothing(fresh: EmulatedCard, call: str,
                                             secret: str) -> None:
    session, transport = session_for(fresh)
    before = fresh.apdu_count
    digest = hashlib.sha256(b"x").digest()
    with pytest.raises(InvalidSecretError) as info:
        if call == "verify-auth":
            session.verify(AUTH_PIN, secret)
        elif call == "verify-sign":
            session.verify(SIGN_PASSWORD, secret)
        elif call == "cert-sign":
            session.read_certificate_der(CertificateSlot.SIGN, secret)
        elif call == "sign-auth":
            session.sign_digest("auth", "sha256", digest, secret)
        else:
            session.sign_digest("sign", "sha256", digest, secret)
    assert fresh.apdu_count == before
    assert transport.sent == []
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("secret", ["testß12", "\ufb01le123"])
def test_non_ascii_password_is_invalid(secret: str) -> None:
    with pytest.raises(InvalidSecretError):
        SIGN_PASSWORD.format.normalize(secret)


def test_verified_query_ok_variant_still_checks_the_value() -> None:
    """A card that answers 90 00 to the query of a verified key: verify() still means "this
    value is right" (the card checks it again), and the guard counts on the counter having
    been reset to its maximum by the earlier success."""
    card = build_card(PROFILE, EmulatorOptions(verified_query_ok=True))
    session, transport = session_for(card)
    with session.transaction():
        session.verify(AUTH_PIN, "1234")
        states = session.pin_states()
        session.verify(AUTH_PIN, "1234")
        with pytest.raises(WrongPinError) as wrong:
            session.verify(AUTH_PIN, "0000")
    assert states[0].verified and states[0].tries_left is None
    assert (states[1].verified, states[1].tries_left) == (False, 5)
    assert transport.count(0x20, with_data=True) == 3
    assert wrong.value.tries_left == 2
    assert tries(card, 0x18) == 2


def test_verified_state_is_cleared_after_the_operation(fresh: EmulatedCard) -> None:
    session, _ = session_for(fresh)
    session.sign_digest("auth", "sha256", hashlib.sha256(b"x").digest(), "1234")
    # Straight to the card, outside any session: the key must not be usable.
    for apdu in ("00A4020C020017", "802A00800400000000" + "00"):
        response = fresh.process(bytes.fromhex(apdu))
    # 69 82 (no verified key) or 69 86 (another application is selected): never 90 00.
    assert response[-2:] in (b"\x69\x82", b"\x69\x86")
    assert not fresh._state.verified


# --- signatures ------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha384", "sha512"])
@pytest.mark.parametrize(("key", "secret", "cert"), [
    ("auth", "1234", PROFILE.jpki.auth_cert),
    ("sign", "TEST1234", PROFILE.jpki.sign_cert),
])
def test_signatures_verify(fresh: EmulatedCard, algorithm: str, key: str, secret: str,
                           cert: bytes | None) -> None:
    session, _ = session_for(fresh)
    data = f"data for {key} with {algorithm}".encode()
    digest = hashlib.new(algorithm, data).digest()
    signature = session.sign_digest(key, algorithm, digest, secret)
    assert len(signature) == 256
    public_key(cert).verify(signature, data, padding.PKCS1v15(), HASHES[algorithm]())
    # The same through sign_digest_info with the DigestInfo built by digest_info().
    again = session.sign_digest_info(key, digest_info(algorithm, digest), secret)
    assert again == signature  # PKCS#1 v1.5 is deterministic


def test_signature_through_get_response() -> None:
    card = build_card(PROFILE, EmulatorOptions(use_get_response=True, extended_length=False))
    session, _ = session_for(card)
    signature = session.sign_digest("auth", "sha256", hashlib.sha256(b"y").digest(), "1234")
    public_key(PROFILE.jpki.auth_cert).verify(signature, b"y", padding.PKCS1v15(),
                                              hashes.SHA256())


def test_wrong_pin_while_signing(fresh: EmulatedCard) -> None:
    session, transport = session_for(fresh)
    with pytest.raises(WrongPinError) as info:
        session.sign_digest("auth", "sha256", hashlib.sha256(b"x").digest(), "4321")
    assert info.value.tries_left == 2
    assert transport.count(0x2A) == 0  # no signature attempted


def test_signing_argument_errors(fresh: EmulatedCard) -> None:
    session, transport = session_for(fresh)
    with pytest.raises(ValueError):
        session.sign_digest("other", "sha256", bytes(32), "1234")
    with pytest.raises(ValueError):
        session.sign_digest("auth", "md5", bytes(16), "1234")
    with pytest.raises(ValueError):
        session.sign_digest("auth", "sha256", bytes(20), "1234")
    with pytest.raises(ValueError):
        session.sign_digest_info("auth", bytes(246), "1234")
    with pytest.raises(ValueError):
        session.sign_digest_info("auth", b"", "1234")
    assert transport.sent == []


def test_digest_info_prefixes() -> None:
    assert digest_info("sha256", bytes(32)) == bytes.fromhex(
        "3031300D060960864801650304020105000420") + bytes(32)
    assert digest_info("sha1", bytes(20))[:15] == bytes.fromhex("3021300906052B0E03021A05000414")
    assert len(digest_info("sha384", bytes(48))) == 19 + 48
    assert len(digest_info("sha512", bytes(64))) == 19 + 64


# --- status words ----------------------------------------------------------------------------


@pytest.mark.parametrize(("sw", "error"), [
    (0x63C2, WrongPinError), (0x63C1, WrongPinError), (0x63C0, PinBlockedError),
    (0x6984, PinBlockedError), (0x6982, SecurityStatusNotSatisfiedError),
    (0x6A82, FileNotFoundOnCardError), (0x6985, ConditionsNotSatisfiedError),
    (0x6986, ConditionsNotSatisfiedError), (0x6D00, UnsupportedCommandError),
    (0x6E00, UnsupportedCommandError), (0x6A86, UnsupportedCommandError),
    (0x6881, UnsupportedCommandError), (0x6700, WrongLengthError), (0x6B00, WrongLengthError),
    (0x6C10, WrongLengthError), (0x6F00, CardError), (0x6A80, CardError),
])
def test_error_for_status_word(sw: int, error: type[CardError]) -> None:
    exc = status.error_for_sw(sw, "doing something")
    assert type(exc) is error
    assert exc.sw == sw
    assert str(exc).startswith("doing something: ")
    assert str(exc).endswith(f"(SW {sw:04X})")
    if isinstance(exc, WrongPinError):
        assert exc.tries_left == sw & 0x0F
        assert status.retries_from_sw(sw) == sw & 0x0F


@pytest.mark.parametrize(("sw", "text"), [
    (0x6110, "16 more bytes"), (0x6100, "256 more bytes"), (0x6C05, "exactly 5 bytes"),
    (0x63C2, "2 tries left"), (0x9000, "success"), (0x6F42, "unknown status"),
])
def test_describe_status_word(sw: int, text: str) -> None:
    assert text in status.describe(sw)
    assert status.retries_from_sw(0x9000) is None


# --- token info and certificate availability -------------------------------------------------


@pytest.mark.parametrize(("label", "kind"), [
    ("JPKIAPICCTOKEN2", TokenKind.CARD), ("JPKIAPICCTOKEN", TokenKind.JUKI_CARD),
    ("JPKIAPGPSETOKEN", TokenKind.ANDROID), ("JPKIAPIOSTOKEN", TokenKind.IPHONE),
    ("SOMETHINGELSE", TokenKind.UNKNOWN), ("JPKIAPICCTOKEN3", TokenKind.UNKNOWN),
])
@pytest.mark.parametrize("pad", [b" ", b"\x00"])
def test_token_info_labels(label: str, kind: TokenKind, pad: bytes) -> None:
    raw = label.encode().ljust(32, pad).ljust(160, b"\x00")
    info = TokenInfo.parse(raw)
    assert (info.label, info.kind, info.raw) == (label, kind, raw)


@pytest.mark.parametrize("raw", [b"", b"\xff" * 32, b"JPKI\x01TOKEN".ljust(32),
                                 "JPKI証明".encode().ljust(32)])
def test_token_info_malformed(raw: bytes) -> None:
    with pytest.raises(ParseError):
        TokenInfo.parse(raw)


def test_token_info_only_the_first_32_bytes_are_the_label() -> None:
    raw = b"A" * 40
    assert TokenInfo.parse(raw).label == "A" * 32


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200),
                 st.text(max_size=40).map(lambda t: t.encode("utf-8", "replace"))))
def test_token_info_arbitrary_input(raw: bytes) -> None:
    try:
        info = TokenInfo.parse(raw)
    except ParseError:
        return
    assert len(info.label) <= 32
    assert info.label.isascii() and info.label.isprintable()
    assert info.label == info.label.rstrip(" ")
    assert info.kind is not None


@pytest.mark.parametrize(("raw", "signature", "authentication"), [
    ("8F 8F 00", True, True), ("00 8F 00", False, True), ("8F 00 00", True, False),
    ("00 00 00", False, False),
    # Nothing but 8F is proof of a certificate (card-reference §9).
    ("01 8F 00", False, True), ("FF FF 00", False, False), ("0F 8F", False, True),
])
def test_certificate_availability(raw: str, signature: bool, authentication: bool) -> None:
    parsed = CertificateAvailability.parse(bytes.fromhex(raw))
    assert (parsed.signature, parsed.authentication) == (signature, authentication)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=10))
def test_certificate_availability_arbitrary_input(raw: bytes) -> None:
    try:
        parsed = CertificateAvailability.parse(raw)
    except ParseError:
        assert len(raw) < 2
        return
    # Only 8F means present (card-reference §9).
    assert parsed.signature == (raw[0] == 0x8F)
    assert parsed.authentication == (raw[1] == 0x8F)
