"""The emulated text (券面事項入力補助) and visual (券面事項確認) applications.

Records are built from a profile section as card-reference §5, §6 and §9 (which stands over
them) lay them out, and signed when the card is built with the profile's ``signing_key``: the
key the EF 0004 CV certificate certifies, standing in for the one the issuer installs. It signs
the records (text DF33 and DF52, visual DF28, DF13 and DF43), never a challenge. The card's own
key (``card_key``: visual DF24 = DF12 = DF42, text DF51) is a different key, in the internal
EFs text 0013 and visual 001A, and signs presence challenges (``80 2A 00 00``) only. This
module builds; :mod:`mynaid.records` parses. They are separate code on purpose, so that a
misreading of the layout in one is caught by the tests of the other.

Lengths are written as real cards write them: a value of 128 bytes or more always gets the
three-byte form ``82 LL LL`` (``82 00 9F``, never ``81 9F``), shorter ones the one-byte form
(``record_lengths="card"``, the default). ``"minimal"`` writes DER-minimal lengths (``81 9F``)
and ``"long"`` writes ``82 LL LL`` for every field, even ``82 00 08`` for a date: both are
variants that parsers must accept. Signatures always cover the bytes as written.

Still unconfirmed (chosen here, marked below): the 32 bytes of text 0005 DF43, the content of
visual 0003 DF35, which keys open text 0008, and the tries of text 照合番号A.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mynaid.cardspec import (
    TEXT_READ_ACCESS,
    VISUAL_READ_ACCESS,
    Aid,
    TextFile,
    VisualFile,
)
from mynaid.emulator.card import EmulatorOptions, sign_pkcs1_type1
from mynaid.emulator.faceprofile import TextProfile, VisualProfile
from mynaid.emulator.filesystem import Application, BinaryFile, KeyFile, PrivateKeyFile
from mynaid.iso7816.tlv import encode_tlv

#: A 照合番号 or birth-date key cannot be changed with CHANGE REFERENCE DATA (it is derived
#: from the card face): a pattern that matches nothing makes the card answer 6A 80.
UNCHANGEABLE = re.compile(rb"(?!)")
PIN4 = re.compile(rb"[0-9]{4}")

#: DigestInfo header of the visual signature: SHA-256's OID with a 96-byte digest (§6).
FACE_DIGEST_INFO_PREFIX = bytes.fromhex("3071300D060960864801650304020105000460")
#: Text EF 0005 DF41 as on the cards seen (§9): spec version, extended Lc/Le, vendor, byte.
TEXT_AP_INFO_DF41 = bytes.fromhex("01030E01")
#: Visual EF 0003 DF31 as on the cards seen, and its version byte DF33.
VISUAL_BASIC_DF31 = bytes.fromhex("06030E01")
VISUAL_BASIC_VERSION = b"\x00"
#: Records are padded with FF to a whole number of these (real EFs have fixed sizes).
PAD_UNIT = 32
KEY_ID_KIND = b"\x08\x05"
#: The ways the emulator can write lengths (see the module docstring).
RECORD_LENGTHS = ("card", "minimal", "long")

Encoder = Callable[[int, bytes], bytes]


def _pad(record: bytes) -> bytes:
    return record + b"\xff" * (-len(record) % PAD_UNIT)


def tlv_encoder(lengths: str = "card") -> Encoder:
    """A TLV encoder writing lengths the way ``lengths`` says (``card``/``minimal``/``long``)."""
    if lengths not in RECORD_LENGTHS:
        raise ValueError(f"record_lengths must be one of {', '.join(RECORD_LENGTHS)}")
    if lengths == "minimal":
        return encode_tlv

    def encode(tag: int, value: bytes) -> bytes:
        n = len(value)
        if n > 0xFFFF:
            raise ValueError("value too long for a record")
        tag_bytes = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
        if n < 0x80 and lengths == "card":
            return tag_bytes + bytes((n,)) + value
        return tag_bytes + b"\x82" + n.to_bytes(2, "big") + value
    return encode


def encode_public_key(key: rsa.RSAPublicKey, enc: Encoder = encode_tlv) -> bytes:
    """``90 03 01 00 01 91 82 01 00 <modulus>``: how the card writes an RSA public key."""
    numbers = key.public_numbers()
    modulus = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    exponent = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    return enc(0x90, exponent) + enc(0x91, modulus)


def _sign(key: rsa.RSAPrivateKey, message: bytes) -> bytes:
    """PKCS#1 v1.5 SHA-256, what the EF 0004 key's record signatures are."""
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def make_key_id(issuer: str, serial: str) -> bytes:
    """A 16-byte CV key id: 7 ASCII digits + ``08 05`` + 3 ASCII digits + 4 zero bytes."""
    if not re.fullmatch(r"[0-9]{7}", issuer) or not re.fullmatch(r"[0-9]{3}", serial):
        raise ValueError("issuer must be 7 digits and serial 3 digits")
    return issuer.encode("ascii") + KEY_ID_KIND + serial.encode("ascii") + bytes(4)


