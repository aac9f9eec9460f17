"""The SQLite store's writer lock and WAL under load, and the service's use of them.

* ``Store.wait_briefly``: the first transaction gives up (``StoreBusy``, nothing written)
  when another writer holds the lock past the bound; the store then works as before.
* The service runs SQLite work on its event loop and moves a request that would wait
  longer to the thread pool: while another process holds the write lock, the worker still
  answers other requests, and the waiting login succeeds once the lock is released.
* Under steady writes the WAL is started over (PASSIVE checkpoints alone never let it).

Waits are on conditions (a lock waiter listed in /proc/locks, a frame count), each with a
deadline; nothing sleeps to synchronise.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mynaid.emulator import build_card, default_profile
from mynaid.protocol import CardProtocol
from mynaid.rp import store as store_module
from mynaid.rp.client import RpClient
from mynaid.rp.store import SqliteStore, StoreBusy
from mynaid.transport.emulated import EmulatorTransport
from tests import loadgen
from tests.rp_helpers import PKI, REPO, ServiceProcess, SoftCard, get

CARD = SoftCard(default_profile())


@contextlib.contextmanager
def _writer_lock_held(database: Path) -> Iterator[None]:
    """Hold the store's cross-process writer lock as another process would (its own open
    file description of the lock file)."""
    fd = os.open(f"{database}.writer-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _rows(store: SqliteStore) -> int:
    with store.transaction() as tx:
        row = tx.one("SELECT COUNT(*) FROM t")
    assert row is not None
    return int(row[0])


def test_wait_briefly_gives_up_without_writing_and_later_transactions_wait(
        tmp_path: Path) -> None:
    database = tmp_path / "rp.sqlite3"
    store = SqliteStore(database, checkpoint_interval=None)
    try:
        with store.transaction() as tx:
            tx.run("CREATE TABLE t (v INTEGER)")
        with _writer_lock_held(database):
            with pytest.raises(StoreBusy), store.wait_briefly(0.01), \
                    store.transaction() as tx:
                tx.run("INSERT INTO t VALUES (1)")
        assert _rows(store) == 0  # nothing was written
        # Only the block's first transaction is bounded: the next ones wait as usual (a
        # work that committed once must not be run again), and a block without a holder
        # runs straight through.
        with store.wait_briefly(0.01):
            with store.transaction() as tx:
                tx.run("INSERT INTO t VALUES (1)")
            with store.transaction() as tx:
                tx.run("INSERT INTO t VALUES (2)")
        assert _rows(store) == 2
    finally:
        store.close()


def _lock_waiters(lock_file: Path) -> set[int]:
    """PIDs blocked in flock(2) on ``lock_file`` ("->" lines of /proc/locks)."""
    inode = lock_file.stat().st_ino
    waiters = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if len(fields) > 6 and fields[1] == "->" and fields[2] == "FLOCK" and \
                fields[6].rsplit(":", 1)[-1] == str(inode):
            waiters.add(int(fields[5]))
    return waiters


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs /proc/locks (Linux)")
def test_a_held_write_lock_does_not_hold_the_event_loop(tmp_path: Path) -> None:
    database = tmp_path / "rp.sqlite3"
    workdir = tmp_path / "svc"
    workdir.mkdir()
    config = {"store": f"sqlite:///{database}",
              "trust_anchors": [str(PKI / "auth-root.pem"), str(PKI / "sign-root.pem")],
              "limits": {"rate_per_client": 0}}
    service = ServiceProcess(workdir, config, workers=1)
    try:
        protocol = CardProtocol(EmulatorTransport(build_card(default_profile())))
        status, _ = RpClient(service.url).register(protocol, sign_password="TEST1234",
                                                   auth_pin="1234")
        assert status == 200
        port = int(service.url.rsplit(":", 1)[1])
        nonce = loadgen.run_sync(port, [loadgen.post_request(
            "/v1/nonce", {"purpose": "login"})])[0].body["nonce"]
        request = loadgen.post_request("/v1/login", CARD.login_body(bytes.fromhex(nonce)))
        answers: list[Any] = []
        with _writer_lock_held(database):
            sender = threading.Thread(target=lambda: answers.extend(
                loadgen.run_sync(port, [request], timeout=60)))
            sender.start()
            # The login gave up waiting on the loop and now waits in a pool thread.
            deadline = time.monotonic() + 30
            while service.proc.pid not in _lock_waiters(Path(f"{database}.writer-lock")):
                assert time.monotonic() < deadline, "the login never waited for the lock"
                assert sender.is_alive(), f"the login did not wait: {answers}"
                time.sleep(0.01)
            # The event loop is free meanwhile: other requests are answered.
            assert get(service.url + "/healthz")[0] == 200
            assert not answers  # and the login is still waiting for the lock
        sender.join(timeout=60)
        assert [(a.status, a.body.get("operation")) for a in answers] == [(200, "login")]
    finally:
        service.stop()


_WRITER = """
import os, sys
from pathlib import Path
from mynaid.rp.store import SqliteStore
store = SqliteStore(sys.argv[1], checkpoint_interval=3600.0)  # no checkpoints of its own
stop = Path(sys.argv[2])
for n in range(200_000):
    if n % 50 == 0 and stop.exists():
        break
    with store.transaction() as tx:
        tx.run("INSERT INTO t VALUES (?)", (os.urandom(2000),))
"""


def test_steady_writes_do_not_grow_the_wal_without_end(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two writer processes back to back, as workers are under load, and the background
    checkpointer of a third store: the WAL is started over again and again. With PASSIVE
    checkpoints alone some writer has always begun before the WAL is wholly copied, and
    the frame count only grows (measured in the service: 226 MB)."""
    monkeypatch.setattr(store_module, "WAL_RESET_FRAMES", 64)
    database = tmp_path / "rp.sqlite3"
    stop = tmp_path / "stop"
    checkpointing = SqliteStore(database, checkpoint_interval=0.01)
    with checkpointing.transaction() as tx:
        tx.run("CREATE TABLE t (v BLOB)")
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(database), str(stop)],
                                cwd=REPO) for _ in range(2)]
    probe = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        peak = restarts = 0
        deadline = time.monotonic() + 60
        while restarts < 3:
            assert time.monotonic() < deadline, f"no WAL restart (peak {peak} frames)"
            assert all(w.poll() is None for w in writers), "a writer stopped"
            # Frames now in the WAL: the log column of a PASSIVE checkpoint, which copies
            # and never starts the WAL over by itself.
            row = probe.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            frames = int(row[1]) if row and int(row[1]) >= 0 else 0
            if peak > 2 * 64 and frames < peak // 2:
                restarts += 1  # it went back towards the start
                peak = frames
            peak = max(peak, frames)
            time.sleep(0.005)  # pacing of the probe only; the condition decides
    finally:
        stop.touch()
        for writer in writers:
            try:
                writer.wait(timeout=30)
            except subprocess.TimeoutExpired:
                writer.kill()
                writer.wait()
        probe.close()
        checkpointing.close()
