"""The emulated text (券面事項入力補助) and visual (券面事項確認) applications.

Records are built from a profile section exactly as card-reference §5–6 lays them out, and
signed with the profile's ``signing_key`` (standing in for the issuer's key) when the card is
built. This module builds; :mod:`mynaid.records` parses. They are separate code on purpose, so
that a misreading of the layout in one is caught by the tests of the other.

Choices where card-reference is silent (marked unconfirmed in the docstrings below): the
EF 0005 fields of the text AP, the visual 0003, 0005 and 0006 records, the age record's
signature rule and the card-presence key's file id.
"""

from __future__ import annotations

import hashlib
import re

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
from mynaid.iso7816.tlv import encode_tlv, parse_first

#: A 照合番号 or birth-date key cannot be changed with CHANGE REFERENCE DATA (it is derived
#: from the card face): a pattern that matches nothing makes the card answer 6A 80.
UNCHANGEABLE = re.compile(rb"(?!)")
PIN4 = re.compile(rb"[0-9]{4}")

#: DigestInfo header of the visual signature: SHA-256's OID with a 96-byte digest (§6).
FACE_DIGEST_INFO_PREFIX = bytes.fromhex("3071300D060960864801650304020105000460")
#: Text EF 0005's DF41 and DF43 (unconfirmed placeholders: §5 gives only their tags).
TEXT_AP_INFO_DF41 = bytes.fromhex("01000000")
TEXT_AP_INFO_DF43 = bytes.fromhex("00")
#: Records are padded with FF to a whole number of these (real EFs have fixed sizes).
PAD_UNIT = 32
KEY_ID_KIND = b"\x08\x05"


def _pad(record: bytes) -> bytes:
    return record + b"\xff" * (-len(record) % PAD_UNIT)


def encode_public_key(key: rsa.RSAPublicKey) -> bytes:
    """``90 03 01 00 01 91 82 01 00 <modulus>``: how the card writes an RSA public key."""
    numbers = key.public_numbers()
    modulus = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    exponent = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    return encode_tlv(0x90, exponent) + encode_tlv(0x91, modulus)


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


def _offset_record(tag: int, fields: list[tuple[int, bytes]]) -> bytes:
    """A record whose first field (DF21) lists the file offsets of the following fields."""
    count = len(fields)
    placeholder = encode_tlv(0xDF21, bytes(2 * count))
    body_tlvs = [encode_tlv(t, v) for t, v in fields]
    content_len = len(placeholder) + sum(len(t) for t in body_tlvs)
    header_len = len(encode_tlv(tag, bytes(content_len))) - content_len
    offsets = []
    pos = header_len + len(placeholder)
    for tlv in body_tlvs:
        offsets.append(pos)
        pos += len(tlv)
    df21 = encode_tlv(0xDF21, b"".join(o.to_bytes(2, "big") for o in offsets))
    return encode_tlv(tag, df21 + b"".join(body_tlvs))


# --- text AP ---------------------------------------------------------------------------------


def text_records(profile: TextProfile) -> dict[int, bytes]:
    """The content of text EFs 0001–0005 (with filler), as the card stores them."""
    my_number = encode_tlv(0xFF10, profile.my_number.encode("ascii")) + b"\xff\xff"
    fields = [
        (0xDF22, profile.name.encode("utf-8")),
        (0xDF23, profile.address.encode("utf-8")),
        (0xDF24, profile.birth.encode("ascii")),
        (0xDF25, profile.sex.encode("ascii")),
    ]
    attributes = _offset_record(0xFF20, fields)
    covered = b"".join(encode_tlv(t, v) for t, v in fields)
    signed = (encode_tlv(0xDF31, hashlib.sha256(my_number).digest())
              + encode_tlv(0xDF32, hashlib.sha256(covered).digest()))
    signature = profile.signing_key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    integrity = encode_tlv(0xFF30, signed + encode_tlv(0xDF33, signature))
    subject_key_id = _subject_key_id(profile.cv_certificate)
    ap_info = encode_tlv(0xFF40, encode_tlv(0xDF41, TEXT_AP_INFO_DF41)
                         + encode_tlv(0xDF42, subject_key_id)
                         + encode_tlv(0xDF43, TEXT_AP_INFO_DF43))
    return {
        TextFile.MY_NUMBER: my_number,  # 17 bytes: the FF FF filler is hashed too (DF31)
        TextFile.ATTRIBUTES: _pad(attributes),
        TextFile.INTEGRITY: integrity,
        TextFile.CV_CERTIFICATE: profile.cv_certificate,
        TextFile.AP_INFO: _pad(ap_info),
    }


