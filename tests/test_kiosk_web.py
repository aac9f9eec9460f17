"""The web kiosk without a browser (fast): the adapter, the service loop with the in-process
emulated card, the HTTP surface (loopback server), and the flow's additions for it
(PIN-less card, expired certificate, 照合番号B source, staff switch and cancel), plus the
CLI's configuration checks, threshold guard and no-echo rule (issue 11)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import urllib.request
from collections import deque
from collections.abc import Iterator
from dataclasses import astuple
from typing import Any

import pytest

from mynaid.emulator import EmulatedCard, EmulatorOptions, build_card, default_profile
from mynaid.kiosk import (
    CardTraits,
    KioskFlow,
    Method,
    MethodSwitch,
    Result,
    SessionKioskCard,
)
from mynaid.pins import card_is_pinless
from mynaid.protocol import CardProtocol
from mynaid.transport.emulated import EmulatorTransport
from tests.conftest import CliRunner
from tests.kiosk_web_support import PIN_B, SAMPLE_FRAME, VISUAL_ISSUER, LoopbackServer, http
from tests.test_kiosk import FakeClock, ScriptedFace, ScriptedUI, kiosk_card

STAFF_PIN = "13579"


# --- the flow's additions ------------------------------------------------------------------


def pinless_card() -> EmulatedCard:
    """The emulator's PIN-less face-authentication card (card-reference §9)."""
    return build_card(default_profile(), EmulatorOptions(pinless=True))


def test_pinless_card_is_detected_and_never_offered_the_pin() -> None:
    card = pinless_card()
    protocol = CardProtocol(EmulatorTransport(card))
    assert card_is_pinless(protocol) is True
    assert card_is_pinless(CardProtocol(EmulatorTransport(build_card(default_profile())))) \
        is False
    ui = ScriptedUI(methods=deque([Method.FACE]))
    outcome = KioskFlow(kiosk_card(card), ui, ScriptedFace([True]), clock=FakeClock()).run()
    assert outcome.verified and outcome.method is Method.FACE
    assert Method.PIN not in ui.offered[0]
    # Face fails: the PIN is still not offered (locked by design, not "blocked").
    ui = ScriptedUI(methods=deque([Method.FACE, None]))
    outcome = KioskFlow(kiosk_card(pinless_card()), ui, ScriptedFace([False] * 3),
                        clock=FakeClock()).run()
    assert ui.offered[1] == (Method.VISUAL,) and outcome.result is Result.CANCELLED
    assert outcome.pin_attempts == 0


def test_blocked_ordinary_card_is_not_pinless() -> None:
    from mynaid.cardspec import AUTH_PIN, Aid

    card = build_card(default_profile())
    card.key_file(Aid.JPKI.value, AUTH_PIN.fid).tries_left = 0  # blocked by mistakes
    assert card_is_pinless(CardProtocol(EmulatorTransport(card))) is False
    # The holder is told where the PIN can be reset: the municipal office, or a
    # convenience-store kiosk with the signature password (one wording, mynaid.pins).
    ui = ScriptedUI(methods=deque([Method.PIN, None]))
    outcome = KioskFlow(kiosk_card(card), ui, clock=FakeClock()).run()
    assert outcome.result is Result.PIN_BLOCKED and outcome.pin_attempts == 0
    assert "municipal office" in outcome.message and "convenience-store" in outcome.message


def test_pinless_card_found_late_is_not_called_blocked() -> None:
    """If the card's traits missed it, the session's guard still tells the PIN-less card
    apart: no "blocked, go to the municipal office", nothing sent, no PIN offered again."""
    class Unsure(SessionKioskCard):
        def traits(self) -> CardTraits:
            return CardTraits()

        def pin_tries(self) -> int | None:
            return None  # unknown: the guard's own query decides

    card = pinless_card()
    ui = ScriptedUI(methods=deque([Method.PIN, None]), pins=deque(["1234"]))
    outcome = KioskFlow(Unsure(CardProtocol(EmulatorTransport(card))), ui,
                        clock=FakeClock()).run()
    assert outcome.result is Result.FAILED and outcome.pin_attempts == 0
    assert "municipal" not in outcome.message and "locked by design" in outcome.message
    assert [getattr(m, "params", {}).get("pinless") for _, m in ui.shown].count(True) == 1
    assert ui.offered == [(Method.PIN, Method.VISUAL), (Method.VISUAL,)]


