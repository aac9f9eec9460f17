"""The kiosk flow: every path, with a scripted UI, a scripted face route, a fake clock, and
the emulated card behind SessionKioskCard (so PIN counters, 照合番号B and the card photo are
the card's own)."""

from __future__ import annotations

import datetime as dt
import json
from collections import deque
from collections.abc import Callable
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mynaid.cardspec import AUTH_PIN, Aid
from mynaid.challenge import ChallengeVerifier
from mynaid.emulator import EmulatedCard, build_card, default_profile
from mynaid.errors import CardRemovedError
from mynaid.kiosk import (
    CardFacts,
    FaceAttempt,
    KioskConfig,
    KioskFlow,
    KioskTimeout,
    Method,
    Outcome,
    Result,
    SessionKioskCard,
    Step,
    age_on,
)
from mynaid.protocol import CardProtocol
from mynaid.transport.emulated import EmulatorTransport
from mynaid.trust.anchors import TrustStore
from tests.conftest import CliRunner

PROFILE = default_profile()
PIN_B = "55021720352285"  # the default test card: born 1980-02-17, expiry 2035, code 2285
START = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.timezone.utc)


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@dataclass
class ScriptedUI:
    """Answers from queues; records every message shown."""

    methods: deque[Method | None] = field(default_factory=deque)
    pins: deque[str] = field(default_factory=deque)
    collation: str = PIN_B
    consent_answer: bool = True
    staff_answer: bool = True
    shown: list[tuple[Step, str]] = field(default_factory=list)
    offered: list[tuple[Method, ...]] = field(default_factory=list)
    on_pin: Callable[[], None] | None = None
    consent_asked: int = 0

    def show(self, step: Step, message: str) -> None:
        self.shown.append((step, message))

    def choose_method(self, offered: tuple[Method, ...]) -> Method | None:
        self.offered.append(offered)
        return self.methods.popleft()

    def collation_b(self) -> str:
        return self.collation

    def pin(self, tries_left: int) -> str:
        if self.on_pin:
            self.on_pin()
        return self.pins.popleft()

    def consent(self) -> bool:
        self.consent_asked += 1
        return self.consent_answer

    def staff_confirms(self) -> bool:
        return self.staff_answer


class ScriptedFace:
    """A face route whose decisions are given; it checks it was given the card's photo."""

    def __init__(self, decisions: list[bool]) -> None:
        self.decisions = deque(decisions)
        self.enrolled: bytes | None = None

    def enroll(self, card_photo: bytes) -> Any:
        self.enrolled = card_photo
        return "reference"

    def attempt(self, reference: Any) -> FaceAttempt:
        assert reference == "reference"
        match = self.decisions.popleft()
        return FaceAttempt(match, "match" if match else "no match: distance 0.80", 0.4)


@pytest.fixture
def card() -> EmulatedCard:
    return build_card(PROFILE)


VISUAL_ISSUER = Path(__file__).resolve().parents[1] / "vectors" / "test-pki" / "visual-issuer.pem"


def kiosk_card(card: EmulatedCard, **kwargs: Any) -> SessionKioskCard:
    from mynaid.integrity import load_issuer_key

    kwargs.setdefault("issuer_keys", [load_issuer_key(VISUAL_ISSUER)])
    return SessionKioskCard(CardProtocol(EmulatorTransport(card)), **kwargs)


def run(card: EmulatedCard, ui: ScriptedUI, face: ScriptedFace | None = None,
        **kwargs: Any) -> Outcome:
    clock = kwargs.pop("clock", FakeClock())
    return KioskFlow(kiosk_card(card), ui, face, clock=clock, **kwargs).run()


def auth_tries(card: EmulatedCard) -> int:
    return card.key_file(Aid.JPKI.value, AUTH_PIN.fid).tries_left


def test_face_ok(card: EmulatedCard) -> None:
    ui = ScriptedUI(methods=deque([Method.FACE]))
    face = ScriptedFace([True])
    outcome = run(card, ui, face)
    assert outcome.result is Result.VERIFIED and outcome.method is Method.FACE
    assert outcome.face_attempts == 1 and outcome.pin_attempts == 0
    assert face.enrolled == PROFILE_PHOTO
    # Born 1980-02-17: 46 on 2026-11-26, so consent is asked.
    assert ui.consent_asked == 1 and outcome.consent is True
    expected_serial = format(_auth_cert().serial_number, "X")
    assert outcome.auth_serial == expected_serial
    assert [s for s, _ in outcome.steps] == [Step.CARD, Step.METHOD, Step.FACE, Step.CONSENT,
                                            Step.DONE]
    assert auth_tries(card) == 3  # the face route never touches the PIN


