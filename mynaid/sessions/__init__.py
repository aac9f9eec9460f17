"""One session class per card application.

The classes are loaded on first use: importing one session (as every CLI command does)
must not pull in the others' dependencies (the text and visual sessions need
``cryptography`` at import time, which costs ~30 ms of start-up).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "JpkiSession": "mynaid.sessions.jpki",
    "TextSession": "mynaid.sessions.text",
    "VisualSession": "mynaid.sessions.visual",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mynaid.sessions' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
