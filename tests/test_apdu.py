"""ISO 7816-4 command/response APDU encoding and decoding (mynaid.iso7816.apdu)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mynaid.errors import ApduEncodingError, ParseError
from mynaid.iso7816.apdu import (
    EXTENDED_MAX_LC,
    EXTENDED_MAX_LE,
    SHORT_MAX_LC,
    SHORT_MAX_LE,
    CommandApdu,
    ResponseApdu,
    decode_command,
)

JPKI_AID = bytes.fromhex("D392F000260100000001")
_PATTERN = bytes(range(256)) * 257  # 65792 bytes of varied content, sliced for long data


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# --- encoding against hand-written vectors ---------------------------------------------------

ENCODING_VECTORS = [
    # case 1
    (CommandApdu(0x00, 0x20, 0x00, 0x80), "00 20 00 80"),
    # case 2 short: Le 1, 255 and 256 (written 00)
    (CommandApdu(0x00, 0xB0, 0x00, 0x00, le=1), "00 B0 00 00 01"),
    (CommandApdu(0x00, 0xB0, 0x01, 0x02, le=255), "00 B0 01 02 FF"),
    (CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256), "00 B0 00 00 00"),
    # case 2 extended: 00 Le1 Le2, with 65536 written 00 00
    (CommandApdu(0x00, 0xB0, 0x00, 0x00, le=65536, extended=True), "00 B0 00 00 00 00 00"),
    (CommandApdu(0x00, 0xB0, 0x00, 0x00, le=1, extended=True), "00 B0 00 00 00 00 01"),
    (CommandApdu(0x00, 0xB0, 0x7F, 0xFF, le=256, extended=True), "00 B0 7F FF 00 01 00"),
    (CommandApdu(0x00, 0xB0, 0x00, 0x00, le=65535, extended=True), "00 B0 00 00 00 FF FF"),
    # case 3 short: SELECT of the JPKI AP, SELECT EF
    (CommandApdu(0x00, 0xA4, 0x04, 0x0C, JPKI_AID),
     "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01"),
    (CommandApdu(0x00, 0xA4, 0x02, 0x0C, h("001B")), "00 A4 02 0C 02 00 1B"),
    (CommandApdu(0x00, 0x20, 0x00, 0x80, b"1234"), "00 20 00 80 04 31 32 33 34"),
    # case 3 extended: 00 Lc1 Lc2 data
    (CommandApdu(0x00, 0xA4, 0x02, 0x0C, h("001B"), extended=True),
     "00 A4 02 0C 00 00 02 00 1B"),
    # case 4 short: the signature command, Le 256 written 00
    (CommandApdu(0x80, 0x2A, 0x00, 0x80, h("AABBCC"), le=256), "80 2A 00 80 03 AA BB CC 00"),
    (CommandApdu(0x80, 0x2A, 0x00, 0x80, h("AABBCC"), le=16), "80 2A 00 80 03 AA BB CC 10"),
    # case 4 extended: 00 Lc1 Lc2 data Le1 Le2 (no second 00 before Le)
    (CommandApdu(0x80, 0x2A, 0x00, 0x80, h("AABB"), le=65536, extended=True),
     "80 2A 00 80 00 00 02 AA BB 00 00"),
    (CommandApdu(0x80, 0x2A, 0x00, 0x80, h("AABB"), le=0x1234, extended=True),
     "80 2A 00 80 00 00 02 AA BB 12 34"),
]


@pytest.mark.parametrize(("command", "expected"), ENCODING_VECTORS,
                         ids=[v[1] for v in ENCODING_VECTORS])
def test_encode_vectors(command: CommandApdu, expected: str) -> None:
    assert command.encode() == h(expected)


@pytest.mark.parametrize(("command", "expected"), ENCODING_VECTORS,
                         ids=[v[1] for v in ENCODING_VECTORS])
def test_decode_vectors(command: CommandApdu, expected: str) -> None:
    assert decode_command(h(expected)) == command


def test_encode_long_case_3_and_4_extended() -> None:
    data = _PATTERN[:300]
    case3 = CommandApdu(0x00, 0xD6, 0x00, 0x00, data, extended=True)
    assert case3.encode() == h("00 D6 00 00 00 01 2C") + data
    case4 = CommandApdu(0x00, 0xD6, 0x00, 0x00, data, le=256, extended=True)
    assert case4.encode() == h("00 D6 00 00 00 01 2C") + data + h("01 00")
    biggest = CommandApdu(0x00, 0xD6, 0x00, 0x00, _PATTERN[:EXTENDED_MAX_LC],
                          le=EXTENDED_MAX_LE, extended=True)
    raw = biggest.encode()
    assert raw[:7] == h("00 D6 00 00 00 FF FF")
    assert raw[-2:] == h("00 00")
    assert len(raw) == 4 + 3 + EXTENDED_MAX_LC + 2


def test_encode_short_maximums() -> None:
    data = _PATTERN[:SHORT_MAX_LC]
    raw = CommandApdu(0x00, 0xD6, 0x00, 0x00, data, le=SHORT_MAX_LE).encode()
    assert raw == h("00 D6 00 00 FF") + data + h("00")


# --- out-of-range fields ---------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    {"data": bytes(256)},                          # Lc 256 in short form
    {"data": bytes(65536), "extended": True},      # Lc 65536 in extended form
    {"le": 0},
    {"le": -1},
    {"le": 257},                                   # short Le is at most 256
    {"le": 65537, "extended": True},
    {"le": 0, "extended": True},
])
def test_out_of_range_lengths_raise(kwargs: dict[str, object]) -> None:
    with pytest.raises(ApduEncodingError):
        CommandApdu(0x00, 0xB0, 0x00, 0x00, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["cla", "ins", "p1", "p2"])
@pytest.mark.parametrize("value", [256, -1, 0x1000])
def test_out_of_range_header_bytes_raise(field: str, value: int) -> None:
    fields = {"cla": 0, "ins": 0xB0, "p1": 0, "p2": 0, field: value}
    with pytest.raises(ApduEncodingError) as info:
        CommandApdu(**fields)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)  # usable as a ValueError by callers
    assert field.upper() in str(info.value)


def test_with_le_keeps_everything_else() -> None:
    command = CommandApdu(0x00, 0x20, 0x00, 0x80, b"1234", le=10, redact=True)
    resent = command.with_le(4)
    assert resent.le == 4
    assert dataclasses.replace(resent, le=10) == command
    with pytest.raises(ApduEncodingError):
        command.with_le(257)


# --- decoding errors -------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    "",
    "00",
    "00 B0 00",
    "00 A4 04 0C 05 01 02",            # short Lc 5, 2 bytes present
    "00 A4 04 0C 02 01 02 03 04",      # short Lc 2, too many bytes
    "00 B0 00 00 00 00",               # extended, truncated Le
    "00 B0 00 00 00 00 00 01",         # extended Lc 0 followed by a byte
    "00 D6 00 00 00 00 03 01 02",      # extended Lc 3, 2 bytes present
    "00 D6 00 00 00 00 02 01 02 03",   # extended Lc 2 with a one-byte Le (neither 3E nor 4E)
])
def test_decode_malformed_raises_parse_error(raw: str) -> None:
    with pytest.raises(ParseError):
        decode_command(h(raw))


# --- properties ------------------------------------------------------------------------------


@st.composite
def command_apdus(draw: st.DrawFn) -> CommandApdu:
    extended = draw(st.booleans())
    max_lc = EXTENDED_MAX_LC if extended else SHORT_MAX_LC
    max_le = EXTENDED_MAX_LE if extended else SHORT_MAX_LE
    data = draw(st.one_of(
        st.binary(max_size=min(max_lc, 300)),
        st.integers(0, max_lc).map(lambda n: _PATTERN[:n]),
        st.sampled_from([b"", _PATTERN[:max_lc]]),
    ))
    le = draw(st.one_of(st.none(), st.integers(1, max_le), st.sampled_from([1, max_le])))
    byte = st.integers(0, 255)
    return CommandApdu(draw(byte), draw(byte), draw(byte), draw(byte), data, le, extended,
                       draw(st.booleans()))


@settings(max_examples=300, deadline=None)
@given(command_apdus())
def test_round_trip(command: CommandApdu) -> None:
    decoded = decode_command(command.encode())
    expected = dataclasses.replace(command, redact=False)  # decoding cannot know it
    if not command.data and command.le is None:
        # Case 1 has a single form: CLA INS P1 P2. "Extended" is meaningless there.
        expected = dataclasses.replace(expected, extended=False)
    assert decoded == expected
    assert decoded.encode() == command.encode()


@st.composite
def apdu_like_bytes(draw: st.DrawFn) -> bytes:
    """Random bytes, and random bytes shaped like short and extended APDUs."""
    header = draw(st.binary(min_size=4, max_size=4))
    return draw(st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=300).map(lambda b: header + b),
        st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=300)).map(
            lambda t: header + b"\x00" + t[0].to_bytes(2, "big") + t[1]),
        st.tuples(st.integers(1, 255), st.binary(max_size=260)).map(
            lambda t: header + bytes((t[0],)) + t[1]),
    ))


@settings(max_examples=500, deadline=None)
@given(apdu_like_bytes())
def test_decode_arbitrary_bytes_returns_or_raises_parse_error(raw: bytes) -> None:
    try:
        command = decode_command(raw)
    except ParseError:
        return
    assert isinstance(command, CommandApdu)
    # Whatever decodes is exactly one APDU: re-encoding gives the same bytes back.
    assert command.encode() == raw


# --- responses -------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"\x90"])
def test_response_shorter_than_status_word(raw: bytes) -> None:
    with pytest.raises(ParseError):
        ResponseApdu.decode(raw)


def test_response_decode() -> None:
    ok = ResponseApdu.decode(h("90 00"))
    assert (ok.data, ok.sw, ok.ok) == (b"", 0x9000, True)
    more = ResponseApdu.decode(h("01 02 03 61 10"))
    assert (more.data, more.sw, more.sw1, more.sw2, more.ok) == (h("01 02 03"), 0x6110, 0x61,
                                                                 0x10, False)


@given(st.binary(min_size=2, max_size=600))
def test_response_decode_splits_data_and_status(raw: bytes) -> None:
    response = ResponseApdu.decode(raw)
    assert response.data + response.sw.to_bytes(2, "big") == raw
    assert (response.sw1 << 8) | response.sw2 == response.sw


# --- redaction -------------------------------------------------------------------------------


def test_redacted_repr_hides_the_pin() -> None:
    command = CommandApdu(0x00, 0x20, 0x00, 0x80, b"1234", redact=True)
    text = repr(command) + str(command)
    for forbidden in ("1234", "31323334", "31 32 33 34"):
        assert forbidden not in text
    assert "4 bytes" in text  # the length is fine to show
    # Without redact the data is shown (so the redaction above is not vacuous).
    assert "31323334" in repr(dataclasses.replace(command, redact=False))


@given(st.binary(min_size=4, max_size=255), st.integers(0, 255))
def test_redacted_repr_never_contains_data_hex(data: bytes, ins: int) -> None:
    command = CommandApdu(0x00, ins, 0x00, 0x80, data, redact=True)
    text = repr(command)
    assert data.hex() not in text
    assert data.hex().upper() not in text
    assert data.hex(" ").upper() not in text
    assert repr(command.with_le(5)).find(data.hex()) == -1  # with_le keeps redact
