"""Build the card's applications from a profile (card-reference §3; text/visual APs slot in)."""

from __future__ import annotations

import re

from mynaid.cardspec import Aid, JpkiFile
from mynaid.emulator.card import EmulatedCard, EmulatorOptions
from mynaid.emulator.filesystem import Application, BinaryFile, KeyFile, PrivateKeyFile
from mynaid.emulator.profile import CardProfile, JpkiProfile

TOKEN_INFO_SIZE = 160
LABEL_SIZE = 32
SIGN_PASSWORD_PATTERN = re.compile(rb"[A-Z0-9]{6,16}")
PIN4_PATTERN = re.compile(rb"[0-9]{4}")


def token_info(label: str) -> bytes:
    """EF 0006: the 32-byte space-padded ASCII label, then zero bytes to 160."""
    raw = label.encode("ascii")
    if len(raw) > LABEL_SIZE:
        raise ValueError("token label longer than 32 bytes")
    return raw.ljust(LABEL_SIZE, b" ").ljust(TOKEN_INFO_SIZE, b"\x00")


def build_jpki(profile: JpkiProfile, options: EmulatorOptions) -> Application:
    """The JPKI application with every EF of card-reference §3."""
    filler = b"\xff" * options.cert_filler
    app = Application(Aid.JPKI.value, "JPKI")
    auth_pin = int(JpkiFile.AUTH_PIN)
    sign_pin = int(JpkiFile.SIGN_PIN)
    app.add(BinaryFile(JpkiFile.TOKEN_INFO, token_info(profile.token_label)))
    has_sign = profile.sign_cert is not None and profile.sign_key is not None
    # 8F marks a certificate that exists; byte 0 is the signature certificate (absent for
    # holders under 15), byte 1 the authentication certificate.
    app.add(BinaryFile(JpkiFile.CERT_AVAILABILITY, bytes((0x8F if has_sign else 0x00, 0x8F, 0))))
    app.add(BinaryFile(JpkiFile.AUTH_CERT, profile.auth_cert + filler))
    app.add(BinaryFile(JpkiFile.AUTH_CA_CERT, profile.auth_ca_cert + filler))
    app.add(BinaryFile(JpkiFile.SIGN_CA_CERT, profile.sign_ca_cert + filler))
    app.add(KeyFile(auth_pin, profile.auth_pin.encode("ascii"), profile.auth_pin_tries,
                    PIN4_PATTERN))
    app.add(KeyFile(sign_pin, profile.sign_password.upper().encode("ascii"),
                    profile.sign_password_tries, SIGN_PASSWORD_PATTERN))
    app.add(PrivateKeyFile(JpkiFile.AUTH_KEY, profile.auth_key, frozenset({auth_pin})))
    if has_sign:
        assert profile.sign_cert is not None and profile.sign_key is not None
        app.add(BinaryFile(JpkiFile.SIGN_CERT, profile.sign_cert + filler,
                           frozenset({sign_pin})))
        app.add(PrivateKeyFile(JpkiFile.SIGN_KEY, profile.sign_key, frozenset({sign_pin})))
    return app


def build_card(profile: CardProfile, options: EmulatorOptions | None = None) -> EmulatedCard:
    """An emulated card holding everything ``profile`` describes."""
    options = options or EmulatorOptions()
    applications = [build_jpki(profile.jpki, options)]
    # The text and visual APs exist when the profile describes them (mynaid.emulator.textvisual).
    if profile.text is not None or profile.visual is not None:
        from mynaid.emulator.textvisual import build_text, build_visual

        if profile.text is not None:
            applications.append(build_text(profile.text, options))
        if profile.visual is not None:
            applications.append(build_visual(profile.visual, options))
    return EmulatedCard(applications, options)
