"""The My Number Card's layout: application ids, file ids and secrets (pure data).

One source of truth shared by the library's sessions and by the emulator, taken from
``card-reference.md`` §2–4. Numbers marked unconfirmed there (tries of the text and visual
keys) are defaults that card profiles may override.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from mynaid.errors import InvalidSecretError


class Aid(bytes, enum.Enum):
    """Application identifiers."""

    JPKI = bytes.fromhex("D392F000260100000001")
    TEXT = bytes.fromhex("D3921000310001010408")
    VISUAL = bytes.fromhex("D3921000310001010402")
    JUKI = bytes.fromhex("D3921000310001010401")
    COMMON = bytes.fromhex("D3921000310001010100")


class JpkiFile(enum.IntEnum):
    """Elementary files of the JPKI application."""

    SIGN_CERT = 0x0001
    SIGN_CA_CERT = 0x0002
    TOKEN_INFO = 0x0006
    CERT_AVAILABILITY = 0x0008
    AUTH_CERT = 0x000A
    AUTH_CA_CERT = 0x000B
    AUTH_KEY = 0x0017
    AUTH_PIN = 0x0018
    SIGN_KEY = 0x001A
    SIGN_PIN = 0x001B


class TextFile(enum.IntEnum):
    """Elementary files of the text application (券面事項入力補助AP, card-reference §4-5)."""

    MY_NUMBER = 0x0001
    ATTRIBUTES = 0x0002
    INTEGRITY = 0x0003
    CV_CERTIFICATE = 0x0004
    AP_INFO = 0x0005
    #: An RSA public key (tag A1) for delivering a session key (card-reference §9).
    SESSION_KEY = 0x0006
    #: The text AP's card key (DF51) signed by the EF 0004 key (DF52) (card-reference §9).
    SIGNED_CARD_KEY = 0x0007
    #: 16 x FF on the cards seen; purpose unknown.
    EXTRA = 0x0008
    PIN = 0x0011
    #: A key issued blocked (query 63 C0, VERIFY 69 84); what it guards is unknown.
    BLOCKED_KEY = 0x0012
    #: The card-presence key (internal EF, card-reference §9): the library signs with
    #: ``80 2A 00 00`` and never selects it.
    CARD_KEY = 0x0013
    PIN_A = 0x0014
    PIN_B = 0x0015


class VisualFile(enum.IntEnum):
    """Elementary files of the visual application (券面事項確認AP, card-reference §4, §6)."""

    AGE = 0x0001
    FACE = 0x0002
    BASIC_INFO = 0x0003
    CV_CERTIFICATE = 0x0004
    MY_NUMBER_IMAGE = 0x0005
    EXTRA = 0x0006
    BIRTH_KEY = 0x0011
    PIN_B = 0x0012
    PIN_A = 0x0013
    #: The card-presence key (internal EF, card-reference §9).
    CARD_KEY = 0x001A


#: Which keys open each readable EF of the text AP: any one of them (None = free to read).
TEXT_READ_ACCESS: dict[TextFile, frozenset[int] | None] = {
    TextFile.MY_NUMBER: frozenset({TextFile.PIN, TextFile.PIN_A}),
    TextFile.ATTRIBUTES: frozenset({TextFile.PIN, TextFile.PIN_B}),
    TextFile.INTEGRITY: frozenset({TextFile.PIN, TextFile.PIN_A, TextFile.PIN_B}),
    TextFile.CV_CERTIFICATE: None,
    TextFile.AP_INFO: None,
    TextFile.SESSION_KEY: frozenset({TextFile.PIN, TextFile.PIN_A, TextFile.PIN_B}),
    TextFile.SIGNED_CARD_KEY: frozenset({TextFile.PIN, TextFile.PIN_A, TextFile.PIN_B}),
    # Unconfirmed: opened like 0006/0007 here.
    TextFile.EXTRA: frozenset({TextFile.PIN, TextFile.PIN_A, TextFile.PIN_B}),
}

#: Which keys open each readable EF of the visual AP (card-reference §4).
VISUAL_READ_ACCESS: dict[VisualFile, frozenset[int] | None] = {
    VisualFile.AGE: frozenset({VisualFile.BIRTH_KEY}),
    VisualFile.FACE: frozenset({VisualFile.PIN_A, VisualFile.PIN_B}),
    VisualFile.BASIC_INFO: None,
    VisualFile.CV_CERTIFICATE: None,
    VisualFile.MY_NUMBER_IMAGE: frozenset({VisualFile.PIN_A}),
    VisualFile.EXTRA: frozenset({VisualFile.PIN_A, VisualFile.PIN_B}),
}


class CertificateSlot(enum.Enum):
    """The four JPKI certificates, by the names the CLI uses."""

    AUTH = "auth"
    AUTH_CA = "auth-ca"
    SIGN = "sign"
    SIGN_CA = "sign-ca"

    @property
    def fid(self) -> JpkiFile:
        return _CERT_FILES[self]

    @property
    def needs_sign_password(self) -> bool:
        """The signature certificate carries the holder's name and address: it needs 001B."""
        return self is CertificateSlot.SIGN


