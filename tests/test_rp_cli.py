"""``mynaid rp``: register and login against the service, secrets from stdin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from examples.eligibility.server import RunningServer
from mynaid.rp.core import RpConfig
from mynaid.service.config import Limits, ServiceSettings
from tests.rp_helpers import PKI


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    from mynaid.trust.anchors import TrustStore

    trust = TrustStore.empty()
    trust.add_file(PKI / "auth-root.pem")
    trust.add_file(PKI / "sign-root.pem")
    settings = ServiceSettings(f"sqlite:///{tmp_path / 'rp.sqlite3'}",
                               RpConfig(trust=trust), Limits())
    with RunningServer(settings) as s:
        yield s


def test_register_then_login(cli_run: Any, server: RunningServer) -> None:
    result = cli_run("--emulator", "--json", "rp", "register", "--server", server.url,
                     stdin="TEST1234\n1234\n")
    assert result.code == 0, result.err
    registered = json.loads(result.out)
    result = cli_run("--emulator", "--json", "rp", "login", "--server", server.url,
                     stdin="1234\n")
    assert result.code == 0 and json.loads(result.out)["person_id"] == registered["person_id"]
    assert "1234" not in result.out + result.err and "TEST1234" not in result.out


def test_login_unregistered_exits_with_the_reason(cli_run: Any, server: RunningServer) -> None:
    result = cli_run("--emulator", "rp", "login", "--server", server.url, stdin="1234\n")
    assert result.code == 6 and "not-registered" in result.out + result.err


def test_no_service_is_a_clean_error(cli_run: Any) -> None:
    result = cli_run("--emulator", "rp", "login", "--server", "http://127.0.0.1:9",
                     stdin="1234\n")
    assert result.code != 0 and "Traceback" not in result.err
