"""The emulator as the real card is (card-reference §9), and the library where real cards differ.

Raw APDUs through ``card.process`` for the emulator's command set; the library through the
in-process transport for what it must make of those answers.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from mynaid.atr import KNOWN_ATRS
from mynaid.cardspec import AUTH_PIN, DIGEST_INFO_PREFIXES, SIGN_PASSWORD, TEXT_PIN, Aid
from mynaid.cardspec import CertificateSlot as Slot
from mynaid.connect import connect
from mynaid.emulator import (
    ATR_2024,
    DEFAULT_ATR,
    CardProfile,
    EmulatedCard,
    EmulatorOptions,
    build_card,
    default_profile,
)
from mynaid.emulator.filesystem import KeyFile, PrivateKeyFile
from mynaid.errors import (
    ParseError,
    PinBlockedError,
    PinLockedByDesignError,
    SecurityStatusNotSatisfiedError,
    WrongPinError,
)
from mynaid.iso7816.status import error_for_sw
from mynaid.models import TokenInfo, TokenKind
from mynaid.pins import card_is_pinless, pin_status, verify_pin
from mynaid.protocol import CardProtocol, ExtendedLength
from mynaid.sessions.base import ApplicationSession
from mynaid.sessions.jpki import JpkiSession
from mynaid.transport.emulated import EmulatorTransport
from mynaid.transport.recording import RecordingTransport
from tests.conftest import CliRunner

PROFILE = default_profile()
JPKI = Aid.JPKI.value
OK = 0x9000
SHA256_INFO = DIGEST_INFO_PREFIXES["sha256"]


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def send(card: EmulatedCard, apdu: str | bytes) -> tuple[bytes, int]:
    raw = card.process(h(apdu) if isinstance(apdu, str) else apdu)
    return raw[:-2], int.from_bytes(raw[-2:], "big")


def sw(card: EmulatedCard, apdu: str | bytes) -> int:
    return send(card, apdu)[1]


def select_jpki(card: EmulatedCard) -> None:
    assert sw(card, "00 A4 04 0C 0A " + JPKI.hex()) == OK


def verify_sfi(card: EmulatedCard, sfi: int, secret: bytes) -> int:
    return sw(card, bytes((0x00, 0x20, 0x00, 0x80 | sfi, len(secret))) + secret)


def compute(card: EmulatedCard, p1: int, p2: int, data: bytes) -> tuple[bytes, int]:
    return send(card, bytes((0x80, 0x2A, p1, p2, len(data))) + data + b"\x00")


def auth_public() -> rsa.RSAPublicKey:
    key = x509.load_der_x509_certificate(PROFILE.jpki.auth_cert).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def raw_rsa(signature: bytes) -> bytes:
    """The PKCS#1 block inside an RSA signature (public operation)."""
    numbers = auth_public().public_numbers()
    return pow(int.from_bytes(signature, "big"), numbers.e, numbers.n).to_bytes(256, "big")


@pytest.fixture
def card() -> EmulatedCard:
    return build_card(PROFILE)


# --- short EF ids ----------------------------------------------------------------------------


def test_verify_and_read_binary_by_short_ef_id(card: EmulatedCard) -> None:
    select_jpki(card)
    assert sw(card, "00 20 00 98") == 0x63C3  # retry query by SFI 18 (auth PIN)
    assert verify_sfi(card, 0x18, b"0000") == 0x63C2
    assert verify_sfi(card, 0x18, b"1234") == OK
    assert card.key_file(JPKI, 0x18).tries_left == 3
    # READ BINARY P1 80|SFI, offset in P2: the auth certificate (EF 000A).
    cert = PROFILE.jpki.auth_cert
    assert send(card, "00 B0 8A 00 04") == (cert[:4], OK)
    assert send(card, "00 B0 8A 10 08") == (cert[16:24], OK)
    # The EF became current: a plain READ BINARY goes on in it.
    assert send(card, "00 B0 01 00 10") == (cert[256:272], OK)
    # Extended Le 65536 reads the whole EF in one APDU.
    assert send(card, "00 B0 8A 00 00 00 00") == (cert, OK)
    assert sw(card, "00 B0 9F 00 01") == 0x6A82  # no EF with SFI 1F
    assert sw(card, "00 B0 A0 00 01") == 0x6A86  # P1 bits 6-5 must be 00
    assert verify_sfi(card, 0x0A, b"1234") == 0x6A88  # SFI 0A is not a key


