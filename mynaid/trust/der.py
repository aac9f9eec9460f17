"""DER length discipline, pure and I/O-free: headers, and a check of a whole encoding.

asn1crypto's ``strict=True`` refuses trailing bytes but accepts BER: indefinite lengths and
lengths in more octets than needed. A signature is made over one encoding and may be
re-encoded on the way; a verifier that accepts several encodings of one structure invites
malleability games, so signatures, certificates and signed attributes are checked to be DER
here (X.690 10.1: definite, minimal lengths; constructed encodings walked recursively).
Primitive contents (an OCTET STRING that happens to hold DER) are not descended into.
"""

from __future__ import annotations

from dataclasses import dataclass

from mynaid.trust.errors import Reason, VerificationError

__all__ = ["Header", "check_der", "encode_header", "read_header"]

#: Deepest nesting accepted (real CMS and certificates stay under 20).
MAX_DEPTH = 64


@dataclass(frozen=True)
class Header:
    """One TLV header: the identifier octet(s), whether constructed, the header size and the
    content length."""

    tag: int  # the first identifier octet (class, constructed bit, number < 31)
    constructed: bool
    header_length: int
    length: int


def _not_der(message: str, subject: str) -> VerificationError:
    return VerificationError(Reason.NOT_DER, message, subject=subject)


def _malformed(message: str, subject: str) -> VerificationError:
    return VerificationError(Reason.MALFORMED, message, subject=subject)


def read_header(buf: bytes | bytearray | memoryview, pos: int, end: int, *,
                subject: str = "signature", available: int | None = None) -> Header:
    """The DER header at ``buf[pos:]`` (not reading past ``end``).

    ``available`` is how many bytes the TLV may span from ``pos`` (default: up to ``end``);
    a reader that holds only the first bytes of a large file passes the file's remainder.

    Raises :class:`VerificationError`: ``not-der`` for an indefinite or non-minimal length
    or a non-minimal high tag number, ``malformed`` for truncation.
    """
    if pos >= end:
        raise _malformed("truncated: a header was expected", subject)
    first = buf[pos]
    p = pos + 1
    if first & 0x1F == 0x1F:  # high tag number form: base-128 octets
        if p >= end:
            raise _malformed("truncated tag", subject)
        if buf[p] == 0x80:
            raise _not_der("a tag number has a leading zero octet", subject)
        count = 0
        while True:
            if p >= end:
                raise _malformed("truncated tag", subject)
            octet = buf[p]
            p += 1
            count += 1
            if count > 4:
                raise _malformed("a tag number is too large", subject)
            if not octet & 0x80:
                break
    if p >= end:
        raise _malformed("truncated length", subject)
    lead = buf[p]
    p += 1
    if lead < 0x80:
        length = lead
    elif lead == 0x80:
        raise _not_der("indefinite length (BER, not DER)", subject)
    else:
        count = lead & 0x7F
        if count > 8 or count == 0x7F:
            raise _malformed("a length is too large", subject)
        if p + count > end:
            raise _malformed("truncated length", subject)
        length = int.from_bytes(bytes(buf[p:p + count]), "big")
        p += count
        if buf[p - count] == 0 or length < 0x80:
            raise _not_der("a length is not in its shortest form (BER, not DER)", subject)
    room = end - pos if available is None else available
    if (p - pos) + length > room:
        raise _malformed("truncated: a length runs past the end of its container", subject)
    return Header(first, bool(first & 0x20), p - pos, length)


#: In a CMS ContentInfo, the SignedData's certificates [0]: each certificate's header is
#: checked, its inside is left to ``cryptography``, whose DER parser is strict already.
CMS_OPAQUE = frozenset({(0x30, 0xA0, 0x30, 0xA0)})


def check_der(buf: bytes | bytearray | memoryview, *, start: int = 0, end: int | None = None,
              subject: str = "signature", single: bool = True,
              opaque: frozenset[tuple[int, ...]] = frozenset()) -> None:
    """Check that ``buf[start:end]`` is DER-length-clean: one TLV (``single``) with no
    trailing bytes, every constructed encoding inside walked the same way.

    ``opaque`` names containers by the tags from the top (e.g. :data:`CMS_OPAQUE`) whose
    children are checked at header level only.
    """
    stop = len(buf) if end is None else end
    # Iterative walk: (position, end of the enclosing container), depth from the stack size.
    stack: list[int] = [stop]
    tags: list[int] = []
    pos = start
    top_level = 0
    while stack:
        limit = stack[-1]
        if pos == limit:
            stack.pop()
            if tags:
                tags.pop()
            continue
        if len(stack) > MAX_DEPTH:
            raise _malformed(f"nested deeper than {MAX_DEPTH} levels", subject)
        first = buf[pos]
        if first & 0x1F == 0x1F or pos + 1 >= limit or buf[pos + 1] >= 0x80:
            # High tag numbers and long lengths: the full reader (rare in CMS bodies except
            # for long lengths, and it checks minimality).
            header = read_header(buf, pos, limit, subject=subject)
            constructed, hlen, length = header.constructed, header.header_length, header.length
        else:
            constructed, hlen, length = bool(first & 0x20), 2, buf[pos + 1]
            if pos + 2 + length > limit:
                raise _malformed("truncated: a length runs past the end of its container",
                                 subject)
        if len(stack) == 1:
            top_level += 1
            if single and top_level > 1:
                raise _malformed("trailing bytes after the structure", subject)
        content = pos + hlen
        if constructed and not (opaque and tuple(tags) in opaque):
            stack.append(content + length)
            tags.append(first)
            pos = content
        else:
            pos = content + length


def encode_header(tag: int, length: int) -> bytes:
    """A DER header for a low tag number ``tag`` (the whole identifier octet) and
    ``length``."""
    if length < 0x80:
        return bytes([tag, length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(body)]) + body
