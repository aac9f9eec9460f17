"""The CLI surface of issue 11: errors, --json, the guard before the prompt, files, the
emulator as a reader, cert show, apdu, --log-file, --state, one package interface."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

import mynaid
from mynaid.cli.main import main as cli_main_function
from mynaid.emulator.profile import default_profile
from tests.conftest import ROOT, CliRunner

BASE = default_profile().to_json()
PYTHON = sys.executable


def profile_with(tmp_path: Path, **tries_left: int) -> Path:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps({**BASE, "tries_left": {k.replace("_", "-"): v
                                                       for k, v in tries_left.items()}}))
    return path


# --- the last-resort handler, Ctrl-C ---------------------------------------------------------


def test_unexpected_exception_is_one_line(cli_run: CliRunner,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import mynaid.sessions.jpki as jpki

    def boom(self: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(jpki.JpkiSession, "token_info", boom)
    result = cli_run("--emulator", "info")
    assert result.code == 1
    assert result.err == "mynaid: internal error, run with -v\n"
    as_json = cli_run("--emulator", "info", "--json")
    assert json.loads(as_json.out)["error"]["reason"] == "internal-error"
    verbose = cli_run("-v", "--emulator", "info")
    assert "Traceback" in verbose.err and "RuntimeError: a bug" in verbose.err


def test_ctrl_c_exits_130(cli_run: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    import mynaid.sessions.jpki as jpki

    def interrupted(self: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(jpki.JpkiSession, "token_info", interrupted)
    result = cli_run("--emulator", "info")
    assert result.code == 130
    assert "Traceback" not in result.err


# --- --json everywhere -----------------------------------------------------------------------

JSON_COMMANDS = [
    (["readers"], ""), (["info"], ""), (["pin", "status"], ""), (["diag", "--rounds", "1"], ""),
    (["cert", "show"], ""), (["cert", "show", "auth"], ""),
    (["pin", "verify", "auth"], "1234\n"), (["text"], "5678\n"),
    (["visual"], "123456789018\n"), (["apdu", "00A4040C0AD3921000310001010408"], ""),
    (["auth", "--challenge", "00" * 32], "1234\n"),
]


@pytest.mark.parametrize(("argv", "stdin"), JSON_COMMANDS, ids=lambda v: str(v)[:40])
@pytest.mark.parametrize("where", ["before", "after"])
def test_json_before_or_after_the_command(cli_run: CliRunner, argv: list[str], stdin: str,
                                          where: str) -> None:
    args = ["--emulator", "--json", *argv] if where == "before" \
        else ["--emulator", *argv, "--json"]
    result = cli_run(*args, stdin=stdin)
    data = json.loads(result.out)  # one document, whatever the outcome
    assert isinstance(data, dict) and data["schema_version"] == 1
    assert result.code in (0, 6), result.err  # 6: the test card's issuer key not given


def test_json_on_file_writing_commands(cli_run: CliRunner, tmp_path: Path) -> None:
    sig = tmp_path / "r.p7s"
    runs = [
        (["sign", "README.md", "-o", str(sig)], "TEST1234\n"),
        (["verify", str(sig), "--trust", str(ROOT / "vectors/test-pki")], ""),
        (["visual", "photo", "-o", str(tmp_path / "p.jp2")], "123456789018\n"),
        (["visual", "images", "-o", str(tmp_path / "images")], "123456789018\n"),
        (["cert", "export", "auth", "-o", str(tmp_path / "a.pem")], ""),
        (["emulator", "new-profile", "-o", str(tmp_path / "n.json")], ""),
        (["pin", "change", "auth"], "1234\n4321\n4321\n"),
    ]
    for argv, stdin in runs:
        result = cli_run("--emulator", *argv, "--json", stdin=stdin)
        assert result.code == 0, (argv, result.err)
        assert json.loads(result.out)["schema_version"] == 1, argv
    # Where the output is the data itself, --json is refused, not ignored.
    refused = cli_run("--emulator", "cert", "export", "auth", "--json")
    assert refused.code == 2 and json.loads(refused.out)["error"]["reason"] == "usage"


def test_json_errors_are_objects_with_a_reason(cli_run: CliRunner) -> None:
    usage = cli_run("--emulator", "pin", "verify", "nosuch", "--json")
    assert usage.code == 2
    assert json.loads(usage.out)["error"] == {
        **json.loads(usage.out)["error"], "reason": "usage", "exit_code": 2}
    wrong = cli_run("--emulator", "--json", "pin", "verify", "auth", stdin="9999\n")
    error = json.loads(wrong.out)["error"]
    assert (wrong.code, error["reason"], error["tries_left"], error["sw"]) == \
        (3, "wrong-pin", 2, "63C2")
    assert "9999" not in wrong.out + wrong.err


def test_info_pin_status_diag_share_the_secret_and_certificate_shapes(
        cli_run: CliRunner) -> None:
    info = json.loads(cli_run("--emulator", "--json", "info").out)
    status = json.loads(cli_run("--emulator", "--json", "pin", "status").out)
    diag = json.loads(cli_run("--emulator", "--json", "diag", "--rounds", "1").out)
    show = json.loads(cli_run("--emulator", "--json", "cert", "show").out)
    keys = set(status["secrets"][0])
    for secret in info["secrets"] + diag["card"]["secrets"]:
        assert set(secret) == keys
    cert_keys = set(info["certificates"][0])
    for cert in show["certificates"] + diag["card"]["certificates"]:
        assert set(cert) == cert_keys
    app_keys = set(info["applications"][0])
    assert all(set(a) == app_keys for a in diag["card"]["applications"])
    # No mixed-type objects: a key has one type (or null) wherever it appears.
    for rows in (info["certificates"] + show["certificates"] + diag["card"]["certificates"],
                 info["secrets"] + status["secrets"] + diag["card"]["secrets"]):
        for key in rows[0]:
            assert len({type(r[key]).__name__ for r in rows} - {"NoneType"}) <= 1, key


# --- the guard before the prompt -------------------------------------------------------------

GUARDED = [
    (["pin", "verify", "auth"], {"auth_pin": 1}),
    (["sign", "README.md", "-o", "{tmp}/x.p7s"], {"sign": 1}),
    (["auth", "--challenge", "00" * 32], {"auth": 1}),
    (["text"], {"text_pin": 1}),
    (["text", "--with", "pin-b"], {"text_pin_b": 1}),
    (["visual"], {"visual_pin_a": 1}),
    (["visual", "--with", "pin-b"], {"visual_pin_b": 1}),
    (["cert", "export", "sign"], {"sign": 1}),
]


@pytest.mark.parametrize(("argv", "tries"), GUARDED, ids=lambda v: str(v)[:40])
def test_guard_refuses_before_asking(cli_run: CliRunner, tmp_path: Path, argv: list[str],
                                     tries: dict[str, int]) -> None:
    profile = profile_with(tmp_path, **tries)
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    # No stdin line: had the command asked, it would fail with "no line" (exit 2).
    result = cli_run("--profile", str(profile), *args, stdin="")
    assert result.code == 7, result.err
    assert "1 try left" in result.err and "--force" in result.err
    assert "reserve" in result.err
    assert "tries left" not in result.err  # singular, and the real reason
    assert not (tmp_path / "x.p7s").exists()


def test_blocked_key_is_refused_before_asking(cli_run: CliRunner, tmp_path: Path) -> None:
    profile = profile_with(tmp_path, auth_pin=0)
    result = cli_run("--profile", str(profile), "pin", "verify", "auth", "--force", stdin="")
    assert result.code == 4 and "blocked" in result.err


def test_output_path_checked_before_the_secret(cli_run: CliRunner, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    result = cli_run("--state", str(state), "sign", "README.md", "-o", "/nonexistent/x.p7s",
                     stdin="TEST1234\n")
    assert result.code == 1 and "does not exist" in result.err
    status = json.loads(cli_run("--state", str(state), "--json", "pin", "status").out)
    assert {s["name"]: s["tries_left"] for s in status["secrets"]}["sign-password"] == 5


# --- files: 0600, no symlinks, "-" -----------------------------------------------------------


def test_private_files_and_symlinks(cli_run: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "doc.p7s"
    assert cli_run("--emulator", "sign", "README.md", "-o", str(out),
                   stdin="TEST1234\n").code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    target = tmp_path / "victim"
    target.write_text("keep")
    link = tmp_path / "link.p7s"
    link.symlink_to(target)
    result = cli_run("--emulator", "sign", "README.md", "-o", str(link), stdin="TEST1234\n")
    assert result.code == 1 and "symbolic link" in result.err
    assert target.read_text() == "keep"
    new = tmp_path / "card.json"
    assert cli_run("emulator", "new-profile", "-o", str(new)).code == 0
    assert stat.S_IMODE(new.stat().st_mode) == 0o600


def test_dash_is_stdout(cli_run: CliRunner) -> None:
    result = cli_run("--emulator", "cert", "export", "auth", "-o", "-")
    assert result.code == 0 and result.out.startswith("-----BEGIN CERTIFICATE-----")


# --- 照合番号B: never on argv, by parts, plausible ---------------------------------------------


@pytest.mark.parametrize("birth", ["1980-02-17", "昭和55年2月17日", "S55.02.17", "s55-2-17",
                                   "１９８０－０２－１７", "昭和５５年２月１７日"])
def test_pin_b_by_parts(cli_run: CliRunner, birth: str) -> None:
    result = cli_run("--emulator", "--json", "visual", "--with", "pin-b", "--pin-b-parts",
                     stdin=f"{birth}\n２０３５\n2285\n")
    assert result.code == 0, result.err
    assert json.loads(result.out)["birth_date"] == "1980-02-17"


@pytest.mark.parametrize(("lines", "why"), [
    ("1980-02-17\n1979\n2285\n", "expiry year"),
    ("1980-02-17\n2200\n2285\n", "expiry year"),
    ("H1-01-07\n2035\n2285\n", "Heisei"),
    ("2999-01-01\n2035\n2285\n", "future"),
])
def test_implausible_pin_b_is_refused_before_verify(cli_run: CliRunner, tmp_path: Path,
                                                    lines: str, why: str) -> None:
    state = tmp_path / "state.json"
    result = cli_run("--state", str(state), "visual", "--with", "pin-b", "--pin-b-parts",
                     stdin=lines)
    assert result.code == 2 and why in result.err, result.err
    status = json.loads(cli_run("--state", str(state), "--json", "pin", "status").out)
    (pin_b,) = [s for s in status["secrets"] if s["name"] == "visual-pin-b"]
    assert pin_b["tries_left"] == pin_b["max_tries"]  # no VERIFY was sent


def test_no_secret_options_on_argv(cli_run: CliRunner) -> None:
    result = cli_run("--emulator", "text", "--with", "pin-b", "--birth", "1980-02-17",
                     "--expiry-year", "2035", stdin="2285\n")
    assert result.code == 2 and "never taken from argv" in result.err


# --- the emulator as a reader, --state -------------------------------------------------------


def test_emulator_readers_and_reader_filter(cli_run: CliRunner, tmp_path: Path) -> None:
    listed = json.loads(cli_run("--emulator", "--json", "readers").out)["readers"]
    assert [r["name"] for r in listed] == ["mynaid emulator"]
    assert json.loads(cli_run("--emulator", "-r", "nomatch", "--json", "readers").out
                      )["readers"] == []
    assert cli_run("--emulator", "-r", "nomatch", "info").code == 5
    assert cli_run("--emulator", "-r", "EMUL", "info").code == 0
    assert cli_run("--emulator", "-r", "0", "info").code == 0
    # --profile implies --emulator
    profile = profile_with(tmp_path)
    assert "mynaid emulator" in cli_run("--profile", str(profile), "info").out


def test_state_keeps_counters_and_pin_changes(cli_run: CliRunner, tmp_path: Path) -> None:
    state = tmp_path / "card-state.json"
    base = ("--state", str(state))
    assert cli_run(*base, "pin", "verify", "auth", stdin="0000\n").code == 3
    assert cli_run(*base, "pin", "verify", "auth", stdin="0000\n").code == 3
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    refused = cli_run(*base, "pin", "verify", "auth", stdin="1234\n")
    assert refused.code == 7 and "1 try left" in refused.err
    assert cli_run(*base, "pin", "verify", "auth", "--force", stdin="1234\n").code == 0
    assert cli_run(*base, "pin", "change", "auth", stdin="1234\n4321\n4321\n").code == 0
    assert cli_run(*base, "pin", "verify", "auth", stdin="1234\n").code == 3
    assert cli_run(*base, "pin", "verify", "auth", stdin="4321\n").code == 0
    # A fresh card without the state still has the profile's PIN.
    assert cli_run("--emulator", "pin", "verify", "auth", stdin="1234\n").code == 0
    # A state of another card is refused, not applied.
    other = tmp_path / "other.json"
    assert cli_run("emulator", "new-profile", "-o", str(other)).code == 0
    mismatch = cli_run("--profile", str(other), *base, "info")
    assert mismatch.code == 1 and "another card" in mismatch.err


# --- cert show, apdu, --log-file -------------------------------------------------------------


def test_cert_show(cli_run: CliRunner) -> None:
    from mynaid.cardspec import CertificateSlot
    from mynaid.connect import connect, emulated_card
    from mynaid.sessions.jpki import JpkiSession

    with connect(card=emulated_card()) as protocol:
        der = JpkiSession(protocol).read_certificate_der(CertificateSlot.AUTH)
    cert = x509.load_der_x509_certificate(der)
    data = json.loads(cli_run("--emulator", "--json", "cert", "show", "auth").out)
    shown = data["certificates"][0]
    assert shown["sha256_fingerprint"].replace(":", "").lower() == \
        cert.fingerprint(hashes.SHA256()).hex()
    assert shown["subject"] == cert.subject.rfc4514_string()
    assert "digital_signature" in shown["key_usage"] and shown["policies"]
    text = cli_run("--emulator", "cert", "show").out
    assert "[sign]" in text and "needs the signature password" in text
    signed = cli_run("--emulator", "cert", "show", "sign", stdin="TEST1234\n")
    assert signed.code == 0 and "SHA-256:" in signed.out


def test_apdu_refuses_secrets_and_never_logs_them(cli_run: CliRunner, tmp_path: Path) -> None:
    select = "00A4040C0AD392F000260100000001"  # JPKI
    ok = cli_run("--emulator", "apdu", select, "00A4020C020018", "00200080")
    assert ok.code == 0, ok.err
    assert ok.out.splitlines()[-1] == "< 63C3"  # the retry query: no try used
    refused = cli_run("--emulator", "apdu", select, "00A4020C020018", "002000800431323334")
    assert refused.code == 2 and "31323334" not in refused.err and "carries a secret" in \
        refused.err
    log = tmp_path / "support.log"
    forced = cli_run("--emulator", "--log-file", str(log), "apdu", select, "00A4020C020018",
                     "002000800430303030", "--force-secret-apdu")
    assert forced.code == 0 and forced.out.splitlines()[-1] == "< 63C2"
    content = log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert "00 A4 04 0C" in content and "30 30 30 30" not in content
    assert "30303030" not in forced.out + forced.err


def test_log_file_is_redacted(cli_run: CliRunner, tmp_path: Path) -> None:
    log = tmp_path / "bundle.log"
    result = cli_run("--emulator", "--log-file", str(log), "text", stdin="5678\n")
    assert result.code in (0, 6)
    content = log.read_text()
    assert "> 00 20 00 80 Lc=4 <redacted>" in content
    assert "35 36 37 38" not in content and "5678" not in content
    my_number = BASE["text"]["my_number"]
    assert my_number not in content and " ".join(my_number) not in content


# --- one interface ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", mynaid.__all__)
def test_every_exported_name(name: str) -> None:
    importlib.import_module("mynaid.connect")  # the submodule no longer shadows the export
    value = getattr(mynaid, name)
    assert not isinstance(value, type(mynaid)), name
    exec(f"from mynaid import {name} as imported", {})  # noqa: S102
    namespace: dict[str, Any] = {}
    exec(f"from mynaid import {name}", namespace)  # noqa: S102
    assert namespace[name] is value


def test_connect_is_the_function_after_use() -> None:
    from mynaid import connect, emulated_card

    with connect(card=emulated_card()) as protocol:
        assert protocol.transport.reader_name == "mynaid emulator"
    assert mynaid.connect is connect and callable(mynaid.connect)


# --- the rest of the tracebacks ------------------------------------------------------


def test_empty_images_are_input_errors(cli_run: CliRunner, tmp_path: Path) -> None:
    pytest.importorskip("cv2")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    result = cli_run("face", "verify", "--card-photo", str(empty), "--frame", str(empty))
    assert (result.code, result.err) == (1, f"mynaid: {empty} is empty: not an image\n")
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("file_x,file_y,Decision\nempty.png,empty.png,Yes\n")
    result = cli_run("face", "eval", str(pairs))
    assert result.code == 1 and "is empty" in result.err


def test_kiosk_example_without_pyscard() -> None:
    code = ("import runpy, sys; sys.modules['smartcard'] = None; "
            "sys.argv = ['kiosk.py', '--once']; "
            "runpy.run_path('examples/kiosk.py', run_name='__main__')")
    done = subprocess.run([PYTHON, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "mynaid[pcsc]" in done.stderr


def test_shell_completion_script() -> None:
    env = {**os.environ, "_MYNAID_COMPLETE": "bash_source"}
    done = subprocess.run([PYTHON, "-m", "mynaid"], capture_output=True, text=True, env=env,
                          timeout=60, check=False)
    assert done.returncode == 0 and "_MYNAID_COMPLETE" in done.stdout
    env = {**os.environ, "_MYNAID_COMPLETE": "bash_complete", "COMP_WORDS": "mynaid ce",
           "COMP_CWORD": "1"}
    done = subprocess.run([PYTHON, "-m", "mynaid"], capture_output=True, text=True, env=env,
                          timeout=60, check=False)
    assert "cert" in done.stdout


def test_main_never_lets_a_library_error_escape(cli_run: CliRunner) -> None:
    assert cli_main_function(["--emulator", "--json", "info"]) == 0
    digest = hashlib.sha256(b"").hexdigest()
    assert cli_run("--emulator", "apdu", digest[:3]).code == 2


@pytest.mark.parametrize(("text", "iso"), [
    ("1980-02-17", "1980-02-17"), ("19800217", "1980-02-17"), ("1980/2/17", "1980-02-17"),
    ("1980年2月17日", "1980-02-17"), ("昭和55年2月17日", "1980-02-17"),
    ("S55.02.17", "1980-02-17"), ("s55-2-17", "1980-02-17"), ("H1-01-08", "1989-01-08"),
    ("平成元年1月8日", "1989-01-08"), ("R1/05/01", "2019-05-01"), ("T1.7.30", "1912-07-30"),
    ("Ｓ５５．０２．１７", "1980-02-17"), ("昭和64年1月7日", "1989-01-07"),
])
def test_parse_date_accepts_era_and_gregorian_dates(text: str, iso: str) -> None:
    from mynaid.era import parse_date

    assert parse_date(text).isoformat() == iso


@pytest.mark.parametrize("text", ["H1-01-07", "昭和65年1月1日", "R1.04.30", "M45.7.30",
                                  "1980-02-30", "S99", "tomorrow", "X55.02.17"])
def test_parse_date_refuses_what_no_era_wrote(text: str) -> None:
    from mynaid.era import parse_date
    from mynaid.errors import InvalidSecretError

    with pytest.raises(InvalidSecretError) as raised:
        parse_date(text)
    assert text not in str(raised.value)


def test_parse_year() -> None:
    from mynaid.era import parse_year

    assert parse_year("２０３５") == 2035 == parse_year("令和17") == parse_year("R17年")
