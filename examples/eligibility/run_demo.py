"""The whole eligibility check in one command, against the emulated test card.

    python -m examples.eligibility.run_demo            # from the repository root

Registers the test card's holder with the relying-party service in an SQLite file in a
temporary folder and adds their insurance records, generates the demo kiosk's device key,
starts the service (mynaid.service: Starlette on uvicorn) on 127.0.0.1 (a free port), runs
the kiosk client on the PIN route with the test card's published PIN fed to its own
in-process UI, prints the result and stops the service.
``--method visual`` (staff confirm) or ``--method face`` (needs the face extra; the camera
is replaced by ``--frame``, by default vectors/sample-frame.jpg, the holder in colour) use
the device-signed route instead, with the card-face binding (the card face is read with
照合番号B, verified, and must name the registered person).
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

if not __package__:
    # Run as a file (python examples/eligibility/run_demo.py): make the package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from examples.eligibility.client import (
    DeviceIdentity,
    ServiceClient,
    TerminalUI,
    _face_route,
    exit_code,
    print_result,
    run_check,
)
from examples.eligibility.seed import REPO, seed_database
from examples.eligibility.server import RunningServer, settings
from examples.eligibility.wire import public_key_to_text, save_device_key
from mynaid.connect import connect, emulated_card
from mynaid.integrity import load_issuer_key
from mynaid.kiosk import Method

DEMO_KIOSK = "demo-kiosk-1"
#: The test card's published secrets (vectors/README.md); no real card has them.
DEMO_PIN = "1234"
DEMO_COLLATION_B = "55021720352285"
DEMO_FRAME = REPO / "vectors" / "sample-frame.jpg"
TEST_ISSUERS = [REPO / "vectors" / "test-pki" / f"{ap}-issuer.pem" for ap in ("text", "visual")]

#: What the demo "patient" and "staff" type, one line per question, per route.
_ANSWERS = {
    "pin": f"{DEMO_PIN}\ny\n",  # PIN, then consent (asked: the PIN route learns no age)
    "visual": f"y\ny\n{DEMO_COLLATION_B}\n",  # staff confirm, consent, 照合番号B
    "face": f"{DEMO_COLLATION_B}\ny\n",  # 照合番号B, consent (the holder is over 40)
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; the exit code is the client's (0: eligible)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=sorted(_ANSWERS), default="pin")
    parser.add_argument("--frame", default=str(DEMO_FRAME),
                        help="face route: the frame source standing in for the camera")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="    [server log] %(message)s")

    with tempfile.TemporaryDirectory(prefix="mynaid-eligibility-") as tmp:
        folder = Path(tmp)
        store = f"sqlite:///{folder / 'records.sqlite3'}"
        seed_database(store)
        print("registered the test card's holder and seeded 2 demo records into "
              "records.sqlite3")
        key_file = folder / f"{DEMO_KIOSK}.pem"
        save_device_key(Ed25519PrivateKey.generate(), key_file)
        device = DeviceIdentity.load(DEMO_KIOSK, key_file)
        print(f"kiosk {DEMO_KIOSK}: device key {public_key_to_text(device.key.public_key())}")
        config = settings(store, devices={DEMO_KIOSK: device.key.public_key()})
        face = _face_route(args.frame) if args.method == "face" else None
        with RunningServer(config) as server:
            print(f"server on {server.url} (loopback only); trust anchor: the test root")
            ui = TerminalUI(Method(args.method), stdin=io.StringIO(_ANSWERS[args.method]),
                            out=sys.stdout)
            with connect(card=emulated_card()) as protocol:
                # The emulated card's text and visual applications are certified by the
                # test issuers.
                result = run_check(ServiceClient(server.url), protocol, ui, face=face,
                                   device=device,
                                   issuer_keys=[load_issuer_key(p) for p in TEST_ISSUERS])
        print_result(result)
    print("server stopped")
    return exit_code(result)


if __name__ == "__main__":
    sys.exit(main())
