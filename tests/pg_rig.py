"""A real PostgreSQL for tests: initdb into a private temporary directory, the server on a
unix socket in that directory only (``listen_addresses = ''``: nothing on the network),
stopped by its PID.

PostgreSQL refuses to run as root, so as root the server (and initdb) run as the
``postgres`` system user through ``setpriv``, which execs: the PID we hold is the
server's own. Readiness is awaited on a condition (the server accepts a connection),
never on a fixed sleep.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

START_TIMEOUT = 60.0


class PostgresUnavailable(Exception):
    """PostgreSQL cannot run here (not installed)."""


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("postgres")
    if which:
        return Path(which).parent
    raise PostgresUnavailable("PostgreSQL is not installed (make test installs "
                              "Debian's postgresql)")


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


class PostgresRig:
    """One private PostgreSQL server. ``dsn(dbname)`` connects to it over its socket."""

    def __init__(self, workdir: Path, port: int = 54329) -> None:
        self.bindir = _bindir()
        self.workdir = workdir
        self.data = workdir / "data"
        self.sockets = workdir / "sock"
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self.user: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresUnavailable("no postgres system user") from exc
            self.user = "postgres"

    def _as_user(self, argv: list[str]) -> list[str]:
        if self.user is None:
            return argv
        return ["setpriv", f"--reuid={self.user}", f"--regid={self.user}", "--init-groups",
                "--", *argv]

    def _chown(self, path: Path) -> None:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def init(self) -> None:
        self.workdir.chmod(0o755)
        for path in (self.data, self.sockets):
            path.mkdir(mode=0o700)
            self._chown(path)
        log = open(self.workdir / "initdb.log", "wb")
        with log:
            subprocess.run(self._as_user([str(self.bindir / "initdb"), "-D", str(self.data),
                                          "-U", "postgres", "--auth=trust", "-E", "UTF8",
                                          "--locale=C.UTF-8", "--no-sync"]),
                           stdout=log, stderr=subprocess.STDOUT, check=True, timeout=120)

    def start(self) -> None:
        log = open(self.workdir / "postgres.log", "ab")
        self.proc = subprocess.Popen(
            self._as_user([str(self.bindir / "postgres"), "-D", str(self.data),
                           "-k", str(self.sockets), "-p", str(self.port),
                           "-c", "listen_addresses=", "-c", "fsync=off",
                           "-c", "max_connections=200", "-c", "shared_buffers=32MB"]),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        try:
            _wait_for(self._ready, START_TIMEOUT, "PostgreSQL to accept connections")
        except BaseException:
            self.stop()
            raise

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise PostgresUnavailable(f"postgres exited: see {self.workdir / 'postgres.log'}")
        result = subprocess.run([str(self.bindir / "pg_isready"), "-h", str(self.sockets),
                                 "-p", str(self.port), "-U", "postgres"],
                                capture_output=True)
        return result.returncode == 0

    def stop(self) -> None:
        """Fast shutdown (SIGINT) of the server we started, by PID."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host={self.sockets} port={self.port} user=postgres dbname={dbname}"

    def create_database(self, name: str) -> str:
        """A fresh database; its DSN."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)