def make_cv_certificate(issuer_key: rsa.RSAPrivateKey, issuer_key_id: bytes,
                        subject_key_id: bytes, subject: rsa.RSAPublicKey) -> bytes:
    """EF 0004: ``7F 21 { 5F 4E <body>, 5F 37 <signature> }`` (card-reference §5).

    The body is the two key ids and the subject's public key; the signature is PKCS#1 v1.5
    SHA-256 over the body by the issuer key (deterministic).
    """
    if len(issuer_key_id) != 16 or len(subject_key_id) != 16:
        raise ValueError("key ids are 16 bytes")
    body = issuer_key_id + subject_key_id + encode_public_key(subject)
    signature = issuer_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    return encode_tlv(0x7F21, encode_tlv(0x5F4E, body) + encode_tlv(0x5F37, signature))


def _offset_record(tag: int, body_tlvs: list[bytes], enc: Encoder = encode_tlv) -> bytes:
    """A record whose first field (DF21) lists the file offsets of the following fields
    (given encoded, so that what is signed is exactly what is written)."""
    count = len(body_tlvs)
    placeholder = enc(0xDF21, bytes(2 * count))
    content_len = len(placeholder) + sum(len(t) for t in body_tlvs)
    header_len = len(enc(tag, bytes(content_len))) - content_len
    offsets = []
    pos = header_len + len(placeholder)
    for tlv in body_tlvs:
        offsets.append(pos)
        pos += len(tlv)
    df21 = enc(0xDF21, b"".join(o.to_bytes(2, "big") for o in offsets))
    return enc(tag, df21 + b"".join(body_tlvs))


# --- text AP ---------------------------------------------------------------------------------

#: Key ids the basic-info records name (§9: not the EF 0004 key; test-hierarchy ids here).
TEXT_AP_INFO_KEY_ID = b"6000034" + KEY_ID_KIND + b"001" + bytes(4)
VISUAL_BASIC_KEY_ID = b"6000024" + KEY_ID_KIND + b"001" + bytes(4)
VISUAL_DF35_KEY_ID = b"6900025" + KEY_ID_KIND + b"001" + bytes(4)


