"""Model-based test of PIN safety: random sequences against the emulated card.

Rules: status / verify right / verify wrong (forced or not) / change / reset / select
another application. Invariants checked after every step:

* the library never sends a VERIFY with data while the key has ``tries <= reserve``
  unless that call was forced (a spy on the transport sees every APDU);
* the tries the library reports always equal the card's own counter;
* a key is blocked only after a forced attempt.
"""

from __future__ import annotations

import hypothesis.strategies as stg
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mynaid.cardspec import AUTH_PIN, SIGN_PASSWORD, Aid, SecretRef
from mynaid.emulator import build_card, default_profile
from mynaid.errors import (
    InvalidSecretError,
    LockoutGuardError,
    PinBlockedError,
    WrongPinError,
)
from mynaid.pins import change_pin, pin_status, verify_pin
from mynaid.protocol import CardProtocol
from mynaid.transport.emulated import EmulatorTransport

PROFILE = default_profile()
KEYS = {AUTH_PIN.name: AUTH_PIN, SIGN_PASSWORD.name: SIGN_PASSWORD}


class SpyTransport(EmulatorTransport):
    """Records, for every VERIFY with data, the card's counter just before it arrived."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.verifies: list[tuple[int, int]] = []  # (fid, tries before)

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if len(apdu) > 5 and apdu[1] == 0x20:
            ef = self.card._state.ef  # the key the VERIFY addresses (P2 80)
            assert ef is not None
            key = self.card.key_file(Aid.JPKI.value, ef.fid)
            self.verifies.append((key.fid, key.tries_left))
        return super().transmit(apdu)


def wrong_value(ref: SecretRef, current: str) -> str:
    value = "0000" if ref is AUTH_PIN else "WRONG000"
    return value if value != current else ("9999" if ref is AUTH_PIN else "WRONG999")


class PinMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.card = build_card(PROFILE)
        self.transport = SpyTransport(self.card)
        self.protocol = CardProtocol(self.transport)
        self.secrets = {AUTH_PIN.name: PROFILE.jpki.auth_pin,
                        SIGN_PASSWORD.name: PROFILE.jpki.sign_password}
        self.tries = {AUTH_PIN.name: 3, SIGN_PASSWORD.name: 5}
        self.reserve = {AUTH_PIN.name: 1, SIGN_PASSWORD.name: 1}
        self.forced_block = {AUTH_PIN.name: False, SIGN_PASSWORD.name: False}
        self.checked = 0

    def card_tries(self, ref: SecretRef) -> int:
        return self.card.key_file(Aid.JPKI.value, ref.fid).tries_left

    def attempt(self, ref: SecretRef, value: str, force: bool) -> None:
        before = len(self.transport.verifies)
        name = ref.name
        reserve = self.reserve[name]
        try:
            verify_pin(self.protocol, ref, value, force=force, reserve=reserve)
        except LockoutGuardError as exc:
            assert not force
            assert self.tries[name] <= reserve and self.tries[name] > 0
            assert exc.tries_left == self.tries[name]
        except PinBlockedError:
            if self.tries[name] > 0:
                # This attempt blocked it: only a forced one may.
                assert force
                self.forced_block[name] = True
            self.tries[name] = 0
        except WrongPinError as exc:
            self.tries[name] -= 1
            assert exc.tries_left == self.tries[name]
        else:
            assert value.upper() == self.secrets[name]
            self.tries[name] = KEYS[name].max_tries
        # The spy: every VERIFY that went out had more tries than the reserve, or was forced.
        for _fid, tries_before in self.transport.verifies[before:]:
            assert force or tries_before > reserve

    @rule(key=stg.sampled_from(sorted(KEYS)), force=stg.booleans())
    def verify_right(self, key: str, force: bool) -> None:
        self.attempt(KEYS[key], self.secrets[key], force)

    @rule(key=stg.sampled_from(sorted(KEYS)), force=stg.booleans())
    def verify_wrong(self, key: str, force: bool) -> None:
        ref = KEYS[key]
        self.attempt(ref, wrong_value(ref, self.secrets[key]), force)

    @rule(key=stg.sampled_from(sorted(KEYS)), reserve=stg.integers(1, 3))
    def set_reserve(self, key: str, reserve: int) -> None:
        self.reserve[key] = reserve

    @precondition(lambda self: all(t > 1 for t in self.tries.values()))
    @rule(key=stg.sampled_from(sorted(KEYS)), digits=stg.integers(0, 9999))
    def change(self, key: str, digits: int) -> None:
        ref = KEYS[key]
        new = f"{digits:04d}" if ref is AUTH_PIN else f"NEW{digits:04d}"
        try:
            change_pin(self.protocol, ref, self.secrets[key], new,
                       reserve=self.reserve[key])
        except InvalidSecretError:
            assert new == self.secrets[key]
        except LockoutGuardError:
            assert self.tries[key] <= self.reserve[key]
        else:
            self.secrets[key] = new
            self.tries[key] = ref.max_tries

    @rule()
    def reset(self) -> None:
        self.card.reset()

    @rule()
    def select_other_application(self) -> None:
        # Another application (absent on this card: 6A 82) or the JPKI one: both clear state.
        self.protocol.select_application(Aid.TEXT.value)
        self.protocol.select_application(Aid.JPKI.value)

    @rule()
    def status(self) -> None:
        states = {s.name: s for s in pin_status(self.protocol, KEYS.values())}
        for name, state in states.items():
            assert state.tries_left == self.tries[name]
            assert state.blocked == (self.tries[name] == 0)
        self.checked += 1

    @invariant()
    def counters_match_the_card(self) -> None:
        for name, ref in KEYS.items():
            assert self.card_tries(ref) == self.tries[name]
            if self.tries[name] == 0:
                assert self.forced_block[name], f"{name} blocked without force"


PinMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30,
                                        deadline=None)
TestPinModel = PinMachine.TestCase
