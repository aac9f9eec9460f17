"""Decoding an answer to reset (ISO/IEC 7816-3 §8, historical bytes per 7816-4 §8) (pure).

The ATR tells support staff what the reader and the card negotiated: which transmission
protocols the card offers, its timing parameters and what its historical bytes announce.
It does **not** identify a My Number Card (card-reference §1: identify the card by SELECT
of the JPKI AID), so :data:`KNOWN_ATRS` only names ATRs seen on real cards, as a hint.

:func:`parse_atr` accepts any byte string and returns an :class:`Atr` or raises
:class:`~mynaid.errors.ParseError`; it never loops beyond the input's length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mynaid.errors import ParseError

#: ATRs of real My Number Cards (card-reference §1, §9). A name is a hint, not an identification.
KNOWN_ATRS: dict[bytes, str] = {
    bytes.fromhex("3BE000FF8131FE4514"): "My Number Card (contact; the ATR OpenSC's jpki driver "
                                         "matches)",
    bytes.fromhex("3BC5FF8131FB458073C6010000"): "My Number Card (contact; another "
                                                 "manufacturer)",
    bytes.fromhex("3BDA13FF8131FB468012392F31C173C601C03B"): "My Number Card (contact; seen "
                                                             "on a card issued in 2024)",
}

#: ISO 7816-3 caps the ATR at 33 bytes (TS included); readers report no more.
MAX_ATR_LENGTH = 33

# Table 7 of ISO/IEC 7816-3: clock rate conversion Fi and maximum frequency (MHz) by FI.
_FI: dict[int, tuple[int, float]] = {
    0x0: (372, 4.0), 0x1: (372, 5.0), 0x2: (558, 6.0), 0x3: (744, 8.0), 0x4: (1116, 12.0),
    0x5: (1488, 16.0), 0x6: (1860, 20.0), 0x9: (512, 5.0), 0xA: (768, 7.5),
    0xB: (1024, 10.0), 0xC: (1536, 15.0), 0xD: (2048, 20.0),
}
# Table 8: baud rate adjustment Di by DI.
_DI: dict[int, int] = {0x1: 1, 0x2: 2, 0x3: 4, 0x4: 8, 0x5: 16, 0x6: 32, 0x7: 64, 0x8: 12,
                       0x9: 20}

#: Compact-TLV tags of the historical bytes (ISO/IEC 7816-4 §8.1.1.2).
_HISTORICAL_TAGS = {
    0x1: "country code", 0x2: "issuer identification number", 0x3: "card service data",
    0x4: "initial access data", 0x5: "card issuer's data", 0x6: "pre-issuing data",
    0x7: "card capabilities", 0x8: "status indicator", 0xF: "application identifier",
}


@dataclass(frozen=True)
class InterfaceByte:
    """One interface byte: ``TA1`` … ``TDn``, its value, its scope and what it says."""

    kind: str  # "TA", "TB", "TC" or "TD"
    level: int  # the i of TAi
    value: int
    scope: str  # "global", "T=0", "T=1", "T=15" (global bytes), ...
    meaning: str

    @property
    def name(self) -> str:
        return f"{self.kind}{self.level}"


@dataclass(frozen=True)
class HistoricalObject:
    """One compact-TLV object of the historical bytes."""

    tag: int
    name: str
    value: bytes
    meaning: str


@dataclass(frozen=True)
class Atr:
    """A decoded answer to reset. Build it with :func:`parse_atr`."""

    raw: bytes
    ts: int
    t0: int
    interface_bytes: tuple[InterfaceByte, ...]
    historical: bytes
    tck: int | None
    #: Bytes after the ATR's end (a reader bug, or a wrong K in T0).
    trailing: bytes = b""
    historical_objects: tuple[HistoricalObject, ...] = field(default=())
    #: Deviations from ISO 7816-3 that did not stop decoding.
    problems: tuple[str, ...] = field(default=())

    # --- structure ------------------------------------------------------------------------

    @property
    def convention(self) -> str:
        return "direct" if self.ts == 0x3B else "inverse"

    def byte(self, kind: str, level: int) -> int | None:
        """The value of e.g. ``TA1`` as ``byte("TA", 1)``, or None when absent."""
        for item in self.interface_bytes:
            if item.kind == kind and item.level == level:
                return item.value
        return None

    @property
    def protocols(self) -> tuple[int, ...]:
        """Transmission protocols offered, in ATR order (T=0 when no TD1: ISO 7816-3 §8.2.3).

        T=15 is not a protocol: it only qualifies global interface bytes.
        """
        offered: list[int] = []
        for item in self.interface_bytes:
            if item.kind == "TD" and (item.value & 0x0F) != 15 \
                    and (item.value & 0x0F) not in offered:
                offered.append(item.value & 0x0F)
        return tuple(offered) or (0,)

    @property
    def tck_expected(self) -> bool:
        """TCK is present when any protocol other than T=0 is indicated."""
        return any(item.kind == "TD" and item.value & 0x0F for item in self.interface_bytes)

    @property
    def tck_ok(self) -> bool | None:
        """True when the XOR of T0 … TCK is zero; None when the ATR has no TCK."""
        if self.tck is None:
            return None
        return _xor(self.raw[1:len(self.raw) - len(self.trailing)]) == 0

    @property
    def known_name(self) -> str | None:
        """The name of a known My Number Card ATR (a hint: identify cards by SELECT)."""
        return KNOWN_ATRS.get(self.raw)

    # --- parameters -----------------------------------------------------------------------

    @property
    def fi_di(self) -> tuple[int | None, float | None, int | None]:
        """(Fi, fmax in MHz, Di) from TA1, defaults (372, 5, 1) without TA1; None if RFU."""
        ta1 = self.byte("TA", 1)
        if ta1 is None:
            return 372, 5.0, 1
        fi = _FI.get(ta1 >> 4)
        return (fi[0] if fi else None, fi[1] if fi else None, _DI.get(ta1 & 0x0F))

    @property
    def global_t15(self) -> tuple[InterfaceByte, ...]:
        """The global interface bytes that follow a TD indicating T=15 (clock stop, class)."""
        return tuple(item for item in self.interface_bytes if item.scope == "T=15")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description."""
        fi, fmax, di = self.fi_di
        return {
            "hex": self.raw.hex(" ").upper(),
            "known_name": self.known_name,
            "ts": f"{self.ts:02X}",
            "convention": self.convention,
            "t0": f"{self.t0:02X}",
            "interface_bytes": [
                {"name": i.name, "value": f"{i.value:02X}", "scope": i.scope,
                 "meaning": i.meaning} for i in self.interface_bytes
            ],
            "protocols": [f"T={t}" for t in self.protocols],
            "fi": fi, "fmax_mhz": fmax, "di": di,
            "historical_bytes": self.historical.hex(" ").upper(),
            "historical_objects": [
                {"tag": f"{o.tag:X}", "name": o.name, "value": o.value.hex(" ").upper(),
                 "meaning": o.meaning} for o in self.historical_objects
            ],
            "tck": None if self.tck is None else f"{self.tck:02X}",
            "tck_ok": self.tck_ok,
            "trailing": self.trailing.hex(" ").upper() or None,
            "problems": list(self.problems),
        }