def text_records(profile: TextProfile, *, lengths: str = "card") -> dict[int, bytes]:
    """The content of the text EFs (with filler), as the card stores them."""
    enc = tlv_encoder(lengths)
    # EF 0001 is a fixed 17-byte EF on every card (FF 10 0C + 12 digits + FF FF), in every
    # length variant: DF31 hashes all 17 bytes.
    my_number = encode_tlv(0xFF10, profile.my_number.encode("ascii")) + b"\xff\xff"
    fields = [
        enc(0xDF22, profile.name.encode("utf-8")),
        enc(0xDF23, profile.address.encode("utf-8")),
        enc(0xDF24, profile.birth.encode("ascii")),
        enc(0xDF25, profile.sex.encode("ascii")),
    ]
    attributes = _offset_record(0xFF20, fields, enc)
    covered = b"".join(fields)
    signed = (enc(0xDF31, hashlib.sha256(my_number).digest())
              + enc(0xDF32, hashlib.sha256(covered).digest()))
    integrity = enc(0xFF30, signed + enc(0xDF33, _sign(profile.signing_key, signed)))
    # 0005 (§9): DF43 is 32 bytes then 96 x FF; what the 32 bytes are is not established
    # (here: a digest of the CV certificate, so that they are stable and not zero).
    df43 = hashlib.sha256(profile.cv_certificate).digest() + b"\xff" * 96
    ap_info = enc(0xFF40, enc(0xDF41, TEXT_AP_INFO_DF41) + enc(0xDF42, TEXT_AP_INFO_KEY_ID)
                  + enc(0xDF43, df43))
    # 0007 (§9): the card key, signed by the EF 0004 key over the DF51 field as written.
    df51 = enc(0xDF51, encode_public_key(profile.card_key.public_key(), enc))
    signed_key = enc(0xFF50, df51 + enc(0xDF52, _sign(profile.signing_key, df51)))
    records: dict[int, bytes] = {
        TextFile.MY_NUMBER: my_number,  # 17 bytes: the FF FF filler is hashed too (DF31)
        TextFile.ATTRIBUTES: _pad(attributes),
        TextFile.INTEGRITY: integrity,
        TextFile.CV_CERTIFICATE: profile.cv_certificate,
        TextFile.AP_INFO: _pad(ap_info),
        TextFile.SIGNED_CARD_KEY: signed_key,
        TextFile.EXTRA: b"\xff" * 16,
    }
    if profile.session_key is not None:
        # 0006 (§9): a bare RSA public key under A1, for session-key delivery.
        records[TextFile.SESSION_KEY] = _pad(enc(0xA1, encode_public_key(
            profile.session_key.public_key(), enc)))
    return records


def _options_lengths(options: EmulatorOptions | None) -> str:
    return getattr(options, "record_lengths", "card") if options is not None else "card"


def build_text(profile: TextProfile, options: EmulatorOptions | None = None) -> Application:
    """The text AP: its EFs, keys 0011 (PIN), 0012 (issued blocked), 0014 (照合番号A),
    0015 (照合番号B) and the card key 0013."""
    app = Application(Aid.TEXT.value, "text")
    for fid, content in text_records(profile, lengths=_options_lengths(options)).items():
        app.add(BinaryFile(fid, content, TEXT_READ_ACCESS[TextFile(fid)]))
    app.add(KeyFile(TextFile.PIN, profile.pin.encode("ascii"), profile.tries["pin"], PIN4))
    # 0012: issued blocked (query 63 C0, VERIFY 69 84); no value can ever open it.
    app.add(KeyFile(TextFile.BLOCKED_KEY, b"", 1, UNCHANGEABLE, tries_left=0,
                    issued_blocked=True))
    app.add(KeyFile(TextFile.PIN_A, profile.my_number.encode("ascii"), profile.tries["pin_a"],
                    UNCHANGEABLE))
    app.add(KeyFile(TextFile.PIN_B, profile.pin_b.encode("ascii"), profile.tries["pin_b"],
                    UNCHANGEABLE))
    # No use_keys: the card-presence signature (80 2A 00 00) needs no secret.
    app.add(PrivateKeyFile(TextFile.CARD_KEY, profile.card_key))
    return app


# --- visual AP -------------------------------------------------------------------------------


def face_digest_info(signed_parts: tuple[bytes, bytes, bytes]) -> bytes:
    """The DigestInfo DF28 signs: three SHA-256 digests in one 96-byte OCTET STRING (§6)."""
    return FACE_DIGEST_INFO_PREFIX + b"".join(hashlib.sha256(p).digest() for p in signed_parts)


