"""Opening a card: a PC/SC reader or the built-in emulator, behind one call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from mynaid.protocol import CardProtocol, ExtendedLength
from mynaid.transport.base import ReaderInfo, Transport

if TYPE_CHECKING:
    from mynaid.emulator.card import EmulatedCard, EmulatorOptions


def list_readers() -> list[ReaderInfo]:
    """PC/SC readers with card presence and ATR (needs the ``pcsc`` extra)."""
    from mynaid.transport import pcsc

    return pcsc.list_readers()


def emulated_card(profile: str | Path | None = None,
                  options: EmulatorOptions | None = None) -> EmulatedCard:
    """A fresh emulated card from a profile file, or the default test card."""
    from mynaid.emulator.applications import build_card
    from mynaid.emulator.profile import CardProfile, default_profile
    from mynaid.emulator.state import apply_tries_left
    from mynaid.errors import ParseError

    card_profile = CardProfile.load(profile) if profile else default_profile()
    try:
        card = build_card(card_profile, options)
    except (ValueError, TypeError, UnicodeError):
        # The profile parser checks every field; this is the backstop for a combination
        # it let through: still a typed error, never a traceback.
        raise ParseError("the profile cannot be built into a card (a field has a value "
                         "the card cannot hold)") from None
    apply_tries_left(card, card_profile.tries_left)
    return card


def open_transport(reader: str | int | None = None, *,
                   card: EmulatedCard | None = None) -> Transport:
    """A transport to ``card`` (in-process) or to the PC/SC reader chosen by ``reader``.

    ``reader`` is an index or a case-insensitive name substring; None picks the first
    reader with a card.
    """
    if card is not None:
        from mynaid.transport.emulated import EmulatorTransport

        return EmulatorTransport(card)
    from mynaid.transport.pcsc import PcscTransport

    return PcscTransport.open(reader)


@contextmanager
def connect(reader: str | int | None = None, *, card: EmulatedCard | None = None,
            extended: ExtendedLength = ExtendedLength.AUTO) -> Iterator[CardProtocol]:
    """Open a card and yield a :class:`CardProtocol` for the sessions; close on exit.

    >>> from mynaid.connect import connect, emulated_card
    >>> from mynaid.sessions import JpkiSession
    >>> with connect(card=emulated_card()) as protocol:
    ...     JpkiSession(protocol).token_info().label
    'JPKIAPICCTOKEN2'
    """
    transport = open_transport(reader, card=card)
    try:
        yield CardProtocol(transport, extended)
    finally:
        transport.close()
