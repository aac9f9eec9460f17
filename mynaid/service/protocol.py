"""uvicorn's HTTP protocols with a header deadline (the slowloris guard).

uvicorn arms no timer while a request's headers arrive: its keep-alive timer runs only
between a response and the next byte, and the first byte cancels it. A client that sends
one header byte every few seconds therefore holds its connection for ever, and enough of
them hold every slot a proxy or a concurrency limit has. This protocol gives every
request a deadline for its complete headers, counted from the connection (or from the
previous response on a kept-alive connection); a connection that misses it is closed.
The body's deadline is the application's (:mod:`mynaid.service.app`), since the headers
are complete by then.

Two implementations of the same guard: :class:`GuardedHttpToolsProtocol` over uvicorn's
httptools protocol (llhttp, C: the default when ``httptools`` is installed, as in the
``service`` extra; it also bounds the request head to 16 KiB, which llhttp does not), and
:class:`GuardedH11Protocol` over the pure-Python h11 one (the fallback; h11 bounds the head
itself). :func:`protocol_class` picks one (``$MYNAID_RP_HTTP`` = ``h11`` forces h11).

An idle asyncio connection costs a few kilobytes and no thread, so trickling clients cost
nothing but their sockets until their deadline, and other clients are served meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEADER_TIMEOUT_ENV", "HTTP_ENV", "MAX_HEAD", "GuardedH11Protocol",
           "GuardedHttpToolsProtocol", "protocol_class"]

#: Seconds for the headers (set by ``mynaid rp serve`` from the configuration's limits).
HEADER_TIMEOUT_ENV = "MYNAID_RP_HEADER_TIMEOUT"
#: ``h11`` or ``httptools`` (the default when it is installed).
HTTP_ENV = "MYNAID_RP_HTTP"
#: The largest request head (request line and headers) accepted.
MAX_HEAD = 16 * 1024

_LATE = (b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
              b"Connection: close\r\n\r\n")


def _nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        # Headers and body are two writes: without TCP_NODELAY the body waits for the
        # client's delayed ACK.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _header_timeout() -> float:
    try:
        return max(0.1, float(os.environ.get(HEADER_TIMEOUT_ENV, "10")))
    except ValueError:
        return 10.0


class _HeaderDeadline:
    """The deadline itself, shared by both protocols: armed at the connection and after
    each response, disarmed once a request's head is complete; a late head gets a 408 and
    the connection is closed. Subclasses say when the head is done (``_head_pending``)."""

    header_timeout: float = _header_timeout()
    #: Connections closed for missing the deadline (per worker; for tests and metrics).
    closed_slow = 0
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        _nodelay(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def _head_pending(self) -> bool:
        raise NotImplementedError

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or not self._head_pending():
            return
        type(self).closed_slow += 1
        try:
            # A minimal 408, then close; a client this slow will rarely read it.
            self.transport.write(_LATE)
        finally:
            self.transport.close()


class GuardedH11Protocol(_HeaderDeadline, H11Protocol):
    """:class:`H11Protocol` plus a per-request header deadline."""

    def _head_pending(self) -> bool:
        return bool(self.conn.their_state is h11.IDLE)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # h11 leaves IDLE only once a complete request head has been parsed.
        if self._header_timer is not None and self.conn.their_state is not h11.IDLE:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()  # the next request on this connection gets its own deadline


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools not installed: h11 only
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


if HttpToolsProtocol is not None:

    class GuardedHttpToolsProtocol(_HeaderDeadline, HttpToolsProtocol):
        """:class:`HttpToolsProtocol` plus the header deadline and a bound on the head."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            #: Between the start of a request (or of the connection) and its last header.
            self._in_head = True
            self._head_bytes = 0
            super().__init__(*args, **kwargs)

        def _arm(self) -> None:
            self._in_head = True
            self._head_bytes = 0
            super()._arm()

        def _head_pending(self) -> bool:
            return self._in_head

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            # The parser called on_headers_complete if the head ended in this data.
            if self._in_head and not self.transport.is_closing():
                self._head_bytes += len(data)
                if self._head_bytes > MAX_HEAD:
                    self._disarm()
                    self.transport.write(_TOO_LARGE)
                    self.transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head = True

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._disarm()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # uvicorn arms its keep-alive timer only when no pipelined request is waiting:
            # then the next request's head has yet to come, and gets its own deadline.
            if not self.transport.is_closing() and self.timeout_keep_alive_task is not None:
                self._arm()


def protocol_class() -> type[asyncio.Protocol]:
    """The guarded protocol to serve with: httptools when installed (unless
    ``$MYNAID_RP_HTTP`` is ``h11``), else h11."""
    if HttpToolsProtocol is not None and os.environ.get(HTTP_ENV, "httptools") != "h11":
        return GuardedHttpToolsProtocol
    return GuardedH11Protocol
