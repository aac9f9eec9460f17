"""The clinic kiosk flow: identify a patient with the card, by face or PIN, then consent.

This mirrors the face-authentication card readers of Japanese clinics and pharmacies for the
online insurance eligibility check (オンライン資格確認):

1. the patient places the card (the auth certificate, readable without a PIN, identifies
   them to the eligibility check);
2. chooses face or PIN;
3. face: the visual application is opened with 照合番号B (real readers OCR it from the card
   face; here the UI supplies it), never with the PIN, and the card photo is compared with
   the camera; after ``face_attempts`` failures the PIN is offered. PIN: the 4-digit auth PIN,
   under the lockout guard; with a verifier's challenge, the card signs it in the same
   transaction. Staff can switch to visual confirmation (目視確認) at any choice;
4. consent to share past health-check information, asked of patients aged 40 and over
   (and, by default, when the age is unknown, as on the PIN route);
5. done: an :class:`Outcome` for the eligibility check.

The flow is a plain state machine: the UI (:class:`KioskUI`), the card (:class:`KioskCard`),
the face route (:class:`FaceRoute`), the source of 照合番号B (:class:`CollationBSource`, e.g.
the card-face OCR) and the clock are injected, so kiosk software drives it and tests replace
any part. The terminal UI (``mynaid kiosk``) and the touchscreen web page
(:mod:`mynaid.kioskweb`) are both adapters of :class:`KioskUI` over this one flow. The
outcome holds no photo and no My Number.

Cards the flow tells apart before asking anything: an expired authentication certificate
(its own result, :attr:`Result.CERT_EXPIRED`), and the PIN-less face-authentication card
(顔認証マイナンバーカード, card-reference §9: no signature certificate, PINs locked by design),
for which the PIN is never offered (face or staff only) and never reported as "blocked".
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from mynaid.errors import (
    CardRemovedError,
    InvalidSecretError,
    LockoutGuardError,
    MynaidError,
    NoCardError,
    PinBlockedError,
    PinLockedByDesignError,
    VerificationFailedError,
    WrongPinError,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cryptography import x509

    from mynaid.challenge import ChallengeResponse
    from mynaid.integrity import IssuerKey
    from mynaid.protocol import CardProtocol


class Method(enum.Enum):
    FACE = "face"
    PIN = "pin"
    VISUAL = "visual"  # 目視確認: staff compare the patient with the card face


class Step(enum.Enum):
    CARD = "card"
    METHOD = "method"
    FACE = "face"
    PIN = "pin"
    VISUAL = "visual"
    CONSENT = "consent"
    DONE = "done"


class Result(enum.Enum):
    VERIFIED = "verified"
    CERT_EXPIRED = "certificate-expired"  # the auth certificate is past its validity
    CANCELLED = "cancelled"
    FAILED = "failed"  # no method succeeded and none is left
    CARD_REMOVED = "card-removed"
    TIMED_OUT = "timed-out"
    PIN_BLOCKED = "pin-blocked"
    REFUSED_BY_GUARD = "refused-by-guard"  # one try left: the patient must see staff


class CardFaceNotAuthenticError(VerificationFailedError):
    """The card face's signature, its CV certificate or the card's presence proof failed
    (or could not be checked): its photo must not be used to identify anyone."""


class CardPhotoUnusableError(MynaidError):
    """The card photo holds no face the matcher can use: the face route is not possible."""


class KioskNotVerifiedError(VerificationFailedError):
    """No identification method succeeded (the CLI's exit code 6)."""


class KioskTimeout(MynaidError):
    """Raised by a UI callback whose user did not answer in time."""

    def __init__(self, message: str = "no answer in time") -> None:
        super().__init__(message)


class KioskCancelled(MynaidError):
    """Raised by a UI callback when staff (or the patient) cancel the pass at any screen."""

    def __init__(self, message: str = "cancelled") -> None:
        super().__init__(message)


class MethodSwitch(MynaidError):
    """Raised by a UI callback when staff switch the identification method mid-route (e.g.
    to 目視確認 while the patient struggles with the camera). Honoured only for a method the
    flow would offer at that point."""

    def __init__(self, method: Method) -> None:
        super().__init__(f"switch to {method.value}")
        self.method = method


class Notice(str):
    """A message for :meth:`KioskUI.show` that also carries a stable ``code`` and
    parameters, so a screen can show its own (Japanese) text instead of the English
    message. It is a ``str``: UIs that only print keep working."""

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, text: str, **params: Any) -> Notice:
        self = super().__new__(cls, text)
        self.code = code
        self.params = params
        return self