def _subject_key_id(cv_certificate: bytes) -> bytes:
    """The subject key id (bytes 16-31 of the 5F4E body) of an EF 0004 certificate."""
    for child in parse_first(cv_certificate).children():
        if child.tag == 0x5F4E and len(child.value) >= 32:
            return child.value[16:32]
    raise ValueError("the profile's CV certificate has no 5F4E body with key ids")


def build_text(profile: TextProfile, options: EmulatorOptions | None = None) -> Application:
    """The text AP: EFs 0001–0005, keys 0011 (PIN), 0014 (照合番号A), 0015 (照合番号B)."""
    del options  # no variant applies to this AP yet
    app = Application(Aid.TEXT.value, "text")
    for fid, content in text_records(profile).items():
        app.add(BinaryFile(fid, content, TEXT_READ_ACCESS[TextFile(fid)]))
    app.add(KeyFile(TextFile.PIN, profile.pin.encode("ascii"), profile.tries["pin"], PIN4))
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


def visual_records(profile: VisualProfile) -> dict[int, bytes]:
    """The content of visual EFs 0001–0006 (with filler), as the card stores them."""
    card_public = encode_public_key(profile.card_key.public_key())
    subject_key_id = _subject_key_id(profile.cv_certificate)

    # 0001, age record: DF13 signs DF11‖DF12 with SHA-256 (the emulator's rule; unconfirmed).
    age_signed = (encode_tlv(0xDF11, profile.birth.encode("ascii"))
                  + encode_tlv(0xDF12, card_public))
    age_sig = profile.signing_key.sign(age_signed, padding.PKCS1v15(), hashes.SHA256())
    age = encode_tlv(0xFF10, age_signed + encode_tlv(0xDF13, age_sig))

    parts = [
        encode_tlv(0xDF22, profile.birth.encode("ascii"))
        + encode_tlv(0xDF23, profile.sex.encode("ascii"))
        + encode_tlv(0xDF24, card_public),
        encode_tlv(0xDF25, profile.name_image) + encode_tlv(0xDF26, profile.address_image),
        encode_tlv(0xDF27, profile.photo),
    ]
    digest_info = face_digest_info((parts[0], parts[1], parts[2]))
    signature = sign_pkcs1_type1(PrivateKeyFile(0, profile.signing_key), digest_info)
    face = _offset_record(0xFF20, [
        (0xDF22, profile.birth.encode("ascii")),
        (0xDF23, profile.sex.encode("ascii")),
        (0xDF24, card_public),
        (0xDF25, profile.name_image),
        (0xDF26, profile.address_image),
        (0xDF27, profile.photo),
        (0xDF28, signature),
        (0xDF29, profile.expiry.encode("ascii")),  # not covered by DF28
        (0xDF2A, profile.security_code_image),  # not covered by DF28
    ])
    # 0003, basic info (layout unconfirmed): municipality code and the AP's key id.
    basic = encode_tlv(0xFF30, encode_tlv(0xDF31, profile.municipality_code.encode("ascii"))
                       + encode_tlv(0xDF32, subject_key_id))
    # 0005, the My Number image (layout unconfirmed): one PNG.
    number_image = encode_tlv(0xFF50, encode_tlv(0xDF51, profile.my_number_image))
    # 0006: card-reference does not describe it; a placeholder naming the AP's key.
    extra = encode_tlv(0xFF60, encode_tlv(0xDF61, subject_key_id))
    return {
        VisualFile.AGE: _pad(age),
        VisualFile.FACE: _pad(face),
        VisualFile.BASIC_INFO: _pad(basic),
        VisualFile.CV_CERTIFICATE: profile.cv_certificate,
        VisualFile.MY_NUMBER_IMAGE: _pad(number_image),
        VisualFile.EXTRA: _pad(extra),
    }


def build_visual(profile: VisualProfile, options: EmulatorOptions | None = None
                 ) -> Application:
    """The visual AP: EFs 0001–0006, keys 0011 (birth date), 0012 (B), 0013 (A)."""
    del options
    app = Application(Aid.VISUAL.value, "visual")
    for fid, content in visual_records(profile).items():
        app.add(BinaryFile(fid, content, VISUAL_READ_ACCESS[VisualFile(fid)]))
    app.add(KeyFile(VisualFile.BIRTH_KEY, profile.birth_key.encode("ascii"),
                    profile.tries["birth"], UNCHANGEABLE))
    app.add(KeyFile(VisualFile.PIN_B, profile.pin_b.encode("ascii"), profile.tries["pin_b"],
                    UNCHANGEABLE))
    app.add(KeyFile(VisualFile.PIN_A, profile.my_number.encode("ascii"),
                    profile.tries["pin_a"], UNCHANGEABLE))
    app.add(PrivateKeyFile(VisualFile.CARD_KEY, profile.card_key))
    return app
