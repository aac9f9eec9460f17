"""Bridge an emulated card to vpcd, the virtual reader driver of pcscd (vsmartcard).

vpcd listens (port 35963 for "Virtual PCD 00 00"); this program connects to it and answers.
Each message is a 2-byte big-endian length and a payload. A 1-byte payload is a control
byte: ``00`` power off, ``01`` power on, ``02`` reset (no reply to these), ``04`` get ATR
(reply with the ATR). A longer payload is a command APDU; the reply is ``data || SW``.
Closing the socket is a card removal; connecting again is an insertion.
"""

from __future__ import annotations

import logging
import socket
import threading

from mynaid.emulator.card import EmulatedCard

log = logging.getLogger("mynaid.emulator.vpcd")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 35963
CTRL_POWER_OFF = 0x00
CTRL_POWER_ON = 0x01
CTRL_RESET = 0x02
CTRL_GET_ATR = 0x04


class VpcdClosed(Exception):
    """vpcd closed the connection (pcscd stopped, or the reader went away)."""


def _quickack(sock: socket.socket) -> None:
    # Debian's vpcd writes length and payload separately; with delayed ACK on this side
    # and Nagle on its side every APDU would stall ~40 ms. Linux re-arms delayed ACK,
    # so this must be set before every receive.
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if quickack is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
        except OSError:
            pass


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        _quickack(sock)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise VpcdClosed("vpcd closed the connection")
        buf += chunk
    return bytes(buf)


def _send_frame(sock: socket.socket, payload: bytes) -> None:
    if len(payload) > 0xFFFF:
        raise ValueError("vpcd frames carry at most 65535 bytes")
    sock.sendall(len(payload).to_bytes(2, "big") + payload)


def handle(card: EmulatedCard, payload: bytes) -> bytes | None:
    """The reply to one vpcd message, or None when the message takes no reply."""
    if len(payload) == 1:
        control = payload[0]
        if control == CTRL_POWER_OFF:
            card.power_off()
        elif control == CTRL_POWER_ON:
            card.power_on()
        elif control == CTRL_RESET:
            card.reset()
        elif control == CTRL_GET_ATR:
            return card.atr
        else:
            log.warning("unknown vpcd control byte %02X", control)
        return None
    if not payload:
        return None
    return card.process(payload)


def connect(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
            timeout: float | None = 10.0) -> socket.socket:
    """Connect to vpcd with the socket options the latency trap needs."""
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def serve(card: EmulatedCard, sock: socket.socket,
          stop: threading.Event | None = None) -> None:
    """Answer vpcd on ``sock`` until vpcd closes it or ``stop`` is set."""
    try:
        while stop is None or not stop.is_set():
            length = int.from_bytes(_recv_exact(sock, 2), "big")
            payload = _recv_exact(sock, length)
            reply = handle(card, payload)
            if reply is not None:
                _send_frame(sock, reply)
    except VpcdClosed:
        log.info("vpcd closed the connection")
    finally:
        sock.close()