_CERT_FILES = {
    CertificateSlot.AUTH: JpkiFile.AUTH_CERT,
    CertificateSlot.AUTH_CA: JpkiFile.AUTH_CA_CERT,
    CertificateSlot.SIGN: JpkiFile.SIGN_CERT,
    CertificateSlot.SIGN_CA: JpkiFile.SIGN_CA_CERT,
}


class SecretFormat(enum.Enum):
    """How a secret is written; :meth:`normalize` checks it before any APDU is sent."""

    PIN4 = "4 digits"
    SIGN_PASSWORD = "6 to 16 characters A-Z and 0-9"  # noqa: S105 - a format, not a secret
    DIGITS6 = "6 digits"
    DIGITS12 = "12 digits"
    DIGITS14 = "14 digits"

    def normalize(self, secret: str) -> bytes:
        """The secret as the card expects it, or :class:`InvalidSecretError`.

        The error names the expected format and the length found, never the secret itself.
        """
        if not secret.isascii():
            # Checked before upper-casing: str.upper() turns some non-ASCII letters into
            # A-Z (ß → SS), which would let a value the holder never typed through.
            raise InvalidSecretError(f"expected {self.value}; got non-ASCII characters")
        value = secret.upper() if self is SecretFormat.SIGN_PASSWORD else secret
        pattern = _SECRET_PATTERNS[self]
        if not pattern.fullmatch(value):
            raise InvalidSecretError(
                f"expected {self.value}; got {len(secret)} characters that do not match"
            )
        return value.encode("ascii")


_SECRET_PATTERNS = {
    SecretFormat.PIN4: re.compile(r"[0-9]{4}"),
    SecretFormat.SIGN_PASSWORD: re.compile(r"[A-Z0-9]{6,16}"),
    SecretFormat.DIGITS6: re.compile(r"[0-9]{6}"),
    SecretFormat.DIGITS12: re.compile(r"[0-9]{12}"),
    SecretFormat.DIGITS14: re.compile(r"[0-9]{14}"),
}


# --- checks that a value can be right, before it is sent ------------------------------------


def my_number_check_digit(first11: str) -> int:
    """The check digit of a My Number from its first 11 digits (card-reference §5).

    Digits P1..P11 are numbered from the right, weights Qn = n + 1 for n <= 6 and n - 5
    above; r = sum(Pn * Qn) mod 11; the check digit is 0 when r <= 1, else 11 - r.
    """
    if len(first11) != 11 or not first11.isdigit() or not first11.isascii():
        raise ValueError("expected 11 ASCII digits")
    total = 0
    for n, ch in enumerate(reversed(first11), start=1):
        weight = n + 1 if n <= 6 else n - 5
        total += int(ch) * weight
    r = total % 11
    return 0 if r <= 1 else 11 - r


