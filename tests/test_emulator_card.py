"""The emulated card's exact APDU semantics, driven with raw bytes through ``card.process``."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from mynaid.cardspec import DIGEST_INFO_PREFIXES, Aid
from mynaid.emulator import (
    ALTERNATE_ATR,
    DEFAULT_ATR,
    CardProfile,
    EmulatedCard,
    EmulatorOptions,
    build_card,
    default_profile,
)

PROFILE = default_profile()
JPKI = Aid.JPKI.value
SELECT_JPKI = "00 A4 04 0C 0A " + JPKI.hex(" ")
AUTH_PIN, SIGN_PIN = 0x0018, 0x001B
AUTH_KEY, SIGN_KEY = 0x0017, 0x001A
OK = 0x9000
#: An AID that no application of the card has (JPKI's with the last byte changed).
OTHER_AID = JPKI[:-1] + b"\x7f"


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def send(card: EmulatedCard, apdu: str | bytes) -> tuple[bytes, int]:
    raw = card.process(h(apdu) if isinstance(apdu, str) else apdu)
    assert len(raw) >= 2
    return raw[:-2], int.from_bytes(raw[-2:], "big")


def sw(card: EmulatedCard, apdu: str | bytes) -> int:
    return send(card, apdu)[1]


def select_ef(card: EmulatedCard, fid: int) -> int:
    return sw(card, f"00 A4 02 0C 02 {fid:04X}")


def verify(card: EmulatedCard, secret: bytes | None) -> int:
    if secret is None:
        return sw(card, "00 20 00 80")
    return sw(card, bytes((0x00, 0x20, 0x00, 0x80, len(secret))) + secret)


def open_key(card: EmulatedCard, fid: int, select_app: bool = True) -> None:
    if select_app:
        assert sw(card, SELECT_JPKI) == OK
    assert select_ef(card, fid) == OK


def sign_apdu(digest_info: bytes) -> bytes:
    return bytes((0x80, 0x2A, 0x00, 0x80, len(digest_info))) + digest_info + b"\x00"


def sha256_digest_info(data: bytes) -> bytes:
    return DIGEST_INFO_PREFIXES["sha256"] + hashlib.sha256(data).digest()


def read_ef(card: EmulatedCard, fid: int) -> bytes:
    """The whole EF by one extended READ BINARY (the default card accepts them)."""
    assert select_ef(card, fid) == OK
    data, status = send(card, "00 B0 00 00 00 00 00")
    assert status == OK
    return data


@pytest.fixture
def card() -> EmulatedCard:
    return build_card(PROFILE)


@pytest.fixture
def jpki(card: EmulatedCard) -> EmulatedCard:
    """A fresh card with the JPKI application selected."""
    assert sw(card, SELECT_JPKI) == OK
    return card


# --- selection and unsupported commands ------------------------------------------------------


def test_select_known_and_unknown_aids(card: EmulatedCard) -> None:
    assert send(card, SELECT_JPKI) == (b"", OK)
    assert sw(card, "00 A4 04 0C 07 A0 00 00 00 03 10 10") == 0x6A82
    assert sw(card, "00 A4 04 0C 0A " + OTHER_AID.hex()) == 0x6A82  # a near miss of JPKI
    # SELECT by a prefix of an AID selects it (JICSAP, card-reference §9); at least the RID.
    assert sw(card, "00 A4 04 0C 09 " + JPKI[:9].hex()) == OK
    assert sw(card, "00 A4 04 0C 04 " + JPKI[:4].hex()) == 0x6A82
    assert sw(card, "00 A4 04 00 0A " + JPKI.hex()) == OK  # P2 00 also accepted
    assert sw(card, "00 A4 04 04 0A " + JPKI.hex()) == 0x6A86


def test_select_unknown_ef(jpki: EmulatedCard) -> None:
    assert select_ef(jpki, 0x0006) == OK
    assert select_ef(jpki, 0x0099) == 0x6A82


def test_select_ef_before_any_application(card: EmulatedCard) -> None:
    assert select_ef(card, 0x0006) == 0x6A82


@pytest.mark.parametrize("apdu", ["00 CA 00 00 00", "00 D6 00 00 01 00", "80 50 00 00 08",
                                  "00 88 00 00 00"])
def test_unknown_ins(jpki: EmulatedCard, apdu: str) -> None:
    assert sw(jpki, apdu) == 0x6D00


@pytest.mark.parametrize("cla", [0x90, 0xA0, 0x10, 0xC0])
def test_unsupported_cla(card: EmulatedCard, cla: int) -> None:
    assert sw(card, bytes((cla,)) + h("A4 04 0C 0A") + JPKI) == 0x6E00


@pytest.mark.parametrize("cla", [0x01, 0x02, 0x03, 0x81])
def test_logical_channels_other_than_0(card: EmulatedCard, cla: int) -> None:
    assert sw(card, bytes((cla,)) + h("A4 04 0C 0A") + JPKI) == 0x6881


def test_malformed_apdu_is_wrong_length(card: EmulatedCard) -> None:
    assert sw(card, "00 A4 04 0C 05 01 02") == 0x6700
    assert sw(card, "00 A4") == 0x6700


# --- READ BINARY -----------------------------------------------------------------------------


def test_read_binary_without_ef(card: EmulatedCard) -> None:
    assert sw(card, "00 B0 00 00 00") == 0x6986
    assert sw(card, SELECT_JPKI) == OK
    assert sw(card, "00 B0 00 00 00") == 0x6986
    assert select_ef(card, AUTH_PIN) == OK  # a key EF is not readable: 69 81 (§9)
    assert sw(card, "00 B0 00 00 00") == 0x6981


def test_read_binary_offsets(jpki: EmulatedCard) -> None:
    assert select_ef(jpki, 0x0006) == OK  # token info, 160 bytes
    whole, status = send(jpki, "00 B0 00 00 00")
    assert status == OK and len(whole) == 160  # Le 256, fewer remain: the rest is returned
    assert send(jpki, "00 B0 00 9F 00") == (whole[159:], OK)
    assert send(jpki, "00 B0 00 10 04") == (whole[16:20], OK)
    assert sw(jpki, "00 B0 00 A0 01") == 0x6B00  # offset 160 = end of the EF
    assert sw(jpki, "00 B0 7F FF 01") == 0x6B00
    assert sw(jpki, "00 B0 80 00 01") == 0x6A82  # short EF id 0 names no EF (§9: 80|SFI)
    assert sw(jpki, "00 B0 00 00") == 0x6700  # no Le


def test_certificates_are_the_profile_der(jpki: EmulatedCard) -> None:
    jp = PROFILE.jpki
    assert read_ef(jpki, 0x000A) == jp.auth_cert
    assert read_ef(jpki, 0x000B) == jp.auth_ca_cert
    assert read_ef(jpki, 0x0002) == jp.sign_ca_cert
    # Chunked short reads, as OpenSC does: 4 bytes for the length, then 256-byte chunks.
    assert select_ef(jpki, 0x000A) == OK
    head, status = send(jpki, "00 B0 00 00 04")
    assert status == OK and head == jp.auth_cert[:4]
    size = int.from_bytes(head[2:4], "big") + 4
    out = b""
    while len(out) < size:
        want = min(256, size - len(out))
        chunk, status = send(jpki, bytes((0, 0xB0, len(out) >> 8, len(out) & 0xFF,
                                          want & 0xFF)))
        assert status == OK
        out += chunk
    assert out == jp.auth_cert


def test_sign_certificate_needs_the_password(jpki: EmulatedCard) -> None:
    assert select_ef(jpki, 0x0001) == OK
    assert sw(jpki, "00 B0 00 00 00") == 0x6982
    assert select_ef(jpki, SIGN_PIN) == OK
    assert verify(jpki, b"TEST1234") == OK
    assert read_ef(jpki, 0x0001) == PROFILE.jpki.sign_cert
    # The auth PIN does not open it.
    open_key(jpki, AUTH_PIN)
    assert verify(jpki, b"1234") == OK
    assert select_ef(jpki, 0x0001) == OK
    assert sw(jpki, "00 B0 00 00 00") == 0x6982


def test_certificate_availability(jpki: EmulatedCard) -> None:
    assert select_ef(jpki, 0x0008) == OK
    assert send(jpki, "00 B0 00 00 03") == (h("8F 8F 00"), OK)


def test_certificate_availability_without_signature_certificate() -> None:
    young = CardProfile(PROFILE.name, dataclasses.replace(PROFILE.jpki, sign_cert=None,
                                                          sign_key=None))
    card = build_card(young)
    open_key(card, 0x0008)
    assert send(card, "00 B0 00 00 03") == (h("00 8F 00"), OK)
    assert select_ef(card, 0x0001) == 0x6A82
    assert select_ef(card, SIGN_KEY) == 0x6A82


def test_token_info(jpki: EmulatedCard) -> None:
    assert select_ef(jpki, 0x0006) == OK
    data, status = send(jpki, "00 B0 00 00 A0")
    assert status == OK
    assert len(data) == 160
    assert data[:32] == b"JPKIAPICCTOKEN2" + b" " * 17
    # The rest is a serialised CK_TOKEN_INFO (card-reference §9), checked in
    # tests/test_emulator_fidelity.py.
    assert data[32:64] == b"J-LIS".ljust(32, b" ")


# --- VERIFY and the retry counters -----------------------------------------------------------


def test_verify_counter_sequence_to_blocked(jpki: EmulatedCard) -> None:
    assert select_ef(jpki, AUTH_PIN) == OK
    assert verify(jpki, None) == 0x63C3
    assert verify(jpki, b"0000") == 0x63C2
    assert verify(jpki, None) == 0x63C2  # the query uses no try
    assert verify(jpki, b"9999") == 0x63C1
    assert verify(jpki, b"4321") == 0x63C0  # this attempt blocked the key
    assert verify(jpki, b"1234") == 0x6984  # even the right PIN
    assert verify(jpki, b"0000") == 0x6984
    assert verify(jpki, None) == 0x63C0
    assert jpki.key_file(JPKI, AUTH_PIN).tries_left == 0


def test_sign_password_has_five_tries(jpki: EmulatedCard) -> None:
    assert select_ef(jpki, SIGN_PIN) == OK
    assert verify(jpki, None) == 0x63C5
    for left in (4, 3, 2, 1, 0):
        assert verify(jpki, b"WRONG1") == 0x63C0 | left
    assert verify(jpki, b"TEST1234") == 0x6984


def test_right_pin_resets_the_counter(jpki: EmulatedCard) -> None:
    assert select_ef(jpki, AUTH_PIN) == OK
    assert verify(jpki, b"0000") == 0x63C2
    assert verify(jpki, b"0000") == 0x63C1
    assert verify(jpki, b"1234") == OK
    assert verify(jpki, None) == 0x63C3  # default: query still answers the count
    assert jpki.key_file(JPKI, AUTH_PIN).tries_left == 3


def test_sign_password_is_case_sensitive_on_the_card(jpki: EmulatedCard) -> None:
    # The card compares bytes; upper-casing is the library's job (card-reference §4).
    assert select_ef(jpki, SIGN_PIN) == OK
    assert verify(jpki, b"test1234") == 0x63C4


def test_verify_without_key_ef_and_bad_p2(jpki: EmulatedCard) -> None:
    assert verify(jpki, None) == 0x6986
    assert select_ef(jpki, 0x0006) == OK  # a binary EF is not a key
    assert verify(jpki, b"1234") == 0x6986
    assert select_ef(jpki, AUTH_PIN) == OK
    assert sw(jpki, "00 20 00 81 04 31 32 33 34") == 0x6A88  # SFI 1 is no key (§9)
    assert sw(jpki, "00 20 00 00 04 31 32 33 34") == 0x6A86
    assert sw(jpki, "00 20 01 80") == 0x6A86
    assert jpki.key_file(JPKI, AUTH_PIN).tries_left == 3


@pytest.mark.parametrize("power", ["power_on", "reset", "power_off"])
def test_counters_persist_across_power(jpki: EmulatedCard, power: str) -> None:
    assert select_ef(jpki, AUTH_PIN) == OK
    assert verify(jpki, b"0000") == 0x63C2
    getattr(jpki, power)()
    open_key(jpki, AUTH_PIN)  # power_off: the next APDU powers the card on again
    assert verify(jpki, None) == 0x63C2


@pytest.mark.parametrize("clear", ["power_on", "reset", "select_jpki", "select_other_app"])
def test_verified_state_is_cleared(jpki: EmulatedCard, clear: str) -> None:
    open_key(jpki, AUTH_PIN, select_app=False)
    assert verify(jpki, b"1234") == OK
    assert select_ef(jpki, AUTH_KEY) == OK
    digest_info = sha256_digest_info(b"before")
    assert sw(jpki, sign_apdu(digest_info)) == OK
    if clear == "select_other_app":
        other = build_card(PROFILE)
        # A second application on the same card: selecting it clears JPKI's state.
        jpki.applications[OTHER_AID] = dataclasses.replace(
            other.applications[JPKI], aid=OTHER_AID, name="other")
        assert sw(jpki, "00 A4 04 0C 0A " + OTHER_AID.hex()) == OK
        assert sw(jpki, SELECT_JPKI) == OK
    elif clear == "select_jpki":
        assert sw(jpki, SELECT_JPKI) == OK
    else:
        getattr(jpki, clear)()
        assert select_ef(jpki, AUTH_KEY) == 0x6A82  # no application selected any more
        assert sw(jpki, SELECT_JPKI) == OK
    assert select_ef(jpki, AUTH_KEY) == OK
    assert sw(jpki, sign_apdu(digest_info)) == 0x6982
    assert jpki.key_file(JPKI, AUTH_PIN).tries_left == 3


def test_selecting_an_ef_keeps_the_verified_state(jpki: EmulatedCard) -> None:
    assert select_ef(jpki, AUTH_PIN) == OK
    assert verify(jpki, b"1234") == OK
    assert select_ef(jpki, 0x0006) == OK
    assert select_ef(jpki, AUTH_KEY) == OK
    assert sw(jpki, sign_apdu(sha256_digest_info(b"x"))) == OK


def test_wrong_verify_drops_the_verified_state(jpki: EmulatedCard) -> None:
    assert select_ef(jpki, AUTH_PIN) == OK
    assert verify(jpki, b"1234") == OK
    assert verify(jpki, b"0000") == 0x63C2
    assert select_ef(jpki, AUTH_KEY) == OK
    assert sw(jpki, sign_apdu(sha256_digest_info(b"x"))) == 0x6982


# --- CHANGE REFERENCE DATA -------------------------------------------------------------------


def _change(card: EmulatedCard, new: bytes, p1: int = 0x01) -> int:
    return sw(card, bytes((0x00, 0x24, p1, 0x80, len(new))) + new)


def test_change_reference_data(jpki: EmulatedCard) -> None:
    assert select_ef(jpki, AUTH_PIN) == OK
    assert _change(jpki, b"5678") == 0x6982  # needs VERIFY first
    assert verify(jpki, b"1234") == OK
    for bad in (b"12a4", b"12345", b"123", b"\x00\x01\x02\x03"):
        assert _change(jpki, bad) == 0x6A80
    assert _change(jpki, b"5678", p1=0x00) == 0x6A86
    assert _change(jpki, b"5678") == OK
    jpki.power_on()
    open_key(jpki, AUTH_PIN)
    assert verify(jpki, b"1234") == 0x63C2
    assert verify(jpki, b"5678") == OK
    assert jpki.key_file(JPKI, AUTH_PIN).tries_left == 3


def test_change_sign_password_format(jpki: EmulatedCard) -> None:
    assert select_ef(jpki, SIGN_PIN) == OK
    assert verify(jpki, b"TEST1234") == OK
    for bad in (b"new5678a", b"ABC12", b"A" * 17, b"ABC 1234"):
        assert _change(jpki, bad) == 0x6A80
    assert _change(jpki, b"NEWPASS99") == OK
    jpki.reset()
    open_key(jpki, SIGN_PIN)
    assert verify(jpki, b"NEWPASS99") == OK


def test_change_reference_data_on_blocked_key(jpki: EmulatedCard) -> None:
    assert select_ef(jpki, AUTH_PIN) == OK
    for _ in range(3):
        verify(jpki, b"0000")
    assert _change(jpki, b"5678") == 0x6984


# --- COMPUTE DIGITAL SIGNATURE ---------------------------------------------------------------


def _public_key(der: bytes | None) -> rsa.RSAPublicKey:
    assert der is not None
    key = x509.load_der_x509_certificate(der).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


@pytest.mark.parametrize(("pin_fid", "secret", "key_fid", "cert"), [
    (AUTH_PIN, b"1234", AUTH_KEY, PROFILE.jpki.auth_cert),
    (SIGN_PIN, b"TEST1234", SIGN_KEY, PROFILE.jpki.sign_cert),
])
def test_signature_verifies(jpki: EmulatedCard, pin_fid: int, secret: bytes, key_fid: int,
                            cert: bytes | None) -> None:
    data = b"message signed by the emulated card"
    digest_info = sha256_digest_info(data)
    apdu = sign_apdu(digest_info)
    assert apdu[:5] == h("80 2A 00 80 33") and apdu[-1] == 0x00
    assert select_ef(jpki, key_fid) == OK
    assert sw(jpki, apdu) == 0x6982  # without the PIN
    assert select_ef(jpki, pin_fid) == OK
    assert verify(jpki, secret) == OK
    assert select_ef(jpki, key_fid) == OK
    signature, status = send(jpki, apdu)
    assert status == OK
    assert len(signature) == 256
    _public_key(cert).verify(signature, data, padding.PKCS1v15(), hashes.SHA256())


def test_signature_needs_the_matching_pin(jpki: EmulatedCard) -> None:
    assert select_ef(jpki, AUTH_PIN) == OK
    assert verify(jpki, b"1234") == OK
    assert select_ef(jpki, SIGN_KEY) == OK
    assert sw(jpki, sign_apdu(sha256_digest_info(b"x"))) == 0x6982


def test_signature_errors(jpki: EmulatedCard) -> None:
    assert sw(jpki, sign_apdu(sha256_digest_info(b"x"))) == 0x6986  # no current EF
    assert select_ef(jpki, AUTH_PIN) == OK
    assert verify(jpki, b"1234") == OK
    assert select_ef(jpki, AUTH_KEY) == OK
    assert sw(jpki, sign_apdu(bytes(246))) == 0x6700  # too long for PKCS#1 v1.5 in 2048 bits
    assert sw(jpki, b"\x80\x2a\x06\x80\x01\x00\x00") == 0x6A86  # P1 00-05 are schemes (§9)


# --- variants --------------------------------------------------------------------------------


def test_get_response_variant() -> None:
    card = build_card(PROFILE, EmulatorOptions(use_get_response=True))
    assert send(card, SELECT_JPKI) == (b"", OK)  # no data, so no 61 xx
    assert select_ef(card, 0x0006) == OK
    assert send(card, "00 B0 00 00 00") == (b"", 0x61A0)
    first, status = send(card, "00 C0 00 00 40")
    assert (len(first), status) == (64, 0x6160)
    rest, status = send(card, "00 C0 00 00 60")
    assert (len(rest), status) == (96, OK)
    assert (first + rest)[:32] == b"JPKIAPICCTOKEN2".ljust(32)
    assert sw(card, "00 C0 00 00 00") == 0x6985  # nothing pending any more


def test_get_response_variant_certificate_in_chunks() -> None:
    card = build_card(PROFILE, EmulatorOptions(use_get_response=True))
    open_key(card, 0x000A)
    assert send(card, "00 B0 00 00 00 00 00") == (b"", 0x6100)  # 256 or more
    out = b""
    status = 0x6100
    rounds = 0
    while status != OK:
        assert status >> 8 == 0x61
        chunk, status = send(card, bytes((0, 0xC0, 0, 0, status & 0xFF)))
        out += chunk
        rounds += 1
    assert out == PROFILE.jpki.auth_cert
    assert rounds == -(-len(out) // 256)


def test_get_response_pending_data_is_dropped_by_another_command() -> None:
    card = build_card(PROFILE, EmulatorOptions(use_get_response=True))
    open_key(card, 0x0006)
    assert sw(card, "00 B0 00 00 00") == 0x61A0
    assert select_ef(card, 0x0008) == OK
    assert sw(card, "00 C0 00 00 00") == 0x6985


def test_get_response_variant_signature() -> None:
    card = build_card(PROFILE, EmulatorOptions(use_get_response=True))
    open_key(card, AUTH_PIN)
    assert verify(card, b"1234") == OK
    assert select_ef(card, AUTH_KEY) == OK
    assert send(card, sign_apdu(sha256_digest_info(b"x"))) == (b"", 0x6100)
    signature, status = send(card, "00 C0 00 00 00")
    assert (len(signature), status) == (256, OK)
    _public_key(PROFILE.jpki.auth_cert).verify(signature, b"x", padding.PKCS1v15(),
                                               hashes.SHA256())


def test_strict_le_variant() -> None:
    card = build_card(PROFILE, EmulatorOptions(strict_le=True))
    open_key(card, 0x0006)
    assert sw(card, "00 B0 00 00 00") == 0x6CA0  # exactly 160 available
    data, status = send(card, "00 B0 00 00 A0")
    assert (len(data), status) == (160, OK)
    assert sw(card, "00 B0 00 64 00") == 0x6C3C  # offset 100: 60 remain
    assert send(card, "00 B0 00 64 3C") == (data[100:], OK)
    assert select_ef(card, 0x0008) == OK
    assert sw(card, "00 B0 00 00 04") == 0x6C03
    # Extended reads are not affected.
    assert select_ef(card, 0x000A) == OK
    assert send(card, "00 B0 00 00 00 00 00") == (PROFILE.jpki.auth_cert, OK)


def test_default_card_returns_fewer_bytes_instead_of_6c() -> None:
    card = build_card(PROFILE)
    open_key(card, 0x0008)
    assert send(card, "00 B0 00 00 04") == (h("8F 8F 00"), OK)


@pytest.mark.parametrize("verified_query_ok", [False, True])
def test_verified_query_variant(verified_query_ok: bool) -> None:
    card = build_card(PROFILE, EmulatorOptions(verified_query_ok=verified_query_ok))
    open_key(card, AUTH_PIN)
    assert verify(card, None) == 0x63C3  # not verified yet: always the count
    assert verify(card, b"1234") == OK
    assert verify(card, None) == (OK if verified_query_ok else 0x63C3)
    open_key(card, SIGN_PIN)
    assert verify(card, None) == 0x63C5  # another key: not verified
    card.reset()
    open_key(card, AUTH_PIN)
    assert verify(card, None) == 0x63C3


def test_extended_length_refused_variant() -> None:
    card = build_card(PROFILE, EmulatorOptions(extended_length=False))
    open_key(card, 0x000A)
    assert sw(card, "00 B0 00 00 00 00 00") == 0x6700
    assert sw(card, "00 B0 00 00 00 01 00") == 0x6700
    assert sw(card, "00 A4 02 0C 00 00 02 00 0A") == 0x6700  # case 3E
    data, status = send(card, "00 B0 00 00 00")  # short still works
    assert (data, status) == (PROFILE.jpki.auth_cert[:256], OK)


def test_extended_length_default() -> None:
    card = build_card(PROFILE)
    open_key(card, 0x000A)
    assert send(card, "00 B0 00 00 00 01 00") == (PROFILE.jpki.auth_cert[:256], OK)
    assert send(card, "00 B0 00 10 00 00 20") == (PROFILE.jpki.auth_cert[16:48], OK)
    assert sw(card, "00 A4 02 0C 00 00 02 00 0B") == OK  # case 3E select


@pytest.mark.parametrize("filler", [1, 300])
def test_cert_filler_variant(filler: int) -> None:
    card = build_card(PROFILE, EmulatorOptions(cert_filler=filler))
    assert sw(card, SELECT_JPKI) == OK
    for fid, der in ((0x000A, PROFILE.jpki.auth_cert), (0x000B, PROFILE.jpki.auth_ca_cert),
                     (0x0002, PROFILE.jpki.sign_ca_cert)):
        content = read_ef(card, fid)
        assert content == der + b"\xff" * filler
    assert select_ef(card, 0x0006) == OK
    assert len(send(card, "00 B0 00 00 00")[0]) == 160  # only certificates get filler


def test_atr_variants() -> None:
    assert build_card(PROFILE).atr == DEFAULT_ATR == h("3B E0 00 FF 81 31 FE 45 14")
    card = build_card(PROFILE, EmulatorOptions(atr=ALTERNATE_ATR))
    assert card.power_on() == ALTERNATE_ATR
    assert card.reset() == ALTERNATE_ATR


def test_get_challenge(jpki: EmulatedCard) -> None:
    data, status = send(jpki, "00 84 00 00 08")
    assert (len(data), status) == (8, OK)
    assert sw(jpki, "00 84 00 00") == 0x6700
    assert sw(jpki, "00 84 00 01 08") == 0x6A86


def test_apdu_count_and_power(card: EmulatedCard) -> None:
    card.power_off()
    assert not card.powered
    before = card.apdu_count
    assert sw(card, SELECT_JPKI) == OK  # an APDU powers the card on
    assert card.powered
    assert sw(card, "00 CA 00 00 00") == 0x6D00
    assert card.apdu_count == before + 2


# --- robustness ------------------------------------------------------------------------------

_headers = st.tuples(st.sampled_from([0x00, 0x80, 0x01, 0x90]),
                     st.sampled_from([0xA4, 0xB0, 0x20, 0x24, 0x2A, 0x84, 0xC0, 0xCA]),
                     st.integers(0, 255), st.integers(0, 255)).map(bytes)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=40),
                          st.tuples(_headers, st.binary(max_size=40)).map(b"".join)),
                max_size=6))
def test_any_apdu_sequence_gets_a_status_word(apdus: list[bytes]) -> None:
    card = build_card(PROFILE)
    card.process(h(SELECT_JPKI))
    for raw in apdus:
        response = card.process(raw)
        assert len(response) >= 2
    for fid in (AUTH_PIN, SIGN_PIN):
        assert 0 <= card.key_file(JPKI, fid).tries_left <= card.key_file(JPKI, fid).max_tries
