"""Face-to-face confirmation (対面確認): the chip's card face checked, for staff to compare.

The one core behind ``mynaid confirm``: open the visual application with 照合番号B (read from
the card front or typed), read the card face and prove it (DF28 issuer signature, the CV
certificate against a trusted issuer key, and a fresh challenge signed by the card: a genuine
card is present), then check that the card has not expired and that what is printed on the
front agrees with the chip. The result holds the chip's data for display and a
:class:`ConfirmationRecord`: what a business keeps, as the Digital Agency's 対面確認アプリ
does — date and time, method, which checks passed, the expiry year and the security code;
never the photo and never the My Number (the visual application is opened with 照合番号B,
which does not give the My Number at all).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mynaid.errors import VerificationFailedError

if TYPE_CHECKING:
    from mynaid.cardfront.fields import CardFrontRead
    from mynaid.integrity import IssuerKey, PresenceReport
    from mynaid.protocol import CardProtocol
    from mynaid.records import CardFace

JST = dt.timezone(dt.timedelta(hours=9), "JST")


class ConfirmationFailedError(VerificationFailedError):
    """Face-to-face confirmation failed; ``reason`` says which check (exit code 6)."""

    reason: str = "confirmation-failed"


#: Check name → the reason code when it fails.
FAILURE_REASONS = {
    "card_face_signature": "card-face-tampered",
    "cv_certificate": "card-face-issuer-untrusted",
    "card_presence": "card-not-present",
    "not_expired": "card-expired",
    "front_matches_chip": "card-front-mismatch",
}


@dataclass(frozen=True)
class ConfirmationRecord:
    """What is kept of one confirmation (JSON object, schema in the README)."""

    time: str
    method: str
    checks: dict[str, bool | None]
    expiry_year: int | None
    security_code: str = field(repr=False)
    result: str

    def as_dict(self) -> dict[str, Any]:
        return {"time": self.time, "method": self.method, "checks": dict(self.checks),
                "expiry_year": self.expiry_year, "security_code": self.security_code,
                "result": self.result}


@dataclass(frozen=True)
class Confirmation:
    """The checked card face (for staff) and the record. ``ok``: every check passed."""

    face: CardFace = field(repr=False)
    presence: PresenceReport
    checks: dict[str, bool | None]
    details: dict[str, str]
    record: ConfirmationRecord

    @property
    def ok(self) -> bool:
        return all(v is True for v in self.checks.values())

    def failure(self) -> ConfirmationFailedError | None:
        """The error for the first failed (or unmade) check, None when all passed."""
        for name, passed in self.checks.items():
            if passed is not True:
                reason = FAILURE_REASONS.get(name, "confirmation-failed")
                if passed is None and name == "cv_certificate":
                    reason = "no-issuer-key"
                return ConfirmationFailedError(
                    f"confirmation failed: {name}: {self.details.get(name, 'not checked')}",
                    reason=reason)
        return None


def confirm(protocol: CardProtocol, collation_b: str, issuer_keys: Sequence[IssuerKey], *,
            method: str, scan: CardFrontRead | None = None, force: bool = False,
            now: dt.datetime | None = None) -> Confirmation:
    """Read and prove the card face with ``collation_b`` and judge it (see the module)."""
    from mynaid.sessions.visual import VisualSession

    now = now or dt.datetime.now(JST)
    face, presence = VisualSession(protocol).read_proven(collation_b, "pin-b", issuer_keys,
                                                         force=force)
    checks: dict[str, bool | None] = {}
    details: dict[str, str] = {}
    checks["card_face_signature"] = presence.face_signature.passed
    details["card_face_signature"] = presence.face_signature.reason
    checks["cv_certificate"] = presence.cv_certificate.passed
    details["cv_certificate"] = presence.cv_certificate.reason
    checks["card_presence"] = presence.challenge_signature.passed
    details["card_presence"] = presence.challenge_signature.reason
    today = now.astimezone(JST).date()
    if face.expiry is None:
        checks["not_expired"], details["not_expired"] = False, "the chip has no expiry date"
    else:
        checks["not_expired"] = face.expiry >= today
        details["not_expired"] = "valid until " + face.expiry.isoformat()
    if scan is not None and scan.accepted:
        assert scan.birth.value is not None
        same = scan.birth.value.date == face.birth and scan.expiry.value == face.expiry
        checks["front_matches_chip"] = same
        details["front_matches_chip"] = ("the printed birth date and expiry are the chip's"
                                         if same else "the printed dates differ from the "
                                         "chip's: the card front may be forged")
    code = collation_b[-4:]
    result = "confirmed" if all(v is True for v in checks.values()) else "failed"
    record = ConfirmationRecord(
        time=now.isoformat(timespec="seconds"), method=method, checks=dict(checks),
        expiry_year=face.expiry.year if face.expiry else None, security_code=code,
        result=result)
    return Confirmation(face, presence, checks, details, record)
