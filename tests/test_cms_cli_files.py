"""``mynaid sign`` / ``mynaid verify`` with bad files and streams (issue 11), and the
streaming CMS API (issue 15): bad input is an input or usage error (1/2), never a failed
verification (6); ``-o`` is checked before the secret is asked; the role is checked;
``sign_file``/``verify_file`` give what ``sign``/``verify`` give."""

from __future__ import annotations

import datetime as dt
import importlib
import io
import json
import os
from pathlib import Path

import pytest

from mynaid import cms
from mynaid.emulator import build_card, default_profile
from mynaid.trust.errors import Reason, VerificationError
from tests.conftest import CliRunner
from tests.trust_pki import PKI_DIR, fresh_key, issue, root, trust

# mynaid.connect is the function; the module of the same name, by its full name.
CONNECT_MODULE = importlib.import_module("mynaid.connect")

CONTENT = b"a document to sign\n" * 50


@pytest.fixture
def run(cli_run: CliRunner, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    card = build_card(default_profile())
    monkeypatch.setattr(CONNECT_MODULE, "emulated_card",
                        lambda profile=None, options=None: card)
    return cli_run


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "doc.txt").write_bytes(CONTENT)
    return tmp_path


def _sign(run: CliRunner, files: Path, *extra: str, key: str = "sign") -> Path:
    out = files / f"doc-{key}{'-'.join(extra)}.p7s"
    secret = "TEST1234\n" if key == "sign" else "1234\n"
    result = run("--emulator", "sign", "--key", key, str(files / "doc.txt"), "-o", str(out),
                 *extra, stdin=secret)
    assert result.code == 0, result.err
    return out


def test_output_checked_before_the_secret(run: CliRunner, files: Path) -> None:
    missing = files / "nowhere" / "x.p7s"
    result = run("--emulator", "sign", str(files / "doc.txt"), "-o", str(missing), stdin="")
    # An output-path error (exit 1, OutputPathError, as for every command), and the secret
    # was never read (stdin is empty: reading it would fail with "no line on standard input").
    assert result.code == 1
    assert "does not exist" in result.err and "standard input" not in result.err
    (files / "target").write_bytes(b"keep")
    os.symlink(files / "target", files / "link.p7s")
    linked = run("--emulator", "sign", str(files / "doc.txt"), "-o", str(files / "link.p7s"),
                 stdin="")
    assert linked.code == 1 and "symbolic link" in linked.err
    assert (files / "target").read_bytes() == b"keep"


def test_signature_written_private_and_atomically(run: CliRunner, files: Path) -> None:
    out = _sign(run, files)
    assert out.stat().st_mode & 0o777 == 0o600
    assert not [p for p in files.iterdir() if p.name.endswith(".tmp")]
    wrong = run("--emulator", "sign", str(files / "doc.txt"), "-o", str(files / "w.p7s"),
                stdin="WRONG123\n")
    assert wrong.code == 3 and not (files / "w.p7s").exists()
    assert not [p for p in files.iterdir() if p.name.endswith(".tmp")]


def test_role_is_checked_by_default(run: CliRunner, files: Path) -> None:
    auth = _sign(run, files, key="auth")
    refused = run("--json", "verify", str(auth), "--trust", str(PKI_DIR))
    assert refused.code == 6
    assert json.loads(refused.out)["reason"] == "role-mismatch"
    for role in ("auth", "any"):
        accepted = run("verify", str(auth), "--trust", str(PKI_DIR), "--role", role)
        assert accepted.code == 0, accepted.err
    sign = _sign(run, files)
    assert run("verify", str(sign), "--trust", str(PKI_DIR)).code == 0
    assert run("verify", str(sign), "--trust", str(PKI_DIR), "--role", "auth").code == 6


def test_revocation_not_checked_is_said(run: CliRunner, files: Path) -> None:
    out = _sign(run, files)
    result = run("verify", str(out), "--trust", str(PKI_DIR))
    assert "Revocation:  not checked" in result.out
    as_json = json.loads(run("--json", "verify", str(out), "--trust", str(PKI_DIR)).out)
    assert as_json["revocation_checked"] is False and as_json["revocation"] == []


def test_bad_input_files_are_input_errors(run: CliRunner, files: Path) -> None:
    out = _sign(run, files)
    detached = _sign(run, files, "--detached")
    (files / "garbage.crl").write_bytes(b"\x30\x03\x02\x01\x01")
    (files / "map.json").write_text(json.dumps({"distribution_points": 5}))
    (files / "map2.json").write_text(json.dumps({"distribution_points": [{"name": 7}]}))
    (files / "map3.json").write_bytes(b"\xff\xfe")
    (files / "bad-anchor.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n"
                                           b"-----END CERTIFICATE-----\n")
    cases = {
        "garbage --crl": ["--crl", str(files / "garbage.crl")],
        "--crl-map not a list": ["--crl-map", str(files / "map.json")],
        "--crl-map name not a string": ["--crl-map", str(files / "map2.json")],
        "--crl-map not UTF-8": ["--crl-map", str(files / "map3.json")],
        "bad --trust": ["--trust", str(files / "bad-anchor.pem")],
    }
    for case, extra in cases.items():
        result = run("verify", str(out), "--trust", str(PKI_DIR), *extra)
        assert result.code in (1, 2), (case, result.code, result.err)
        assert "Traceback" not in result.err and "Error:" not in result.err.split(":")[0]
        assert files.name in result.err, case  # the message names the file
    no_content = run("verify", str(detached), "--trust", str(PKI_DIR))
    assert no_content.code == 2 and "--content" in no_content.err


