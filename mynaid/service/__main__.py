"""``python -m mynaid.service --config FILE [--port N] [--workers N]``: the same as
``mynaid rp serve``."""

from mynaid.cli.rp import serve_main

raise SystemExit(serve_main())
