"""BER-TLV parsing and encoding of the card's records (mynaid.iso7816.tlv)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mynaid.emulator import default_profile
from mynaid.errors import ParseError
from mynaid.iso7816.tlv import (
    MAX_LENGTH,
    Tlv,
    encode_length,
    encode_tlv,
    header_length_info,
    iter_tlvs,
    parse_all,
    parse_first,
    parse_one,
)

_PATTERN = bytes(range(7, 256)) * 300  # > 70000 bytes of varied content


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# --- the card's records ----------------------------------------------------------------------


def test_my_number_record_with_filler() -> None:
    record = h("FF 10 0C") + b"123456789018" + h("FF FF")
    tlv = parse_first(record)
    assert tlv.tag == 0xFF10
    assert tlv.value == b"123456789018"
    assert tlv.raw == record[:15]
    assert tlv.constructed  # FF has the constructed bit
    # The filler is not a TLV: the whole-buffer parser refuses it.
    with pytest.raises(ParseError):
        parse_all(record)


@pytest.mark.parametrize("filler", [b"", b"\xff" * 50, b"\x00" * 7, b"\xff\x00\xff"])
def test_parse_first_ignores_any_filler(filler: bytes) -> None:
    record = h("FF 10 0C") + b"537686677188"
    assert parse_first(record + filler) == Tlv(0xFF10, b"537686677188", record)


def _four_attributes() -> tuple[bytes, list[bytes]]:
    """A text-AP EF 0002 (card-reference §5) with DF21 offsets, built by hand."""
    name = "試験\u3000花子".encode()
    address = ("東京都千代田区試験町" + "１－２－３" * 8).encode()  # > 127 bytes: 81 xx
    assert 128 <= len(address) <= 255
    items = [
        h("DF 22") + bytes((len(name),)) + name,
        h("DF 23 81") + bytes((len(address),)) + address,
        h("DF 24 08") + b"19800217",
        h("DF 25 01") + b"2",
    ]
    body_len = 11 + sum(map(len, items))
    header = h("FF 20 82") + body_len.to_bytes(2, "big") if body_len > 255 else (
        h("FF 20 81") + bytes((body_len,)))
    offsets = []
    pos = len(header) + 11
    for item in items:
        offsets.append(pos)
        pos += len(item)
    df21 = h("DF 21 08") + b"".join(o.to_bytes(2, "big") for o in offsets)
    return header + df21 + b"".join(items) + b"\xff" * 9, items


def test_four_attributes_record() -> None:
    record, items = _four_attributes()
    outer = parse_first(record)
    assert outer.tag == 0xFF20
    children = outer.children()
    assert [c.tag for c in children] == [0xDF21, 0xDF22, 0xDF23, 0xDF24, 0xDF25]
    assert [c.raw for c in children[1:]] == items
    assert outer.find(0xDF22).value.decode() == "試験\u3000花子"
    assert outer.find(0xDF24).value == b"19800217"
    assert outer.find(0xDF25).value == b"2"
    assert outer.find(0xDF23).raw[:3] == h("DF 23 81")
    assert not outer.find(0xDF22).constructed
    # DF21 holds the offsets of DF22..DF25 from the start of the file.
    offsets = outer.find(0xDF21).value
    for i, child in enumerate(children[1:]):
        offset = int.from_bytes(offsets[2 * i : 2 * i + 2], "big")
        assert record[offset : offset + len(child.raw)] == child.raw
    with pytest.raises(ParseError):
        outer.find(0xDF29)


def test_integrity_record_layout() -> None:
    """EF 0003: FF 30 82 01 4B {DF31 20, DF32 20, DF33 82 01 00}, 336 bytes in all."""
    d1, d2 = hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()
    signature = _PATTERN[:256]
    body = (h("DF 31 20") + d1 + h("DF 32 20") + d2 + h("DF 33 82 01 00") + signature)
    record = h("FF 30 82 01 4B") + body
    assert len(record) == 336
    outer = parse_first(record + b"\x00" * 20)
    assert outer.raw == record
    assert [(c.tag, c.value) for c in outer.children()] == [
        (0xDF31, d1), (0xDF32, d2), (0xDF33, signature)]
    assert header_length_info(record[:5]) == 336


def test_cv_certificate_layout() -> None:
    """EF 0004: 7F 21 82 02 33 {5F 4E 82 01 29 <297>, 5F 37 82 01 00 <256>}, 568 bytes."""
    body, signature = _PATTERN[:297], _PATTERN[297 : 297 + 256]
    record = h("7F 21 82 02 33 5F 4E 82 01 29") + body + h("5F 37 82 01 00") + signature
    assert len(record) == 568
    outer = parse_first(record)
    assert outer.tag == 0x7F21 and outer.constructed
    assert outer.find(0x5F4E).value == body
    assert outer.find(0x5F37).value == signature
    assert not outer.find(0x5F37).constructed


@pytest.mark.parametrize(("encoded", "length"), [
    ("04 00", 0), ("04 7F", 127), ("04 81 80", 128), ("04 81 FF", 255),
    ("04 82 01 00", 256), ("04 82 FF FF", 65535),
])
def test_length_forms(encoded: str, length: int) -> None:
    header = h(encoded)
    value = _PATTERN[:length]
    tlv = parse_first(header + value)
    assert (tlv.tag, tlv.value) == (0x04, value)
    assert header_length_info(header) == len(header) + length
    assert encode_length(length) == header[1:]
    assert encode_tlv(0x04, value) == header + value


def test_non_minimal_length_forms_are_accepted() -> None:
    assert parse_first(h("04 81 03 01 02 03")).value == h("01 02 03")
    assert parse_first(h("04 82 00 02 01 02")).value == h("01 02")
    assert parse_first(h("04 83 00 00 01 09")).value == h("09")


# --- header_length_info ----------------------------------------------------------------------


def test_header_length_info_of_a_certificate_header() -> None:
    # 0x051A = 1306 value bytes + 4 header bytes = 1310 in all.
    assert header_length_info(h("30 82 05 1A")) == 1310
    assert header_length_info(h("30 82 05 1A 30 82 04 02")) == 1310


def test_header_length_info_matches_real_certificates() -> None:
    jpki = default_profile().jpki
    for der in (jpki.auth_cert, jpki.auth_ca_cert, jpki.sign_ca_cert, jpki.sign_cert):
        assert der is not None
        assert header_length_info(der[:4]) == len(der)
        assert header_length_info(der[:256]) == len(der)


@pytest.mark.parametrize("prefix", [
    "", "30", "30 82", "30 82 05", "30 81", "DF", "DF 21", "7F 21 82 02",
    "1F 81",  # three-byte tag, last byte missing
])
def test_header_length_info_needs_more_bytes(prefix: str) -> None:
    assert header_length_info(h(prefix)) is None


@pytest.mark.parametrize("prefix", [
    "30 80",                  # indefinite length
    "30 84 00 00 00 01",      # four length bytes
    "30 85",                  # five length bytes, known too long already
    "30 83 01 00 00",         # 65536 > MAX_LENGTH
    "1F 81 81 01 00",         # four-byte tag
])
def test_header_length_info_rejects(prefix: str) -> None:
    with pytest.raises(ParseError):
        header_length_info(h(prefix))


# --- malformed input -------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    "",                       # no tag
    "04",                     # no length
    "04 05 01 02",            # value truncated
    "04 81",                  # length field truncated
    "04 82 01",
    "DF",                     # two-byte tag truncated
    "30 80 00 00",            # indefinite length
    "04 84 00 00 00 01 00",   # four-byte length field
    "1F 81 81 01 00",         # four-byte tag
    "04 83 01 00 00",         # over MAX_LENGTH
])
def test_malformed_raises_parse_error(raw: str) -> None:
    with pytest.raises(ParseError):
        parse_first(h(raw))
    with pytest.raises(ParseError):
        parse_all(h(raw) if raw else b"\x04")


def test_max_length_parameter_is_enforced() -> None:
    raw = h("04 82 01 00") + bytes(256)
    assert parse_first(raw, max_length=256).value == bytes(256)
    with pytest.raises(ParseError):
        parse_first(raw, max_length=255)
    with pytest.raises(ParseError):
        parse_one(raw, 0, max_length=255)


def test_parse_all_and_iter_cover_the_buffer() -> None:
    raw = h("01 01 AA 02 00 DF 21 02 BB CC")
    tlvs = parse_all(raw)
    assert [(t.tag, t.value) for t in tlvs] == [(1, h("AA")), (2, b""), (0xDF21, h("BB CC"))]
    assert list(iter_tlvs(raw)) == tlvs
    assert b"".join(t.raw for t in tlvs) == raw
    assert parse_all(b"") == []
    tlv, end = parse_one(raw, 3)
    assert (tlv.tag, end) == (2, 5)


def test_encode_length_bounds() -> None:
    with pytest.raises(ValueError):
        encode_length(MAX_LENGTH + 1)
    with pytest.raises(ValueError):
        encode_length(-1)
    with pytest.raises(ValueError):
        encode_tlv(0x04, bytes(MAX_LENGTH + 1))


# --- properties ------------------------------------------------------------------------------

_one_byte_tags = st.integers(0, 255).filter(lambda b: b & 0x1F != 0x1F)
_two_byte_tags = st.tuples(st.integers(0, 7).map(lambda c: (c << 5) | 0x1F),
                           st.integers(0x1F, 0x7F)).map(lambda t: (t[0] << 8) | t[1])
_three_byte_tags = st.tuples(st.integers(0, 7).map(lambda c: (c << 5) | 0x1F),
                             st.integers(0x81, 0xFF), st.integers(0x00, 0x7F)).map(
    lambda t: (t[0] << 16) | (t[1] << 8) | t[2])
ber_tags = st.one_of(_one_byte_tags, _two_byte_tags, _three_byte_tags)

values = st.one_of(
    st.binary(max_size=300),
    st.integers(0, 70000).map(lambda n: _PATTERN[:n]),
    st.sampled_from([MAX_LENGTH, MAX_LENGTH + 1, 127, 128, 255, 256]).map(
        lambda n: _PATTERN[:n]),
)


@settings(max_examples=200, deadline=None)
@given(ber_tags, values)
def test_encode_parse_round_trip(tag: int, value: bytes) -> None:
    if len(value) > MAX_LENGTH:
        with pytest.raises(ValueError):
            encode_tlv(tag, value)
        return
    raw = encode_tlv(tag, value)
    assert parse_first(raw) == Tlv(tag, value, raw)
    assert parse_all(raw + raw) == [Tlv(tag, value, raw)] * 2
    assert header_length_info(raw[:8]) == len(raw)


@settings(max_examples=200, deadline=None)
@given(ber_tags, st.binary(max_size=300), st.data())
def test_truncated_tlv_raises_and_header_info_is_consistent(tag: int, value: bytes,
                                                            data: st.DataObject) -> None:
    raw = encode_tlv(tag, value)
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(ParseError):
        parse_first(raw[:cut])
    with pytest.raises(ParseError):
        parse_all(raw[:cut] if cut else raw[:1])
    # A prefix either still lacks the header (None) or already gives the full size.
    info = header_length_info(raw[:cut])
    assert info is None or info == len(raw)
    if cut >= 7:  # longest header: 3 tag bytes + 4 length bytes
        assert info == len(raw)


@settings(max_examples=200, deadline=None)
@given(ber_tags, st.integers(MAX_LENGTH + 1, 0xFFFFFF), st.binary(max_size=40))
def test_lengths_over_the_bound_raise(tag: int, length: int, tail: bytes) -> None:
    tag_bytes = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    raw = tag_bytes + b"\x83" + length.to_bytes(3, "big") + tail
    with pytest.raises(ParseError):
        parse_first(raw)
    with pytest.raises(ParseError):
        header_length_info(raw)


@settings(max_examples=150, deadline=None)
@given(ber_tags, st.binary(min_size=128, max_size=300), st.integers(0, 299))
def test_caller_bound_is_enforced_for_long_form_lengths(tag: int, value: bytes,
                                                        bound: int) -> None:
    assume(bound < len(value))
    with pytest.raises(ParseError):
        parse_first(encode_tlv(tag, value), max_length=bound)


def test_caller_bound_is_enforced_for_short_form_lengths() -> None:
    with pytest.raises(ParseError):
        parse_first(h("04 05 01 02 03 04 05"), max_length=4)


_tlvish = st.one_of(
    st.binary(max_size=400),
    st.tuples(st.sampled_from([b"\x30", b"\xdf\x21", b"\xff\x20", b"\x1f\x81", b"\x7f"]),
              st.sampled_from([b"", b"\x80", b"\x81", b"\x82", b"\x83", b"\x84", b"\xff"]),
              st.binary(max_size=300)).map(b"".join),
)


@settings(max_examples=500, deadline=None)
@given(_tlvish)
def test_arbitrary_bytes_give_a_value_or_parse_error(raw: bytes) -> None:
    try:
        first = parse_first(raw)
    except ParseError:
        first = None
    if first is not None:
        assert raw.startswith(first.raw)
        assert first.raw.endswith(first.value)
    try:
        tlvs = parse_all(raw)
    except ParseError:
        pass
    else:
        assert b"".join(t.raw for t in tlvs) == raw
    try:
        info = header_length_info(raw)
    except ParseError:
        return
    assert info is None or 2 <= info <= 7 + MAX_LENGTH
    if info is not None and first is not None:
        assert info == len(first.raw)
    if info is None:
        assert len(raw) < 7
