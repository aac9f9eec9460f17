"""uvicorn's h11 protocol with a header deadline (the slowloris guard).

uvicorn arms no timer while a request's headers arrive: its keep-alive timer runs only
between a response and the next byte, and the first byte cancels it. A client that sends
one header byte every few seconds therefore holds its connection for ever, and enough of
them hold every slot a proxy or a concurrency limit has. This protocol gives every
request a deadline for its complete headers, counted from the connection (or from the
previous response on a kept-alive connection); a connection that misses it is closed.
The body's deadline is the application's (:mod:`mynaid.service.app`), since the headers
are complete by then.

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

__all__ = ["HEADER_TIMEOUT_ENV", "GuardedH11Protocol"]

#: Seconds for the headers (set by ``mynaid rp serve`` from the configuration's limits).
HEADER_TIMEOUT_ENV = "MYNAID_RP_HEADER_TIMEOUT"


def _header_timeout() -> float:
    try:
        return max(0.1, float(os.environ.get(HEADER_TIMEOUT_ENV, "10")))
    except ValueError:
        return 10.0


class GuardedH11Protocol(H11Protocol):
    """:class:`H11Protocol` plus a per-request header deadline."""

    header_timeout: float = _header_timeout()
    #: Connections closed for missing the deadline (per worker; for tests and metrics).
    closed_slow = 0

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

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Headers and body are two writes: without TCP_NODELAY the body waits for
            # the client's delayed ACK.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # h11 leaves IDLE only once a complete request head has been parsed.
        if self._header_timer is not None and self.conn.their_state is not h11.IDLE:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()  # the next request on this connection gets its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        type(self).closed_slow += 1
        try:
            # A minimal 408, then close; a client this slow will rarely read it.
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n"
                                 b"Connection: close\r\n\r\n")
        finally:
            self.transport.close()
