"""Japanese eras and the codes built from a birth date (mynaid.era)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mynaid.era import (
    Era,
    EraDate,
    EraRangeError,
    birth_date_key,
    build_pin_b,
    parse_gregorian,
    to_era,
)
from mynaid.errors import InvalidSecretError

D = dt.date

#: (last day of the previous era, its era and year), (first day of the next era): the year of
#: an era's first day is 元年 (01).
BOUNDARIES = [
    (D(1912, 7, 29), Era.MEIJI, 45, D(1912, 7, 30), Era.TAISHO),
    (D(1926, 12, 24), Era.TAISHO, 15, D(1926, 12, 25), Era.SHOWA),
    (D(1989, 1, 7), Era.SHOWA, 64, D(1989, 1, 8), Era.HEISEI),
    (D(2019, 4, 30), Era.HEISEI, 31, D(2019, 5, 1), Era.REIWA),
]


@pytest.mark.parametrize(("before", "era_before", "year_before", "first", "era_after"),
                         BOUNDARIES)
def test_both_sides_of_each_boundary(before: dt.date, era_before: Era, year_before: int,
                                     first: dt.date, era_after: Era) -> None:
    assert to_era(before) == EraDate(era_before, year_before, before.month, before.day)
    after = to_era(first)
    assert (after.era, after.year, after.month, after.day) == (era_after, 1, first.month,
                                                               first.day)
    assert after.digits() == f"01{first.month:02d}{first.day:02d}"
    assert str(after).startswith(era_after.kanji + "元年")


def test_meiji_start_and_before() -> None:
    first = to_era(D(1868, 10, 23))
    assert (first.era, first.year) == (Era.MEIJI, 1)
    with pytest.raises(EraRangeError) as info:
        to_era(D(1868, 10, 22))
    assert isinstance(info.value, InvalidSecretError)  # the CLI maps it to a usage error


def test_second_year_starts_on_first_january() -> None:
    assert to_era(D(2019, 12, 31)).year == 1
    assert to_era(D(2020, 1, 1)).year == 2
    assert to_era(D(1927, 1, 1)).year == 2  # 昭和2年: 昭和元年 lasted one week


def test_era_year_above_99_is_refused() -> None:
    assert to_era(D(2117, 12, 31)).year == 99
    with pytest.raises(EraRangeError):
        to_era(D(2118, 1, 1))


def test_card_reference_example() -> None:
    assert build_pin_b(D(1980, 2, 17), 2035, "2285") == "55021720352285"
    assert birth_date_key(D(1980, 2, 17)) == "550217"


def test_datetime_is_accepted_as_its_day() -> None:
    assert to_era(dt.datetime(1989, 1, 8, 0, 0)).era is Era.HEISEI


@pytest.mark.parametrize(("year", "code"), [(999, "2285"), (10000, "2285"), (2035, "228"),
                                            (2035, "22a5"), (2035, "22855")])
def test_pin_b_parts_are_checked_without_echo(year: int, code: str) -> None:
    with pytest.raises(InvalidSecretError) as info:
        build_pin_b(D(1980, 2, 17), year, code)
    assert code not in str(info.value) or len(code) < 4


@given(st.dates(min_value=D(1868, 10, 23), max_value=D(2117, 12, 31)))
def test_every_date_in_range_gives_a_valid_key(date: dt.date) -> None:
    era = to_era(date)
    # The era is the latest whose first day is not after the date.
    assert era.era.start <= date
    later = [e for e in Era if e.start > era.era.start]
    assert all(date < e.start for e in later)
    assert era.year == date.year - era.era.start.year + 1
    pin_b = build_pin_b(date, 2035, "0000")
    assert len(pin_b) == 14 and pin_b.isdigit()
    assert pin_b[:6] == birth_date_key(date)


@pytest.mark.parametrize("text", ["1980-02-17", "19800217", " 1980-02-17 "])
def test_parse_gregorian(text: str) -> None:
    assert parse_gregorian(text) == D(1980, 2, 17)


@pytest.mark.parametrize("text", ["1980-02-30", "1980/02/17", "80-02-17", ""])
def test_parse_gregorian_errors_do_not_echo(text: str) -> None:
    with pytest.raises(InvalidSecretError) as info:
        parse_gregorian(text)
    assert not text.strip() or text.strip() not in str(info.value)