# --- parsing -------------------------------------------------------------------------------


def parse_atr(raw: bytes) -> Atr:
    """Decode ``raw``; :class:`ParseError` when it is not an ATR (bad TS, truncated).

    Deviations that leave the ATR readable (a wrong TCK, bytes after the end, an RFU
    parameter) are listed in :attr:`Atr.problems` instead: a diagnostic should show them.
    """
    raw = bytes(raw)
    if len(raw) < 2:
        raise ParseError(f"an ATR has at least TS and T0; got {len(raw)} bytes")
    ts = raw[0]
    if ts not in (0x3B, 0x3F):
        raise ParseError(f"TS {ts:02X} is neither 3B (direct) nor 3F (inverse convention)")
    t0 = raw[1]
    historical_count = t0 & 0x0F
    problems: list[str] = []
    items: list[InterfaceByte] = []
    pos = 2
    level = 1
    presence = t0 >> 4
    # The protocol named by TD(i-1) gives the bytes of level i their scope.
    scope_t: int | None = None
    seen_first: set[tuple[str, int | None]] = set()
    # Each round consumes at least the TD that announces the next one, so the loop ends
    # within len(raw) rounds whatever the input.
    while True:
        for bit, kind in ((0x1, "TA"), (0x2, "TB"), (0x4, "TC"), (0x8, "TD")):
            if not presence & bit:
                continue
            if pos >= len(raw):
                raise ParseError(f"the ATR ends before {kind}{level} ({len(raw)} bytes)")
            value = raw[pos]
            pos += 1
            scope = _scope(kind, level, scope_t)
            first = (kind, scope_t) not in seen_first
            seen_first.add((kind, scope_t))
            meaning = _meaning(kind, level, value, scope_t, first, problems)
            items.append(InterfaceByte(kind, level, value, scope, meaning))
        if not presence & 0x8:
            break
        td = items[-1].value
        scope_t = td & 0x0F
        if level == 1 and scope_t == 15:
            problems.append("TD1 indicates T=15, which ISO 7816-3 forbids at level 1")
        presence = td >> 4
        level += 1
    end = pos + historical_count
    if end > len(raw):
        raise ParseError(f"T0 announces {historical_count} historical bytes; only "
                         f"{len(raw) - pos} remain")
    historical = raw[pos:end]
    pos = end
    needs_tck = any(i.kind == "TD" and i.value & 0x0F for i in items)
    tck: int | None = None
    if needs_tck:
        if pos >= len(raw):
            raise ParseError("the ATR offers a protocol other than T=0 but has no TCK")
        tck = raw[pos]
        pos += 1
    trailing = raw[pos:]
    if trailing:
        problems.append(f"{len(trailing)} bytes after the end of the ATR")
    if pos > MAX_ATR_LENGTH:
        problems.append(f"{pos} bytes: longer than ISO 7816-3's {MAX_ATR_LENGTH}")
    objects = _historical_objects(historical, problems)
    if tck is not None and _xor(raw[1:pos]) != 0:
        problems.append("TCK is wrong: the XOR of T0 … TCK is not 00")
    return Atr(raw, ts, t0, tuple(items), historical, tck, trailing, objects, tuple(problems))


