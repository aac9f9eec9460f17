"""Japanese eras (和暦) and the verification codes built from a birth date.

The card's 照合番号B and the visual application's birth-date key write the holder's birth
year in the **Japanese era** (card-reference §4): 1980-02-17 is 昭和55年2月17日, so its
``YYMMDD`` is ``550217``. Eras begin on the dates below; the year in which an era begins is
its first year (元年, written ``01``), and every later Gregorian 1 January starts the next era
year. Dates before 明治 and era years above 99 cannot be written in two digits and raise
:class:`EraRangeError`.

>>> import datetime
>>> build_pin_b(datetime.date(1980, 2, 17), 2035, "2285")
'55021720352285'
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass

from mynaid.cardspec import SecretFormat
from mynaid.errors import InvalidSecretError

__all__ = [
    "Era",
    "EraDate",
    "EraRangeError",
    "birth_date_key",
    "build_pin_b",
    "from_era",
    "parse_date",
    "parse_gregorian",
    "parse_year",
    "to_era",
]


class EraRangeError(InvalidSecretError):
    """A date that no supported era can write (before 明治, or an era year above 99)."""


class Era(enum.Enum):
    """The eras a living holder's birth date can fall in, with their first days."""

    MEIJI = ("明治", "Meiji", 1, dt.date(1868, 10, 23))
    TAISHO = ("大正", "Taisho", 2, dt.date(1912, 7, 30))
    SHOWA = ("昭和", "Showa", 3, dt.date(1926, 12, 25))
    HEISEI = ("平成", "Heisei", 4, dt.date(1989, 1, 8))
    REIWA = ("令和", "Reiwa", 5, dt.date(2019, 5, 1))

    def __init__(self, kanji: str, romaji: str, code: int, start: dt.date) -> None:
        self.kanji = kanji
        self.romaji = romaji
        #: The era digit JPKI writes before a birth date (``EYYYYMMDD``, card-reference §7).
        self.code = code
        self.start = start


#: Eras from the latest back, for the search in :func:`to_era`.
_LATEST_FIRST = sorted(Era, key=lambda era: era.start, reverse=True)


@dataclass(frozen=True)
class EraDate:
    """A date written in a Japanese era: ``era`` year ``year`` (1 = 元年), month, day."""

    era: Era
    year: int
    month: int
    day: int

    def digits(self) -> str:
        """``YYMMDD`` with the era year in two digits, as the card's keys use it."""
        return f"{self.year:02d}{self.month:02d}{self.day:02d}"

    def __str__(self) -> str:
        year = "元" if self.year == 1 else str(self.year)
        return f"{self.era.kanji}{year}年{self.month}月{self.day}日"


def to_era(date: dt.date) -> EraDate:
    """The Japanese-era form of a Gregorian date; :class:`EraRangeError` outside the eras."""
    if isinstance(date, dt.datetime):
        date = date.date()  # a datetime is a date subclass; compare calendar days only
    for era in _LATEST_FIRST:
        if date >= era.start:
            year = date.year - era.start.year + 1
            if year > 99:
                raise EraRangeError(
                    f"{era.romaji} year {year} does not fit the card's two-digit era year")
            return EraDate(era, year, date.month, date.day)
    raise EraRangeError(f"dates before {Era.MEIJI.start.isoformat()} (Meiji 1) have no era "
                        "the card can write")


_DATE_RE = re.compile(r"([0-9]{4})-?([0-9]{2})-?([0-9]{2})")


def parse_gregorian(text: str) -> dt.date:
    """``YYYY-MM-DD`` or ``YYYYMMDD`` as a date; :class:`InvalidSecretError` otherwise.

    The error does not repeat the input: a birth date is personal data.
    """
    match = _DATE_RE.fullmatch(text.strip())
    if not match:
        raise InvalidSecretError("expected a date as YYYY-MM-DD or YYYYMMDD")
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise InvalidSecretError("the date does not exist in the calendar") from None


def birth_date_key(birth: dt.date) -> str:
    """The visual application's birth-date key: era ``YYMMDD`` (6 digits)."""
    value = to_era(birth).digits()
    SecretFormat.DIGITS6.normalize(value)
    return value