def valid_my_number(value: str) -> bool:
    """True for 12 ASCII digits whose last is the check digit of the first 11."""
    if len(value) != 12 or not value.isdigit() or not value.isascii():
        return False
    return my_number_check_digit(value[:11]) == int(value[11])


def _check_era_date(yymmdd: str) -> None:
    """An era date YYMMDD: era year 01..99, a real month and day (29 February allowed,
    since the era year alone does not tell the Gregorian year)."""
    year, month, day = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6])
    days = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    if year == 0 or not 1 <= month <= 12 or not 1 <= day <= days[month]:
        raise InvalidSecretError("the era date part (YYMMDD) is not a date")


@dataclass(frozen=True)
class SecretRef:
    """A secret on the card: where it lives, how it is written and its usual maximum tries."""

    name: str
    label: str
    aid: Aid
    fid: int
    format: SecretFormat
    max_tries: int
    confirmed: bool = True

    def validate(self, secret: str) -> bytes:
        """The secret as the card expects it, or :class:`InvalidSecretError` when it cannot
        be right: wrong format, a 照合番号A (the My Number) whose check digit is wrong, or an
        era date (照合番号B, birth-date key) that is not a date. Nothing is sent either way,
        so a mistyped value never costs a try. Messages name the rule, never the value."""
        value = self.format.normalize(secret)
        if self.format is SecretFormat.DIGITS12 and not valid_my_number(secret):
            raise InvalidSecretError("照合番号A is the My Number: its check digit is wrong")
        if self.format in (SecretFormat.DIGITS14, SecretFormat.DIGITS6):
            _check_era_date(secret[:6])
        return value


AUTH_PIN = SecretRef("auth-pin", "利用者証明用暗証番号 (auth PIN)", Aid.JPKI, 0x0018,
                     SecretFormat.PIN4, 3)
SIGN_PASSWORD = SecretRef("sign-password", "署名用パスワード (signature password)", Aid.JPKI,
                          0x001B, SecretFormat.SIGN_PASSWORD, 5)
TEXT_PIN = SecretRef("text-pin", "券面事項入力補助用暗証番号 (text PIN)", Aid.TEXT, 0x0011,
                     SecretFormat.PIN4, 3)
TEXT_PIN_A = SecretRef("text-pin-a", "照合番号A (text AP)", Aid.TEXT, 0x0014,
                       SecretFormat.DIGITS12, 3, confirmed=False)
TEXT_PIN_B = SecretRef("text-pin-b", "照合番号B (text AP)", Aid.TEXT, 0x0015,
                       SecretFormat.DIGITS14, 10, confirmed=False)
# Visual keys: 10 tries (card-reference §9: two readers run on real cards refuse to go on
# below 10 for 照合番号A; B and the birth-date key very likely the same).
VISUAL_PIN_A = SecretRef("visual-pin-a", "照合番号A (visual AP)", Aid.VISUAL, 0x0013,
                         SecretFormat.DIGITS12, 10, confirmed=False)
VISUAL_PIN_B = SecretRef("visual-pin-b", "照合番号B (visual AP)", Aid.VISUAL, 0x0012,
                         SecretFormat.DIGITS14, 10, confirmed=False)
VISUAL_BIRTH_KEY = SecretRef("visual-birth", "birth-date key (visual AP)", Aid.VISUAL, 0x0011,
                             SecretFormat.DIGITS6, 10, confirmed=False)

ALL_SECRETS: tuple[SecretRef, ...] = (
    AUTH_PIN, SIGN_PASSWORD, TEXT_PIN, TEXT_PIN_A, TEXT_PIN_B,
    VISUAL_PIN_A, VISUAL_PIN_B, VISUAL_BIRTH_KEY,
)
SECRETS_BY_NAME = {ref.name: ref for ref in ALL_SECRETS}

#: DigestInfo prefixes for the hash algorithms the card's keys sign with (card-reference §3).
DIGEST_INFO_PREFIXES = {
    "sha1": bytes.fromhex("3021300906052B0E03021A05000414"),
    "sha256": bytes.fromhex("3031300D060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300D060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300D060960864801650304020305000440"),
}
