"""Profile sections of the text and visual applications (JSON keys ``"text"``, ``"visual"``).

::

    "text": {"my_number": "123456789018", "name": "試験\u3000花子", "address": "...",
             "birth": "19800217", "sex": "2", "pin": "5678", "pin_b": "55021720352285",
             "tries": {"pin": 3, "pin_a": 3, "pin_b": 10},
             "signing_key": "<PKCS#8 PEM>", "card_key": "<PKCS#8 PEM>",
             "session_key": "<PKCS#8 PEM>" (optional), "cv_certificate": "<base64>"}
    "visual": {"my_number": "...", "birth": "19800217", "sex": "2", "expiry": "20350217",
               "security_code": "2285", "pin_b": "...", "birth_key": "550217",
               "tries": {"pin_a": 10, "pin_b": 10, "birth": 10},
               "name_image": "<base64 PNG>", "address_image": "...", "photo": "<base64 JP2>",
               "security_code_image": "...", "my_number_image": "...",
               "municipality_code": "131016" (6 digits, or the 5 without check digit),
               "signing_key": "...", "card_key": "...", "cv_certificate": "<base64>"}

``pin_b`` and ``birth_key`` may be left out: they are then derived from the birth date, the
expiry year and the security code (:mod:`mynaid.era`). ``tries`` entries default to the
cardspec's numbers (card-reference §9: 10 for the visual keys and text 照合番号B).
``signing_key`` is the key EF 0004's CV certificate certifies: it signs the records (text
DF33, DF52; visual DF28, DF13, DF43) when the card is built and is never put on the card.
``cv_certificate`` is EF 0004 as issued by the test issuer of ``vectors/test-pki/``.
``card_key`` is the card's own key (a different key: visual DF24/DF12/DF42, text DF51, in the
internal EFs visual 001A and text 0013) for the card-presence signature. ``session_key``
(text EF 0006, tag A1) is a third key, for session-key delivery; without it EF 0006 is absent.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from mynaid.cardspec import (
    TEXT_PIN,
    TEXT_PIN_A,
    TEXT_PIN_B,
    VISUAL_BIRTH_KEY,
    VISUAL_PIN_A,
    VISUAL_PIN_B,
)
from mynaid.emulator.keys import key_to_pem, load_private_key
from mynaid.errors import InvalidSecretError, MynaidError, ParseError

_DIGITS = {n: re.compile(f"[0-9]{{{n}}}") for n in (4, 6, 8, 12, 14)}
_SEX_CODES = frozenset({"0", "1", "2", "9"})


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise ParseError(f"profile field {what} must be a base64 string")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ParseError(f"profile field {what} is not base64") from exc


def _check(value: str, digits: int, what: str) -> None:
    if not _DIGITS[digits].fullmatch(value):
        raise ParseError(f"profile field {what} must be {digits} digits")


def _check_date(value: str, what: str) -> None:
    _check(value, 8, what)
    try:
        dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise ParseError(f"profile field {what} is not a calendar date") from None


def _date(value: str) -> dt.date:
    return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))


def _tries(obj: dict[str, Any], names: dict[str, int]) -> dict[str, int]:
    raw = obj.get("tries", {})
    if not isinstance(raw, dict):
        raise ParseError("profile field tries must be an object")
    unknown = set(raw) - set(names)
    if unknown:
        raise ParseError(f"profile field tries has unknown keys {sorted(unknown)}")
    out = {}
    for name, default in names.items():
        value = raw.get(name, default)
        if not isinstance(value, int) or not 1 <= value <= 15:
            raise ParseError(f"profile tries.{name} must be an integer 1..15")
        out[name] = value
    return out


def _derived_pin_b(birth: str, expiry_year: int, code: str) -> str:
    from mynaid.era import build_pin_b

    try:
        return build_pin_b(_date(birth), expiry_year, code)
    except InvalidSecretError as exc:
        raise ParseError(f"cannot derive pin_b from the profile: {exc.message}") from None


TEXT_TRIES = {"pin": TEXT_PIN.max_tries, "pin_a": TEXT_PIN_A.max_tries,
              "pin_b": TEXT_PIN_B.max_tries}
VISUAL_TRIES = {"pin_a": VISUAL_PIN_A.max_tries, "pin_b": VISUAL_PIN_B.max_tries,
                "birth": VISUAL_BIRTH_KEY.max_tries}


@dataclass(frozen=True)
class TextProfile:
    """The text application's content (its records are built from it, see textvisual)."""

    my_number: str = field(repr=False)
    name: str
    address: str
    birth: str
    sex: str
    pin: str = field(repr=False)
    pin_b: str = field(repr=False)
    signing_key: rsa.RSAPrivateKey = field(repr=False)
    card_key: rsa.RSAPrivateKey = field(repr=False)
    cv_certificate: bytes = field(repr=False)
    tries: dict[str, int] = field(default_factory=lambda: dict(TEXT_TRIES))
    session_key: rsa.RSAPrivateKey | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        from mynaid.records import valid_my_number

        if not valid_my_number(self.my_number):
            raise ParseError("profile text.my_number must be 12 digits with a valid check digit")
        _check_date(self.birth, "text.birth")
        _check(self.pin, 4, "text.pin")
        _check(self.pin_b, 14, "text.pin_b")
        if self.sex not in _SEX_CODES:
            raise ParseError("profile text.sex must be 0, 1, 2 or 9")

    def to_json(self) -> dict[str, Any]:
        return {
            "my_number": self.my_number, "name": self.name, "address": self.address,
            "birth": self.birth, "sex": self.sex, "pin": self.pin, "pin_b": self.pin_b,
            "tries": dict(self.tries),
            "signing_key": key_to_pem(self.signing_key), "card_key": key_to_pem(self.card_key),
            **({"session_key": key_to_pem(self.session_key)} if self.session_key else {}),
            "cv_certificate": _b64(self.cv_certificate),
        }

    @classmethod
    def from_json(cls, obj: object) -> TextProfile:
        if not isinstance(obj, dict):
            raise ParseError("profile section text must be an object")
        try:
            pin_b = obj.get("pin_b")
            if pin_b is None:
                # Without a visual section there is no expiry or code to derive it from.
                raise ParseError("profile text.pin_b is required")
            return cls(
                my_number=str(obj["my_number"]), name=str(obj["name"]),
                address=str(obj["address"]), birth=str(obj["birth"]), sex=str(obj["sex"]),
                pin=str(obj["pin"]), pin_b=str(pin_b),
                signing_key=load_private_key(obj["signing_key"], "text.signing_key"),
                card_key=load_private_key(obj["card_key"], "text.card_key"),
                cv_certificate=_unb64(obj["cv_certificate"], "text.cv_certificate"),
                tries=_tries(obj, TEXT_TRIES),
                session_key=(load_private_key(obj["session_key"], "text.session_key")
                             if obj.get("session_key") is not None else None),
            )
        except KeyError as exc:
            raise ParseError(f"profile section text lacks {exc.args[0]!r}") from None
        except MynaidError:
            raise
        except (TypeError, ValueError) as exc:
            raise ParseError(f"malformed text section in profile: {type(exc).__name__}") \
                from exc


