"""mynaid: identity verification with the Japanese My Number Card over PC/SC.

Layers, from the wire up (as in yubikit): :mod:`mynaid.transport` moves bytes to a card
(PC/SC or the emulator); :mod:`mynaid.protocol` applies the ISO 7816 rules; the sessions in
:mod:`mynaid.sessions` speak to one card application each. :mod:`mynaid.iso7816`,
:mod:`mynaid.models` and :mod:`mynaid.cardspec` are pure and do no I/O.

Heavy submodules are imported on first use so that importing mynaid stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "connect": "mynaid.connect",
    "list_readers": "mynaid.connect",
    "emulated_card": "mynaid.connect",
    "JpkiSession": "mynaid.sessions.jpki",
    "TextSession": "mynaid.sessions.text",
    "VisualSession": "mynaid.sessions.visual",
    "pin_status": "mynaid.pins",
    "CardProtocol": "mynaid.protocol",
    "ExtendedLength": "mynaid.protocol",
    "CertificateSlot": "mynaid.cardspec",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mynaid' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
