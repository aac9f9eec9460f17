"""PC/SC transport over pyscard's low-level ``smartcard.scard`` API.

This is the only module of mynaid that imports pyscard. It uses the low-level API rather than
pyscard's ``CardConnection`` because the card must stay powered between operations (the
high-level default disposition power-cycles the card on disconnect, dropping verified PINs)
and because transactions and the exact PC/SC error codes are needed.
"""

from __future__ import annotations

import time

from mynaid.errors import (
    CardRemovedError,
    CardResetError,
    DependencyMissingError,
    NoCardError,
    NoReaderError,
    NoServiceError,
    TransportError,
)
from mynaid.events import ReaderState
from mynaid.transport.base import ReaderInfo, Transport

try:
    from smartcard import scard
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise DependencyMissingError(
        "PC/SC support needs pyscard: pip install 'mynaid[pcsc]'"
    ) from exc


def _hex(code: int) -> str:
    return f"0x{code & 0xFFFFFFFF:08X}"


def _raise_for(code: int, doing: str) -> None:
    """Map a PC/SC result code to a typed error; return quietly on success."""
    if code == scard.SCARD_S_SUCCESS:
        return
    if code in (scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED):
        raise NoServiceError(f"{doing}: the PC/SC service (pcscd) is not running ({_hex(code)})")
    if code in (scard.SCARD_E_NO_READERS_AVAILABLE, scard.SCARD_E_UNKNOWN_READER,
                scard.SCARD_E_READER_UNAVAILABLE):
        raise NoReaderError(f"{doing}: no such reader ({_hex(code)})")
    if code in (scard.SCARD_E_NO_SMARTCARD,):
        raise NoCardError(f"{doing}: no card in the reader ({_hex(code)})")
    if code == scard.SCARD_W_REMOVED_CARD:
        raise CardRemovedError(f"{doing}: the card was removed ({_hex(code)})")
    if code == scard.SCARD_W_RESET_CARD:
        raise CardResetError(
            f"{doing}: the card was reset by another process; verified PINs are lost "
            f"({_hex(code)})"
        )
    if code == scard.SCARD_W_UNPOWERED_CARD or code == scard.SCARD_W_UNRESPONSIVE_CARD:
        raise NoCardError(f"{doing}: the card does not respond ({_hex(code)})")
    message = scard.SCardGetErrorMessage(code)
    raise TransportError(f"{doing}: {message.strip()} ({_hex(code)})")


class _Context:
    """A PC/SC context that is released when closed."""

    def __init__(self) -> None:
        code, self.handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        _raise_for(code, "connecting to the PC/SC service")

    def reader_names(self) -> list[str]:
        code, readers = scard.SCardListReaders(self.handle, [])
        if code in (scard.SCARD_E_NO_READERS_AVAILABLE,):
            return []
        _raise_for(code, "listing readers")
        return list(readers)

    def states(self, names: list[str]) -> list[tuple[str, int, bytes]]:
        if not names:
            return []
        query = [(name, scard.SCARD_STATE_UNAWARE) for name in names]
        code, states = scard.SCardGetStatusChange(self.handle, 0, query)
        _raise_for(code, "reading reader states")
        return [(name, event, bytes(atr)) for name, event, atr in states]

    def close(self) -> None:
        if self.handle is not None:
            scard.SCardReleaseContext(self.handle)
            self.handle = None


def list_readers() -> list[ReaderInfo]:
    """Every reader PC/SC knows, with card presence and ATR."""
    context = _Context()
    try:
        names = context.reader_names()
        result = []
        for index, (name, event, atr) in enumerate(context.states(names)):
            present = bool(event & scard.SCARD_STATE_PRESENT) and not (
                event & scard.SCARD_STATE_MUTE
            )
            result.append(ReaderInfo(index, name, present, atr if present and atr else None))
        return result
    finally:
        context.close()


def select_reader(readers: list[ReaderInfo], selector: str | int | None) -> ReaderInfo:
    """Pick a reader by index, by case-insensitive name substring, or the first with a card.

    Pure: separated from I/O so that the choice is testable.
    """
    if not readers:
        raise NoReaderError("no PC/SC reader is attached")
    if isinstance(selector, int) or (isinstance(selector, str) and selector.isdigit()):
        index = int(selector)
        if not 0 <= index < len(readers):
            raise NoReaderError(f"no reader with index {index} ({len(readers)} attached)")
        return readers[index]
    if selector:
        matches = [r for r in readers if selector.lower() in r.name.lower()]
        if not matches:
            raise NoReaderError(f"no reader name contains {selector!r}")
        with_card = [r for r in matches if r.card_present]
        return (with_card or matches)[0]
    with_card = [r for r in readers if r.card_present]
    if not with_card:
        raise NoCardError("no card in any reader")
    return with_card[0]


