"""Shared fixtures: the default emulated card in-process, and the real PC/SC rig."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mynaid.emulator import EmulatedCard, build_card, default_profile
from mynaid.emulator.profile import CardProfile
from mynaid.protocol import CardProtocol
from mynaid.transport.emulated import EmulatorTransport

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def profile() -> CardProfile:
    return default_profile()


@pytest.fixture
def card(profile: CardProfile) -> EmulatedCard:
    """A fresh default card (new counters) for each test."""
    return build_card(profile)


@pytest.fixture
def protocol(card: EmulatedCard) -> Iterator[CardProtocol]:
    transport = EmulatorTransport(card)
    yield CardProtocol(transport)
    transport.close()


@dataclass
class CliResult:
    """What one in-process ``mynaid`` run gave: exit code, stdout, stderr."""

    code: int
    out: str
    err: str


CliRunner = Callable[..., CliResult]


@pytest.fixture
def cli_run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """Run ``mynaid.cli.main.main(argv)`` in-process with ``stdin`` as standard input."""
    from mynaid.cli.main import main

    def _run(*argv: str, stdin: str = "") -> CliResult:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(argv))
        out, err = capsys.readouterr()
        return CliResult(int(code), out, err)

    return _run


@pytest.fixture(scope="session")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """pcscd in a private network namespace with vpcd readers (see tests/pcsc_rig.py).

    Skips when the rig cannot run here, unless MYNAID_REQUIRE_PCSC=1 (set by `make test`
    as root), which turns the skip into a failure so CI cannot silently skip these tests.
    """
    from tests.pcsc_rig import PcscRig, RigUnavailable

    rig = PcscRig(tmp_path_factory.mktemp("pcsc"))
    try:
        rig.start()
    except RigUnavailable as exc:
        if os.environ.get("MYNAID_REQUIRE_PCSC") == "1":
            pytest.fail(f"PC/SC rig required but unavailable: {exc}")
        pytest.skip(f"PC/SC rig unavailable: {exc}")
    yield rig
    rig.stop()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A private PostgreSQL server on a unix socket (see tests/pg_rig.py), for the session.

    Skips when PostgreSQL is not installed, unless MYNAID_REQUIRE_POSTGRES=1 (set by
    `make test` as root, which installs it).
    """
    import shutil
    import tempfile

    from tests.pg_rig import PostgresRig, PostgresUnavailable

    # Not under pytest's tmp dir: as root that is 0700, and the server runs as postgres.
    workdir = Path(tempfile.mkdtemp(prefix="mynaid-pg-"))
    try:
        pg = PostgresRig(workdir)
        pg.init()
        pg.start()
    except PostgresUnavailable as exc:
        if os.environ.get("MYNAID_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required but unavailable: {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    yield pg
    pg.stop()
    shutil.rmtree(workdir, ignore_errors=True)
