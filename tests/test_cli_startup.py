"""Start-up of the ``mynaid`` command (issue 11): ``--help``, ``--version`` and a command's
``--help`` import no feature module beyond the one asked for, and nothing heavy; the command
list of ``--help`` (from :data:`mynaid.cli.main.FEATURE_HELP`) is what the commands say."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import click
import pytest

from mynaid.cli.main import FEATURE_HELP, FEATURE_MODULES

HEAVY = ("cryptography", "smartcard", "numpy", "cv2", "asn1crypto", "mynaid.emulator",
         "mynaid.kiosk", "mynaid.trust")

_PROBE = """
import contextlib, io, json, sys
from mynaid.cli.main import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def _probe(*argv: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True,
                          text=True, timeout=60, check=True,
                          env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"})
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_feature_help_matches_the_commands() -> None:
    for module in FEATURE_MODULES:
        group = click.Group()
        importlib.import_module(module).register(group)
        listed = {name: command.get_short_help_str(10**6)
                  for name, command in group.commands.items() if not command.hidden}
        if module in FEATURE_HELP:
            assert FEATURE_HELP[module] == listed, (
                f"update FEATURE_HELP[{module!r}] in mynaid/cli/main.py to {listed!r}")


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["pin", "--help"]])
def test_fast_paths_import_nothing_heavy(argv: list[str]) -> None:
    result = _probe(*argv)
    assert result["code"] == 0
    modules = result["modules"]
    assert isinstance(modules, list)
    heavy = [m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]
    assert heavy == []
    wanted = {"mynaid.cli.pins"} if argv[0] == "pin" else set()
    assert {m for m in modules if m in FEATURE_MODULES} == wanted


def test_help_lists_what_the_loaded_commands_say() -> None:
    script = _PROBE + """
import sys as _s
_s.modules["mynaid.cli.main"]._register_features()
again = io.StringIO()
with contextlib.redirect_stdout(again):
    main(["--help"])
print(json.dumps({"loaded": again.getvalue()}))
"""
    done = subprocess.run([sys.executable, "-c", script, "--help"], capture_output=True,
                          text=True, timeout=60, check=True,
                          env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"})
    first, second = (json.loads(line) for line in done.stdout.splitlines()[-2:])
    assert "Commands:" in first["out"] and "verify" in first["out"]
    assert first["out"] == second["loaded"]


def test_version_without_click_says_what_click_says() -> None:
    env = {"COLUMNS": "100", "PATH": "/usr/bin:/bin"}
    fast = subprocess.run(
        [sys.executable, "-c", "import sys; sys.argv = ['mynaid', '--version']\n"
         "from mynaid.cli.entry import main\ncode = main()\n"
         "print('click' in sys.modules, file=sys.stderr); sys.exit(code)"],
        capture_output=True, text=True, timeout=60, env=env)
    assert fast.returncode == 0 and fast.stderr.strip() == "False"
    slow = _probe("--version")  # click's version_option, through mynaid.cli.main
    assert fast.stdout == slow["out"]
    other = subprocess.run([sys.executable, "-m", "mynaid", "--bogus-option"],
                           capture_output=True, text=True, timeout=60, env=env)
    assert other.returncode == 2 and "--bogus-option" in other.stderr  # click ran it
