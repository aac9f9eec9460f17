"""What the eligibility kiosk needs beyond :mod:`mynaid.rp.client`: its context and the
device key files.

The PIN route is the service's login (the card signs the nonce); the face and visual
routes are the service's device-signed route with the card-face binding
(:mod:`mynaid.rp.binding`): the kiosk signs a claim with its registered Ed25519 key, and
the service refuses it unless the verified card face names the person the auth
certificate is linked to.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "DEFAULT_CONTEXT",
    "MalformedError",
    "load_device_key",
    "public_key_from_text",
    "public_key_to_text",
    "save_device_key",
]

#: The challenge context of the eligibility service. The client refuses to have the card
#: sign a nonce for any other context, so a server cannot borrow the kiosk to obtain a
#: signature that another verifier (with another context) would accept.
DEFAULT_CONTEXT = "mynaid-eligibility"


class MalformedError(ValueError):
    """A key file or key text that does not have the expected form."""


def public_key_to_text(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key in base64 (how the service config lists devices)."""
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
