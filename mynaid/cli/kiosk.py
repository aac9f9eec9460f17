"""``mynaid kiosk``: the clinic kiosk flow on a terminal (steps on stderr, outcome on stdout)."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

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
                return None
            for number, method in enumerate(offered, 1):
                if answer in (method.value, str(number)):
                    return method

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
            print(answer, file=self.out)  # scripted, not secret: echo to keep the log readable
        return answer.strip()

    def _secret(self, label: str) -> str:
        if self.interactive:
            return getpass.getpass(f"{label}: ", stream=self.out)
        print(f"{label}: (one line read from standard input, not shown)", file=self.out)
        return self._readline()

    def _yes_no(self, prompt: str) -> bool:
        while True:
            answer = self._line(prompt).lower()
            if answer in _YES:
                return True
            if answer in _NO:
                return False


@click.command()
@click.option("--camera", "camera", metavar="DEV|FILE",
              help="Camera index, video file, image or folder of images (enables face).")
@click.option("--method", type=click.Choice(["face", "pin", "visual"]),
              help="Preselect the patient's choice.")
@click.option("--face-attempts", default=3, show_default=True, type=click.IntRange(1, 10))
@click.option("--threshold", type=float, help="Face distance threshold (default: calibrated).")
@click.option("--issuer-key", "issuer_keys", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Trusted visual-AP issuer key (PEM; repeatable; also $MYNAID_ISSUER_KEYS). "
                   "The face route needs one to show the card face authentic.")
@scan_option(camera="--scan-camera")
@pass_settings
def kiosk(settings: Settings, camera: str | None, method: str | None, face_attempts: int,
          threshold: float | None, issuer_keys: tuple[Path, ...]) -> None:
    """Run the clinic kiosk flow once: card, face or PIN, consent, outcome."""
    from mynaid.integrity import load_issuer_keys
    from mynaid.kiosk import (
        CameraFaceRoute,
        FaceRoute,
        KioskConfig,
        KioskFlow,
        SessionKioskCard,
    )

    face: FaceRoute | None = None
    frames = None
    if camera is not None:
        from mynaid.face import FaceMatcher
        from mynaid.face.camera import open_frame_source

        frames = open_frame_source(int(camera) if camera.isdigit() else camera)
        face = CameraFaceRoute(FaceMatcher(threshold=threshold), frames)
    ui = kiosk_collation_b_source(TerminalKioskUI(Method(method) if method else None))
    try:
        with settings.protocol() as protocol:
            card = SessionKioskCard(protocol, issuer_keys=load_issuer_keys(issuer_keys))
            flow = KioskFlow(card, ui, face,
                             config=KioskConfig(face_attempts=face_attempts))
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
    if result is Result.FAILED:
        raise KioskNotVerifiedError(message)
    raise errors.MynaidError(message)  # cancelled, timed out


def register(cli: click.Group) -> None:
    cli.add_command(kiosk)