def test_expired_auth_certificate_has_its_own_result() -> None:
    card = build_card(default_profile())
    clock = FakeClock()
    clock.now = dt.datetime(2099, 1, 1, tzinfo=dt.timezone.utc)
    ui = ScriptedUI()
    outcome = KioskFlow(kiosk_card(card), ui, ScriptedFace([]), clock=clock).run()
    assert outcome.result is Result.CERT_EXPIRED and ui.offered == []
    assert "expired" in outcome.message


def test_collation_b_comes_from_the_source_first() -> None:
    class Source:
        def __init__(self, value: str | None) -> None:
            self.value = value

        def read(self) -> str | None:
            return self.value

    class NoTyping(ScriptedUI):
        def collation_b(self) -> str:
            raise AssertionError("asked although the scan gave it")

    face = ScriptedFace([True])
    outcome = KioskFlow(kiosk_card(build_card(default_profile())),
                        NoTyping(methods=deque([Method.FACE])), face, clock=FakeClock(),
                        collation_b_source=Source(PIN_B)).run()
    assert outcome.verified and face.enrolled is not None
    # The scan gives nothing: typed entry (ui.collation_b) is the fallback.
    ui = ScriptedUI(methods=deque([Method.FACE]))
    outcome = KioskFlow(kiosk_card(build_card(default_profile())), ui, ScriptedFace([True]),
                        clock=FakeClock(), collation_b_source=Source(None)).run()
    assert outcome.verified


def test_staff_switch_mid_pin_goes_to_the_visual_check() -> None:
    class Switching(ScriptedUI):
        def pin(self, tries_left: int) -> str:
            raise MethodSwitch(Method.VISUAL)

    ui = Switching(methods=deque([Method.PIN]))
    outcome = KioskFlow(kiosk_card(build_card(default_profile())), ui,
                        clock=FakeClock()).run()
    assert outcome.verified and outcome.method is Method.VISUAL and outcome.pin_attempts == 0


# --- the service and the HTTP surface --------------------------------------------------------


def _wait(service: Any, screen: str, **fields: Any) -> dict[str, Any]:
    """The patient screen ``screen`` (with ``fields``), waiting on the board's changes."""
    version = -1
    for _ in range(400):
        version, patient, _staff = service.board.snapshot()
        if patient["screen"] == screen and all(patient.get(k) == v for k, v in fields.items()):
            return patient
        service.board.wait_change(version, 0.5)
    raise AssertionError(f"screen {screen} not reached: {patient}")


@pytest.fixture
def web(caplog: pytest.LogCaptureFixture) -> Iterator[tuple[Any, LoopbackServer]]:
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    from mynaid.connect import emulated_card
    from mynaid.integrity import load_issuer_key
    from mynaid.kiosk import KioskConfig
    from mynaid.kioskweb.app import create_app
    from mynaid.kioskweb.service import EmulatorSlot, KioskService, KioskSettings

    caplog.set_level(logging.DEBUG)
    settings = KioskSettings(config=KioskConfig(step_timeout=60),
                             issuer_keys=(load_issuer_key(VISUAL_ISSUER),), result_timeout=0.1)
    service = KioskService(EmulatorSlot(emulated_card), settings)
    server = LoopbackServer(create_app(service, staff_pin=STAFF_PIN), service.board).start()
    try:
        yield service, server
    finally:
        server.stop()


def _answer(server: LoopbackServer, screen: dict[str, Any], value: Any) -> bool:
    status, body, _ = http(server.url + "/answer", {"id": screen["id"], "value": value})
    assert status == 200
    return bool(json.loads(body)["accepted"])


def _staff_cookie(server: LoopbackServer) -> str:
    status, _body, headers = http(server.url + "/staff/login", {"pin": STAFF_PIN})
    assert status == 200
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    return cookie.split(";")[0]