def visual_records(profile: VisualProfile, *, lengths: str = "card") -> dict[int, bytes]:
    """The content of visual EFs 0001-0006 (with filler), as the card stores them."""
    enc = tlv_encoder(lengths)
    card_public = encode_public_key(profile.card_key.public_key(), enc)

    # 0001, age record: DF13 signs DF11 and DF12 as written (§9), by the EF 0004 key.
    age_signed = enc(0xDF11, profile.birth.encode("ascii")) + enc(0xDF12, card_public)
    age = enc(0xFF10, age_signed + enc(0xDF13, _sign(profile.signing_key, age_signed)))

    fields = [
        enc(0xDF22, profile.birth.encode("ascii")),
        enc(0xDF23, profile.sex.encode("ascii")),
        enc(0xDF24, card_public),
        enc(0xDF25, profile.name_image),
        enc(0xDF26, profile.address_image),
        enc(0xDF27, profile.photo),
    ]
    parts = (fields[0] + fields[1] + fields[2], fields[3] + fields[4], fields[5])
    signature = sign_pkcs1_type1(PrivateKeyFile(0, profile.signing_key),
                                 face_digest_info(parts))
    face = _offset_record(0xFF20, [
        *fields,
        enc(0xDF28, signature),
        enc(0xDF29, profile.expiry.encode("ascii")),  # not covered by DF28
        enc(0xDF2A, profile.security_code_image),  # not covered by DF28
    ], enc)
    # 0003, basic info (§9): the municipality code is DF34 (5 ASCII digits, without the
    # check digit of the 6-digit 全国地方公共団体コード). DF35's 256 bytes are opaque on real
    # cards; here a deterministic stand-in.
    df35 = VISUAL_DF35_KEY_ID + b"".join(
        hashlib.sha256(profile.cv_certificate + bytes((i,))).digest() for i in range(8))
    basic = enc(0xFF30, enc(0xDF31, VISUAL_BASIC_DF31) + enc(0xDF32, VISUAL_BASIC_KEY_ID)
                + enc(0xDF33, VISUAL_BASIC_VERSION)
                + enc(0xDF34, profile.municipality_code[:5].encode("ascii"))
                + enc(0xDF35, df35))
    # 0005, the My Number image (§9): DF43 signs DF41 and DF42 as written.
    number_signed = enc(0xDF41, profile.my_number_image) + enc(0xDF42, card_public)
    number_image = enc(0xFF40, number_signed
                       + enc(0xDF43, _sign(profile.signing_key, number_signed)))
    return {
        VisualFile.AGE: _pad(age),
        VisualFile.FACE: _pad(face),
        VisualFile.BASIC_INFO: _pad(basic),
        VisualFile.CV_CERTIFICATE: profile.cv_certificate,
        VisualFile.MY_NUMBER_IMAGE: _pad(number_image),
        VisualFile.EXTRA: b"\xff" * 16,  # 0006: 16 x FF (§9)
    }


def build_visual(profile: VisualProfile, options: EmulatorOptions | None = None
                 ) -> Application:
    """The visual AP: EFs 0001-0006, keys 0011 (birth date), 0012 (B), 0013 (A), card key
    001A."""
    app = Application(Aid.VISUAL.value, "visual")
    for fid, content in visual_records(profile, lengths=_options_lengths(options)).items():
        app.add(BinaryFile(fid, content, VISUAL_READ_ACCESS[VisualFile(fid)]))
    app.add(KeyFile(VisualFile.BIRTH_KEY, profile.birth_key.encode("ascii"),
                    profile.tries["birth"], UNCHANGEABLE))
    app.add(KeyFile(VisualFile.PIN_B, profile.pin_b.encode("ascii"), profile.tries["pin_b"],
                    UNCHANGEABLE))
    app.add(KeyFile(VisualFile.PIN_A, profile.my_number.encode("ascii"),
                    profile.tries["pin_a"], UNCHANGEABLE))
    app.add(PrivateKeyFile(VisualFile.CARD_KEY, profile.card_key))
    return app
