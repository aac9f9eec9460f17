"""Reason codes of the relying-party service, and its one error class.

A refusal carries either a :class:`mynaid.trust.errors.Reason` (the library decided: a bad
signature, an expired certificate, a revoked one, ...) or a :class:`ServiceReason` (the
service decided: a replayed nonce, an unregistered certificate, a card face that does not
match the person). Both are ``str`` enums whose values are the stable codes that the JSON
answers, the confirmation records and the tests use; wording may change, codes do not.
"""

from __future__ import annotations

import enum

from mynaid.errors import VerificationFailedError
from mynaid.trust.errors import Reason, VerificationError

__all__ = ["HTTP_STATUS", "RpError", "ServiceReason", "http_status"]


class ServiceReason(str, enum.Enum):
    """Why the service refused a request (beyond the library's :class:`Reason`)."""

    # --- nonces (one book for every route; a database guarantee) ---------------------------
    NONCE_UNKNOWN = "nonce-unknown"
    """Not issued by this service (or purged after its lifetime)."""
    NONCE_REPLAYED = "nonce-replayed"
    """Already answered once, on any route, by any worker."""
    NONCE_EXPIRED = "nonce-expired"
    NONCE_WRONG_PURPOSE = "nonce-wrong-purpose"
    """A nonce issued for one operation (e.g. registration) answered for another."""
    CONTEXT_MISMATCH = "challenge-context-mismatch"

    # --- registration, login, renewal -------------------------------------------------------
    NOT_REGISTERED = "not-registered"
    """The auth certificate is linked to no person: register first."""
    CERTIFICATE_RETIRED = "certificate-retired"
    """The certificate was replaced by a renewal or a replacement card."""
    CERTIFICATE_REVOKED = "certificate-revoked"
    """A status re-check found the certificate revoked; the person must register again."""
    AUTH_LINKED_ELSEWHERE = "auth-certificate-linked-elsewhere"
    """The auth certificate is already linked to another person."""
    WRONG_CERTIFICATE_KIND = "wrong-certificate-kind"
    """A signature certificate where an auth certificate belongs, or the reverse."""

    # --- the face / visual route ------------------------------------------------------------
    UNKNOWN_DEVICE = "unknown-device"
    """The kiosk is not registered."""
    BAD_DEVICE_SIGNATURE = "bad-device-signature"
    """The claim is not signed by the kiosk's registered key (or was altered)."""
    CARD_FACE_NOT_VERIFIED = "card-face-not-verified"
    """The card-face identity's integrity or presence checks did not all pass."""
    CARD_FACE_MISMATCH = "card-face-mismatch"
    """The card face names someone else than the person linked to the auth certificate:
    the composite-card (relay) attack, or a card face read from another card."""

    # --- request handling -------------------------------------------------------------------
    MALFORMED = "malformed"
    TOO_LARGE = "too-large"
    TOO_DEEP = "too-deeply-nested"
    UNSUPPORTED_MEDIA_TYPE = "unsupported-media-type"
    RATE_LIMITED = "rate-limited"
    REQUEST_TIMEOUT = "request-timeout"
    NO_SUCH_ENDPOINT = "no-such-endpoint"
    METHOD_NOT_ALLOWED = "method-not-allowed"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not-found"
    """Authenticated, but there is no record (e.g. no insurance record for the person)."""
    STORE_UNAVAILABLE = "store-unavailable"
    """The database could not be reached; retry later (nothing was accepted)."""
    INTERNAL = "internal-error"


#: HTTP status of each code; anything not listed is 403 (the caller is not accepted).
HTTP_STATUS: dict[str, int] = {
    ServiceReason.MALFORMED.value: 400,
    ServiceReason.TOO_DEEP.value: 400,
    Reason.MALFORMED.value: 400,
    Reason.MALFORMED_CERTIFICATE.value: 400,
    ServiceReason.UNAUTHORIZED.value: 401,
    ServiceReason.NOT_FOUND.value: 404,
    ServiceReason.NOT_REGISTERED.value: 404,
    ServiceReason.NO_SUCH_ENDPOINT.value: 404,
    ServiceReason.METHOD_NOT_ALLOWED.value: 405,
    ServiceReason.REQUEST_TIMEOUT.value: 408,
    ServiceReason.AUTH_LINKED_ELSEWHERE.value: 409,
    ServiceReason.TOO_LARGE.value: 413,
    ServiceReason.UNSUPPORTED_MEDIA_TYPE.value: 415,
    ServiceReason.RATE_LIMITED.value: 429,
    ServiceReason.INTERNAL.value: 500,
    # No usable status information, or no database: the service's problem, retry later.
    Reason.REVOCATION_UNAVAILABLE.value: 503,
    Reason.REVOCATION_UNREACHABLE.value: 503,
    Reason.REVOCATION_STALE.value: 503,
    ServiceReason.STORE_UNAVAILABLE.value: 503,
}


def http_status(reason: str) -> int:
    """The HTTP status for a reason code."""
    return HTTP_STATUS.get(reason, 403)


class RpError(VerificationFailedError):
    """A refusal by the relying party: a stable ``reason`` code and a message.

    Messages name structure, CAs, serial-free certificate tags and times, never holder data.
    """

    def __init__(self, reason: ServiceReason | Reason | str, message: str, *,
                 library_reason: str | None = None) -> None:
        code = reason.value if isinstance(reason, enum.Enum) else str(reason)
        super().__init__(f"{code}: {message}", reason=code)
        self.detail = message
        self.library_reason = library_reason

    @property
    def status(self) -> int:
        return http_status(self.reason)

    @classmethod
    def from_verification(cls, exc: VerificationError) -> RpError:
        """The library's reason, kept as it is."""
        return cls(exc.reason, exc.detail, library_reason=exc.reason.value)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"ok": False, "reason": self.reason, "message": self.detail}
        if self.library_reason is not None:
            out["library_reason"] = self.library_reason
        return out
