"""Run the service: uvicorn, N worker processes sharing one listening socket.

The parent binds the socket (127.0.0.1 unless told otherwise; port 0 picks a free one and
reports it), then uvicorn's supervisor starts the workers, each with the guarded h11
protocol and the application factory, and replaces a worker that dies (``kill -9``
included). Workers get their settings from the configuration file named in
``$MYNAID_RP_CONFIG``; they share nothing else but the database.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from mynaid.service.config import CONFIG_ENV, ServiceSettings
from mynaid.service.protocol import HEADER_TIMEOUT_ENV

__all__ = ["bind", "serve"]


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (inheritable, so the workers can share it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio disables Nagle only on sockets that say they are TCP;
    # with proto 0 every two-write response waits for the client's delayed ACK (40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(config: str | Path, *, host: str = "127.0.0.1", port: int = 8080,
          workers: int = 1, port_file: str | Path | None = None,
          log_level: str = "warning") -> None:
    """Serve until interrupted (SIGINT/SIGTERM stop the workers gracefully)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from mynaid.service.protocol import protocol_class

    config_path = str(Path(config).resolve())
    settings = ServiceSettings.from_file(config_path)  # fail here, not in every worker
    os.environ[CONFIG_ENV] = config_path
    os.environ[HEADER_TIMEOUT_ENV] = str(settings.limits.header_timeout)
    os.environ["MYNAID_RP_WORKERS"] = str(workers)
    protocol = protocol_class()
    protocol.header_timeout = settings.limits.header_timeout  # type: ignore[attr-defined]
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    if port_file is not None:
        Path(port_file).write_text(f"{actual}\n")
    print(f"mynaid rp service on http://{host}:{actual} ({workers} worker"
          f"{'s' if workers != 1 else ''}; TLS belongs to the reverse proxy)",
          file=sys.stderr, flush=True)
    try:
        import uvloop  # noqa: F401  (the service extra: a faster event loop, if installed)
        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    uv_config = uvicorn.Config(
        "mynaid.service.app:create_app", factory=True, host=host, port=actual,
        workers=workers, http=protocol, loop=loop, lifespan="off", log_level=log_level,
        access_log=False, server_header=False, date_header=False,
        # Between requests on a kept-alive connection; the header deadline is the guard's.
        timeout_keep_alive=5, h11_max_incomplete_event_size=16 * 1024,
        timeout_graceful_shutdown=10, proxy_headers=False)
    server = uvicorn.Server(uv_config)
    if workers <= 1:
        server.run(sockets=[sock])
    else:
        Multiprocess(uv_config, sockets=[sock]).run()
