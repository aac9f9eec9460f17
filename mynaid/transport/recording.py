"""A transport wrapper that records every APDU crossing it, secrets redacted.

For diagnostics, benchmarks and tests: counts by instruction, bytes each way, the command
sequence. Commands whose data is a secret (VERIFY, CHANGE REFERENCE DATA, RESET RETRY
COUNTER) are kept as header and Lc only, so a recording is as safe as the APDU trace.
"""

from __future__ import annotations

from collections.abc import Callable

from mynaid.iso7816.apdu import SECRET_INS
from mynaid.transport.base import Transport


class RecordingTransport(Transport):
    """Passes everything to ``inner`` and records it; ``after`` runs after each transmit."""

    def __init__(self, inner: Transport,
                 after: Callable[[bytes], None] | None = None) -> None:
        self.inner = inner
        self.reader_name = inner.reader_name
        self.after = after
        #: Every command sent, in order (secret-carrying ones as header and Lc only).
        self.commands: list[bytes] = []
        #: The status word of each command, in the same order.
        self.status_words: list[int] = []
        self.bytes_sent = 0
        self.bytes_received = 0

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    @property
    def protocol_name(self) -> str:
        return self.inner.protocol_name

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        secret = len(apdu) > 1 and apdu[1] in SECRET_INS
        self.commands.append(bytes(apdu[:5]) if secret else bytes(apdu))
        data, sw = self.inner.transmit(apdu)
        self.status_words.append(sw)
        self.bytes_sent += len(apdu)
        self.bytes_received += len(data) + 2
        if self.after is not None:
            self.after(bytes(apdu[:5]) if secret else bytes(apdu))
        return data, sw

    @property
    def ins(self) -> list[int]:
        """The instruction byte of every command, in order."""
        return [c[1] for c in self.commands if len(c) > 1]

    def of(self, ins: int) -> list[bytes]:
        """The commands with instruction ``ins``."""
        return [c for c in self.commands if len(c) > 1 and c[1] == ins]

    def count(self, ins: int) -> int:
        return len(self.of(ins))

    def begin_transaction(self) -> None:
        self.inner.begin_transaction()

    def end_transaction(self) -> None:
        self.inner.end_transaction()

    def close(self) -> None:
        self.inner.close()
