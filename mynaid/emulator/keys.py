"""PEM private keys in card profiles (shared by the JPKI and the text/visual sections)."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mynaid.errors import ParseError


def load_private_key(pem: object, what: str = "key") -> rsa.RSAPrivateKey:
    """An unencrypted PEM RSA key from a profile, or :class:`ParseError`.

    OpenSSL's RSA consistency check costs ~40 ms a key, and a profile holds eight: skipped,
    because a profile's keys only ever sign for the emulator (a broken key shows up as a
    signature that does not verify, which the tests check), and card start-up is paid by
    every ``--emulator`` command.
    """
    if not isinstance(pem, str):
        raise ParseError(f"profile field {what} must be a PEM string")
    try:
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None,
                                                 unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise ParseError(f"profile field {what} is not an unencrypted PEM key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ParseError(f"profile field {what} must be an RSA key")
    return key


def key_to_pem(key: rsa.RSAPrivateKey) -> str:
    """PKCS#8 PEM of a key (deterministic for a given key)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
