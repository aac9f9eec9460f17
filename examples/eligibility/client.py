"""The kiosk: identify the patient with the card, then ask the eligibility service.

1. a login nonce from the service (the client refuses one for any context but its own);
2. :class:`mynaid.kiosk.KioskFlow` on the terminal: PIN (the card signs the nonce in the same
   transaction as the PIN check), face (card photo vs a camera frame) or visual (staff);
3. ``POST /v1/eligibility``: the PIN route's challenge response, or - face and visual
   routes, where the card signs nothing - a claim signed by this kiosk's device key that
   carries the card-face identity read and verified with 照合番号B
   (:func:`mynaid.rp.binding.read_card_face_identity`); the service refuses it unless the
   card face names the person the auth certificate is linked to;
4. print the eligibility result. The My Number is never read, so it cannot be printed.

    python -m examples.eligibility.client --server http://127.0.0.1:8080 --emulator
    python -m examples.eligibility.client --reader SONY --method face --frame me.jpg \\
        --kiosk-id kiosk-1 --device-key kiosk-1.pem --issuer-key visual.pem ...
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from examples.eligibility.wire import DEFAULT_CONTEXT, load_device_key
from mynaid.cli.kiosk import TerminalKioskUI as TerminalUI
from mynaid.errors import DependencyMissingError, MynaidError
from mynaid.integrity import IssuerKey, load_issuer_keys
from mynaid.kiosk import (
    FaceRoute,
    KioskConfig,
    KioskFlow,
    KioskUI,
    Method,
    Outcome,
    SessionKioskCard,
)
from mynaid.protocol import CardProtocol
from mynaid.rp.client import ClientError, RpClient, face_body

__all__ = [
    "CheckResult",
    "ClientError",
    "DeviceIdentity",
    "ServiceClient",
    "TerminalUI",
    "exit_code",
    "main",
    "print_result",
    "run_check",
]


class ServiceClient(RpClient):
    """The relying-party client, with the eligibility context."""

    def __init__(self, base_url: str, *, timeout: float = 15.0,
                 context: str = DEFAULT_CONTEXT) -> None:
        super().__init__(base_url, timeout=timeout, context=context)


# --- the check -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceIdentity:
    """This kiosk's id and its device key (registered with the service)."""

    kiosk_id: str
    key: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def load(cls, kiosk_id: str, key_file: str | Path) -> DeviceIdentity:
        return cls(kiosk_id, load_device_key(key_file))


@dataclass(frozen=True)
class CheckResult:
    """The kiosk outcome and, when the patient was identified, the service's answer."""

    outcome: Outcome
    status: int | None = None
    answer: dict[str, Any] | None = None


class _RememberingUI:
    """The kiosk UI, remembering the 照合番号B it was given (the device route reads the
    card face again with it, for the binding) - in memory only, never printed."""

    def __init__(self, ui: KioskUI) -> None:
        self._ui = ui
        self.collation: str | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ui, name)

    def collation_b(self) -> str:
        self.collation = self._ui.collation_b()
        return self.collation


def run_check(service: ServiceClient, protocol: CardProtocol, ui: KioskUI, *,
              face: FaceRoute | None = None, device: DeviceIdentity | None = None,
              config: KioskConfig | None = None,
              issuer_keys: Sequence[IssuerKey] = ()) -> CheckResult:
    """Nonce, kiosk flow, verification: one patient's eligibility check.

    Without a ``device`` identity only the PIN route is offered: the service believes the
    face and visual routes only from a registered kiosk. ``issuer_keys`` are the trusted
    CV-certificate issuers of the text and visual applications: the card face is used only
    once it is shown authentic with them (and the service binds it to the person).
    """
    nonce = service.nonce("login")
    if config is None:
        config = KioskConfig(allow_visual_confirmation=device is not None)
    remembering = _RememberingUI(ui)
    flow = KioskFlow(SessionKioskCard(protocol, context=service.context,
                                      issuer_keys=issuer_keys),
                     remembering,  # type: ignore[arg-type]
                     face if device is not None else None, config=config, challenge=nonce)
    outcome = flow.run()
    if not outcome.verified:
        return CheckResult(outcome)
    if outcome.method is Method.PIN:
        if outcome.challenge_response is None:
            raise ClientError("the PIN route returned no challenge response")
        body: dict[str, Any] = {"route": "pin",
                                "response": outcome.challenge_response.as_dict()}
    else:
        if device is None or outcome.method is None:
            raise ClientError("the face and visual routes need this kiosk's device key")
        collation = remembering.collation or remembering.collation_b()
        body = {"route": "device", **face_body(
            protocol, service.nonce("face"), service.context, collation_b=collation,
            issuer_keys=issuer_keys, kiosk_id=device.kiosk_id, device_key=device.key,
            method=outcome.method.value)}
    status, answer = service.post("/v1/eligibility", body)
    return CheckResult(outcome, status, answer)


# --- output ----------------------------------------------------------------------------------


def exit_code(result: CheckResult) -> int:
    """0 eligible; 1 identified but not eligible (lapsed, not yet valid, no record);
    2 rejected by the server; 3 identification not completed."""
    if not result.outcome.verified or result.answer is None:
        return 3
    if result.status == 200:
        return 0 if result.answer.get("eligible") else 1
    return 1 if result.answer.get("reason") in ("not-found", "not-registered") else 2