def _xor(data: bytes) -> int:
    check = 0
    for b in data:
        check ^= b
    return check


def _scope(kind: str, level: int, protocol: int | None) -> str:
    if kind == "TD":
        return "structure"
    if level == 1 or (level == 2 and kind in ("TA", "TB")):
        return "global"
    if level == 2 and kind == "TC":
        return "T=0"
    return f"T={protocol}"


def _next(value: int, level: int) -> str:
    names = [f"T{k}{level + 1}" for bit, k in ((0x10, "A"), (0x20, "B"), (0x40, "C"), (0x80, "D"))
             if value & bit]
    return "next: " + (" ".join(names) if names else "none")


def _meaning(kind: str, level: int, value: int, protocol: int | None, first: bool,
             problems: list[str]) -> str:
    """Plain words for one interface byte (ISO/IEC 7816-3 §8.3)."""
    if kind == "TD":
        t = value & 0x0F
        what = "global bytes follow (T=15)" if t == 15 else f"protocol T={t}"
        if t not in (0, 1, 15):
            what += " (RFU or proprietary)"
        return f"{what}; {_next(value, level)}"
    if level == 1:
        if kind == "TA":
            fi = _FI.get(value >> 4)
            di = _DI.get(value & 0x0F)
            if fi is None or di is None:
                problems.append(f"TA1 {value:02X} holds an RFU Fi or Di")
            fi_text = f"Fi={fi[0]} (fmax {fi[1]:g} MHz)" if fi else "Fi RFU"
            di_text = f"Di={di}" if di else "Di RFU"
            return f"{fi_text}, {di_text}"
        if kind == "TB":
            return "VPP programming voltage (deprecated)" + (", not used" if value == 0
                                                               else "")
        return (f"extra guard time N={value}" + (" (minimum: 12 etu for T=0, 11 for T=1)"
                                                 if value == 255 else ""))
    if level == 2 and kind == "TA":
        mode = "cannot change" if value & 0x80 else "can change"
        params = "implicit" if value & 0x10 else "from TA1"
        return f"specific mode, T={value & 0x0F}; {mode} to negotiable mode; parameters {params}"
    if level == 2 and kind == "TB":
        return "PI2 programming voltage (deprecated)"
    if level == 2 and kind == "TC":
        return f"T=0 waiting time integer WI={value}" + (" (0 is invalid)" if value == 0
                                                           else "")
    if protocol == 1 and first:
        if kind == "TA":
            if value in (0x00, 0xFF):
                problems.append(f"IFSC {value:02X} is invalid for T=1")
            return f"T=1 IFSC {value} bytes (card's maximum block information field)"
        if kind == "TB":
            return f"T=1 BWI={value >> 4}, CWI={value & 0x0F} (block and character waiting)"
        return "T=1 error detection: " + ("CRC" if value & 0x01 else "LRC")
    if protocol == 15 and first:
        if kind == "TA":
            clock = {0: "not supported", 1: "state L", 2: "state H", 3: "no preference"}
            classes = [name for bit, name in ((0x01, "A 5 V"), (0x02, "B 3 V"),
                                              (0x04, "C 1.8 V")) if value & bit]
            return (f"clock stop {clock[value >> 6]}; classes "
                    f"{', '.join(classes) if classes else 'none indicated'}")
        if kind == "TB":
            return "SPU (standard or proprietary use of C6)" if value else "SPU not used"
        return "global byte (T=15), RFU"
    return f"specific to T={protocol}"