def build_pin_b(birth: dt.date, expiry_year: int, security_code: str) -> str:
    """照合番号B: era birth ``YYMMDD`` + Gregorian expiry year + the 4-digit security code.

    Every part is checked before it is used, and errors name the part, never its value.
    """
    if not 1000 <= expiry_year <= 9999:
        raise InvalidSecretError("the expiry year must have four digits")
    if not re.fullmatch(r"[0-9]{4}", security_code):
        raise InvalidSecretError(
            f"the security code must be 4 digits; got {len(security_code)} characters")
    value = f"{to_era(birth).digits()}{expiry_year:04d}{security_code}"
    # The builder's output is a secret of the DIGITS14 format; check it the same way.
    SecretFormat.DIGITS14.normalize(value)
    return value


# --- reading dates as people type them (CLI prompts) -----------------------------------------

_ERA_BY_NAME = {**{era.kanji: era for era in Era}, **{era.romaji[0]: era for era in Era},
                **{era.romaji.upper(): era for era in Era}}
_ERA_DATE_RE = re.compile(
    r"(明治|大正|昭和|平成|令和|MEIJI|TAISHO|SHOWA|HEISEI|REIWA|[MTSHR])\s*"
    r"(元|[0-9]{1,2})\s*[年.\-/ ]?\s*([0-9]{1,2})\s*[月.\-/ ]?\s*([0-9]{1,2})\s*日?")
_GREGORIAN_SEP_RE = re.compile(r"([0-9]{4})\s*[年.\-/ ]\s*([0-9]{1,2})\s*[月.\-/ ]\s*"
                               r"([0-9]{1,2})\s*日?")


def from_era(era: Era, year: int, month: int, day: int) -> dt.date:
    """The Gregorian date of an era date; :class:`InvalidSecretError` when the era did not
    run on that day (平成元年1月7日 is still 昭和)."""
    try:
        date = dt.date(era.start.year + year - 1, month, day)
    except ValueError:
        raise InvalidSecretError("the date does not exist in the calendar") from None
    later = [e for e in Era if e.start > era.start]
    end = min((e.start for e in later), default=None)
    if year < 1 or date < era.start or (end is not None and date >= end):
        raise InvalidSecretError(f"that date is not in the {era.romaji} era")
    return date


def parse_date(text: str) -> dt.date:
    """A date as a person types it: Gregorian (``1980-02-17``, ``19800217``, ``1980/2/17``,
    ``1980年2月17日``) or Japanese era (``昭和55年2月17日``, ``S55.02.17``, ``H1-01-08``,
    ``平成元年1月8日``). Full-width digits (a Japanese IME) are normalised first (NFKC).

    The error names the rule, never the input: a birth date is personal data.
    """
    import unicodedata

    value = unicodedata.normalize("NFKC", text).strip().upper()
    match = _ERA_DATE_RE.fullmatch(value)
    if match:
        era = _ERA_BY_NAME[match[1]]
        year = 1 if match[2] == "元" else int(match[2])
        return from_era(era, year, int(match[3]), int(match[4]))
    match = _GREGORIAN_SEP_RE.fullmatch(value)
    if match:
        try:
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            raise InvalidSecretError("the date does not exist in the calendar") from None
    try:
        return parse_gregorian(value)
    except InvalidSecretError:
        raise InvalidSecretError(
            "expected a date such as 1980-02-17, 昭和55年2月17日 or S55.02.17") from None


def parse_year(text: str) -> int:
    """A Gregorian year typed as ``2035``, ``２０３５`` or an era year (``令和17``, ``R17``)."""
    import unicodedata

    value = unicodedata.normalize("NFKC", text).strip().upper().removesuffix("年")
    if re.fullmatch(r"[0-9]{4}", value):
        return int(value)
    match = re.fullmatch(r"(明治|大正|昭和|平成|令和|[MTSHR])\s*(元|[0-9]{1,2})", value)
    if match:
        era = _ERA_BY_NAME[match[1]]
        return era.start.year + (1 if match[2] == "元" else int(match[2])) - 1
    raise InvalidSecretError("expected a year such as 2035 or 令和17")
