"""Find and read the card front's fields by what they say.

On the rectified card (:mod:`mynaid.cardfront.detect`) text lines are found as connected
blocks of ink (the photo and the printed box lines removed first). Lines shaped like a date
are read with a whitelist of digits and the date kanji and kept when they *say* a birth
date (``…年…月…日生``) or an expiry (``…年…月…日まで有効``); the lines below the photo are
read as digits, and the one that is exactly four digits is the security code (the 16-digit
serial is the other). Every kept field is read at three scales (the code also by a second,
English, model: six reads): see :func:`_vote` for how the reads must agree; the lowest
character confidence of the agreeing reads is the field's confidence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import cv2
import numpy as np

from mynaid.cardfront.detect import RectifiedCard, decode_image, find_card
from mynaid.cardfront.ocr import LineText, OcrEngine, default_engine
from mynaid.cardfront.validate import (
    BirthDate,
    check_plausible,
    parse_birth,
    parse_code,
    parse_expiry,
)
from mynaid.errors import CardFrontError

T = TypeVar("T")

DATE_WHITELIST = "0123456789年月日生まで有効明治大正昭和平成令和元"
DIGIT_WHITELIST = "0123456789"


@dataclass(frozen=True)
class Thresholds:
    """Lowest character confidence (0..1) accepted per field."""

    birth: float = 0.75
    expiry: float = 0.75
    security_code: float = 0.45


@dataclass(frozen=True)
class FieldRead(Generic[T]):
    """One field: its value (None when not found), confidence (0..1) and where it was on the
    rectified card (x, y, w, h)."""

    value: T | None = field(repr=False)
    confidence: float
    box: tuple[int, int, int, int] | None = None
    problem: str | None = None  # why the field is not usable, when it is not


@dataclass(frozen=True)
class CardFrontRead:
    """What was read from a photo of the card front. ``accepted`` only when 照合番号B can be
    built from it without risking a try (:meth:`collation_b` raises otherwise)."""

    birth: FieldRead[BirthDate]
    expiry: FieldRead[dt.date]
    security_code: FieldRead[str]
    seconds: float = 0.0
    engine: str = ""
    problem: CardFrontError | None = field(default=None, repr=False)

    @property
    def accepted(self) -> bool:
        return self.problem is None

    def collation_b(self) -> str:
        """照合番号B (14 digits) from the read, or the :class:`CardFrontError` saying which
        field failed and why."""
        if self.problem is not None:
            raise self.problem
        from mynaid.era import build_pin_b

        assert self.birth.value and self.expiry.value and self.security_code.value
        return build_pin_b(self.birth.value.date, self.expiry.value.year,
                           self.security_code.value)

    def as_dict(self) -> dict[str, Any]:
        """Confidences and what failed; never the values (they make up a secret)."""
        return {
            "accepted": self.accepted,
            "fields": {name: {"found": f.value is not None, "confidence": round(f.confidence, 3),
                              "problem": f.problem}
                       for name, f in (("birth", self.birth), ("expiry", self.expiry),
                                       ("security_code", self.security_code))},
            "refused": None if self.problem is None else {"field": self.problem.field,
                                                           "reason": self.problem.why},
            "seconds": round(self.seconds, 3), "engine": self.engine,
        }


# --- layout: the photo and the text lines --------------------------------------------------


def _find_photo(grey: Any) -> tuple[int, int, int, int] | None:
    """The photo: the one large block that is not paper (bounding box), or None."""
    h, w = grey.shape
    dark = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV,
                                 51, 12)
    paper = float(np.percentile(grey, 80))
    dark |= (grey < paper - 30).astype(np.uint8) * 255
    closed = cv2.morphologyEx(dark, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(closed)
    best = None
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        if bh >= 0.3 * h and 0.15 * w <= bw <= 0.45 * w:
            # The closing can join the serial and the code under the photo to it: keep the
            # longest run of rows the block fills (text rows are far from full).
            full = (labels[y : y + bh, x : x + bw] == i).sum(axis=1) >= 0.6 * bw
            run_start, run_len, start = 0, 0, None
            for r, f in enumerate([*full.tolist(), False]):
                if f and start is None:
                    start = r
                elif not f and start is not None:
                    if r - start > run_len:
                        run_start, run_len = start, r - start
                    start = None
            if run_len and run_len < bh:
                area = int((labels[y + run_start : y + run_start + run_len, x : x + bw]
                            == i).sum())
                y, bh = y + run_start, run_len
        if bh >= 0.3 * h and 0.15 * w <= bw <= 0.45 * w and 0.55 <= bw / bh <= 1.2 \
                and area >= 0.6 * bw * bh and (best is None or area > best[4]):
            best = (int(x), int(y), int(bw), int(bh), int(area))
    return best[:4] if best else None


def _text_lines(grey: Any, photo: tuple[int, int, int, int] | None
                ) -> tuple[list[tuple[int, int, int, int]], Any]:
    """The text lines' boxes, and the image with the printed rules painted over."""
    w = grey.shape[1]
    ink = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C,
                                cv2.THRESH_BINARY_INV, 31, 15)
    if photo is not None:
        x, y, bw, bh = photo
        ink[max(0, y - 4) : y + bh + 4, max(0, x - 4) : x + bw + 4] = 0
    # Printed rules (the expiry's box, the card's own edge) are not text.
    rules = cv2.bitwise_or(cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, 70), np.uint8)),
                           cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((36, 1), np.uint8)))
    rules = cv2.dilate(rules, np.ones((5, 5), np.uint8))
    ink = cv2.bitwise_and(ink, cv2.bitwise_not(rules))
    clean = grey.copy()
    clean[rules > 0] = int(np.percentile(grey, 80))
    ink = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    joined = cv2.dilate(ink, np.ones((3, 17), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(joined)
    boxes = []
    for i in range(1, n):
        x, y, bw, bh, _area = stats[i]
        if 14 <= bh <= 70 and 14 <= bw <= 0.95 * w:
            boxes.append((int(x), int(y), int(bw), int(bh)))
    return _merge_words(boxes), clean


def _merge_words(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Join blocks of one line separated by a space (fonts differ in how wide it is): same
    row (vertical overlap), gap under one character height."""
    out: list[list[int]] = []
    for x, y, bw, bh in sorted(boxes, key=lambda b: b[0]):
        for o in out:
            ox, oy, ow, oh = o
            overlap = min(y + bh, oy + oh) - max(y, oy)
            gap = x - (ox + ow)
            if overlap >= 0.6 * min(bh, oh) and -4 <= gap <= 0.8 * max(bh, oh) \
                    and 0.6 <= bh / oh <= 1.6:
                nx, ny = min(ox, x), min(oy, y)
                o[:] = [nx, ny, max(ox + ow, x + bw) - nx, max(oy + oh, y + bh) - ny]
                break
        else:
            out.append([x, y, bw, bh])
    return sorted(((a, b, c, d) for a, b, c, d in out), key=lambda b: (b[1], b[0]))


def _crop(grey: Any, box: tuple[int, int, int, int], variant: int) -> Any:
    """The line with a margin, prepared for the engine; each variant differently."""
    x, y, bw, bh = box
    h, w = grey.shape
    pad = 6
    crop = grey[max(0, y - pad) : min(h, y + bh + pad), max(0, x - pad) : min(w, x + bw + pad)]
    # Three scales: Tesseract's errors at one rarely repeat at the others.
    if variant == 1:
        crop = cv2.resize(crop, None, fx=1.25, fy=1.25, interpolation=cv2.INTER_LINEAR)
    elif variant == 2:
        crop = cv2.resize(crop, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
    return cv2.copyMakeBorder(crop, 10, 10, 10, 10, cv2.BORDER_CONSTANT, value=255)


#: How the security code's line is prepared for each of its reads: (model, scale, ink).
#: ``J`` is the Japanese model, ``E`` the English digits model; ``otsu`` binarises the line,
#: ``stretch`` stretches its contrast to 0..255. Measured on the benchmark's refused codes:
#: the Japanese model drops a leading 7 or 2 on the grey, JPEG-noisy line but reads the
#: binarised one (at 1-2x) almost always; the English model reads best on a stretched line.
CODE_READS: tuple[tuple[str, float, str], ...] = (
    ("J", 1.0, "otsu"), ("E", 1.0, "stretch"), ("J", 1.5, "otsu"), ("J", 2.0, "otsu"),
    ("E", 1.5, "otsu"), ("E", 1.5, "stretch"))


def _code_crop(grey: Any, box: tuple[int, int, int, int], scale: float, ink: str) -> Any:
    """The security code's line with a margin, scaled and binarised or stretched."""
    x, y, bw, bh = box
    h, w = grey.shape
    pad = 6
    crop = grey[max(0, y - pad) : min(h, y + bh + pad), max(0, x - pad) : min(w, x + bw + pad)]
    if scale != 1.0:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    if ink == "otsu":
        _, crop = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    else:
        lo, hi = int(crop.min()), int(crop.max())
        if hi > lo:
            crop = ((crop.astype(np.int32) - lo) * 255 // (hi - lo)).astype(np.uint8)
    # A wide white margin: Tesseract drops a first digit that touches the crop's side.
    return cv2.copyMakeBorder(crop, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=255)


def _read_code(engine: OcrEngine, grey: Any, box: tuple[int, int, int, int],
               which: tuple[tuple[str, float, str], ...]) -> list[LineText]:
    return [engine.read_line(_code_crop(grey, box, scale, ink), DIGIT_WHITELIST)
            if model == "J" else engine.read_digits(_code_crop(grey, box, scale, ink))
            for model, scale, ink in which]


# --- reading -------------------------------------------------------------------------------


def _line_confidence(line: LineText, strict: bool) -> float:
    """A date line: its mean character confidence, or 0 when any character is near 0;
    the security code (``strict``): its lowest character confidence."""
    if strict:
        return line.min_confidence
    return line.mean_confidence if line.min_confidence >= 0.1 else 0.0


def _date_kind(text: str, errors: dict[str, CardFrontError]) -> str | None:
    """``birth`` or ``expiry`` when the line says one (a date that does not exist is
    remembered in ``errors``, so a refusal can say so), else None."""
    for kind, parse in (("birth", parse_birth), ("expiry", parse_expiry)):
        try:
            if parse(text) is not None:
                return kind
        except CardFrontError as exc:
            errors.setdefault(kind, exc)
            return kind
    return None


def _vote(reads: list[LineText], parse: Callable[[str], T | None], need: int,
          strict: bool, dissent: int = 0) -> tuple[T | None, float, str | None]:
    """The value most reads agree on. Reads that say nothing valid (a dropped digit, a day
    36) abstain; more than ``dissent`` valid reads that differ from the majority refuse the
    field, and so do fewer than ``need`` agreeing reads (plus one per dissenting read).
    The confidence is the lowest of the agreeing reads'."""
    values: list[tuple[T, LineText]] = []
    for line in reads:
        try:
            value = parse(line.text)
        except CardFrontError:
            value = None
        if value is not None:
            values.append((value, line))
    tally: dict[str, list[tuple[T, LineText]]] = {}
    for v, line in values:
        tally.setdefault(repr(v), []).append((v, line))
    if not tally:
        return None, 0.0, f"none of {len(reads)} reads is clear"
    best = max(tally.values(), key=len)
    if len(values) - len(best) > dissent:
        return None, 0.0, "reads of the field disagree"
    if len(best) < need + (len(values) - len(best)):  # each dissent asks one more agreeing
        return None, 0.0, f"only {len(best)} of {len(reads)} reads agree"
    conf = min(_line_confidence(line, strict) for _, line in best)
    return best[0][0], conf, None


def read_fields(card: RectifiedCard, engine: OcrEngine | None = None, *,
                thresholds: Thresholds | None = None, today: dt.date | None = None
                ) -> CardFrontRead:
    """Read birth date, expiry and security code on a rectified card and judge the read."""
    import time

    start = time.perf_counter()
    engine = engine or default_engine()
    thresholds = thresholds or Thresholds()
    today = today or dt.date.today()
    h, w = card.grey.shape
    photo = _find_photo(card.grey)
    lines, grey = _text_lines(card.grey, photo)
    errors: dict[str, CardFrontError] = {}
    if photo is not None:
        px, py, pw, ph = photo
        below = [b for b in lines if b[1] >= py + ph - 4 and b[0] + b[2] > px - 20
                 and b[0] < px + pw + 20]
    else:  # no photo found: the lower right quarter, where it would be
        below = [b for b in lines if b[1] > h * 0.6 and b[0] > w * 0.55]
    # Which line says what: the first read decides; a line that looks partly like a date
    # (年, 生, 有効) gets a second read at another scale before it is given up.
    found: dict[str, list[tuple[tuple[int, int, int, int], list[LineText]]]] = {
        "birth": [], "expiry": [], "security_code": []}
    for box in lines:
        if box in below or box[2] < 4.5 * box[3]:  # a date is at least ~8 characters wide
            continue
        reads = [engine.read_line(_crop(grey, box, 0), DATE_WHITELIST)]
        kind = _date_kind(reads[0].text, errors)
        if kind is None and any(k in reads[0].text for k in ("年", "生", "有効")):
            reads.append(engine.read_line(_crop(grey, box, 1), DATE_WHITELIST))
            kind = _date_kind(reads[1].text, errors)
        if kind is not None:
            found[kind].append((box, reads))
    for box in below:
        if not 1.2 * box[3] <= box[2] <= 6 * box[3]:  # four digits, not sixteen
            continue
        first, other = _read_code(engine, grey, box, CODE_READS[:2])
        if len(first.text) >= 2 or len(other.text) >= 2:  # digits, not a stray mark
            found["security_code"].append((box, [first, other]))
    codes = found["security_code"]
    if len(codes) > 1:  # the code is printed larger than the serial (or a piece of it)
        codes.sort(key=lambda c: -c[0][3])
        if codes[0][0][3] >= 1.25 * codes[1][0][3]:
            del codes[1:]

    def judge(name: str, whitelist: str, parse: Callable[[str], Any], threshold: float,
              need: int, dissent: int = 0) -> FieldRead[Any]:
        candidates = found[name]
        if len(candidates) > 1:
            return FieldRead(None, 0.0, None, f"{len(candidates)} lines look like the {name}")
        if not candidates:
            exc = errors.get(name)
            return FieldRead(None, 0.0, None,
                             exc.why if exc else f"the {name} was not found on the card")
        box, reads = candidates[0]
        strict = name == "security_code"
        if strict:  # digits: the English model too, an independent second opinion
            reads += _read_code(engine, grey, box, CODE_READS[2:])
        else:
            reads += [engine.read_line(_crop(grey, box, v), whitelist)
                      for v in range(len(reads), 3)]
        x, y, bw, bh = box
        if x <= 2 or y <= 2 or x + bw >= w - 3 or y + bh >= h - 3:
            # At the edge of the found card: the field may be cut off (a 3 read as 2).
            return FieldRead(None, 0.0, box, "the field touches the edge of the card found; "
                                              "the whole card must be in the picture")
        value, conf, problem = _vote(reads, parse, need, strict, dissent)
        if strict and value is not None and problem is None and \
                not any(parse(r.text) == value
                        for r, (model, _s, _i) in zip(reads, CODE_READS, strict=True)
                        if model == "J"):
            # Both models must see the code: one model's steady misreading is not a read.
            value, conf, problem = None, 0.0, "only one of the two models read the code"
        if problem is None and conf < threshold:
            problem = f"read with too little confidence ({conf:.2f} < {threshold:.2f})"
        return FieldRead(value, conf, box, problem)

    birth = judge("birth", DATE_WHITELIST, parse_birth, thresholds.birth, 2)
    expiry = judge("expiry", DATE_WHITELIST, parse_expiry, thresholds.expiry, 2)
    # The code has no cross-check (the dates have the card rules): six reads, two models;
    # three must agree (four when one says another code, and two dissents refuse).
    code = judge("security_code", DIGIT_WHITELIST, parse_code, thresholds.security_code, 3,
                 dissent=1)
    problem: CardFrontError | None = None
    for name, f in (("birth", birth), ("expiry", expiry), ("security_code", code)):
        if f.problem is not None:
            problem = CardFrontError(name, f.problem + "; take a sharper photo of the whole "
                                     "card, without glare, or type 照合番号B")
            break
    if problem is None:
        assert birth.value is not None and expiry.value is not None
        try:
            check_plausible(birth.value, expiry.value, today)
        except CardFrontError as exc:
            problem = exc
    return CardFrontRead(birth, expiry, code, time.perf_counter() - start, engine.name, problem)


def read_card_front(image: bytes | Any, engine: OcrEngine | None = None, *,
                    thresholds: Thresholds | None = None,
                    today: dt.date | None = None) -> CardFrontRead:
    """Read a photo of the card front (encoded bytes or a BGR array).

    Returns a :class:`CardFrontRead` (check ``accepted``); an image without a findable card
    gives a refused read too, never an exception, except :class:`CardFrontError` for bytes
    that are not an image."""
    import time

    start = time.perf_counter()
    img = decode_image(bytes(image)) if isinstance(image, (bytes, bytearray)) else image
    try:
        card = find_card(img)
    except CardFrontError as exc:
        none: FieldRead[Any] = FieldRead(None, 0.0, None, exc.why)
        return CardFrontRead(none, none, none, time.perf_counter() - start, "", exc)
    read = read_fields(card, engine, thresholds=thresholds, today=today)
    return CardFrontRead(read.birth, read.expiry, read.security_code,
                         time.perf_counter() - start, read.engine, read.problem)
