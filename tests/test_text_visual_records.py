"""Property tests of the text/visual record parsers (mynaid.records) and the photo helpers.

Random, truncated and overlong input must give a typed :class:`ParseError` and nothing else;
valid records followed by filler must parse to the same result.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mynaid.cardspec import TextFile, VisualFile
from mynaid.emulator.profile import CardProfile
from mynaid.emulator.textvisual import text_records, visual_records
from mynaid.errors import DependencyMissingError, ParseError
from mynaid.iso7816.tlv import encode_tlv, parse_first
from mynaid.photo import (
    J2K_MAGIC,
    PhotoFormat,
    decode,
    detect_format,
    export,
    jp2_codestream,
)
from mynaid.records import (
    AgeRecord,
    Attributes,
    CardFace,
    CvCertificate,
    GenericRecord,
    MyNumber,
    Sex,
    TextIntegrityRecord,
    my_number_check_digit,
    valid_my_number,
)

Parser = Callable[[bytes], object]
PARSERS: dict[str, Parser] = {
    "my_number": MyNumber.parse,
    "attributes": Attributes.parse,
    "integrity": TextIntegrityRecord.parse,
    "cv_certificate": CvCertificate.parse,
    "face": CardFace.parse,
    "age": AgeRecord.parse,
    "generic": GenericRecord.parse,
}


@pytest.fixture(scope="module")
def records(profile: CardProfile) -> dict[str, bytes]:
    assert profile.text is not None and profile.visual is not None
    t = text_records(profile.text)
    v = visual_records(profile.visual)
    return {
        "my_number": t[TextFile.MY_NUMBER],
        "attributes": t[TextFile.ATTRIBUTES],
        "integrity": t[TextFile.INTEGRITY],
        "cv_certificate": t[TextFile.CV_CERTIFICATE],
        "face": v[VisualFile.FACE],
        "age": v[VisualFile.AGE],
        "generic": v[VisualFile.BASIC_INFO],
    }


def only_parse_errors(parser: Parser, data: bytes) -> None:
    try:
        parser(data)
    except ParseError:
        pass  # the one acceptable failure


@pytest.mark.parametrize("name", sorted(PARSERS))
@given(data=st.binary(max_size=600))
@settings(max_examples=150, deadline=None)
def test_random_input(name: str, data: bytes) -> None:
    only_parse_errors(PARSERS[name], data)


@pytest.mark.parametrize("name", sorted(PARSERS))
@given(data=st.data())
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_truncated_input(records: dict[str, bytes], name: str, data: st.DataObject) -> None:
    record = parse_first(records[name]).raw
    cut = data.draw(st.integers(0, len(record) - 1))
    with pytest.raises(ParseError):
        PARSERS[name](record[:cut])


@pytest.mark.parametrize("name", sorted(PARSERS))
@given(filler=st.binary(max_size=64))
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_trailing_bytes_are_ignored(records: dict[str, bytes], name: str,
                                    filler: bytes) -> None:
    record = parse_first(records[name]).raw
    assert PARSERS[name](record + filler) == PARSERS[name](record)


@pytest.mark.parametrize("name", sorted(PARSERS))
@given(data=st.data())
@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_mutated_input(records: dict[str, bytes], name: str, data: st.DataObject) -> None:
    """Any byte changed anywhere (lengths and tags included): a result or a ParseError."""
    record = bytearray(parse_first(records[name]).raw)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(record) - 1))
        record[i] = data.draw(st.integers(0, 255))
    only_parse_errors(PARSERS[name], bytes(record))


@pytest.mark.parametrize("name", sorted(PARSERS))
@given(extra=st.integers(1, 70000))
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_overlong_declared_length(records: dict[str, bytes], name: str, extra: int) -> None:
    """The outer TLV claims more than is there (or more than the 64 KB bound)."""
    tlv = parse_first(records[name])
    tag = tlv.raw[: len(tlv.raw) - len(tlv.value) - _length_size(tlv.raw)]
    length = len(tlv.value) + extra
    header = tag + (b"\x83" + length.to_bytes(3, "big") if length > 0xFFFF
                    else b"\x82" + length.to_bytes(2, "big"))
    with pytest.raises(ParseError):
        PARSERS[name](header + tlv.value)


def _length_size(raw: bytes) -> int:
    tag_size = 2 if raw[0] & 0x1F == 0x1F else 1
    first = raw[tag_size]
    return 1 + (first & 0x7F if first & 0x80 else 0)


def test_field_rules(records: dict[str, bytes]) -> None:
    def rebuild(tag: int, children: list[tuple[int, bytes]]) -> bytes:
        return encode_tlv(tag, b"".join(encode_tlv(t, v) for t, v in children))

    attrs = [(c.tag, c.value) for c in parse_first(records["attributes"]).children()]
    cases = {
        "duplicate tag": [*attrs, (57122, b"x")],
        "missing sex": [c for c in attrs if c[0] != 0xDF25],
        "bad date": [(t, b"1980021X" if t == 0xDF24 else v) for t, v in attrs],
        "not utf-8": [(t, b"\xff\xfe" if t == 0xDF22 else v) for t, v in attrs],
        "control chars": [(t, b"a\nb" if t == 0xDF23 else v) for t, v in attrs],
        "short offsets": [(t, v[:6] if t == 0xDF21 else v) for t, v in attrs],
    }
    for what, children in cases.items():
        with pytest.raises(ParseError):
            Attributes.parse(rebuild(0xFF20, children))
        assert what
    # An unknown sex code is kept as "other", not a failed record (card-reference §9).
    other_sex = Attributes.parse(rebuild(0xFF20, [(t, b"3" if t == 0xDF25 else v)
                                                  for t, v in attrs]))
    assert other_sex.sex is Sex.OTHER and other_sex.sex_code == b"3"
    # A partly unknown date is kept as text.
    unknown_day = [(t, b"19800200" if t == 0xDF24 else v) for t, v in attrs]
    parsed = Attributes.parse(rebuild(0xFF20, unknown_day))
    assert parsed.birth is None and parsed.birth_text == "19800200"
    with pytest.raises(ParseError):
        MyNumber.parse(encode_tlv(0xFF10, b"123456789012"))  # bad check digit
    with pytest.raises(ParseError):
        MyNumber.parse(encode_tlv(0xFF11, b"123456789018"))  # wrong tag
    with pytest.raises(ParseError):
        GenericRecord.parse(records["generic"], tag=0xFF40)


@pytest.mark.parametrize(("value", "ok"), [
    ("123456789018", True), ("537686677188", True), ("123456789012", False),
    ("12345678901", False), ("１２３４５６７８９０１８", False), ("12345678901a", False),
])
def test_my_number_check_digit(value: str, ok: bool) -> None:
    assert valid_my_number(value) is ok


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_exactly_one_check_digit(first11: str) -> None:
    valid = [d for d in range(10) if valid_my_number(first11 + str(d))]
    assert valid == [my_number_check_digit(first11)]


# --- photo -----------------------------------------------------------------------------------


def test_photo_formats(profile: CardProfile) -> None:
    assert profile.visual is not None
    jp2 = profile.visual.photo
    assert detect_format(jp2) is PhotoFormat.JP2
    j2k = jp2_codestream(jp2)
    assert j2k.startswith(J2K_MAGIC) and detect_format(j2k) is PhotoFormat.J2K
    assert jp2_codestream(j2k) == j2k
    assert detect_format(b"\x89PNG\r\n\x1a\n") is PhotoFormat.UNKNOWN
    assert export(jp2, "jp2") == (jp2, ".jp2") and export(j2k, "jp2") == (j2k, ".j2k")
    with pytest.raises(ParseError):
        jp2_codestream(jp2[:40])
    with pytest.raises(ParseError):
        decode(b"GIF89a")


@given(st.binary(max_size=200))
def test_jp2_box_walk_is_bounded(tail: bytes) -> None:
    try:
        jp2_codestream(bytes.fromhex("0000000C6A5020200D0A870A") + tail)
    except ParseError:
        pass


def test_photo_decode(profile: CardProfile) -> None:
    pytest.importorskip("cv2")
    assert profile.visual is not None
    jp2 = profile.visual.photo
    for data in (jp2, jp2_codestream(jp2), jp2_codestream(jp2) + b"\xff" * 32):
        photo = decode(data)
        # Greyscale stays one channel (IMREAD_UNCHANGED): a raw greyscale J2K decodes too.
        assert (photo.width, photo.height, photo.channels) == (378, 472, 1)
    png, ext = export(jp2, "png")
    assert ext == ".png" and png.startswith(b"\x89PNG")
    with pytest.raises(ParseError):
        decode(jp2_codestream(jp2)[:200])  # truncated


def test_photo_without_opencv(monkeypatch: pytest.MonkeyPatch, profile: CardProfile) -> None:
    assert profile.visual is not None
    monkeypatch.setitem(sys.modules, "cv2", None)  # makes "import cv2" fail
    with pytest.raises(DependencyMissingError, match=r"mynaid\[photo\]"):
        decode(profile.visual.photo)
    # The bytes as stored need no OpenCV.
    assert export(profile.visual.photo, "jp2")[0] == profile.visual.photo


# --- the committed card-face images ----------------------------------------------------------

FACE_DIR = Path(__file__).resolve().parent.parent / "vectors" / "card-face"


def _png_header(data: bytes) -> tuple[int, int, int, int]:
    """Width, height, bit depth and colour type from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height, data[24], data[25]


