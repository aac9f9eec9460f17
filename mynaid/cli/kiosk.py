"""``mynaid kiosk``: the clinic kiosk flow on a terminal (steps on stderr, outcome on stdout)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from mynaid.cli.main import Settings, emit, pass_settings

if TYPE_CHECKING:
    from mynaid.kiosk import Method, Result, Step


class TerminalKioskUI:
    """:class:`mynaid.kiosk.KioskUI` on a terminal, or scripted through stdin lines.

    Secrets (照合番号B, PIN) are read like every secret of the CLI: a hidden prompt on a
    terminal, else one line of stdin. Choices and consent are read the same way, visibly.
    """

    def __init__(self, preselected: Method | None = None) -> None:
        self.preselected = preselected

    def show(self, step: Step, message: str) -> None:
        click.echo(f"[{step.value}] {message}", err=True)

    def _line(self, prompt: str) -> str:
        if sys.stdin.isatty():
            return str(click.prompt(prompt, err=True))
        click.echo(f"{prompt}: ", err=True, nl=False)
        line = sys.stdin.readline(256)
        click.echo("", err=True)
        return line.strip()

    def choose_method(self, offered: tuple[Method, ...]) -> Method | None:
        from mynaid.kiosk import Method

        if self.preselected in offered:
            choice, self.preselected = self.preselected, None
            self.show_choice(choice)
            return choice
        names = "/".join(m.value for m in offered)
        answer = self._line(f"Choose {names} (empty to cancel)").lower()
        if not answer:
            return None
        try:
            method = Method(answer)
        except ValueError:
            raise click.BadParameter(f"choose one of {names}") from None
        return method if method in offered else None

    def show_choice(self, method: Method | None) -> None:
        if method is not None:
            click.echo(f"[method] {method.value}", err=True)

    def collation_b(self) -> str:
        from mynaid.cli.secrets import read_secret

        return read_secret("照合番号B (birth date YYMMDD in the era, expiry year, security code)")

    def pin(self, tries_left: int) -> str:
        from mynaid.cli.secrets import read_secret

        return read_secret(f"Auth PIN (4 digits, {tries_left} tries left)")

    def consent(self) -> bool:
        answer = self._line("Share your past health-check information? [y/n]").lower()
        return answer in ("y", "yes")

    def staff_confirms(self) -> bool:
        answer = self._line("Staff: does the patient match the card face? [y/n]").lower()
        return answer in ("y", "yes")


@click.command()
@click.option("--camera", "camera", metavar="DEV|FILE",
              help="Camera index, video file, image or folder of images (enables face).")
@click.option("--method", type=click.Choice(["face", "pin", "visual"]),
              help="Preselect the patient's choice.")
@click.option("--face-attempts", default=3, show_default=True, type=click.IntRange(1, 10))
@click.option("--threshold", type=float, help="Face distance threshold (default: calibrated).")
@pass_settings
def kiosk(settings: Settings, camera: str | None, method: str | None, face_attempts: int,
          threshold: float | None) -> None:
    """Run the clinic kiosk flow once: card, face or PIN, consent, outcome."""
    from mynaid.kiosk import (
        CameraFaceRoute,
        FaceRoute,
        KioskConfig,
        KioskFlow,
        Method,
        SessionKioskCard,
    )

    face: FaceRoute | None = None
    frames = None
    if camera is not None:
        from mynaid.face import FaceMatcher
        from mynaid.face.camera import open_frame_source

        frames = open_frame_source(int(camera) if camera.isdigit() else camera)
        face = CameraFaceRoute(FaceMatcher(threshold=threshold), frames)
    ui = TerminalKioskUI(Method(method) if method else None)
    try:
        with settings.protocol() as protocol:
            flow = KioskFlow(SessionKioskCard(protocol), ui, face,
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
