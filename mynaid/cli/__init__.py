"""The ``mynaid`` command-line interface: :func:`mynaid.cli.main.main`, started by the
console script through :mod:`mynaid.cli.entry` (which answers ``--version`` without
importing click). Nothing is imported here, so that the entry module starts light."""