@dataclass(frozen=True)
class VisualProfile:
    """The visual application's content: the card face, its images and its keys."""

    my_number: str = field(repr=False)
    birth: str
    sex: str
    expiry: str
    security_code: str = field(repr=False)
    pin_b: str = field(repr=False)
    birth_key: str = field(repr=False)
    name_image: bytes = field(repr=False)
    address_image: bytes = field(repr=False)
    photo: bytes = field(repr=False)
    security_code_image: bytes = field(repr=False)
    my_number_image: bytes = field(repr=False)
    municipality_code: str
    signing_key: rsa.RSAPrivateKey = field(repr=False)
    card_key: rsa.RSAPrivateKey = field(repr=False)
    cv_certificate: bytes = field(repr=False)
    tries: dict[str, int] = field(default_factory=lambda: dict(VISUAL_TRIES))

    def __post_init__(self) -> None:
        from mynaid.records import valid_my_number

        if not valid_my_number(self.my_number):
            raise ParseError(
                "profile visual.my_number must be 12 digits with a valid check digit")
        _check_date(self.birth, "visual.birth")
        _check_date(self.expiry, "visual.expiry")
        _check(self.security_code, 4, "visual.security_code")
        _check(self.pin_b, 14, "visual.pin_b")
        _check(self.birth_key, 6, "visual.birth_key")
        if not re.fullmatch(r"[0-9]{5,6}", self.municipality_code):
            raise ParseError("profile field visual.municipality_code must be 5 or 6 digits")
        if self.sex not in _SEX_CODES:
            raise ParseError("profile visual.sex must be 0, 1, 2 or 9")
        if not self.photo:
            raise ParseError("profile visual.photo is empty")

    def to_json(self) -> dict[str, Any]:
        return {
            "my_number": self.my_number, "birth": self.birth, "sex": self.sex,
            "expiry": self.expiry, "security_code": self.security_code,
            "pin_b": self.pin_b, "birth_key": self.birth_key, "tries": dict(self.tries),
            "name_image": _b64(self.name_image), "address_image": _b64(self.address_image),
            "photo": _b64(self.photo), "security_code_image": _b64(self.security_code_image),
            "my_number_image": _b64(self.my_number_image),
            "municipality_code": self.municipality_code,
            "signing_key": key_to_pem(self.signing_key), "card_key": key_to_pem(self.card_key),
            "cv_certificate": _b64(self.cv_certificate),
        }

    @classmethod
    def from_json(cls, obj: object) -> VisualProfile:
        if not isinstance(obj, dict):
            raise ParseError("profile section visual must be an object")
        try:
            birth, expiry, code = str(obj["birth"]), str(obj["expiry"]), \
                str(obj["security_code"])
            _check_date(birth, "visual.birth")
            _check_date(expiry, "visual.expiry")
            _check(code, 4, "visual.security_code")
            pin_b = obj.get("pin_b")
            if pin_b is None:
                pin_b = _derived_pin_b(birth, int(expiry[:4]), code)
            birth_key = obj.get("birth_key")
            if birth_key is None:
                from mynaid.era import birth_date_key

                try:
                    birth_key = birth_date_key(_date(birth))
                except InvalidSecretError as exc:
                    raise ParseError(f"cannot derive birth_key: {exc.message}") from None
            return cls(
                my_number=str(obj["my_number"]), birth=birth, sex=str(obj["sex"]),
                expiry=expiry, security_code=code, pin_b=str(pin_b),
                birth_key=str(birth_key),
                name_image=_unb64(obj["name_image"], "visual.name_image"),
                address_image=_unb64(obj["address_image"], "visual.address_image"),
                photo=_unb64(obj["photo"], "visual.photo"),
                security_code_image=_unb64(obj["security_code_image"],
                                           "visual.security_code_image"),
                my_number_image=_unb64(obj["my_number_image"], "visual.my_number_image"),
                municipality_code=str(obj["municipality_code"]),
                signing_key=load_private_key(obj["signing_key"], "visual.signing_key"),
                card_key=load_private_key(obj["card_key"], "visual.card_key"),
                cv_certificate=_unb64(obj["cv_certificate"], "visual.cv_certificate"),
                tries=_tries(obj, VISUAL_TRIES),
            )
        except KeyError as exc:
            raise ParseError(f"profile section visual lacks {exc.args[0]!r}") from None
        except MynaidError:
            raise
        except (TypeError, ValueError) as exc:
            raise ParseError(f"malformed visual section in profile: {type(exc).__name__}") \
                from exc
