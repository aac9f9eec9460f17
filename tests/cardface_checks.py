"""Independent checks of every signature of the card-face applications, for the in-process
and the pcscd tests (tests/test_cardface_fidelity.py, tests/test_text_visual_pcsc.py).

Written from the rule in card-reference §9 (and /work/wt/CONTRACT-signed-records.md), not
from mynaid.integrity, so that a misreading in the library shows up here: every record
signature is PKCS#1 v1.5 SHA-256 by the key the EF 0004 CV certificate certifies, over the
fields before the signature as written (the outer header excluded); the visual face record's
DF28 signs three SHA-256 digests; the presence challenge is signed by the card key, which is
another key.
"""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mynaid.iso7816.apdu import CommandApdu
from mynaid.protocol import CardProtocol
from mynaid.sessions.text import TextSession
from mynaid.sessions.visual import VisualSession

SHA256_DIGEST_INFO = bytes.fromhex("3031300D060960864801650304020105000420")
FACE_PREFIX = bytes.fromhex("3071300D060960864801650304020105000460")


def tlvs(value: bytes, *, one: bool = False) -> list[tuple[int, bytes, bytes]]:
    """(tag, value, raw) of the TLVs in ``value``, stopping at 00/FF filler (or after the
    first with ``one``: a record's own tag is FFxx); 2-byte tags DFxx / FFxx / 7F21 / 5Fxx
    and 1-byte tags, lengths in any definite form."""
    out: list[tuple[int, bytes, bytes]] = []
    pos = 0
    while pos < len(value) and (one or value[pos] not in (0x00, 0xFF)):
        if one and out:
            break
        start = pos
        tag = value[pos]
        pos += 1
        if tag & 0x1F == 0x1F:
            tag = (tag << 8) | value[pos]
            pos += 1
        first = value[pos]
        pos += 1
        if first < 0x80:
            length = first
        else:
            n = first & 0x7F
            length = int.from_bytes(value[pos : pos + n], "big")
            pos += n
        out.append((tag, value[pos : pos + length], value[start : pos + length]))
        pos += length
    return out


def outer(raw: bytes) -> list[tuple[int, bytes, bytes]]:
    """The fields inside the record that starts ``raw`` (tag FFxx, A1)."""
    ((_tag, value, _raw),) = tlvs(raw, one=True)
    return tlvs(value)


def rsa_key(value: bytes) -> rsa.RSAPublicKey:
    fields = {t: v for t, v, _ in tlvs(value)}
    return rsa.RSAPublicNumbers(int.from_bytes(fields[0x90], "big"),
                                int.from_bytes(fields[0x91], "big")).public_key()