def test_stdin_and_stdout(signer: tuple[object, object], monkeypatch: pytest.MonkeyPatch,
                          capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    import sys

    from mynaid.cli.main import main

    der = cms.sign(CONTENT, *signer)  # type: ignore[arg-type]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(der)))
    capsysbinary.readouterr()
    code = main(["verify", "-", "--trust", str(PKI_DIR), "-o", "-"])
    captured = capsysbinary.readouterr()
    assert code == 0, captured.err
    assert captured.out == CONTENT
    assert b"Verification OK" in captured.err


# --- the streaming API -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signer() -> tuple[object, object]:
    key = fresh_key("stream-ee")
    return key, issue(root("sign"), key)


@pytest.mark.parametrize("detached", [False, True])
def test_sign_file_equals_sign(signer: tuple[object, object], detached: bool) -> None:
    key, cert = signer
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    content = os.urandom(3 * cms.CHUNK + 17)
    output = io.BytesIO()
    cms.sign_file(io.BytesIO(content), output, key, cert, detached=detached,  # type: ignore[arg-type]
                  signing_time=when)
    der = cms.sign(content, key, cert, detached=detached,  # type: ignore[arg-type]
                   signing_time=when)
    assert output.getvalue() == der
    armoured = io.BytesIO()
    cms.sign_file(io.BytesIO(content), armoured, key, cert, detached=detached,  # type: ignore[arg-type]
                  signing_time=when, pem=True)
    assert armoured.getvalue() == cms.to_pem(der)


def test_verify_file_in_place(signer: tuple[object, object], tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    key, cert = signer
    monkeypatch.setattr(cms, "INPLACE_THRESHOLD", 1024)  # force the in-place path on a small file
    content = os.urandom(5000)
    sig = tmp_path / "a.p7s"
    with sig.open("wb") as out:
        cms.sign_file(io.BytesIO(content), out, key, cert)  # type: ignore[arg-type]
    result = cms.verify_file(sig, trust())
    assert result.content is None and result.content_length == len(content)
    copied = io.BytesIO()
    cms.copy_content(sig, result, copied)
    assert copied.getvalue() == content
    # The file changes between verification and copy: the copy is refused.
    changed = bytearray(sig.read_bytes())
    assert result.content_offset is not None
    changed[result.content_offset] ^= 1
    (tmp_path / "b.p7s").write_bytes(bytes(changed))
    with pytest.raises(VerificationError) as swapped:
        cms.copy_content(tmp_path / "b.p7s", result, io.BytesIO())
    assert swapped.value.reason is Reason.MESSAGE_DIGEST_MISMATCH
    # A changed content byte in the file: the digest fails.
    raw = bytearray(sig.read_bytes())
    assert result.content_offset is not None
    raw[result.content_offset + 10] ^= 1
    sig.write_bytes(bytes(raw))
    with pytest.raises(VerificationError) as info:
        cms.verify_file(sig, trust())
    assert info.value.reason is Reason.MESSAGE_DIGEST_MISMATCH
    # Detached from a file.
    det = tmp_path / "d.p7s"
    det.write_bytes(cms.sign(content, key, cert, detached=True))  # type: ignore[arg-type]
    (tmp_path / "c.bin").write_bytes(content)
    detached = cms.verify_file(det, trust(), content=tmp_path / "c.bin")
    assert detached.detached and detached.content is None
    copied = io.BytesIO()
    cms.copy_content(det, detached, copied, content=tmp_path / "c.bin")
    assert copied.getvalue() == content
    (tmp_path / "c.bin").write_bytes(content + b"x")
    with pytest.raises(VerificationError) as info:
        cms.verify_file(det, trust(), content=tmp_path / "c.bin")
    assert info.value.reason is Reason.MESSAGE_DIGEST_MISMATCH


def test_verify_file_truncated_and_non_der(signer: tuple[object, object], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    key, cert = signer
    monkeypatch.setattr(cms, "INPLACE_THRESHOLD", 64)
    der = cms.sign(os.urandom(4000), key, cert)  # type: ignore[arg-type]
    for cut in (10, 100, len(der) // 2, len(der) - 1):
        (tmp_path / "t.p7s").write_bytes(der[:cut])
        with pytest.raises(VerificationError):
            cms.verify_file(tmp_path / "t.p7s", trust())
    count = der[1] & 0x7F
    (tmp_path / "n.p7s").write_bytes(der[:1] + bytes([0x80 | (count + 1), 0]) + der[2:])
    with pytest.raises(VerificationError) as info:
        cms.verify_file(tmp_path / "n.p7s", trust())
    assert info.value.reason is Reason.NOT_DER


def test_ocsp_options_are_checked(run: CliRunner, files: Path) -> None:
    out = _sign(run, files)
    assert run("verify", str(out), "--trust", str(PKI_DIR), "--require-nonce").code == 2
    assert run("verify", str(out), "--trust", str(PKI_DIR), "--ocsp", "http://127.0.0.1:9/",
               "--ocsp-timeout", "0").code == 2
    assert run("verify", str(out), "--trust", str(PKI_DIR), "--crl-max-age", "-1").code == 2


def test_hostile_signature_through_the_cli(run: CliRunner, files: Path,
                                           signer: tuple[object, object]) -> None:
    der = cms.sign(CONTENT, *signer)  # type: ignore[arg-type]
    at = der.find(b"\xa0\x03\x02\x01\x02")
    mutant = der[:at] + b"\xa0\x03\x02\x01\x05" + der[at + 5:]  # certificate version 6
    (files / "bad.p7s").write_bytes(mutant)
    result = run("--json", "verify", str(files / "bad.p7s"), "--trust", str(PKI_DIR))
    assert result.code == 6
    assert json.loads(result.out)["reason"] == "malformed-certificate"
    assert "Traceback" not in result.err and "InvalidVersion" not in result.err
