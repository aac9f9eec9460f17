"""The kiosk: identify the patient with the card, then ask the eligibility server.

1. ``POST /nonce`` (the client refuses a nonce for any context but its own);
2. :class:`mynaid.kiosk.KioskFlow` on the terminal: PIN (the card signs the nonce in the same
   transaction as the PIN check), face (card photo vs a camera frame) or visual (staff);
3. ``POST /verify`` with the card's challenge response (PIN route), or a claim signed by
   this kiosk's device key (face and visual routes, where the card signs nothing);
4. print the eligibility result. The My Number is never read (the flow has no step that
   reads it), so it cannot be printed.

    python -m examples.eligibility.client --server http://127.0.0.1:8080 --emulator
    python -m examples.eligibility.client --reader SONY --method face --frame me.jpg \\
        --kiosk-id kiosk-1 --device-key kiosk-1.pem
"""

from __future__ import annotations

import argparse
import base64
import ipaddress
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from examples.eligibility.wire import DEFAULT_CONTEXT, DeviceClaim, load_device_key
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



class ClientError(MynaidError):
    """The server could not be asked, or answered something unusable."""


# --- the service -----------------------------------------------------------------------------


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ServiceClient:
    """JSON over HTTP to the eligibility server."""

    def __init__(self, base_url: str, *, timeout: float = 15.0) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https"):
            raise ClientError(f"the server URL must be http(s), not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        handlers: list[urllib.request.BaseHandler] = []
        if _is_loopback(parts.hostname):
            # Never send a loopback request (holding a certificate and a signature) to a
            # proxy from the environment.
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON answer); a 4xx/5xx answer is returned, not raised."""
        request = urllib.request.Request(  # noqa: S310 (scheme checked in __init__)
            self.base_url + path, data=json.dumps(body).encode("utf-8"), method="POST",
            headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
            exc.close()
        except (urllib.error.URLError, OSError) as exc:
            raise ClientError(f"the eligibility server at {self.base_url} did not answer: "
                              f"{exc}") from exc
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ClientError(f"the server answered {status} without a JSON object")
        return status, answer


# --- the check -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceIdentity:
    """This kiosk's id and its device key (registered with the server)."""

    kiosk_id: str
    key: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def load(cls, kiosk_id: str, key_file: str | Path) -> DeviceIdentity:
        return cls(kiosk_id, load_device_key(key_file))


@dataclass(frozen=True)
class CheckResult:
    """The kiosk outcome and, when the patient was identified, the server's answer."""

    outcome: Outcome
    status: int | None = None
    answer: dict[str, Any] | None = None


def _card_ca_certificates(protocol: CardProtocol) -> tuple[x509.Certificate, ...]:
    """The card's auth CA certificate (EF 000B, no PIN), for the server to build the path
    when it pins the J-LIS roots by fingerprint rather than holding them."""
    from mynaid.cardspec import CertificateSlot
    from mynaid.sessions.jpki import JpkiSession

    try:
        return (JpkiSession(protocol).read_certificate(CertificateSlot.AUTH_CA),)
    except MynaidError:
        return ()  # the server may hold the anchor itself; it will say if it cannot


def run_check(service: ServiceClient, protocol: CardProtocol, ui: KioskUI, *,
              face: FaceRoute | None = None, device: DeviceIdentity | None = None,
              context: str = DEFAULT_CONTEXT, config: KioskConfig | None = None,
              issuer_keys: Sequence[IssuerKey] = ()) -> CheckResult:
    """Nonce, kiosk flow, verification: one patient's eligibility check.

    Without a ``device`` identity only the PIN route is offered: the server believes the
    face and visual routes only from a registered kiosk. ``issuer_keys`` are the trusted
    CV-certificate issuers of the visual application: the face route uses the card photo
    only once the card face is shown authentic with one of them.
    """
    status, answer = service.post("/nonce", {})
    if status != 200:
        raise ClientError(f"no nonce: {answer.get('reason')}: {answer.get('message')}")
    if answer.get("context") != context:
        # Signing a nonce for another context would hand the server a signature that a
        # different verifier accepts; the kiosk signs for its own service only.
        raise ClientError(f"the server asked for context {answer.get('context')!r}, "
                          f"not {context!r}")
    try:
        nonce = bytes.fromhex(str(answer["nonce"]))
    except (KeyError, ValueError) as exc:
        raise ClientError("the server's nonce is not hex") from exc
    if config is None:
        config = KioskConfig(allow_visual_confirmation=device is not None)
    flow = KioskFlow(SessionKioskCard(protocol, context=context, issuer_keys=issuer_keys), ui,
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
        if device is None or outcome.method is None or outcome.auth_certificate_der is None:
            raise ClientError("the face and visual routes need this kiosk's device key")
        claim = DeviceClaim(
            kiosk_id=device.kiosk_id, method=outcome.method.value, nonce=nonce,
            context=context,
            certificate=x509.load_der_x509_certificate(outcome.auth_certificate_der),
            ca_certificates=_card_ca_certificates(protocol))
        body = {"route": "device", "claim": claim.as_dict(),
                "device_signature": base64.b64encode(claim.sign(device.key)).decode()}
    status, answer = service.post("/verify", body)
    return CheckResult(outcome, status, answer)


# --- output ----------------------------------------------------------------------------------


def exit_code(result: CheckResult) -> int:
    """0 eligible; 1 identified but not eligible (lapsed, not yet valid, no record);
    2 rejected by the server; 3 identification not completed."""
    if not result.outcome.verified or result.answer is None:
        return 3
    if result.status == 200:
        return 0 if result.answer.get("eligible") else 1
    return 1 if result.answer.get("reason") == "not-found" else 2


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
                        help="trusted visual-AP issuer key, PEM (face route; repeatable; "
                             "also $MYNAID_ISSUER_KEYS)")
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
        service = ServiceClient(args.server)
        with connect(args.reader, card=card) as protocol:
            result = run_check(service, protocol, ui, face=face, device=device,
                               context=args.context,
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