def test_sign_password_by_sfi_opens_the_signature_certificate(card: EmulatedCard) -> None:
    select_jpki(card)
    assert sw(card, "00 B0 81 00 04") == 0x6982
    assert verify_sfi(card, 0x1B, b"TEST1234") == OK
    assert send(card, "00 B0 81 00 00 00 00")[0] == PROFILE.jpki.sign_cert


# --- COMPUTE DIGITAL SIGNATURE ---------------------------------------------------------------


def test_compute_with_key_by_sfi_and_every_scheme(card: EmulatedCard) -> None:
    select_jpki(card)
    data = b"message to sign"
    digest = hashlib.sha256(data).digest()
    assert compute(card, 0x00, 0x97, SHA256_INFO + digest)[1] == 0x6982  # no PIN yet
    assert verify_sfi(card, 0x18, b"1234") == OK
    public = auth_public()
    # 00: DigestInfo as given (no SELECT of the key EF: P2 97 names it).
    sig00, status = compute(card, 0x00, 0x97, SHA256_INFO + digest)
    assert status == OK
    public.verify(sig00, data, padding.PKCS1v15(), hashes.SHA256())
    # 01: a bare SHA-256 digest, padded as it is (no DigestInfo).
    sig01, status = compute(card, 0x01, 0x97, digest)
    assert status == OK and raw_rsa(sig01).endswith(b"\x00" + digest)
    assert raw_rsa(sig01).startswith(b"\x00\x01\xff")
    assert compute(card, 0x01, 0x97, digest[:20])[1] == 0x6700
    # 02: the card adds the DigestInfo; 03: the card hashes the data.
    assert compute(card, 0x02, 0x97, digest) == (sig00, OK)
    assert compute(card, 0x03, 0x97, data) == (sig00, OK)
    sha1 = hashlib.sha1(data).digest()  # noqa: S324 (what P1 02 must recognise)
    sig_sha1, status = compute(card, 0x02, 0x97, sha1)
    assert status == OK
    public.verify(sig_sha1, data, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    assert compute(card, 0x02, 0x97, digest[:31])[1] == 0x6700
    # 04 / 05: PSS (SHA-256, MGF1-SHA-256, 32-byte salt).
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    sig04, status = compute(card, 0x04, 0x97, digest)
    assert status == OK
    public.verify(sig04, data, pss, hashes.SHA256())
    sig05, status = compute(card, 0x05, 0x97, data)
    assert status == OK
    public.verify(sig05, data, pss, hashes.SHA256())
    for p1 in (0x06, 0x10, 0x80, 0xFF):
        assert compute(card, p1, 0x97, digest)[1] == 0x6A86
    # The signature key by SFI 1A needs the signature password, not the auth PIN.
    assert compute(card, 0x00, 0x9A, SHA256_INFO + digest)[1] == 0x6982
    assert compute(card, 0x00, 0x98, SHA256_INFO + digest)[1] == 0x6A88  # 18 is no key
    assert compute(card, 0x00, 0xA0, SHA256_INFO + digest)[1] == 0x6A86


def test_pss_can_be_switched_off() -> None:
    card = build_card(PROFILE, EmulatorOptions(pss=False))
    select_jpki(card)
    assert verify_sfi(card, 0x18, b"1234") == OK
    digest = hashlib.sha256(b"x").digest()
    assert compute(card, 0x04, 0x97, digest)[1] == 0x6A86
    assert compute(card, 0x05, 0x97, b"x")[1] == 0x6A86
    assert compute(card, 0x02, 0x97, digest)[1] == OK


# --- SELECT, GET CHALLENGE, key EFs, secure messaging, channels ------------------------------


def test_select_by_prefix_and_the_two_more_applications(card: EmulatedCard) -> None:
    assert sw(card, "00 A4 04 0C 05 D3 92 F0 00 26") == OK  # the RID selects JPKI
    assert sw(card, "00 A4 02 0C 02 00 0A") == OK
    assert sw(card, "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 01 00") == OK  # 共通AP
    assert sw(card, "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 01") == OK  # 住基AP
    assert sw(card, "00 A4 04 0C 0B " + JPKI.hex() + "00") == 0x6A82  # longer than the AID
    assert sw(card, "00 A4 04 0C 05 D3 92 F0 00 27") == 0x6A82
    # Selecting another application cleared the verified state.
    select_jpki(card)
    assert verify_sfi(card, 0x18, b"1234") == OK
    assert sw(card, "00 A4 04 0C 07 D3 92 10 00 31 00 01") == OK
    select_jpki(card)
    assert sw(card, "00 20 00 98") == 0x63C3


def test_get_challenge(card: EmulatedCard) -> None:
    for n in (1, 8, 255):
        data, status = send(card, bytes((0x00, 0x84, 0x00, 0x00, n)))
        assert status == OK and len(data) == n
    data, status = send(card, "00 84 00 00 00")
    assert status == OK and len(data) == 256
    assert sw(card, "00 84 00 00 00 00 08") == 0x6985  # the extended form
    assert sw(card, "00 84 00 00 00 00 00") == 0x6985
    assert sw(card, "00 84 00 00") == 0x6700


def test_read_binary_of_every_key_ef_answers_6981() -> None:
    card = build_card(PROFILE)  # the default card has the text and visual APs
    seen = 0
    for aid, app in card.applications.items():
        for fid, ef in app.files.items():
            if not isinstance(ef, KeyFile | PrivateKeyFile):
                continue
            assert sw(card, b"\x00\xa4\x04\x0c" + bytes((len(aid),)) + aid) == OK
            assert sw(card, f"00 A4 02 0C 02 {fid:04X}") == OK
            assert sw(card, "00 B0 00 00 00") == 0x6981, (app.name, hex(fid))
            if fid <= 0x1E:
                assert sw(card, bytes((0x00, 0xB0, 0x80 | fid, 0x00, 0x00))) == 0x6981
            seen += 1
    assert seen >= 10  # JPKI 4, text and visual keys
    # An EF marked internal answers the same, whatever it holds.
    from mynaid.emulator.filesystem import BinaryFile

    card.applications[JPKI].add(BinaryFile(0x001E, b"\x01" * 8, internal=True))
    select_jpki(card)
    assert sw(card, "00 B0 9E 00 00") == 0x6981


@pytest.mark.parametrize(("cla", "ins_sw"), [
    (0x0C, {0xA4: 0x6882, 0xB0: 0x69FC, 0x20: 0x69FC, 0x84: 0x6882}),
    (0x08, {0xA4: 0x6882, 0xB0: 0x69FC, 0x20: 0x69FC}),
    (0x04, {0xA4: 0x6882, 0xB0: 0x69FC}),
    (0x8C, {0x2A: 0x6882}),
])
def test_secure_messaging_is_refused(card: EmulatedCard, cla: int,
                                     ins_sw: dict[int, int]) -> None:
    select_jpki(card)
    assert sw(card, "00 A4 02 0C 02 00 18") == OK
    for ins, expected in ins_sw.items():
        assert sw(card, bytes((cla, ins, 0x00, 0x80, 0x02, 0x00, 0x0A))) == expected
    assert card.key_file(JPKI, 0x18).tries_left == 3


@pytest.mark.parametrize("cla", [0x01, 0x02, 0x03, 0x41, 0x4F, 0x60, 0x81, 0x83])
def test_only_logical_channel_0(card: EmulatedCard, cla: int) -> None:
    assert sw(card, bytes((cla,)) + h("A4 04 0C 0A") + JPKI) == 0x6881


def test_manage_channel_is_refused(card: EmulatedCard) -> None:
    assert sw(card, "00 70 00 00 01") == 0x6881


# --- JPKI 0006, ATRs ---------------------------------------------------------------------------


@pytest.mark.parametrize(("label", "kind"), [
    ("JPKIAPICCTOKEN2", TokenKind.CARD), ("JPKIAPICCTOKEN", TokenKind.JUKI_CARD),
    ("JPKIAPGPSETOKEN", TokenKind.ANDROID), ("JPKIAPIOSTOKEN", TokenKind.IPHONE),
])
def test_token_info_is_a_ck_token_info(label: str, kind: TokenKind) -> None:
    card = build_card(PROFILE, EmulatorOptions(token_label=label))
    select_jpki(card)
    raw, status = send(card, "00 B0 86 00 00")
    assert status == OK and len(raw) == 160
    fields = struct.unpack(">32s32s16s16s11IBBBB16s", raw)
    assert fields[0] == label.encode().ljust(32, b" ")
    assert fields[1].rstrip(b" ") == b"J-LIS" and fields[2].rstrip(b" ") == b"JPKIAP"
    assert len(fields[3].rstrip(b" ")) == 16 and fields[3].isascii()
    flags = fields[4]
    assert flags & 0x0400 and flags & 0x0004  # CKF_TOKEN_INITIALIZED, CKF_LOGIN_REQUIRED
    assert fields[9:11] == (16, 4)  # ulMaxPinLen, ulMinPinLen
    assert fields[-1] == b" " * 16
    with connect(card=card) as protocol:
        info = JpkiSession(protocol).token_info()
    assert (info.label, info.kind) == (label, kind)
    assert TokenInfo.parse(raw).label == label


def test_2024_atr_variant_by_option_and_by_profile() -> None:
    assert ATR_2024 == h("3B DA 13 FF 81 31 FB 46 80 12 39 2F 31 C1 73 C6 01 C0 3B")
    assert "2024" in KNOWN_ATRS[ATR_2024]
    assert build_card(PROFILE, EmulatorOptions(atr=ATR_2024)).atr == ATR_2024
    obj = PROFILE.to_json()
    obj["atr"] = "2024"
    import json

    loaded = CardProfile.loads(json.dumps(obj))
    assert loaded.atr == ATR_2024 and build_card(loaded).atr == ATR_2024
    assert CardProfile.loads(loaded.dumps()).atr == ATR_2024
    # An explicit option other than the default wins over the profile.
    other = h("3B C5 FF 81 31 FB 45 80 73 C6 01 00 00")
    assert build_card(loaded, EmulatorOptions(atr=other)).atr == other
    assert build_card(PROFILE).atr == DEFAULT_ATR and PROFILE.atr is None
    for bad in ("zz", "00 11", "3B", 5):
        obj["atr"] = bad
        with pytest.raises(ParseError):
            CardProfile.loads(json.dumps(obj))


# --- the PIN-less face-authentication card ---------------------------------------------------


def pinless_card(by_profile: bool) -> EmulatedCard:
    from dataclasses import replace

    if by_profile:
        return build_card(replace(PROFILE, jpki=replace(PROFILE.jpki, pinless=True)))
    return build_card(PROFILE, EmulatorOptions(pinless=True))


@pytest.mark.parametrize("by_profile", [False, True])
def test_pinless_card_on_the_wire(by_profile: bool) -> None:
    card = pinless_card(by_profile)
    select_jpki(card)
    assert send(card, "00 B0 88 00 03") == (h("00 8F 00"), OK)
    assert sw(card, "00 A4 02 0C 02 00 01") == 0x6A82  # no signature certificate
    assert sw(card, "00 20 00 98") == 0x63C0  # the auth PIN answers as blocked
    assert verify_sfi(card, 0x18, b"1234") == 0x6984  # even the right value
    assert send(card, "00 B0 8A 00 00 00 00")[0] == PROFILE.jpki.auth_cert  # free as ever


def test_pinless_profile_key_round_trips() -> None:
    from dataclasses import replace

    profile = CardProfile("p", replace(PROFILE.jpki, pinless=True))
    again = CardProfile.loads(profile.dumps())
    assert again.jpki.pinless is True
    assert "pinless" not in PROFILE.dumps()  # existing profiles are unchanged


def test_library_reports_pins_locked_by_design() -> None:
    card = pinless_card(False)
    with connect(card=card) as protocol:
        states = {s.name: s for s in pin_status(protocol)}
        assert card_is_pinless(protocol)
        for name in ("auth-pin", "sign-password", "text-pin"):
            assert states[name].locked_by_design and states[name].blocked
        assert not states["text-pin-a"].locked_by_design
        assert states["visual-pin-a"].tries_left is not None
        for ref, value in ((AUTH_PIN, "1234"), (SIGN_PASSWORD, "TEST1234"),
                           (TEXT_PIN, "1234")):
            with pytest.raises(PinLockedByDesignError) as caught:
                verify_pin(protocol, ref, value, force=True)
            assert "locked by design" in caught.value.message
            assert "municipal" not in caught.value.message
            assert caught.value.reason == "pin-locked-by-design"
        assert JpkiSession(protocol).certificate_availability().signature is False


def test_a_really_blocked_pin_is_not_taken_for_the_pinless_card() -> None:
    card = build_card(PROFILE)
    card.key_file(JPKI, 0x18).tries_left = 0
    with connect(card=card) as protocol:
        states = {s.name: s for s in pin_status(protocol)}
        assert states["auth-pin"].blocked and not states["auth-pin"].locked_by_design
        assert not card_is_pinless(protocol)
        with pytest.raises(PinBlockedError) as caught:
            verify_pin(protocol, AUTH_PIN, "1234", force=True)
    assert not isinstance(caught.value, PinLockedByDesignError)
    assert "municipal office" in caught.value.message
    assert "convenience-store" in caught.value.message  # a JPKI secret: kiosks too


def test_cli_pin_status_says_locked_by_design(cli_run: CliRunner, tmp_path: Path) -> None:
    from dataclasses import replace

    path = tmp_path / "pinless.json"
    replace(PROFILE, jpki=replace(PROFILE.jpki, pinless=True)).save(path)
    base = ("--emulator", "--profile", str(path))
    result = cli_run(*base, "pin", "status")
    assert result.code == 0, result.err
    assert "locked by design" in result.out and "BLOCKED" not in result.out
    result = cli_run(*base, "--json", "pin", "status")
    assert '"locked_by_design": true' in result.out
    result = cli_run(*base, "--json", "info")
    assert result.code == 0, result.err
    assert '"locked_by_design": true' in result.out
    result = cli_run(*base, "info")
    assert "locked by design" in result.out
    result = cli_run(*base, "diag")
    assert "locked by design" in result.out and "BLOCKED" not in result.out
    result = cli_run(*base, "pin", "verify", "auth", stdin="1234\n")
    assert result.code == 4 and "locked by design" in result.err
    assert "municipal" not in result.err


# --- smartphone tokens ------------------------------------------------------------------------


@pytest.mark.parametrize("label", ["JPKIAPGPSETOKEN", "JPKIAPIOSTOKEN"])
def test_smartphone_auth_certificate_needs_the_auth_pin(label: str) -> None:
    card = build_card(PROFILE, EmulatorOptions(token_label=label))
    select_jpki(card)
    assert sw(card, "00 B0 8A 00 04") == 0x6982
    recording = RecordingTransport(EmulatorTransport(card))
    protocol = CardProtocol(recording)
    session = JpkiSession(protocol)
    with pytest.raises(SecurityStatusNotSatisfiedError, match="auth PIN"):
        session.read_certificate_der(Slot.AUTH)
    assert recording.count(0x20) == 0  # nothing was verified without being asked
    recording = RecordingTransport(EmulatorTransport(card))
    protocol = CardProtocol(recording)
    der = JpkiSession(protocol).read_certificate_der(Slot.AUTH, auth_pin="1234")
    assert der == PROFILE.jpki.auth_cert
    # Free read (69 82), extended length settled on the free EF 000B, guarded VERIFY, then
    # the auth certificate in one extended READ BINARY.
    ins = [(c[1], c[2:4].hex().upper(), len(c)) for c in recording.commands]
    first_verify = next(i for i, c in enumerate(recording.commands)
                        if c[1] == 0x20 and len(c) > 4)
    assert protocol.extended_supported is True
    # The probe: READ BINARY by SFI 0B (the auth CA certificate), no SELECT.
    assert h("00 B0 8B 00 00 00 00") in recording.commands[:first_verify]
    after = recording.commands[first_verify + 1:]
    assert [c for c in after if c[1] == 0xB0] == [h("00 B0 00 00 00 00 00")], ins


def test_physical_card_reads_the_auth_certificate_without_the_pin() -> None:
    card = build_card(PROFILE)
    recording = RecordingTransport(EmulatorTransport(card))
    der = JpkiSession(CardProtocol(recording)).read_certificate_der(Slot.AUTH, auth_pin="1234")
    assert der == PROFILE.jpki.auth_cert
    assert recording.count(0x20) == 0


def test_challenge_response_on_a_smartphone_token() -> None:
    from mynaid.challenge import respond

    card = build_card(PROFILE, EmulatorOptions(token_label="JPKIAPGPSETOKEN"))
    with connect(card=card) as protocol:
        response = respond(protocol, b"n" * 32, "1234")
    from cryptography.hazmat.primitives.serialization import Encoding

    assert response.certificate.public_bytes(Encoding.DER) == PROFILE.jpki.auth_cert


# --- the library: 62 82, 63 00, the extended-length probe -------------------------------------


@pytest.mark.parametrize("mode", [ExtendedLength.AUTO, ExtendedLength.OFF])
@pytest.mark.parametrize("filler", [0, 300])
def test_eof_warning_ends_a_read_like_6b00(mode: ExtendedLength, filler: int) -> None:
    card = build_card(PROFILE, EmulatorOptions(eof_warning=True, cert_filler=filler))
    with connect(card=card, extended=mode) as protocol:
        session = JpkiSession(protocol)
        for slot in (Slot.AUTH, Slot.AUTH_CA, Slot.SIGN_CA):
            assert session.read_certificate_der(slot) == getattr(
                PROFILE.jpki, {"auth": "auth_cert", "auth-ca": "auth_ca_cert",
                               "sign-ca": "sign_ca_cert"}[slot.value])
        assert session.token_info().label == "JPKIAPICCTOKEN2"
        assert protocol.extended_supported is (True if mode is ExtendedLength.AUTO else False)


def test_eof_warning_inside_the_tlv_is_a_parse_error() -> None:
    from mynaid.iso7816.tlv import encode_tlv

    record = encode_tlv(0x30, bytes(600))

    class Short(EmulatorTransport):
        def transmit(self, apdu: bytes) -> tuple[bytes, int]:
            if apdu[1] == 0xB0:
                offset = (apdu[2] << 8) | apdu[3]
                return record[offset:400], 0x6282  # the EF ends at 400 bytes
            return b"", OK

    protocol = CardProtocol(Short(build_card(PROFILE)), ExtendedLength.OFF)
    with pytest.raises(ParseError, match="ends at"):
        protocol.read_tlv_file()


def test_63_00_means_no_retry_limit() -> None:
    card = build_card(PROFILE)
    key = card.key_file(JPKI, 0x18)
    key.unlimited = True
    with connect(card=card) as protocol:
        state = JpkiSession(protocol).pin_state(AUTH_PIN)
        assert state.no_retry_limit and not state.blocked and state.tries_left is None
        # The guard has nothing to protect: even a reserve of 15 does not refuse.
        session = JpkiSession(protocol, {"auth-pin": 15})
        with pytest.raises(WrongPinError) as caught:
            session.verify(AUTH_PIN, "0000")
        assert caught.value.tries_left is None and caught.value.sw == 0x6300
        session.verify(AUTH_PIN, "1234")
    assert key.tries_left == 3
    error = error_for_sw(0x6300, "verifying")
    assert isinstance(error, WrongPinError) and not isinstance(error, PinBlockedError)


def test_no_extended_probe_after_a_verify() -> None:
    card = build_card(PROFILE)
    recording = RecordingTransport(EmulatorTransport(card))
    protocol = CardProtocol(recording)
    session = JpkiSession(protocol)
    session.verify(AUTH_PIN, "1234")  # a VERIFY first on this connection
    session.read_certificate_der(Slot.AUTH_CA)
    extended = [c for c in recording.commands if c[1] == 0xB0 and len(c) == 7]
    assert extended == [] and protocol.extended_probes == 0
    assert protocol.extended_supported is None


def test_probe_before_the_sign_password_verify_at_most_once() -> None:
    for options in (EmulatorOptions(), EmulatorOptions(extended_length=False)):
        card = build_card(PROFILE, options)
        recording = RecordingTransport(EmulatorTransport(card))
        protocol = CardProtocol(recording)
        session = JpkiSession(protocol)
        assert session.read_certificate_der(Slot.SIGN, "TEST1234") == PROFILE.jpki.sign_cert
        for slot in Slot:
            session.read_certificate_der(slot, "TEST1234" if slot is Slot.SIGN else None)
        assert protocol.extended_probes == 1
        first_verify = next(i for i, c in enumerate(recording.commands)
                            if c[1] == 0x20 and len(c) > 4)
        probes = [i for i, c in enumerate(recording.commands)
                  if c[1] == 0xB0 and len(c) == 7]
        assert probes and probes[0] < first_verify
        assert protocol.extended_supported is options.extended_length
        if not options.extended_length:
            assert len(probes) == 1  # refused once, short reads from then on


def test_probe_helper_is_a_no_op_once_settled() -> None:
    card = build_card(PROFILE)
    protocol = CardProtocol(EmulatorTransport(card))
    session = ApplicationSession(protocol)
    session.aid = Aid.JPKI
    with session.transaction():
        session.probe_extended(0x000B)
        count = protocol.stats.commands
        session.probe_extended(0x000B)
        assert protocol.stats.commands == count


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([0x00, 0x04, 0x08, 0x0C, 0x01, 0x41, 0x80, 0x84, 0x8C]),
       st.sampled_from([0xA4, 0xB0, 0x20, 0x24, 0x2A, 0x84, 0x70, 0xC0]),
       st.integers(0, 255), st.integers(0, 255), st.binary(max_size=300),
       st.booleans())
