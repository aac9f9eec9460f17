"""What every application session shares: selection, secrets, retry counters, the guard."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mynaid.cardspec import Aid, SecretRef
from mynaid.errors import (
    CardRemovedError,
    FileNotFoundOnCardError,
    InvalidSecretError,
    LockoutGuardError,
    MynaidError,
    NoCardError,
    NoServiceError,
    PinBlockedError,
    PinLockedByDesignError,
)
from mynaid.iso7816 import status as st
from mynaid.iso7816.apdu import CommandApdu
from mynaid.models import PinState
from mynaid.protocol import CardProtocol

#: Default number of tries the guard keeps in reserve: refuse when one try is left.
DEFAULT_RESERVE = 1
#: Secrets the holder can change with CHANGE REFERENCE DATA.
CHANGEABLE = frozenset({"auth-pin", "sign-password", "text-pin"})
#: The PINs the PIN-less face-authentication card locks by design (card-reference §9).
PINLESS_LOCKED = frozenset({"auth-pin", "sign-password", "text-pin"})
#: The free EF (short id) on which extended length is settled before a VERIFY, per
#: application whose VERIFY opens large records: the CV certificate 0004 (free, ~570 bytes).
PROBE_BEFORE_VERIFY = {Aid.TEXT: 0x04, Aid.VISUAL: 0x04}
#: What the holder is told about them, instead of "blocked, go to the municipal office".
LOCKED_BY_DESIGN_ADVICE = ("PINs locked by design (PIN-less face-authentication card, "
                           "顔認証マイナンバーカード): use face or visual confirmation")


class ApplicationSession:
    """Base of the per-application sessions.

    Between two transactions another process may select another application (which also
    clears verified secrets), so every operation runs in one PC/SC transaction that starts
    by selecting this session's application. Operations nested in an outer
    :meth:`transaction` share it and do not select again.
    """

    aid: Aid
    name: str = "application"

    def __init__(self, protocol: CardProtocol, reserve: dict[str, int] | None = None) -> None:
        self.protocol = protocol
        #: Tries kept in reserve by the lockout guard, per secret name. At least 1: the
        #: only way past the guard on the last try is an explicit ``force``.
        self.reserve: dict[str, int] = dict(reserve or {})
        for name, value in self.reserve.items():
            if value < 1:
                raise ValueError(f"reserve for {name} must be at least 1 (use force instead)")
        self._depth = 0
        self._verified = False

    # --- plumbing -------------------------------------------------------------------------

    def _check(self, sw: int, context: str) -> None:
        if sw != st.SW_OK:
            raise st.error_for_sw(sw, context)

    def select(self) -> None:
        """SELECT this application (clears any verified secret)."""
        response = self.protocol.select_application(self.aid.value)
        if response.sw == st.SW_FILE_NOT_FOUND:
            raise FileNotFoundOnCardError(
                f"the card has no {self.name} application (is it a My Number Card?)",
                response.sw,
            )
        self._check(response.sw, f"selecting the {self.name} application")

    def select_file(self, fid: int) -> None:
        self._check(self.protocol.select_file(fid).sw, f"selecting EF {fid:04X}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One PC/SC transaction that starts by selecting this application.

        No other process's APDUs reach the card until it ends, so a secret verified inside
        it stays verified for the operations that follow inside it.
        """
        with self.protocol.transport.transaction():
            if self._depth == 0:
                self._verified = False
                self.select()
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._verified:
                    self._clear_security_state()

    def _clear_security_state(self) -> None:
        """Drop verified secrets before the transaction ends, so that no other client finds
        a key left open.

        The card reference says selecting an application clears the security state of the
        *previous* one; whether re-selecting the same one does is unconfirmed, so another
        application is selected, and this one again only if the card has no other.
        A card that went away has no state left to clear.
        """
        self._verified = False
        other = Aid.TEXT if self.aid is not Aid.TEXT else Aid.JPKI
        try:
            if self.protocol.select_application(other.value).sw != st.SW_OK:
                self.protocol.select_application(self.aid.value)
        except (CardRemovedError, NoCardError, NoServiceError):
            pass

    def read_tlv_file(self, fid: int, what: str, max_size: int) -> bytes:
        """Read the TLV at the start of EF ``fid`` (call inside :meth:`transaction`)."""
        self.select_file(fid)
        data, sw = self.protocol.read_tlv_file(max_size)
        self._check(sw, f"reading {what} (EF {fid:04X})")
        return data

    def probe_extended(self, fid: int) -> None:
        """Settle extended-length support on the free EF ``fid`` while it may still be
        probed (no VERIFY yet on this connection); a no-op otherwise.

        For operations that VERIFY first and then read a large EF: after a VERIFY the
        protocol never probes (card-reference §9), so without this the read would use
        short chunks. One READ BINARY by short EF id (no SELECT), once per connection; the
        current EF may change, so the caller selects what it needs next itself. Call inside
        :meth:`transaction`.
        """
        if self.protocol.may_probe_extended:
            self.protocol.probe_extended(sfi=fid)

    def read_small_file(self, fid: int, size: int, what: str) -> bytes:
        """Read a small EF whole (call inside :meth:`transaction`)."""
        self.select_file(fid)
        response = self.protocol.read_whole_file(size)
        self._check(response.sw, f"reading {what} (EF {fid:04X})")
        return response.data

    # --- secrets --------------------------------------------------------------------------

    def _own(self, ref: SecretRef) -> None:
        if ref.aid is not self.aid:
            raise ValueError(f"{ref.name} belongs to another application")

    def pin_state(self, ref: SecretRef) -> PinState:
        """The retry counter of ``ref`` by the empty VERIFY, which uses no try."""
        self._own(ref)
        with self.transaction():
            return self._query(ref)

    def _query(self, ref: SecretRef) -> PinState:
        self.select_file(ref.fid)
        response = self.protocol.send(CommandApdu(0x00, 0x20, 0x00, 0x80))
        if response.sw == st.SW_OK:
            return PinState(ref.name, ref.label, None, ref.max_tries, verified=True)
        if response.sw == st.SW_NO_RETRY_LIMIT:
            # 63 00: a key without a retry limit (card-reference §9), neither 0 tries nor
            # blocked.
            return PinState(ref.name, ref.label, None, ref.max_tries, no_retry_limit=True)
        if response.sw == st.SW_AUTH_METHOD_BLOCKED:
            return PinState(ref.name, ref.label, 0, ref.max_tries)
        tries = st.retries_from_sw(response.sw)
        if tries is None:
            raise st.error_for_sw(response.sw, f"querying the tries left of {ref.name}")
        return PinState(ref.name, ref.label, tries, max(ref.max_tries, tries))

    def verify(self, ref: SecretRef, secret: str, *, force: bool = False) -> None:
        """VERIFY ``secret`` for ``ref`` after checking its format and the retry counter.

        The format is checked first (:class:`InvalidSecretError`, nothing sent). The lockout
        guard then reads the counter and refuses (:class:`LockoutGuardError`, nothing sent)
        when the tries left are at or below the reserve for this secret, unless ``force``.
        A wrong secret raises :class:`WrongPinError` with the tries left; a blocked key
        :class:`PinBlockedError`.

        Use it inside :meth:`transaction` together with the operation the secret unlocks:
        when the outermost transaction ends, the application is selected again, which
        clears the verified state so that it does not outlive the operation.
        """
        self._own(ref)
        value = bytearray(ref.validate(secret))
        try:
            with self.transaction():
                self._guarded_verify(ref, value, force)
        finally:
            value[:] = bytes(len(value))

    def _guarded_verify(self, ref: SecretRef, value: bytearray, force: bool) -> None:
        probe_sfi = PROBE_BEFORE_VERIFY.get(self.aid)
        if probe_sfi is not None:
            # In the text and visual APs a VERIFY opens records read right after (the card
            # face is several KB): settle extended length first, while it may be probed.
            self.probe_extended(probe_sfi)
        state = self._query(ref)
        if state.verified:
            # Some cards answer 90 00 to the query of a key verified in this session. The
            # application was selected at the start of this transaction, so the key was
            # verified inside it, which reset its counter to the maximum: the guard can
            # count on that, and the value is still checked by the card, as the caller
            # expects of verify().
            state = PinState(ref.name, ref.label, ref.max_tries, ref.max_tries)
        if state.blocked:
            raise self._blocked_error(ref)
        reserve = self.reserve.get(ref.name, DEFAULT_RESERVE)
        if state.no_retry_limit:
            pass  # a wrong value cannot block this key: nothing to guard
        elif state.tries_left is None:
            raise PinBlockedError(f"{ref.name}: the card gave no retry counter; nothing was "
                                  "sent", st.SW_AUTH_METHOD_BLOCKED)
        elif state.tries_left <= reserve and not force:
            raise LockoutGuardError(
                f"{ref.name} has {state.tries_left} "
                f"{'try' if state.tries_left == 1 else 'tries'} left and the guard keeps "
                f"{reserve} in reserve: a wrong value could block it, so it was not sent "
                "(use force to try anyway)",
                state.tries_left,
            )
        self._verified = True  # from here the card may hold a verified state to clear
        response = self.protocol.send_secret(bytes((0x00, 0x20, 0x00, 0x80)), value)
        self._check(response.sw, f"verifying {ref.name}")

    def _blocked_error(self, ref: SecretRef) -> PinBlockedError:
        """The error for a key the query found blocked: locked by design on the PIN-less
        card, else blocked by wrong entries. Nothing is sent to the key either way."""
        pinless = False
        if ref.name in PINLESS_LOCKED:
            pinless = self._looks_pinless()
        if pinless:
            return PinLockedByDesignError(f"{ref.name}: {LOCKED_BY_DESIGN_ADVICE}; nothing "
                                          "was sent", st.SW_AUTH_METHOD_BLOCKED)
        from mynaid.pins import reset_advice  # the one wording (pins imports this module)

        return PinBlockedError(f"{ref.name} is blocked ({reset_advice(ref.name)}); nothing "
                               "was sent", st.SW_AUTH_METHOD_BLOCKED)

    def _looks_pinless(self) -> bool:
        """Whether the card is the PIN-less card (:func:`mynaid.pins.card_is_pinless`).

        In the JPKI application EF 0008 is read first, in place: a signature certificate
        settles it (2 APDUs, no other application selected). Errors count as "no".
        """
        from mynaid.models import CertificateAvailability
        from mynaid.pins import card_is_pinless

        try:
            if self.aid is Aid.JPKI:
                raw = self.read_small_file(0x0008, 3, "certificate availability")
                if CertificateAvailability.parse(raw).signature:
                    return False
            pinless = card_is_pinless(self.protocol)
        except MynaidError:
            pinless = False
        try:
            self.select()  # the check selected other applications
        except MynaidError:
            pass
        return pinless

    def change_secret(self, ref: SecretRef, current: str, new: str, *,
                      force: bool = False) -> None:
        """Change a PIN or password: VERIFY ``current`` (guarded), then CHANGE REFERENCE DATA.

        Both values are checked for format before any APDU; a new value equal to the
        current one is refused. Only the auth PIN, the signature password and the text PIN
        can be changed by the holder (card-reference §4).
        """
        self._own(ref)
        if ref.name not in CHANGEABLE:
            raise ValueError(f"{ref.name} cannot be changed by the holder")
        current_value = bytearray(ref.validate(current))
        new_value = bytearray(ref.validate(new))
        try:
            if new_value == current_value:
                raise InvalidSecretError("the new value is the same as the current one")
            with self.transaction():
                self._guarded_verify(ref, current_value, force)
                response = self.protocol.send_secret(bytes((0x00, 0x24, 0x01, 0x80)),
                                                     new_value)
                self._check(response.sw, f"changing {ref.name}")
        finally:
            current_value[:] = bytes(len(current_value))
            new_value[:] = bytes(len(new_value))
