"""The ``mynaid`` command-line interface."""

from mynaid.cli.main import main

__all__ = ["main"]