@pytest.mark.parametrize("name", ["name.png", "address.png", "security-code.png",
                                  "my-number.png"])
def test_committed_images_are_one_bit_pngs(name: str) -> None:
    data = (FACE_DIR / name).read_bytes()
    _w, _h, depth, colour = _png_header(data)
    assert (depth, colour) == (1, 0)  # 1-bit greyscale
    assert len(data) < 2048


def test_committed_photo_is_small_greyscale_jp2() -> None:
    data = (FACE_DIR / "photo.jp2").read_bytes()
    assert detect_format(data) is PhotoFormat.JP2 and 1024 < len(data) < 8192
    codestream = jp2_codestream(data)
    # SIZ marker segment right after SOC: Rsiz, Xsiz, Ysiz, ..., Csiz (component count).
    assert codestream[2:4] == b"\xff\x51"
    width, height = struct.unpack(">II", codestream[8:16])
    components = struct.unpack(">H", codestream[40:42])[0]
    assert (width, height, components) == (378, 472, 1)  # the card's size (§9)


def test_image_generator_is_deterministic() -> None:
    pytest.importorskip("PIL")
    pytest.importorskip("skimage")
    sys.path.insert(0, str(FACE_DIR.parent))
    try:
        import make_card_face_images as gen
    finally:
        sys.path.remove(str(FACE_DIR.parent))
    first, second = gen.build(), gen.build()
    assert first == second
    assert set(first) == {FACE_DIR / n for n in ("photo.jp2", "name.png", "address.png",
                                                 "security-code.png", "my-number.png")}
