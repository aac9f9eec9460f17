"""The text and visual applications in-process: emulator, sessions, integrity, privacy, CLI.

The default test card (vectors/default-card.json) holds: text PIN 5678, My Number
123456789018 (= 照合番号A), 照合番号B 55021720352285 (born 1980-02-17, expiry 2035, code
2285), birth-date key 550217.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mynaid.cardspec import (
    TEXT_PIN,
    TEXT_PIN_A,
    TEXT_PIN_B,
    TEXT_READ_ACCESS,
    VISUAL_PIN_A,
    VISUAL_PIN_B,
    VISUAL_READ_ACCESS,
    Aid,
    TextFile,
    VisualFile,
)
from mynaid.cli.main import main as cli_main
from mynaid.emulator import EmulatedCard, build_card
from mynaid.emulator.filesystem import BinaryFile, PrivateKeyFile
from mynaid.emulator.profile import CardProfile
from mynaid.emulator.textvisual import text_records, visual_records
from mynaid.errors import (
    FileNotFoundOnCardError,
    InvalidSecretError,
    LockoutGuardError,
    ParseError,
    SecurityStatusNotSatisfiedError,
    WrongPinError,
)
from mynaid.integrity import (
    IssuerKey,
    check_text,
    check_visual,
    load_issuer_key,
    load_issuer_keys,
)
from mynaid.iso7816 import status as sw
from mynaid.iso7816.apdu import CommandApdu
from mynaid.iso7816.tlv import parse_first
from mynaid.protocol import CardProtocol, ExtendedLength
from mynaid.records import CardFace, MyNumber, TextIntegrityRecord
from mynaid.sessions.text import TextSession
from mynaid.sessions.visual import VisualSession
from mynaid.transport.emulated import EmulatorTransport

ROOT = Path(__file__).resolve().parent.parent
PKI = ROOT / "vectors" / "test-pki"
TEXT_PIN_VALUE = "5678"
MY_NUMBER = "123456789018"
PIN_B = "55021720352285"
BIRTH_KEY = "550217"
OTHER_VALID_NUMBER = "537686677188"

TEXT_SECRETS = {"pin": TEXT_PIN_VALUE, "pin-a": MY_NUMBER, "pin-b": PIN_B}
VISUAL_SECRETS = {"pin-a": MY_NUMBER, "pin-b": PIN_B, "birth": BIRTH_KEY}
TEXT_KEY_FIDS = {"pin": TextFile.PIN, "pin-a": TextFile.PIN_A, "pin-b": TextFile.PIN_B}
VISUAL_KEY_FIDS = {"pin-a": VisualFile.PIN_A, "pin-b": VisualFile.PIN_B,
                   "birth": VisualFile.BIRTH_KEY}
#: Everything a leak test looks for: the secrets as text and as the hex the trace prints.
SECRETS = [MY_NUMBER, PIN_B, TEXT_PIN_VALUE + "\x00"]


def forms(value: str) -> list[str]:
    raw = value.encode()
    return [value, raw.hex(), raw.hex().upper(), raw.hex(" ").upper()]


LEAK_FORMS = forms(MY_NUMBER) + forms(PIN_B) + forms(OTHER_VALID_NUMBER)


@pytest.fixture(scope="module")
def issuer_keys() -> list[IssuerKey]:
    return [load_issuer_key(PKI / "text-issuer.pem"), load_issuer_key(PKI / "visual-issuer.pem")]


@pytest.fixture
def text(protocol: CardProtocol) -> TextSession:
    return TextSession(protocol)


@pytest.fixture
def visual(protocol: CardProtocol) -> VisualSession:
    return VisualSession(protocol)


def ef(card: EmulatedCard, aid: Aid, fid: int) -> BinaryFile:
    node = card.applications[aid.value].files[fid]
    assert isinstance(node, BinaryFile)
    return node


def tlv_of(content: bytes) -> bytes:
    return parse_first(content).raw


# --- the profile and the emulator's records ---------------------------------------------------


def test_profile_sections(profile: CardProfile) -> None:
    assert profile.text is not None and profile.visual is not None
    assert profile.text.my_number == MY_NUMBER and profile.text.pin_b == PIN_B
    assert profile.text.name == "試験\u3000花子"
    assert "１" in profile.text.address  # full-width digits
    assert profile.visual.birth_key == BIRTH_KEY
    # The profile's repr shows no secret.
    for value in (MY_NUMBER, PIN_B, BIRTH_KEY, TEXT_PIN_VALUE, "2285"):
        assert value not in repr(profile.text) and value not in repr(profile.visual)


def test_profile_json_round_trip(profile: CardProfile) -> None:
    again = CardProfile.loads(profile.dumps())
    assert again.dumps() == profile.dumps()


def test_profile_derives_pin_b_and_birth_key(profile: CardProfile) -> None:
    obj = json.loads(profile.dumps())
    del obj["visual"]["pin_b"], obj["visual"]["birth_key"]
    assert profile.visual is not None
    visual = CardProfile.loads(json.dumps(obj)).visual
    assert visual is not None
    assert (visual.pin_b, visual.birth_key) == (PIN_B, BIRTH_KEY)


@pytest.mark.parametrize(("section", "key", "value"), [
    ("text", "my_number", "123456789012"),  # bad check digit
    ("text", "pin", "12345"),
    ("visual", "expiry", "20350230"),
    ("visual", "photo", "not base64!"),
    ("visual", "tries", {"pin_a": 0}),
    ("visual", "tries", {"pin_c": 3}),
])
def test_profile_validation(profile: CardProfile, section: str, key: str,
                            value: object) -> None:
    obj = json.loads(profile.dumps())
    obj[section][key] = value
    with pytest.raises(ParseError) as info:
        CardProfile.loads(json.dumps(obj))
    assert MY_NUMBER not in str(info.value)


def test_tries_come_from_the_profile(profile: CardProfile) -> None:
    assert profile.visual is not None and profile.text is not None
    card = build_card(profile)
    assert card.key_file(Aid.TEXT.value, TextFile.PIN_B).max_tries == TEXT_PIN_B.max_tries
    assert card.key_file(Aid.VISUAL.value, VisualFile.PIN_A).max_tries == VISUAL_PIN_A.max_tries
    changed = dataclasses.replace(profile, visual=dataclasses.replace(
        profile.visual, tries={"pin_a": 5, "pin_b": 2, "birth": 7}))
    card = build_card(CardProfile.loads(changed.dumps()))
    assert card.key_file(Aid.VISUAL.value, VisualFile.PIN_B).max_tries == 2
    assert card.key_file(Aid.VISUAL.value, VisualFile.BIRTH_KEY).tries_left == 7


def test_record_layouts(profile: CardProfile) -> None:
    assert profile.text is not None and profile.visual is not None
    t = text_records(profile.text)
    # §5: 17-byte My Number EF, 336-byte integrity record, 568-byte CV certificate.
    assert t[TextFile.MY_NUMBER] == b"\xff\x10\x0c" + MY_NUMBER.encode() + b"\xff\xff"
    assert len(t[TextFile.INTEGRITY]) == 336
    assert t[TextFile.INTEGRITY][:5] == bytes.fromhex("FF3082014B")
    assert len(t[TextFile.CV_CERTIFICATE]) == 568
    assert t[TextFile.CV_CERTIFICATE][:5] == bytes.fromhex("7F21820233")
    body = t[TextFile.CV_CERTIFICATE][5:]
    assert body[:5] == bytes.fromhex("5F4E820129")
    assert body[5:12] == b"6000033" and body[12:14] == b"\x08\x05"
    assert body[37:46] == bytes.fromhex("900301000191820100")
    v = visual_records(profile.visual)
    face = v[VisualFile.FACE]
    assert face[:3] == bytes.fromhex("FF2082")
    # DF21 holds the file offsets of DF22..DF2A.
    df21 = parse_first(face).children()[0]
    offsets = [int.from_bytes(df21.value[i : i + 2], "big") for i in range(0, 18, 2)]
    assert [face[o : o + 2] for o in offsets] == [bytes((0xDF, t)) for t in range(0x22, 0x2B)]
    assert v[VisualFile.CV_CERTIFICATE][10:17] == b"6000023"  # issuer key id
    # Text DF21 offsets as well.
    attributes = t[TextFile.ATTRIBUTES]
    df21 = parse_first(attributes).children()[0]
    offsets = [int.from_bytes(df21.value[i : i + 2], "big") for i in range(0, 8, 2)]
    assert [attributes[o : o + 2] for o in offsets] == [bytes((0xDF, t))
                                                        for t in range(0x22, 0x26)]


# --- access rules: every credential against every EF -----------------------------------------

TEXT_WHAT = {TextFile.MY_NUMBER: "My Number", TextFile.ATTRIBUTES: "attributes",
             TextFile.INTEGRITY: "integrity", TextFile.CV_CERTIFICATE: "CV certificate",
             TextFile.AP_INFO: "AP info"}
VISUAL_WHAT = {VisualFile.AGE: "age", VisualFile.FACE: "face", VisualFile.BASIC_INFO: "basic",
               VisualFile.CV_CERTIFICATE: "CV certificate",
               VisualFile.MY_NUMBER_IMAGE: "number image", VisualFile.EXTRA: "extra"}


def access_cases() -> Iterator[tuple[str, int, str | None, bool]]:
    for fid, keys in TEXT_READ_ACCESS.items():
        for cred in [None, *TEXT_SECRETS]:
            opens = keys is None or (cred is not None and TEXT_KEY_FIDS[cred] in keys)
            yield "text", int(fid), cred, opens
    for fid, keys in VISUAL_READ_ACCESS.items():
        for cred in [None, *VISUAL_SECRETS]:
            opens = keys is None or (cred is not None and VISUAL_KEY_FIDS[cred] in keys)
            yield "visual", int(fid), cred, opens


@pytest.mark.parametrize(("ap", "fid", "credential", "opens"), list(access_cases()))
def test_access_matrix(card: EmulatedCard, protocol: CardProtocol, ap: str, fid: int,
                       credential: str | None, opens: bool) -> None:
    session = TextSession(protocol) if ap == "text" else VisualSession(protocol)
    aid = Aid.TEXT if ap == "text" else Aid.VISUAL
    secret = None if credential is None else (TEXT_SECRETS if ap == "text"
                                              else VISUAL_SECRETS)[credential]
    # Text 0008 and visual 0006 hold 16 x FF, no TLV (card-reference §9): read as bytes.
    filler = (ap, fid) in {("text", TextFile.EXTRA), ("visual", VisualFile.EXTRA)}

    def read() -> bytes:
        if filler:
            return session.read_bytes(fid, 16, f"EF {fid:04X}", credential, secret)
        return session.read_raw(fid, f"EF {fid:04X}", 0x7FFF, credential, secret)
    if opens:
        data = read()
        content = ef(card, aid, fid).content
        assert data == (content if filler else tlv_of(content))
    else:
        with pytest.raises(SecurityStatusNotSatisfiedError) as info:
            read()
        assert info.value.sw == sw.SW_SECURITY_STATUS_NOT_SATISFIED
        assert f"EF {fid:04X}" in str(info.value) and "6982" in str(info.value)
    # A correct secret never costs a try.
    for key in ((TEXT_KEY_FIDS if ap == "text" else VISUAL_KEY_FIDS).values()):
        node = card.key_file(aid.value, key)
        assert node.tries_left == node.max_tries


@pytest.mark.parametrize("credential", ["pin", "pin-a", "pin-b"])
def test_text_fields_match_profile(text: TextSession, profile: CardProfile,
                                   credential: str) -> None:
    assert profile.text is not None
    data = text.read(TEXT_SECRETS[credential], credential)
    if credential in ("pin", "pin-a"):
        assert data.my_number is not None and data.my_number.value == profile.text.my_number
    else:
        assert data.my_number is None
    if credential in ("pin", "pin-b"):
        a = data.attributes
        assert a is not None
        assert (a.name, a.address, a.birth_text, a.sex.value) == (
            profile.text.name, profile.text.address, profile.text.birth, profile.text.sex)
        assert (a.family_name, a.given_name) == ("試験", "花子")
    else:
        assert data.attributes is None


@pytest.mark.parametrize("credential", ["pin-a", "pin-b"])
def test_visual_fields_match_profile(visual: VisualSession, profile: CardProfile,
                                     credential: str) -> None:
    v = profile.visual
    assert v is not None
    face = visual.face(VISUAL_SECRETS[credential], credential)
    assert (face.birth_text, face.sex.value, face.expiry_text) == (v.birth, v.sex, v.expiry)
    assert face.name_image == v.name_image and face.address_image == v.address_image
    assert face.photo == v.photo and face.security_code_image == v.security_code_image
    assert face.photo_format.value == "jp2"
    assert face.card_public_key.public_numbers() == v.card_key.public_key().public_numbers()


def test_visual_other_records(visual: VisualSession, profile: CardProfile) -> None:
    assert profile.visual is not None
    age = visual.age_record(BIRTH_KEY)
    assert age.birth_text == profile.visual.birth
    assert visual.my_number_image(MY_NUMBER) == profile.visual.my_number_image
    with pytest.raises(SecurityStatusNotSatisfiedError):
        visual.read_raw(VisualFile.MY_NUMBER_IMAGE, "number image", 4096, "pin-b", PIN_B)
    # Visual 0003 (card-reference §9): the municipality code is DF34, 5 ASCII digits.
    assert visual.basic_info().get(0xDF34) == profile.visual.municipality_code[:5].encode()
    assert visual.basic_info_record().municipality_code == profile.visual.municipality_code[:5]


def test_text_free_records(text: TextSession, profile: CardProfile) -> None:
    cert = text.cv_certificate()
    assert cert.issuer_key_id.issuer == "6000033"
    # Text 0005 DF42 names a key that is not the EF 0004 key (card-reference §9).
    info = text.ap_info_record()
    assert text.ap_info().get(0xDF42) == info.key_id.raw != cert.subject_key_id.raw
    assert info.identification == bytes.fromhex("01030E01") and len(info.trailing) == 128
    assert info.trailing[32:] == b"\xff" * 96


def test_unknown_credential_name(text: TextSession) -> None:
    with pytest.raises(ValueError, match="unknown credential") as info:
        text.read(TEXT_PIN_VALUE, "birth")
    # Arguments swapped by mistake: the message must not echo the secret.
    with pytest.raises(ValueError) as swapped:
        text.read("pin-a", MY_NUMBER)  # type: ignore[arg-type]
    assert MY_NUMBER not in str(swapped.value) and "birth" not in str(info.value)
    with pytest.raises(ValueError, match="another application"):
        text.read(MY_NUMBER, VISUAL_PIN_A)


# --- secrets: checked before any APDU; counters; lockout guard -------------------------------


@pytest.mark.parametrize(("credential", "secret"), [
    ("pin", "123"), ("pin", "12345"), ("pin", "12a4"),
    ("pin-a", "123456789012"),  # 12 digits but a wrong check digit
    ("pin-a", "12345678901"),
    ("pin-b", "5502172035228"), ("pin-b", "55130120352285"),  # month 13
    ("pin-b", "55023220352285"),  # day 32
])
def test_bad_secret_sends_nothing(card: EmulatedCard, text: TextSession, credential: str,
                                  secret: str) -> None:
    before = card.apdu_count
    with pytest.raises(InvalidSecretError) as info:
        text.read(secret, credential)
    assert card.apdu_count == before
    assert secret not in str(info.value)


def test_bad_birth_key_sends_nothing(card: EmulatedCard, visual: VisualSession) -> None:
    before = card.apdu_count
    for secret in ("55021", "551317", "abcdef"):
        with pytest.raises(InvalidSecretError):
            visual.age_record(secret)
    assert card.apdu_count == before


def test_wrong_secret_counts_and_guard(card: EmulatedCard, visual: VisualSession) -> None:
    wrong = "55021720350000"
    key = card.key_file(Aid.VISUAL.value, VisualFile.PIN_B)
    # The visual keys have 10 tries (card-reference §9): start from 3 left.
    assert key.max_tries == VISUAL_PIN_B.max_tries == 10
    key.tries_left = 3
    with pytest.raises(WrongPinError) as info:
        visual.face(wrong, "pin-b")
    assert info.value.tries_left == 2
    assert wrong not in str(info.value)
    with pytest.raises(WrongPinError):
        visual.face(wrong, "pin-b")
    # One try left: the guard refuses without sending the VERIFY.
    assert key.tries_left == 1
    with pytest.raises(LockoutGuardError):
        visual.face(PIN_B, "pin-b")
    assert key.tries_left == 1
    visual.face(PIN_B, "pin-b", force=True)  # the right value resets the counter
    assert key.tries_left == key.max_tries


def test_text_pin_a_wrong_number(card: EmulatedCard, text: TextSession) -> None:
    with pytest.raises(WrongPinError) as info:
        text.my_number(OTHER_VALID_NUMBER, "pin-a")
    for form in LEAK_FORMS:
        assert form not in str(info.value) and form not in repr(info.value)
    assert card.key_file(Aid.TEXT.value, TextFile.PIN_A).tries_left == TEXT_PIN_A.max_tries - 1


def test_secrets_cannot_be_changed(card: EmulatedCard, protocol: CardProtocol) -> None:
    # 照合番号 are derived from the card face: CHANGE REFERENCE DATA is refused (6A 80).
    text = TextSession(protocol)
    with text.transaction():
        text.verify(TEXT_PIN_B, PIN_B)
        response = protocol.send(CommandApdu(0x00, 0x24, 0x01, 0x80, b"12345678901234",
                                             redact=True))
    assert response.sw == 0x6A80
    assert card.key_file(Aid.TEXT.value, TextFile.PIN_B).secret == PIN_B.encode()
    with text.transaction():
        text.verify(TEXT_PIN, TEXT_PIN_VALUE)
        response = protocol.send(CommandApdu(0x00, 0x24, 0x01, 0x80, b"4321", redact=True))
    assert response.sw == sw.SW_OK


def test_pin_states(text: TextSession, visual: VisualSession) -> None:
    assert text.pin_state(TEXT_PIN).tries_left == TEXT_PIN.max_tries
    assert visual.pin_state(VISUAL_PIN_B).tries_left == VISUAL_PIN_B.max_tries


# --- integrity -------------------------------------------------------------------------------


def test_integrity_passes_on_untouched_card(text: TextSession, visual: VisualSession,
                                            issuer_keys: list[IssuerKey]) -> None:
    report = text.read(TEXT_PIN_VALUE).integrity(issuer_keys)
    assert report.ok, report.as_dict()
    vreport = visual.read(PIN_B, "pin-b").integrity(issuer_keys)
    assert vreport.ok, vreport.as_dict()


def test_integrity_without_issuer_key_is_skipped_not_passed(text: TextSession) -> None:
    report = text.read(TEXT_PIN_VALUE).integrity(())
    assert report.cv_certificate.skipped and not report.ok and not report.failed
    assert report.record_signature.passed is True


def test_integrity_with_wrong_issuer_key(visual: VisualSession,
                                         issuer_keys: list[IssuerKey]) -> None:
    text_only = [k for k in issuer_keys if k.label.startswith("text")]
    report = visual.read(MY_NUMBER).integrity(text_only)
    assert report.failed == ["cv_certificate"]
    assert "6000023" in report.cv_certificate.reason


def test_partial_credentials_skip_what_they_cannot_read(text: TextSession,
                                                       issuer_keys: list[IssuerKey]) -> None:
    a = text.read(MY_NUMBER, "pin-a").integrity(issuer_keys)
    assert a.my_number_digest.passed and a.attributes_digest.skipped
    assert "照合番号B" in a.attributes_digest.reason
    b = text.read(PIN_B, "pin-b").integrity(issuer_keys)
    assert b.attributes_digest.passed and b.my_number_digest.skipped


def _mutate(card: EmulatedCard, aid: Aid, fid: int, change: Callable[[bytearray], None]
            ) -> None:
    node = ef(card, aid, fid)
    content = bytearray(node.content)
    change(content)
    node.content = bytes(content)


def _value_offset(content: bytes, tag: int) -> int:
    """File offset of the value of child ``tag`` of the record."""
    record = parse_first(content)
    header = len(record.raw) - len(record.value)
    pos = header
    for child in record.children():
        if child.tag == tag:
            return pos + len(child.raw) - len(child.value)
        pos += len(child.raw)
    raise AssertionError(f"no tag {tag:X}")


def _set(offset_of: Callable[[bytes], int], value: Callable[[int], int]
         ) -> Callable[[bytearray], None]:
    def change(content: bytearray) -> None:
        i = offset_of(bytes(content))
        content[i] = value(content[i])
    return change


def flip_last(tag: int, delta: int = 0) -> Callable[[bytearray], None]:
    """Flip a bit in the value of ``tag`` (at ``delta`` from the value's start, or its end)."""
    def offset(content: bytes) -> int:
        start = _value_offset(content, tag)
        if delta:
            return start + delta
        value = next(c for c in parse_first(content).children() if c.tag == tag)
        return start + len(value.value) - 1
    return _set(offset, lambda b: b ^ 0x02)


TEXT_TAMPER = [
    # (what, EF, change, checks that must fail)
    ("My Number filler", TextFile.MY_NUMBER, _set(lambda c: 16, lambda b: 0x00),
     {"my_number_digest"}),
    ("attribute address", TextFile.ATTRIBUTES, flip_last(0xDF23),
     {"attributes_digest"}),
    ("attribute sex", TextFile.ATTRIBUTES, _set(lambda c: _value_offset(c, 0xDF25),
                                                lambda b: ord("1")), {"attributes_digest"}),
    ("DF31", TextFile.INTEGRITY, flip_last(0xDF31), {"record_signature", "my_number_digest"}),
    ("DF32", TextFile.INTEGRITY, flip_last(0xDF32),
     {"record_signature", "attributes_digest"}),
    ("DF33", TextFile.INTEGRITY, flip_last(0xDF33), {"record_signature"}),
    ("CV signature", TextFile.CV_CERTIFICATE, flip_last(0x5F37), {"cv_certificate"}),
    ("CV key modulus", TextFile.CV_CERTIFICATE, flip_last(0x5F4E),
     {"cv_certificate", "record_signature"}),
    ("CV subject id", TextFile.CV_CERTIFICATE, flip_last(0x5F4E, 20), {"cv_certificate"}),
]


@pytest.mark.parametrize(("what", "fid", "change", "failing"), TEXT_TAMPER,
                         ids=[t[0] for t in TEXT_TAMPER])
def test_text_tamper(card: EmulatedCard, text: TextSession, issuer_keys: list[IssuerKey],
                     what: str, fid: int, change: Callable[[bytearray], None],
                     failing: set[str]) -> None:
    _mutate(card, Aid.TEXT, fid, change)
    report = text.read(TEXT_PIN_VALUE).integrity(issuer_keys)
    assert set(report.failed) == failing, report.as_dict()
    for name in failing:
        assert report.checks()[name].reason


def test_text_other_valid_number_is_caught(card: EmulatedCard, text: TextSession,
                                          issuer_keys: list[IssuerKey]) -> None:
    node = ef(card, Aid.TEXT, TextFile.MY_NUMBER)
    node.content = node.content.replace(MY_NUMBER.encode(), OTHER_VALID_NUMBER.encode())
    # The key holds the real number still; the PIN opens the (altered) EF.
    report = text.read(TEXT_PIN_VALUE).integrity(issuer_keys)
    assert report.failed == ["my_number_digest"]


def test_text_uncovered_bytes(card: EmulatedCard, text: TextSession,
                              issuer_keys: list[IssuerKey]) -> None:
    # DF21 (the offsets) is outside DF32, and so is the filler after the record.
    _mutate(card, Aid.TEXT, TextFile.ATTRIBUTES, flip_last(0xDF21))
    _mutate(card, Aid.TEXT, TextFile.ATTRIBUTES, _set(lambda c: len(c) - 1, lambda b: 0x00))
    assert text.read(TEXT_PIN_VALUE).integrity(issuer_keys).ok


FACE_TAMPER = [
    ("birth", flip_last(0xDF22, 7), "DF22-DF24", None),
    ("sex", _set(lambda c: _value_offset(c, 0xDF23), lambda b: ord("1")), "DF22-DF24", None),
    ("card key", flip_last(0xDF24), "DF22-DF24", None),
    ("name image", flip_last(0xDF25), "DF25-DF26", None),
    ("address image", flip_last(0xDF26, 20), "DF25-DF26", None),
    ("photo", flip_last(0xDF27, 200), "photo (DF27)", None),
    ("signature", flip_last(0xDF28), None, "not a signature"),
]


@pytest.mark.parametrize(("what", "change", "part", "reason"), FACE_TAMPER,
                         ids=[t[0] for t in FACE_TAMPER])
def test_face_tamper(card: EmulatedCard, visual: VisualSession, issuer_keys: list[IssuerKey],
                     what: str, change: Callable[[bytearray], None], part: str | None,
                     reason: str | None) -> None:
    _mutate(card, Aid.VISUAL, VisualFile.FACE, change)
    report = visual.read(PIN_B, "pin-b").integrity(issuer_keys)
    assert report.failed == ["face_signature"]
    expected = part or reason
    assert expected is not None and expected in report.face_signature.reason


def test_face_uncovered_bytes(card: EmulatedCard, visual: VisualSession,
                              issuer_keys: list[IssuerKey]) -> None:
    # The expiry (DF29) and the security-code image (DF2A) are not covered by DF28.
    _mutate(card, Aid.VISUAL, VisualFile.FACE, _set(
        lambda c: _value_offset(c, 0xDF29) + 3, lambda b: ord("9")))  # 2035 -> 2039
    _mutate(card, Aid.VISUAL, VisualFile.FACE, flip_last(0xDF2A, 30))
    data = visual.read(PIN_B, "pin-b")
    assert data.face.expiry_text == "20390217"
    assert data.integrity(issuer_keys).ok


def test_face_cv_modulus(card: EmulatedCard, visual: VisualSession,
                         issuer_keys: list[IssuerKey]) -> None:
    _mutate(card, Aid.VISUAL, VisualFile.CV_CERTIFICATE, flip_last(0x5F4E))
    report = visual.read(PIN_B, "pin-b").integrity(issuer_keys)
    assert set(report.failed) == {"cv_certificate", "face_signature"}


def test_checks_are_pure(profile: CardProfile, issuer_keys: list[IssuerKey]) -> None:
    # The same checks on records built directly (no card): the API works offline too.
    assert profile.text is not None and profile.visual is not None
    t = text_records(profile.text)
    from mynaid.records import Attributes, CvCertificate

    report = check_text(TextIntegrityRecord.parse(t[TextFile.INTEGRITY]),
                        CvCertificate.parse(t[TextFile.CV_CERTIFICATE]), issuer_keys,
                        my_number_ef=t[TextFile.MY_NUMBER],
                        attributes=Attributes.parse(t[TextFile.ATTRIBUTES]))
    assert report.ok
    v = visual_records(profile.visual)
    assert check_visual(CardFace.parse(v[VisualFile.FACE]),
                        CvCertificate.parse(v[VisualFile.CV_CERTIFICATE]), issuer_keys).ok


def test_issuer_keys_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv("MYNAID_ISSUER_KEYS", os.pathsep.join(
        [str(PKI / "text-issuer.pem"), str(PKI / "visual-issuer.pem")]))
    assert [k.label for k in load_issuer_keys()] == ["text-issuer.pem", "visual-issuer.pem"]
    assert load_issuer_keys(use_env=False) == []
    with pytest.raises(ParseError):
        load_issuer_key(PKI / "nonexistent.pem")


# --- card presence ---------------------------------------------------------------------------


def test_presence_proof(visual: VisualSession, issuer_keys: list[IssuerKey]) -> None:
    report = visual.prove_presence(PIN_B, "pin-b", issuer_keys)
    assert report.ok, report.as_dict()


def test_presence_fails_with_another_card_key(card: EmulatedCard, visual: VisualSession,
                                              issuer_keys: list[IssuerKey]) -> None:
    # A card that copies the face record but cannot sign with the key in DF24.
    node = card.applications[Aid.VISUAL.value].files[VisualFile.CARD_KEY]
    assert isinstance(node, PrivateKeyFile)
    node.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    report = visual.prove_presence(PIN_B, "pin-b", issuer_keys)
    assert report.failed == ["challenge_signature"]
    assert report.face_signature.passed


def test_presence_signature_needs_no_secret(protocol: CardProtocol, profile: CardProfile,
                                            card: EmulatedCard) -> None:
    from mynaid.integrity import challenge_digest_info, check_challenge

    assert profile.text is not None
    challenge = b"fresh challenge"
    signature = TextSession(protocol).sign_challenge(challenge_digest_info(challenge))
    assert check_challenge(profile.text.card_key.public_key(), challenge, signature).passed
    # The JPKI application has no such key: P2 00 without a key EF is still refused.
    protocol.select_application(Aid.JPKI.value)
    response = protocol.send(CommandApdu(0x80, 0x2A, 0x00, 0x00, b"\x00" * 51, le=256))
    assert response.sw == sw.SW_COMMAND_NOT_ALLOWED_NO_EF


def test_card_without_text_and_visual(profile: CardProfile) -> None:
    bare = dataclasses.replace(profile, text=None, visual=None)
    card = build_card(bare)
    with pytest.raises(FileNotFoundOnCardError):
        TextSession(CardProtocol(EmulatorTransport(card))).cv_certificate()


# --- privacy: logs, reprs, exception messages ------------------------------------------------


def test_no_secret_or_number_in_logs_or_reprs(caplog: pytest.LogCaptureFixture,
                                              profile: CardProfile) -> None:
    card = build_card(profile)
    caplog.set_level(logging.DEBUG, logger="mynaid")
    for extended in (ExtendedLength.AUTO, ExtendedLength.OFF):
        protocol = CardProtocol(EmulatorTransport(card), extended)
        text, visual = TextSession(protocol), VisualSession(protocol)
        data = text.read(TEXT_PIN_VALUE)
        data_a = text.read(MY_NUMBER, "pin-a")
        face = visual.read(PIN_B, "pin-b")
        image = visual.my_number_image(MY_NUMBER)
        with pytest.raises(WrongPinError) as wrong:
            text.read(OTHER_VALID_NUMBER, "pin-a")
        with pytest.raises(InvalidSecretError) as invalid:
            text.read("123456789012", "pin-a")
        texts = [repr(data), str(data), repr(data_a), repr(data.my_number),
                 str(data.my_number), f"{data.my_number}", repr(face), repr(image[:0]),
                 str(wrong.value), repr(wrong.value), str(invalid.value), repr(invalid.value),
                 repr(profile), repr(profile.text), repr(profile.visual)]
        assert data.my_number is not None and data.my_number.value == MY_NUMBER
    log = caplog.text
    assert "redacted" in log  # the trace ran
    name_hex = "試験".encode().hex(" ").upper()
    for form in [*LEAK_FORMS, name_hex]:
        assert form not in log, form
        for t in texts:
            assert form not in t, (form, t)


def test_my_number_masking() -> None:
    number = MyNumber(MY_NUMBER)
    assert number.masked() == "*" * 12
    assert number.masked(4) == "********9018"
    assert number.masked(12) == "********9018"  # at most four digits are ever shown
    with pytest.raises(ParseError) as info:
        MyNumber("123456789012")
    assert "123456789012" not in str(info.value)


# --- CLI -------------------------------------------------------------------------------------


def run(capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch,
        args: list[str], stdin: str) -> tuple[int, str, str]:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    code = cli_main(args)
    out, err = capsysbinary.readouterr()
    return code, out.decode(), err.decode()


def test_cli_text(capsysbinary: pytest.CaptureFixture[bytes],
                  monkeypatch: pytest.MonkeyPatch) -> None:
    keys = ["--issuer-key", str(PKI / "text-issuer.pem")]
    code, out, err = run(capsysbinary, monkeypatch, ["--emulator", "-v", "text", *keys],
                         TEXT_PIN_VALUE + "\n")
    assert code == 0, err
    assert f"My Number:   {MY_NUMBER}" in out and "試験\u3000花子" in out
    assert "昭和55年2月17日" in out and "Integrity:   ok" in out
    for form in LEAK_FORMS:
        assert form not in err  # -v traces to stderr: redacted
    code, out, err = run(capsysbinary, monkeypatch,
                         ["--emulator", "text", "--json", "--with", "pin-b", *keys],
                         PIN_B + "\n")
    assert code == 0, err
    data = json.loads(out)
    assert "my_number" not in data and data["address"].startswith("東京都")
    assert data["integrity"]["my_number_digest"]["passed"] is None


def test_cli_text_wrong_pin(capsysbinary: pytest.CaptureFixture[bytes],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(capsysbinary, monkeypatch, ["--emulator", "text"], "0000\n")
    assert code == 3 and "tries" in err and out == ""
    code, _out, err = run(capsysbinary, monkeypatch, ["--emulator", "text", "--with", "pin-a"],
                          "123456789012\n")
    assert code == 2 and "check digit" in err and "123456789012" not in err


def test_cli_pin_b_from_parts(capsysbinary: pytest.CaptureFixture[bytes],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    # The parts are prompted (one stdin line each), never taken from argv.
    args = ["--emulator", "--json", "visual", "--with", "pin-b", "--pin-b-parts"]
    code, out, err = run(capsysbinary, monkeypatch, args, "1980-02-17\n2035\n2285\n")
    assert code == 0, err
    data = json.loads(out)
    assert data["birth"] == "19800217" and data["photo"]["format"] == "jp2"
    assert data["integrity"]["face_signature"]["passed"] is True
    assert PIN_B not in out + err
    legacy = ["--emulator", "visual", "--with", "pin-b", "--birth", "1980-02-17"]
    code, _out, err = run(capsysbinary, monkeypatch, legacy, "2285\n")
    assert code == 2 and "--pin-b-parts" in err


def test_cli_visual_exports(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes],
                            monkeypatch: pytest.MonkeyPatch, profile: CardProfile) -> None:
    assert profile.visual is not None
    out_dir = tmp_path / "images"
    code, _out, err = run(capsysbinary, monkeypatch,
                          ["--emulator", "visual", "images", "-o", str(out_dir)],
                          MY_NUMBER + "\n")
    assert code == 0, err
    assert (out_dir / "name.png").read_bytes() == profile.visual.name_image
    assert (out_dir / "photo.jp2").read_bytes() == profile.visual.photo
    assert (out_dir / "security-code.png").stat().st_mode & 0o077 == 0
    photo = tmp_path / "face.jp2"
    code, _out, err = run(capsysbinary, monkeypatch,
                          ["--emulator", "visual", "photo", "-o", str(photo)], MY_NUMBER + "\n")
    assert code == 0 and photo.read_bytes() == profile.visual.photo
    pytest.importorskip("cv2")
    png = tmp_path / "face.png"
    code, _out, err = run(capsysbinary, monkeypatch,
                          ["--emulator", "visual", "photo", "-o", str(png), "--format", "png",
                           "--with", "pin-b"], PIN_B + "\n")
    assert code == 0, err
    assert png.read_bytes().startswith(b"\x89PNG")


def test_cli_integrity_failure_exit_code(capsysbinary: pytest.CaptureFixture[bytes],
                                         monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                         profile: CardProfile) -> None:
    # A profile whose photo differs from what the CV-certified key signed cannot be made
    # from a profile alone (the emulator re-signs); use another issuer key instead.
    keys = ["--issuer-key", str(PKI / "text-issuer.pem")]  # wrong issuer for the visual AP
    code, out, _err = run(capsysbinary, monkeypatch, ["--emulator", "visual", *keys],
                          MY_NUMBER + "\n")
    assert code == 6 and "FAILED" in out


def test_digest_helpers_match_spec(profile: CardProfile) -> None:
    # DF31 is SHA-256 of all 17 bytes of EF 0001, filler included (card-reference §5).
    assert profile.text is not None
    t = text_records(profile.text)
    record = TextIntegrityRecord.parse(t[TextFile.INTEGRITY])
    assert record.my_number_digest == hashlib.sha256(t[TextFile.MY_NUMBER]).digest()


@pytest.mark.parametrize("options", [
    {"strict_le": True}, {"use_get_response": True}, {"extended_length": False},
    {"use_get_response": True, "strict_le": True, "extended_length": False},
], ids=["strict-le", "get-response", "no-extended", "all"])
@pytest.mark.parametrize("extended", [ExtendedLength.AUTO, ExtendedLength.OFF])
def test_card_variants_read_the_same(profile: CardProfile, issuer_keys: list[IssuerKey],
                                     options: dict[str, bool],
                                     extended: ExtendedLength) -> None:
    from mynaid.emulator import EmulatorOptions

    assert profile.visual is not None and profile.text is not None
    card = build_card(profile, EmulatorOptions(**options))  # type: ignore[arg-type]
    protocol = CardProtocol(EmulatorTransport(card), extended)
    data = TextSession(protocol).read(TEXT_PIN_VALUE)
    assert data.my_number is not None and data.my_number.value == MY_NUMBER
    assert data.integrity(issuer_keys).ok
    face = VisualSession(protocol).read(MY_NUMBER)
    assert face.face.photo == profile.visual.photo
    assert face.integrity(issuer_keys).ok
