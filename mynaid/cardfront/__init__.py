"""Read 照合番号B from a photo of the card front, as clinic card readers do (issue 12).

:func:`read_card_front` finds the card in a camera frame, phone photo or flatbed scan
(:mod:`~mynaid.cardfront.detect`), reads the birth date, the expiry and the security code by
what they say with Tesseract (:mod:`~mynaid.cardfront.ocr`, :mod:`~mynaid.cardfront.fields`)
and checks the read before anything is sent (:mod:`~mynaid.cardfront.validate`)::

    read = read_card_front(open("front.jpg", "rb").read())
    if read.accepted:
        collation_b = read.collation_b()
    else:
        print(read.problem)  # which field and why: ask for a better photo, or type it

Needs ``mynaid[ocr]`` (tesserocr, Pillow, OpenCV) and the Debian packages tesseract-ocr-jpn
(and a Japanese font for the test renderer, :mod:`~mynaid.cardfront.render`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mynaid.cardfront.fields import CardFrontRead, FieldRead, Thresholds

__all__ = ["CardFrontRead", "FieldRead", "Thresholds", "read_card_front"]


def read_card_front(image: Any, engine: Any = None, **kwargs: Any) -> CardFrontRead:
    """See :func:`mynaid.cardfront.fields.read_card_front`."""
    from mynaid.cardfront.fields import read_card_front as _read

    return _read(image, engine, **kwargs)


def __getattr__(name: str) -> Any:
    if name in ("CardFrontRead", "FieldRead", "Thresholds"):
        from mynaid.cardfront import fields

        return getattr(fields, name)
    raise AttributeError(name)
