"""Every secret of the card (card-reference §4) across its applications: status, verify, change.

Works on any application through a small generic session, so that ``mynaid pin`` reaches the
text and visual keys without their full sessions.
"""

from __future__ import annotations

from collections.abc import Iterable

from mynaid.cardspec import ALL_SECRETS, SECRETS_BY_NAME, Aid, SecretRef
from mynaid.errors import FileNotFoundOnCardError
from mynaid.models import PinState
from mynaid.protocol import CardProtocol
from mynaid.sessions.base import CHANGEABLE, ApplicationSession

#: Short names accepted on the command line, besides the full names of cardspec.
ALIASES = {
    "auth": "auth-pin",
    "sign": "sign-password",
    "text": "text-pin",
}


def secret_by_name(name: str) -> SecretRef:
    """The secret called ``name`` (full name or alias); ValueError lists the valid names."""
    ref = SECRETS_BY_NAME.get(ALIASES.get(name, name))
    if ref is None:
        valid = ", ".join([*SECRETS_BY_NAME, *ALIASES])
        raise ValueError(f"unknown secret {name!r}; one of: {valid}")
    return ref


class SecretSession(ApplicationSession):
    """A session with any application, for its secrets only."""

    def __init__(self, protocol: CardProtocol, aid: Aid,
                 reserve: dict[str, int] | None = None) -> None:
        super().__init__(protocol, reserve)
        self.aid = aid
        self.name = aid.name


def pin_status(protocol: CardProtocol,
               refs: Iterable[SecretRef] = ALL_SECRETS) -> list[PinState]:
    """The counter of every secret by the non-consuming query (never uses a try).

    A secret whose application or key file the card does not have is reported with
    ``present=False``.
    """
    result: list[PinState] = []
    by_app: dict[Aid, list[SecretRef]] = {}
    for ref in refs:
        by_app.setdefault(ref.aid, []).append(ref)
    for aid, app_refs in by_app.items():
        session = SecretSession(protocol, aid)
        try:
            with session.transaction():
                for ref in app_refs:
                    try:
                        result.append(session.pin_state(ref))
                    except FileNotFoundOnCardError:
                        result.append(PinState(ref.name, ref.label, None, ref.max_tries,
                                               present=False))
        except FileNotFoundOnCardError:
            result.extend(PinState(ref.name, ref.label, None, ref.max_tries, present=False)
                          for ref in app_refs)
    return result


def verify_pin(protocol: CardProtocol, ref: SecretRef, secret: str, *, force: bool = False,
               reserve: int | None = None) -> None:
    """Check ``secret`` against the card (guarded); the verified state is cleared after."""
    reserves = {ref.name: reserve} if reserve is not None else None
    SecretSession(protocol, ref.aid, reserves).verify(ref, secret, force=force)


def change_pin(protocol: CardProtocol, ref: SecretRef, current: str, new: str, *,
               force: bool = False, reserve: int | None = None) -> None:
    """Change a changeable secret (auth PIN, signature password, text PIN)."""
    if ref.name not in CHANGEABLE:
        raise ValueError(f"{ref.name} cannot be changed by the holder")
    reserves = {ref.name: reserve} if reserve is not None else None
    SecretSession(protocol, ref.aid, reserves).change_secret(ref, current, new, force=force)
