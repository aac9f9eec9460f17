"""Card profiles: what an emulated card holds (PKI, secrets, holder data), as JSON.

A profile file is JSON::

    {"format": "mynaid-card-profile", "version": 1, "name": "...",
     "jpki": {"token_label": "JPKIAPICCTOKEN2", "auth_pin": "1234", "sign_password": "...",
              "auth_pin_tries": 3, "sign_password_tries": 5,
              "auth_cert": "<PEM>", "auth_key": "<PKCS#8 PEM>", "auth_ca_cert": "<PEM>",
              "sign_cert": "<PEM or null>", "sign_key": "<PEM or null>", "sign_ca_cert": "<PEM>"}}

Profiles are test material: their keys and secrets are not protected. The default profile
lives in ``vectors/default-card.json`` (made by ``vectors/make_vectors.py``) and is also
packaged as ``mynaid/emulator/data/default-card.json`` so that ``--emulator`` works from an
installed wheel.
"""

from __future__ import annotations

import json
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


def _pem_to_der_cert(pem: str) -> bytes:
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except ValueError as exc:
        raise ParseError(f"profile certificate is not a PEM certificate: {exc}") from exc
    return cert.public_bytes(serialization.Encoding.DER)


def _der_to_pem_cert(der: bytes) -> str:
    cert = x509.load_der_x509_certificate(der)
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _tries(value: Any) -> int:
    """A maximum try count: 1..15, the range the x of ``63 Cx`` can report."""
    tries = int(value)
    if not 1 <= tries <= 15:
        raise ValueError(f"tries must be 1..15, got {tries}")
    return tries


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
        try:
            sign_cert = obj.get("sign_cert")
            sign_key = obj.get("sign_key")
            return cls(
                token_label=str(obj["token_label"]),
                auth_pin=str(obj["auth_pin"]),
                sign_password=str(obj["sign_password"]),
                auth_pin_tries=_tries(obj.get("auth_pin_tries", 3)),
                sign_password_tries=_tries(obj.get("sign_password_tries", 5)),
                auth_cert=_pem_to_der_cert(obj["auth_cert"]),
                auth_key=load_private_key(obj["auth_key"], "jpki.auth_key"),
                auth_ca_cert=_pem_to_der_cert(obj["auth_ca_cert"]),
                sign_cert=_pem_to_der_cert(sign_cert) if sign_cert else None,
                sign_key=load_private_key(sign_key, "jpki.sign_key") if sign_key else None,
                sign_ca_cert=_pem_to_der_cert(obj["sign_ca_cert"]),
                pinless=_flag(obj.get("pinless", False), "jpki.pinless"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ParseError(f"malformed JPKI section in profile: {exc!r}") from exc


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

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": PROFILE_FORMAT,
            "version": PROFILE_VERSION,
            "name": self.name,
            "jpki": self.jpki.to_json(),
        }
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
        Path(path).write_text(self.dumps(), encoding="utf-8")

    @classmethod
    def loads(cls, text: str) -> CardProfile:
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParseError(f"profile is not JSON: {exc.msg} at line {exc.lineno}") from exc
        if not isinstance(obj, dict) or obj.get("format") != PROFILE_FORMAT:
            raise ParseError(f"not a {PROFILE_FORMAT} file")
        if obj.get("version") != PROFILE_VERSION:
            raise ParseError(f"unsupported profile version {obj.get('version')!r}")
        if not isinstance(obj.get("jpki"), dict):
            raise ParseError("profile has no jpki section")
        known = {"format", "version", "name", "jpki", "text", "visual", "atr"}
        extra = {k: v for k, v in obj.items() if k not in known}
        text_app = TextProfile.from_json(obj["text"]) if "text" in obj else None
        visual_app = VisualProfile.from_json(obj["visual"]) if "visual" in obj else None
        atr = parse_atr(obj["atr"]) if obj.get("atr") is not None else None
        return cls(str(obj.get("name", "")), JpkiProfile.from_json(obj["jpki"]), extra,
                   text=text_app, visual=visual_app, atr=atr)

    @classmethod
    def load(cls, path: str | Path) -> CardProfile:
        path = Path(path)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ParseError(f"cannot read profile {path}: {exc.strerror}") from exc
        if size > MAX_PROFILE_BYTES:
            raise ParseError(f"profile {path} is {size} bytes, over {MAX_PROFILE_BYTES}")
        return cls.loads(path.read_text(encoding="utf-8"))


def default_profile() -> CardProfile:
    """The packaged default test card (identical to ``vectors/default-card.json``)."""
    text = resources.files("mynaid.emulator").joinpath("data/default-card.json").read_text(
        encoding="utf-8"
    )
    return CardProfile.loads(text)