class CollationBSource(Protocol):
    """Where 照合番号B comes from before anyone types it: the card-face scan (OCR).

    ``read()`` returns the 14 digits, or None when it cannot (no scan, unreadable): the flow
    then asks :meth:`KioskUI.collation_b` (typed entry by staff)."""

    def read(self) -> str | None:
        """照合番号B from the card face, or None."""

# --- what the flow is given ------------------------------------------------------------------


class KioskUI(Protocol):
    """The screens. Callbacks may raise :class:`KioskTimeout`."""

    def show(self, step: Step, message: str) -> None:
        """Display a message for a step (progress, errors, instructions)."""

    def choose_method(self, offered: tuple[Method, ...]) -> Method | None:
        """The patient's (or staff's, for VISUAL) choice; None cancels."""

    def collation_b(self) -> str:
        """照合番号B for the visual application (birth date, expiry year, security code)."""

    def pin(self, tries_left: int) -> str:
        """The 4-digit auth PIN."""

    def consent(self) -> bool:
        """Consent to share past health-check information."""

    def staff_confirms(self) -> bool:
        """Staff have compared the patient with the card face and confirm."""


class StaffPhotoUI(Protocol):
    """Optional on a :class:`KioskUI`: show the chip photo to staff only (目視確認).

    The flow calls it before :meth:`KioskUI.staff_confirms` when the card photo could be
    read and shown authentic, and with None once the decision is made (forget it)."""

    def staff_photo(self, photo: bytes | None) -> None:
        """Show (or, with None, withdraw) the card photo on the staff side only."""


@dataclass(frozen=True)
class CardTraits:
    """What kind of card this is, as far as the flow's routes are concerned."""

    #: 顔認証マイナンバーカード: PINs locked by design; face or staff confirmation only.
    pinless: bool = False


@dataclass(frozen=True)
class CardFacts:
    """What the face route learns from the visual application (no photo kept)."""

    birth_date: dt.date | None


class KioskCard(Protocol):
    """The card, as the flow uses it."""

    def auth_certificate(self) -> x509.Certificate:
        """The user-authentication certificate (no PIN needed)."""

    def card_photo(self, collation_b: str) -> tuple[bytes, CardFacts]:
        """The card-face photo and birth date, after 照合番号B (guarded), only once the card
        face is shown authentic and the card present; :class:`CardFaceNotAuthenticError`
        otherwise."""

    def verify_pin(self, pin: str, challenge: bytes | None) -> ChallengeResponse | None:
        """Verify the auth PIN (guarded); with a challenge, sign it in the same transaction."""

    def pin_tries(self) -> int | None:
        """The auth PIN's tries left, by the query that uses no try (None: unknown)."""

    def ensure_present(self) -> None:
        """Raise :class:`CardRemovedError` / :class:`NoCardError` when the card is gone."""


@dataclass(frozen=True)
class FaceAttempt:
    """One comparison: the decision and a line for the screen (no image kept)."""

    match: bool
    detail: str
    distance: float | None = None


class FaceRoute(Protocol):
    """Compares the card photo with the camera."""

    def enroll(self, card_photo: bytes) -> Any:
        """Prepare the card photo (raises :class:`MynaidError` when it holds no usable face)."""

    def attempt(self, reference: Any) -> FaceAttempt:
        """Capture a short burst, pick the best frame, compare it with the reference."""


