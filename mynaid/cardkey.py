"""The card's private keys as ``cryptography`` RSA private key objects.

:class:`CardRsaPrivateKey` subclasses :class:`cryptography...rsa.RSAPrivateKey`, so code
written for software keys signs with the card unchanged: ``cryptography``'s certificate,
CSR and PKCS#7 builders call the key's :meth:`~CardRsaPrivateKey.sign`, and so do
pyHanko-style signers that take a private key object. Only PKCS#1 v1.5 signing exists: the
card pads a DigestInfo (card-reference §3) and can neither decrypt nor export its key.

>>> from mynaid.connect import connect, emulated_card
>>> from cryptography.hazmat.primitives import hashes
>>> from cryptography.hazmat.primitives.asymmetric import padding
>>> with connect(card=emulated_card()) as protocol:
...     key = CardRsaPrivateKey.open(protocol, "auth", "1234")
...     signature = key.sign(b"hello", padding.PKCS1v15(), hashes.SHA256())
...     key.public_key().verify(signature, b"hello", padding.PKCS1v15(), hashes.SHA256())
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric import utils as asym_utils

from mynaid.cardspec import CertificateSlot
from mynaid.errors import MynaidError
from mynaid.sessions.jpki import JpkiSession, digest_info

if TYPE_CHECKING:
    from cryptography.hazmat.primitives import _serialization
    from cryptography.hazmat.primitives.asymmetric.padding import AsymmetricPadding

    from mynaid.protocol import CardProtocol

__all__ = ["CardKeyError", "CardRsaPrivateKey"]

#: ``NoDigestInfo`` (sign a caller-built DigestInfo as is) exists from cryptography 47.
_NO_DIGEST_INFO: type | None = getattr(asym_utils, "NoDigestInfo", None)

_HASH_NAMES = {"sha1": "sha1", "sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}


class CardKeyError(MynaidError, NotImplementedError):
    """The card cannot do this with its key (decrypt, export, PSS, an unsupported hash)."""


SecretSource = str | Callable[[], str]


class CardRsaPrivateKey(rsa.RSAPrivateKey):
    """One of the card's two RSA-2048 keys (``auth`` or ``sign``).

    ``secret`` is the auth PIN or the signature password, or a callable that returns it
    when a signature is made (so that an interactive program can prompt only then). The
    public half comes from the key's certificate. Every :meth:`sign` runs one guarded
    VERIFY + COMPUTE DIGITAL SIGNATURE transaction (:meth:`JpkiSession.sign_digest_info`).
    """

    def __init__(self, session: JpkiSession, key: str, certificate: x509.Certificate,
                 secret: SecretSource, *, force: bool = False) -> None:
        if key not in ("auth", "sign"):
            raise ValueError(f"key must be 'auth' or 'sign', not {key!r}")
        public = certificate.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            raise CardKeyError("the certificate does not hold an RSA key")
        self._session = session
        self._key = key
        self._certificate = certificate
        self._public = public
        self._secret = secret
        self._force = force

    @classmethod
    def open(cls, protocol: CardProtocol, key: str, secret: SecretSource, *,
             force: bool = False) -> CardRsaPrivateKey:
        """The ``auth`` or ``sign`` key of the card behind ``protocol``, with its certificate
        read from the card (the signature certificate needs the password, i.e. ``secret``)."""
        session = JpkiSession(protocol)
        if key == "sign":
            password = secret() if callable(secret) else secret
            cert = session.read_certificate(CertificateSlot.SIGN, password, force=force)
            secret = password
        elif key == "auth":
            cert = session.read_certificate(CertificateSlot.AUTH)
        else:
            raise ValueError(f"key must be 'auth' or 'sign', not {key!r}")
        return cls(session, key, cert, secret, force=force)

    def __repr__(self) -> str:
        return f"<CardRsaPrivateKey {self._key} serial={self._certificate.serial_number:X}>"

    @property
    def certificate(self) -> x509.Certificate:
        """The certificate of this key (as read from the card)."""
        return self._certificate

    @property
    def session(self) -> JpkiSession:
        """The JPKI session the key signs through (to read the CA certificate, say)."""
        return self._session

    @property
    def card_key(self) -> str:
        """``auth`` or ``sign``."""
        return self._key

    # --- RSAPrivateKey ---------------------------------------------------------------------

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public

    def sign(self, data: bytes, padding: AsymmetricPadding,
             algorithm: asym_utils.Prehashed | hashes.HashAlgorithm
             | asym_utils.NoDigestInfo) -> bytes:
        """PKCS#1 v1.5 signature by the card.

        ``algorithm`` is a hash (``data`` is hashed here), :class:`Prehashed` (``data`` is
        the digest) or ``NoDigestInfo`` (``data`` is the DigestInfo the card pads as is).
        SHA-1, SHA-256, SHA-384 and SHA-512 are the DigestInfos the card is known to take.
        """
        if not isinstance(padding, _pkcs1v15()):
            raise CardKeyError("the card signs with PKCS#1 v1.5 padding only (no PSS)")
        if _NO_DIGEST_INFO is not None and isinstance(algorithm, _NO_DIGEST_INFO):
            to_sign = data
        else:
            if isinstance(algorithm, asym_utils.Prehashed):
                # Prehashed has no public accessor for its hash; cryptography's own
                # backends read this attribute too.
                hash_algorithm = algorithm._algorithm
                digest = data
            else:
                assert isinstance(algorithm, hashes.HashAlgorithm)
                hash_algorithm = algorithm
                h = hashes.Hash(algorithm)
                h.update(data)
                digest = h.finalize()
            name = _HASH_NAMES.get(hash_algorithm.name)
            if name is None:
                raise CardKeyError(f"no DigestInfo for {hash_algorithm.name} on the card")
            to_sign = digest_info(name, digest)
        secret = self._secret() if callable(self._secret) else self._secret
        return self._session.sign_digest_info(self._key, to_sign, secret, force=self._force)

    def decrypt(self, ciphertext: bytes, padding: AsymmetricPadding) -> bytes:
        raise CardKeyError("the My Number Card's JPKI keys only sign; they cannot decrypt")

    def private_numbers(self) -> rsa.RSAPrivateNumbers:
        raise CardKeyError("the card's private key never leaves the card")

    def private_bytes(self, encoding: _serialization.Encoding,
                      format: _serialization.PrivateFormat,
                      encryption_algorithm: _serialization.KeySerializationEncryption
                      ) -> bytes:
        raise CardKeyError("the card's private key never leaves the card")

    def __copy__(self) -> CardRsaPrivateKey:
        # A handle to the card, not key material: copies share the session.
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> CardRsaPrivateKey:
        return self


def _pkcs1v15() -> type[padding.PKCS1v15]:
    return padding.PKCS1v15
