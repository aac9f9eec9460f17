"""BER-TLV parsing and encoding (pure, no I/O), bounded against hostile input.

The card's records use two-byte private tags (``DF xx``, ``FF xx``), definite lengths up to
``82 LL LL`` and may be followed by ``FF``/``00`` filler. X.509 certificates use the same
rules, so :func:`header_length_info` also serves to find a certificate's size from its first
bytes. Indefinite lengths (``80``) are not DER and never appear on this card: they are errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mynaid.errors import ParseError

#: The largest value length accepted anywhere (the largest EF a short file id can address).
MAX_LENGTH = 0xFFFF
#: Tags longer than this many bytes are rejected (the card uses at most two).
MAX_TAG_BYTES = 3
#: Nesting bound for :func:`walk`.
MAX_DEPTH = 16


@dataclass(frozen=True)
class Tlv:
    """One parsed TLV. ``raw`` is the whole encoding (tag, length and value)."""

    tag: int
    value: bytes
    raw: bytes

    @property
    def constructed(self) -> bool:
        """True when bit 6 of the first tag byte marks a constructed encoding."""
        first = self.tag.to_bytes((self.tag.bit_length() + 7) // 8 or 1, "big")[0]
        return bool(first & 0x20)

    def children(self) -> list[Tlv]:
        """The TLVs inside a constructed value (the whole value must parse)."""
        return parse_all(self.value)

    def find(self, tag: int) -> Tlv:
        """The first child with ``tag``; :class:`ParseError` when absent."""
        for child in self.children():
            if child.tag == tag:
                return child
        raise ParseError(f"tag {tag:X} missing inside tag {self.tag:X}")


def _read_tag(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise ParseError("truncated TLV: no tag")
    first = data[pos]
    tag = first
    pos += 1
    if first & 0x1F == 0x1F:
        count = 1
        while True:
            if pos >= len(data):
                raise ParseError("truncated TLV: multi-byte tag")
            count += 1
            if count > MAX_TAG_BYTES:
                raise ParseError(f"tag longer than {MAX_TAG_BYTES} bytes")
            byte = data[pos]
            pos += 1
            tag = (tag << 8) | byte
            if not byte & 0x80:
                break
    return tag, pos


def _read_length(data: bytes, pos: int, max_length: int) -> tuple[int, int]:
    if pos >= len(data):
        raise ParseError("truncated TLV: no length")
    first = data[pos]
    pos += 1
    if first < 0x80:
        if first > max_length:
            raise ParseError(f"length {first} exceeds the bound {max_length}")
        return first, pos
    if first == 0x80:
        raise ParseError("indefinite length is not allowed")
    count = first & 0x7F
    if count > 3:
        raise ParseError(f"length field of {count} bytes is too long")
    if pos + count > len(data):
        raise ParseError("truncated TLV: length field")
    length = int.from_bytes(data[pos : pos + count], "big")
    if length > max_length:
        raise ParseError(f"length {length} exceeds the bound {max_length}")
    return length, pos + count


def parse_one(data: bytes, offset: int = 0, max_length: int = MAX_LENGTH) -> tuple[Tlv, int]:
    """Parse the TLV at ``offset``; returns it and the offset just past it."""
    tag, pos = _read_tag(data, offset)
    length, pos = _read_length(data, pos, max_length)
    end = pos + length
    if end > len(data):
        raise ParseError(f"truncated TLV: tag {tag:X} declares {length} bytes, "
                         f"{len(data) - pos} present")
    return Tlv(tag, bytes(data[pos:end]), bytes(data[offset:end])), end


def parse_first(data: bytes, max_length: int = MAX_LENGTH) -> Tlv:
    """Parse the first TLV and ignore whatever follows it (``FF``/``00`` filler on the card)."""
    return parse_one(data, 0, max_length)[0]


def parse_all(data: bytes, max_length: int = MAX_LENGTH) -> list[Tlv]:
    """Parse a concatenation of TLVs that must cover ``data`` exactly."""
    return list(iter_tlvs(data, max_length))


def iter_tlvs(data: bytes, max_length: int = MAX_LENGTH) -> Iterator[Tlv]:
    """Iterate over a concatenation of TLVs covering ``data`` exactly."""
    pos = 0
    while pos < len(data):
        tlv, pos = parse_one(data, pos, max_length)
        yield tlv


def header_length_info(prefix: bytes) -> int | None:
    """Total encoded size of the TLV that ``prefix`` starts, or None if more bytes are needed.

    Used to size a certificate from the first bytes read: ``30 82 05 1A`` → 4 + 0x051A
    = 1310.
    """
    try:
        tag_end = _read_tag(prefix, 0)[1]
    except ParseError:
        if len(prefix) >= MAX_TAG_BYTES:
            raise
        return None
    if tag_end >= len(prefix):
        return None
    first = prefix[tag_end]
    count = first & 0x7F if first & 0x80 else 0
    if first != 0x80 and tag_end + 1 + count > len(prefix):
        if count > 3:
            raise ParseError(f"length field of {count} bytes is too long")
        return None
    length, value_start = _read_length(prefix, tag_end, MAX_LENGTH)
    return value_start + length


def encode_length(length: int) -> bytes:
    """Definite-length encoding in the fewest bytes."""
    if length < 0 or length > MAX_LENGTH:
        raise ValueError(f"length {length} out of range")
    if length < 0x80:
        return bytes((length,))
    if length <= 0xFF:
        return bytes((0x81, length))
    return bytes((0x82,)) + length.to_bytes(2, "big")


def encode_tlv(tag: int, value: bytes) -> bytes:
    """Encode one TLV with a tag of one to three bytes."""
    tag_bytes = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    return tag_bytes + encode_length(len(value)) + value
