"""The relying-party service as deployed: uvicorn with several worker processes on
127.0.0.1, against a real PostgreSQL and against SQLite.

Bounded: a few thousand requests in all, loopback only; every process started here is
stopped by PID. Waits are on conditions (readiness, socket closed), never fixed sleeps.
"""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mynaid.emulator import build_card, default_profile
from mynaid.protocol import CardProtocol
from mynaid.rp.client import RpClient
from mynaid.rp.store import PostgresStore, SqliteStore, Store
from mynaid.transport.emulated import EmulatorTransport
from tests import loadgen
from tests.rp_helpers import PKI, ServiceProcess, SoftCard, get, nonce_digest

CARD = SoftCard(default_profile())


def _config(store_url: str, **limits: Any) -> dict[str, Any]:
    return {"store": store_url,
            "trust_anchors": [str(PKI / "auth-root.pem"), str(PKI / "sign-root.pem")],
            "limits": {"rate_per_client": 0, **limits}}


@pytest.fixture(params=["postgres", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Callable[[], Store]]:
    """(store URL, a function opening a store on it for the test's own checks)."""
    if request.param == "postgres":
        pg = request.getfixturevalue("postgres")
        dsn = pg.create_database(f"svc_{request.node.name[-40:].replace('[', '_')[:-1]}")
        return dsn, lambda: PostgresStore(dsn)
    path = tmp_path / "rp.sqlite3"
    return f"sqlite:///{path}", lambda: SqliteStore(path)


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    started: list[ServiceProcess] = []

    def _start(config: dict[str, Any], workers: int = 4,
               env: dict[str, str] | None = None) -> ServiceProcess:
        workdir = tmp_path / f"svc{len(started)}"
        workdir.mkdir()
        service = ServiceProcess(workdir, config, workers=workers, env=env)
        started.append(service)
        return service

    yield _start
    for service in started:
        service.stop()


def _register(url: str) -> str:
    protocol = CardProtocol(EmulatorTransport(build_card(default_profile())))
    status, answer = RpClient(url).register(protocol, sign_password="TEST1234",
                                            auth_pin="1234")
    assert status == 200, answer
    return str(answer["person_id"])


def _port(service: ServiceProcess) -> int:
    return int(service.url.rsplit(":", 1)[1])


def _nonces(service: ServiceProcess, count: int) -> list[bytes]:
    answers = loadgen.run_sync(_port(service), [loadgen.post_request(
        "/v1/nonce", {"purpose": "login"})] * count, connections=16)
    assert {a.status for a in answers} == {200}, [a.body for a in answers if a.status != 200][:3]
    return [bytes.fromhex(a.body["nonce"]) for a in answers]


def _post_all(service: ServiceProcess, bodies: list[dict[str, Any]], concurrency: int = 64,
              progress: Callable[[int], None] | None = None) -> list[tuple[int, str]]:
    """POST every body to /v1/login; (status, reason) each, (0, ...) for a broken
    connection."""
    answers = loadgen.run_sync(_port(service), [loadgen.post_request("/v1/login", b)
                                                for b in bodies],
                               connections=concurrency, progress=progress)
    return [(a.status, a.reason) for a in answers]


def _accepted_per_nonce(store: Store) -> collections.Counter[str]:
    with store.transaction() as tx:
        rows = tx.all("SELECT nonce_digest FROM confirmation_records WHERE "
                      "operation = 'login' AND result = 'accepted'")
    return collections.Counter(str(r[0]) for r in rows)


# --- acceptance: nonces single-use across 4 workers --------------------------------------------


def test_concurrent_verifications_with_replays_accept_each_nonce_once(
        backend: tuple[str, Callable[[], Store]],
        start_service: Callable[..., ServiceProcess]) -> None:
    url, open_store = backend
    service = start_service(_config(url), workers=4)
    _register(service.url)
    distinct, replays = 1800, 200

    nonces = _nonces(service, distinct)
    bodies = [CARD.login_body(n) for n in nonces]
    # Each replay is sent right next to its original, so they race each other.
    order: list[dict[str, Any]] = []
    for i, body in enumerate(bodies):
        order.append(body)
        if i % (distinct // replays) == 0:
            order.append(body)
    assert len(order) == distinct + replays
    results = _post_all(service, order, concurrency=100)
    by_nonce: dict[str, list[tuple[int, str]]] = collections.defaultdict(list)
    for body, result in zip(order, results, strict=True):
        by_nonce[body["nonce"]].append(result)
    assert len(by_nonce) == distinct
    for answers in by_nonce.values():
        assert [a for a in answers if a[0] == 200] == [(200, "ok")]
        assert all(a == (403, "nonce-replayed") for a in answers if a[0] != 200)
    accepted = _accepted_per_nonce(open_store())
    assert set(accepted) == {nonce_digest(n.hex()) for n in nonces}
    assert set(accepted.values()) == {1}
    assert len(set(service.worker_pids())) == 4


def test_kill_9_of_a_worker_loses_and_doubles_nothing(
        backend: tuple[str, Callable[[], Store]],
        start_service: Callable[..., ServiceProcess]) -> None:
    url, open_store = backend
    service = start_service(_config(url), workers=4)
    _register(service.url)
    victim = random.choice(service.worker_pids())
    killed = threading.Event()

    def maybe_kill(done: int) -> None:
        if done == 150 and not killed.is_set():
            os.kill(victim, signal.SIGKILL)  # mid-load: it is serving requests
            killed.set()

    bodies = [CARD.login_body(n) for n in _nonces(service, 600)]
    first = _post_all(service, bodies, concurrency=32, progress=maybe_kill)
    # Clients whose connection broke retry with the same body: they get "ok" (their
    # transaction never committed) or "nonce-replayed" (it did, and the answer was lost)
    # - never a second acceptance.
    broken = [b for b, r in zip(bodies, first, strict=True) if r[0] == 0]
    second = _post_all(service, broken, concurrency=16)
    assert killed.is_set()
    store = open_store()
    accepted = _accepted_per_nonce(store)
    assert set(accepted.values()) <= {1}  # no nonce accepted twice
    for body, result in zip(bodies, first, strict=True):
        if result[0] == 200:  # every acceptance a client saw has its record
            assert accepted[nonce_digest(body["nonce"])] == 1
    assert all(r in ((200, "ok"), (403, "nonce-replayed")) for r in second)
    with store.transaction() as tx:
        used = {str(r[0]) for r in tx.all("SELECT nonce FROM nonces WHERE used_at IS NOT NULL")}
        recorded = collections.Counter(str(r[0]) for r in tx.all(
            "SELECT nonce_digest FROM confirmation_records WHERE operation = 'login'"))
        incomplete = tx.one("SELECT COUNT(*) FROM confirmation_records WHERE at IS NULL OR "
                            "result IS NULL OR reason IS NULL OR details IS NULL")
    # Every spent nonce has its record, written in the same transaction (no half-writes).
    login_nonces = {nonce_digest(b["nonce"]) for b in bodies}
    assert {nonce_digest(n) for n in used} & login_nonces <= set(recorded)
    assert incomplete == (0,)
    # The supervisor replaces the dead worker; the service keeps serving.
    deadline = time.monotonic() + 30
    while len(service.worker_pids()) < 4 or victim in service.worker_pids():
        assert time.monotonic() < deadline, "the worker was not replaced"
        time.sleep(0.1)
    assert get(service.url + "/readyz")[0] == 200


def test_service_recovers_from_a_database_restart(
        postgres: Any, start_service: Callable[..., ServiceProcess]) -> None:
    dsn = postgres.create_database("svc_restart")
    service = start_service(_config(dsn), workers=2)
    _register(service.url)

    def logins(count: int) -> list[tuple[int, str]]:
        bodies = [CARD.login_body(n) for n in _nonces(service, count)]
        return _post_all(service, bodies, concurrency=8)

    assert set(logins(20)) == {(200, "ok")}
    postgres.restart()  # every pooled connection of every worker is now dead
    deadline = time.monotonic() + 30
    while get(service.url + "/readyz")[0] != 200:
        assert time.monotonic() < deadline, "not ready after the database restart"
        time.sleep(0.1)
    assert set(logins(40)) == {(200, "ok")}
    assert service.proc.poll() is None  # the same service, not restarted


# --- limits ------------------------------------------------------------------------------------


def _trickle(port: int, count: int, stop: threading.Event) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        socks.append(s)

    def drip() -> None:
        while not stop.is_set():
            for s in socks:
                try:
                    s.send(b"X")  # one byte of a header that never ends
                except OSError:
                    pass
            stop.wait(0.5)

    threading.Thread(target=drip, daemon=True).start()
    return socks


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_trickling_connections_do_not_stop_other_clients(
        http: str, tmp_path: Path, start_service: Callable[..., ServiceProcess]) -> None:
    # Both guarded protocols: httptools (the default with the service extra) and h11.
    service = start_service(_config(f"sqlite:///{tmp_path / 'rp.sqlite3'}",
                                    header_timeout=3.0), workers=2,
                            env={"MYNAID_RP_HTTP": http})
    _register(service.url)
    stop = threading.Event()
    port = int(service.url.rsplit(":", 1)[1])
    socks = _trickle(port, 100, stop)
    try:
        bodies = [CARD.login_body(n) for n in _nonces(service, 50)]
        assert set(_post_all(service, bodies, concurrency=10)) == {(200, "ok")}
        # And the server closes every trickling connection at its header deadline.
        for s in socks:
            s.settimeout(20)
            try:
                data = s.recv(4096)
                assert data == b"" or data.startswith(b"HTTP/1.1 408")
            except ConnectionResetError:
                pass
    finally:
        stop.set()
        for s in socks:
            s.close()


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_an_oversized_request_head_is_refused(
        http: str, tmp_path: Path, start_service: Callable[..., ServiceProcess]) -> None:
    """A head over 16 KiB is refused and its connection closed (llhttp sets no bound of
    its own; the guard does), and the service goes on serving."""
    service = start_service(_config(f"sqlite:///{tmp_path / 'rp.sqlite3'}"), workers=1,
                            env={"MYNAID_RP_HTTP": http})
    port = _port(service)
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        try:
            for _ in range(40):  # 40 KiB of headers, in 1 KiB pieces
                s.sendall(b"X-Filler: " + b"a" * 1012 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed while we were still sending: also a refusal
        data = b""
        try:
            while chunk := s.recv(4096):
                data += chunk
        except ConnectionResetError:
            pass
    assert data == b"" or data.split(b" ", 2)[1] in (b"400", b"413", b"431")
    assert b"200 OK" not in data
    assert get(service.url + "/healthz")[0] == 200


def test_postgres_login_in_one_statement(postgres: Any) -> None:
    """PostgreSQL: an accepted login spends its nonce and writes its record in one
    statement; every refusal (not registered, replay, wrong purpose) changes nothing there
    and takes the general path, which spends the nonce and records the refusal."""
    from mynaid.rp.client import registration_body
    from mynaid.rp.core import RelyingParty, RpConfig
    from mynaid.trust.anchors import TrustStore

    store = PostgresStore(postgres.create_database("one_statement"))
    store.migrate()
    trust = TrustStore.empty()
    trust.add_file(PKI / "auth-root.pem")
    trust.add_file(PKI / "sign-root.pem")
    rp = RelyingParty(store, RpConfig(trust=trust))
    answered: list[int] = []
    single = store.single

    def counting(sql: str, params: Any = ()) -> list[Any]:
        rows = single(sql, params)
        answered.append(len(rows))
        return rows

    store.single = counting  # type: ignore[method-assign]
    try:
        nonce = bytes.fromhex(rp.issue("login")["nonce"])
        with pytest.raises(Exception, match="no person is registered"):
            rp.login(CARD.login_body(nonce))
        reg = bytes.fromhex(rp.issue("register")["nonce"])
        rp.register(registration_body(CardProtocol(EmulatorTransport(build_card(
            default_profile()))), reg, "mynaid-rp", sign_password="TEST1234", auth_pin="1234"))
        nonce = bytes.fromhex(rp.issue("login")["nonce"])
        answer = rp.login(CARD.login_body(nonce))
        assert answered[-1] == 1  # accepted by the one statement
        with pytest.raises(Exception, match="already answered"):
            rp.login(CARD.login_body(nonce))
        face_nonce = bytes.fromhex(rp.issue("face")["nonce"])
        with pytest.raises(Exception, match="issued for face"):
            rp.login(CARD.login_body(face_nonce))
        assert answered == [0, 1, 0, 0]
        records = {r.id: r for r in rp.records(limit=20)}
        accepted = records[answer["record_id"]]
        assert (accepted.result, accepted.person_id, accepted.nonce_digest) == (
            "accepted", answer["person_id"], nonce_digest(nonce.hex()))
        assert sorted((r.operation, r.reason) for r in records.values()) == [
            ("login", "nonce-replayed"), ("login", "nonce-wrong-purpose"),
            ("login", "not-registered"), ("login", "ok"), ("register", "ok")]
        assert _accepted_per_nonce(store)[nonce_digest(nonce.hex())] == 1
    finally:
        store.close()


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    workdir = tmp_path_factory.mktemp("limits")
    config = _config(f"sqlite:///{workdir / 'rp.sqlite3'}", rate_per_client=1,
                     burst_per_client=3, trusted_proxies=["127.0.0.1"], body_timeout=1.0,
                     max_body=65536)
    service = ServiceProcess(workdir, config, workers=1, env={"MYNAID_RP_QUIET": ""})
    yield service
    service.stop()


_client_ids = iter(range(1, 10_000))


def _raw(port: int, request: bytes, *, client: str | None = None) -> tuple[int, dict[str, Any]]:
    forwarded = f"X-Forwarded-For: 10.0.0.{next(_client_ids) % 250}\r\n".encode() \
        if client is None else f"X-Forwarded-For: {client}\r\n".encode()
    head, _, body = request.partition(b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(head + b"\r\n" + forwarded + b"\r\n" + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data:
                header, _, rest = data.partition(b"\r\n\r\n")
                length = int(next((line.split(b":")[1] for line in header.split(b"\r\n")
                                   if line.lower().startswith(b"content-length")), b"0"))
                if len(rest) >= length:
                    break
    status = int(data.split(b" ", 2)[1])
    payload = data.partition(b"\r\n\r\n")[2]
    return status, json.loads(payload) if payload else {}


def _post(path: str, body: bytes, content_type: str = "application/json") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


def test_nesting_size_and_type_limits(limited: ServiceProcess) -> None:
    port = int(limited.url.rsplit(":", 1)[1])
    status, answer = _raw(port, _post("/v1/login", b"[" * 30000))
    assert (status, answer["reason"]) == (400, "too-deeply-nested")
    status, answer = _raw(port, _post("/v1/login", b'{"a": "' + b"[" * 30000 + b'"}'))
    assert (status, answer["reason"]) == (400, "malformed")  # brackets in a string count 0
    status, answer = _raw(port, _post("/v1/login", b"x" * 70_000))
    assert (status, answer["reason"]) == (413, "too-large")
    status, answer = _raw(port, _post("/v1/login", b"{}", "text/plain"))
    assert (status, answer["reason"]) == (415, "unsupported-media-type")
    status, answer = _raw(port, _post("/v1/login", b"{not json"))
    assert (status, answer["reason"]) == (400, "malformed")
    status, answer = _raw(port, b"GET /v1/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (status, answer["reason"]) == (405, "method-not-allowed")
    status, answer = _raw(port, b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (status, answer["reason"]) == (404, "no-such-endpoint")


def test_body_deadline(limited: ServiceProcess) -> None:
    port = int(limited.url.rsplit(":", 1)[1])
    head = (b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\nX-Forwarded-For: 10.9.9.9\r\n\r\n{")
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(head)  # then nothing: the body never completes
        # The reply may arrive in several segments (headers, then body): read until the
        # server closes the connection after its 408, or the reply holds the reason.
        data = b""
        while b"request-timeout" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 408") and b"request-timeout" in data


def test_per_client_rate_limit(limited: ServiceProcess) -> None:
    port = int(limited.url.rsplit(":", 1)[1])
    statuses = [_raw(port, _post("/v1/nonce", b"{}"), client="192.0.2.7")[0]
                for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:]
    # Another client is not affected.
    assert _raw(port, _post("/v1/nonce", b"{}"), client="192.0.2.8")[0] == 200


def test_health_and_readiness(limited: ServiceProcess) -> None:
    assert get(limited.url + "/healthz") == (200, {"ok": True,
                                                    "worker": limited.proc.pid})
    assert get(limited.url + "/readyz")[0] == 200


def test_logs_hold_no_personal_data(limited: ServiceProcess, tmp_path: Path) -> None:
    _register(limited.url)
    text = limited.log_path.read_text(encoding="utf-8", errors="replace")
    assert "花子" not in text and "千代田" not in text and "1980" not in text
