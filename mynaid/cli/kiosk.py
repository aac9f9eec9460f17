"""``mynaid kiosk``: the clinic kiosk flow on a terminal (steps on stderr, outcome on stdout),
or with ``--web`` as the touchscreen page on 127.0.0.1 (:mod:`mynaid.kioskweb`).

The configuration is checked before any patient is asked anything: a face route needs a
camera and a trusted issuer key (or it is not offered), a face threshold looser than the
calibrated value needs ``--unsafe-threshold``. Answers are never echoed: a scripted answer
that arrives at the wrong prompt (a shifted script) could be a secret.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from mynaid.cli.main import Settings, emit, pass_settings
from mynaid.cli.scan import kiosk_collation_b_source, scan_option
from mynaid.kiosk import KioskTimeout, Method, Step

if TYPE_CHECKING:
    from mynaid.kiosk import Result


#: Longest answer line read (the longest secret, 照合番号B, is 14 characters).
MAX_LINE = 256
_YES = {"y", "yes", "はい"}
_NO = {"n", "no", "いいえ"}
STAFF_PIN_ENV = "MYNAID_STAFF_PIN"


class TerminalKioskUI:
    """:class:`mynaid.kiosk.KioskUI` on a terminal.

    On a terminal, secrets are read with :func:`getpass.getpass` (not echoed); otherwise
    every answer, secret or not, is one line of ``stdin`` (scripts, the demo, tests). The
    end of input is a timeout: the flow ends and the kiosk asks nothing more. ``method``
    preselects the first choice (``--method``); a later choice (after a failed face match)
    is asked.
    """

    def __init__(self, method: Method | None = None, *, stdin: TextIO | None = None,
                 out: TextIO | None = None) -> None:
        self._preselected = method
        self.stdin = stdin if stdin is not None else sys.stdin
        self.out = out if out is not None else sys.stderr
        self.interactive = self.stdin.isatty()

    def show(self, step: Step, message: str) -> None:
        print(f"[{step.value}] {message}", file=self.out, flush=True)

    def choose_method(self, offered: tuple[Method, ...]) -> Method | None:
        if self._preselected is not None:
            method, self._preselected = self._preselected, None
            if method in offered:
                return method
            self.show(Step.METHOD, f"{method.value} is not available here")
        names = "/".join(m.value for m in offered)
        while True:
            answer = self._line(f"identify by ({names}; empty line cancels): ").lower()
            if not answer:
                self._understood("cancel")
                return None
            for number, method in enumerate(offered, 1):
                if answer in (method.value, str(number)):
                    self._understood(method.value)
                    return method
            self._understood("not one of the choices")

    def collation_b(self) -> str:
        return self._secret("照合番号B (birth date YYMMDD, expiry year, security code)")

    def pin(self, tries_left: int) -> str:
        return self._secret(f"auth PIN (4 digits; {tries_left} tries left)")

    def consent(self) -> bool:
        return self._yes_no("share past health-check information with this clinic? [y/n] ")

    def staff_confirms(self) -> bool:
        return self._yes_no("STAFF: does the patient match the card's face photo? [y/n] ")

    # --- input ------------------------------------------------------------------------------

    def _readline(self) -> str:
        line = self.stdin.readline(MAX_LINE + 1)
        if not line:
            raise KioskTimeout("no more input")
        if len(line) > MAX_LINE:
            raise KioskTimeout("an answer line is too long")
        return line.rstrip("\r\n")

    def _line(self, prompt: str) -> str:
        print(prompt, end="", file=self.out, flush=True)
        answer = self._readline()
        if not self.interactive:
            # Never echo the answer itself: when a script's order shifts, the line read
            # here may be 照合番号B or a PIN. The caller prints what it understood.
            print(file=self.out)
        return answer.strip()

    def _understood(self, what: str) -> None:
        if not self.interactive:
            print(f"  -> {what}", file=self.out)

    def _secret(self, label: str) -> str:
        if self.interactive:
            return getpass.getpass(f"{label}: ", stream=self.out)
        print(f"{label}: (one line read from standard input, not shown)", file=self.out)
        return self._readline()

    def _yes_no(self, prompt: str) -> bool:
        while True:
            answer = self._line(prompt).lower()
            if answer in _YES:
                self._understood("yes")
                return True
            if answer in _NO:
                self._understood("no")
                return False
            self._understood("not yes or no")


@click.command()
@click.option("--camera", "camera", metavar="DEV|FILE",
              help="Camera index, video file, image or folder of images (enables face).")
@click.option("--method", type=click.Choice(["face", "pin", "visual"]),
              help="Preselect the patient's choice (terminal kiosk).")
@click.option("--face-attempts", default=3, show_default=True, type=click.IntRange(1, 10))
@click.option("--threshold", type=click.FloatRange(min=0.0, min_open=True),
              help="Face distance threshold (default: calibrated; a looser one needs "
                   "--unsafe-threshold).")
@click.option("--unsafe-threshold", is_flag=True,
              help="Allow a --threshold looser than the calibrated value (accepts more "
                   "impostors; shown on every screen).")
@click.option("--issuer-key", "issuer_keys", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Trusted visual-AP issuer key (PEM; repeatable; also $MYNAID_ISSUER_KEYS). "
                   "The face route needs one to show the card face authentic.")
@click.option("--web", is_flag=True,
              help="Serve the touchscreen page on 127.0.0.1 (needs mynaid[web]); the staff "
                   "page at /staff needs the staff PIN ($MYNAID_STAFF_PIN, else asked).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535),
              help="Loopback port for --web.")
@click.option("--step-timeout", default=120.0, show_default=True,
              type=click.FloatRange(min=5.0, max=3600.0),
              help="Seconds each screen waits for an answer.")
@scan_option(camera="--scan-camera")
@pass_settings
def kiosk(settings: Settings, camera: str | None, method: str | None, face_attempts: int,
          threshold: float | None, unsafe_threshold: bool, issuer_keys: tuple[Path, ...],
          web: bool, port: int, step_timeout: float) -> None:
    """Run the clinic kiosk flow: card, face or PIN, consent, outcome."""
    from mynaid.integrity import load_issuer_keys
    from mynaid.kiosk import (
        CameraFaceRoute,
        FaceRoute,
        KioskConfig,
        KioskFlow,
        SessionKioskCard,
    )

    # --- configuration, before anyone is asked anything -------------------------------------
    if web and method is not None:
        raise click.UsageError("--method preselects a terminal answer; the page asks it")
    if method == "face" and camera is None:
        raise click.UsageError("--method face needs --camera")
    keys = load_issuer_keys(issuer_keys)
    if camera is not None and not keys:
        if method == "face":
            raise click.UsageError(
                "--method face needs a trusted issuer key (--issuer-key or "
                "$MYNAID_ISSUER_KEYS): without one the card face cannot be shown authentic")
        click.echo("warning: no trusted issuer key: the face route is not offered", err=True)
        camera = None
    matcher = None
    if camera is not None:
        matcher = _matcher(threshold, unsafe_threshold)
    elif threshold is not None or unsafe_threshold:
        raise click.UsageError("--threshold applies to the face route, which needs --camera")
    config = KioskConfig(face_attempts=face_attempts, step_timeout=step_timeout,
                         collation_b_source=kiosk_collation_b_source())
    if web:
        _serve_web(settings, camera, matcher, keys, config, port)
        return

    face: FaceRoute | None = None
    frames = None
    if camera is not None:
        from mynaid.face.camera import open_frame_source

        frames = open_frame_source(int(camera) if camera.isdigit() else camera)
        face = CameraFaceRoute(matcher, frames)
    ui = TerminalKioskUI(Method(method) if method else None)
    try:
        with settings.protocol() as protocol:
            card = SessionKioskCard(protocol, issuer_keys=keys)
            flow = KioskFlow(card, ui, face, config=config)
            outcome = flow.run()
    finally:
        if frames is not None:
            frames.close()
    data = outcome.as_dict()
    lines = [f"result:   {outcome.result.value}",
             f"method:   {data['method']}",
             f"attempts: face {outcome.face_attempts}, PIN {outcome.pin_attempts}",
             f"patient:  auth certificate serial {outcome.auth_serial}",
             f"consent:  {'not asked' if outcome.consent is None else outcome.consent}"]
    emit(settings, data, "\n".join(lines))
    _raise_for(outcome.result, outcome.message)


def _matcher(threshold: float | None, unsafe: bool) -> Any:
    from mynaid.face import FaceMatcher
    from mynaid.face.dlib_backend import DlibBackend
    from mynaid.face.matcher import UnsafeThresholdError

    try:
        # The kiosk detects on a 320-pixel copy of each frame (patients stand close).
        matcher = FaceMatcher(DlibBackend(detect_max_side=320), threshold=threshold,
                              allow_unsafe_threshold=unsafe)
    except UnsafeThresholdError as exc:
        raise click.UsageError(exc.message) from None
    if matcher.unsafe_threshold:
        click.echo(f"warning: UNSAFE face threshold {matcher.threshold:g} (calibrated "
                   f"{matcher.backend.default_threshold:g}): other people may be accepted",
                   err=True)
    return matcher


def _staff_pin() -> str:
    """The staff page's PIN: $MYNAID_STAFF_PIN, else asked (never on argv, never echoed)."""
    pin = os.environ.get(STAFF_PIN_ENV)
    if pin is None:
        if sys.stdin.isatty():
            pin = getpass.getpass("staff PIN for the staff page (4+ characters): ",
                                  stream=sys.stderr)
        else:
            pin = sys.stdin.readline(MAX_LINE + 1).rstrip("\r\n")
    if len(pin) < 4 or len(pin) > 64:
        raise click.UsageError("the staff PIN must have 4 to 64 characters")
    return pin