def _historical_objects(data: bytes, problems: list[str]) -> tuple[HistoricalObject, ...]:
    """Compact-TLV objects of the historical bytes (category 00 or 80), else none.

    Other categories are proprietary: their bytes are shown raw, not flagged.
    """
    if not data or data[0] not in (0x00, 0x80):
        return ()
    body = data[1:]
    status: bytes = b""
    if data[0] == 0x00:
        # Category 00: the last three bytes are a mandatory status indicator.
        if len(body) < 3:
            problems.append("historical category 00 without its 3-byte status indicator")
            return ()
        body, status = body[:-3], body[-3:]
    objects: list[HistoricalObject] = []
    pos = 0
    while pos < len(body):
        tag, length = body[pos] >> 4, body[pos] & 0x0F
        value = body[pos + 1:pos + 1 + length]
        if len(value) < length:
            problems.append("historical bytes: a compact-TLV object runs past the end")
            break
        pos += 1 + length
        objects.append(HistoricalObject(tag, _HISTORICAL_TAGS.get(tag, "RFU"), value,
                                        _historical_meaning(tag, value)))
    if status:
        objects.append(HistoricalObject(0x8, "status indicator", status,
                                        _historical_meaning(0x8, status)))
    return tuple(objects)


def _historical_meaning(tag: int, value: bytes) -> str:
    if tag == 0x7 and value:
        first = value[0]
        methods = [name for bit, name in ((0x80, "full DF name"), (0x40, "partial DF name"),
                                          (0x20, "path"), (0x10, "file id"),
                                          (0x08, "implicit DF"), (0x04, "short EF id"),
                                          (0x02, "record number"), (0x01, "record id"))
                   if first & bit]
        parts = ["selection by " + (", ".join(methods) if methods else "nothing announced")]
        if len(value) >= 3:
            third = value[2]
            parts.append("command chaining" if third & 0x80 else "no command chaining")
            parts.append("extended Lc/Le" if third & 0x40 else "extended Lc/Le not announced")
            channels = (third & 0x07) + 1 if third & 0x18 else 1
            parts.append(f"{channels} logical channel{'s' if channels > 1 else ''}")
        return "; ".join(parts)
    if tag == 0x8 and len(value) in (1, 3):
        text = f"life cycle status {value[0]:02X}"
        if len(value) == 3:
            text += f", SW {value[1]:02X}{value[2]:02X}"
        return text
    if tag == 0xF:
        return "AID " + value.hex().upper()
    return value.hex(" ").upper()
