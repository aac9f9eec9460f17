"""Why a signature, certificate path, revocation check or challenge was rejected.

Every rejection carries one :class:`Reason` (a stable, machine-readable code) and a short
message. The codes are the contract: tests, callers and the CLI's ``--json`` output match on
them, never on the wording. This module imports nothing heavy, so the CLI's exit-code table
(:mod:`mynaid.cli.exitcodes`) can import it at start-up.
"""

from __future__ import annotations

import enum

from mynaid.errors import VerificationFailedError

__all__ = ["Reason", "VerificationError"]


class Reason(str, enum.Enum):
    """A reason code for a failed verification (the value is what ``--json`` prints)."""

    # --- input structure ---------------------------------------------------------------
    MALFORMED = "malformed"
    """Not DER (truncated, trailing bytes) or not the expected ASN.1 structure."""
    UNSUPPORTED = "unsupported"
    """A well-formed structure we do not handle (several signers, RSASSA-PSS, ...)."""
    UNSUPPORTED_ALGORITHM = "unsupported-algorithm"
    """A digest or signature algorithm outside the accepted set (e.g. SHA-1, MD5)."""

    # --- CMS -------------------------------------------------------------------------------
    CONTENT_MISSING = "content-missing"
    """A detached signature was given without its content."""
    CONTENT_MISMATCH = "content-mismatch"
    """Content was given for an attached signature and differs from the embedded content."""
    SIGNED_ATTRIBUTES_MISSING = "signed-attributes-missing"
    """No signed attributes, or a required one (contentType, messageDigest) is absent."""
    CONTENT_TYPE_MISMATCH = "content-type-mismatch"
    """The contentType attribute differs from the encapsulated content type."""
    MESSAGE_DIGEST_MISMATCH = "message-digest-mismatch"
    """The messageDigest attribute is not the digest of the content."""
    SIGNER_CERT_MISSING = "signer-certificate-missing"
    """The signature carries no certificate and none was supplied."""
    SIGNER_CERT_MISMATCH = "signer-certificate-mismatch"
    """No available certificate matches the SignerInfo's signer identifier."""
    BAD_SIGNATURE = "bad-signature"
    """The signature does not verify (over the signed attributes, or the challenge)."""

    # --- certificate path --------------------------------------------------------------
    UNKNOWN_ISSUER = "unknown-issuer"
    """No chain to a trust anchor: no candidate issuer's key verifies the certificate."""
    UNTRUSTED_ANCHOR = "untrusted-anchor"
    """The chain ends in a self-signed certificate that is neither pinned nor supplied."""
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    NOT_A_CA = "not-a-ca"
    """An issuing certificate lacks BasicConstraints cA=TRUE."""
    PATH_TOO_LONG = "path-too-long"
    """A pathLenConstraint is exceeded, or the chain is longer than the builder allows."""
    KEY_USAGE_MISSING = "key-usage-missing"
    """The certificate has no KeyUsage extension."""
    KEY_USAGE_NOT_ALLOWED = "key-usage-not-allowed"
    """KeyUsage lacks a bit the certificate's role needs."""
    EXTENDED_KEY_USAGE_NOT_ALLOWED = "extended-key-usage-not-allowed"
    """ExtKeyUsage is absent or lacks the purpose needed (clientAuth, OCSPSigning)."""
    UNKNOWN_CRITICAL_EXTENSION = "unknown-critical-extension"
    POLICY_NOT_ACCEPTED = "policy-not-accepted"
    """None of the certificate's policy OIDs is acceptable for its role."""
    MALFORMED_CERTIFICATE = "malformed-certificate"
    """A certificate (or one of its extensions) does not parse."""
    ROOT_PURPOSE_MISMATCH = "root-purpose-mismatch"
    """The path ends in a J-LIS root of the other purpose (auth vs signature)."""
    NAME_CONSTRAINTS_UNSUPPORTED = "name-constraints-unsupported"
    """A CA on the path has NameConstraints, which this validator does not process."""
    ROLE_MISMATCH = "role-mismatch"
    """The signer's certificate has another role than the one required (auth vs sign)."""
    NOT_DER = "not-der"
    """The structure is BER but not DER (indefinite or non-minimal lengths)."""
    MALFORMED_SAN = "malformed-san"
    """The signature certificate's SubjectAltName holder data is missing or malformed."""

    # --- revocation ----------------------------------------------------------------------
    REVOKED = "revoked"
    REVOCATION_UNKNOWN = "revocation-unknown"
    """The OCSP responder does not know the certificate."""
    REVOCATION_STALE = "revocation-stale"
    """The only status information is out of date (nextUpdate passed)."""
    REVOCATION_UNAVAILABLE = "revocation-unavailable"
    """No CRL or OCSP response could be had for the certificate."""
    REVOCATION_UNREACHABLE = "revocation-unreachable"
    """The OCSP responder could not be reached (connection, timeout, HTTP error)."""
    REVOCATION_BAD_SIGNATURE = "revocation-bad-signature"
    CRL_ISSUER_NOT_ALLOWED = "crl-issuer-not-allowed"
    """The CRL's issuer certificate does not allow cRLSign."""
    """A CRL or OCSP response is not signed by the key it claims."""
    OCSP_UNAUTHORIZED_RESPONDER = "ocsp-unauthorized-responder"
    """The OCSP response is signed by a responder with no authority for this issuer."""
    OCSP_ERROR_RESPONSE = "ocsp-error-response"
    """The responder answered with an error status (malformedRequest, tryLater, ...)."""
    OCSP_NONCE_MISMATCH = "ocsp-nonce-mismatch"
    OCSP_NO_MATCHING_RESPONSE = "ocsp-no-matching-response"

    # --- challenge-response --------------------------------------------------------------
    CHALLENGE_UNKNOWN = "challenge-unknown"
    """The nonce was never issued by this verifier (or was forgotten)."""
    CHALLENGE_REUSED = "challenge-reused"
    """The nonce was already answered once."""
    CHALLENGE_EXPIRED = "challenge-expired"
    CHALLENGE_CONTEXT_MISMATCH = "challenge-context-mismatch"
    """The response names another verifier context than this one."""


class VerificationError(VerificationFailedError):
    """A signature, certificate or challenge failed verification (CLI exit code 6).

    ``reason`` is the stable code; ``subject`` names what failed (``"certificate 0"`` for
    the end entity, ``"certificate 1"`` for its issuer, ``"signature"``, ...). Messages
    never include holder data, only structure, names of CAs, serials and times.
    """

    reason: Reason

    def __init__(self, reason: Reason, message: str, *, subject: str | None = None) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.detail = message
        self.subject = subject