@dataclass(frozen=True)
class KioskConfig:
    face_attempts: int = 3
    #: PIN tries the guard keeps in reserve (SessionKioskCard should be given the same).
    pin_reserve: int = 1
    consent_age: int = 40
    ask_consent_if_age_unknown: bool = True
    #: Seconds a step may take (measured with the injected clock); 0 disables.
    step_timeout: float = 120.0
    allow_visual_confirmation: bool = True
    #: 照合番号B from the card-face scan, tried before asking the UI (None: always ask).
    collation_b_source: CollationBSource | None = field(default=None, compare=False,
                                                         repr=False)
    #: Where the kiosk stands: ages (and so the consent question) turn over at local
    #: midnight, not at UTC midnight.
    timezone: dt.tzinfo = dt.timezone(dt.timedelta(hours=9), "JST")


@dataclass(frozen=True)
class Outcome:
    """The record passed on to the eligibility check. Holds no photo and no My Number."""

    result: Result
    method: Method | None
    face_attempts: int
    pin_attempts: int
    auth_serial: str | None
    auth_issuer: str | None
    auth_certificate_der: bytes | None = field(repr=False)
    consent: bool | None
    started_at: dt.datetime
    finished_at: dt.datetime
    steps: tuple[tuple[Step, dt.datetime], ...] = field(repr=False)
    message: str = ""
    challenge_response: ChallengeResponse | None = field(default=None, repr=False)

    @property
    def verified(self) -> bool:
        return self.result is Result.VERIFIED

    def as_dict(self) -> dict[str, Any]:
        return {
            "result": self.result.value,
            "method": self.method.value if self.method else None,
            "face_attempts": self.face_attempts,
            "pin_attempts": self.pin_attempts,
            "auth_serial": self.auth_serial,
            "auth_issuer": self.auth_issuer,
            "consent": self.consent,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "steps": [[step.value, at.isoformat()] for step, at in self.steps],
            "message": self.message,
        }


