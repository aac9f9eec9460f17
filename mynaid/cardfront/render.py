"""Render the front of a My Number Card from a holder's data (test images, made by the project).

The layout follows the current card (2016 design) closely enough for a reader that finds the
fields by what they say: 氏名 and the name, the birth date with 生 and the sex, 住所 and the
address, the title, the expiry ``YYYY年 M月D日まで有効`` in its box, the photo on the right and,
under the photo, the 16-digit serial and the 4-digit security code. Positions jitter a little
from one rendering to the next (``rng``) so that no reader can rely on fixed pixels.

Fonts come from Debian (fonts-noto-cjk, fonts-ipafont-gothic, fonts-ipafont-mincho):
:func:`available_fonts` lists those installed.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mynaid.errors import DependencyMissingError

if TYPE_CHECKING:
    from PIL import Image

    from mynaid.emulator.profile import CardProfile

#: Pixels per millimetre of the rendered card; ID-1 is 85.60 × 53.98 mm.
PX_PER_MM = 10
CARD_W_MM, CARD_H_MM = 85.60, 53.98
CARD_SIZE = (round(CARD_W_MM * PX_PER_MM), round(CARD_H_MM * PX_PER_MM))  # (856, 540)

#: (path, face index) of Japanese fonts from Debian packages, tried in this order.
FONT_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 0),
    ("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf", 0),
    ("/usr/share/fonts/opentype/ipafont-mincho/ipam.ttf", 0),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 0),
)

_SEX = {"1": "男", "2": "女"}


def available_fonts() -> list[tuple[str, int]]:
    """The Japanese fonts of :data:`FONT_CANDIDATES` that are installed."""
    return [(p, i) for p, i in FONT_CANDIDATES if Path(p).is_file()]


@dataclass(frozen=True)
class CardFrontData:
    """What the front of a card shows. ``era_birth``: the birth date is printed in the
    Japanese era (Japanese nationals) rather than Gregorian (foreign residents)."""

    name: str
    address: str
    birth: dt.date
    sex: str
    expiry: dt.date
    security_code: str = field(repr=False)
    serial: str = field(repr=False)
    era_birth: bool = True
    photo: bytes | None = field(default=None, repr=False)  # JP2/PNG/JPEG; None: drawn

    def birth_line(self) -> str:
        """The birth date as printed, e.g. ``昭和55年 2月17日生`` or ``1980年 2月17日生``."""
        if self.era_birth:
            from mynaid.era import to_era

            era = to_era(self.birth)
            year = "元" if era.year == 1 else str(era.year)
            return f"{era.era.kanji}{year}年{self.birth.month:2d}月{self.birth.day:2d}日生"
        return f"{self.birth.year}年{self.birth.month:2d}月{self.birth.day:2d}日生"

    def expiry_line(self) -> str:
        """``2035年 2月17日まで有効``."""
        e = self.expiry
        return f"{e.year}年{e.month:2d}月{e.day:2d}日まで有効"

    @classmethod
    def from_profile(cls, profile: CardProfile, *, serial: str = "0000000000000000",
                     era_birth: bool = True) -> CardFrontData:
        """The front of the emulator's card ``profile`` (its text and visual sections)."""
        from mynaid.errors import ParseError

        text, visual = profile.text, profile.visual
        if text is None or visual is None:
            raise ParseError("the profile needs its text and visual sections to render a front")

        def date(v: str) -> dt.date:
            return dt.date(int(v[:4]), int(v[4:6]), int(v[6:]))

        return cls(name=text.name, address=text.address, birth=date(visual.birth),
                   sex=visual.sex, expiry=date(visual.expiry),
                   security_code=visual.security_code, serial=serial, era_birth=era_birth,
                   photo=visual.photo)


def _pil() -> tuple[object, object, object]:
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError as exc:  # pragma: no cover - the ocr extra brings Pillow
        raise DependencyMissingError("rendering card fronts needs Pillow: "
                                     "pip install 'mynaid[ocr]'") from exc
    return Image, ImageDraw, ImageFont