def test_any_command_gets_a_status_word(cla: int, ins: int, p1: int, p2: int, body: bytes,
                                        select_first: bool) -> None:
    """The new command paths (SFI, schemes, SM, channels) never fail inside the card."""
    card = _FUZZ_CARD
    card.power_on()
    if select_first:
        select_jpki(card)
        verify_sfi(card, 0x18, b"1234")
    raw = card.process(bytes((cla, ins, p1, p2)) + body)
    assert len(raw) >= 2
    card.key_file(JPKI, 0x18).tries_left = 3
    card.key_file(JPKI, 0x1B).tries_left = 5


_FUZZ_CARD = build_card(PROFILE)


def test_cli_exports_a_smartphone_auth_certificate(cli_run: CliRunner, tmp_path: Path) -> None:
    from dataclasses import replace

    path = tmp_path / "phone.json"
    replace(PROFILE, jpki=replace(PROFILE.jpki, token_label="JPKIAPGPSETOKEN")).save(path)
    base = ("--emulator", "--profile", str(path), "cert", "export", "auth", "--format", "der")
    refused = cli_run(*base)
    assert refused.code == 1 and "auth PIN" in refused.err
    target = tmp_path / "auth.der"
    result = cli_run(*base, "--auth-pin", "-o", str(target), stdin="1234\n")
    assert result.code == 0, result.err
    assert target.read_bytes() == PROFILE.jpki.auth_cert
