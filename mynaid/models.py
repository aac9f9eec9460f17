"""Data models returned by the sessions (pure, frozen, no I/O) and their parsers."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

from mynaid.errors import ParseError


class TokenKind(enum.Enum):
    """What holds the JPKI application, from the token-info label (card-reference §3)."""

    CARD = "My Number Card"
    JUKI_CARD = "old Juki card (住基カード)"
    ANDROID = "Android smartphone certificate"
    IPHONE = "iPhone certificate"
    UNKNOWN = "unknown token"


_LABELS = {
    "JPKIAPICCTOKEN2": TokenKind.CARD,
    "JPKIAPICCTOKEN": TokenKind.JUKI_CARD,
    "JPKIAPGPSETOKEN": TokenKind.ANDROID,
    "JPKIAPIOSTOKEN": TokenKind.IPHONE,
}


@dataclass(frozen=True)
class TokenInfo:
    """JPKI EF 0006: the token label and what it means."""

    label: str
    kind: TokenKind
    raw: bytes = field(repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> TokenInfo:
        """Parse the token-info EF; the first 32 bytes are a space-padded ASCII label."""
        if len(raw) < 1:
            raise ParseError("token info is empty")
        head = raw[:32]
        label_bytes = head.split(b"\x00", 1)[0].rstrip(b" ")
        try:
            label = label_bytes.decode("ascii")
        except UnicodeDecodeError as exc:
            raise ParseError("token label is not ASCII") from exc
        if not label.isprintable():
            raise ParseError("token label holds control characters")
        return cls(label, _LABELS.get(label, TokenKind.UNKNOWN), bytes(raw))


#: The byte of EF 0008 that marks a certificate as present.
CERT_PRESENT = 0x8F


@dataclass(frozen=True)
class CertificateAvailability:
    """JPKI EF 0008: which certificates the token holds."""

    signature: bool
    authentication: bool
    raw: bytes = field(repr=False)

    @classmethod
    def parse(cls, raw: bytes) -> CertificateAvailability:
        """``8F 8F 00`` when both certificates exist; byte 0 ``00`` = no signature cert.

        Only ``8F`` means present (card-reference §9): any other value, not only ``00``, is
        no proof that a certificate exists.
        """
        if len(raw) < 2:
            raise ParseError(f"certificate availability of {len(raw)} bytes, expected 2 or more")
        return cls(raw[0] == CERT_PRESENT, raw[1] == CERT_PRESENT, bytes(raw))


@dataclass(frozen=True)
class PinState:
    """A secret's retry counter as read by the non-consuming query.

    ``tries_left`` is None when the card answered ``90 00`` (already verified in this
    session; some cards do this instead of giving a count) or when the card has no such
    secret (``present`` False), or when the key has no retry limit (``no_retry_limit``: the
    card answered ``63 00``; such a key is never blocked).

    ``locked_by_design`` marks the PINs of the PIN-less face-authentication card
    (顔認証マイナンバーカード): they answer as blocked (``blocked`` is True, so code that
    does not know the field still makes no attempt), but there is nothing to reset: the holder
    is confirmed by face or visually instead. Check it before ``blocked`` when telling the
    holder what to do.
    """

    name: str
    label: str
    tries_left: int | None
    max_tries: int
    verified: bool = False
    present: bool = True
    locked_by_design: bool = False
    no_retry_limit: bool = False

    @property
    def blocked(self) -> bool:
        return self.tries_left == 0


def validity_status(not_before: dt.datetime, not_after: dt.datetime, now: dt.datetime,
                    warn_days: int) -> tuple[str, int]:
    """A certificate's validity at ``now`` and whole days to expiry (floored; negative once
    expired): ``not-yet-valid``, ``expired``, ``expiring`` (under ``warn_days`` left) or
    ``valid``. One rule for ``info``, ``cert show`` and ``diag``."""
    days = (not_after - now).days  # timedelta.days is floored, as "whole days left" wants
    if now < not_before:
        return "not-yet-valid", days
    if now > not_after:
        return "expired", days
    if days < warn_days:
        return "expiring", days
    return "valid", days
