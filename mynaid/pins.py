"""Every secret of the card (card-reference §4) across its applications: status, verify, change.

Works on any application through a small generic session, so that ``mynaid pin`` reaches the
text and visual keys without their full sessions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from mynaid.cardspec import ALL_SECRETS, SECRETS_BY_NAME, Aid, SecretRef
from mynaid.errors import FileNotFoundOnCardError, MynaidError
from mynaid.models import CertificateAvailability, PinState
from mynaid.protocol import CardProtocol
from mynaid.sessions.base import (
    CHANGEABLE,
    LOCKED_BY_DESIGN_ADVICE,
    PINLESS_LOCKED,
    ApplicationSession,
)

__all__ = [
    "ALIASES", "LOCKED_BY_DESIGN_ADVICE", "PINLESS_LOCKED", "SecretSession",
    "card_is_pinless", "change_pin", "looks_pinless", "pin_status", "reset_advice",
    "secret_by_name", "state_text", "verify_pin",
]

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


#: Where a blocked secret can be reset (card-reference §9).
_RESET_JPKI = ("reset at a municipal office, or at some convenience-store kiosks by a holder "
               "who knows the other JPKI secret")
_RESET_OFFICE = "reset at a municipal office"
#: The same for the holder's screen in Japanese (the kiosk): the auth PIN can be reset at a
#: convenience-store kiosk with the signature password, and the other way round.
_RESET_JA = {
    "auth-pin": ("市区町村の窓口で再設定できます。署名用電子証明書のパスワードがわかる場合は、"
                 "一部のコンビニエンスストアのキオスク端末でも再設定できます"),
    "sign-password": ("市区町村の窓口で再設定できます。利用者証明用電子証明書の暗証番号がわかる"
                      "場合は、一部のコンビニエンスストアのキオスク端末でも再設定できます"),
}
_RESET_OFFICE_JA = "市区町村の窓口で再設定できます"


def reset_advice(name: str, lang: str = "en") -> str:
    """Where the holder can reset the blocked secret ``name`` (no secret in it).

    ``lang``: ``"en"`` (a phrase, for messages and the CLI) or ``"ja"`` (a sentence, for the
    holder's screen).
    """
    if lang == "ja":
        return _RESET_JA.get(name, _RESET_OFFICE_JA)
    return _RESET_JPKI if name in ("auth-pin", "sign-password") else _RESET_OFFICE


def state_text(state: PinState) -> str:
    """One line of plain English for a secret's state (CLI, diag)."""
    if not state.present:
        return "not on this card"
    if state.verified:
        return "verified in this session"
    if state.locked_by_design:
        return "locked by design (PIN-less card): use face or visual confirmation"
    if state.blocked:
        return f"BLOCKED ({reset_advice(state.name)})"
    if state.no_retry_limit:
        return "no retry limit"
    return f"{state.tries_left} {'try' if state.tries_left == 1 else 'tries'} left"


def looks_pinless(availability: CertificateAvailability | None,
                  states: Mapping[str, PinState]) -> bool:
    """Whether a card is the PIN-less face-authentication card (顔認証マイナンバーカード).

    On the wire its PINs answer like blocked keys; what tells it apart is the whole picture:
    no signature certificate (EF 0008 byte 0 is not ``8F``), the auth PIN blocked, and the
    text PIN blocked or absent. A card with a signature certificate, or with a usable auth or
    text PIN, is never taken for one. (A holder under 15 who blocked both PINs looks the
    same; the advice given, face or visual confirmation, is safe for that card too.)
    """
    if availability is None or availability.signature:
        return False
    auth = states.get("auth-pin")
    if auth is None or not auth.present or not auth.blocked:
        return False
    text = states.get("text-pin")
    return text is None or not text.present or text.blocked


def card_is_pinless(protocol: CardProtocol) -> bool:
    """Ask the card whether it is the PIN-less card (:func:`looks_pinless`); uses no try.

    Selects the JPKI and text applications (call between operations, or select again).
    """
    from mynaid.cardspec import AUTH_PIN, TEXT_PIN
    from mynaid.sessions.jpki import JpkiSession

    jpki = JpkiSession(protocol)
    availability = jpki.certificate_availability()
    if availability.signature:
        return False  # one read settles most cards
    states = {"auth-pin": jpki.pin_state(AUTH_PIN)}
    try:
        states["text-pin"] = SecretSession(protocol, Aid.TEXT).pin_state(TEXT_PIN)
    except FileNotFoundOnCardError:
        pass
    return looks_pinless(availability, states)


def pin_status(protocol: CardProtocol,
               refs: Iterable[SecretRef] = ALL_SECRETS) -> list[PinState]:
    """The counter of every secret by the non-consuming query (never uses a try).

    A secret whose application or key file the card does not have is reported with
    ``present=False``. When a PIN answers blocked, the card is asked whether it is the
    PIN-less card (:func:`card_is_pinless`); if so its PINs are reported with
    ``locked_by_design=True`` ("PINs locked by design: use face or visual confirmation"),
    not as blocked by wrong entries.
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
    if any(s.name in PINLESS_LOCKED and s.present and s.blocked for s in result):
        try:
            pinless = card_is_pinless(protocol)
        except MynaidError:
            pinless = False
        if pinless:
            result = [dataclasses.replace(s, locked_by_design=True)
                      if s.name in PINLESS_LOCKED and s.present and s.blocked else s
                      for s in result]
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
