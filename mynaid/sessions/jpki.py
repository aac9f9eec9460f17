"""The JPKI application (公的個人認証AP): token info, certificates, PINs, card signatures."""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING

from mynaid.cardspec import (
    AUTH_PIN,
    DIGEST_INFO_PREFIXES,
    SIGN_PASSWORD,
    Aid,
    CertificateSlot,
    JpkiFile,
    SecretRef,
)
from mynaid.errors import ParseError, SecurityStatusNotSatisfiedError
from mynaid.iso7816.apdu import CommandApdu
from mynaid.models import CertificateAvailability, PinState, TokenInfo
from mynaid.sessions.base import ApplicationSession

if TYPE_CHECKING:
    # cryptography costs ~30 ms to import: only read_certificate needs it, so it is imported
    # there, keeping short CLI commands (DER export, PIN status) fast.
    from cryptography import x509

#: A certificate larger than this is refused (real ones are 1.3–2 KB).
MAX_CERTIFICATE_SIZE = 8192
TOKEN_INFO_SIZE = 160
AVAILABILITY_SIZE = 3


class SigningKey:
    """Which of the card's two private keys signs, with the secret that unlocks it."""

    def __init__(self, name: str, key_fid: JpkiFile, secret: SecretRef) -> None:
        self.name = name
        self.key_fid = key_fid
        self.secret = secret


AUTH_KEY = SigningKey("auth", JpkiFile.AUTH_KEY, AUTH_PIN)
SIGN_KEY = SigningKey("sign", JpkiFile.SIGN_KEY, SIGN_PASSWORD)
SIGNING_KEYS = {"auth": AUTH_KEY, "sign": SIGN_KEY}


def digest_info(algorithm: str, digest: bytes) -> bytes:
    """The DER DigestInfo the card signs, for a hash algorithm name and digest."""
    try:
        prefix = DIGEST_INFO_PREFIXES[algorithm]
    except KeyError:
        raise ValueError(f"unsupported hash algorithm {algorithm!r}") from None
    if len(digest) != prefix[-1]:
        raise ValueError(f"{algorithm} digest must be {prefix[-1]} bytes, got {len(digest)}")
    return prefix + digest