class PcscTransport(Transport):
    """A shared connection to the card in one PC/SC reader.

    ``unpower_on_close`` power-cycles the card on :meth:`close` (clearing its security
    state); by default the card is left as it is, as other PC/SC clients expect.
    """

    def __init__(self, reader: str, *, unpower_on_close: bool = False) -> None:
        self.reader_name = reader
        self._disposition = (
            scard.SCARD_UNPOWER_CARD if unpower_on_close else scard.SCARD_LEAVE_CARD
        )
        self._context = _Context()
        self._card = None
        try:
            code, card, protocol = scard.SCardConnect(
                self._context.handle, reader, scard.SCARD_SHARE_SHARED,
                scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
            )
            if code == scard.SCARD_W_REMOVED_CARD:
                code = scard.SCARD_E_NO_SMARTCARD
            _raise_for(code, f"connecting to {reader!r}")
        except BaseException:
            self._context.close()
            raise
        self._card = card
        self._protocol = protocol
        self._atr = self._read_atr()

    @classmethod
    def open(cls, selector: str | int | None = None, **kwargs: bool) -> PcscTransport:
        """Open the reader chosen by :func:`select_reader`."""
        reader = select_reader(list_readers(), selector)
        if not reader.card_present:
            raise NoCardError(f"no card in {reader.name!r}")
        return cls(reader.name, **kwargs)

    def _read_atr(self) -> bytes:
        code, _name, _state, _protocol, atr = scard.SCardStatus(self._card)
        _raise_for(code, "reading the ATR")
        return bytes(atr)

    @property
    def atr(self) -> bytes:
        return self._atr

    @property
    def protocol_name(self) -> str:
        return {scard.SCARD_PROTOCOL_T0: "T=0", scard.SCARD_PROTOCOL_T1: "T=1"}.get(
            self._protocol, f"0x{self._protocol:X}"
        )

    def _recover_after_reset(self) -> None:
        # pcsc-lite reports a reset once per handle; reconnecting makes the handle usable
        # again. The caller still gets CardResetError: the PIN state is gone and must not be
        # restored silently by re-sending a PIN.
        code, protocol = scard.SCardReconnect(
            self._card, scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1, scard.SCARD_LEAVE_CARD,
        )
        if code == scard.SCARD_S_SUCCESS:
            self._protocol = protocol

    def _check(self, code: int, doing: str) -> None:
        if code == scard.SCARD_W_RESET_CARD:
            self._recover_after_reset()
        _raise_for(code, doing)

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if self._card is None:
            raise TransportError("the connection is closed")
        code, response = scard.SCardTransmit(self._card, self._protocol, list(apdu))
        self._check(code, "sending an APDU")
        if len(response) < 2:
            raise CardRemovedError("the card sent no status word (it went away)")
        raw = bytes(response)
        return raw[:-2], int.from_bytes(raw[-2:], "big")

    def begin_transaction(self) -> None:
        code = scard.SCardBeginTransaction(self._card)
        self._check(code, "beginning a transaction")

    def end_transaction(self) -> None:
        if self._card is None:
            return
        code = scard.SCardEndTransaction(self._card, scard.SCARD_LEAVE_CARD)
        # The card may be gone by now; ending is best effort and must not mask the cause.
        if code not in (scard.SCARD_S_SUCCESS, scard.SCARD_W_REMOVED_CARD,
                        scard.SCARD_W_RESET_CARD, scard.SCARD_E_NO_SMARTCARD):
            _raise_for(code, "ending a transaction")

    def reset(self) -> None:
        """Warm-reset the card (clears its security state), keeping this connection."""
        code, protocol = scard.SCardReconnect(
            self._card, scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1, scard.SCARD_RESET_CARD,
        )
        _raise_for(code, "resetting the card")
        self._protocol = protocol

    def close(self) -> None:
        if self._card is not None:
            scard.SCardDisconnect(self._card, self._disposition)
            self._card = None
        self._context.close()


# --- reader and card events (mynaid watch) ----------------------------------------------------

