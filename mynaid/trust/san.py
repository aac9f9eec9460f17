"""The holder data in a JPKI signature certificate's SubjectAltName (card-reference §7).

The signature certificate carries six otherNames with UTF8String values:

=========================  ====================================================
``1.2.392.200149.8.5.5.1``  name (family and given name separated by U+3000)
``.2``                      name substitute-character positions
``.3``                      sex: ``1`` male, ``2`` female, ``3`` unspecified
``.4``                      birth date ``EYYYYMMDD``: era code then Gregorian date
``.5``                      address
``.6``                      address substitute-character positions
=========================  ====================================================

Characters outside JIS X 0208 levels 1-2 (and the supplementary kanji) are replaced by a
substitute character in the certificate; the two flag strings mark where, one digit per
position, ``0`` meaning "as registered" (single source: public write-ups of real
certificates show ``00000`` and ``000...0``). The data is personal: :class:`HolderInfo`
hides it from ``repr`` so that it does not end up in logs by accident.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from mynaid.trust.errors import Reason, VerificationError

__all__ = ["ERAS", "HOLDER_OIDS", "SEXES", "HolderInfo", "parse_holder"]

_ARC = "1.2.392.200149.8.5.5."
HOLDER_OIDS = {
    "name": x509.ObjectIdentifier(_ARC + "1"),
    "name_flags": x509.ObjectIdentifier(_ARC + "2"),
    "sex": x509.ObjectIdentifier(_ARC + "3"),
    "birth": x509.ObjectIdentifier(_ARC + "4"),
    "address": x509.ObjectIdentifier(_ARC + "5"),
    "address_flags": x509.ObjectIdentifier(_ARC + "6"),
}
_FIELD_BY_OID = {oid: name for name, oid in HOLDER_OIDS.items()}

#: Era codes of the birth date: (kanji, romaji).
ERAS = {
    "0": ("不明", "unknown"),
    "1": ("明治", "Meiji"),
    "2": ("大正", "Taisho"),
    "3": ("昭和", "Showa"),
    "4": ("平成", "Heisei"),
    "5": ("令和", "Reiwa"),
}
SEXES = {"1": "male", "2": "female", "3": "unspecified"}

_MAX_TEXT = 512  # far above any real name or address; a guard against absurd input


@dataclass(frozen=True, repr=False)
class HolderInfo:
    """The decoded holder data of a signature certificate."""

    name: str
    name_substitute_flags: str
    sex_code: str
    birth_raw: str
    address: str
    address_substitute_flags: str

    def __repr__(self) -> str:
        return "HolderInfo(<personal data hidden>)"

    @property
    def sex(self) -> str:
        """``male``, ``female`` or ``unspecified``."""
        return SEXES[self.sex_code]

    @property
    def birth_era_code(self) -> str:
        return self.birth_raw[0]

    @property
    def birth_era(self) -> str:
        """The era in kanji (明治 ... 令和, or 不明)."""
        return ERAS[self.birth_era_code][0]

    @property
    def birth_era_romaji(self) -> str:
        return ERAS[self.birth_era_code][1]

    @property
    def birth_date(self) -> dt.date | None:
        """The Gregorian birth date, or None when the certificate gives none."""
        return _date(self.birth_raw[1:])

    @property
    def name_substituted_positions(self) -> list[int]:
        """Positions (0-based) flagged as substitute characters in the name."""
        return [i for i, c in enumerate(self.name_substitute_flags) if c != "0"]

    @property
    def address_substituted_positions(self) -> list[int]:
        return [i for i, c in enumerate(self.address_substitute_flags) if c != "0"]

    def summary(self) -> dict[str, Any]:
        """Name and address only: what a verifier shows to say who signed."""
        return {
            "name": self.name,
            "address": self.address,
            "name_has_substitutes": bool(self.name_substituted_positions),
            "address_has_substitutes": bool(self.address_substituted_positions),
        }

    def details(self) -> dict[str, Any]:
        """Everything, decoded (for callers that are entitled to the full holder data)."""
        birth = self.birth_date
        return {
            **self.summary(),
            "sex": self.sex,
            "sex_code": self.sex_code,
            "birth_date": birth.isoformat() if birth else None,
            "birth_era": self.birth_era,
            "birth_era_romaji": self.birth_era_romaji,
            "birth_raw": self.birth_raw,
            "name_substitute_flags": self.name_substitute_flags,
            "address_substitute_flags": self.address_substitute_flags,
        }


def _date(digits: str) -> dt.date | None:
    if set(digits) == {"0"}:
        return None
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def _malformed(message: str) -> VerificationError:
    return VerificationError(Reason.MALFORMED_SAN, message, subject="certificate 0")


def _utf8(value: bytes, field: str) -> str:
    """A DER UTF8String (tag 0C, definite minimal length, nothing after it) as text."""
    from mynaid.trust.der import read_header

    try:
        header = read_header(value, 0, len(value), subject="certificate 0")
        if header.tag != 0x0C or header.header_length + header.length != len(value):
            raise ValueError("not one UTF8String")
        text = bytes(value[header.header_length:]).decode("utf-8")
    except (VerificationError, ValueError, TypeError, IndexError):
        raise _malformed(f"the {field} otherName is not a DER UTF8String") from None
    return text


def parse_holder(cert: x509.Certificate) -> HolderInfo:
    """The holder data of a JPKI signature certificate, or ``malformed-san``.

    All six otherNames must be present exactly once as DER UTF8Strings; the sex must be
    ``1``-``3``, the birth date nine digits with a known era code and a real date (or all
    zeros), the flags digits only, and name and address non-empty without control characters.
    """
    hit = _HOLDERS.get(id(cert))
    if hit is not None and hit[0] is cert:
        return hit[1]
    holder = _parse_holder(cert)
    with _HOLDERS_LOCK:  # verifiers run in threads (the relying-party service)
        if len(_HOLDERS) >= 256:
            _HOLDERS.pop(next(iter(_HOLDERS)))
        _HOLDERS[id(cert)] = (cert, holder)
    return holder


#: Holder data by certificate object (kept, so its id is not reused while in here): a
#: signer's certificate arrives with each of its signatures. Failures are not remembered.
_HOLDERS: dict[int, tuple[x509.Certificate, HolderInfo]] = {}
_HOLDERS_LOCK = threading.Lock()


def _parse_holder(cert: x509.Certificate) -> HolderInfo:
    from mynaid.trust.path import certificate_extensions

    extensions = certificate_extensions(cert, 0)
    try:
        san = extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        raise _malformed("the signature certificate has no SubjectAltName") from None
    assert isinstance(san, x509.SubjectAlternativeName)
    values: dict[str, str] = {}
    for other in san.get_values_for_type(x509.OtherName):
        field = _FIELD_BY_OID.get(other.type_id)
        if field is None:
            continue
        if field in values:
            raise _malformed(f"the {field} otherName appears more than once")
        values[field] = _utf8(other.value, field)
    missing = [f for f in HOLDER_OIDS if f not in values]
    if missing:
        raise _malformed(f"holder otherName(s) missing: {', '.join(missing)}")
    for field in ("name", "address"):
        text = values[field]
        if not text or len(text) > _MAX_TEXT or any(ord(c) < 0x20 or ord(c) == 0x7F
                                                    for c in text):
            raise _malformed(f"the {field} is empty, too long or has control characters")
    for field in ("name_flags", "address_flags"):
        flags = values[field]
        if not flags or len(flags) > _MAX_TEXT or not (flags.isascii() and flags.isdigit()):
            raise _malformed(f"the {field} are not a string of digits")
    if values["sex"] not in SEXES:
        raise _malformed("the sex code is not 1, 2 or 3")
    birth = values["birth"]
    if not (len(birth) == 9 and birth.isascii() and birth.isdigit()):
        raise _malformed("the birth date is not nine digits EYYYYMMDD")
    if birth[0] not in ERAS:
        raise _malformed("the birth date has an unknown era code")
    if set(birth[1:]) != {"0"} and _date(birth[1:]) is None:
        raise _malformed("the birth date is not a calendar date")
    return HolderInfo(
        name=values["name"],
        name_substitute_flags=values["name_flags"],
        sex_code=values["sex"],
        birth_raw=birth,
        address=values["address"],
        address_substitute_flags=values["address_flags"],
    )
