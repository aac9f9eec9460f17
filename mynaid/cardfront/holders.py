"""Generated card holders and the augmented test set made from them (seeded, deterministic).

Japanese nationals get era birth dates (昭和, 平成, 令和, some 大正 and 元年 dates) and an
expiry on their 10th birthday after issue (5th under 20); foreign residents get Gregorian
birth dates and Latin or katakana names, and some an expiry at the end of a residence period
(not a birthday). Issue dates lie between 2016 and ``today``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

from mynaid.cardfront.render import CardFrontData, available_fonts, render_front

_FAMILY = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤",
           "吉田", "山田", "佐々木", "松本", "井上", "木村", "長谷川", "斎藤", "清水", "森")
_GIVEN = ("太郎", "花子", "翔太", "陽菜", "健", "美咲", "大輔", "結衣", "誠", "さくら",
          "蓮", "葵", "浩二", "恵子", "悠真", "凛")
_FOREIGN = ("SMITH JOHN", "NGUYEN VAN AN", "GARCIA MARIA", "KIM MINJUN", "ワン　シャオミン",
            "SILVA ANA", "パテル　ラジ", "MÜLLER ANNA")
_PLACES = ("東京都千代田区千代田１－１", "大阪府大阪市北区梅田３－４－５",
           "北海道札幌市中央区北一条西２－１",
           "福岡県福岡市博多区博多駅前２－３－６", "愛知県名古屋市中区栄４－１－１２",
           "神奈川県横浜市西区みなとみらい２－２－１－１０１", "京都府京都市左京区吉田本町３６")


def _birthday_in(year: int, birth: dt.date) -> dt.date:
    try:
        return birth.replace(year=year)
    except ValueError:  # 29 February in a common year
        return dt.date(year, 2, 28)


def expiry_for(birth: dt.date, issued: dt.date) -> dt.date:
    """The card rules: the 10th birthday after issue, the 5th for holders under 20."""
    age = issued.year - birth.year - ((issued.month, issued.day) < (birth.month, birth.day))
    n = 5 if age < 20 else 10
    first = _birthday_in(issued.year, birth)
    if first <= issued:
        first = _birthday_in(issued.year + 1, birth)
    return _birthday_in(first.year + n - 1, birth)


def generate_holders(seed: int, count: int, today: dt.date) -> list[CardFrontData]:
    """``count`` holders, the same for the same seed; about a quarter foreign residents."""
    rng = random.Random(seed)  # noqa: S311 - test data, reproducible by design
    out = []
    for i in range(count):
        foreign = i % 4 == 3
        issued = dt.date(2016, 1, 15) + dt.timedelta(
            days=rng.randint(0, (today - dt.date(2016, 1, 15)).days))
        kind = i % 5
        if kind == 0:
            birth = dt.date(rng.randint(1930, 1988), rng.randint(1, 12), rng.randint(1, 28))
        elif kind == 1:
            birth = dt.date(rng.randint(1990, 2018), rng.randint(1, 12), rng.randint(1, 28))
        elif kind == 2:
            birth = dt.date(2019, 5, 1) + dt.timedelta(days=rng.randint(0, 900))
        elif kind == 3:  # 元年 and era boundaries
            birth = rng.choice((dt.date(1989, 1, 8), dt.date(1989, 3, 3), dt.date(2019, 5, 1),
                                dt.date(2019, 12, 24), dt.date(1926, 12, 25),
                                dt.date(1925, 6, 6)))
        else:
            birth = dt.date(rng.randint(1940, 2005), rng.randint(1, 12), rng.randint(1, 28))
        if issued <= birth:
            issued = birth + dt.timedelta(days=30)
        expiry = expiry_for(birth, issued)
        if foreign and rng.random() < 0.5:  # residence period end, not a birthday
            expiry = issued + dt.timedelta(days=rng.randint(365, 5 * 365))
        name = rng.choice(_FOREIGN) if foreign else \
            f"{rng.choice(_FAMILY)}\u3000{rng.choice(_GIVEN)}"
        out.append(CardFrontData(
            name=name, address=rng.choice(_PLACES), birth=birth,
            sex=rng.choice("12"), expiry=expiry,
            security_code=f"{rng.randrange(10000):04d}",
            serial=f"{rng.randrange(10**16):016d}", era_birth=not foreign))
    return out


@dataclass(frozen=True)
class Sample:
    """One augmented image with the holder it shows and how it was made."""

    holder: CardFrontData
    font: str
    jpeg: bytes
    kind: str
    glare: bool


def generate_samples(seed: int, holders: int, per_holder: int,
                     today: dt.date) -> Iterator[Sample]:
    """``holders × per_holder`` camera-like shots, rendered in turn with every font."""
    from mynaid.cardfront.augment import augment

    fonts = available_fonts()
    rng = random.Random(seed + 1)  # noqa: S311 - test data, reproducible by design
    n = 0
    for holder in generate_holders(seed, holders, today):
        for _ in range(per_holder):
            font = fonts[n % len(fonts)]
            n += 1
            shot = augment(render_front(holder, font, rng=rng), rng)
            yield Sample(holder, font[0].rsplit("/", 1)[-1], shot.jpeg, shot.kind, shot.glare)
