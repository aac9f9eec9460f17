"""The eligibility-check service: the relying-party service (mynaid.service) with the
eligibility context, the insurance table and the demo's test roots.

No server code of its own any more: this module configures :mod:`mynaid.service` (an ASGI
application on uvicorn, SQLite by default, PostgreSQL with ``--store postgresql://...``)
and offers :class:`RunningServer`, the same application in a background thread on
127.0.0.1 for the demo and the tests.

    python -m examples.eligibility.server --store sqlite:///records.sqlite3 --seed \\
        --port 8080 --workers 2 --device kiosk-1=<base64 public key>
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from examples.eligibility.seed import REPO, seed_database, test_trust
from examples.eligibility.wire import DEFAULT_CONTEXT
from mynaid.rp.core import RpConfig
from mynaid.rp.revocation import RevocationChain
from mynaid.service.config import Limits, ServiceSettings

__all__ = ["DEFAULT_ANCHORS", "RunningServer", "main", "settings"]

#: The demo's trust anchors: the committed test roots the emulator's cards chain to. A
#: real deployment uses the pinned J-LIS roots ("trust_anchors": ["jpki"]).
DEFAULT_ANCHORS = [str(REPO / "vectors" / "test-pki" / n) for n in ("auth-root.pem",
                                                                      "sign-root.pem")]


def settings(store_url: str, *, devices: dict[str, Ed25519PublicKey] | None = None,
             revocation: RevocationChain | None = None,
             limits: Limits | None = None) -> ServiceSettings:
    """The eligibility service's settings (test roots, eligibility context)."""
    rp = RpConfig(trust=test_trust(), context=DEFAULT_CONTEXT, devices=dict(devices or {}),
                  revocation=revocation)
    return ServiceSettings(store_url=store_url, rp=rp, limits=limits or Limits())


class RunningServer:
    """The service (one uvicorn worker) in a background thread on 127.0.0.1, a free port;
    a context manager that stops it."""

    def __init__(self, service_settings: ServiceSettings) -> None:
        import uvicorn

        from mynaid.service.app import create_app
        from mynaid.service.protocol import GuardedH11Protocol
        from mynaid.service.server import bind

        self.socket = bind("127.0.0.1", 0)
        self.port = self.socket.getsockname()[1]
        app = create_app(service_settings)
        config = uvicorn.Config(app, http=GuardedH11Protocol, lifespan="off",
                                log_level="warning", access_log=False, server_header=False)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run,
                                        kwargs={"sockets": [self.socket]}, daemon=True,
                                        name="eligibility-service")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RunningServer:
        self._thread.start()
        # Wait for the socket to accept (a condition, not a guess).
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the service did not start")
            self._thread.join(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)
        self.socket.close()

    def __enter__(self) -> RunningServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted (uvicorn, ``--workers`` processes, 127.0.0.1)."""
    parser = argparse.ArgumentParser(description="The eligibility-check service "
                                                 "(127.0.0.1 only).")
    parser.add_argument("--store", default="sqlite:///eligibility.sqlite3",
                        help="sqlite:///FILE (default) or postgresql://...")
    parser.add_argument("--port", type=int, default=8080, help="0: any free port")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", action="store_true",
                        help="register the demo card and add its records first")
    parser.add_argument("--device", action="append", default=[], metavar="KIOSK_ID=PUBKEY",
                        help="register a kiosk's Ed25519 public key (base64, raw 32 bytes)")
    parser.add_argument("--crl", action="append", default=[], metavar="FILE",
                        help="a CRL file or folder (repeatable)")
    parser.add_argument("--ocsp-url", help="an OCSP responder to ask (before the CRLs)")
    args = parser.parse_args(argv)
    store = args.store
    if store.startswith("sqlite:///") and not store.startswith("sqlite:////"):
        store = "sqlite:///" + str(Path.cwd() / store[len("sqlite:///"):])
    if args.seed:
        print(f"seeded person {seed_database(store)}", file=sys.stderr)
    devices: dict[str, str] = {}
    for item in args.device:
        kiosk_id, sep, key = item.partition("=")
        if not sep:
            parser.error("--device takes KIOSK_ID=PUBKEY")
        devices[kiosk_id] = key
    revocation: dict[str, Any] = {}
    if args.crl:
        revocation["crl_files"] = [str(Path.cwd() / c) for c in args.crl]
    if args.ocsp_url:
        revocation["ocsp_url"] = args.ocsp_url
    config = {"store": store, "context": DEFAULT_CONTEXT, "trust_anchors": DEFAULT_ANCHORS,
              "devices": devices, "revocation": revocation}
    from mynaid.service.server import serve

    with tempfile.TemporaryDirectory(prefix="mynaid-eligibility-") as tmp:
        path = Path(tmp) / "service.json"
        path.write_text(json.dumps(config))
        try:
            serve(path, port=args.port, workers=args.workers)
        except KeyboardInterrupt:
            pass
    return 0



if __name__ == "__main__":
    sys.exit(main())
