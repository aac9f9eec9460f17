"""mynaid: identity verification with the Japanese My Number Card over PC/SC.

Layers, from the wire up (as in yubikit): :mod:`mynaid.transport` moves bytes to a card
(PC/SC or the emulator); :mod:`mynaid.protocol` applies the ISO 7816 rules; the sessions in
:mod:`mynaid.sessions` speak to one card application each. :mod:`mynaid.iso7816`,
:mod:`mynaid.models` and :mod:`mynaid.cardspec` are pure and do no I/O.

Heavy submodules are imported on first use so that importing mynaid stays cheap.

``mynaid.connect`` is the function :func:`mynaid.connect.connect`, always: the submodule of
the same name is reached by its full name (``from mynaid.connect import emulated_card``,
``importlib.import_module("mynaid.connect")``).
"""

from __future__ import annotations

import importlib
import sys
import types
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
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


#: Lazy exports named like a submodule. Importing the submodule makes the import system set
#: the package attribute to the module, which used to shadow the export: ``mynaid.connect``
#: turned from the function into the module after its first import.
_SHADOWED = frozenset(name for name, module in _LAZY.items()
                      if module == f"{__name__}.{name}")


class _Package(types.ModuleType):
    """The package module, keeping its exports over same-named submodules."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return  # the submodule stays in sys.modules under its full name
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
