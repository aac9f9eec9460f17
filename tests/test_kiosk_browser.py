"""The kiosk page in a real browser: headless Chromium (Selenium) against ``mynaid.kioskweb``
on loopback, the card through pcscd + vpcd with the emulator, and a video file as camera.

One browser (a patient tab and a staff tab) and one kiosk server serve every scenario, in
order; each scenario inserts a fresh emulated card and leaves the kiosk at screen ①.
Every wait is on a DOM condition (WebDriverWait) or a PC/SC event, never a sleep. Each
screen is saved as a PNG: into pytest's temporary directory, or into
``$MYNAID_SCREENSHOTS_DIR`` when set (``make screenshots`` sets it to docs/screenshots/, the
README's; a plain test run leaves the tree as it was).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.kiosk_web_support import (
    PIN_B,
    SAMPLE_FRAME,
    SHARED_FACES,
    VISUAL_ISSUER,
    GatedFrames,
    LoopbackServer,
    http,
    make_video,
)

pytestmark = pytest.mark.pcsc

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
#: Where the screenshots go when asked (``make screenshots``); else a temporary directory.
SCREENSHOTS_DIR = os.environ.get("MYNAID_SCREENSHOTS_DIR")
STAFF_PIN = "24680"
#: Upper bound of every DOM wait (a failing test ends, never hangs).
WAIT = float(os.environ.get("KIOSK_WAIT", "60"))


def _require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("MYNAID_REQUIRE_PCSC") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


pytest.importorskip("cv2")
pytest.importorskip("dlib")
selenium = pytest.importorskip("selenium")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@dataclass
class Camera:
    """The camera the kiosk opens per pass: a video file, optionally held at a frame."""

    video: Path | None = None
    hold_at: int | None = None
    release: threading.Event = field(default_factory=threading.Event)

    def open(self) -> Any:
        from mynaid.face.camera import open_frame_source

        assert self.video is not None
        source = open_frame_source(str(self.video))
        if self.hold_at is None:
            return source
        return GatedFrames(source, self.hold_at, self.release)


@dataclass
class Kiosk:
    server: LoopbackServer
    service: Any
    camera: Camera
    collation: list[str | None]

    @property
    def url(self) -> str:
        return self.server.url


class ScannedCollationB:
    """Stands in for the card-face OCR (helper "ocr"): the value a scan would give."""

    def __init__(self, box: list[str | None]) -> None:
        self.box = box

    def read(self) -> str | None:
        return self.box[0]


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("videos")
    out = {"holder": make_video(folder / "holder.avi", SAMPLE_FRAME)}
    if (SHARED_FACES / "obama.jpg").exists():
        out["other"] = make_video(folder / "other.avi", SHARED_FACES / "obama.jpg")
    return out


@pytest.fixture(scope="module")
def kiosk(rig: Any, videos: dict[str, Path]) -> Iterator[Kiosk]:
    from mynaid.face import FaceMatcher
    from mynaid.face.dlib_backend import DlibBackend
    from mynaid.integrity import load_issuer_key
    from mynaid.kiosk import KioskConfig
    from mynaid.kioskweb.app import create_app
    from mynaid.kioskweb.service import KioskService, KioskSettings, PcscSlot
    from tests.pcsc_rig import READER_PORTS

    camera = Camera(videos["holder"])
    collation: list[str | None] = [PIN_B]
    settings = KioskSettings(
        config=KioskConfig(step_timeout=90), open_frames=camera.open,
        matcher=FaceMatcher(DlibBackend(detect_max_side=320)),
        issuer_keys=(load_issuer_key(VISUAL_ISSUER),),
        collation_b_source=ScannedCollationB(collation), result_timeout=5)
    service = KioskService(PcscSlot(READER_PORTS[35963]), settings)
    server = LoopbackServer(create_app(service, staff_pin=STAFF_PIN), service.board).start()
    try:
        yield Kiosk(server, service, camera, collation)
    finally:
        server.stop()


@dataclass
class Browser:
    driver: Any
    patient: str
    staff: str
    shots: Path

    def to_patient(self) -> None:
        self.driver.switch_to.window(self.patient)

    def to_staff(self) -> None:
        self.driver.switch_to.window(self.staff)


@pytest.fixture(scope="module")
def browser(kiosk: Kiosk, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    _require(Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(),
             "chromium and chromium-driver are not installed (make test installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                "--window-size=1280,1100", "--lang=ja",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(arg)
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.get(kiosk.url + "/")
        patient = driver.current_window_handle
        driver.switch_to.new_window("tab")
        driver.get(kiosk.url + "/staff")
        staff = driver.current_window_handle
        driver.find_element(By.ID, "staff-pin").send_keys(STAFF_PIN)
        driver.find_element(By.ID, "login-button").click()
        WebDriverWait(driver, WAIT).until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-staff") != "login")
        shots = (Path(SCREENSHOTS_DIR) if SCREENSHOTS_DIR
                 else tmp_path_factory.mktemp("screenshots"))
        b = Browser(driver, patient, staff, shots)
        b.to_patient()
        yield b
    finally:
        driver.quit()


# --- helpers --------------------------------------------------------------------------------


def body_attr(driver: Any, name: str) -> str | None:
    try:
        return driver.find_element(By.TAG_NAME, "body").get_attribute(name)  # type: ignore[no-any-return]
    except StaleElementReferenceException:
        return None


def wait_for(driver: Any, condition: Callable[[Any], Any], what: str) -> Any:
    return WebDriverWait(driver, WAIT, ignored_exceptions=(
        StaleElementReferenceException, NoSuchElementException)).until(condition, what)


def wait_screen(b: Browser, screen: str) -> None:
    b.to_patient()
    wait_for(b.driver, lambda d: body_attr(d, "data-screen") == screen, f"screen {screen}")


def click(driver: Any, element_id: str) -> None:
    def press(d: Any) -> bool:
        d.find_element(By.ID, element_id).click()
        return True

    wait_for(driver, press, f"click #{element_id}")


def text_of(driver: Any, element_id: str) -> str:
    return wait_for(driver, lambda d: d.find_element(By.ID, element_id).text, element_id)  # type: ignore[no-any-return]


def shot(b: Browser, name: str) -> None:
    b.shots.mkdir(parents=True, exist_ok=True)
    b.driver.save_screenshot(str(b.shots / f"{name}.png"))


def type_pin(b: Browser, pin: str) -> None:
    for digit in pin:
        click(b.driver, f"key-{digit}")
    wait_for(b.driver, lambda d: d.find_element(By.ID, "pin-dots").text == "●" * len(pin),
             "the PIN dots")
    click(b.driver, "key-ok")


def insert(rig: Any, b: Browser) -> Any:
    wait_screen(b, "card")
    return rig.insert_card()


def take_out(rig: Any, b: Browser, card: Any) -> None:
    rig.remove_card(card)
    wait_screen(b, "card")


def method_options(b: Browser) -> set[str]:
    buttons = b.driver.find_elements(By.CSS_SELECTOR, "button[id^=choose-]")
    return {button.get_attribute("id").removeprefix("choose-") for button in buttons}


# --- scenarios, in order ------------------------------------------------------------------


def test_face_route_with_the_holders_video(kiosk: Kiosk, browser: Browser, rig: Any) -> None:
    """① → ② → ③ (camera preview, face frame, guidance) → ④ (46 years old) → ⑤."""
    b = browser
    kiosk.camera.hold_at, kiosk.camera.release = 1, threading.Event()
    wait_screen(b, "card")
    shot(b, "1-card")
    card = insert(rig, b)
    wait_screen(b, "method")
    assert method_options(b) == {"face", "pin", "cancel"}
    shot(b, "2-method")
    click(b.driver, "choose-face")
    wait_screen(b, "face")
    # The preview of the held frame, with the face found inside the frame.
    wait_for(b.driver, lambda d: d.execute_script(
        "const i = document.getElementById('preview'); return i && i.complete && "
        "i.naturalWidth > 0 && document.querySelector('.camera .box') !== null"),
        "the camera preview with the face box")
    assert b.driver.find_element(By.ID, "guidance").get_attribute("data-guidance") == "ok"
    assert text_of(b.driver, "countdown").startswith("残り")
    shot(b, "3-face")
    kiosk.camera.release.set()
    kiosk.camera.hold_at = None
    wait_screen(b, "consent")
    assert "過去の健診情報を当機関に提供することに同意しますか" in b.driver.page_source
    shot(b, "4-consent")
    click(b.driver, "agree")
    wait_screen(b, "done")
    assert "確認が完了しました" in b.driver.page_source
    assert "カードを取り出してください" in b.driver.page_source
    shot(b, "5-done")
    click(b.driver, "lang")
    wait_for(b.driver, lambda d: "Confirmation complete" in d.page_source, "English")
    shot(b, "5-done-en")
    click(b.driver, "lang")
    outcome = kiosk.service.outcomes[-1]
    assert outcome["result"] == "verified" and outcome["method"] == "face"
    assert outcome["consent"] is True and outcome["face_attempts"] == 1
    take_out(rig, b, card)


def test_another_person_then_pin_guard_and_staff_visual_check(
        kiosk: Kiosk, browser: Browser, rig: Any, videos: dict[str, Path]) -> None:
    """Another person's face → PIN offered; wrong PINs show the tries left; at one try
    left the guard refuses; staff switch to 目視確認 with the chip photo (staff page only)."""
    b = browser
    card = insert(rig, b)
    wait_screen(b, "method")
    if "other" in videos:
        kiosk.camera.video = videos["other"]
        click(b.driver, "choose-face")
        wait_for(b.driver, lambda d: body_attr(d, "data-screen") == "method"
                 and d.find_elements(By.CSS_SELECTOR, "#notice[data-code=face-failed]"),
                 "the face-failed notice")
        assert method_options(b) == {"pin", "cancel"}  # face is not offered again
        shot(b, "2-method-after-face-failed")
    click(b.driver, "choose-pin")
    wait_screen(b, "pin")
    assert b.driver.find_element(By.ID, "tries-left").get_attribute("data-tries") == "3"
    shot(b, "3-pin")
    type_pin(b, "0000")
    wait_for(b.driver, lambda d: d.find_element(By.ID, "tries-left").get_attribute(
        "data-tries") == "2", "2 tries left")
    assert "暗証番号が違います。残り 2 回です" in text_of(b.driver, "notice")
    shot(b, "3-pin-wrong")
    type_pin(b, "0000")
    # One try left: the guard refuses; the keypad is gone and the patient is sent to staff.
    wait_for(b.driver, lambda d: body_attr(d, "data-screen") == "method"
             and d.find_elements(By.ID, "staff-only"), "the ask-staff screen")
    assert b.driver.find_elements(By.ID, "keypad") == []
    assert b.driver.find_element(By.ID, "notice").get_attribute("data-code") == "guard"
    assert method_options(b) == {"cancel"}
    shot(b, "guard-ask-staff")
    # Staff: 目視確認 with the chip photo.
    b.to_staff()
    wait_for(b.driver, lambda d: body_attr(d, "data-staff") == "method", "staff: method")
    click(b.driver, "switch-visual")
    wait_for(b.driver, lambda d: body_attr(d, "data-staff") == "visual" and d.execute_script(
        "const i = document.getElementById('chip-photo'); return !i.closest('[hidden]') && "
        "i.complete && i.naturalWidth > 0"), "staff: the chip photo")
    shot(b, "staff-visual-check")
    wait_screen(b, "wait-staff")
    assert "/staff/photo" not in b.driver.page_source  # never on the patient screen
    assert b.driver.find_elements(By.CSS_SELECTOR, "img[src*=photo]") == []
    assert http(kiosk.url + "/staff/photo")[0] == 403  # not without the staff login
    shot(b, "3-wait-staff")
    b.to_staff()
    click(b.driver, "confirm")
    wait_screen(b, "consent")
    click(b.driver, "disagree")
    wait_screen(b, "done")
    outcome = kiosk.service.outcomes[-1]
    assert outcome["result"] == "verified" and outcome["method"] == "visual"
    assert outcome["pin_attempts"] == 2 and outcome["consent"] is False
    kiosk.camera.video = videos["holder"]
    take_out(rig, b, card)


def test_pin_route_with_the_keypad(kiosk: Kiosk, browser: Browser, rig: Any) -> None:
    b = browser
    card = insert(rig, b)
    wait_screen(b, "method")
    click(b.driver, "choose-pin")
    wait_screen(b, "pin")
    type_pin(b, "1234")
    # The PIN route does not read the card face, so the age is unknown: ④ is asked.
    wait_screen(b, "consent")
    click(b.driver, "agree")
    wait_screen(b, "done")
    outcome = kiosk.service.outcomes[-1]
    assert outcome["method"] == "pin" and outcome["pin_attempts"] == 1
    assert "1234" not in str(outcome) and PIN_B not in str(outcome)
    take_out(rig, b, card)


def test_consent_not_asked_below_40(kiosk: Kiosk, browser: Browser, rig: Any) -> None:
    b = browser
    # Born 1980-02-17: 39 on 2019-11-26 (the kiosk's clock is injected for this pass).
    kiosk.service.settings.clock = lambda: dt.datetime(2019, 11, 26, 9, tzinfo=dt.timezone.utc)
    try:
        card = insert(rig, b)
        wait_screen(b, "method")
        click(b.driver, "choose-face")
        wait_screen(b, "done")
        outcome = kiosk.service.outcomes[-1]
        assert outcome["method"] == "face" and outcome["consent"] is None
        assert "consent" not in [step for step, _at in outcome["steps"]]
        take_out(rig, b, card)
    finally:
        kiosk.service.settings.clock = None


def test_card_removed_mid_flow_returns_to_the_first_screen(
        kiosk: Kiosk, browser: Browser, rig: Any) -> None:
    b = browser
    card = insert(rig, b)
    wait_screen(b, "method")
    click(b.driver, "choose-pin")
    wait_screen(b, "pin")
    click(b.driver, "key-1")
    rig.remove_card(card)  # the patient pulls the card while typing
    wait_screen(b, "card")
    assert "カードを置いてください" in b.driver.page_source
    assert kiosk.service.outcomes[-1]["result"] == "card-removed"


def test_screen_timeout(kiosk: Kiosk, browser: Browser, rig: Any) -> None:
    from dataclasses import replace

    b = browser
    settings = kiosk.service.settings
    saved = settings.config
    settings.config = replace(saved, step_timeout=3)
    try:
        card = insert(rig, b)
        wait_screen(b, "method")
        wait_for(b.driver, lambda d: d.find_elements(
            By.CSS_SELECTOR, "#result[data-result=timed-out]"), "the timeout screen")
        assert "時間切れになりました" in b.driver.page_source
        shot(b, "result-timeout")
        take_out(rig, b, card)
    finally:
        settings.config = saved


def test_pinless_card_offers_no_pin(kiosk: Kiosk, browser: Browser, rig: Any) -> None:
    """顔認証マイナンバーカード: no signature certificate, PIN locked by design (63 C0): the
    PIN is not offered and the card is not reported as blocked."""
    b = browser
    wait_screen(b, "card")
    card = rig.insert_card("--pinless")
    wait_screen(b, "method")
    assert method_options(b) == {"face", "cancel"}
    assert b.driver.find_element(By.ID, "notice").get_attribute("data-code") == "card-read"
    assert "顔認証マイナンバーカード" in text_of(b.driver, "notice")
    shot(b, "2-method-pinless")
    click(b.driver, "choose-face")
    wait_screen(b, "consent")
    click(b.driver, "agree")
    wait_screen(b, "done")
    assert kiosk.service.outcomes[-1]["method"] == "face"
    take_out(rig, b, card)
