"""Transports: PC/SC readers (:mod:`mynaid.transport.pcsc`) and the in-process emulator
(:mod:`mynaid.transport.emulated`), both behind :class:`Transport`."""

from mynaid.transport.base import ReaderInfo, Transport

__all__ = ["ReaderInfo", "Transport"]
