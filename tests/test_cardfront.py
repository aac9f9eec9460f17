"""Card-front OCR (mynaid.cardfront) and `mynaid confirm` / `--scan` on the in-process card."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mynaid.cardfront.holders import expiry_for, generate_holders
from mynaid.cardfront.validate import (
    BirthDate,
    check_plausible,
    parse_birth,
    parse_code,
    parse_expiry,
)
from mynaid.era import build_pin_b
from mynaid.errors import CardFrontError
from tests.cardfront_data import TODAY, bad_photo, front_photo, needs_ocr, write

ISSUER = Path(__file__).resolve().parent.parent / "vectors" / "test-pki" / "visual-issuer.pem"
PIN_B = "55021720352285"


# --- validation (pure) -----------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.dates(dt.date(1900, 1, 1), dt.date(2026, 12, 1)), st.booleans())
def test_printed_birth_dates_parse_back(date: dt.date, era: bool) -> None:
    from mynaid.cardfront.render import CardFrontData

    line = CardFrontData("n", "a", date, "1", date, "0000", "0" * 16, era).birth_line()
    assert parse_birth(line) == BirthDate(date, era)
    assert parse_birth(line.replace(" ", "")) == BirthDate(date, era)


@pytest.mark.parametrize("text", ["平成31年5月1日生", "昭和64年1月8日生", "令和0年6月1日生",
                                  "大正16年1月1日生", "昭和55年2月30日生", "1999年13月1日生"])
def test_dates_that_do_not_exist_are_refused(text: str) -> None:
    with pytest.raises(CardFrontError) as info:
        parse_birth(text)
    assert info.value.field == "birth"


def test_era_first_years_and_lines_that_are_not_dates() -> None:
    assert parse_birth("令和元年 5月 1日生") == BirthDate(dt.date(2019, 5, 1), True)
    assert parse_birth("平成元年1月8日生") == BirthDate(dt.date(1989, 1, 8), True)
    assert parse_birth("東京都千代田区1-2-3") is None
    assert parse_expiry("2035年 2月17日まで有効") == dt.date(2035, 2, 17)
    assert parse_expiry("12035年2月17日まで有効") is None  # a stray digit is not a year
    assert parse_code("2285") == "2285"
    for text in ("228", "22855", "22a5", ""):
        assert parse_code(text) is None


@pytest.mark.parametrize(("birth", "era", "expiry", "field"), [
    (dt.date(1980, 2, 17), True, dt.date(2035, 2, 18), "expiry"),  # not the birthday
    (dt.date(2000, 2, 17), True, dt.date(2027, 2, 17), "expiry"),  # age 27: no rule gives it
    (dt.date(1980, 2, 17), True, dt.date(2040, 2, 17), "expiry"),  # > 11 years ahead
    (dt.date(1980, 2, 17), True, dt.date(2016, 2, 17), "expiry"),  # before any expiry
    (dt.date(2027, 2, 17), True, dt.date(2032, 2, 17), "birth"),   # born in the future
])
def test_implausible_reads_are_refused(birth: dt.date, era: bool, expiry: dt.date,
                                       field: str) -> None:
    with pytest.raises(CardFrontError) as info:
        check_plausible(BirthDate(birth, era), expiry, TODAY)
    assert info.value.field == field
    assert str(birth.year) not in str(info.value)  # the message never repeats the read


def test_plausible_reads_pass() -> None:
    check_plausible(BirthDate(dt.date(1980, 2, 17), True), dt.date(2035, 2, 17), TODAY)
    check_plausible(BirthDate(dt.date(2012, 2, 29), True), dt.date(2027, 2, 28), TODAY)
    # A foreign resident's card may end with the residence period, on any day.
    check_plausible(BirthDate(dt.date(1990, 6, 1), False), dt.date(2028, 9, 30), TODAY)


def test_generated_holders_follow_the_card_rules_and_the_seed() -> None:
    holders = generate_holders(3, 24, TODAY)
    assert holders == generate_holders(3, 24, TODAY)
    assert {h.era_birth for h in holders} == {True, False}
    for h in holders:
        if h.era_birth:
            check_plausible(BirthDate(h.birth, True), h.expiry, TODAY)
    assert expiry_for(dt.date(1980, 2, 17), dt.date(2025, 3, 1)) == dt.date(2035, 2, 17)
    assert expiry_for(dt.date(1980, 2, 17), dt.date(2025, 1, 10)) == dt.date(2034, 2, 17)
    assert expiry_for(dt.date(2010, 6, 1), dt.date(2020, 7, 1)) == dt.date(2025, 6, 1)


# --- hostile input -----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_are_a_typed_refusal(data: bytes) -> None:
    from mynaid.cardfront.detect import decode_image

    with pytest.raises(CardFrontError) as info:
        decode_image(data)
    assert info.value.field == "image"


def test_a_picture_without_a_card_is_refused_not_crashed() -> None:
    import cv2
    import numpy as np

    from mynaid.cardfront import read_card_front

    noise = np.random.default_rng(1).integers(0, 255, (480, 640, 3), np.uint8)
    read = read_card_front(cv2.imencode(".png", noise)[1].tobytes(), today=TODAY)
    assert not read.accepted and read.problem is not None
    with pytest.raises(CardFrontError):
        read.collation_b()
    tiny = read_card_front(cv2.imencode(".png", noise[:50, :50])[1].tobytes())
    assert tiny.problem is not None and tiny.problem.field == "card"


# --- OCR on generated shots ------------------------------------------------------------------


@needs_ocr
def test_augmented_subset_never_sends_a_wrong_read() -> None:
    """A small slice of the benchmark (benchmarks/bench_cardfront.py runs >= 200 images)."""
    from mynaid.cardfront import read_card_front
    from mynaid.cardfront.holders import generate_samples

    exact = wrong = 0
    samples = list(generate_samples(3, 8, 2, TODAY))
    for s in samples:
        read = read_card_front(s.jpeg, today=TODAY)
        if read.accepted:
            truth = build_pin_b(s.holder.birth, s.holder.expiry.year, s.holder.security_code)
            if read.collation_b() == truth:
                exact += 1
            else:
                wrong += 1
        else:
            assert read.problem is not None and read.problem.field in (
                "card", "birth", "expiry", "security_code")
    assert wrong == 0
    assert exact >= 0.75 * len(samples)


@needs_ocr
def test_bad_photo_names_the_field_and_keeps_the_values_secret() -> None:
    from mynaid.cardfront import read_card_front

    read = read_card_front(bad_photo(), today=TODAY)
    assert not read.accepted and read.problem is not None
    assert "photo" in read.problem.message or "card" in read.problem.message
    assert "2285" not in repr(read) and "2285" not in json.dumps(read.as_dict())


@needs_ocr
def test_test_card_front_gives_its_collation_b() -> None:
    from mynaid.cardfront import read_card_front

    read = read_card_front(front_photo(), today=TODAY)
    assert read.accepted, read.problem
    assert read.collation_b() == PIN_B
    assert all(f.confidence > 0.5 for f in (read.birth, read.expiry, read.security_code))
    assert "2285" not in repr(read)


# --- CLI on the in-process card ----------------------------------------------------------------


def _count_verify(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Wrap every transport the CLI opens in a RecordingTransport; returns them."""
    import importlib

    from mynaid.transport.recording import RecordingTransport

    # mynaid.connect is the function; the module of the same name, by its full name.
    connect_module = importlib.import_module("mynaid.connect")
    made: list[object] = []
    real = connect_module.open_transport

    def recording(*args: object, **kwargs: object) -> RecordingTransport:
        t = RecordingTransport(real(*args, **kwargs))  # type: ignore[arg-type]
        made.append(t)
        return t

    monkeypatch.setattr(connect_module, "open_transport", recording)
    return made


