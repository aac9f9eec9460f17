"""Card profiles: what an emulated card holds (PKI, secrets, holder data), as JSON.

A profile file is JSON::

    {"format": "mynaid-card-profile", "version": 1, "name": "...",
     "jpki": {"token_label": "JPKIAPICCTOKEN2", "auth_pin": "1234", "sign_password": "...",
              "auth_pin_tries": 3, "sign_password_tries": 5,
              "auth_cert": "<PEM>", "auth_key": "<PKCS#8 PEM>", "auth_ca_cert": "<PEM>",
              "sign_cert": "<PEM or null>", "sign_key": "<PEM or null>", "sign_ca_cert": "<PEM>"}}

An optional ``"tries_left": {"auth-pin": 1, "sign-password": 0}`` (secret names of
:mod:`mynaid.cardspec`) starts the card with used counters, to rehearse the lockout guard
(exit 7) and a blocked key (exit 4); ``mynaid --state FILE`` keeps counters between
commands (:mod:`mynaid.emulator.state`).

Loading is hostile-input safe: at most :data:`MAX_PROFILE_BYTES`, strict UTF-8, nesting of
at most :data:`MAX_PROFILE_DEPTH`, and every field typed (a ``null`` or a number where a
string belongs, a non-ASCII PIN, a token label over 32 characters are :class:`ParseError`
naming the field, never another exception).

Profiles are test material: their keys and secrets are not protected. The default profile
lives in ``vectors/default-card.json`` (made by ``vectors/make_vectors.py``) and is also
packaged as ``mynaid/emulator/data/default-card.json`` so that ``--emulator`` works from an
installed wheel.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mynaid.emulator.faceprofile import TextProfile, VisualProfile
from mynaid.emulator.keys import key_to_pem, load_private_key
from mynaid.errors import ParseError

PROFILE_FORMAT = "mynaid-card-profile"
PROFILE_VERSION = 1
#: Profiles larger than this are refused before parsing (a profile is a few tens of KB).
MAX_PROFILE_BYTES = 8 * 1024 * 1024
#: Deepest nesting of JSON arrays and objects accepted (the format needs 4).
MAX_PROFILE_DEPTH = 16
#: The longest free-text field (a profile name); the token label is bounded by the card.
MAX_NAME_LENGTH = 256
TOKEN_LABEL_MAX = 32
_PIN4 = re.compile(r"[0-9]{4}")
_SIGN_PASSWORD = re.compile(r"[A-Za-z0-9]{6,16}")
_LABEL = re.compile(r"[\x20-\x7e]{1,32}")


def _string(obj: dict[str, Any], key: str, what: str, *, optional: bool = False
            ) -> str | None:
    """A string field, typed: a missing key, ``null`` or a number is a :class:`ParseError`
    naming the field (never ``str(None)`` silently becoming ``"None"``)."""
    if key not in obj or obj[key] is None:
        if optional:
            return None
        raise ParseError(f"profile field {what} is required and must be a string")
    value = obj[key]
    if not isinstance(value, str):
        raise ParseError(f"profile field {what} must be a string, not {type(value).__name__}")
    return value


def _required(obj: dict[str, Any], key: str, what: str) -> str:
    value = _string(obj, key, what)
    assert value is not None
    return value


def _depth_ok(obj: Any, limit: int = MAX_PROFILE_DEPTH) -> bool:
    """Whether ``obj`` nests at most ``limit`` levels (iterative: no recursion to exhaust)."""
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True


def _quick_depth(text: str, limit: int = MAX_PROFILE_DEPTH) -> bool:
    """A cheap upper bound on nesting before parsing: brackets opened in a row
    (``'[' * 200000``) are refused without handing them to the JSON parser."""
    return ("[" * (limit + 1)) not in text.replace(" ", "") and \
        ("{" * (limit + 1)) not in text.replace(" ", "")


def _pem_to_der_cert(pem: str) -> bytes:
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        return cert.public_bytes(serialization.Encoding.DER)
    except (ValueError, TypeError, UnicodeError):
        raise ParseError("profile certificate is not a PEM certificate") from None


def _der_to_pem_cert(der: bytes) -> str:
    cert = x509.load_der_x509_certificate(der)
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _tries(value: Any) -> int:
    """A maximum try count: 1..15, the range the x of ``63 Cx`` can report."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ParseError("profile tries must be integers 1..15")
    if not 1 <= value <= 15:
        raise ParseError(f"profile tries must be 1..15, got {value}")
    return value


