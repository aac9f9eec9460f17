"""The ``mynaid`` command line with ``--emulator``: output, files, secrets on stdin, exit codes.

Most runs call :func:`mynaid.cli.main.main` in-process; a few go through ``python -m mynaid``.
"""

from __future__ import annotations

import importlib
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mynaid import errors
from mynaid.cardspec import Aid
from mynaid.cli.exitcodes import ExitCode, exit_code_for
from mynaid.emulator import EmulatedCard, build_card, default_profile
from tests.conftest import CliResult, CliRunner

# mynaid.connect is the function; the module of the same name, by its full name.
CONNECT_MODULE = importlib.import_module("mynaid.connect")

PROFILE = default_profile()
DER = {
    "auth": PROFILE.jpki.auth_cert,
    "auth-ca": PROFILE.jpki.auth_ca_cert,
    "sign": PROFILE.jpki.sign_cert,
    "sign-ca": PROFILE.jpki.sign_ca_cert,
}
REPO = Path(__file__).resolve().parent.parent


Result = CliResult
Runner = CliRunner


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``-v`` attaches a handler to the "mynaid" logger; keep tests independent of it."""
    logger = logging.getLogger("mynaid")
    handlers, level = list(logger.handlers), logger.level
    yield
    for handler in list(logger.handlers):
        if handler not in handlers:
            logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def run(cli_run: Runner) -> Runner:
    return cli_run


@pytest.fixture
def cards(monkeypatch: pytest.MonkeyPatch) -> list[EmulatedCard]:
    """Every emulated card the CLI builds during the test, in order."""
    built: list[EmulatedCard] = []
    original = CONNECT_MODULE.emulated_card

    def recording(profile: Any = None, options: Any = None) -> EmulatedCard:
        card = original(profile, options)
        built.append(card)
        sent: list[bytes] = []
        process = card.process

        def record(raw: bytes) -> bytes:
            sent.append(bytes(raw))
            return process(raw)

        card.process = record  # type: ignore[method-assign]
        card.sent = sent  # type: ignore[attr-defined]
        return card

    monkeypatch.setattr(CONNECT_MODULE, "emulated_card", recording)
    return built


@pytest.fixture
def shared_card(monkeypatch: pytest.MonkeyPatch) -> EmulatedCard:
    """One card for every invocation in the test, so that counters carry over."""
    card = build_card(PROFILE)
    monkeypatch.setattr(CONNECT_MODULE, "emulated_card",
                        lambda profile=None, options=None: card)
    return card


def write_profile(path: Path, **jpki_changes: Any) -> Path:
    data = PROFILE.to_json()
    data["jpki"].update(jpki_changes)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _cert(der: bytes | None) -> x509.Certificate:
    assert der is not None
    return x509.load_der_x509_certificate(der)


def _no_secret_sent(card: EmulatedCard) -> bool:
    """No VERIFY or CHANGE REFERENCE DATA with data reached the card (the guard's counter
    query, an empty VERIFY, uses no try and carries no secret)."""
    return not [raw for raw in card.sent  # type: ignore[attr-defined]
                if len(raw) > 5 and raw[1] in (0x20, 0x24)]


def _apps_on_default_card() -> dict[str, bool]:
    card = build_card(PROFILE)
    return {aid.name.lower(): aid.value in card.applications for aid in Aid}


# --- help and usage --------------------------------------------------------------------------


def test_help(run: Runner) -> None:
    result = run("--help")
    assert result.code == 0
    assert "Usage:" in result.out
    assert "Exit codes" in result.out
    assert run("cert", "export", "--help").code == 0


@pytest.mark.parametrize("argv", [
    ["bogus"],
    ["--emulator", "cert", "export", "nope"],
    ["--emulator", "cert", "export", "auth", "--format", "xyz"],
    ["--extended", "maybe", "--emulator", "info"],
    ["--emulator", "info", "extra-argument"],
    ["--no-such-option"],
])
def test_usage_errors_exit_2(run: Runner, argv: list[str], cards: list[EmulatedCard]) -> None:
    result = run(*argv)
    assert result.code == ExitCode.USAGE == 2
    assert result.err.strip()
    assert result.out == ""
    assert all(card.apdu_count == 0 for card in cards)


# --- info ------------------------------------------------------------------------------------


def test_info_text(run: Runner) -> None:
    result = run("--emulator", "info")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert "Reader:       mynaid emulator" in lines
    assert "ATR:          3B E0 00 FF 81 31 FE 45 14" in lines
    assert "Token:        JPKIAPICCTOKEN2 (My Number Card)" in lines
    apps = [name for name, present in _apps_on_default_card().items() if present]
    assert "Applications: " + ", ".join(apps) in lines
    assert "jpki" in apps
    auth = _cert(DER["auth"])
    assert f"Certificate auth: {auth.subject.rfc4514_string()}" in lines
    assert any(line.strip().startswith(f"serial {auth.serial_number:X}, valid ")
               for line in lines)
    assert "Certificate sign: present (needs the signature password)" in lines
    assert "PIN auth-pin: 3/3 tries" in lines
    assert "PIN sign-password: 5/5 tries" in lines
    assert result.err == ""


def test_info_json(run: Runner, cards: list[EmulatedCard]) -> None:
    result = run("--emulator", "--json", "info")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["reader"] == "mynaid emulator"
    assert data["atr"] == "3B E0 00 FF 81 31 FE 45 14"
    assert data["token"] == {"label": "JPKIAPICCTOKEN2", "kind": "My Number Card"}
    # The shapes of docs/json-schema.md (schema_version 1).
    assert data["schema_version"] == 1
    assert {a["name"]: a["present"] for a in data["applications"]} == _apps_on_default_card()
    assert [(p["name"], p["tries_left"], p["max_tries"], p["blocked"])
            for p in data["secrets"]] == [("auth-pin", 3, 3, False),
                                          ("sign-password", 5, 5, False)]
    certs = {c["slot"]: c for c in data["certificates"]}
    assert set(certs) == {"auth", "auth-ca", "sign", "sign-ca"}
    assert certs["sign"]["status"] == "not-read"
    assert certs["sign"]["note"] == "needs the signature password"
    assert certs["sign"]["subject"] is None
    for name in ("auth", "auth-ca", "sign-ca"):
        cert = _cert(DER[name])
        summary = certs[name]
        assert summary["subject"] == cert.subject.rfc4514_string()
        assert summary["issuer"] == cert.issuer.rfc4514_string()
        assert summary["serial"] == format(cert.serial_number, "X")
        assert summary["not_after"] == cert.not_valid_after_utc.isoformat()
        assert isinstance(summary["days_to_expiry"], int)
    # info uses no PIN try.
    assert len(cards) == 1
    for fid in (0x18, 0x1B):
        key = cards[0].key_file(Aid.JPKI.value, fid)
        assert key.tries_left == key.max_tries


def test_info_with_extended_off_gives_the_same_data(run: Runner) -> None:
    def strip(out: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(out)
        for summary in data["certificates"]:
            summary.pop("days_to_expiry", None)
        return data

    auto = run("--emulator", "--json", "info")
    off = run("--emulator", "--json", "--extended", "off", "info")
    assert auto.code == off.code == 0
    assert strip(auto.out) == strip(off.out)


def test_info_on_a_card_without_signature_certificate(run: Runner, tmp_path: Path) -> None:
    profile = write_profile(tmp_path / "young.json", sign_cert=None, sign_key=None)
    result = run("--emulator", "--profile", str(profile), "info")
    assert result.code == 0, result.err
    assert "Certificate sign: absent (needs the signature password)" in result.out.splitlines()


@pytest.mark.parametrize("content", [None, "not json", "{}"])
def test_bad_profile_is_an_error(run: Runner, tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "profile.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run("--emulator", "--profile", str(path), "info")
    assert result.code == ExitCode.ERROR
    assert result.err.startswith("mynaid: ")
    assert "Traceback" not in result.err


# --- cert export -----------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["auth", "auth-ca", "sign-ca"])
def test_export_der_to_file(run: Runner, tmp_path: Path, which: str) -> None:
    target = tmp_path / f"{which}.der"
    result = run("--emulator", "cert", "export", which, "--format", "der", "-o", str(target))
    assert result.code == 0, result.err
    assert target.read_bytes() == DER[which]
    assert result.out == ""


@pytest.mark.parametrize("which", ["auth", "auth-ca", "sign-ca"])
def test_export_pem_by_default(run: Runner, which: str) -> None:
    result = run("--emulator", "cert", "export", which)
    assert result.code == 0, result.err
    assert result.out.startswith("-----BEGIN CERTIFICATE-----\n")
    cert = x509.load_pem_x509_certificate(result.out.encode("ascii"))
    assert cert.public_bytes(serialization.Encoding.DER) == DER[which]


def test_export_pem_to_file(run: Runner, tmp_path: Path) -> None:
    target = tmp_path / "auth.pem"
    assert run("--emulator", "cert", "export", "auth", "-o", str(target)).code == 0
    cert = x509.load_pem_x509_certificate(target.read_bytes())
    assert cert.public_bytes(serialization.Encoding.DER) == DER["auth"]


@pytest.mark.parametrize("line", ["TEST1234\n", "test1234\n", "TEST1234\r\n", "TEST1234"])
def test_export_sign_reads_the_password_from_stdin(run: Runner, tmp_path: Path,
                                                   line: str) -> None:
    target = tmp_path / "sign.der"
    result = run("--emulator", "cert", "export", "sign", "--format", "der", "-o", str(target),
                 stdin=line)
    assert result.code == 0, result.err
    assert target.read_bytes() == DER["sign"]


def test_export_sign_reads_only_one_line(run: Runner, tmp_path: Path) -> None:
    target = tmp_path / "sign.der"
    result = run("--emulator", "cert", "export", "sign", "--format", "der", "-o", str(target),
                 stdin="TEST1234\nsecond line is ignored\n")
    assert result.code == 0, result.err
    assert sys.stdin.read() == "second line is ignored\n"


def test_export_sign_wrong_password_exit_3(run: Runner, tmp_path: Path,
                                           cards: list[EmulatedCard]) -> None:
    target = tmp_path / "sign.der"
    result = run("--emulator", "cert", "export", "sign", "-o", str(target), stdin="WRONG123\n")
    assert result.code == ExitCode.WRONG_PIN == 3
    assert "4 tries left" in result.err
    assert not target.exists()
    assert cards[0].key_file(Aid.JPKI.value, 0x1B).tries_left == 4


@pytest.mark.parametrize("line", ["ab\n", "TEST-1234\n", "A" * 17 + "\n", "\n", " TEST1234\n"])
def test_export_sign_invalid_password_exit_2_nothing_sent(
        run: Runner, cards: list[EmulatedCard], line: str) -> None:
    result = run("--emulator", "cert", "export", "sign", stdin=line)
    assert result.code == ExitCode.USAGE == 2
    assert "expected 6 to 16 characters" in result.err
    assert result.out == ""
    # The guard reads the counter before the prompt; no secret is sent.
    assert all(_no_secret_sent(card) for card in cards)


def test_export_sign_without_a_stdin_line(run: Runner, cards: list[EmulatedCard]) -> None:
    result = run("--emulator", "cert", "export", "sign", stdin="")
    assert result.code == 2
    assert "no line on standard input" in result.err
    # The guard reads the counter before the prompt; no secret is sent.
    assert all(_no_secret_sent(card) for card in cards)


def test_export_sign_line_too_long(run: Runner, cards: list[EmulatedCard]) -> None:
    result = run("--emulator", "cert", "export", "sign", stdin="A" * 1000 + "\n")
    assert result.code == 2
    assert "too long" in result.err
    # The guard reads the counter before the prompt; no secret is sent.
    assert all(_no_secret_sent(card) for card in cards)


def test_export_without_password_reads_no_stdin(run: Runner, tmp_path: Path) -> None:
    target = tmp_path / "auth.der"
    assert run("--emulator", "cert", "export", "auth", "--format", "der", "-o", str(target),
               stdin="TEST1234\n").code == 0
    assert sys.stdin.read() == "TEST1234\n"


# --- exit codes 4 and 7 ----------------------------------------------------------------------


def test_guard_and_blocked_exit_codes_across_runs(run: Runner, tmp_path: Path,
                                                  shared_card: EmulatedCard) -> None:
    target = tmp_path / "sign.der"
    argv = ("--emulator", "cert", "export", "sign", "-o", str(target))
    key = shared_card.key_file(Aid.JPKI.value, 0x1B)
    for left in (4, 3, 2, 1):
        result = run(*argv, stdin="WRONG123\n")
        assert result.code == 3
        assert key.tries_left == left
    for secret in ("TEST1234\n", "WRONG123\n"):
        result = run(*argv, stdin=secret)
        assert result.code == ExitCode.LOCKOUT_GUARD == 7
        assert "force" in result.err
        assert key.tries_left == 1
    result = run(*argv, "--force", stdin="WRONG123\n")
    assert result.code == ExitCode.PIN_BLOCKED == 4
    assert key.tries_left == 0
    count = shared_card.apdu_count
    result = run(*argv, "--force", stdin="TEST1234\n")
    assert result.code == 4
    assert "nothing was sent" in result.err
    # Only the select/query APDUs went out (no VERIFY with data): counter still 0. Up to 3
    # more than before: the extended-length probe on a free EF before any VERIFY (one READ
    # BINARY by short EF id) and EF 0008, read to tell a blocked key from the PIN-less
    # card's (SELECT + READ), card-reference §9.
    assert key.tries_left == 0
    assert shared_card.apdu_count - count <= 7
    assert not target.exists()


def test_force_with_the_right_password_on_the_last_try(run: Runner, tmp_path: Path,
                                                       shared_card: EmulatedCard) -> None:
    shared_card.key_file(Aid.JPKI.value, 0x1B).tries_left = 1
    target = tmp_path / "sign.der"
    argv = ("--emulator", "cert", "export", "sign", "--format", "der", "-o", str(target))
    assert run(*argv, stdin="TEST1234\n").code == 7
    assert not target.exists()
    assert run(*argv, "--force", stdin="TEST1234\n").code == 0
    assert target.read_bytes() == DER["sign"]
    assert shared_card.key_file(Aid.JPKI.value, 0x1B).tries_left == 5


def test_profile_with_a_single_try(run: Runner, tmp_path: Path) -> None:
    """A profile can set the maximum tries (not a partly used counter): 1 try = guarded."""
    profile = write_profile(tmp_path / "one-try.json", sign_password_tries=1)
    base = ("--emulator", "--profile", str(profile))
    info = json.loads(run(*base, "--json", "info").out)
    assert info["secrets"][1]["tries_left"] == 1
    assert run(*base, "cert", "export", "sign", stdin="TEST1234\n").code == 7
    assert run(*base, "cert", "export", "sign", "--force", stdin="WRONG123\n").code == 4


def test_info_shows_counters_and_blocked_keys(run: Runner, shared_card: EmulatedCard) -> None:
    shared_card.key_file(Aid.JPKI.value, 0x18).tries_left = 0
    shared_card.key_file(Aid.JPKI.value, 0x1B).tries_left = 2
    lines = run("--emulator", "info").out.splitlines()
    assert "PIN auth-pin: 0/3 tries (BLOCKED)" in lines
    assert "PIN sign-password: 2/5 tries" in lines
    pins = json.loads(run("--emulator", "--json", "info").out)["secrets"]
    assert [(p["name"], p["tries_left"], p["max_tries"], p["blocked"]) for p in pins] == [
        ("auth-pin", 0, 3, True), ("sign-password", 2, 5, False)]


# --- readers ---------------------------------------------------------------------------------


def test_nonexistent_reader(run: Runner) -> None:
    # Whether pcscd runs here or not, no such reader is reachable: exit 5 either way.
    pytest.importorskip("smartcard")
    result = run("--reader", "nonexistent-reader-xyz", "info")
    assert result.code == ExitCode.NO_CARD
    assert result.err.startswith("mynaid: ")
    assert result.out == ""


@pytest.mark.parametrize(("error", "code"), [
    (errors.WrongPinError("x", 0x63C2, 2), 3),
    (errors.PinBlockedError("x", 0x6984), 4),
    (errors.LockoutGuardError("x", 1), 7),
    (errors.NoReaderError("x"), 5),
    (errors.NoCardError("x"), 5),
    (errors.CardRemovedError("x"), 5),
    (errors.InvalidSecretError("x"), 2),
    (errors.NoServiceError("x"), 5),
    (errors.CardResetError("x"), 1),
    (errors.ParseError("x"), 1),
    (errors.SecurityStatusNotSatisfiedError("x", 0x6982), 1),
    (errors.DependencyMissingError("x"), 1),
    (ValueError("x"), 1),
])
def test_exit_code_mapping(error: BaseException, code: int) -> None:
    assert exit_code_for(error) == code


# --- python -m mynaid ------------------------------------------------------------------------


def _python_m(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mynaid", *argv], input=stdin,
                          capture_output=True, text=True, cwd=REPO, timeout=120, check=False)


def test_subprocess_info() -> None:
    result = _python_m("--emulator", "info")
    assert result.returncode == 0, result.stderr
    assert "Token:        JPKIAPICCTOKEN2 (My Number Card)" in result.stdout
    assert "PIN sign-password: 5/5 tries" in result.stdout
    assert result.stderr == ""


def test_subprocess_export_sign_and_exit_codes(tmp_path: Path) -> None:
    target = tmp_path / "sign.der"
    ok = _python_m("--emulator", "cert", "export", "sign", "--format", "der", "-o",
                   str(target), stdin="TEST1234\n")
    assert ok.returncode == 0, ok.stderr
    assert target.read_bytes() == DER["sign"]
    usage = _python_m("--emulator", "cert", "export", "nope")
    assert usage.returncode == 2


# --- robustness bugs (see the report) -------------------------------------------------------


def test_unwritable_output_is_an_error_message(run: Runner, tmp_path: Path) -> None:
    result = run("--emulator", "cert", "export", "auth", "-o",
                 str(tmp_path / "missing-dir" / "auth.pem"))
    assert result.code == ExitCode.ERROR
    assert result.err.startswith("mynaid: ")


def test_profile_with_impossible_tries_is_an_error_message(run: Runner, tmp_path: Path) -> None:
    profile = write_profile(tmp_path / "bad.json", sign_password_tries=0)
    result = run("--emulator", "--profile", str(profile), "info")
    assert result.code == ExitCode.ERROR
    assert result.err.startswith("mynaid: ")


def test_verbose_twice_in_one_process_does_not_duplicate_lines(run: Runner) -> None:
    run("-v", "--emulator", "cert", "export", "auth-ca")
    second = run("-v", "--emulator", "cert", "export", "auth-ca")
    lines = [line for line in second.err.splitlines() if line.startswith("mynaid.apdu: > ")]
    assert lines
    assert len(lines) == len(set(lines))


def test_verbose_lasts_for_one_run_only(run: Runner) -> None:
    """-v in one in-process run leaves no trace handler or DEBUG level to the next run."""
    logger = logging.getLogger("mynaid")
    level, handlers = logger.level, list(logger.handlers)
    assert "mynaid.apdu: > " in run("-v", "--emulator", "cert", "export", "auth-ca").err
    assert logger.level == level and logger.handlers == handlers
    after = run("--emulator", "cert", "export", "auth-ca")
    assert after.code == 0 and "mynaid.apdu" not in after.err
