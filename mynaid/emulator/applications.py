"""Build the card's applications from a profile (card-reference §3; text/visual APs slot in)."""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import replace

from mynaid.cardspec import Aid, JpkiFile, TextFile
from mynaid.emulator.card import DEFAULT_ATR, EmulatedCard, EmulatorOptions
from mynaid.emulator.filesystem import Application, BinaryFile, KeyFile, PrivateKeyFile
from mynaid.emulator.profile import CardProfile, JpkiProfile

TOKEN_INFO_SIZE = 160
LABEL_SIZE = 32
SIGN_PASSWORD_PATTERN = re.compile(rb"[A-Z0-9]{6,16}")
PIN4_PATTERN = re.compile(rb"[0-9]{4}")
#: Token labels of smartphone tokens (card-reference §9): the auth certificate needs the PIN.
SMARTPHONE_LABELS = frozenset({"JPKIAPGPSETOKEN", "JPKIAPIOSTOKEN"})
#: The rest of the CK_TOKEN_INFO the emulator writes. Real cards' values beyond the label are
#: not published; these are plausible PKCS#11 values (the emulator's choice).
TOKEN_MANUFACTURER = "J-LIS"  # noqa: S105 (a manufacturer id, not a password)
TOKEN_MODEL = "JPKIAP"  # noqa: S105 (a model name)
#: CKF_WRITE_PROTECTED | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED
TOKEN_FLAGS = 0x0002 | 0x0004 | 0x0008 | 0x0400
CK_UNAVAILABLE_INFORMATION = 0xFFFFFFFF
_TOKEN_INFO = struct.Struct(">32s32s16s16s" + "I" * 11 + "BBBB16s")
assert _TOKEN_INFO.size == TOKEN_INFO_SIZE


def _padded(text: str, size: int, what: str) -> bytes:
    raw = text.encode("ascii")
    if len(raw) > size:
        raise ValueError(f"token {what} longer than {size} bytes")
    return raw.ljust(size, b" ")


def token_info(label: str, serial: str = "0000000000000000") -> bytes:
    """EF 0006: a serialised PKCS#11 ``CK_TOKEN_INFO``, 160 bytes (card-reference §9).

    label[32], manufacturerID[32], model[16], serialNumber[16] (space-padded ASCII), then
    flags and the ten counters as 32-bit big-endian ``CK_ULONG``, hardware and firmware
    version (major, minor) and utcTime[16] (spaces: the token has no clock).
    """
    return _TOKEN_INFO.pack(
        _padded(label, LABEL_SIZE, "label"),
        _padded(TOKEN_MANUFACTURER, 32, "manufacturer"),
        _padded(TOKEN_MODEL, 16, "model"),
        _padded(serial, 16, "serial number"),
        TOKEN_FLAGS,
        CK_UNAVAILABLE_INFORMATION, 0, CK_UNAVAILABLE_INFORMATION, 0,  # session counts
        16, 4,  # ulMaxPinLen, ulMinPinLen (the signature password: 6-16; the auth PIN: 4)
        CK_UNAVAILABLE_INFORMATION, CK_UNAVAILABLE_INFORMATION,  # public memory
        CK_UNAVAILABLE_INFORMATION, CK_UNAVAILABLE_INFORMATION,  # private memory
        1, 0, 1, 0,
        b" " * 16,
    )


def _token_serial(profile: JpkiProfile) -> str:
    """A stable 16-character serial number for the token, derived from its auth certificate."""
    return hashlib.sha256(profile.auth_cert).hexdigest()[:16].upper()


def build_jpki(profile: JpkiProfile, options: EmulatorOptions) -> Application:
    """The JPKI application with every EF of card-reference §3 and §9.

    Variants: a PIN-less card (``options.pinless`` or ``profile.pinless``) has no signature
    certificate and its two secrets are locked by design; a smartphone token label makes the
    auth certificate readable only after the auth PIN.
    """
    filler = b"\xff" * options.cert_filler
    app = Application(Aid.JPKI.value, "JPKI")
    auth_pin = int(JpkiFile.AUTH_PIN)
    sign_pin = int(JpkiFile.SIGN_PIN)
    pinless = options.pinless or profile.pinless
    label = options.token_label if options.token_label is not None else profile.token_label
    app.add(BinaryFile(JpkiFile.TOKEN_INFO, token_info(label, _token_serial(profile))))
    has_sign = (profile.sign_cert is not None and profile.sign_key is not None
                and not pinless)
    # 8F marks a certificate that exists; byte 0 is the signature certificate (absent for
    # holders under 15 and on the PIN-less card), byte 1 the authentication certificate.
    app.add(BinaryFile(JpkiFile.CERT_AVAILABILITY, bytes((0x8F if has_sign else 0x00, 0x8F, 0))))
    auth_cert_keys = frozenset({auth_pin}) if label in SMARTPHONE_LABELS else None
    app.add(BinaryFile(JpkiFile.AUTH_CERT, profile.auth_cert + filler, auth_cert_keys))
    app.add(BinaryFile(JpkiFile.AUTH_CA_CERT, profile.auth_ca_cert + filler))
    app.add(BinaryFile(JpkiFile.SIGN_CA_CERT, profile.sign_ca_cert + filler))
    app.add(KeyFile(auth_pin, profile.auth_pin.encode("ascii"), profile.auth_pin_tries,
                    PIN4_PATTERN, locked=pinless))
    app.add(KeyFile(sign_pin, profile.sign_password.upper().encode("ascii"),
                    profile.sign_password_tries, SIGN_PASSWORD_PATTERN, locked=pinless))
    app.add(PrivateKeyFile(JpkiFile.AUTH_KEY, profile.auth_key, frozenset({auth_pin})))
    if has_sign:
        assert profile.sign_cert is not None and profile.sign_key is not None
        app.add(BinaryFile(JpkiFile.SIGN_CERT, profile.sign_cert + filler,
                           frozenset({sign_pin})))
        app.add(PrivateKeyFile(JpkiFile.SIGN_KEY, profile.sign_key, frozenset({sign_pin})))
    return app


def build_empty_application(aid: Aid, name: str) -> Application:
    """An application that answers SELECT and holds nothing the emulator models.

    The 共通AP and the 住基AP exist on every card (card-reference §9); their content is not
    part of what this project reads.
    """
    return Application(aid.value, name)


def build_card(profile: CardProfile, options: EmulatorOptions | None = None) -> EmulatedCard:
    """An emulated card holding everything ``profile`` describes.

    The profile's ``atr`` applies unless ``options`` names another ATR than the default.
    """
    options = options or EmulatorOptions()
    if profile.atr is not None and options.atr == DEFAULT_ATR:
        options = replace(options, atr=profile.atr)
    pinless = options.pinless or profile.jpki.pinless
    applications = [build_jpki(profile.jpki, options)]
    # The text and visual APs exist when the profile describes them (mynaid.emulator.textvisual).
    if profile.text is not None or profile.visual is not None:
        from mynaid.emulator.textvisual import build_text, build_visual

        if profile.text is not None:
            text = build_text(profile.text, options)
            if pinless:
                # The PIN-less card's text PIN is locked by design too; the 照合番号 work.
                pin = text.files.get(TextFile.PIN)
                if isinstance(pin, KeyFile):
                    pin.locked = True
            applications.append(text)
        if profile.visual is not None:
            applications.append(build_visual(profile.visual, options))
    applications.append(build_empty_application(Aid.JUKI, "juki"))
    applications.append(build_empty_application(Aid.COMMON, "common"))
    return EmulatedCard(applications, options)
