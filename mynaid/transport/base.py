"""The one interface every transport implements: bytes in, bytes and a status word out.

A transport moves APDUs and nothing more. It does not interpret status words (the protocol
layer handles ``61 xx`` / ``6C xx``) and never logs APDU data (the protocol layer traces
with secrets redacted).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType


@dataclass(frozen=True)
class ReaderInfo:
    """A reader as listed by a transport: its name, whether a card is in it, and its ATR."""

    index: int
    name: str
    card_present: bool
    atr: bytes | None


class Transport(abc.ABC):
    """A connection to one card."""

    #: Human-readable name of the reader (or "emulator").
    reader_name: str = ""

    @property
    @abc.abstractmethod
    def atr(self) -> bytes:
        """The card's answer to reset."""

    @abc.abstractmethod
    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Send one command APDU; return the response data and the status word."""

    @abc.abstractmethod
    def begin_transaction(self) -> None:
        """Start exclusive access: no other client's APDUs reach the card until it ends."""

    @abc.abstractmethod
    def end_transaction(self) -> None:
        """End exclusive access started by :meth:`begin_transaction`."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the card (keeping it powered unless the transport was told otherwise)."""

    @property
    def protocol_name(self) -> str:
        """The transmission protocol in use ("T=0", "T=1", or "emulated")."""
        return "unknown"

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Exclusive access for a multi-APDU operation (e.g. VERIFY then SIGN).

        Nested use is allowed: only the outermost context begins and ends the transaction.
        """
        depth = getattr(self, "_transaction_depth", 0)
        if depth == 0:
            self.begin_transaction()
        self._transaction_depth = depth + 1
        try:
            yield
        finally:
            self._transaction_depth -= 1
            if self._transaction_depth == 0:
                self.end_transaction()

    def __enter__(self) -> Transport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