def _tries_left(raw: Any) -> dict[str, int]:
    """``tries_left``: counters already used, by secret name (``{"auth-pin": 1}``), so that
    a profile can rehearse the guard (exit 7) and a blocked key (exit 4)."""
    from mynaid.cardspec import SECRETS_BY_NAME
    from mynaid.pins import ALIASES

    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ParseError("profile field tries_left must be an object")
    out: dict[str, int] = {}
    for name, value in raw.items():
        full = ALIASES.get(name, name)
        if full not in SECRETS_BY_NAME:
            raise ParseError(f"profile tries_left names an unknown secret {name[:40]!r}")
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 15:
            raise ParseError(f"profile tries_left.{full} must be an integer 0..15")
        out[full] = value
    return out


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be true or false")
    return value


def parse_atr(value: Any) -> bytes:
    """A profile's ``"atr"``: a variant name (``default``, ``alternate``, ``2024``) or hex."""
    from mynaid.emulator.card import ATR_VARIANTS

    if not isinstance(value, str):
        raise ParseError("profile field atr must be a string")
    if value in ATR_VARIANTS:
        return ATR_VARIANTS[value]
    try:
        atr = bytes.fromhex(value)
    except ValueError as exc:
        raise ParseError("profile field atr is neither a known variant nor hex") from exc
    # ISO 7816-3: TS, T0 and at most 31 more bytes.
    if not 2 <= len(atr) <= 33 or atr[0] not in (0x3B, 0x3F):
        raise ParseError("profile field atr is not an ATR (3B/3F, 2..33 bytes)")
    return atr


