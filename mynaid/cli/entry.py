"""The ``mynaid`` console script: ``mynaid --version`` answered without importing click.

Importing click costs several times a bare interpreter's start-up (benchmarks/
bench_startup.py), more than the rest of ``--version``; every other invocation goes to
:func:`mynaid.cli.main.main` unchanged. The text is click's ``version_option`` message
(tests/test_cli_startup.py compares the two).
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> int:
    """Run the command line for ``sys.argv``."""
    if sys.argv[1:] == ["--version"]:
        from mynaid import __version__

        sys.stdout.write(f"mynaid, version {__version__}\n")
        return 0
    from mynaid.cli.main import main as run

    return run()