def _pin_blocked_message() -> str:
    """The auth PIN is blocked (by wrong entries): where its holder can reset it."""
    from mynaid.cardspec import AUTH_PIN
    from mynaid.pins import reset_advice

    return f"the PIN is blocked ({reset_advice(AUTH_PIN.name)})"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def age_on(birth: dt.date, today: dt.date) -> int:
    """Completed years of age on ``today``."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


class _Finish(Exception):
    def __init__(self, result: Result, message: str) -> None:
        super().__init__(message)
        self.result = result
        self.message = message


class KioskFlow:
    """One patient's pass through the kiosk. Call :meth:`run` once."""

    def __init__(self, card: KioskCard, ui: KioskUI, face: FaceRoute | None = None, *,
                 config: KioskConfig | None = None, challenge: bytes | None = None,
                 clock: Callable[[], dt.datetime] = _utcnow,
                 collation_b_source: CollationBSource | None = None) -> None:
        self.card = card
        self.ui = ui
        self.face = face
        self.config = config or KioskConfig()
        self.collation_b_source = collation_b_source or self.config.collation_b_source
        self.traits = CardTraits()
        self._collation: str | None = None  # kept for one pass only, never in a repr
        self.challenge = challenge
        self.clock = clock
        self._steps: list[tuple[Step, dt.datetime]] = []
        self._step_started = clock()
        self.method: Method | None = None
        self.face_attempts = 0
        self.pin_attempts = 0
        self.consent: bool | None = None
        self.birth_date: dt.date | None = None
        self.response: ChallengeResponse | None = None

    # --- plumbing ---------------------------------------------------------------------------

    def _enter(self, step: Step) -> None:
        self._step_started = self.clock()
        self._steps.append((step, self._step_started))

    def _ask(self, call: Callable[[], Any]) -> Any:
        """Run a UI callback; an answer later than the step's deadline is a timeout."""
        answer = call()
        limit = self.config.step_timeout
        if limit and (self.clock() - self._step_started).total_seconds() > limit:
            raise KioskTimeout(f"no answer within {limit:g} s")
        return answer

    def face_possible(self) -> bool:
        """The face route can complete: a face route is given and the card side can show
        the card face authentic (a trusted issuer key, see :class:`SessionKioskCard`)."""
        return self.face is not None and bool(getattr(self.card, "face_possible", True))

    def _offered(self, *methods: Method) -> tuple[Method, ...]:
        allowed = [m for m in methods
                   if (m is not Method.FACE or self.face_possible())
                   and (m is not Method.PIN or not self.traits.pinless)
                   and (m is not Method.VISUAL or self.config.allow_visual_confirmation)]
        return tuple(allowed)

    def _collation_b(self) -> str:
        """照合番号B: from the card-face scan first, else asked (once per pass)."""
        if self._collation is None:
            code = None
            if self.collation_b_source is not None:
                code = self.collation_b_source.read()
            if code is None:
                code = self._ask(self.ui.collation_b)
            self._collation = code
        return self._collation

    def _choose(self, *methods: Method) -> Method:
        offered = self._offered(*methods)
        if not offered:
            raise _Finish(Result.FAILED, "no identification method is left")
        self._enter(Step.METHOD)
        choice = self._ask(lambda: self.ui.choose_method(offered))
        if choice is None:
            raise _Finish(Result.CANCELLED, "cancelled")
        if choice not in offered:
            raise ValueError(f"{choice} was not offered")
        self.method = choice
        return choice  # type: ignore[no-any-return]

    # --- the flow ---------------------------------------------------------------------------

    def run(self) -> Outcome:
        started = self.clock()
        serial = issuer = None
        cert_der: bytes | None = None
        result, message = Result.VERIFIED, "verified"
        try:
            self._enter(Step.CARD)
            cert = self.card.auth_certificate()
            from cryptography.hazmat.primitives.serialization import Encoding

            serial = format(cert.serial_number, "X")
            issuer = cert.issuer.rfc4514_string()
            cert_der = cert.public_bytes(Encoding.DER)
            if cert.not_valid_after_utc < self.clock():
                raise _Finish(Result.CERT_EXPIRED,
                              "the card's authentication certificate has expired "
                              f"({cert.not_valid_after_utc.date().isoformat()}): renew it at "
                              "the municipal office")
            traits = getattr(self.card, "traits", None)
            if callable(traits):
                self.traits = traits()
            self.ui.show(Step.CARD, Notice("card-read", "card read",
                                           pinless=self.traits.pinless))
            self._identify()
            self._ask_consent()
            self._enter(Step.DONE)
            self.ui.show(Step.DONE, "done: thank you")
        except _Finish as finish:
            result, message = finish.result, finish.message
        except (CardRemovedError, NoCardError):
            result, message = Result.CARD_REMOVED, "the card was removed"
        except KioskTimeout as exc:
            result, message = Result.TIMED_OUT, exc.message
        except (KioskCancelled, MethodSwitch) as exc:
            # A switch that reaches here came where no method choice is open (consent).
            result, message = Result.CANCELLED, exc.message
        except MynaidError as exc:
            # Anything else the card or a component reports (no visual application, a
            # reset by another process, malformed data): the flow ends with a screen and an
            # outcome, never with an exception in the kiosk's face.
            result, message = Result.FAILED, exc.message
        finally:
            self._collation = None
            self._photo_to_staff(None)
        if result is not Result.VERIFIED:
            self.ui.show(self._steps[-1][0] if self._steps else Step.CARD,
                         Notice(result.value, message))
        return Outcome(result, self.method, self.face_attempts, self.pin_attempts, serial,
                       issuer, cert_der, self.consent, started, self.clock(),
                       tuple(self._steps), message, self.response)

    def _identify(self) -> None:
        try:
            method = self._choose(Method.FACE, Method.PIN, Method.VISUAL)
        except MethodSwitch as switch:
            method = self._switch_to(switch.method, Method.FACE, Method.PIN, Method.VISUAL)
        face_tried = False
        while True:
            try:
                if method is Method.FACE:
                    face_tried = True
                    if self._face_route():
                        return
                    self.ui.show(Step.FACE, Notice(
                        "face-failed", "face not confirmed: please use your PIN"
                        if self._offered(Method.PIN) else "face not confirmed: staff will help"))
                    method = self._choose(Method.PIN, Method.VISUAL)
                elif method is Method.PIN:
                    self._pin_route()
                    return
                else:
                    self._visual_route()
                    return
            except MethodSwitch as switch:
                # Staff may switch to any method still on offer (not back to a failed face).
                rest = (Method.PIN, Method.VISUAL) if face_tried else (
                    Method.FACE, Method.PIN, Method.VISUAL)
                method = self._switch_to(switch.method, *rest)

    def _switch_to(self, method: Method, *allowed: Method) -> Method:
        if method not in self._offered(*allowed):
            raise _Finish(Result.CANCELLED, f"{method.value} is not available")
        self.method = method
        return method

    def _face_route(self) -> bool:
        assert self.face is not None
        self._enter(Step.FACE)
        code = self._collation_b()
        try:
            photo, facts = self.card.card_photo(code)
        except (CardRemovedError, NoCardError):
            raise
        except MynaidError as exc:
            # A wrong 照合番号B is the kiosk's (or OCR's) mistake, not the patient's face; a
            # card face that is not shown authentic must not be used: offer the PIN.
            self._collation = None  # a wrong one is not tried again
            self.ui.show(Step.FACE, Notice(
                "card-face-unusable", f"the card face could not be used: {exc.message}"))
            return False
        self.birth_date = facts.birth_date
        try:
            reference = self.face.enroll(photo)
        except MynaidError as exc:
            self.ui.show(Step.FACE, Notice("card-photo-unusable",
                                           f"the card photo cannot be used: {exc.message}"))
            return False
        finally:
            del photo  # the photo is not kept beyond enrolment
        for _ in range(self.config.face_attempts):
            self.card.ensure_present()
            self.face_attempts += 1
            attempt = self._ask(lambda: self.face.attempt(reference))  # type: ignore[union-attr]
            if attempt.match:
                self.ui.show(Step.FACE, Notice("face-confirmed", "face confirmed"))
                return True
            self.ui.show(Step.FACE, Notice("face-retry", attempt.detail,
                                           attempts_left=self.config.face_attempts
                                           - self.face_attempts))
        return False

    def _pin_route(self) -> None:
        self._enter(Step.PIN)
        while True:
            self.card.ensure_present()
            # Read the counter first (no try used): the patient sees the real count, and is
            # not asked for a PIN that the guard would refuse or a blocked key.
            tries_left = self.card.pin_tries()
            if tries_left == 0:
                self._after_pin_refused(Result.PIN_BLOCKED, _pin_blocked_message())
                return
            if tries_left is not None and tries_left <= self.config.pin_reserve:
                self.ui.show(Step.PIN, Notice("guard", "one try left: please ask the staff",
                                              tries_left=tries_left))
                self._after_pin_refused(Result.REFUSED_BY_GUARD,
                                        "the PIN has one try left; not attempted")
                return
            pin = self._ask(functools.partial(self.ui.pin, tries_left or 0))
            self.pin_attempts += 1
            try:
                self.response = self.card.verify_pin(pin, self.challenge)
            except InvalidSecretError as exc:
                self.pin_attempts -= 1  # nothing was sent
                self.ui.show(Step.PIN, Notice("pin-format", exc.message))
                continue
            except WrongPinError as exc:
                self.ui.show(Step.PIN, Notice("wrong-pin",
                                              f"wrong PIN: {exc.tries_left} tries left",
                                              tries_left=exc.tries_left))
                continue
            except LockoutGuardError:
                self.pin_attempts -= 1  # refused before sending
                self.ui.show(Step.PIN, Notice("guard", "one try left: please ask the staff",
                                              tries_left=1))
                self._after_pin_refused(Result.REFUSED_BY_GUARD,
                                        "the PIN has one try left; not attempted")
                return
            except PinLockedByDesignError as exc:
                # The session found the PIN-less card (traits did not say so): nothing was
                # sent, and its holder is not told "blocked, go to the municipal office".
                self.pin_attempts -= 1
                self.traits = CardTraits(pinless=True)
                self.ui.show(Step.PIN, Notice("card-read", exc.message, pinless=True))
                self._after_pin_refused(Result.FAILED, exc.message)
                return
            except PinBlockedError:
                self.pin_attempts -= 1  # the guard saw it blocked: nothing was sent
                self._after_pin_refused(Result.PIN_BLOCKED, _pin_blocked_message())
                return
            self.ui.show(Step.PIN, Notice("pin-confirmed", "PIN confirmed"))
            return

    def _after_pin_refused(self, result: Result, message: str) -> None:
        if not self._offered(Method.VISUAL):
            raise _Finish(result, message)
        try:
            self._choose(Method.VISUAL)
        except _Finish:
            raise _Finish(result, message) from None
        self._visual_route()

    def _photo_to_staff(self, photo: bytes | None) -> None:
        show = getattr(self.ui, "staff_photo", None)
        if callable(show):
            show(photo)

    def _visual_route(self) -> None:
        self._enter(Step.VISUAL)
        # The chip photo helps staff compare (the printed face can be worn or swapped); it
        # is shown only when the card face is shown authentic, and only to staff.
        self._photo_for_staff()
        try:
            if not self._ask(self.ui.staff_confirms):
                raise _Finish(Result.FAILED, "staff did not confirm the patient")
        finally:
            self._photo_to_staff(None)

    def _photo_for_staff(self) -> None:
        if getattr(self.ui, "staff_photo", None) is None:
            return
        if getattr(self.card, "face_possible", True) is False:
            return  # no trusted issuer key: the chip photo cannot be shown authentic
        try:
            photo, facts = self.card.card_photo(self._collation_b())
        except (CardRemovedError, NoCardError):
            raise
        except MynaidError as exc:
            self._collation = None
            self.ui.show(Step.VISUAL, Notice(
                "card-face-unusable", f"the card face could not be used: {exc.message}"))
            return
        if self.birth_date is None:
            self.birth_date = facts.birth_date
        self._photo_to_staff(photo)
        del photo

    def _ask_consent(self) -> None:
        self.card.ensure_present()
        today = self.clock().astimezone(self.config.timezone).date()
        if self.birth_date is None:
            needed = self.config.ask_consent_if_age_unknown
        else:
            needed = age_on(self.birth_date, today) >= self.config.consent_age
        if not needed:
            return
        self._enter(Step.CONSENT)
        self.consent = bool(self._ask(self.ui.consent))


