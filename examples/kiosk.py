"""A minimal terminal kiosk: wait for a card, run the clinic flow, wait for its removal, repeat.

    python examples/kiosk.py [--reader SUBSTR] [--camera DEV|FILE] [--once]
    MYNAID_ISSUER_KEYS=vectors/test-pki/visual-issuer.pem \
        python examples/kiosk.py --emulator --camera vectors/sample-frame.jpg --method face

With ``--emulator`` the built-in test card is used in-process and the loop runs once. The
screens are the CLI's terminal UI (``mynaid.cli.kiosk.TerminalKioskUI``); the touchscreen page
(``mynaid kiosk --web``, :mod:`mynaid.kioskweb`) is the same flow behind the same
:class:`mynaid.kiosk.KioskUI` protocol. Errors (no pyscard, no reader) are one line.
"""

from __future__ import annotations

import argparse
import json
import sys

from mynaid.cli.kiosk import TerminalKioskUI
from mynaid.connect import connect, emulated_card
from mynaid.integrity import load_issuer_keys
from mynaid.kiosk import CameraFaceRoute, FaceRoute, KioskFlow, Method, SessionKioskCard


def face_route(camera: str | None) -> FaceRoute | None:
    if camera is None:
        return None
    from mynaid.face import FaceMatcher
    from mynaid.face.camera import open_frame_source

    return CameraFaceRoute(FaceMatcher(), open_frame_source(int(camera) if camera.isdigit()
                                                            else camera))


def wait_for(kind: str, reader: str | None) -> str:
    """Block until a card is inserted (or removed) in a matching reader; return its name."""
    from mynaid.events import EventKind, ReaderEvent, iter_events
    from mynaid.transport.pcsc import ReaderMonitor

    def matches(name: str) -> bool:
        return reader is None or reader.lower() in name.lower()

    wanted = EventKind.CARD_INSERTED if kind == "insert" else EventKind.CARD_REMOVED
    with ReaderMonitor() as monitor:
        for item in iter_events(monitor):
            if isinstance(item, ReaderEvent):
                if item.kind is wanted and matches(item.reader):
                    return item.reader
            elif kind == "insert":
                for state in item.readers:
                    if state.card_present and matches(state.name):
                        return state.name
    raise SystemExit("the event loop ended")


def serve_one(reader: str | None, camera: str | None, method: str | None,
              emulator: bool) -> None:
    card = emulated_card() if emulator else None
    ui = TerminalKioskUI(Method(method) if method else None)
    with connect(reader, card=card) as protocol:
        # Trusted visual-AP issuer keys from $MYNAID_ISSUER_KEYS (the J-LIS keys are not
        # shipped); for the emulated card: vectors/test-pki/visual-issuer.pem.
        kiosk_card = SessionKioskCard(protocol, issuer_keys=load_issuer_keys())
        outcome = KioskFlow(kiosk_card, ui, face_route(camera)).run()
    print(json.dumps(outcome.as_dict(), ensure_ascii=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reader")
    parser.add_argument("--camera")
    parser.add_argument("--method", choices=["face", "pin", "visual"])
    parser.add_argument("--emulator", action="store_true")
    parser.add_argument("--once", action="store_true")
    args = parser.parse_args()
    if args.emulator:
        serve_one(None, args.camera, args.method, emulator=True)
        return 0
    while True:
        print("Please place your card on the reader.", file=sys.stderr)
        reader = wait_for("insert", args.reader)
        serve_one(reader, args.camera, args.method, emulator=False)
        if args.once:
            return 0
        print("Please take your card.", file=sys.stderr)
        wait_for("remove", reader)


def run() -> int:
    """``main`` with the CLI's exit codes: a missing pyscard, no reader, Ctrl-C are one
    line and a code, not a traceback."""
    from mynaid.cli.exitcodes import ExitCode, exit_code_for
    from mynaid.errors import MynaidError

    try:
        return main()
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except MynaidError as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return exit_code_for(exc)


if __name__ == "__main__":
    sys.exit(run())