def test_pin_route_over_http_logs_no_secret(web: tuple[Any, LoopbackServer],
                                            caplog: pytest.LogCaptureFixture) -> None:
    service, server = web
    method = _wait(service, "method")
    assert method["options"] == ["pin"]  # no camera: no face route offered
    assert _answer(server, method, "pin")
    pin = _wait(service, "pin")
    assert pin["tries_left"] == 3
    assert not _answer(server, method, "pin")  # a stale screen's answer is ignored
    assert _answer(server, pin, "0000")
    # The next PIN screen, not the one just answered (the flow may not have moved on yet).
    wrong = _wait(service, "pin", tries_left=2)
    assert wrong["id"] != pin["id"] and wrong["tries_left"] == 2
    assert wrong["notice"] == {"code": "wrong-pin", "tries_left": 2}
    assert _answer(server, wrong, "1234")
    assert _answer(server, _wait(service, "consent"), True)
    done = _wait(service, "done")
    assert done["consent"] is True and service.outcomes[-1]["method"] == "pin"
    # The APDU trace redacts every VERIFY body; nothing else logged or kept holds a secret
    # (quoted forms: bare digit runs occur by chance in timestamps and hex dumps).
    verifies = [r.getMessage() for r in caplog.records if "00 20 00 80 Lc" in r.getMessage()]
    assert len(verifies) == 2 and all("<redacted>" in line for line in verifies)
    other_logs = "\n".join(r.getMessage() for r in caplog.records if r.name != "mynaid.apdu")
    kept = json.dumps(service.outcomes) + repr(service.board.snapshot())
    for secret in ("1234", "0000", PIN_B, STAFF_PIN):
        assert secret not in other_logs
        assert f'"{secret}"' not in kept and f"'{secret}'" not in kept
    assert "123456789018" not in kept + other_logs  # the test card's My Number


def test_staff_gate_and_loopback_rules(web: tuple[Any, LoopbackServer]) -> None:
    service, server = web
    _wait(service, "method")
    assert http(server.url + "/staff/events")[0] == 403
    assert http(server.url + "/staff/photo")[0] == 403
    assert http(server.url + "/staff/action", {"action": "cancel"})[0] == 403
    assert http(server.url + "/", headers={"Host": "kiosk.example"})[0] == 400  # rebinding
    assert http(server.url + "/answer", raw=b"id=1&value=pin",
                headers={"Content-Type": "application/x-www-form-urlencoded"})[0] == 415
    assert http(server.url + "/staff/login", {"pin": "0000"})[0] == 403
    cookie = _staff_cookie(server)
    status, body, _ = http(server.url + "/staff/action", {"action": "cancel"},
                           headers={"Cookie": cookie})
    assert status == 200 and json.loads(body)["done"] is True
    result = _wait(service, "result")
    assert result["result"] == "cancelled"
    # Too many wrong staff PINs close the login, even for the right one.
    for _ in range(5):
        http(server.url + "/staff/login", {"pin": "9999"})
    assert http(server.url + "/staff/login", {"pin": STAFF_PIN})[0] == 403


def test_blocked_pin_result_says_where_to_reset() -> None:
    """The result screen of a PIN blocked by wrong entries carries the reset advice of
    mynaid.pins (the CLI's wording): municipal office, or a convenience-store kiosk."""
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    from mynaid.cardspec import AUTH_PIN, Aid
    from mynaid.kiosk import KioskConfig
    from mynaid.kioskweb.app import create_app
    from mynaid.kioskweb.service import EmulatorSlot, KioskService, KioskSettings

    def blocked() -> EmulatedCard:
        card = build_card(default_profile())
        card.key_file(Aid.JPKI.value, AUTH_PIN.fid).tries_left = 0
        return card

    config = KioskConfig(step_timeout=60, allow_visual_confirmation=False)
    service = KioskService(EmulatorSlot(blocked), KioskSettings(config=config,
                                                                result_timeout=0.1))
    server = LoopbackServer(create_app(service, staff_pin=STAFF_PIN), service.board).start()
    try:
        assert _answer(server, _wait(service, "method"), "pin")
        result = _wait(service, "result")
    finally:
        server.stop()
    assert result["result"] == "pin-blocked"
    assert "市区町村の窓口" in result["advice"]["ja"]
    assert "コンビニエンスストア" in result["advice"]["ja"]
    assert "署名用電子証明書のパスワード" in result["advice"]["ja"]
    assert "convenience-store" in result["advice"]["en"]