def test_face_fails_n_times_then_pin(card: EmulatedCard) -> None:
    ui = ScriptedUI(methods=deque([Method.FACE, Method.PIN]), pins=deque(["1234"]))
    outcome = run(card, ui, ScriptedFace([False, False, False]),
                  config=KioskConfig(face_attempts=3))
    assert outcome.result is Result.VERIFIED and outcome.method is Method.PIN
    assert outcome.face_attempts == 3 and outcome.pin_attempts == 1
    assert ui.offered[1] == (Method.PIN, Method.VISUAL)  # face is not offered again
    assert any("please use your PIN" in m for _, m in ui.shown)


def test_wrong_pin_then_the_guard(card: EmulatedCard) -> None:
    ui = ScriptedUI(methods=deque([Method.PIN, None]), pins=deque(["0000", "0000", "1234"]))
    outcome = run(card, ui)
    assert outcome.result is Result.REFUSED_BY_GUARD
    assert outcome.pin_attempts == 2  # the third was refused before sending
    assert auth_tries(card) == 1  # never blocked
    assert ("wrong PIN: 2 tries left" in [m for _, m in ui.shown])
    assert ui.offered[-1] == (Method.VISUAL,)  # staff can still confirm visually


def test_guard_then_visual_confirmation(card: EmulatedCard) -> None:
    ui = ScriptedUI(methods=deque([Method.PIN, Method.VISUAL]),
                    pins=deque(["0000", "0000", "1234"]))
    outcome = run(card, ui)
    assert outcome.result is Result.VERIFIED and outcome.method is Method.VISUAL
    assert auth_tries(card) == 1


def test_pin_route_signs_the_challenge(card: EmulatedCard) -> None:
    trust = TrustStore.empty()
    trust.add_file(_root_path())
    verifier = ChallengeVerifier(trust=trust)
    nonce = verifier.issue().nonce
    ui = ScriptedUI(methods=deque([Method.PIN]), pins=deque(["1234"]))
    outcome = run(card, ui, challenge=nonce)
    assert outcome.verified and outcome.challenge_response is not None
    assert outcome.challenge_response.nonce == nonce
    result = verifier.verify(outcome.challenge_response)
    assert format(result.serial, "X") == outcome.auth_serial


def test_consent_declined(card: EmulatedCard) -> None:
    ui = ScriptedUI(methods=deque([Method.FACE]), consent_answer=False)
    outcome = run(card, ui, ScriptedFace([True]))
    assert outcome.result is Result.VERIFIED  # identity is confirmed; consent is separate
    assert outcome.consent is False


def test_consent_not_asked_under_40(card: EmulatedCard) -> None:
    clock = FakeClock()
    clock.now = dt.datetime(2019, 11, 26, tzinfo=dt.timezone.utc)  # the holder was 39
    ui = ScriptedUI(methods=deque([Method.FACE]))
    outcome = run(card, ui, ScriptedFace([True]), clock=clock)
    assert ui.consent_asked == 0 and outcome.consent is None


def test_card_removed_mid_flow(card: EmulatedCard) -> None:
    transport = EmulatorTransport(card)
    protocol = CardProtocol(transport)

    def remove() -> None:  # the patient pulls the card while typing the PIN
        def gone(apdu: bytes) -> tuple[bytes, int]:
            raise CardRemovedError("the card was removed")
        transport.transmit = gone  # type: ignore[method-assign]

    ui = ScriptedUI(methods=deque([Method.PIN]), pins=deque(["1234"]), on_pin=remove)
    outcome = KioskFlow(SessionKioskCard(protocol), ui, clock=FakeClock()).run()
    assert outcome.result is Result.CARD_REMOVED
    assert outcome.pin_attempts == 1
    assert auth_tries(card) == 3


def test_wrong_collation_b_offers_the_pin(card: EmulatedCard) -> None:
    ui = ScriptedUI(methods=deque([Method.FACE, Method.PIN]), pins=deque(["1234"]),
                    collation="55021720350000")
    outcome = run(card, ui, ScriptedFace([]))
    assert outcome.verified and outcome.method is Method.PIN and outcome.face_attempts == 0
    assert any("could not be used" in m for _, m in ui.shown)


def _tamper_photo(card: EmulatedCard) -> None:
    face_ef = card.applications[Aid.VISUAL.value].files[0x0002]
    content = bytearray(face_ef.content)  # type: ignore[union-attr]
    at = bytes(content).index(PROFILE_PHOTO) + len(PROFILE_PHOTO) // 2
    content[at] ^= 0x01
    face_ef.content = bytes(content)  # type: ignore[union-attr]


