"""Challenge-response authentication with the card's authentication key.

The flow of a kiosk, an eKYC service or a clinic's eligibility check:

1. the verifier issues a :class:`Challenge`: 32 random bytes and the time it was issued,
   remembered until it is answered or expires;
2. the client (:func:`respond`) has the card sign :func:`signed_message` - a fixed
   domain-separation tag, the verifier's *context* string and the nonce - with the auth
   key (PKCS#1 v1.5, SHA-256), and returns the signature with the auth certificate;
3. the verifier (:meth:`ChallengeVerifier.verify`) checks that the nonce is one it issued,
   not yet answered (one-time use) and still fresh, that the context is its own, the
   signature, the certificate path, the auth policy OID and clientAuth (and revocation,
   when configured), and returns an :class:`AuthResult` with the certificate serial and
   the subject id (the auth certificate's opaque CN; it names no person).

The tag and context keep a signature made here from being valid for any other protocol
that has the same card sign data (a CMS signature, a TLS handshake, another verifier).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from mynaid.trust.anchors import TrustStore
from mynaid.trust.errors import Reason, VerificationError
from mynaid.trust.path import CertificateRole, ValidatedPath, ValidationOptions, validate_path

if TYPE_CHECKING:
    from mynaid.protocol import CardProtocol
    from mynaid.trust.revocation import RevocationChecker, RevocationResult

__all__ = [
    "DEFAULT_CONTEXT",
    "NONCE_SIZE",
    "AuthResult",
    "Challenge",
    "ChallengeResponse",
    "ChallengeVerifier",
    "respond",
    "signed_message",
]

#: Version tag of the signed message; changing the format changes the tag.
DOMAIN_TAG = b"mynaid challenge-response v1\x00"
#: Context used when the verifier names none.
DEFAULT_CONTEXT = "mynaid-auth"
NONCE_SIZE = 32
#: Nonce sizes a client accepts from other verifiers (16 bytes is the least that is unguessable).
MIN_NONCE, MAX_NONCE = 16, 128
MAX_CONTEXT = 256


#: The card holds one CA certificate; a response carrying more is refused before parsing.
MAX_CA_CERTIFICATES = 4


def signed_message(context: str, nonce: bytes) -> bytes:
    """What the card signs: tag || len(context) (2 bytes) || context (UTF-8) || nonce.

    The length prefix keeps (context, nonce) pairs from colliding ("ab"+"c..." vs "a"+"bc...").
    """
    raw = context.encode("utf-8")
    if not 1 <= len(raw) <= MAX_CONTEXT:
        raise ValueError(f"the context must be 1..{MAX_CONTEXT} bytes of UTF-8")
    if not MIN_NONCE <= len(nonce) <= MAX_NONCE:
        raise ValueError(f"the nonce must be {MIN_NONCE}..{MAX_NONCE} bytes")
    return DOMAIN_TAG + len(raw).to_bytes(2, "big") + raw + nonce


@dataclass(frozen=True)
class Challenge:
    """What the verifier sends: a nonce, when it was issued, and the verifier's context."""

    nonce: bytes
    issued_at: dt.datetime
    context: str = DEFAULT_CONTEXT

    def as_dict(self) -> dict[str, str]:
        return {"nonce": self.nonce.hex(), "issued_at": self.issued_at.isoformat(),
                "context": self.context}