def print_result(result: CheckResult, out: TextIO | None = None) -> None:
    """The reception's view of the result (insurer, symbol/number, copayment)."""
    stream = out if out is not None else sys.stdout

    def say(text: str) -> None:
        print(text, file=stream)

    outcome, answer = result.outcome, result.answer
    if not outcome.verified or answer is None:
        say(f"identification not completed: {outcome.result.value} ({outcome.message})")
        return
    method = outcome.method.value if outcome.method else "?"
    if result.status != 200:
        say(f"eligibility check refused: {answer.get('reason')} ({answer.get('message')}); "
            f"identified by {method}")
        return
    record = answer.get("record") or {}
    ratio = int(record.get("copayment_ratio", 0))
    valid_to = record.get("valid_to") or "(open)"
    say(f"eligibility: {'ELIGIBLE' if answer.get('eligible') else 'NOT ELIGIBLE'} "
        f"({answer.get('status')}, as of {answer.get('as_of')}); identified by {method}")
    say(f"  insurer:    {record.get('insurer_number')} {record.get('insurer_name')}")
    say(f"  card:       記号 {record.get('symbol')}  番号 {record.get('number')}  "
        f"枝番 {record.get('branch')}")
    say(f"  holder:     {record.get('holder_name')}")
    say(f"  copayment:  {ratio} % ({ratio // 10}割)")
    say(f"  valid:      {record.get('valid_from')} to {valid_to}")
    if outcome.consent is not None:
        say(f"  consent to share health-check data: {'yes' if outcome.consent else 'no'}")


# --- command line ----------------------------------------------------------------------------


def _face_route(frame: str) -> FaceRoute | None:
    """The camera route over ``frame`` (image, folder, glob, video or camera index), or None
    (with a message) when the face extra is missing or the source cannot be opened."""
    try:
        from mynaid.face import FaceMatcher, open_frame_source
        from mynaid.face.errors import CameraError
        from mynaid.kiosk import CameraFaceRoute

        try:
            return CameraFaceRoute(FaceMatcher(), open_frame_source(frame))
        except CameraError as exc:
            print(f"face route off: {exc}", file=sys.stderr)
            return None
    except (DependencyMissingError, ImportError) as exc:
        print(f"face route off: the face extra is missing ({exc})", file=sys.stderr)
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one eligibility check; the exit code is :func:`exit_code`'s (4: no server/card)."""
    parser = argparse.ArgumentParser(description="A kiosk for the eligibility-check "
                                                 "prototype.")
    parser.add_argument("--server", default="http://127.0.0.1:8080")
    card_group = parser.add_mutually_exclusive_group()
    card_group.add_argument("--emulator", action="store_true",
                            help="the built-in test card, in-process")
    card_group.add_argument("--profile", type=Path, help="an emulator profile, in-process")
    card_group.add_argument("--reader", help="PC/SC reader (index or name substring; "
                                             "default: the first with a card)")
    parser.add_argument("--method", choices=[m.value for m in Method],
                        help="preselect the identification method")
    parser.add_argument("--frame", help="face route: a frame source (image file, folder, "
                                        "glob, video, or camera index)")
    parser.add_argument("--kiosk-id", help="this kiosk's registered id (face/visual routes)")
    parser.add_argument("--device-key", type=Path,
                        help="this kiosk's Ed25519 private key, PEM (face/visual routes)")
    parser.add_argument("--issuer-key", type=Path, action="append", default=[],
                        help="trusted text/visual-AP issuer key, PEM (face and visual "
                             "routes; repeatable; also $MYNAID_ISSUER_KEYS)")
    parser.add_argument("--context", default=DEFAULT_CONTEXT,
                        help="the service context this kiosk signs for")
    parser.add_argument("--json", action="store_true", help="print the server's JSON answer")
    args = parser.parse_args(argv)

    if bool(args.kiosk_id) != bool(args.device_key):
        parser.error("--kiosk-id and --device-key go together")
    device = DeviceIdentity.load(args.kiosk_id, args.device_key) if args.kiosk_id else None
    if device is None and args.method in ("face", "visual"):
        parser.error(f"--method {args.method} needs --kiosk-id and --device-key")
    face = _face_route(args.frame) if args.frame else None
    ui = TerminalUI(Method(args.method) if args.method else None)

    from mynaid.connect import connect, emulated_card

    card = emulated_card(args.profile) if (args.emulator or args.profile) else None
    try:
        service = ServiceClient(args.server, context=args.context)
        with connect(args.reader, card=card) as protocol:
            result = run_check(service, protocol, ui, face=face, device=device,
                               issuer_keys=load_issuer_keys(args.issuer_key))
    except MynaidError as exc:  # ClientError, no reader, no card, ...
        print(f"error: {exc.message}", file=sys.stderr)
        return 4
    finally:
        frames = getattr(face, "frames", None)
        if frames is not None:
            frames.close()
    if args.json and result.answer is not None:
        print(json.dumps(result.answer, ensure_ascii=False, indent=1))
    else:
        print_result(result)
    return exit_code(result)


if __name__ == "__main__":
    sys.exit(main())
