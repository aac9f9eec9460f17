"""Secrets never appear in logs, output, exceptions or reprs (library and CLI, DEBUG trace on).

Every scenario runs with a capturing handler on the root logger at DEBUG, so the APDU trace
of ``mynaid.apdu`` is produced; the CLI scenarios also run with ``-v``. The checks look for
each secret as text and as hex (spaced and plain, upper and lower case).
"""

from __future__ import annotations

import hashlib
import io
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mynaid.cardspec import AUTH_PIN, SIGN_PASSWORD, Aid, CertificateSlot
from mynaid.cli.main import main
from mynaid.emulator import EmulatedCard, EmulatorOptions, build_card, default_profile
from mynaid.errors import (
    InvalidSecretError,
    LockoutGuardError,
    MynaidError,
    PinBlockedError,
    WrongPinError,
)
from mynaid.protocol import CardProtocol
from mynaid.sessions.jpki import JpkiSession
from mynaid.transport.emulated import EmulatorTransport

PROFILE = default_profile()
PIN = "1234"
PASSWORD = "TEST1234"
WRONG_PIN = "9876"
WRONG_PASSWORD = "WRONG999"
INVALID_PIN = "98765"
INVALID_PASSWORD = "bad-pass-42"
NEW_PIN = "5678"
SECRETS = (PIN, PASSWORD, WRONG_PIN, WRONG_PASSWORD, INVALID_PIN, INVALID_PASSWORD, NEW_PIN)


def forms(secret: str) -> set[str]:
    raw = secret.encode("ascii")
    texts = {secret, secret.upper(), secret.lower()}
    hexes = {raw.hex(), raw.hex(" "), raw.upper().hex(), raw.upper().hex(" ")}
    return texts | hexes | {x.upper() for x in hexes}


FORBIDDEN = sorted(set().union(*(forms(s) for s in SECRETS)))


def test_forbidden_forms_are_what_the_brief_names() -> None:
    assert "31 32 33 34" in FORBIDDEN and "31323334" in FORBIDDEN
    assert "54 45 53 54 31 32 33 34" in FORBIDDEN and "5445535431323334" in FORBIDDEN


def assert_clean(text: str, where: str) -> None:
    for secret in FORBIDDEN:
        assert secret not in text, f"{secret!r} found in {where}"


def exception_texts(exc: BaseException) -> Iterator[str]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield repr(current.args)
        yield repr(vars(current))
        current = current.__cause__ or current.__context__


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> Iterator[str]:
        for record in self.records:
            yield record.getMessage()
            yield str(record.msg)
            yield repr(record.args)
            if record.exc_info and record.exc_info[1] is not None:
                yield from exception_texts(record.exc_info[1])


@pytest.fixture
def capture() -> Iterator[Capture]:
    root = logging.getLogger()
    mynaid_logger = logging.getLogger("mynaid")
    saved = (root.level, mynaid_logger.level, list(mynaid_logger.handlers))
    handler = Capture()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(saved[0])
    mynaid_logger.setLevel(saved[1])
    for extra in [h for h in mynaid_logger.handlers if h not in saved[2]]:
        mynaid_logger.removeHandler(extra)
    for i, text in enumerate(handler.texts()):
        assert_clean(text, f"log record text #{i}")


def trace_lines(capture: Capture) -> list[str]:
    return [r.getMessage() for r in capture.records if r.name == "mynaid.apdu"]


@pytest.fixture
def card() -> EmulatedCard:
    return build_card(PROFILE)


def new_session(card: EmulatedCard) -> JpkiSession:
    return JpkiSession(CardProtocol(EmulatorTransport(card)))


def check_objects(*objects: object) -> None:
    for obj in objects:
        assert_clean(repr(obj), f"repr of {type(obj).__name__}")
        assert_clean(str(obj), f"str of {type(obj).__name__}")


# --- library ---------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [EmulatorOptions(), EmulatorOptions(use_get_response=True)])
def test_successful_operations(capture: Capture, options: EmulatorOptions) -> None:
    card = build_card(PROFILE, options)
    session = new_session(card)
    session.verify(AUTH_PIN, PIN)
    session.verify(SIGN_PASSWORD, PASSWORD.lower())
    digest = hashlib.sha256(b"document").digest()
    signatures = [session.sign_digest("auth", "sha256", digest, PIN),
                  session.sign_digest("sign", "sha256", digest, PASSWORD)]
    der = session.read_certificate_der(CertificateSlot.SIGN, PASSWORD)
    states = session.pin_states()
    check_objects(*states, session.token_info(), session.certificate_availability(),
                  session.protocol.stats, card.key_file(Aid.JPKI.value, 0x18),
                  card.key_file(Aid.JPKI.value, 0x1B), PROFILE, PROFILE.jpki)
    for signature in signatures:
        assert_clean(signature.hex(), "signature")  # no coincidental match either
    assert der == PROFILE.jpki.sign_cert
    lines = trace_lines(capture)
    verify_lines = [line for line in lines if line.startswith("> 00 20 00 80 ")]
    assert len(verify_lines) >= 5  # the trace ran, and showed the VERIFY commands ...
    assert all("redacted" in line for line in verify_lines)  # ... without their data