def _serve_web(settings: Settings, camera: str | None, matcher: Any, keys: list[Any],
               config: Any, port: int) -> None:
    from mynaid.errors import DependencyMissingError

    try:
        from mynaid.kioskweb.app import create_app, serve
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise DependencyMissingError(
            "the web kiosk needs the web extra: pip install 'mynaid[web]'") from exc
    from mynaid.kioskweb.service import EmulatorSlot, KioskService, KioskSettings, PcscSlot

    open_frames = None
    if camera is not None:
        from mynaid.face.camera import open_frame_source

        spec = camera
        open_frame_source(int(spec) if spec.isdigit() else spec).close()  # fail now, not later

        def open_frames() -> Any:
            return open_frame_source(int(spec) if spec.isdigit() else spec)

    staff_pin = _staff_pin()
    slot: Any
    if settings.emulator:
        from mynaid.connect import emulated_card

        profile = settings.profile
        slot = EmulatorSlot(lambda: emulated_card(profile))
    else:
        slot = PcscSlot(settings.reader)
    service = KioskService(slot, KioskSettings(config=config, open_frames=open_frames,
                                               matcher=matcher, issuer_keys=tuple(keys)))
    for problem in service.settings.problems():
        click.echo(f"warning: {problem}", err=True)
    app = create_app(service, staff_pin=staff_pin)
    click.echo(f"kiosk page: http://127.0.0.1:{port}/  staff page: "
               f"http://127.0.0.1:{port}/staff", err=True)
    serve(app, service, port)


def _raise_for(result: Result, message: str) -> None:
    """Turn an unverified outcome into the error whose exit code says why."""
    from mynaid import errors
    from mynaid.kiosk import KioskNotVerifiedError, Result

    if result is Result.VERIFIED:
        return
    if result is Result.REFUSED_BY_GUARD:
        raise errors.LockoutGuardError(message, 1)
    if result is Result.PIN_BLOCKED:
        raise errors.PinBlockedError(message, 0x6984)
    if result is Result.CARD_REMOVED:
        raise errors.CardRemovedError(message)
    if result in (Result.FAILED, Result.CERT_EXPIRED):
        raise KioskNotVerifiedError(message)
    raise errors.MynaidError(message)  # cancelled, timed out


def register(cli: click.Group) -> None:
    cli.add_command(kiosk)
