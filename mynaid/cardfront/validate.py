"""Parse the printed dates and decide whether a read is good enough to spend a try on.

Pure and I/O free. A wrong 照合番号B costs one of the card's tries, so a read is only turned
into one when every field parses, exists in the calendar (and, for an era date, inside its
era), is above its confidence threshold, and the dates agree with the card rules:

* the card is issued from 2016 (the first cards) and is valid until the holder's 10th
  birthday after issue (5th for holders under 20), so the expiry is at most 11 years ahead;
* for a Japanese national (era birth date) the expiry day is the birthday (29 February:
  28 February or 1 March), and the age at expiry is 5-24 (issued under 20) or 30 and over;
* for a foreign resident (Gregorian birth date) the expiry may be the end of the residence
  period instead: only the bounds apply.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from mynaid.era import Era, EraRangeError, to_era
from mynaid.errors import CardFrontError

#: The first My Number Cards were issued in January 2016.
FIRST_ISSUE_YEAR = 2016
MAX_AGE = 125

_ERA_BY_KANJI = {e.kanji: e for e in Era}
_ERA_RE = re.compile(r"(明治|大正|昭和|平成|令和)(元|[0-9]{1,2})年([0-9]{1,2})月([0-9]{1,2})日生")
_GREG_BIRTH_RE = re.compile(r"(?<![0-9])([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日生")
_EXPIRY_RE = re.compile(r"(?<![0-9])([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日まで有効")
_CODE_RE = re.compile(r"[0-9]{4}")


@dataclass(frozen=True)
class BirthDate:
    """A printed birth date: the Gregorian date and whether it was printed in an era."""

    date: dt.date
    era: bool


def parse_birth(text: str) -> BirthDate | None:
    """The birth date in one OCR'd line (``昭和55年 2月17日生`` or ``1980年 2月17日生``), or
    None when the line does not say one. Raises :class:`CardFrontError` for a date that does
    not exist (a misread)."""
    s = text.replace(" ", "").replace("\u3000", "")
    m = _ERA_RE.search(s)
    if m:
        era = _ERA_BY_KANJI[m[1]]
        year = 1 if m[2] == "元" else int(m[2])
        try:
            date = dt.date(era.start.year + year - 1, int(m[3]), int(m[4]))
        except ValueError:
            raise CardFrontError("birth", "the birth date read does not exist in the "
                                 "calendar") from None
        try:
            back = to_era(date)
        except EraRangeError:
            back = None
        if year < 1 or back is None or back.era is not era:
            raise CardFrontError("birth", f"the birth date read does not exist in the "
                                 f"{era.romaji} era")
        return BirthDate(date, True)
    m = _GREG_BIRTH_RE.search(s)
    if m:
        try:
            return BirthDate(dt.date(int(m[1]), int(m[2]), int(m[3])), False)
        except ValueError:
            raise CardFrontError("birth", "the birth date read does not exist in the "
                                 "calendar") from None
    return None


def parse_expiry(text: str) -> dt.date | None:
    """The expiry in one line (``2035年 2月17日まで有効``), or None when the line has none."""
    s = text.replace(" ", "").replace("\u3000", "")
    m = _EXPIRY_RE.search(s)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise CardFrontError("expiry", "the expiry date read does not exist in the "
                             "calendar") from None


def parse_code(text: str) -> str | None:
    """The security code: a line that is exactly four digits, else None."""
    s = text.replace(" ", "")
    return s if _CODE_RE.fullmatch(s) else None


def _is_birthday(birth: dt.date, day: dt.date) -> bool:
    if (birth.month, birth.day) == (day.month, day.day):
        return True
    return (birth.month, birth.day) == (2, 29) and (day.month, day.day) in ((2, 28), (3, 1))


def check_plausible(birth: BirthDate, expiry: dt.date, today: dt.date) -> None:
    """Raise :class:`CardFrontError` when the two dates cannot both be on a valid card."""
    if birth.date > today:
        raise CardFrontError("birth", "the birth date read is in the future")
    if today.year - birth.date.year > MAX_AGE:
        raise CardFrontError("birth", "the birth date read is implausibly long ago")
    if expiry.year > today.year + 11:
        raise CardFrontError("expiry", "the expiry read is more than 11 years ahead")
    if expiry.year < FIRST_ISSUE_YEAR + 1:
        raise CardFrontError("expiry", "the expiry read is before any card could expire")
    if expiry <= birth.date:
        raise CardFrontError("expiry", "the expiry read is before the birth date")
    if birth.era:
        if not _is_birthday(birth.date, expiry):
            raise CardFrontError("expiry", "the expiry read is not the holder's birthday, "
                                 "as the card rules require")
        age = expiry.year - birth.date.year
        if not (5 <= age <= 24 or age >= 30):
            raise CardFrontError("expiry", "the expiry read does not fit the 10-year (5-year "
                                 "under 20) validity for this birth date")
        if expiry.year - (5 if age <= 24 else 10) < FIRST_ISSUE_YEAR - 1:
            raise CardFrontError("expiry", "the expiry read implies an issue before 2016")