def test_forged_card_photo_is_never_used(card: EmulatedCard) -> None:
    """A card whose photo was swapped (DF28 no longer matches) must not identify anyone by
    face, even if the face would match: the flow falls back to the PIN."""
    _tamper_photo(card)
    face = ScriptedFace([True])
    ui = ScriptedUI(methods=deque([Method.FACE, Method.PIN]), pins=deque(["1234"]))
    outcome = run(card, ui, face)
    assert face.enrolled is None and outcome.face_attempts == 0
    assert outcome.verified and outcome.method is Method.PIN
    assert any("did not verify" in m and "face_signature" in m for _, m in ui.shown)


def test_face_route_refused_without_a_trusted_issuer_key(card: EmulatedCard) -> None:
    # Without a trusted issuer key the card face cannot be shown authentic, so the face
    # route cannot complete: it is not offered at all (issue 11), and never runs.
    ui = ScriptedUI(methods=deque([None]))
    face = ScriptedFace([True])
    outcome = KioskFlow(kiosk_card(card, issuer_keys=()), ui, face, clock=FakeClock()).run()
    assert outcome.result is Result.CANCELLED and face.enrolled is None
    assert Method.FACE not in ui.offered[0] and Method.PIN in ui.offered[0]
    # The card side still refuses the photo if asked directly.
    from mynaid.kiosk import CardFaceNotAuthenticError

    with pytest.raises(CardFaceNotAuthenticError, match="no trusted issuer key"):
        kiosk_card(card, issuer_keys=()).card_photo(PIN_B)


def test_card_without_a_visual_application_ends_with_an_outcome() -> None:
    from mynaid.emulator.profile import CardProfile

    bare = build_card(CardProfile(PROFILE.name, PROFILE.jpki))  # JPKI only
    ui = ScriptedUI(methods=deque([Method.FACE, Method.PIN]), pins=deque(["1234"]))
    outcome = run(bare, ui, ScriptedFace([True]))
    assert outcome.verified and outcome.method is Method.PIN


def test_a_failing_component_ends_with_an_outcome(card: EmulatedCard) -> None:
    from mynaid.errors import ParseError

    class Broken(ScriptedFace):
        def attempt(self, reference: Any) -> FaceAttempt:
            raise ParseError("the camera sent garbage")

    outcome = run(card, ScriptedUI(methods=deque([Method.FACE])), Broken([]))
    assert outcome.result is Result.FAILED and "garbage" in outcome.message


def test_consent_age_turns_over_at_midnight_in_japan(card: EmulatedCard) -> None:
    # Born 1980-02-17: 40 from 2020-02-17 00:00 JST, which is 2020-02-16 15:00 UTC.
    clock = FakeClock()
    clock.now = dt.datetime(2020, 2, 16, 23, 30, tzinfo=dt.timezone.utc)  # 08:30 JST
    ui = ScriptedUI(methods=deque([Method.FACE]))
    outcome = run(card, ui, ScriptedFace([True]), clock=clock)
    assert ui.consent_asked == 1 and outcome.consent is True


def test_pin_prompt_shows_the_cards_counter(card: EmulatedCard) -> None:
    card.key_file(Aid.JPKI.value, AUTH_PIN.fid).tries_left = 2  # one earlier mistake
    asked: list[int] = []

    class CountingUI(ScriptedUI):
        def pin(self, tries_left: int) -> str:
            asked.append(tries_left)
            return super().pin(tries_left)

    ui = CountingUI(methods=deque([Method.PIN, None]), pins=deque(["0000"]))
    outcome = run(card, ui)
    # 2 left: asked once (told 2); the wrong PIN leaves 1, so it is not asked again.
    assert asked == [2]
    assert outcome.result is Result.REFUSED_BY_GUARD and outcome.pin_attempts == 1
    assert auth_tries(card) == 1


def test_blocked_pin_is_not_asked_for(card: EmulatedCard) -> None:
    card.key_file(Aid.JPKI.value, AUTH_PIN.fid).tries_left = 0
    ui = ScriptedUI(methods=deque([Method.PIN, None]))
    outcome = run(card, ui)
    assert outcome.result is Result.PIN_BLOCKED and outcome.pin_attempts == 0


def test_visual_confirmation_refused(card: EmulatedCard) -> None:
    ui = ScriptedUI(methods=deque([Method.VISUAL]), staff_answer=False)
    assert run(card, ui).result is Result.FAILED


def test_cancel(card: EmulatedCard) -> None:
    assert run(card, ScriptedUI(methods=deque([None]))).result is Result.CANCELLED


