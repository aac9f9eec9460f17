"""The relying party's data: people, linked certificates, confirmation records.

Everything here is frozen and holds no secret; :class:`Person` holds personal data (the
four attributes) and keeps it out of ``repr`` so that it does not reach logs by accident.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import json
import secrets
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from mynaid.trust.san import HolderInfo

__all__ = [
    "CertificateKind",
    "CertificateRecord",
    "CertificateStatus",
    "ConfirmationRecord",
    "Operation",
    "Person",
    "certificate_ref",
    "fingerprint",
    "identity_key",
    "new_id",
    "normalise_name",
    "now_text",
    "parse_time",
    "time_text",
]


def new_id() -> str:
    """A random id (128 bits, hex): ids are chosen by the application, not the database."""
    return secrets.token_hex(16)


def time_text(t: dt.datetime) -> str:
    """UTC, fixed width, so that text order is time order in both databases."""
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_text() -> str:
    return time_text(dt.datetime.now(dt.timezone.utc))


def parse_time(text: str) -> dt.datetime:
    """The inverse of :func:`time_text` (fromisoformat: strptime costs ten times as much)."""
    if len(text) == 27 and text[-1] == "Z":
        try:
            return dt.datetime.fromisoformat(text[:-1]).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            pass  # the strict parser below names the problem
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER, lower-case hex."""
    return cert.fingerprint(_SHA256).hex()


def der_b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


def certificate_ref(cert: x509.Certificate) -> str:
    """A short pseudonymous tag of a certificate for the logs (a hash of issuer and serial):
    follows one card through the log lines without the log holding its serial."""
    serial = format(cert.serial_number, "x").encode()
    return hashlib.sha256(cert.issuer.public_bytes() + b"\x00" + serial).hexdigest()[:12]


_SHA256 = hashes.SHA256()


def normalise_name(name: str) -> str:
    """A name as compared: NFKC (full/half width alike), without any white space (the card
    separates family and given name with U+3000, other sources with a space or nothing)."""
    text = unicodedata.normalize("NFKC", name)
    return "".join(ch for ch in text if not ch.isspace())


def identity_key(name: str, birth_raw: str, sex_code: str, address: str) -> str:
    """The person's key: SHA-256 over the four attributes, normalised. A renewed or
    replacement card with the same four attributes finds the same person."""
    parts = [normalise_name(name), birth_raw, sex_code,
             unicodedata.normalize("NFKC", address).replace(" ", "").replace("\u3000", "")]
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


class Operation(str, enum.Enum):
    REGISTER = "register"
    RENEW = "renew"
    LOGIN = "login"
    FACE = "face"
    VISUAL = "visual"
    RECHECK = "recheck"


class CertificateKind(str, enum.Enum):
    SIGN = "sign"
    AUTH = "auth"


class CertificateStatus(str, enum.Enum):
    ACTIVE = "active"
    RETIRED = "retired"  # replaced by a renewal or a replacement card
    REVOKED = "revoked"  # found revoked by a status re-check


@dataclass(frozen=True, repr=False)
class Person:
    """A registered person: the signature certificate's four attributes."""

    id: str
    name: str
    name_flags: str
    birth_date: dt.date | None
    birth_raw: str
    sex_code: str
    address: str

    def __repr__(self) -> str:
        return f"Person(id={self.id!r}, <personal data hidden>)"

    @classmethod
    def from_holder(cls, person_id: str, holder: HolderInfo) -> Person:
        return cls(person_id, holder.name, holder.name_substitute_flags, holder.birth_date,
                   holder.birth_raw, holder.sex_code, holder.address)

    @property
    def identity_key(self) -> str:
        return identity_key(self.name, self.birth_raw, self.sex_code, self.address)

    @property
    def sex(self) -> str:
        """``male``, ``female`` or ``unspecified`` (the SAN's codes 1, 2, 3)."""
        return {"1": "male", "2": "female"}.get(self.sex_code, "unspecified")

    def public_dict(self) -> dict[str, Any]:
        """What the service returns to the relying party's own application."""
        return {"person_id": self.id, "name": self.name, "address": self.address,
                "birth_date": self.birth_date.isoformat() if self.birth_date else None,
                "sex": self.sex}


@dataclass(frozen=True)
class CertificateRecord:
    """A certificate linked to a person."""

    id: str
    person_id: str
    kind: CertificateKind
    issuer: str
    serial: str
    fingerprint: str
    status: CertificateStatus
    registered_at: dt.datetime
    der: str = field(repr=False)
    issuer_der: str = field(repr=False)
    retired_at: dt.datetime | None = None
    last_checked_at: dt.datetime | None = None

    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(base64.b64decode(self.der))

    def issuer_certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(base64.b64decode(self.issuer_der))


@dataclass(frozen=True)
class ConfirmationRecord:
    """確認記録: one check - what, when, with which certificates, and the result.

    Holds no My Number, no photo and no card-face attribute: ``details`` says which checks
    were made and passed, the revocation sources asked and the policy kind.
    """

    id: str
    at: dt.datetime
    operation: str
    result: str  # accepted, refused, indeterminate
    reason: str  # "ok" or a reason code
    person_id: str | None = None
    nonce_digest: str | None = None
    auth_issuer: str | None = None
    auth_serial: str | None = None
    auth_fingerprint: str | None = None
    sign_issuer: str | None = None
    sign_serial: str | None = None
    sign_fingerprint: str | None = None
    kiosk_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    COLUMNS = ("id", "at", "operation", "result", "reason", "person_id", "nonce_digest",
               "auth_issuer", "auth_serial", "auth_fingerprint", "sign_issuer",
               "sign_serial", "sign_fingerprint", "kiosk_id", "details")

    def row(self) -> tuple[Any, ...]:
        return (self.id, time_text(self.at), self.operation, self.result, self.reason,
                self.person_id, self.nonce_digest, self.auth_issuer, self.auth_serial,
                self.auth_fingerprint, self.sign_issuer, self.sign_serial,
                self.sign_fingerprint, self.kiosk_id,
                json.dumps(self.details, sort_keys=True, ensure_ascii=False))

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> ConfirmationRecord:
        values = dict(zip(cls.COLUMNS, row, strict=True))
        values["at"] = parse_time(values["at"])
        values["details"] = json.loads(values["details"])
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.COLUMNS}
        out["at"] = self.at.isoformat()
        return out