def test_staff_visual_check_with_typed_collation_and_chip_photo(
        web: tuple[Any, LoopbackServer]) -> None:
    service, server = web
    cookie = _staff_cookie(server)
    _wait(service, "method")
    assert service.staff_action("visual")  # staff switch before the patient chooses
    typed = _wait(service, "wait-staff")
    assert typed["reason"] == "collation"  # no card-face scan here: staff type it
    assert service.board.snapshot()[2]["expects"] == "collation"
    http(server.url + "/staff/action", {"action": "collation", "value": PIN_B},
         headers={"Cookie": cookie})
    _wait(service, "wait-staff", reason="visual")
    _v, patient, staff = service.board.snapshot()
    assert staff["photo"] is True and "photo" not in json.dumps(patient)
    status, png, headers = http(server.url + "/staff/photo", headers={"Cookie": cookie})
    assert status == 200 and png.startswith(b"\x89PNG") and headers["cache-control"] == "no-store"
    # The patient's event stream carries no photo and no 照合番号B.
    with urllib.request.urlopen(server.url + "/events", timeout=10) as stream:  # noqa: S310
        line = b""
        while not line.startswith(b"data:"):
            line = stream.readline()
    assert b"PNG" not in line and PIN_B.encode() not in line
    http(server.url + "/staff/action", {"action": "confirm"}, headers={"Cookie": cookie})
    _answer(server, _wait(service, "consent"), False)
    _wait(service, "done")
    assert service.board.photo() is None  # withdrawn once decided
    outcome = service.outcomes[-1]
    assert outcome["method"] == "visual" and outcome["consent"] is False


def test_unsafe_threshold_is_on_every_screen() -> None:
    pytest.importorskip("dlib")
    from mynaid.face import FaceMatcher
    from mynaid.face.dlib_backend import DlibBackend
    from mynaid.face.matcher import UnsafeThresholdError, check_threshold
    from mynaid.kioskweb.service import EmulatorSlot, KioskService, KioskSettings

    with pytest.raises(UnsafeThresholdError, match="looser than the calibrated"):
        FaceMatcher(DlibBackend(), threshold=0.99)
    with pytest.raises(ValueError):
        check_threshold(float("nan"), 0.55)
    assert check_threshold(0.5, 0.55) is False  # stricter is always allowed
    matcher = FaceMatcher(DlibBackend(), threshold=0.99, allow_unsafe_threshold=True)
    assert matcher.unsafe_threshold
    service = KioskService(EmulatorSlot(lambda: build_card(default_profile())),
                           KioskSettings(matcher=matcher))
    screen_id = service.board.show("card")
    assert screen_id and service.board.snapshot()[1]["unsafe_threshold"] == 0.99


def test_serve_binds_loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    from mynaid.kioskweb.app import create_app, serve
    from mynaid.kioskweb.service import EmulatorSlot, KioskService

    seen: dict[str, Any] = {}

    def fake_run(self: Any, *args: Any) -> None:
        seen["host"], seen["port"] = self.config.host, self.config.port
        seen["access_log"] = self.config.access_log

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    service = KioskService(EmulatorSlot(lambda: build_card(default_profile())))
    serve(create_app(service, staff_pin=STAFF_PIN), service, 8799)
    assert seen == {"host": "127.0.0.1", "port": 8799, "access_log": False}


# --- the CLI (issue 11) -------------------------------------------------------------------------