@dataclass(frozen=True)
class ChallengeResponse:
    """What the client returns: the nonce and context it signed, the signature, its cert."""

    nonce: bytes
    context: str
    signature: bytes
    certificate: x509.Certificate
    #: The card's auth CA certificate (EF 000B): used by the verifier only if it is pinned.
    ca_certificates: tuple[x509.Certificate, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (hex nonce, base64 signature and DER certificates)."""
        def b64(cert: x509.Certificate) -> str:
            return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()

        return {
            "nonce": self.nonce.hex(),
            "context": self.context,
            "signature": base64.b64encode(self.signature).decode("ascii"),
            "certificate": b64(self.certificate),
            "ca_certificates": [b64(c) for c in self.ca_certificates],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChallengeResponse:
        """Parse :meth:`as_dict` output (e.g. what ``mynaid auth --json`` printed)."""
        from mynaid.trust.certs import load_certificate

        def cert(text: str) -> x509.Certificate:
            # Parsed completely here, so a broken field cannot surface later, in verify().
            return load_certificate(base64.b64decode(text, validate=True),
                                    what="the response's certificate")

        offered = data.get("ca_certificates", []) if isinstance(data, dict) else []
        if isinstance(offered, list) and len(offered) > MAX_CA_CERTIFICATES:
            raise VerificationError(Reason.MALFORMED,
                                    f"at most {MAX_CA_CERTIFICATES} CA certificates are "
                                    "accepted with a response", subject="response")
        try:
            return cls(nonce=bytes.fromhex(data["nonce"]), context=str(data["context"]),
                       signature=base64.b64decode(data["signature"], validate=True),
                       certificate=cert(data["certificate"]),
                       ca_certificates=tuple(cert(c) for c in data.get("ca_certificates", [])))
        except VerificationError:
            raise
        except (KeyError, TypeError, ValueError, binascii.Error, AttributeError):
            raise VerificationError(Reason.MALFORMED, "the challenge response does not parse",
                                    subject="response") from None


@dataclass(frozen=True)
class AuthResult:
    """A successful authentication."""

    serial: int
    subject_id: str
    certificate: x509.Certificate
    path: ValidatedPath
    revocation: tuple[RevocationResult, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "authenticated": True,
            "serial": format(self.serial, "X"),
            "subject_id": self.subject_id,
            "subject": self.certificate.subject.rfc4514_string(),
            "issuer": self.certificate.issuer.rfc4514_string(),
            "policy_kind": self.path.policy_kind.value,
            "policies": list(self.path.policies),
            "anchor_fingerprint": self.path.anchor_fingerprint,
            "revocation": [r.as_dict() for r in self.revocation],
        }


# --- client ----------------------------------------------------------------------------------


def respond(protocol: CardProtocol, nonce: bytes, auth_pin: str, *,
            context: str = DEFAULT_CONTEXT, force: bool = False,
            reserve: int | None = None) -> ChallengeResponse:
    """Sign a verifier's nonce with the card's auth key (uses the auth PIN, guarded).

    ``reserve``: tries the lockout guard keeps for the auth PIN (default 1).
    """
    from mynaid.cardspec import CertificateSlot
    from mynaid.sessions.jpki import JpkiSession

    message = signed_message(context, nonce)  # validates sizes before any APDU
    session = JpkiSession(protocol, {"auth-pin": reserve} if reserve is not None else None)
    with session.transaction():
        # A smartphone token's auth certificate needs the (guarded) auth PIN first.
        certificate = session.read_certificate(CertificateSlot.AUTH, auth_pin=auth_pin,
                                               force=force)
        ca_certificate = session.read_certificate(CertificateSlot.AUTH_CA)
        signature = session.sign_digest("auth", "sha256", hashlib.sha256(message).digest(),
                                        auth_pin, force=force)
    return ChallengeResponse(nonce=nonce, context=context, signature=signature,
                             certificate=certificate, ca_certificates=(ca_certificate,))


# --- verifier --------------------------------------------------------------------------------


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class ChallengeVerifier:
    """Issues nonces and verifies answers (thread-safe; state is in memory).

    ``trust``: anchors for the auth certificate (default: the pinned J-LIS roots).
    ``lifetime``: how long a nonce may be answered. ``production_only``: refuse the JPKI
    test-card policy. ``clock``: the time source (tests pass a fake one). A verifier that
    runs in several processes needs a shared nonce store instead of this one.
    """

    trust: TrustStore = field(default_factory=TrustStore.jpki)
    context: str = DEFAULT_CONTEXT
    lifetime: dt.timedelta = dt.timedelta(minutes=2)
    production_only: bool = False
    revocation: RevocationChecker | None = None
    clock: Callable[[], dt.datetime] = _utcnow
    #: Bound on outstanding nonces, so that a flood of requests cannot exhaust memory.
    max_outstanding: int = 100_000
    _issued: dict[bytes, dt.datetime] = field(default_factory=dict, repr=False)
    _used: dict[bytes, dt.datetime] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        signed_message(self.context, b"\x00" * NONCE_SIZE)  # validate the context early

    def issue(self) -> Challenge:
        """A fresh challenge (32 bytes from the OS CSPRNG)."""
        now = self.clock()
        nonce = secrets.token_bytes(NONCE_SIZE)
        with self._lock:
            self._expire(now)
            if len(self._issued) >= self.max_outstanding:
                # Drop the oldest (dicts keep issue order): its client will get
                # challenge-unknown and retry.
                del self._issued[next(iter(self._issued))]
            self._issued[nonce] = now
        return Challenge(nonce=nonce, issued_at=now, context=self.context)

    def _expire(self, now: dt.datetime) -> None:
        # Issued nonces expire after one lifetime; used ones are forgotten one lifetime after
        # their use, after which a replay is reported as unknown (still refused). Both dicts
        # are in time order, so only the expired front is visited: O(expired), not O(all),
        # under the lock that every issue and verify takes.
        for store in (self._issued, self._used):
            while store:
                oldest = next(iter(store))
                if now - store[oldest] <= self.lifetime:
                    break
                del store[oldest]

    def consume(self, nonce: bytes, now: dt.datetime | None = None) -> None:
        """Spend a nonce this verifier issued; :class:`VerificationError` (challenge-unknown,
        -reused or -expired) when it cannot be.

        :meth:`verify` does this itself. Call it directly when a nonce is answered by other
        means than the card's signature (e.g. a kiosk's device attestation), so that one
        book of nonces serves every route and a nonce answered once is refused everywhere.
        """
        now = self.clock() if now is None else now
        with self._lock:
            issued = self._issued.pop(nonce, None)
            if issued is None:
                self._expire(now)
                if nonce in self._used:
                    raise VerificationError(Reason.CHALLENGE_REUSED,
                                            "this challenge was already answered",
                                            subject="challenge")
                raise VerificationError(Reason.CHALLENGE_UNKNOWN,
                                        "this verifier did not issue that challenge (or has "
                                        "forgotten it)", subject="challenge")
            # One-time use: consumed even if the rest of the verification fails. Remembered
            # (from now) for one lifetime, to answer "reused" rather than "unknown".
            self._used[nonce] = now
            self._expire(now)
        if now - issued > self.lifetime:
            age = int((now - issued).total_seconds())
            raise VerificationError(Reason.CHALLENGE_EXPIRED,
                                    f"the challenge was issued {age} s ago; it is valid for "
                                    f"{int(self.lifetime.total_seconds())} s",
                                    subject="challenge")

    def verify(self, response: ChallengeResponse) -> AuthResult:
        """Check an answer; raise :class:`VerificationError` with the reason if it fails."""
        now = self.clock()
        if response.context != self.context:
            raise VerificationError(Reason.CHALLENGE_CONTEXT_MISMATCH,
                                    "the response was made for another verifier context",
                                    subject="challenge")
        self.consume(response.nonce, now)
        from mynaid.trust.certs import ASN1_ERRORS, checked

        checked(response.certificate, what="the auth certificate")
        try:
            return self._verify(response, now)
        except ASN1_ERRORS:
            raise VerificationError(Reason.MALFORMED, "the challenge response does not parse",
                                    subject="response") from None

    def _verify(self, response: ChallengeResponse, now: dt.datetime) -> AuthResult:
        key = response.certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise VerificationError(Reason.UNSUPPORTED_ALGORITHM,
                                    "the auth certificate does not hold an RSA key",
                                    subject="certificate 0")
        try:
            key.verify(response.signature, signed_message(self.context, response.nonce),
                       padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise VerificationError(Reason.BAD_SIGNATURE,
                                    "the signature over the challenge does not verify",
                                    subject="signature") from None
        options = ValidationOptions(role=CertificateRole.AUTH, at=now,
                                    production_only=self.production_only)
        path = validate_path(response.certificate, self.trust,
                             intermediates=response.ca_certificates, options=options)
        results: tuple[RevocationResult, ...] = ()
        if self.revocation is not None:
            results = tuple(self.revocation.enforce(path.certificates, now))
        cns = response.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        subject_id = str(cns[0].value) if cns else ""
        return AuthResult(serial=response.certificate.serial_number, subject_id=subject_id,
                          certificate=response.certificate, path=path, revocation=results)