class JpkiSession(ApplicationSession):
    """Session with the JPKI application.

    The authentication certificate and both CA certificates are free to read; the
    signature certificate needs the signature password, and each key needs its secret.
    """

    aid = Aid.JPKI
    name = "JPKI"

    def token_info(self) -> TokenInfo:
        """EF 0006: the label, telling a card from an old Juki card or a smartphone."""
        with self.transaction():
            raw = self.read_small_file(JpkiFile.TOKEN_INFO, TOKEN_INFO_SIZE, "token info")
        return TokenInfo.parse(raw)

    def certificate_availability(self) -> CertificateAvailability:
        """EF 0008: which certificates exist (no signature certificate under age 15)."""
        with self.transaction():
            raw = self.read_small_file(JpkiFile.CERT_AVAILABILITY, AVAILABILITY_SIZE,
                                       "certificate availability")
        return CertificateAvailability.parse(raw)

    def read_certificate_der(self, slot: CertificateSlot,
                             sign_password: str | None = None, *, force: bool = False,
                             auth_pin: str | None = None) -> bytes:
        """The DER bytes of a certificate, without any filler after it.

        The signature certificate needs ``sign_password`` (checked by the lockout guard
        first); the others are read without a secret, except the auth certificate of a
        smartphone token (``JPKIAPGPSETOKEN``, ``JPKIAPIOSTOKEN``), which needs the auth
        PIN: with ``auth_pin`` given, a ``69 82`` to the free read is followed by the
        (guarded) VERIFY of the auth PIN and the read again; a physical card costs nothing
        more. Extended length is settled on a free EF before any VERIFY.
        """
        if slot.needs_sign_password and sign_password is not None:
            SIGN_PASSWORD.format.normalize(sign_password)  # format first: no APDU on bad input
        if slot is CertificateSlot.AUTH and auth_pin is not None:
            AUTH_PIN.format.normalize(auth_pin)
        what = f"the {slot.value} certificate"
        # The signature certificate carries the holder's name, address and birth date (the
        # birth date is the visual birth-date key and part of 照合番号B): traced as lengths.
        private = self.protocol.sensitive() if slot.needs_sign_password else nullcontext()
        with self.transaction(), private:
            if slot.needs_sign_password and sign_password is not None:
                self.probe_extended(JpkiFile.SIGN_CA_CERT)
                self.verify(SIGN_PASSWORD, sign_password, force=force)
            if slot is not CertificateSlot.AUTH:
                return self.read_tlv_file(slot.fid, what, MAX_CERTIFICATE_SIZE)
            try:
                return self.read_tlv_file(slot.fid, what, MAX_CERTIFICATE_SIZE)
            except SecurityStatusNotSatisfiedError as exc:
                if auth_pin is None:
                    raise SecurityStatusNotSatisfiedError(
                        f"{exc.message}: this token (a smartphone certificate) needs the auth "
                        "PIN to read its auth certificate", exc.sw or 0x6982) from None
            self.probe_extended(JpkiFile.AUTH_CA_CERT)
            self.verify(AUTH_PIN, auth_pin, force=force)
            return self.read_tlv_file(slot.fid, what, MAX_CERTIFICATE_SIZE)

    def read_certificate(self, slot: CertificateSlot, sign_password: str | None = None, *,
                         force: bool = False, auth_pin: str | None = None
                         ) -> x509.Certificate:
        """A certificate as a ``cryptography`` object (see :meth:`read_certificate_der`)."""
        from mynaid.trust.certs import load_certificate
        from mynaid.trust.errors import VerificationError

        der = self.read_certificate_der(slot, sign_password, force=force, auth_pin=auth_pin)
        try:
            # Parses every field once, so a hostile card cannot plant a foreign exception.
            return load_certificate(der, what=f"the {slot.value} certificate")
        except VerificationError as exc:
            raise ParseError(exc.detail, reason="malformed-certificate") from None

    def pin_states(self) -> list[PinState]:
        """Both JPKI secrets' counters, by the non-consuming query."""
        with self.transaction():
            return [self.pin_state(AUTH_PIN), self.pin_state(SIGN_PASSWORD)]

    def sign_digest_info(self, key: str, digest_info_der: bytes, secret: str, *,
                         force: bool = False) -> bytes:
        """Sign a DER DigestInfo with the card's ``auth`` or ``sign`` key.

        One transaction: SELECT the JPKI AP, VERIFY (after the guard), SELECT the key EF,
        COMPUTE DIGITAL SIGNATURE. The card applies PKCS#1 v1.5 padding and returns the
        signature (256 bytes for RSA-2048).
        """
        try:
            signing_key = SIGNING_KEYS[key]
        except KeyError:
            raise ValueError(f"key must be 'auth' or 'sign', not {key!r}") from None
        signing_key.secret.format.normalize(secret)
        if not 1 <= len(digest_info_der) <= 245:
            raise ValueError("DigestInfo must be 1..245 bytes for RSA-2048")
        with self.transaction():
            self.verify(signing_key.secret, secret, force=force)
            self.select_file(signing_key.key_fid)
            response = self.protocol.send(
                CommandApdu(0x80, 0x2A, 0x00, 0x80, digest_info_der, le=256)
            )
        self._check(response.sw, f"signing with the {key} key")
        if not response.data:
            raise ParseError("the card returned an empty signature")
        return response.data

    def sign_digest(self, key: str, algorithm: str, digest: bytes, secret: str, *,
                    force: bool = False) -> bytes:
        """Sign a precomputed hash (``sha1``, ``sha256``, ``sha384`` or ``sha512``)."""
        return self.sign_digest_info(key, digest_info(algorithm, digest), secret, force=force)
