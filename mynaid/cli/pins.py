"""``mynaid pin``: retry counters, guarded verification and PIN change."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from mynaid.cli.main import Settings, emit, pass_settings

if TYPE_CHECKING:
    from mynaid.models import PinState

SECRET_NAMES = ["auth-pin", "sign-password", "text-pin", "text-pin-a", "text-pin-b",
                "visual-pin-a", "visual-pin-b", "visual-birth", "auth", "sign", "text"]
CHANGEABLE_NAMES = ["auth-pin", "sign-password", "text-pin", "auth", "sign", "text"]


@click.group()
def pin() -> None:
    """PINs and passwords: counters, verification, change.

    Every attempt is guarded: the counter is read first (which uses no try) and an
    attempt that could block the key is refused (exit 7) unless --force is given.
    """


@pin.command("status")
@pass_settings
def pin_status(settings: Settings) -> None:
    """Tries left of every secret, by the non-consuming query."""
    from mynaid.cli.jsonout import secret_state
    from mynaid.pins import pin_status as read_status
    from mynaid.pins import state_text

    with settings.protocol() as protocol:
        states = read_status(protocol)

    def line(s: PinState) -> str:
        return f"{s.name:<14} {state_text(s):<28} {s.label}"

    emit(settings, {"secrets": [secret_state(s) for s in states]},
         "\n".join(line(s) for s in states))


@pin.command("verify")
@click.argument("key", type=click.Choice(SECRET_NAMES))
@click.option("--force", is_flag=True, help="Attempt even when a failure could block the key.")
@click.option("--reserve", type=click.IntRange(1, 15), default=None,
              help="Tries the guard keeps in reserve (default 1; --force to go past it).")
@click.option("--pin-b-parts", is_flag=True,
              help="For 照合番号B: ask for the birth date (era or Gregorian), the expiry year "
                   "and the security code instead of the 14 digits.")
@pass_settings
def pin_verify(settings: Settings, key: str, force: bool, reserve: int | None,
               pin_b_parts: bool) -> None:
    """Check a PIN or code against the card (exit 3 wrong, 4 blocked, 7 guarded).

    The counter is read first: when the guard would refuse, nothing is asked for.
    """
    from mynaid.cardspec import SecretFormat
    from mynaid.cli.secrets import guarded_prompt, read_pin_b
    from mynaid.pins import secret_by_name, verify_pin

    ref = secret_by_name(key)
    read = (lambda: read_pin_b(pin_b_parts)) if ref.format is SecretFormat.DIGITS14 else None
    if pin_b_parts and read is None:
        raise click.UsageError("--pin-b-parts is for 照合番号B (text-pin-b, visual-pin-b)")
    with settings.protocol() as protocol:
        secret = guarded_prompt(protocol, ref, force=force, reserve=reserve, read=read)
        verify_pin(protocol, ref, secret, force=force, reserve=reserve)
    emit(settings, {"name": ref.name, "verified": True}, f"{ref.name}: correct")


@pin.command("change")
@click.argument("key", type=click.Choice(CHANGEABLE_NAMES))
@click.option("--force", is_flag=True, help="Attempt even when a failure could block the key.")
@pass_settings
def pin_change(settings: Settings, key: str, force: bool) -> None:
    """Change the auth PIN, the signature password or the text PIN.

    Asks for the current value, the new value and the new value again (three lines on
    standard input when it is not a terminal).
    """
    from mynaid.cli.secrets import guarded_prompt, read_secret
    from mynaid.errors import InvalidSecretError
    from mynaid.pins import change_pin, secret_by_name

    ref = secret_by_name(key)
    with settings.protocol() as protocol:
        current = guarded_prompt(protocol, ref, force=force, label=f"Current {ref.label}")
        new = read_secret(f"New {ref.label} ({ref.format.value})")
        again = read_secret(f"New {ref.label} again")
        # Compare as the card will see them (the signature password is upper-cased).
        if ref.format.normalize(new) != ref.format.normalize(again):
            raise InvalidSecretError("the two new values differ; nothing was changed")
        change_pin(protocol, ref, current, new, force=force)
    emit(settings, {"name": ref.name, "changed": True}, f"{ref.name}: changed")


def register(cli: click.Group) -> None:
    cli.add_command(pin)
