"""The card's key, opened for one document: one guarded VERIFY, then any reads and the one
signature inside the same PC/SC transaction.

:class:`mynaid.cardkey.CardRsaPrivateKey` runs VERIFY + COMPUTE DIGITAL SIGNATURE per
``sign`` call, and reading the signature certificate costs another VERIFY. A document
signature needs the certificate first (the signed attributes name it) and then one
signature, so :func:`open_document_key` verifies the secret once, reads the certificates and
signs in one transaction; when the transaction ends the application is selected again,
which drops the verified state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric import utils as asym_utils

from mynaid.cardkey import CardKeyError, CardRsaPrivateKey
from mynaid.cardspec import CertificateSlot
from mynaid.errors import ParseError
from mynaid.iso7816.apdu import CommandApdu
from mynaid.protocol import CardProtocol
from mynaid.sessions.jpki import SIGNING_KEYS, JpkiSession, digest_info

__all__ = ["DocumentKey", "open_document_key"]

_HASHES = {"sha256", "sha384", "sha512"}


@dataclass
class DocumentKey:
    """A card key opened for one document: its certificate, its CA's, and :meth:`sign`.

    ``signatures`` counts the card signatures made (a document needs exactly one).
    """

    key: str
    certificate: x509.Certificate
    ca_certificate: x509.Certificate | None
    _session: JpkiSession
    signatures: int = 0

    def sign_digest(self, algorithm: str, digest: bytes) -> bytes:
        """PKCS#1 v1.5 signature of a precomputed ``algorithm`` digest (no new VERIFY)."""
        if algorithm not in _HASHES:
            raise CardKeyError(f"no DigestInfo for {algorithm} on the card")
        session = self._session
        session.select_file(SIGNING_KEYS[self.key].key_fid)
        response = session.protocol.send(
            CommandApdu(0x80, 0x2A, 0x00, 0x80, digest_info(algorithm, digest), le=256))
        session._check(response.sw, f"signing with the {self.key} key")
        if not response.data:
            raise ParseError("the card returned an empty signature")
        self.signatures += 1
        return response.data

    def private_key(self) -> rsa.RSAPrivateKey:
        """A ``cryptography`` key object signing through :meth:`sign_digest` (for libraries
        that take one, such as signxml)."""
        return _OpenKey(self)


class _OpenKey(CardRsaPrivateKey):
    """CardRsaPrivateKey whose :meth:`sign` uses the already verified transaction."""

    def __init__(self, opened: DocumentKey) -> None:
        super().__init__(opened._session, opened.key, opened.certificate, "")
        self._opened = opened

    def sign(self, data: bytes, padding: asym_padding.AsymmetricPadding,
             algorithm: asym_utils.Prehashed | hashes.HashAlgorithm
             | asym_utils.NoDigestInfo) -> bytes:
        if not isinstance(padding, asym_padding.PKCS1v15):
            raise CardKeyError("the card signs with PKCS#1 v1.5 padding only (no PSS)")
        if isinstance(algorithm, asym_utils.Prehashed):
            return self._opened.sign_digest(algorithm._algorithm.name, data)
        if not isinstance(algorithm, hashes.HashAlgorithm):
            raise CardKeyError("sign a hash or a Prehashed digest")
        h = hashes.Hash(algorithm)
        h.update(data)
        return self._opened.sign_digest(algorithm.name, h.finalize())


@contextmanager
def open_document_key(protocol: CardProtocol, key: str, secret: str | Callable[[], str], *,
                      force: bool = False, with_ca: bool = True) -> Iterator[DocumentKey]:
    """Verify the ``auth`` PIN or ``sign`` password once (after the lockout guard) and yield
    the key with its certificates, inside one transaction."""
    try:
        signing_key = SIGNING_KEYS[key]
    except KeyError:
        raise ValueError(f"key must be 'auth' or 'sign', not {key!r}") from None
    session = JpkiSession(protocol)
    value = secret() if callable(secret) else secret
    signing_key.secret.format.normalize(value)  # bad format: nothing is sent
    slot = CertificateSlot.SIGN if key == "sign" else CertificateSlot.AUTH
    ca_slot = CertificateSlot.SIGN_CA if key == "sign" else CertificateSlot.AUTH_CA
    with session.transaction():
        session.verify(signing_key.secret, value, force=force)
        del value
        # Inside the verified transaction the signature certificate reads without a
        # second VERIFY.
        cert = session.read_certificate(slot)
        ca = session.read_certificate(ca_slot) if with_ca else None
        yield DocumentKey(key, cert, ca, session)