@needs_ocr
def test_visual_and_text_scan(cli_run, tmp_path: Path,  # type: ignore[no-untyped-def]
                              monkeypatch: pytest.MonkeyPatch) -> None:
    photo = write(tmp_path / "front.jpg", front_photo())
    r = cli_run("--emulator", "visual", "--scan", str(photo), "--issuer-key", str(ISSUER))
    assert r.code == 0, r.err
    assert "Birth date:  1980-02-17" in r.out and "Integrity:   ok" in r.out
    r = cli_run("--emulator", "text", "--with", "pin-b", "--scan", str(photo), "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["birth"] == "19800217"
    assert PIN_B not in r.out + r.err and "2285" not in r.err
    r = cli_run("--emulator", "text", "--with", "pin-a", "--scan", str(photo))
    assert r.code == 2 and "pin-b" in r.err


@needs_ocr
def test_bad_photo_is_refused_before_any_verify(cli_run,  # type: ignore[no-untyped-def]
                                                tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    made = _count_verify(monkeypatch)
    photo = write(tmp_path / "bad.jpg", bad_photo())
    for argv in (("visual", "--scan", str(photo)), ("confirm", "--scan", str(photo))):
        r = cli_run("--emulator", *argv)
        assert r.code == 2, r.err
        assert "card front" in r.err and "nothing sent" in r.err
        assert "Traceback" not in r.err
    assert sum(t.count(0x20) for t in made) == 0  # type: ignore[attr-defined]


@needs_ocr
def test_confirm_record_and_report(cli_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    photo = write(tmp_path / "front.jpg", front_photo())
    record, page = tmp_path / "records.jsonl", tmp_path / "report.html"
    r = cli_run("--emulator", "confirm", "--scan", str(photo), "--issuer-key", str(ISSUER),
                "--record", str(record), "--html", str(page), "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["result"] == "confirmed"
    assert all(c["passed"] for c in out["checks"].values())
    line = json.loads(record.read_text())
    assert set(line) == {"time", "method", "checks", "expiry_year", "security_code", "result"}
    assert line["expiry_year"] == 2035 and line["security_code"] == "2285"
    assert line["method"] == "ic-chip+card-front-ocr"
    assert "123456789018" not in record.read_text() + r.out  # never the My Number
    assert oct(record.stat().st_mode & 0o777) == "0o600"
    text = page.read_text()
    assert "data:image/png;base64," in text and "確認済み" in text
    # Without a trusted issuer key the face cannot be shown authentic: not confirmed.
    r = cli_run("--emulator", "confirm", "--scan", str(photo), "--json")
    assert r.code == 6 and json.loads(r.out)["result"] == "failed"


@needs_ocr
def test_scan_source_refusal_is_reported(tmp_path: Path) -> None:
    from mynaid.cli.scan import ScanCollationB, ScanSource

    seen: list[CardFrontError] = []
    source = ScanCollationB(ScanSource(path=write(tmp_path / "b.jpg", bad_photo())),
                            seen.append)
    assert source.read() is None and len(seen) == 1
    good = ScanCollationB(ScanSource(path=write(tmp_path / "g.jpg", front_photo())))
    assert good.read() == PIN_B


def test_a_light_object_against_the_card_is_not_taken_for_part_of_it() -> None:
    """A light, unsaturated block lying against the card's side merges with it in the
    brightness views; the outline chosen must still be the card's own (contrast all round)."""
    import cv2
    import numpy as np

    from mynaid.cardfront.detect import find_card
    from mynaid.cardfront.render import CardFrontData, render_front
    from mynaid.emulator import default_profile

    card = cv2.cvtColor(np.asarray(render_front(CardFrontData.from_profile(
        default_profile(), serial="1234567890123456"))), cv2.COLOR_RGB2BGR)
    ch, cw = card.shape[:2]
    frame = np.full((960, 1280, 3), (120, 130, 110), np.uint8)
    x0, y0 = 300, 200
    frame[y0 : y0 + ch, x0 : x0 + cw] = card
    frame[y0 + 100 : y0 + 440, x0 - 200 : x0] = (200, 204, 200)  # the light block, touching
    frame = cv2.GaussianBlur(frame, (0, 0), 2)  # a camera's softness: faint Canny edges
    found = find_card(frame)
    truth = np.array([[x0, y0], [x0 + cw, y0], [x0 + cw, y0 + ch], [x0, y0 + ch]], np.float32)
    assert np.abs(found.corners - truth).max() < 12, found.corners.tolist()
    assert cv2.contourArea(found.corners) < 1.05 * cw * ch
