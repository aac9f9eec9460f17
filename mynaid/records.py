"""Records of the text and visual applications: pure parsers and frozen dataclasses.

Layouts follow card-reference §5 (text AP: 券面事項入力補助AP), §6 (visual AP:
券面事項確認AP) and §9, which stands over them. Every record is one BER-TLV at the start of its
EF, possibly followed by ``FF``/``00`` filler; parsers read the first TLV and ignore the rest.

These parsers are *tolerant* where real cards and the readers tested on them differ from a
strict reading (§9): a length may be written in long form even for a short value
(``82 00 08``); the fields inside a record may be followed by ``00``/``FF`` filler up to the end
of the record's value; a text value may end in such filler; a sex code outside {0,1,2,9} is
kept as :attr:`Sex.OTHER` instead of failing the record. Signed bytes are always taken as
read, never re-encoded, so the tolerance cannot change what a signature covers. The strict
parsers (X.509 certificates, CMS) stay strict. Anything else malformed
(truncated, overlong, a missing or duplicated field, a value of the wrong size, text that is
not UTF-8, a date that is not ``YYYYMMDD``) raises :class:`~mynaid.errors.ParseError` and
nothing else.

Privacy: the My Number and the raw bytes that contain it never appear in a ``repr``; parse
errors name tags and lengths, never values.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import rsa

from mynaid.cardspec import my_number_check_digit, valid_my_number
from mynaid.errors import ParseError
from mynaid.iso7816.tlv import Tlv, parse_all, parse_first, parse_one
from mynaid.photo import PhotoFormat, detect_format, is_png

__all__ = [
    "AgeRecord",
    "Attributes",
    "CardFace",
    "CvCertificate",
    "GenericRecord",
    "KeyId",
    "MyNumber",
    "MyNumberImage",
    "SessionKeyRecord",
    "Sex",
    "SignedCardKey",
    "TextApInfo",
    "TextIntegrityRecord",
    "VisualBasicInfo",
    "my_number_check_digit",
    "parse_rsa_public_key",
    "valid_my_number",
]

# --- tags ------------------------------------------------------------------------------------

TAG_MY_NUMBER = 0xFF10
TAG_ATTRIBUTES = 0xFF20
TAG_INTEGRITY = 0xFF30
TAG_AP_INFO = 0xFF40
TAG_CV_CERTIFICATE = 0x7F21
TAG_CV_BODY = 0x5F4E
TAG_CV_SIGNATURE = 0x5F37
TAG_RSA_EXPONENT = 0x90
TAG_RSA_MODULUS = 0x91

KEY_ID_SIZE = 16
MY_NUMBER_DIGITS = 12
#: Bounds of the RSA keys accepted from a card (real ones are 2048-bit).
MIN_RSA_BITS = 1024
MAX_RSA_BITS = 4096


# --- helpers ---------------------------------------------------------------------------------


def _record(raw: bytes, tag: int, what: str) -> Tlv:
    """The first TLV of an EF (filler after it ignored), which must carry ``tag``."""
    tlv = parse_first(raw)
    if tlv.tag != tag:
        raise ParseError(f"{what}: expected tag {tag:X}, found {tlv.tag:X}")
    return tlv


FILLER_BYTES = frozenset(b"\x00\xff")


def record_fields(value: bytes) -> list[Tlv]:
    """The TLVs inside a record's value, tolerating ``00``/``FF`` filler after the last one.

    A ``00`` or ``FF`` byte where a tag would start begins filler (no field of these records
    has such a tag); everything from there to the end of the value must then be filler, so
    that a record cannot hide fields behind it.
    """
    out: list[Tlv] = []
    pos = 0
    while pos < len(value):
        if value[pos] in FILLER_BYTES:
            if any(b not in FILLER_BYTES for b in value[pos:]):
                raise ParseError("a record field follows filler inside the record")
            break
        tlv, pos = parse_one(value, pos)
        out.append(tlv)
    return out


def _fields(tlv: Tlv, what: str) -> list[Tlv]:
    children = record_fields(tlv.value)
    seen: set[int] = set()
    for child in children:
        if child.tag in seen:
            raise ParseError(f"{what}: tag {child.tag:X} appears twice")
        seen.add(child.tag)
    return children


def _get(children: list[Tlv], tag: int, what: str) -> Tlv:
    for child in children:
        if child.tag == tag:
            return child
    raise ParseError(f"{what}: tag {tag:X} missing")


def _fixed(tlv: Tlv, size: int, what: str) -> bytes:
    if len(tlv.value) != size:
        raise ParseError(f"{what}: tag {tlv.tag:X} has {len(tlv.value)} bytes, expected {size}")
    return tlv.value


def _ascii_digits(value: bytes, what: str) -> str:
    if not value.isdigit() or not value.isascii():
        raise ParseError(f"{what}: expected ASCII digits ({len(value)} bytes found)")
    return value.decode("ascii")


def _utf8(value: bytes, what: str) -> str:
    # Filler at the end of a text value is tolerated (one reader tested on real cards strips
    # it); U+0000 and 0xFF are never part of a name or an address.
    value = value.rstrip(b"\x00\xff")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError(f"{what}: not UTF-8 text") from None
    if any(not ch.isprintable() and ch != "\u3000" for ch in text):
        raise ParseError(f"{what}: holds control characters")
    return text


def _date(value: bytes, what: str) -> tuple[str, dt.date | None]:
    """``YYYYMMDD`` ASCII: the text, and the date when it is a calendar date.

    Some registers hold partly unknown dates (a day of 00): the text is kept and the date
    is None instead of failing the whole record.
    """
    if len(value) != 8:
        raise ParseError(f"{what}: a date of {len(value)} bytes, expected 8")
    text = _ascii_digits(value, what)
    try:
        date = dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        date = None
    return text, date


def _offsets(tlv: Tlv, count: int, what: str) -> tuple[int, ...]:
    raw = _fixed(tlv, 2 * count, what)
    return tuple(int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2))


def parse_rsa_public_key(value: bytes, what: str = "public key") -> rsa.RSAPublicKey:
    """``90 <exponent> 91 <modulus>`` (the card's key encoding) as an RSA public key."""
    children = parse_all(value)
    exponent = int.from_bytes(_get(children, TAG_RSA_EXPONENT, what).value, "big")
    modulus = int.from_bytes(_get(children, TAG_RSA_MODULUS, what).value, "big")
    if not MIN_RSA_BITS <= modulus.bit_length() <= MAX_RSA_BITS:
        raise ParseError(f"{what}: a {modulus.bit_length()}-bit modulus is out of range")
    if exponent < 3 or exponent % 2 == 0 or exponent >= modulus:
        raise ParseError(f"{what}: invalid public exponent")
    try:
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    except ValueError as exc:
        raise ParseError(f"{what}: not a usable RSA key") from exc


def encode_rsa_public_key(key: rsa.RSAPublicKey) -> bytes:
    """The inverse of :func:`parse_rsa_public_key`: ``90 03 01 00 01 91 82 01 00 <n>``."""
    from mynaid.iso7816.tlv import encode_tlv

    numbers = key.public_numbers()
    size = (numbers.n.bit_length() + 7) // 8
    e_size = (numbers.e.bit_length() + 7) // 8
    return (encode_tlv(TAG_RSA_EXPONENT, numbers.e.to_bytes(e_size, "big"))
            + encode_tlv(TAG_RSA_MODULUS, numbers.n.to_bytes(size, "big")))


# --- My Number -------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class MyNumber:
    """The individual number (個人番号), check digit validated.

    Its repr and str are masked: read :attr:`value` explicitly where the number is needed.
    """

    value: str = field(repr=False)
    #: EF 0001 as read (the integrity record hashes all of it). Hidden: it holds the number.
    raw: bytes = field(repr=False, compare=False, default=b"")

    def __post_init__(self) -> None:
        if not valid_my_number(self.value):
            # No digit of the value goes into the message.
            raise ParseError("the My Number is not 12 digits with a valid check digit")

    def __repr__(self) -> str:
        return "MyNumber(<12 digits, masked>)"

    __str__ = __repr__

    def masked(self, visible: int = 0) -> str:
        """The number with all but the last ``visible`` digits replaced by ``*``."""
        visible = max(0, min(visible, 4))  # never more than four digits on display
        return "*" * (MY_NUMBER_DIGITS - visible) + (self.value[-visible:] if visible else "")

    @classmethod
    def parse(cls, raw: bytes) -> MyNumber:
        """Text EF 0001: ``FF 10 0C`` + 12 ASCII digits, then filler."""
        tlv = _record(raw, TAG_MY_NUMBER, "My Number record")
        if len(tlv.value) != MY_NUMBER_DIGITS:
            raise ParseError(f"My Number record: {len(tlv.value)} bytes, expected 12")
        value = _ascii_digits(tlv.value, "My Number record")
        return cls(value, bytes(raw))


# --- the four attributes (基本4情報) -----------------------------------------------------------


class Sex(enum.Enum):
    """The sex code of the card records (JIS X 0303); anything else is :attr:`OTHER`."""

    UNKNOWN = "0"
    MALE = "1"
    FEMALE = "2"
    NOT_APPLICABLE = "9"
    #: A code outside {0, 1, 2, 9}: kept (the raw code is the record's ``sex_code``) rather
    #: than failing the whole record (card-reference §9).
    OTHER = "other"

    @classmethod
    def parse(cls, value: bytes, what: str) -> Sex:
        del what  # an unknown code is not an error
        if value in (b"0", b"1", b"2", b"9"):
            return cls(value.decode("ascii"))
        return cls.OTHER


@dataclass(frozen=True)
class Attributes:
    """Text EF 0002: name, address, birth date and sex (基本4情報)."""

    name: str
    address: str
    birth_text: str
    birth: dt.date | None
    sex: Sex
    #: The DF21 offsets (from the start of the EF) of DF22..DF25, as the card states them.
    offsets: tuple[int, ...] = field(repr=False)
    #: DF22..DF25 TLVs as read, in card order: what the integrity record's DF32 hashes.
    covered: bytes = field(repr=False)
    raw: bytes = field(repr=False, compare=False)
    #: The sex code as written (DF25), also when :attr:`sex` is :attr:`Sex.OTHER`.
    sex_code: bytes = field(default=b"", repr=False)

    @property
    def family_name(self) -> str:
        """The part before the ideographic space (U+3000), or the whole name."""
        return self.name.split("\u3000", 1)[0]

    @property
    def given_name(self) -> str:
        parts = self.name.split("\u3000", 1)
        return parts[1] if len(parts) == 2 else ""

    @classmethod
    def parse(cls, raw: bytes) -> Attributes:
        what = "attributes record"
        tlv = _record(raw, TAG_ATTRIBUTES, what)
        children = _fields(tlv, what)
        offsets = _offsets(_get(children, 0xDF21, what), 4, what)
        name = _get(children, 0xDF22, what)
        address = _get(children, 0xDF23, what)
        birth = _get(children, 0xDF24, what)
        sex = _get(children, 0xDF25, what)
        birth_text, birth_date = _date(birth.value, what)
        covered = b"".join(c.raw for c in children if 0xDF22 <= c.tag <= 0xDF25)
        return cls(
            name=_utf8(name.value, what),
            address=_utf8(address.value, what),
            birth_text=birth_text,
            birth=birth_date,
            sex=Sex.parse(sex.value, what),
            offsets=offsets,
            covered=covered,
            raw=tlv.raw,
            sex_code=sex.value,
        )


# --- integrity record and CV certificate -----------------------------------------------------


@dataclass(frozen=True)
class TextIntegrityRecord:
    """Text EF 0003: SHA-256 of EF 0001 (DF31) and of DF22..DF25 (DF32), signed (DF33)."""

    my_number_digest: bytes = field(repr=False)
    attributes_digest: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    #: The DF31 and DF32 TLVs as read: the message DF33 signs.
    signed_data: bytes = field(repr=False)
    raw: bytes = field(repr=False, compare=False)

    @classmethod
    def parse(cls, raw: bytes) -> TextIntegrityRecord:
        what = "integrity record"
        tlv = _record(raw, TAG_INTEGRITY, what)
        children = _fields(tlv, what)
        df31 = _get(children, 0xDF31, what)
        df32 = _get(children, 0xDF32, what)
        df33 = _get(children, 0xDF33, what)
        if not df33.value:
            raise ParseError(f"{what}: empty signature")
        return cls(_fixed(df31, 32, what), _fixed(df32, 32, what), df33.value,
                   df31.raw + df32.raw, tlv.raw)


@dataclass(frozen=True)
class KeyId:
    """A 16-byte CV key id: 7 ASCII digits (issuer), ``08 05``, 3 ASCII digits, padding."""

    raw: bytes

    def __repr__(self) -> str:
        return f"KeyId({self})"

    @property
    def issuer(self) -> str | None:
        """The 7-digit issuer id (``5000033`` text AP, ``5000023`` visual AP), if present."""
        head = self.raw[:7]
        return head.decode("ascii") if head.isdigit() and head.isascii() else None

    def __str__(self) -> str:
        head, kind, serial = self.raw[:7], self.raw[7:9], self.raw[9:12]
        if head.isdigit() and serial.isdigit() and head.isascii() and serial.isascii():
            return f"{head.decode()}-{kind.hex().upper()}-{serial.decode()}"
        return self.raw.hex().upper()


@dataclass(frozen=True)
class CvCertificate:
    """EF 0004 of both APs: the AP's public key certified by an issuer key (§5)."""

    issuer_key_id: KeyId
    subject_key_id: KeyId
    public_key: rsa.RSAPublicKey = field(repr=False)
    #: The 5F4E value: what the issuer's signature covers.
    body: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    raw: bytes = field(repr=False, compare=False)

    @classmethod
    def parse(cls, raw: bytes) -> CvCertificate:
        what = "CV certificate"
        tlv = _record(raw, TAG_CV_CERTIFICATE, what)
        children = _fields(tlv, what)
        body = _get(children, TAG_CV_BODY, what).value
        signature = _get(children, TAG_CV_SIGNATURE, what).value
        if len(body) <= 2 * KEY_ID_SIZE or not signature:
            raise ParseError(f"{what}: body of {len(body)} bytes is too short")
        key = parse_rsa_public_key(body[2 * KEY_ID_SIZE :], what)
        return cls(KeyId(body[:KEY_ID_SIZE]), KeyId(body[KEY_ID_SIZE : 2 * KEY_ID_SIZE]),
                   key, body, signature, tlv.raw)


@dataclass(frozen=True)
class GenericRecord:
    """A record whose fields are not interpreted: its tag and its children in card order.

    Used for the APs' basic-info records (text 0005, visual 0003) and visual 0006, whose
    layouts card-reference gives only in outline.
    """

    tag: int
    fields: tuple[tuple[int, bytes], ...] = field(repr=False)
    raw: bytes = field(repr=False, compare=False)

    def get(self, tag: int) -> bytes | None:
        for child_tag, value in self.fields:
            if child_tag == tag:
                return value
        return None

    @classmethod
    def parse(cls, raw: bytes, tag: int | None = None, what: str = "record") -> GenericRecord:
        tlv = parse_first(raw)
        if tag is not None and tlv.tag != tag:
            raise ParseError(f"{what}: expected tag {tag:X}, found {tlv.tag:X}")
        children = record_fields(tlv.value)
        return cls(tlv.tag, tuple((c.tag, c.value) for c in children), tlv.raw)


# --- visual AP -------------------------------------------------------------------------------

#: The visual face record's tags in card order (DF21 lists their offsets).
FACE_FIELD_TAGS = tuple(range(0xDF22, 0xDF2B))


@dataclass(frozen=True)
class CardFace:
    """Visual EF 0002: what is printed on the card's front, and its issuer signature."""

    birth_text: str
    birth: dt.date | None
    sex: Sex
    card_public_key: rsa.RSAPublicKey = field(repr=False)
    name_image: bytes = field(repr=False)
    address_image: bytes = field(repr=False)
    photo: bytes = field(repr=False)
    photo_format: PhotoFormat
    signature: bytes = field(repr=False)
    expiry_text: str
    expiry: dt.date | None
    security_code_image: bytes = field(repr=False)
    offsets: tuple[int, ...] = field(repr=False)
    #: The three byte strings whose SHA-256 digests DF28 signs (card-reference §6):
    #: DF22‖DF23‖DF24, DF25‖DF26 and DF27 TLVs, as read.
    signed_parts: tuple[bytes, bytes, bytes] = field(repr=False)
    raw: bytes = field(repr=False, compare=False)
    #: The sex code as written (DF23).
    sex_code: bytes = field(default=b"", repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> CardFace:
        what = "card face record"
        tlv = _record(raw, TAG_ATTRIBUTES, what)
        children = _fields(tlv, what)
        offsets = _offsets(_get(children, 0xDF21, what), len(FACE_FIELD_TAGS), what)
        f = {tag: _get(children, tag, what) for tag in FACE_FIELD_TAGS}
        birth_text, birth = _date(f[0xDF22].value, what)
        expiry_text, expiry = _date(f[0xDF29].value, what)
        for tag in (0xDF25, 0xDF26, 0xDF2A):
            if not is_png(f[tag].value):
                raise ParseError(f"{what}: tag {tag:X} is not a PNG image")
        photo = f[0xDF27].value
        if not photo:
            raise ParseError(f"{what}: empty photo")
        if not f[0xDF28].value:
            raise ParseError(f"{what}: empty signature")
        return cls(
            birth_text=birth_text,
            birth=birth,
            sex=Sex.parse(f[0xDF23].value, what),
            card_public_key=parse_rsa_public_key(f[0xDF24].value, f"{what} card key"),
            name_image=f[0xDF25].value,
            address_image=f[0xDF26].value,
            photo=photo,
            photo_format=detect_format(photo),
            signature=f[0xDF28].value,
            expiry_text=expiry_text,
            expiry=expiry,
            security_code_image=f[0xDF2A].value,
            offsets=offsets,
            signed_parts=(f[0xDF22].raw + f[0xDF23].raw + f[0xDF24].raw,
                          f[0xDF25].raw + f[0xDF26].raw, f[0xDF27].raw),
            raw=tlv.raw,
            sex_code=f[0xDF23].value,
        )


def _signed_before(children: list[Tlv], tag: int) -> bytes:
    """The fields before ``tag`` as written: what DF13, DF43 and DF52 sign (card-reference §9;
    the outer template's own header is not included)."""
    out: list[bytes] = []
    for child in children:
        if child.tag == tag:
            return b"".join(out)
        out.append(child.raw)
    raise ParseError(f"tag {tag:X} missing")


def _signature(children: list[Tlv], tag: int, what: str) -> bytes:
    value = _get(children, tag, what).value
    if not value:
        raise ParseError(f"{what}: empty signature")
    return value


@dataclass(frozen=True)
class AgeRecord:
    """Visual EF 0001 (birth-date key): the birth date, the card key and a signature.

    DF13 is PKCS#1 v1.5 SHA-256 by the EF 0004 key over :attr:`signed_data`, the DF11 and
    DF12 fields as written (card-reference §9). DF12 is the card's own key (the one that signs
    presence challenges), not the key that signs the record.
    """

    birth_text: str
    birth: dt.date | None
    public_key: rsa.RSAPublicKey = field(repr=False)
    signature: bytes = field(repr=False)
    raw: bytes = field(repr=False, compare=False)
    signed_data: bytes = field(default=b"", repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> AgeRecord:
        what = "age record"
        tlv = _record(raw, TAG_MY_NUMBER, what)
        children = _fields(tlv, what)
        birth_text, birth = _date(_get(children, 0xDF11, what).value, what)
        key = parse_rsa_public_key(_get(children, 0xDF12, what).value, what)
        return cls(birth_text, birth, key, _signature(children, 0xDF13, what), tlv.raw,
                   _signed_before(children, 0xDF13))


@dataclass(frozen=True)
class MyNumberImage:
    """Visual EF 0005 (照合番号A only): ``FF 40 { DF41 <PNG>, DF42 <card key>, DF43 <sig> }``.

    DF43 signs the DF41 and DF42 fields as written, by the EF 0004 key (card-reference §9).
    """

    image: bytes = field(repr=False)
    public_key: rsa.RSAPublicKey = field(repr=False)
    signature: bytes = field(repr=False)
    signed_data: bytes = field(repr=False)
    raw: bytes = field(repr=False, compare=False)

    @classmethod
    def parse(cls, raw: bytes) -> MyNumberImage:
        what = "My Number image record"
        tlv = _record(raw, TAG_AP_INFO, what)
        children = _fields(tlv, what)
        image = _get(children, 0xDF41, what).value
        if not is_png(image):
            raise ParseError(f"{what}: tag DF41 is not a PNG image")
        key = parse_rsa_public_key(_get(children, 0xDF42, what).value, what)
        return cls(image, key, _signature(children, 0xDF43, what),
                   _signed_before(children, 0xDF43), tlv.raw)


TAG_SIGNED_CARD_KEY = 0xFF50
TAG_SESSION_KEY = 0xA1


@dataclass(frozen=True)
class SignedCardKey:
    """Text EF 0007: ``FF 50 { DF51 <card key>, DF52 <signature> }`` (card-reference §9).

    DF51 is the text application's card key (its private half signs presence challenges);
    DF52 signs the DF51 field as written, by the EF 0004 key.
    """

    public_key: rsa.RSAPublicKey = field(repr=False)
    signature: bytes = field(repr=False)
    signed_data: bytes = field(repr=False)
    raw: bytes = field(repr=False, compare=False)

    @classmethod
    def parse(cls, raw: bytes) -> SignedCardKey:
        what = "signed card key record"
        tlv = _record(raw, TAG_SIGNED_CARD_KEY, what)
        children = _fields(tlv, what)
        key = parse_rsa_public_key(_get(children, 0xDF51, what).value, what)
        return cls(key, _signature(children, 0xDF52, what), _signed_before(children, 0xDF52),
                   tlv.raw)


@dataclass(frozen=True)
class SessionKeyRecord:
    """Text EF 0006: an RSA public key under tag ``A1`` (for delivering a session key; it
    signs nothing)."""

    public_key: rsa.RSAPublicKey = field(repr=False)
    raw: bytes = field(repr=False, compare=False)

    @classmethod
    def parse(cls, raw: bytes) -> SessionKeyRecord:
        what = "session key record"
        tlv = _record(raw, TAG_SESSION_KEY, what)
        return cls(parse_rsa_public_key(
            b"".join(c.raw for c in record_fields(tlv.value)), what), tlv.raw)


@dataclass(frozen=True)
class TextApInfo:
    """Text EF 0005: ``FF 40 { DF41 04 <id>, DF42 10 <key id>, DF43 80 <32 bytes + 96 x FF> }``.

    DF42 names a key that is *not* the EF 0004 key; DF43's meaning is not established.
    """

    identification: bytes
    key_id: KeyId
    trailing: bytes = field(repr=False)
    raw: bytes = field(repr=False, compare=False)

    @classmethod
    def parse(cls, raw: bytes) -> TextApInfo:
        what = "text AP info"
        tlv = _record(raw, TAG_AP_INFO, what)
        children = _fields(tlv, what)
        return cls(_fixed(_get(children, 0xDF41, what), 4, what),
                   KeyId(_fixed(_get(children, 0xDF42, what), KEY_ID_SIZE, what)),
                   _get(children, 0xDF43, what).value, tlv.raw)


@dataclass(frozen=True)
class VisualBasicInfo:
    """Visual EF 0003 (free): ``FF 30 { DF31 04 id, DF32 10 key id, DF33 01 version, DF34 05
    municipality code (ASCII), DF35 <16-byte key id + 256 bytes> }`` (card-reference §9).

    Nothing in it is known to be signed: the municipality code is information, not proof.
    """

    identification: bytes
    key_id: KeyId
    version: int
    municipality_code: str
    df35_key_id: KeyId | None
    df35_data: bytes = field(repr=False)
    raw: bytes = field(repr=False, compare=False)

    @classmethod
    def parse(cls, raw: bytes) -> VisualBasicInfo:
        what = "visual basic info"
        tlv = _record(raw, TAG_INTEGRITY, what)
        children = _fields(tlv, what)
        version = _fixed(_get(children, 0xDF33, what), 1, what)[0]
        code = _ascii_digits(_get(children, 0xDF34, what).value, what)
        df35 = _get(children, 0xDF35, what).value
        return cls(_fixed(_get(children, 0xDF31, what), 4, what),
                   KeyId(_fixed(_get(children, 0xDF32, what), KEY_ID_SIZE, what)), version,
                   code, KeyId(df35[:KEY_ID_SIZE]) if len(df35) >= KEY_ID_SIZE else None,
                   df35[KEY_ID_SIZE:], tlv.raw)
