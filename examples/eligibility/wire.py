"""What the kiosk and the eligibility server exchange, beyond :mod:`mynaid.challenge`.

The PIN route needs nothing new: the card signs the server's nonce and the client posts
:meth:`mynaid.challenge.ChallengeResponse.as_dict`.

On the face and visual routes the card's auth key is never used (no PIN is entered), so
nothing from the card proves that it is present *now*: its auth certificate is public and
could be replayed by anyone who once read it. As in the real system, where the
face-authentication card reader attests the face match, the kiosk itself vouches for the
session: it signs a :class:`DeviceClaim` (auth certificate, method, the server's nonce, its
own id) with its registered Ed25519 device key. The server believes the claim only as far
as it trusts that kiosk (see README.md, "What the device attestation proves").
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "DEFAULT_CONTEXT",
    "DEVICE_METHODS",
    "DeviceClaim",
    "MalformedError",
    "b64_der",
    "load_certificate_b64",
    "load_device_key",
    "public_key_from_text",
    "public_key_to_text",
    "save_device_key",
]

#: The challenge context of the eligibility service. The client refuses to have the card
#: sign a nonce for any other context, so a server cannot borrow the kiosk to obtain a
#: signature that another verifier (with another context) would accept.
DEFAULT_CONTEXT = "mynaid-eligibility"
#: Domain separation for the device signature; a new claim format gets a new tag.
DEVICE_TAG = b"mynaid eligibility device claim v1\x00"
#: Routes on which the card's key is not used and the kiosk's device key vouches instead.
DEVICE_METHODS = ("face", "visual")
_KIOSK_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: Bounds that keep a hostile body from making the server parse megabytes of "certificate".
MAX_CA_CERTIFICATES = 4
MAX_CERT_B64 = 16_384


class MalformedError(ValueError):
    """A body that does not have the expected structure (the server answers ``malformed``)."""


def b64_der(cert: x509.Certificate) -> str:
    """Base64 of the certificate's DER."""
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


def load_certificate_b64(text: Any) -> x509.Certificate:
    """A certificate from :func:`b64_der` output; :class:`MalformedError` otherwise."""
    if not isinstance(text, str) or len(text) > MAX_CERT_B64:
        raise MalformedError("a certificate must be base64 DER text")
    try:
        return x509.load_der_x509_certificate(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise MalformedError("a certificate does not parse") from exc


def _field(data: bytes) -> bytes:
    # Length-prefixed, so that no two different claims have the same signed bytes.
    return len(data).to_bytes(4, "big") + data


@dataclass(frozen=True)
class DeviceClaim:
    """A kiosk's statement: "this card's holder was identified by ``method``, answering
    ``nonce``". Every field is covered by the device signature."""

    kiosk_id: str
    method: str
    nonce: bytes
    context: str
    certificate: x509.Certificate
    ca_certificates: tuple[x509.Certificate, ...] = ()

    def message(self) -> bytes:
        """The bytes the device key signs: tag, then each field length-prefixed."""
        der = serialization.Encoding.DER
        parts = [self.context.encode(), self.kiosk_id.encode(), self.method.encode(),
                 self.nonce, self.certificate.public_bytes(der),
                 len(self.ca_certificates).to_bytes(1, "big"),
                 *(c.public_bytes(der) for c in self.ca_certificates)]
        return DEVICE_TAG + b"".join(_field(p) for p in parts)

    def sign(self, key: Ed25519PrivateKey) -> bytes:
        """The device signature over :meth:`message`."""
        return key.sign(self.message())

    def verify(self, public_key: Ed25519PublicKey, signature: bytes) -> None:
        """Raise :class:`cryptography.exceptions.InvalidSignature` unless it verifies."""
        public_key.verify(signature, self.message())

    def as_dict(self) -> dict[str, Any]:
        """JSON form (hex nonce, base64 DER certificates)."""
        return {"kiosk_id": self.kiosk_id, "method": self.method, "nonce": self.nonce.hex(),
                "context": self.context, "certificate": b64_der(self.certificate),
                "ca_certificates": [b64_der(c) for c in self.ca_certificates]}

    @classmethod
    def from_dict(cls, data: Any) -> DeviceClaim:
        """Parse :meth:`as_dict` output; :class:`MalformedError` on anything unexpected."""
        if not isinstance(data, dict):
            raise MalformedError("the claim must be a JSON object")
        kiosk_id, method = data.get("kiosk_id"), data.get("method")
        nonce, context = data.get("nonce"), data.get("context")
        if not isinstance(kiosk_id, str) or not _KIOSK_ID.fullmatch(kiosk_id):
            raise MalformedError("kiosk_id must be 1-64 characters A-Z a-z 0-9 . _ -")
        if method not in DEVICE_METHODS:
            raise MalformedError(f"method must be one of {', '.join(DEVICE_METHODS)}")
        if not isinstance(context, str) or not context:
            raise MalformedError("context must be a non-empty string")
        if not isinstance(nonce, str) or len(nonce) > 256:
            raise MalformedError("nonce must be hex text")
        try:
            raw_nonce = bytes.fromhex(nonce)
        except ValueError as exc:
            raise MalformedError("nonce must be hex text") from exc
        cas = data.get("ca_certificates", [])
        if not isinstance(cas, list) or len(cas) > MAX_CA_CERTIFICATES:
            raise MalformedError(f"ca_certificates must be a list of at most "
                                 f"{MAX_CA_CERTIFICATES}")
        return cls(kiosk_id=kiosk_id, method=str(method), nonce=raw_nonce, context=context,
                   certificate=load_certificate_b64(data.get("certificate")),
                   ca_certificates=tuple(load_certificate_b64(c) for c in cas))


# --- device keys -----------------------------------------------------------------------------


def public_key_to_text(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key in base64 (how the server config lists devices)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """Inverse of :func:`public_key_to_text`."""
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise MalformedError("a device public key must be 32 bytes of base64") from exc


def save_device_key(key: Ed25519PrivateKey, path: str | Path) -> None:
    """Write the private key as unencrypted PKCS#8 PEM, readable by the owner only."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    target = Path(path)
    # Create it 0600 from the start, rather than chmod after a world-readable write.
    target.touch(mode=0o600, exist_ok=False)
    target.write_bytes(pem)


def load_device_key(path: str | Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file (:func:`save_device_key`)."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise MalformedError(f"{path}: not an Ed25519 private key")
    return key
