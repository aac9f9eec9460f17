"""Mutation fuzzer over card profiles: every mutant is a profile or a ParseError, never a
foreign exception, through the loader and through the CLI (``--profile``).

Seeded and bounded in the suite; ``MYNAID_FUZZ_PROFILES=N`` runs N mutants (longer mode:
``benchmarks/fuzz_profiles.py``).
"""

from __future__ import annotations

import copy
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from mynaid.connect import emulated_card
from mynaid.emulator.profile import CardProfile, default_profile
from mynaid.errors import ParseError
from tests.conftest import CliRunner

BASE = default_profile().to_json()
BASE_TEXT = json.dumps(BASE)
ITERATIONS = int(os.environ.get("MYNAID_FUZZ_PROFILES", "300"))
SEED = 20261202

_HOSTILE_VALUES: list[Any] = [
    None, 0, -1, 16, 2**70, 1.5, True, "", "１２３４", "ß" * 8, "x" * 100_000, "\x00", [],
    {}, [None], {"a": None}, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    "é", "12345", "TEST1234" * 3, "\u3042",
]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for key, value in obj.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            out += _paths(value, (*prefix, index))
    return out


PATHS = [p for p in _paths(BASE) if p]


def _set(obj: Any, path: tuple[Any, ...], value: Any, delete: bool = False) -> None:
    for key in path[:-1]:
        obj = obj[key]
    if delete and isinstance(obj, dict):
        del obj[path[-1]]
    else:
        obj[path[-1]] = value


def structural_mutant(rng: random.Random) -> str:
    """The default profile with 1..3 fields replaced, deleted or wrapped."""
    data = copy.deepcopy(BASE)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(PATHS)
        try:
            kind = rng.random()
            if kind < 0.2:
                _set(data, path, None, delete=True)
            elif kind < 0.8:
                _set(data, path, rng.choice(_HOSTILE_VALUES))
            else:
                node = data
                for key in path:
                    node = node[key]
                _set(data, path, [node] if rng.random() < 0.5 else {"x": node})
        except (KeyError, IndexError, TypeError):
            continue
    return json.dumps(data)


def byte_mutant(rng: random.Random) -> bytes:
    """The profile's bytes flipped, cut, duplicated or spliced with hostile text."""
    raw = bytearray(BASE_TEXT.encode("utf-8"))
    for _ in range(rng.randint(1, 4)):
        pos = rng.randrange(len(raw))
        kind = rng.random()
        if kind < 0.4:
            raw[pos] = rng.randrange(256)
        elif kind < 0.55:
            del raw[pos:pos + rng.randint(1, 64)]
        elif kind < 0.7:
            raw[pos:pos] = rng.choice([b"[" * 5000, b"{\"a\":" * 3000, b"\xff\xfe", b"null",
                                       b"\"", b"\\u0000", b"1e999999", b"9" * 5000])
        else:
            raw = raw[:pos]
    return bytes(raw)


def test_profile_mutants_raise_only_parse_errors(tmp_path: Path) -> None:
    """The CLI's loader (file → parse → card) on every mutant: a card or a ParseError."""
    rng = random.Random(SEED)
    path = tmp_path / "mutant.json"
    outcomes = {"loaded": 0, "refused": 0}
    for index in range(ITERATIONS):
        mutant = structural_mutant(rng).encode() if index % 2 else byte_mutant(rng)
        path.write_bytes(mutant)
        try:
            emulated_card(path)
        except ParseError:
            outcomes["refused"] += 1
        else:
            outcomes["loaded"] += 1
    assert outcomes["refused"] > ITERATIONS // 4, outcomes


CASES: dict[str, bytes] = {
    "not-utf8": b"\xff\xfe" + BASE_TEXT.encode("utf-16-le"),
    "null-label": json.dumps({**BASE, "jpki": {**BASE["jpki"], "token_label": None}}).encode(),
    "null-pin": json.dumps({**BASE, "jpki": {**BASE["jpki"], "auth_pin": None}}).encode(),
    "non-ascii-pin": json.dumps({**BASE, "jpki": {**BASE["jpki"], "auth_pin": "１２３４"}}
                                ).encode(),
    "long-label": json.dumps({**BASE, "jpki": {**BASE["jpki"], "token_label": "L" * 40}}
                             ).encode(),
    "deep": b"[" * 200000,
    "deep-objects": b'{"a":' * 100000,
    "name-number": json.dumps({**BASE, "name": 5}).encode(),
    "tries-string": json.dumps({**BASE, "jpki": {**BASE["jpki"], "auth_pin_tries": "3"}}
                               ).encode(),
    "tries-left-bad": json.dumps({**BASE, "tries_left": {"auth-pin": 9}}).encode(),
    "huge-int": b'{"format": "mynaid-card-profile", "version": ' + b"9" * 5000 + b"}",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_issue_profiles_are_one_line_errors(cli_run: CliRunner, tmp_path: Path,
                                            case: str) -> None:
    path = tmp_path / f"{case}.json"
    path.write_bytes(CASES[case])
    result = cli_run("--profile", str(path), "info")
    assert result.code == 1, result
    assert result.err.startswith("mynaid: ") and result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err and "internal error" not in result.err
    as_json = cli_run("--profile", str(path), "info", "--json")
    assert json.loads(as_json.out)["error"]["reason"] == "malformed-data"


def test_profile_can_set_tries_left(cli_run: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "tries.json"
    path.write_text(json.dumps({**BASE, "tries_left": {"auth-pin": 1, "sign": 0}}))
    data = json.loads(cli_run("--profile", str(path), "--json", "pin", "status").out)
    tries = {s["name"]: s["tries_left"] for s in data["secrets"]}
    assert tries["auth-pin"] == 1 and tries["sign-password"] == 0
    # Exit 7 (the guard) and 4 (blocked) can be rehearsed; nothing is asked for.
    assert cli_run("--profile", str(path), "pin", "verify", "auth").code == 7
    assert cli_run("--profile", str(path), "pin", "verify", "sign").code == 4
    assert CardProfile.loads(path.read_text()).tries_left == {"auth-pin": 1,
                                                              "sign-password": 0}
