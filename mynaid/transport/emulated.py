"""In-process transport to an :class:`~mynaid.emulator.card.EmulatedCard`.

Behaves like a PC/SC connection: the card stays powered across connections, transactions
exclude other in-process connections to the same card, and a closed connection refuses use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mynaid.errors import TransportError
from mynaid.transport.base import Transport

if TYPE_CHECKING:
    from mynaid.emulator.card import EmulatedCard


class EmulatorTransport(Transport):
    """A connection to an emulated card in this process."""

    def __init__(self, card: EmulatedCard, reader_name: str = "mynaid emulator") -> None:
        self.card = card
        self.reader_name = reader_name
        self._open = True
        if not card.powered:
            card.power_on()

    @property
    def atr(self) -> bytes:
        return self.card.atr

    @property
    def protocol_name(self) -> str:
        return "T=1"

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if not self._open:
            raise TransportError("the connection is closed")
        raw = self.card.process(apdu)
        return raw[:-2], int.from_bytes(raw[-2:], "big")

    def begin_transaction(self) -> None:
        self.card.transaction_lock.acquire()

    def end_transaction(self) -> None:
        self.card.transaction_lock.release()

    def reset(self) -> None:
        """Warm-reset the card (clears its security state)."""
        self.card.reset()

    def close(self) -> None:
        self._open = False