def test_change_secret(capture: Capture, card: EmulatedCard) -> None:
    session = new_session(card)
    session.change_secret(AUTH_PIN, PIN, NEW_PIN)
    session.verify(AUTH_PIN, NEW_PIN)
    change_lines = [line for line in trace_lines(capture) if line.startswith("> 00 24 01 80")]
    assert change_lines and all("redacted" in line for line in change_lines)


@pytest.mark.parametrize(("call", "error"), [
    (lambda s: s.verify(AUTH_PIN, WRONG_PIN), WrongPinError),
    (lambda s: s.verify(AUTH_PIN, INVALID_PIN), InvalidSecretError),
    (lambda s: s.verify(SIGN_PASSWORD, INVALID_PASSWORD), InvalidSecretError),
    (lambda s: s.read_certificate_der(CertificateSlot.SIGN, WRONG_PASSWORD), WrongPinError),
    (lambda s: s.read_certificate_der(CertificateSlot.SIGN, INVALID_PASSWORD),
     InvalidSecretError),
    (lambda s: s.sign_digest("auth", "sha256", bytes(32), WRONG_PIN), WrongPinError),
    (lambda s: s.sign_digest("sign", "sha256", bytes(32), INVALID_PASSWORD),
     InvalidSecretError),
    (lambda s: s.change_secret(AUTH_PIN, WRONG_PIN, NEW_PIN), WrongPinError),
    (lambda s: s.change_secret(AUTH_PIN, PIN, INVALID_PIN), InvalidSecretError),
    (lambda s: s.change_secret(AUTH_PIN, PIN, PIN), InvalidSecretError),
])
def test_failures(capture: Capture, card: EmulatedCard,
                  call: Callable[[JpkiSession], object], error: type[MynaidError]) -> None:
    session = new_session(card)
    with pytest.raises(error) as info:
        call(session)
    for text in exception_texts(info.value):
        assert_clean(text, f"{type(info.value).__name__}")
    check_objects(*session.pin_states())


def test_guard_and_blocked(capture: Capture, card: EmulatedCard) -> None:
    session = new_session(card)
    raised: list[BaseException] = []
    for secret in (WRONG_PIN, WRONG_PIN, PIN, WRONG_PIN, PIN):
        force = len(raised) == 3
        try:
            session.verify(AUTH_PIN, secret, force=force)
        except MynaidError as exc:
            raised.append(exc)
    assert [type(e) for e in raised] == [WrongPinError, WrongPinError, LockoutGuardError,
                                         PinBlockedError, PinBlockedError]
    for exc in raised:
        for text in exception_texts(exc):
            assert_clean(text, type(exc).__name__)


# --- CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
        ) -> Callable[..., tuple[int, str]]:
    def run(*argv: str, stdin: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(["-v", *argv])
        out, err = capsys.readouterr()
        assert_clean(out, "stdout")
        assert_clean(err, "stderr")
        return int(code), err

    return run


def test_cli_cert_export_sign(capture: Capture, cli: Callable[..., tuple[int, str]],
                              tmp_path: Path) -> None:
    target = tmp_path / "sign.der"
    code, err = cli("--emulator", "cert", "export", "sign", "--format", "der", "-o",
                    str(target), stdin=PASSWORD + "\n")
    assert code == 0
    assert target.read_bytes() == PROFILE.jpki.sign_cert
    assert "mynaid.apdu: > 00 20 00 80 Lc=8 <redacted>" in err.splitlines()


@pytest.mark.parametrize(("secret", "code"), [(WRONG_PASSWORD, 3), (INVALID_PASSWORD, 2),
                                              (PASSWORD.lower(), 0)])
def test_cli_cert_export_sign_failures(capture: Capture, cli: Callable[..., tuple[int, str]],
                                       tmp_path: Path, secret: str, code: int) -> None:
    result, err = cli("--emulator", "cert", "export", "sign", "-o", str(tmp_path / "s.pem"),
                      stdin=secret + "\n")
    assert result == code
    assert err.strip()


@pytest.mark.parametrize(("secret", "code"), [(PIN, 0), (WRONG_PIN, 3), (INVALID_PIN, 2)])
def test_cli_pin_verify(capture: Capture, cli: Callable[..., tuple[int, str]], secret: str,
                        code: int) -> None:
    result, err = cli("--emulator", "pin", "verify", "auth-pin", stdin=secret + "\n")
    assert result == code
    if code != 2:
        assert "mynaid.apdu: > 00 20 00 80 Lc=4 <redacted>" in err.splitlines()