# --- the real card and camera behind the protocols ---------------------------------------------


class SessionKioskCard:
    """:class:`KioskCard` over a :class:`CardProtocol` (PC/SC or the emulator).

    ``issuer_keys``: the CV-certificate issuer keys trusted for the visual application
    (the J-LIS keys are not shipped: configure them, e.g. ``$MYNAID_ISSUER_KEYS``). Without
    one the card face cannot be shown authentic and the face route is refused, unless
    ``require_issuer_key`` is turned off (a forged card with its own keys would pass then).
    """

    def __init__(self, protocol: CardProtocol, *, pin_reserve: int = 1,
                 context: str | None = None, issuer_keys: Sequence[IssuerKey] = (),
                 require_issuer_key: bool = True) -> None:
        self.protocol = protocol
        self.pin_reserve = pin_reserve
        self.context = context
        self.issuer_keys = tuple(issuer_keys)
        self.require_issuer_key = require_issuer_key

    @property
    def face_possible(self) -> bool:
        """The card face can be shown authentic here (a trusted issuer key is configured,
        or the check was turned off): without it the face route cannot complete."""
        return bool(self.issuer_keys) or not self.require_issuer_key

    def traits(self) -> CardTraits:
        """What kind of card this is: the PIN-less card by :func:`mynaid.pins.card_is_pinless`
        (the one decision, no try used). A card error other than removal reads as "not
        PIN-less": the ordinary routes then apply."""
        from mynaid.pins import card_is_pinless

        try:
            pinless = card_is_pinless(self.protocol)
        except (CardRemovedError, NoCardError):
            raise
        except MynaidError:
            pinless = False
        return CardTraits(pinless=pinless)

    def auth_certificate(self) -> x509.Certificate:
        from mynaid.cardspec import CertificateSlot
        from mynaid.sessions.jpki import JpkiSession

        return JpkiSession(self.protocol).read_certificate(CertificateSlot.AUTH)

    def card_photo(self, collation_b: str) -> tuple[bytes, CardFacts]:
        from mynaid.sessions.visual import VisualSession

        face, proof = VisualSession(self.protocol).read_proven(collation_b, "pin-b",
                                                               self.issuer_keys)
        if proof.failed:
            raise CardFaceNotAuthenticError(
                "the card face did not verify: " + ", ".join(
                    f"{name} ({proof.checks()[name].reason})" for name in proof.failed))
        if proof.cv_certificate.skipped and self.require_issuer_key:
            raise CardFaceNotAuthenticError(
                "no trusted issuer key is configured, so the card face cannot be shown "
                "authentic")
        return face.photo, CardFacts(face.birth)

    def pin_tries(self) -> int | None:
        from mynaid.cardspec import AUTH_PIN
        from mynaid.sessions.jpki import JpkiSession

        return JpkiSession(self.protocol).pin_state(AUTH_PIN).tries_left

    def verify_pin(self, pin: str, challenge: bytes | None) -> ChallengeResponse | None:
        from mynaid.cardspec import AUTH_PIN
        from mynaid.sessions.jpki import JpkiSession

        if challenge is None:
            JpkiSession(self.protocol, {AUTH_PIN.name: self.pin_reserve}).verify(AUTH_PIN, pin)
            return None
        from mynaid.challenge import DEFAULT_CONTEXT, respond

        return respond(self.protocol, challenge, pin, context=self.context or DEFAULT_CONTEXT,
                       reserve=self.pin_reserve)

    def ensure_present(self) -> None:
        from mynaid.cardspec import Aid

        # Any APDU reaches the card only if it is there; SELECT of the JPKI AP is harmless
        # here (no PIN is held between steps).
        self.protocol.select_application(Aid.JPKI.value)


class CameraFaceRoute:
    """:class:`FaceRoute` with a :class:`~mynaid.face.FaceMatcher` and a frame source."""

    def __init__(self, matcher: Any, frames: Any, *, burst: int = 5) -> None:
        self.matcher = matcher
        self.frames = frames
        self.burst = burst

    def enroll(self, card_photo: bytes) -> Any:
        reference = self.matcher.reference(card_photo)
        if reference.embedding is None:
            reasons = "; ".join(str(r) for r in reference.report.issues)
            raise CardPhotoUnusableError(f"no usable face in the card photo ({reasons})")
        return reference

    def attempt(self, reference: Any) -> FaceAttempt:
        from mynaid.face.camera import select_best_frame
        from mynaid.face.errors import CameraError

        try:
            best = select_best_frame(self.matcher, self.frames, self.burst)
        except CameraError:
            return FaceAttempt(False, "the camera gave no picture")
        result = self.matcher.compare_samples(reference, best.sample)
        return FaceAttempt(result.match, result.summary(), result.distance)