@dataclass(frozen=True)
class JpkiProfile:
    """The JPKI application's content. Certificates are DER bytes."""

    token_label: str
    auth_pin: str = field(repr=False)
    sign_password: str = field(repr=False)
    auth_cert: bytes
    auth_key: rsa.RSAPrivateKey = field(repr=False)
    auth_ca_cert: bytes
    sign_ca_cert: bytes
    sign_cert: bytes | None = None
    sign_key: rsa.RSAPrivateKey | None = field(default=None, repr=False)
    auth_pin_tries: int = 3
    sign_password_tries: int = 5
    #: The PIN-less face-authentication card (JSON ``"pinless": true``): no signature
    #: certificate, PINs locked by design (see :class:`mynaid.emulator.EmulatorOptions`).
    pinless: bool = False

    def to_json(self) -> dict[str, Any]:
        out = self._json_fields()
        if self.pinless:
            out["pinless"] = True  # written only when set: existing profiles stay byte-equal
        return out

    def _json_fields(self) -> dict[str, Any]:
        return {
            "token_label": self.token_label,
            "auth_pin": self.auth_pin,
            "sign_password": self.sign_password,
            "auth_pin_tries": self.auth_pin_tries,
            "sign_password_tries": self.sign_password_tries,
            "auth_cert": _der_to_pem_cert(self.auth_cert),
            "auth_key": key_to_pem(self.auth_key),
            "auth_ca_cert": _der_to_pem_cert(self.auth_ca_cert),
            "sign_cert": _der_to_pem_cert(self.sign_cert) if self.sign_cert else None,
            "sign_key": key_to_pem(self.sign_key) if self.sign_key else None,
            "sign_ca_cert": _der_to_pem_cert(self.sign_ca_cert),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> JpkiProfile:
        label = _required(obj, "token_label", "jpki.token_label")
        if not _LABEL.fullmatch(label):
            raise ParseError(f"profile jpki.token_label must be 1..{TOKEN_LABEL_MAX} printable "
                             "ASCII characters")
        auth_pin = _required(obj, "auth_pin", "jpki.auth_pin")
        if not _PIN4.fullmatch(auth_pin):
            raise ParseError("profile jpki.auth_pin must be 4 ASCII digits")
        sign_password = _required(obj, "sign_password", "jpki.sign_password")
        if not _SIGN_PASSWORD.fullmatch(sign_password):
            raise ParseError("profile jpki.sign_password must be 6..16 ASCII letters and "
                             "digits")
        sign_cert = _string(obj, "sign_cert", "jpki.sign_cert", optional=True)
        sign_key = _string(obj, "sign_key", "jpki.sign_key", optional=True)
        try:
            return cls(
                token_label=label,
                auth_pin=auth_pin,
                sign_password=sign_password,
                auth_pin_tries=_tries(obj.get("auth_pin_tries", 3)),
                sign_password_tries=_tries(obj.get("sign_password_tries", 5)),
                auth_cert=_pem_to_der_cert(_required(obj, "auth_cert", "jpki.auth_cert")),
                auth_key=load_private_key(obj.get("auth_key"), "jpki.auth_key"),
                auth_ca_cert=_pem_to_der_cert(_required(obj, "auth_ca_cert",
                                                        "jpki.auth_ca_cert")),
                sign_cert=_pem_to_der_cert(sign_cert) if sign_cert else None,
                sign_key=load_private_key(sign_key, "jpki.sign_key") if sign_key else None,
                sign_ca_cert=_pem_to_der_cert(_required(obj, "sign_ca_cert",
                                                        "jpki.sign_ca_cert")),
                pinless=_flag(obj.get("pinless", False), "jpki.pinless"),
            )
        except ParseError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ParseError("malformed JPKI section in profile (a field has the wrong "
                             "type or value)") from exc


@dataclass(frozen=True)
class CardProfile:
    """Everything an emulated card holds. ``extra`` keeps sections of later applications.

    ``text`` and ``visual`` (JSON keys ``"text"``, ``"visual"``) describe the text and visual
    applications (:mod:`mynaid.emulator.faceprofile`); a card without them has only JPKI.
    """

    name: str
    jpki: JpkiProfile
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    text: TextProfile | None = None
    visual: VisualProfile | None = None
    #: The answer to reset (JSON ``"atr"``: hex or a variant name); None = the default.
    atr: bytes | None = None
    #: Counters already used, by secret name (``"tries_left": {"auth-pin": 1}``).
    tries_left: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": PROFILE_FORMAT,
            "version": PROFILE_VERSION,
            "name": self.name,
            "jpki": self.jpki.to_json(),
        }
        if self.tries_left:
            out["tries_left"] = dict(self.tries_left)
        if self.text is not None:
            out["text"] = self.text.to_json()
        if self.visual is not None:
            out["visual"] = self.visual.to_json()
        if self.atr is not None:
            out["atr"] = self.atr.hex().upper()
        out.update(self.extra)
        return out

    def dumps(self) -> str:
        """Deterministic JSON text (sorted keys, fixed indentation, trailing newline)."""
        return json.dumps(self.to_json(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"

    def save(self, path: str | Path) -> None:
        """Write the profile readable by its owner only (it holds keys and secrets), never
        through a symbolic link."""
        import os

        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(self.dumps())

    @classmethod
    def loads(cls, text: str) -> CardProfile:
        """Parse a profile; any malformed input is a :class:`ParseError` naming the field."""
        if len(text) > MAX_PROFILE_BYTES:
            raise ParseError(f"profile is over {MAX_PROFILE_BYTES} characters")
        if not _quick_depth(text):
            raise ParseError(f"profile nests deeper than {MAX_PROFILE_DEPTH} levels")
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParseError(f"profile is not JSON: {exc.msg} at line {exc.lineno}") from None
        except RecursionError:
            raise ParseError(f"profile nests deeper than {MAX_PROFILE_DEPTH} levels") from None
        except ValueError:  # e.g. an integer with too many digits
            raise ParseError("profile is not JSON: a value is out of range") from None
        if not _depth_ok(obj):
            raise ParseError(f"profile nests deeper than {MAX_PROFILE_DEPTH} levels")
        if not isinstance(obj, dict) or obj.get("format") != PROFILE_FORMAT:
            raise ParseError(f"not a {PROFILE_FORMAT} file")
        if obj.get("version") != PROFILE_VERSION:
            raise ParseError("unsupported profile version")
        if not isinstance(obj.get("jpki"), dict):
            raise ParseError("profile has no jpki section")
        name = _string(obj, "name", "name", optional=True) or ""
        if len(name) > MAX_NAME_LENGTH:
            raise ParseError(f"profile name is over {MAX_NAME_LENGTH} characters")
        known = {"format", "version", "name", "jpki", "text", "visual", "atr", "tries_left"}
        extra = {k: v for k, v in obj.items() if k not in known}
        try:
            text_app = TextProfile.from_json(obj["text"]) if "text" in obj else None
            visual_app = VisualProfile.from_json(obj["visual"]) if "visual" in obj else None
        except ParseError:
            raise
        except Exception:  # a section parser missed a case: still a typed error
            raise ParseError("malformed text or visual section in profile (a field has the "
                             "wrong type or value)") from None
        atr = parse_atr(obj["atr"]) if obj.get("atr") is not None else None
        return cls(name, JpkiProfile.from_json(obj["jpki"]), extra,
                   text=text_app, visual=visual_app, atr=atr,
                   tries_left=_tries_left(obj.get("tries_left")))

    @classmethod
    def load(cls, path: str | Path) -> CardProfile:
        """Read a profile file: at most :data:`MAX_PROFILE_BYTES`, strict UTF-8."""
        path = Path(path)
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_PROFILE_BYTES + 1)
        except OSError as exc:
            raise ParseError(f"cannot read profile {path}: {exc.strerror}") from None
        if len(raw) > MAX_PROFILE_BYTES:
            raise ParseError(f"profile {path} is over {MAX_PROFILE_BYTES} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError(f"profile {path} is not UTF-8 text") from None
        return cls.loads(text)


def default_profile() -> CardProfile:
    """The packaged default test card (identical to ``vectors/default-card.json``)."""
    text = resources.files("mynaid.emulator").joinpath("data/default-card.json").read_text(
        encoding="utf-8"
    )
    return CardProfile.loads(text)
