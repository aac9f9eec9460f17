"""Reading secrets for the CLI: a hidden prompt on a terminal, else one line from stdin.

Secrets are never taken from argv (visible in ``ps`` and shell history) nor echoed.
"""

from __future__ import annotations

import getpass
import sys

from mynaid.errors import InvalidSecretError

#: A secret line longer than this is refused (the longest secret is 16 characters).
MAX_SECRET_LINE = 256


def read_secret(label: str) -> str:
    """Prompt for ``label`` on the terminal, or read one line from a non-terminal stdin."""
    if sys.stdin.isatty():
        return getpass.getpass(f"{label}: ", stream=sys.stderr)
    line = sys.stdin.readline(MAX_SECRET_LINE + 1)
    if not line:
        raise InvalidSecretError(f"no line on standard input for the {label}")
    if len(line) > MAX_SECRET_LINE:
        raise InvalidSecretError(f"the line given for the {label} is too long")
    return line.rstrip("\r\n")
