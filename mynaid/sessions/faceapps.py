"""What the text and visual application sessions share: secret checks, protected reads,
the card-presence signature.

Secrets are checked in full before the first APDU, beyond their format: a 照合番号A is the
My Number, so its check digit must be right; a 照合番号B and a birth-date key start with an
era date whose month and day must exist. A value that cannot be right never costs a try.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, TypeVar

from mynaid.cardspec import (
    TEXT_PIN,
    TEXT_PIN_A,
    TEXT_PIN_B,
    VISUAL_BIRTH_KEY,
    VISUAL_PIN_A,
    VISUAL_PIN_B,
    SecretRef,
)
from mynaid.errors import ParseError
from mynaid.iso7816.apdu import CommandApdu
from mynaid.sessions.base import ApplicationSession

T = TypeVar("T")

#: Credentials by the names the CLI and the sessions use.
TEXT_CREDENTIALS: dict[str, SecretRef] = {"pin": TEXT_PIN, "pin-a": TEXT_PIN_A,
                                          "pin-b": TEXT_PIN_B}
VISUAL_CREDENTIALS: dict[str, SecretRef] = {"pin-a": VISUAL_PIN_A, "pin-b": VISUAL_PIN_B,
                                            "birth": VISUAL_BIRTH_KEY}
#: The card signs at most this many DigestInfo bytes with an RSA-2048 key (PKCS#1 v1.5).
MAX_DIGEST_INFO = 245


def check_secret(ref: SecretRef, secret: str) -> None:
    """Raise :class:`InvalidSecretError` (nothing sent) if ``secret`` cannot be right."""
    ref.validate(secret)


class FaceApplicationSession(ApplicationSession):
    """Base of :class:`~mynaid.sessions.text.TextSession` and the visual session."""

    credentials: ClassVar[dict[str, SecretRef]] = {}

    def credential(self, name: str | SecretRef) -> SecretRef:
        """A credential of this AP by name (``pin``, ``pin-a``, ``pin-b``, ``birth``)."""
        if isinstance(name, SecretRef):
            self._own(name)
            return name
        try:
            return self.credentials[name]
        except KeyError:
            choices = ", ".join(self.credentials)
            # The unknown name is not echoed: a caller who swapped the arguments would
            # otherwise see the secret in the message.
            raise ValueError(f"unknown credential for the {self.name} application; "
                             f"use one of {choices}") from None

    def _read_protected(self, ref: SecretRef, secret: str, force: bool,
                        read: Callable[[], T]) -> T:
        """VERIFY ``ref``, then ``read()``, in one transaction; responses kept out of logs."""
        check_secret(ref, secret)
        with self.transaction(), self.protocol.sensitive():
            self.verify(ref, secret, force=force)
            return read()

    def read_record(self, fid: int, what: str, max_size: int) -> bytes:
        """One record's TLV (filler dropped). Call inside :meth:`transaction`."""
        with self.protocol.sensitive():
            return self.read_tlv_file(fid, what, max_size)

    def read_raw(self, fid: int, what: str, max_size: int, credential: str | SecretRef
                 | None = None, secret: str | None = None, *, force: bool = False) -> bytes:
        """A record's TLV after verifying ``credential`` (if given); for diagnostics and tests.

        The card answers ``69 82`` (:class:`SecurityStatusNotSatisfiedError`) when the
        credential does not open the EF.
        """
        if credential is None:
            with self.transaction():
                return self.read_record(fid, what, max_size)
        if secret is None:
            raise ValueError("a credential needs its secret")
        ref = self.credential(credential)
        return self._read_protected(ref, secret, force,
                                    lambda: self.read_record(fid, what, max_size))

    def read_bytes(self, fid: int, size: int, what: str, credential: str | SecretRef
                   | None = None, secret: str | None = None, *, force: bool = False) -> bytes:
        """The first ``size`` bytes of an EF that holds no TLV (text 0008 and visual 0006 are
        16 x FF on real cards), after verifying ``credential`` if given."""
        def read() -> bytes:
            with self.protocol.sensitive():
                return self.read_small_file(fid, size, what)
        if credential is None:
            with self.transaction():
                return read()
        if secret is None:
            raise ValueError("a credential needs its secret")
        return self._read_protected(self.credential(credential), secret, force, read)

    def sign_challenge(self, digest_info: bytes) -> bytes:
        """The card-presence signature: ``80 2A 00 00`` over ``digest_info``, no secret.

        The card pads the DigestInfo (PKCS#1 v1.5) and signs it with this AP's card key.
        """
        if not 1 <= len(digest_info) <= MAX_DIGEST_INFO:
            raise ValueError(f"DigestInfo must be 1..{MAX_DIGEST_INFO} bytes")
        with self.transaction():
            response = self.protocol.send(CommandApdu(0x80, 0x2A, 0x00, 0x00, digest_info,
                                                      le=256))
        self._check(response.sw, f"signing a challenge with the {self.name} card key")
        if not response.data:
            raise ParseError("the card returned an empty signature")
        return response.data
