"""``mynaid pin``: retry counters, guarded verification and PIN change."""

from __future__ import annotations

import click

from mynaid.cli.main import Settings, emit, pass_settings


@click.group()
def pin() -> None:
    """PIN retry counters (read without using a try)."""


@pin.command("status")
@pass_settings
def pin_status(settings: Settings) -> None:
    """Tries left of the JPKI secrets, by the non-consuming query."""
    from mynaid.sessions.jpki import JpkiSession

    with settings.protocol() as protocol:
        states = JpkiSession(protocol).pin_states()
    data = [{"name": s.name, "tries_left": s.tries_left, "max_tries": s.max_tries,
             "blocked": s.blocked} for s in states]
    emit(settings, data, "\n".join(
        f"{s.name}: {'verified' if s.tries_left is None else s.tries_left}"
        f"/{s.max_tries}{' BLOCKED' if s.blocked else ''}" for s in states))


def register(cli: click.Group) -> None:
    cli.add_command(pin)