def _photo_image(data: CardFrontData, size: tuple[int, int], rng: random.Random) -> Image.Image:
    from PIL import Image, ImageDraw, ImageFilter

    if data.photo is not None:
        try:
            import cv2
            import numpy as np

            arr = cv2.imdecode(np.frombuffer(data.photo, np.uint8), cv2.IMREAD_GRAYSCALE)
            if arr is not None:
                return Image.fromarray(arr).convert("RGB").resize(size)
        except ImportError:
            pass
        return Image.open(io.BytesIO(data.photo)).convert("RGB").resize(size)
    # A drawn stand-in: background, shoulders, head, hair, with the holder's own tones.
    w, h = size
    bg = rng.randint(150, 215)
    img = Image.new("RGB", size, (bg, bg, min(255, bg + 10)))
    d = ImageDraw.Draw(img)
    cloth = tuple(rng.randint(20, 120) for _ in range(3))
    d.ellipse((-w * 0.1, h * 0.72, w * 1.1, h * 1.5), fill=cloth)
    skin = rng.randint(150, 220)
    skin_c = (skin, int(skin * 0.85), int(skin * 0.75))
    d.rectangle((w * 0.42, h * 0.55, w * 0.58, h * 0.8), fill=skin_c)
    d.ellipse((w * 0.25, h * 0.18, w * 0.75, h * 0.68), fill=skin_c)
    hair = rng.randint(10, 70)
    d.chord((w * 0.22, h * 0.1, w * 0.78, h * 0.5), 180, 360, fill=(hair, hair, hair))
    for ex in (0.4, 0.6):
        d.ellipse((w * ex - 6, h * 0.42 - 4, w * ex + 6, h * 0.42 + 4), fill=(30, 30, 30))
    d.line((w * 0.44, h * 0.57, w * 0.56, h * 0.57), fill=(120, 60, 60), width=3)
    return img.filter(ImageFilter.GaussianBlur(1.2))


def render_front(data: CardFrontData, font: tuple[str, int] | None = None, *,
                 rng: random.Random | None = None) -> Image.Image:
    """The card front as an RGB image of :data:`CARD_SIZE` (10 px per mm)."""
    _pil()
    from PIL import Image, ImageDraw, ImageFont

    rng = rng or random.Random(0)  # noqa: S311 - layout jitter of test images
    fonts = available_fonts()
    if font is None:
        if not fonts:
            raise DependencyMissingError(
                "no Japanese font: install fonts-noto-cjk or fonts-ipafont-gothic")
        font = fonts[0]

    def f(size: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(font[0], size, index=font[1])

    def j(n: int = 6) -> int:
        return rng.randint(-n, n)

    w, h = CARD_SIZE
    tint = (rng.randint(244, 252), rng.randint(236, 246), rng.randint(232, 244))
    img = Image.new("RGB", CARD_SIZE, tint)
    d = ImageDraw.Draw(img)
    # The printed security pattern: faint waves, so the background is not flat.
    for k in range(0, h, 14):
        c = (tint[0] - 8, tint[1] - 6, tint[2] - 2)
        d.arc((-200, k - 120, w + 200, k + 120), 10, 170, fill=c, width=1)
    ink = (30, 30, 35)
    label = (90, 90, 100)
    dx, dy = j(8), j(6)
    d.text((40 + dx, 42 + dy), "氏名", font=f(20), fill=label)
    d.text((100 + dx, 30 + dy), data.name, font=f(38), fill=ink)
    by = 96 + dy + j(4)
    d.text((100 + dx + j(10), by), data.birth_line(), font=f(28), fill=ink)
    sex = _SEX.get(data.sex)
    if sex:
        d.text((440 + dx + j(6), by), "性別", font=f(18), fill=label)
        d.text((490 + dx + j(6), by), sex, font=f(28), fill=ink)
    ay = 160 + dy + j(4)
    d.text((40 + dx, ay + 4), "住所", font=f(20), fill=label)
    lines = [data.address[i : i + 16] for i in range(0, len(data.address), 16)][:3]
    for n, line in enumerate(lines):
        d.text((100 + dx, ay + n * 36), line, font=f(26), fill=ink)
    d.text((46 + dx + j(6), 300 + dy + j(6)), "個人番号カード", font=f(30), fill=(60, 60, 90))
    ex, ey = 50 + dx + j(8), 392 + dy + j(8)
    box = (ex, ey, ex + 390, ey + 52)
    d.rounded_rectangle(box, radius=10, fill=(255, 255, 255), outline=(200, 120, 120),
                        width=2)
    d.text((ex + 14, ey + 10), data.expiry_line(), font=f(26), fill=ink)
    px, py = 612 + j(6), 138 + j(6)
    pw, ph = 210, 262
    img.paste(_photo_image(data, (pw, ph), rng), (px, py))
    mono = ImageFont.truetype(font[0], 18, index=font[1])
    d.text((px + 4, py + ph + 14), data.serial, font=mono, fill=ink)
    d.text((px + 70 + j(10), py + ph + 44), data.security_code, font=f(30), fill=ink)
    return img


def render_front_bytes(data: CardFrontData, font: tuple[str, int] | None = None, *,
                       rng: random.Random | None = None, fmt: str = "PNG") -> bytes:
    """:func:`render_front` encoded (PNG by default)."""
    out = io.BytesIO()
    render_front(data, font, rng=rng).save(out, fmt)
    return out.getvalue()