def verifies(key: rsa.RSAPublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def recovers(key: rsa.RSAPublicKey, signature: bytes, digest_info: bytes) -> bool:
    try:
        return key.recover_data_from_signature(signature, padding.PKCS1v15(),
                                               None) == digest_info
    except InvalidSignature:
        return False


def before(fields: list[tuple[int, bytes, bytes]], tag: int) -> tuple[bytes, bytes]:
    """(signed bytes, signature) for the signature field ``tag``."""
    signed = b""
    for t, v, raw in fields:
        if t == tag:
            return signed, v
        signed += raw
    raise AssertionError(f"no {tag:X}")


def cv_key(raw: bytes) -> rsa.RSAPublicKey:
    body = dict((t, v) for t, v, _ in outer(raw))[0x5F4E]
    return rsa_key(body[32:])


def presence_signature(protocol: CardProtocol, aid: bytes, challenge: bytes) -> bytes:
    """``80 2A 00 00`` over the SHA-256 DigestInfo of ``challenge``, raw."""
    protocol.send(CommandApdu(0x00, 0xA4, 0x04, 0x0C, aid))
    response = protocol.send(CommandApdu(
        0x80, 0x2A, 0x00, 0x00, SHA256_DIGEST_INFO + hashlib.sha256(challenge).digest(),
        le=256))
    assert response.sw == 0x9000, hex(response.sw)
    return response.data


def check_all(protocol: CardProtocol, secrets: dict[str, str]) -> dict[str, bool]:
    """Read every signed record of both card-face APs through ``protocol`` and check each
    signature with the key that signs it on a real card, and not with the other key.
    Returns check name -> passed (all must be True)."""
    results: dict[str, bool] = {}
    text = TextSession(protocol)
    visual = VisualSession(protocol)
    t_cert = text.read_raw(0x0004, "t0004", 2048)
    v_cert = visual.read_raw(0x0004, "v0004", 2048)
    t_key, v_key = cv_key(t_cert), cv_key(v_cert)

    # Text 0003: DF33 over DF31 || DF32.
    t3 = outer(text.read_raw(0x0003, "t0003", 4096, "pin", secrets["pin"]))
    signed, sig = before(t3, 0xDF33)
    results["text 0003 DF33 by 0004 key"] = verifies(t_key, sig, signed)
    # Text 0007: DF52 over DF51; DF51 is the text card key.
    t7 = outer(text.read_raw(0x0007, "t0007", 4096, "pin-b", secrets["pin-b"]))
    signed, sig = before(t7, 0xDF52)
    text_card_key = rsa_key(dict((t, v) for t, v, _ in t7)[0xDF51])
    results["text 0007 DF52 by 0004 key"] = verifies(t_key, sig, signed)
    results["text 0007 DF52 not by the card key"] = not verifies(text_card_key, sig, signed)
    # Text presence: the card key signs, the 0004 key does not.
    challenge = os.urandom(32)
    sig = presence_signature(protocol, text.aid.value, challenge)
    results["text presence by card key"] = verifies(text_card_key, sig, challenge)
    results["text presence not by 0004 key"] = not verifies(t_key, sig, challenge)

    # Visual 0001: DF13 over DF11 || DF12.
    v1 = outer(visual.read_raw(0x0001, "v0001", 4096, "birth", secrets["birth"]))
    signed, sig = before(v1, 0xDF13)
    card_key_0001 = rsa_key(dict((t, v) for t, v, _ in v1)[0xDF12])
    results["visual 0001 DF13 by 0004 key"] = verifies(v_key, sig, signed)
    results["visual 0001 DF13 not by the card key"] = not verifies(card_key_0001, sig, signed)
    # Visual 0002: DF28 over three digests.
    v2 = outer(visual.read_raw(0x0002, "v0002", 0x7FFF, "pin-a", secrets["pin-a"]))
    raw = {t: r for t, _, r in v2}
    parts = (raw[0xDF22] + raw[0xDF23] + raw[0xDF24], raw[0xDF25] + raw[0xDF26], raw[0xDF27])
    digest_info = FACE_PREFIX + b"".join(hashlib.sha256(p).digest() for p in parts)
    sig = dict((t, v) for t, v, _ in v2)[0xDF28]
    results["visual 0002 DF28 by 0004 key"] = recovers(v_key, sig, digest_info)
    card_key_0002 = rsa_key(dict((t, v) for t, v, _ in v2)[0xDF24])
    # Visual 0005: DF43 over DF41 || DF42.
    v5 = outer(visual.read_raw(0x0005, "v0005", 4096, "pin-a", secrets["pin-a"]))
    signed, sig = before(v5, 0xDF43)
    card_key_0005 = rsa_key(dict((t, v) for t, v, _ in v5)[0xDF42])
    results["visual 0005 DF43 by 0004 key"] = verifies(v_key, sig, signed)
    # One card key in DF12, DF24, DF42, and it is not the 0004 key.
    numbers = {k.public_numbers() for k in (card_key_0001, card_key_0002, card_key_0005)}
    results["visual DF12 = DF24 = DF42"] = len(numbers) == 1
    results["visual card key is not the 0004 key"] = v_key.public_numbers() not in numbers
    results["text card key is not the 0004 key"] = (
        text_card_key.public_numbers() != t_key.public_numbers())
    challenge = os.urandom(32)
    sig = presence_signature(protocol, visual.aid.value, challenge)
    results["visual presence by card key"] = verifies(card_key_0002, sig, challenge)
    results["visual presence not by 0004 key"] = not verifies(v_key, sig, challenge)
    return results
