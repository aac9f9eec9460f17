"""The ATR decoder: the known My Number Card ATRs, ISO 7816-3 edge cases, and fuzzing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mynaid.atr import KNOWN_ATRS, parse_atr
from mynaid.emulator.card import ALTERNATE_ATR, DEFAULT_ATR
from mynaid.errors import ParseError


def with_tck(body: bytes) -> bytes:
    """``body`` (TS … historical bytes) followed by the TCK that makes the XOR zero."""
    check = 0
    for b in body[1:]:
        check ^= b
    return body + bytes([check])


def test_default_my_number_atr() -> None:
    atr = parse_atr(DEFAULT_ATR)
    assert atr.raw == bytes.fromhex("3BE000FF8131FE4514")
    assert atr.known_name is not None and "My Number Card" in atr.known_name
    assert atr.convention == "direct"
    assert [b.name for b in atr.interface_bytes] == ["TB1", "TC1", "TD1", "TD2", "TA3", "TB3"]
    assert atr.byte("TC", 1) == 0xFF
    assert atr.protocols == (1,)
    assert atr.byte("TA", 3) == 0xFE
    assert "IFSC 254" in atr.interface_bytes[4].meaning
    assert "BWI=4, CWI=5" in atr.interface_bytes[5].meaning
    assert atr.historical == b""
    assert atr.tck == 0x14 and atr.tck_ok is True
    assert atr.fi_di == (372, 5.0, 1)  # no TA1: the defaults
    assert atr.problems == ()


def test_alternate_my_number_atr_with_historical_bytes() -> None:
    atr = parse_atr(ALTERNATE_ATR)
    assert atr.known_name is not None and atr.known_name != KNOWN_ATRS[DEFAULT_ATR]
    assert atr.protocols == (1,)
    assert atr.byte("TA", 3) == 0xFB
    assert atr.historical == bytes.fromhex("8073C60100")
    (caps,) = atr.historical_objects
    assert caps.tag == 0x7 and caps.name == "card capabilities"
    assert caps.value == bytes.fromhex("C60100")
    assert "extended Lc/Le not announced" in caps.meaning
    assert atr.tck == 0x00 and atr.tck_ok is True
    assert atr.problems == ()


def test_minimal_atr_implies_t0_without_tck() -> None:
    atr = parse_atr(bytes.fromhex("3B00"))
    assert atr.protocols == (0,)
    assert atr.tck is None and atr.tck_ok is None and not atr.tck_expected


def test_inverse_convention_and_ta1() -> None:
    atr = parse_atr(bytes.fromhex("3F1096"))  # TS 3F, T0 10 (TA1 only), TA1 96
    assert atr.convention == "inverse"
    assert atr.fi_di == (512, 5.0, 32)


def test_t0_and_t1_offered_with_t15_global_bytes() -> None:
    # TD1: T=0, then TD2: T=1, TD3: T=15 with TA4 (clock stop, classes A and B).
    raw = with_tck(bytes.fromhex("3B8080811F03"))
    atr = parse_atr(raw)
    assert atr.protocols == (0, 1)
    (global_byte,) = atr.global_t15
    assert global_byte.name == "TA4"
    assert "classes A 5 V, B 3 V" in global_byte.meaning
    assert atr.tck_ok is True


def test_specific_mode_and_t0_waiting_time() -> None:
    raw = bytes.fromhex("3B 90 11 00")  # TA1 11, TD1 00 (T=0, nothing next)
    atr = parse_atr(raw)
    assert atr.protocols == (0,) and atr.tck is None
    raw = bytes.fromhex("3B 80 70 51 00")  # TD1: TA2 TB2 TC2 follow, T=0
    atr = parse_atr(raw + bytes([0x0A]))
    assert atr.byte("TA", 2) == 0x51
    assert "specific mode, T=1" in atr.interface_bytes[1].meaning
    assert "WI=10" in atr.interface_bytes[3].meaning


def test_t1_error_detection_and_invalid_ifsc() -> None:
    atr = parse_atr(with_tck(bytes.fromhex("3B808171FF4501")))
    assert atr.protocols == (1,)
    assert "CRC" in atr.interface_bytes[-1].meaning
    assert any("IFSC FF is invalid" in p for p in atr.problems)


def test_historical_category_00_with_status_indicator() -> None:
    atr = parse_atr(bytes.fromhex("3B06") + bytes.fromhex("00 31 C0 00 90 00"))
    names = [o.name for o in atr.historical_objects]
    assert names == ["card service data", "status indicator"]
    assert atr.historical_objects[-1].meaning == "life cycle status 00, SW 9000"


def test_proprietary_historical_bytes_are_kept_raw() -> None:
    atr = parse_atr(bytes.fromhex("3B02") + b"\x41\x42")
    assert atr.historical == b"AB" and atr.historical_objects == ()
    assert atr.problems == ()


def test_wrong_tck_and_trailing_bytes_are_problems_not_errors() -> None:
    bad = DEFAULT_ATR[:-1] + b"\x15"
    atr = parse_atr(bad)
    assert atr.tck_ok is False
    assert any("TCK" in p for p in atr.problems)
    assert atr.known_name is None
    padded = parse_atr(DEFAULT_ATR + b"\x00\x00")
    assert padded.trailing == b"\x00\x00"
    assert padded.tck_ok is True
    assert any("after the end" in p for p in padded.problems)


@pytest.mark.parametrize(("hex_atr", "reason"), [
    ("", "at least TS and T0"),
    ("3B", "at least TS and T0"),
    ("3C00", "TS 3C"),
    ("3BE000FF", "ends before"),  # TD1 announced, missing
    ("3B0541", "historical bytes"),
    ("3B8001", "no TCK"),  # TD1 says T=1 but nothing follows
])
def test_malformed_atrs_raise_parse_error(hex_atr: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_atr(bytes.fromhex(hex_atr))


def test_to_dict_is_json() -> None:
    data = parse_atr(ALTERNATE_ATR).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["protocols"] == ["T=1"]
    assert data["historical_objects"][0]["name"] == "card capabilities"


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=48))
def test_random_bytes_decode_or_raise_parse_error(raw: bytes) -> None:
    try:
        atr = parse_atr(raw)
    except ParseError:
        return
    consumed = 2 + len(atr.interface_bytes) + len(atr.historical) + (atr.tck is not None)
    assert consumed + len(atr.trailing) == len(raw)
    json.dumps(atr.to_dict())


@st.composite
def well_formed_atrs(draw: st.DrawFn) -> tuple[bytes, list[int], bytes]:
    """A valid ATR built level by level, with its interface bytes and historical bytes."""
    historical = draw(st.binary(max_size=15))
    levels = draw(st.integers(1, 4))
    values: list[int] = []
    presence_masks = [draw(st.integers(0, 7)) for _ in range(levels)]
    protocols = [draw(st.sampled_from([0, 1, 15])) for _ in range(levels - 1)]
    if protocols and protocols[0] == 15:
        protocols[0] = 1  # TD1 must not say T=15
    body = bytearray([0x3B])
    first_y = presence_masks[0] | (0x8 if levels > 1 else 0)
    body.append(first_y << 4 | len(historical))
    for level in range(levels):
        mask = presence_masks[level]
        for bit in (0x1, 0x2, 0x4):
            if mask & bit:
                value = draw(st.integers(0, 255))
                values.append(value)
                body.append(value)
        if level < levels - 1:
            next_y = presence_masks[level + 1] | (0x8 if level + 2 < levels else 0)
            td = next_y << 4 | protocols[level]
            values.append(td)
            body.append(td)
    body += historical
    raw = with_tck(bytes(body)) if any(protocols) else bytes(body)
    return raw, values, historical


@settings(max_examples=300, deadline=None)
@given(well_formed_atrs())
def test_well_formed_atrs_round_trip(case: tuple[bytes, list[int], bytes]) -> None:
    raw, values, historical = case
    atr = parse_atr(raw)
    assert [b.value for b in atr.interface_bytes] == values
    assert atr.historical == historical
    assert atr.trailing == b""
    assert atr.tck_ok in (True, None)
    assert not any("TCK" in p for p in atr.problems)
