"""ISO/IEC 7816-4 command and response APDUs (pure, no I/O).

Encoding covers the four cases in short and extended form:

* case 1: ``CLA INS P1 P2``
* case 2: ``CLA INS P1 P2 Le``                 (extended: ``00 Le1 Le2``)
* case 3: ``CLA INS P1 P2 Lc data``            (extended: ``00 Lc1 Lc2 data``)
* case 4: ``CLA INS P1 P2 Lc data Le``         (extended: ``00 Lc1 Lc2 data Le1 Le2``)

``le`` is the number of bytes expected: ``None`` means no Le field, 256 encodes as ``00`` in
short form and 65536 as ``00 00`` in extended form.
"""

from __future__ import annotations

from dataclasses import dataclass

from mynaid.errors import ApduEncodingError, ParseError

SHORT_MAX_LC = 255
SHORT_MAX_LE = 256
EXTENDED_MAX_LC = 65535
EXTENDED_MAX_LE = 65536
#: INS codes whose command data is a secret (VERIFY, CHANGE REFERENCE DATA, RESET RETRY
#: COUNTER): traces and recordings keep only their header and length.
SECRET_INS = frozenset({0x20, 0x24, 0x2C})


@dataclass(frozen=True)
class CommandApdu:
    """A command APDU. ``redact`` marks commands whose data is secret (never traced)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None
    extended: bool = False
    redact: bool = False

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise ApduEncodingError(f"{name.upper()} must be one byte, got {value}")
        max_lc = EXTENDED_MAX_LC if self.extended else SHORT_MAX_LC
        if len(self.data) > max_lc:
            form = "extended" if self.extended else "short"
            raise ApduEncodingError(f"{len(self.data)} data bytes do not fit a {form} APDU")
        if self.le is not None:
            max_le = EXTENDED_MAX_LE if self.extended else SHORT_MAX_LE
            if not 1 <= self.le <= max_le:
                raise ApduEncodingError(f"Le {self.le} is out of range 1..{max_le}")

    def __repr__(self) -> str:
        # The data of a secret-carrying command never appears in a repr.
        data = f"<{len(self.data)} bytes redacted>" if self.redact else self.data.hex()
        return (
            f"CommandApdu(cla={self.cla:02X}, ins={self.ins:02X}, p1={self.p1:02X}, "
            f"p2={self.p2:02X}, data={data}, le={self.le}, extended={self.extended})"
        )

    def encode(self) -> bytes:
        """The APDU as bytes, in short or extended form as requested."""
        header = bytes((self.cla, self.ins, self.p1, self.p2))
        lc = len(self.data)
        if not self.extended:
            body = b""
            if lc:
                body += bytes((lc,)) + self.data
            if self.le is not None:
                body += bytes((self.le & 0xFF,))
            return header + body
        body = b""
        if lc:
            body += b"\x00" + lc.to_bytes(2, "big") + self.data
        if self.le is not None:
            le_field = (self.le & 0xFFFF).to_bytes(2, "big")
            # Case 2E carries its own leading 00; in case 4E the Lc field already did.
            body += le_field if lc else b"\x00" + le_field
        return header + body

    def with_le(self, le: int) -> CommandApdu:
        """The same command with another Le (used to resend after ``6C xx``)."""
        return CommandApdu(
            self.cla, self.ins, self.p1, self.p2, self.data, le, self.extended, self.redact
        )


def decode_command(raw: bytes) -> CommandApdu:
    """Parse a command APDU (the card side of :meth:`CommandApdu.encode`).

    Raises :class:`ParseError` for any byte string that is not exactly one valid APDU.
    """
    if len(raw) < 4:
        raise ParseError(f"command APDU of {len(raw)} bytes is shorter than its header")
    cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
    body = raw[4:]
    n = len(body)
    if n == 0:
        return CommandApdu(cla, ins, p1, p2)
    if n == 1:
        return CommandApdu(cla, ins, p1, p2, le=body[0] or 256)
    if body[0] != 0:
        lc = body[0]
        if n == 1 + lc:
            return CommandApdu(cla, ins, p1, p2, body[1:])
        if n == 2 + lc:
            return CommandApdu(cla, ins, p1, p2, body[1 : 1 + lc], le=body[-1] or 256)
        raise ParseError(f"short APDU body of {n} bytes does not match Lc {lc}")
    # Extended form: first body byte is 00.
    if n == 3:
        le = int.from_bytes(body[1:3], "big") or 65536
        return CommandApdu(cla, ins, p1, p2, le=le, extended=True)
    if n < 3:
        raise ParseError(f"extended APDU body of {n} bytes is truncated")
    lc = int.from_bytes(body[1:3], "big")
    if lc == 0:
        raise ParseError("extended APDU with Lc 0")
    if n == 3 + lc:
        return CommandApdu(cla, ins, p1, p2, body[3:], extended=True)
    if n == 5 + lc:
        le = int.from_bytes(body[-2:], "big") or 65536
        return CommandApdu(cla, ins, p1, p2, body[3 : 3 + lc], le=le, extended=True)
    raise ParseError(f"extended APDU body of {n} bytes does not match Lc {lc}")


@dataclass(frozen=True)
class ResponseApdu:
    """A response APDU: data and the two status bytes."""

    data: bytes
    sw: int

    @classmethod
    def decode(cls, raw: bytes) -> ResponseApdu:
        """Split ``data || SW1 SW2``; fewer than two bytes is a :class:`ParseError`."""
        if len(raw) < 2:
            raise ParseError(f"response of {len(raw)} bytes has no status word")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        return self.sw == 0x9000