def test_cli_threshold_checks(cli_run: CliRunner) -> None:
    code, _out, err = astuple(cli_run("--emulator", "kiosk", "--threshold", "-1",
                                      "--camera", str(SAMPLE_FRAME)))
    assert code == 2 and "Traceback" not in err
    pytest.importorskip("dlib")
    code, _out, err = astuple(cli_run(
        "--emulator", "kiosk", "--method", "face", "--camera", str(SAMPLE_FRAME),
        "--issuer-key", str(VISUAL_ISSUER), "--threshold", "99", stdin=f"{PIN_B}\ny\n"))
    assert code == 2 and "looser than the calibrated" in err
    assert "[card]" not in err  # refused before the card or the patient
    code, _out, err = astuple(cli_run(
        "--emulator", "--json", "kiosk", "--method", "face", "--camera", str(SAMPLE_FRAME),
        "--issuer-key", str(VISUAL_ISSUER), "--threshold", "0.7", "--unsafe-threshold",
        stdin=f"{PIN_B}\ny\n"))
    assert code == 0 and "UNSAFE face threshold 0.7" in err


def test_cli_configuration_checked_before_asking(cli_run: CliRunner,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MYNAID_ISSUER_KEYS", raising=False)
    code, _out, err = astuple(cli_run("--emulator", "kiosk", "--method", "face"))
    assert code == 2 and "needs --camera" in err
    code, _out, err = astuple(cli_run("--emulator", "kiosk", "--method", "face",
                                      "--camera", str(SAMPLE_FRAME), stdin=f"{PIN_B}\n"))
    assert code == 2 and "issuer key" in err and "[card]" not in err
    # A camera without an issuer key: face is not offered (it could not complete).
    code, _out, err = astuple(cli_run("--emulator", "kiosk", "--camera", str(SAMPLE_FRAME),
                                      stdin="face\n\n"))
    assert "face route is not offered" in err and "identify by (pin/visual" in err


def test_cli_never_echoes_a_shifted_script(cli_run: CliRunner) -> None:
    """The script's answers arrive at the wrong prompts: 照合番号B and the PIN land on the
    method question. Nothing typed is ever printed, only what was understood."""
    code, out, err = astuple(cli_run("--emulator", "kiosk", stdin=f"{PIN_B}\n1234\n\n"))
    assert code != 0
    assert PIN_B not in out + err and "1234" not in out + err
    assert err.count("not one of the choices") == 2 and "-> cancel" in err
    code, out, err = astuple(cli_run("--emulator", "kiosk", "--method", "visual",
                                     stdin="1234\ny\ny\n"))
    assert "1234" not in out + err and "-> yes" in err


def test_session_card_says_when_the_face_route_cannot_complete() -> None:
    protocol = CardProtocol(EmulatorTransport(build_card(default_profile())))
    assert SessionKioskCard(protocol).face_possible is False
    assert kiosk_card(build_card(default_profile())).face_possible is True


def test_example_kiosk_without_pyscard_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """examples/kiosk.py on a machine without pyscard: one line, exit 1, no traceback."""
    import builtins
    import importlib

    real_import = builtins.__import__

    def no_pyscard(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "smartcard" or name.startswith("smartcard."):
            raise ImportError("No module named 'smartcard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "mynaid.transport.pcsc", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_pyscard)
    monkeypatch.setattr(sys, "argv", ["kiosk.py", "--once"])
    example = importlib.import_module("examples.kiosk")
    assert example.run() == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("kiosk: PC/SC support needs pyscard")
    assert "Traceback" not in err


def test_reduced_frame_detection_finds_the_same_face() -> None:
    """Detecting on a 320-pixel copy (the kiosk's speed-up) finds the holder's face where
    full-size detection does, and the encoding (on the full frame) matches the card."""
    pytest.importorskip("dlib")
    from mynaid.face import FaceMatcher
    from mynaid.face.dlib_backend import DlibBackend
    from mynaid.face.imaging import load_image
    from tests.test_kiosk import PROFILE_PHOTO

    frame = load_image(SAMPLE_FRAME)
    full = FaceMatcher(DlibBackend())
    reduced = FaceMatcher(DlibBackend(detect_max_side=320))
    a, b = full.analyze(frame), reduced.analyze(frame)
    assert a.face is not None and b.face is not None and b.report.ok
    for x, y in zip(astuple(a.face.box), astuple(b.face.box), strict=True):
        assert abs(x - y) <= 0.15 * (a.face.box.right - a.face.box.left)
    assert reduced.compare(reduced.reference(PROFILE_PHOTO), frame).match
    with pytest.raises(ValueError):
        DlibBackend(detect_max_side=10)
