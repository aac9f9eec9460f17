"""The README as a new user runs it: every marked command line, the library snippet, every
name and option it mentions, and the test-card secrets table.

Marked command lines are those starting with ``$ `` in the README's shell blocks; each is
run as written with bash (in a scratch folder holding README.md and vectors/, the venv's
bin on PATH), in order, and must exit 0 (or the code its ``# exit N`` comment names) without
a traceback.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCK_RE = re.compile(r"^```([a-z]*)[^\n]*\n(.*?)^```", re.S | re.M)
BLOCKS = [(lang, body) for lang, body in BLOCK_RE.findall(README)]
COMMANDS = [line[2:] for lang, body in BLOCKS if lang in ("console", "sh", "shell")
            for line in body.splitlines() if line.startswith("$ ")]
EXIT_RE = re.compile(r"#\s*exit (\d+)\s*$")


def test_readme_marks_commands_to_run() -> None:
    assert len(COMMANDS) >= 10
    assert all("mynaid" in command for command in COMMANDS)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("readme")
    (folder / "README.md").write_bytes((ROOT / "README.md").read_bytes())
    (folder / "vectors").symlink_to(ROOT / "vectors")
    return folder


def test_readme_command_lines_run_as_written(scratch: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                 f"{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(ROOT)}
    env.pop("MYNAID_ISSUER_KEYS", None)
    for command in COMMANDS:
        match = EXIT_RE.search(command)
        expected = int(match[1]) if match else 0
        done = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], cwd=scratch,
                              env=env, capture_output=True, text=True, timeout=120,
                              check=False)
        assert done.returncode == expected, (command, done.stdout[-500:], done.stderr[-500:])
        assert "Traceback" not in done.stderr, command
        if "--json" in command:
            assert json.loads(done.stdout)["schema_version"] == 1


def test_readme_python_blocks_run_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = [body for lang, body in BLOCKS if lang == "python"]
    assert blocks
    for body in blocks:
        exec(compile(body, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102
    assert "TokenKind.CARD" in capsys.readouterr().out


DOTTED_RE = re.compile(r"`(mynaid(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


#: Dotted names that are not Python objects: logger names.
LOGGERS = {"mynaid.apdu"}


@pytest.mark.parametrize("dotted", sorted(set(DOTTED_RE.findall(README)) - LOGGERS))
def test_every_named_function_exists(dotted: str) -> None:
    try:
        _resolve(dotted.rstrip("."))
    except (ImportError, AttributeError) as exc:
        if isinstance(exc, ImportError) and "No module named 'cv2'" in str(exc):
            pytest.skip("needs OpenCV")
        raise


def _all_options() -> set[str]:
    from mynaid.cli.main import _register_features, cli

    _register_features()
    found: set[str] = set()

    def walk(command: click.Command) -> None:
        for param in command.params:
            found.update(o for o in [*param.opts, *param.secondary_opts] if o.startswith("--"))
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                walk(sub)

    walk(cli)
    return found


#: Options of other programs the README shows (make, pip, python, apt, shells, xmlsec1,
#: the benchmark scripts).
FOREIGN_OPTIONS = {"--upgrade", "--no-recommends", "--no-install-recommends", "--help",
                   "--version", "--sign", "--verify", "--only", "--iterations", "--holders",
                   "--per-holder"}


def test_every_named_option_exists() -> None:
    known = _all_options() | FOREIGN_OPTIONS
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", README))
    missing = sorted(named - known)
    assert not missing, missing


def test_secrets_table_matches_the_default_card() -> None:
    card = json.loads((ROOT / "mynaid/emulator/data/default-card.json").read_text("utf-8"))
    section = README[README.index("### Test-card secrets"):]
    rows = {m[0]: (m[1], int(m[2])) for m in
            re.findall(r"^\| [^|]+ \| `([a-z-]+)`[^|]*\| `([0-9A-Z]+)` \| (\d+) \|$",
                       section, re.M)}
    jpki, text, visual = card["jpki"], card["text"], card["visual"]
    expected = {
        "auth-pin": (jpki["auth_pin"], jpki.get("auth_pin_tries", 3)),
        "sign-password": (jpki["sign_password"], jpki.get("sign_password_tries", 5)),
        "text-pin": (text["pin"], text["tries"]["pin"]),
        "text-pin-a": (text["my_number"], text["tries"]["pin_a"]),
        "text-pin-b": (text["pin_b"], text["tries"]["pin_b"]),
        "visual-pin-a": (visual["my_number"], visual["tries"]["pin_a"]),
        "visual-pin-b": (visual["pin_b"], visual["tries"]["pin_b"]),
        "visual-birth": (visual["birth_key"], visual["tries"]["birth"]),
    }
    assert rows == expected
    from mynaid.cardspec import SECRETS_BY_NAME

    assert set(rows) == set(SECRETS_BY_NAME)