#: The pseudo-reader whose state changes when a reader is attached or detached.
PNP_NOTIFICATION = "\\\\?PnP?\\Notification"


def _reader_state(name: str, event: int, atr: list[int] | bytes) -> ReaderState:
    mute = bool(event & scard.SCARD_STATE_MUTE)
    present = bool(event & scard.SCARD_STATE_PRESENT) and not mute
    return ReaderState(name, present, bytes(atr) if present and atr else None,
                       (event >> 16) & 0xFFFF, mute)


class ReaderMonitor:
    """Waits for card and reader events with ``SCardGetStatusChange``; no pyscard in its API.

    :meth:`snapshot` reads every reader's state; :meth:`wait` blocks until a card is
    inserted or removed or a reader comes or goes (through the ``\\\\?PnP?\\Notification``
    pseudo-reader), or until its timeout. Each wait starts from the states the previous
    call returned, so a change that happens between two calls is reported by the next one
    instead of being lost. Use it with :func:`mynaid.events.iter_events`.
    """

    def __init__(self) -> None:
        self._context = _Context()
        self._order: list[str] = []
        #: Last event state per reader, fed back to the next wait (pcsc-lite compares it).
        self._known: dict[str, int] = {}
        self._states: dict[str, ReaderState] = {}
        self._pnp = True
        self._pnp_state = scard.SCARD_STATE_UNAWARE

    def _current(self) -> tuple[ReaderState, ...]:
        return tuple(self._states[name] for name in self._order if name in self._states)

    def _refresh_names(self) -> None:
        # Re-listing after every wait also catches a reader that arrived between two
        # waits, which older pcsc-lite's PnP notification (counting from the call's
        # start) would miss, and covers platforms without PnP notification.
        names = self._context.reader_names()
        for gone in set(self._states) - set(names):
            del self._states[gone]
            self._known.pop(gone, None)
        new = [name for name in names if name not in self._states]
        for name, event, atr in self._context.states(new):
            self._known[name] = event & ~scard.SCARD_STATE_CHANGED
            self._states[name] = _reader_state(name, event, atr)
        self._order = names

    def snapshot(self) -> tuple[ReaderState, ...]:
        """The state of every reader now; later waits report changes from it."""
        self._states.clear()
        self._known.clear()
        self._refresh_names()
        return self._current()

    def wait(self, timeout: float) -> tuple[ReaderState, ...] | None:
        """Block up to ``timeout`` seconds; the new snapshot when something changed, else None.

        Changes that do not alter a reader's card (another program connecting) return None
        early; callers loop until their own deadline.
        """
        before = self._current()
        query = [(name, self._known[name]) for name in self._order]
        if self._pnp:
            query.append((PNP_NOTIFICATION, self._pnp_state))
        if not query:
            time.sleep(timeout)  # no reader and no PnP notification: nothing to block on
        else:
            code, states = scard.SCardGetStatusChange(
                self._context.handle, max(0, int(timeout * 1000)), query)
            if code == scard.SCARD_S_SUCCESS:
                for name, event, atr in states:
                    if name == PNP_NOTIFICATION:
                        self._pnp_state = event & ~scard.SCARD_STATE_CHANGED
                    elif not event & scard.SCARD_STATE_UNKNOWN:  # vanished: see refresh
                        self._known[name] = event & ~scard.SCARD_STATE_CHANGED
                        self._states[name] = _reader_state(name, event, atr)
            elif code == scard.SCARD_E_UNKNOWN_READER and self._pnp:
                # Either a reader of the query vanished, or the PC/SC stack has no PnP
                # pseudo-reader; in the latter case re-listing after each wait covers it.
                if set(self._context.reader_names()) == set(self._order):
                    self._pnp = False
            elif code == scard.SCARD_F_COMM_ERROR:
                # pcsc-lite's answer when pcscd goes away during the wait.
                raise NoServiceError(f"waiting for reader events: the PC/SC service stopped "
                                     f"({_hex(code)})")
            elif code not in (scard.SCARD_E_TIMEOUT, scard.SCARD_E_CANCELLED):
                _raise_for(code, "waiting for reader events")
        self._refresh_names()
        after = self._current()
        return after if after != before else None

    def cancel(self) -> None:
        """Make a wait blocked in another thread return now (``SCardCancel``)."""
        if self._context.handle is not None:
            scard.SCardCancel(self._context.handle)

    def close(self) -> None:
        self._context.close()

    def __enter__(self) -> ReaderMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