def test_timeout_by_the_clock(card: EmulatedCard) -> None:
    clock = FakeClock()
    ui = ScriptedUI(methods=deque([Method.PIN]), pins=deque(["1234"]),
                    on_pin=lambda: clock.advance(121))
    outcome = run(card, ui, clock=clock, config=KioskConfig(step_timeout=120))
    assert outcome.result is Result.TIMED_OUT


def test_timeout_raised_by_the_ui(card: EmulatedCard) -> None:
    def too_slow() -> None:
        raise KioskTimeout()

    ui = ScriptedUI(methods=deque([Method.PIN]), on_pin=too_slow)
    assert run(card, ui).result is Result.TIMED_OUT


def test_face_not_offered_without_a_face_route(card: EmulatedCard) -> None:
    ui = ScriptedUI(methods=deque([Method.PIN]), pins=deque(["1234"]))
    run(card, ui)
    assert Method.FACE not in ui.offered[0]


def test_outcome_holds_no_photo_and_no_my_number(card: EmulatedCard) -> None:
    ui = ScriptedUI(methods=deque([Method.FACE]))
    outcome = run(card, ui, ScriptedFace([True]))
    text = repr(outcome) + repr(outcome.as_dict())
    assert "123456789018" not in text
    assert PROFILE_PHOTO[:16].hex() not in text
    assert all(not isinstance(v, bytes) for v in outcome.as_dict().values())


def test_age_on_boundaries() -> None:
    birth = dt.date(1986, 11, 26)
    assert age_on(birth, dt.date(2026, 11, 25)) == 39
    assert age_on(birth, dt.date(2026, 11, 26)) == 40
    assert CardFacts(None).birth_date is None


# --- helpers ---------------------------------------------------------------------------------


def _auth_cert() -> Any:
    from cryptography import x509

    return x509.load_der_x509_certificate(PROFILE.jpki.auth_cert)


def _root_path() -> Any:
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "vectors" / "test-pki" / "auth-root.pem"


def _photo() -> bytes:
    from mynaid.connect import connect
    from mynaid.sessions.visual import VisualSession

    with connect(card=build_card(PROFILE)) as protocol:
        return VisualSession(protocol).face(PIN_B, "pin-b").photo


PROFILE_PHOTO = _photo()


# --- the CLI and the real face matcher -------------------------------------------------------

SAMPLE_FRAME = Path(__file__).resolve().parents[1] / "vectors" / "sample-frame.jpg"


def test_cli_face_route_with_the_sample_frame(cli_run: CliRunner) -> None:
    pytest.importorskip("cv2")
    pytest.importorskip("dlib")
    code, out, err = astuple(cli_run(
        "--emulator", "--json", "kiosk", "--method", "face", "--camera", str(SAMPLE_FRAME),
        "--issuer-key", str(VISUAL_ISSUER), stdin=f"{PIN_B}\ny\n"))
    assert code == 0, err
    outcome = json.loads(out)
    assert outcome["result"] == "verified" and outcome["method"] == "face"
    assert outcome["face_attempts"] == 1 and outcome["consent"] is True
    assert PIN_B not in out + err


def test_cli_pin_route_guard_exit_code(cli_run: CliRunner) -> None:
    code, out, err = astuple(cli_run("--emulator", "kiosk", "--method", "pin",
                                     stdin="0000\n0000\n0000\n\n"))
    assert code == 7
    assert "wrong PIN: 1 tries left" in err and "one try left" in err
    assert "0000" not in out


def test_cli_visual_refused_exit_code(cli_run: CliRunner) -> None:
    assert cli_run("--emulator", "kiosk", "--method", "visual", stdin="n\n").code == 6


def test_camera_face_route_no_match_for_another_person(card: EmulatedCard) -> None:
    """The real matcher behind the flow: a frame of someone else never verifies."""
    np = pytest.importorskip("numpy")
    cv2 = pytest.importorskip("cv2")
    pytest.importorskip("dlib")
    faces = Path(__file__).resolve().parents[2] / "shared" / "faces"
    if not (faces / "obama.jpg").exists():
        pytest.skip("../shared/faces is not available")
    from mynaid.face import FaceMatcher
    from mynaid.face.camera import ImageSequenceSource
    from mynaid.kiosk import CameraFaceRoute

    assert np is not None and cv2 is not None
    route = CameraFaceRoute(FaceMatcher(), ImageSequenceSource([faces / "obama.jpg"] * 3),
                            burst=1)
    ui = ScriptedUI(methods=deque([Method.FACE, None]))
    outcome = KioskFlow(kiosk_card(card), ui, route, clock=FakeClock()).run()
    assert outcome.result is Result.CANCELLED  # face failed 3 times, then no PIN chosen
    assert outcome.face_attempts == 3
