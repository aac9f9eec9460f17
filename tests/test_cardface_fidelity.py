"""The card-face applications as the real card is (issue 10, items 2-5).

- CV issuer keys: the pinned production keys equal ../shared/cv-issuer-keys (skips without
  it); matched by the whole 16-byte id; which hierarchy verified is reported, and a test card
  is never reported as production.
- Every record signature of the emulated card verifies with the key that signs it on a real
  card (the EF 0004 key for records, the card key for presence), in both applications and in
  every length form the emulator writes.
- The emulated EFs and keys of card-reference §9, and the tolerant record parsers (property
  tests) next to strict certificate parsing.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from mynaid.cardspec import (
    VISUAL_BIRTH_KEY,
    VISUAL_PIN_A,
    VISUAL_PIN_B,
    Aid,
    TextFile,
    VisualFile,
)
from mynaid.emulator import EmulatorOptions, build_card
from mynaid.emulator.card import EmulatedCard
from mynaid.emulator.filesystem import BinaryFile, KeyFile, PrivateKeyFile
from mynaid.emulator.profile import CardProfile
from mynaid.emulator.textvisual import (
    make_cv_certificate,
    make_key_id,
    text_records,
    tlv_encoder,
    visual_records,
)
from mynaid.errors import ParseError
from mynaid.integrity import (
    IssuerKey,
    check_cv_certificate,
    check_signed_card_key,
    load_issuer_key,
)
from mynaid.iso7816.apdu import CommandApdu
from mynaid.protocol import CardProtocol
from mynaid.records import (
    AgeRecord,
    Attributes,
    CardFace,
    CvCertificate,
    MyNumberImage,
    SessionKeyRecord,
    Sex,
    SignedCardKey,
    TextApInfo,
    VisualBasicInfo,
    record_fields,
)
from mynaid.sessions.text import TextSession
from mynaid.sessions.visual import VisualSession
from mynaid.transport.emulated import EmulatorTransport
from mynaid.trust import cvkeys
from mynaid.trust.anchors import load_certificates
from mynaid.trust.cvkeys import PINNED_CV_ISSUER_KEYS, pinned_cv_key
from tests.cardface_checks import check_all
from tests.conftest import CliRunner

REPO = Path(__file__).resolve().parent.parent
PKI = REPO / "vectors" / "test-pki"
CV_KEYS_DIR = REPO.parent / "shared" / "cv-issuer-keys"
SECRETS = {"pin": "5678", "pin-a": "123456789018", "pin-b": "55021720352285",
           "birth": "550217"}
LENGTHS = ["card", "minimal", "long"]


@pytest.fixture(scope="module")
def keys() -> list[IssuerKey]:
    return [load_issuer_key(PKI / "text-issuer.pem"), load_issuer_key(PKI / "visual-issuer.pem")]


def protocol_for(card: EmulatedCard) -> CardProtocol:
    return CardProtocol(EmulatorTransport(card))


# --- CV issuer keys --------------------------------------------------------------------------


@pytest.mark.skipif(not CV_KEYS_DIR.is_dir(), reason=f"{CV_KEYS_DIR} is not available")
def test_pinned_cv_keys_equal_the_published_pems() -> None:
    files = sorted(CV_KEYS_DIR.glob("*.pem"))
    assert {f.stem for f in files} == {k.issuer_id for k in PINNED_CV_ISSUER_KEYS}
    for f in files:
        published = serialization.load_pem_public_key(f.read_bytes())
        assert isinstance(published, rsa.RSAPublicKey)
        pinned = next(k for k in PINNED_CV_ISSUER_KEYS if k.issuer_id == f.stem)
        assert pinned.public_key.public_numbers() == published.public_numbers()
    readme = (CV_KEYS_DIR / "README.md").read_text(encoding="utf-8")
    for k in PINNED_CV_ISSUER_KEYS:  # the full 16-byte ids of the README's table
        digits, pad = k.key_id[:7].hex().upper(), k.key_id[12:].hex().upper()
        assert f"{digits} 0805 303031 {pad}" in readme


def test_pinned_cv_keys_shape() -> None:
    ids = {k.key_id for k in PINNED_CV_ISSUER_KEYS}
    assert ids == {b"5000023\x08\x05001\x00\x00\x00\x00", b"5000033\x08\x05001\x00\x00\x00\x00",
                   b"5000020\x08\x05001\x00\x00\x00\xa8"}
    for k in PINNED_CV_ISSUER_KEYS:
        assert k.public_key.key_size == 2048 and k.exponent == 65537
        assert k.hierarchy == "production" and "soltia48/myna-card" in k.source
    # The whole 16 bytes: another padding, or the test digit, finds nothing.
    assert pinned_cv_key(b"5000023\x08\x05001\x00\x00\x00\x00") is not None
    assert pinned_cv_key(b"5000023\x08\x05001\x00\x00\x00\xa8") is None
    assert pinned_cv_key(b"6000023\x08\x05001\x00\x00\x00\x00") is None
    assert pinned_cv_key(b"5000023\x08\x05002\x00\x00\x00\x00") is None
    assert pinned_cv_key(b"5000023") is None


def _card_with_cv(profile: CardProfile, issuer: rsa.RSAPrivateKey, issuer_id: str
                  ) -> EmulatedCard:
    """The default card whose visual EF 0004 is issued under ``issuer_id`` by ``issuer``."""
    assert profile.visual is not None
    cert = make_cv_certificate(issuer, make_key_id(issuer_id, "001"),
                               make_key_id(issuer_id, "002"),
                               profile.visual.signing_key.public_key())
    visual = dataclasses.replace(profile.visual, cv_certificate=cert)
    return build_card(dataclasses.replace(profile, visual=visual))


def test_test_card_is_reported_as_test(card: EmulatedCard, keys: list[IssuerKey]) -> None:
    visual = VisualSession(protocol_for(card))
    data = visual.read(SECRETS["pin-a"])
    without = data.integrity().cv_certificate
    assert without.skipped and "6000023" in without.reason  # test id: nothing pinned
    check = data.integrity(keys).cv_certificate
    assert check.passed and check.hierarchy == "test"
    assert "not a production card" in check.reason
    assert check.as_dict()["hierarchy"] == "test"


def test_production_id_is_checked_not_skipped(profile: CardProfile) -> None:
    # A card whose CV certificate names the production issuer 5000023 but was signed by
    # another key: with the pinned key the check fails, it is not skipped.
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    card = _card_with_cv(profile, forger, "5000023")
    data = VisualSession(protocol_for(card)).read(SECRETS["pin-a"])
    check = data.integrity().cv_certificate
    assert check.passed is False and "pinned" in check.reason
    assert data.integrity().face_signature.passed  # the records themselves are consistent
    # A key from a file does not override the pinned key of a production id: the published
    # test issuers' private keys must not make a forged production certificate pass.
    supplied = IssuerKey("forger.pem", forger.public_key())
    assert data.integrity([supplied]).cv_certificate.passed is False
    test_issuer = load_issuer_key(PKI / "visual-issuer.pem")
    assert data.integrity([test_issuer]).cv_certificate.passed is False
    # Tied to exactly this 16-byte id, a supplied key is tried: a pass, reported as
    # user-supplied, never production.
    tied = IssuerKey("tied.pem", forger.public_key(), key_id=make_key_id("5000023", "001"))
    check = data.integrity([tied]).cv_certificate
    assert check.passed and check.hierarchy == "user-supplied"
    # Tied to another id, it is not.
    other = IssuerKey("other.pem", forger.public_key(), key_id=make_key_id("5000033", "001"))
    assert data.integrity([other]).cv_certificate.passed is False


def test_pinned_key_reports_production(profile: CardProfile,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # Nobody outside J-LIS can sign under the real key: pin a stand-in under the production
    # id to show the path a real card takes.
    stand_in = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_id = make_key_id("5000023", "001")
    numbers = stand_in.public_key().public_numbers()
    monkeypatch.setattr(cvkeys, "PINNED_CV_ISSUER_KEYS", (
        cvkeys.PinnedCvKey(key_id, "visual", numbers.n, numbers.e),))
    card = _card_with_cv(profile, stand_in, "5000023")
    data = VisualSession(protocol_for(card)).read(SECRETS["pin-a"])
    check = data.integrity().cv_certificate
    assert check.passed and check.hierarchy == "production"
    assert data.integrity().ok
    # The same key under a test id is not production, and is not pinned for it either.
    test_card = _card_with_cv(profile, stand_in, "6000023")
    cert = VisualSession(protocol_for(test_card)).cv_certificate()
    assert check_cv_certificate(cert, []).skipped
    assert check_cv_certificate(
        cert, [IssuerKey("k", stand_in.public_key())]).hierarchy == "test"


def test_cli_reports_the_hierarchy(cli_run: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYNAID_ISSUER_KEYS", str(PKI / "visual-issuer.pem"))
    result = cli_run("--emulator", "visual", "--json", stdin=SECRETS["pin-a"] + "\n")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["integrity"]["cv_certificate"]["hierarchy"] == "test"
    assert data["integrity"]["ok"]
    result = cli_run("--emulator", "text", "--issuer-key", str(PKI / "text-issuer.pem"),
                     stdin=SECRETS["pin"] + "\n")
    assert result.code == 0, result.err
    assert "test card, not a production card" in result.out


# --- every signature with the key that signs it on a real card -------------------------------


@pytest.mark.parametrize("lengths", LENGTHS)
def test_every_record_signature_with_the_real_signer(profile: CardProfile, lengths: str) -> None:
    card = build_card(profile, EmulatorOptions(record_lengths=lengths))
    results = check_all(protocol_for(card), SECRETS)
    assert all(results.values()), {k: v for k, v in results.items() if not v}
    assert len(results) == 14


@pytest.mark.parametrize("lengths", LENGTHS)
def test_library_checks_every_record(profile: CardProfile, keys: list[IssuerKey],
                                     lengths: str) -> None:
    card = build_card(profile, EmulatorOptions(record_lengths=lengths))
    protocol = protocol_for(card)
    text, visual = TextSession(protocol), VisualSession(protocol)
    assert text.read(SECRETS["pin"]).integrity(keys).ok
    for credential in ("pin", "pin-a", "pin-b"):
        assert text.prove_presence(SECRETS[credential], credential, keys).ok
        _record, report = text.signed_card_key(SECRETS[credential], credential,
                                               issuer_keys=keys)
        assert report.ok
    assert visual.read(SECRETS["pin-a"]).integrity(keys).ok
    assert visual.prove_presence(SECRETS["pin-b"], "pin-b", keys).ok
    age, report = visual.checked_age_record(SECRETS["birth"], keys)
    assert report.ok, report.as_dict()
    image, report = visual.checked_my_number_image(SECRETS["pin-a"], keys)
    assert report.ok
    face = visual.face(SECRETS["pin-a"])
    assert age.public_key.public_numbers() == face.card_public_key.public_numbers() \
        == image.public_key.public_numbers()


def test_tampered_text_card_key_is_caught(card: EmulatedCard, keys: list[IssuerKey]) -> None:
    node = card.applications[Aid.TEXT.value].files[TextFile.SIGNED_CARD_KEY]
    assert isinstance(node, BinaryFile)
    content = bytearray(node.content)
    content[40] ^= 0x01  # inside DF51's modulus
    node.content = bytes(content)
    report = TextSession(protocol_for(card)).prove_presence(SECRETS["pin"], "pin", keys)
    assert report.card_key_signature.passed is False
    assert not report.ok


def test_text_presence_fails_with_another_card_key(card: EmulatedCard,
                                                   keys: list[IssuerKey]) -> None:
    node = card.applications[Aid.TEXT.value].files[TextFile.CARD_KEY]
    assert isinstance(node, PrivateKeyFile)
    node.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    report = TextSession(protocol_for(card)).prove_presence(SECRETS["pin"], "pin", keys)
    assert report.failed == ["challenge_signature"]


def test_record_signed_by_the_card_key_is_refused(profile: CardProfile) -> None:
    # The plausible mistake: signing (or checking) a record with the card key next to it.
    assert profile.text is not None
    bad = dataclasses.replace(profile.text, signing_key=profile.text.card_key)
    record = SignedCardKey.parse(text_records(bad)[TextFile.SIGNED_CARD_KEY])
    cert = CvCertificate.parse(text_records(profile.text)[TextFile.CV_CERTIFICATE])
    assert check_signed_card_key(record, cert).record_signature.passed is False


# --- the emulated EFs and keys of card-reference §9 ------------------------------------------


def _send(protocol: CardProtocol, aid: Aid, *apdus: CommandApdu) -> list[int]:
    protocol.send(CommandApdu(0x00, 0xA4, 0x04, 0x0C, aid.value))
    return [protocol.send(a).sw for a in apdus]


def _select(fid: int) -> CommandApdu:
    return CommandApdu(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big"))


def test_text_blocked_key_0012(card: EmulatedCard) -> None:
    protocol = protocol_for(card)
    sws = _send(protocol, Aid.TEXT, _select(0x0012), CommandApdu(0x00, 0x20, 0x00, 0x80),
                CommandApdu(0x00, 0x20, 0x00, 0x80, b"1234"))
    assert sws == [0x9000, 0x63C0, 0x6984]


def test_card_key_files_and_tries(card: EmulatedCard) -> None:
    text = card.applications[Aid.TEXT.value].files
    visual = card.applications[Aid.VISUAL.value].files
    assert isinstance(text[0x0013], PrivateKeyFile) and isinstance(visual[0x001A], PrivateKeyFile)
    assert not text[0x0013].use_keys and not visual[0x001A].use_keys  # no secret for 80 2A
    for fid in (VisualFile.PIN_A, VisualFile.PIN_B, VisualFile.BIRTH_KEY):
        node = visual[fid]
        assert isinstance(node, KeyFile) and node.max_tries == 10
    assert VISUAL_PIN_A.max_tries == VISUAL_PIN_B.max_tries == VISUAL_BIRTH_KEY.max_tries == 10
    node = text[TextFile.PIN_B]
    assert isinstance(node, KeyFile) and node.max_tries == 10


def test_text_0006_0007_0008_layouts(profile: CardProfile) -> None:
    assert profile.text is not None and profile.text.session_key is not None
    t = text_records(profile.text)
    assert t[TextFile.SIGNED_CARD_KEY][:5] == bytes.fromhex("FF50820213")
    assert t[TextFile.SIGNED_CARD_KEY][5:10] == bytes.fromhex("DF51820109")
    assert t[TextFile.SIGNED_CARD_KEY][5 + 5 + 265 : 5 + 5 + 265 + 5] == bytes.fromhex(
        "DF52820100")
    assert t[TextFile.EXTRA] == b"\xff" * 16
    session = SessionKeyRecord.parse(t[TextFile.SESSION_KEY])
    assert t[TextFile.SESSION_KEY][:1] == b"\xa1"
    others = {profile.text.card_key.public_key().public_numbers(),
              profile.text.signing_key.public_key().public_numbers()}
    assert session.public_key.public_numbers() not in others  # a third key
    info = TextApInfo.parse(t[TextFile.AP_INFO])
    assert info.identification == bytes.fromhex("01030E01")
    assert len(info.trailing) == 128 and info.trailing[32:] == b"\xff" * 96


def test_session_key_opens_with_any_text_credential(card: EmulatedCard) -> None:
    text = TextSession(protocol_for(card))
    for credential in ("pin", "pin-a", "pin-b"):
        record = text.session_key(SECRETS[credential], credential)
        assert record.public_key.key_size == 2048
    assert text.read_bytes(TextFile.EXTRA, 16, "EF 0008", "pin", SECRETS["pin"]) == \
        b"\xff" * 16


def test_visual_layouts(profile: CardProfile) -> None:
    assert profile.visual is not None
    v = visual_records(profile.visual)
    assert v[VisualFile.AGE][:5] == bytes.fromhex("FF1082021E")  # 542 bytes, as real
    assert v[VisualFile.EXTRA] == b"\xff" * 16
    basic = VisualBasicInfo.parse(v[VisualFile.BASIC_INFO])
    assert basic.municipality_code == profile.visual.municipality_code[:5]
    assert len(basic.municipality_code) == 5 and basic.version == 0
    assert basic.df35_key_id is not None and len(basic.df35_data) == 256
    image = MyNumberImage.parse(v[VisualFile.MY_NUMBER_IMAGE])
    assert image.image == profile.visual.my_number_image


def test_length_forms(profile: CardProfile) -> None:
    assert profile.visual is not None
    card_form = visual_records(profile.visual)
    minimal = visual_records(profile.visual, lengths="minimal")
    long = visual_records(profile.visual, lengths="long")
    # As real cards: 82 LL LL from 128 bytes up (the age record's DF12 is 82 01 09 either
    # way); a 150-byte value is 82 00 96 on the card, 81 96 in DER; "long" writes even an
    # 8-byte date as 82 00 08.
    assert card_form[VisualFile.AGE][5:8] == bytes.fromhex("DF1108")
    assert long[VisualFile.AGE][5:10] == bytes.fromhex("DF11820008")
    assert tlv_encoder("card")(0xDF43, bytes(150))[:5] == bytes.fromhex("DF43820096")
    assert tlv_encoder("minimal")(0xDF43, bytes(150))[:4] == bytes.fromhex("DF438196")
    assert tlv_encoder("long")(0xDF11, b"19800217")[:5] == bytes.fromhex("DF11820008")
    for records in (card_form, minimal, long):  # every form parses to the same fields
        age = AgeRecord.parse(records[VisualFile.AGE])
        assert age.birth_text == profile.visual.birth
        assert CardFace.parse(records[VisualFile.FACE]).photo == profile.visual.photo
    assert long[VisualFile.AGE] != card_form[VisualFile.AGE]
    with pytest.raises(ValueError):
        tlv_encoder("short")


# --- tolerant record parsers (property tests) and strict certificate parsing ------------------


def _tlv(tag: int, value: bytes, form: int) -> bytes:
    tag_bytes = tag.to_bytes(2, "big")
    n = len(value)
    if form == 0 and n < 0x80:
        return tag_bytes + bytes((n,)) + value
    if form == 1 and n <= 0xFF:
        return tag_bytes + bytes((0x81, n)) + value
    return tag_bytes + b"\x82" + n.to_bytes(2, "big") + value


name_text = st.text(alphabet=st.characters(min_codepoint=0x3042, max_codepoint=0x3093),
                    min_size=1, max_size=20)


@settings(max_examples=80, deadline=None)
@given(name=name_text, address=name_text, forms=st.lists(st.integers(0, 2), min_size=6,
                                                          max_size=6),
       filler=st.binary(max_size=12).map(lambda b: bytes(0xFF if x & 1 else 0 for x in b)),
       tail=st.sampled_from([b"", b"\x00", b"\xff\xff"]),
       sex=st.binary(min_size=1, max_size=2))
def test_attributes_tolerate_length_forms_filler_and_sex(name: str, address: str,
                                                         forms: list[int], filler: bytes,
                                                         tail: bytes, sex: bytes) -> None:
    fields = [_tlv(0xDF22, name.encode() + tail, forms[0]),
              _tlv(0xDF23, address.encode(), forms[1]),
              _tlv(0xDF24, b"19800217", forms[2]), _tlv(0xDF25, sex, forms[3])]
    offsets_placeholder = _tlv(0xDF21, bytes(8), forms[4])
    body = offsets_placeholder + b"".join(fields) + filler
    record = _tlv(0xFF20, body, forms[5])
    parsed = Attributes.parse(record + b"\xff" * 7)
    assert parsed.name == name and parsed.address == address
    assert parsed.birth_text == "19800217"
    assert parsed.covered == b"".join(fields)  # as written, whatever the length form
    assert parsed.sex_code == sex
    known = {b"0": Sex.UNKNOWN, b"1": Sex.MALE, b"2": Sex.FEMALE, b"9": Sex.NOT_APPLICABLE}
    assert parsed.sex is known.get(sex, Sex.OTHER)


@settings(max_examples=60, deadline=None)
@given(filler=st.binary(min_size=1, max_size=8).map(
           lambda b: bytes(0xFF if x & 1 else 0 for x in b)),
       junk=st.binary(min_size=1, max_size=8))
def test_record_fields_refuse_fields_hidden_behind_filler(filler: bytes, junk: bytes) -> None:
    first = _tlv(0xDF31, b"1234", 0)
    assert [t.raw for t in record_fields(first + filler)] == [first]
    if any(b not in (0, 0xFF) for b in junk):
        with pytest.raises(ParseError):
            record_fields(first + filler + junk)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=300))
def test_tolerant_parsers_fail_only_with_parse_error(data: bytes) -> None:
    for parser in (AgeRecord.parse, MyNumberImage.parse, SignedCardKey.parse,
                   SessionKeyRecord.parse, TextApInfo.parse, VisualBasicInfo.parse,
                   Attributes.parse):
        try:
            parser(data)
        except ParseError:
            pass


_TEXT_RECORDS: dict[int, bytes] = {}


def _text_records(profile: CardProfile) -> dict[int, bytes]:
    if not _TEXT_RECORDS:
        assert profile.text is not None
        _TEXT_RECORDS.update(text_records(profile.text))
    return _TEXT_RECORDS


@settings(max_examples=40, deadline=None)
@given(position=st.integers(min_value=0), form=st.integers(1, 2))
def test_signed_records_survive_mutation_only_as_parse_errors(profile: CardProfile,
                                                              position: int,
                                                              form: int) -> None:
    records = _text_records(profile)
    raw = bytearray(records[TextFile.SIGNED_CARD_KEY])
    raw[position % len(raw)] ^= 1 << form
    try:
        record = SignedCardKey.parse(bytes(raw))
    except ParseError:
        return
    cert = CvCertificate.parse(records[TextFile.CV_CERTIFICATE])
    # The record has no filler: whatever a flipped bit still parses as, DF52 catches it.
    assert check_signed_card_key(record, cert).record_signature.passed is False


def test_strict_certificate_parsing_rejects_long_form_lengths() -> None:
    der = (PKI / "auth-root.pem").read_bytes()
    cert = x509.load_pem_x509_certificate(der)
    raw = cert.public_bytes(serialization.Encoding.DER)
    assert raw[:2] == b"\x30\x82"
    # Re-encode the outer SEQUENCE length with a non-minimal 3-byte form (83 00 LL LL):
    # BER would accept it, DER (and so the certificate parser) must not.
    length = int.from_bytes(raw[2:4], "big")
    bad = b"\x30\x83\x00" + length.to_bytes(2, "big") + raw[4:]
    with pytest.raises(ParseError):
        load_certificates(bad)
    # Trailing filler after a certificate is not a certificate either.
    with pytest.raises(ParseError):
        load_certificates(raw + b"\x00\x00")


def test_cli_presence(cli_run: CliRunner) -> None:
    keys = ["--issuer-key", str(PKI / "text-issuer.pem"),
            "--issuer-key", str(PKI / "visual-issuer.pem")]
    result = cli_run("--emulator", "text", "--with", "pin-b", "--presence", "--json", *keys,
                     stdin=SECRETS["pin-b"] + "\n")
    assert result.code == 0, result.err
    presence = json.loads(result.out)["presence"]
    assert presence["ok"] and presence["card_key_signature"]["passed"]
    assert presence["cv_certificate"]["hierarchy"] == "test"
    result = cli_run("--emulator", "visual", "--presence", *keys, stdin=SECRETS["pin-a"] + "\n")
    assert result.code == 0, result.err
    assert "Presence:    ok" in result.out and "challenge_signature: pass" in result.out
