"""Where the relying party keeps people, certificates, nonces and confirmation records.

One interface, :class:`Store`, two implementations:

* :class:`SqliteStore`: the embedded default (a file, WAL mode; several worker processes
  on one machine may share it), so that ``make demo`` needs no database server;
* :class:`PostgresStore`: the production store (psycopg 3), shared by any number of
  stateless workers on any number of machines.

Both run the same versioned SQL files (``mynaid/rp/migrations/NNNN_name.sql``, portable
SQL) and the same statements, written with ``?`` placeholders. Everything that must be
atomic happens inside :meth:`Store.transaction`: the nonce is spent by one
``UPDATE ... WHERE used_at IS NULL RETURNING`` and the confirmation record written in the
same transaction, so a nonce is accepted at most once whatever the number of workers, and
a worker killed mid-request leaves either both or neither.
"""

from __future__ import annotations

import abc
import contextlib
import fcntl
import os
import queue
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from mynaid.rp.reasons import RpError, ServiceReason

__all__ = ["Migration", "PostgresStore", "SqliteStore", "Store", "StoreBusy",
           "StoreUnavailable", "Tx", "migrations", "open_store"]

T = TypeVar("T")
Params = Sequence[Any]
Row = tuple[Any, ...]


class StoreUnavailable(RpError):
    """The database cannot be reached (or failed mid-transaction): nothing was accepted."""

    def __init__(self, message: str = "the database is not reachable", *,
                 retryable: bool = False) -> None:
        super().__init__(ServiceReason.STORE_UNAVAILABLE, message)
        #: True when nothing can have been committed (the failure came before COMMIT).
        self.retryable = retryable


class StoreBusy(Exception):
    """Raised inside :meth:`Store.wait_briefly` when another writer held the write lock
    for longer than the brief wait; nothing was done. The caller runs the work again
    where it may wait."""


#: WAL frames (pages written) past which the checkpointer starts the WAL over (~16 MiB).
WAL_RESET_FRAMES = 4096

_MIGRATIONS_TABLE = ("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY "
                     "KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")


class Migration:
    """One versioned SQL file."""

    def __init__(self, version: int, name: str, sql: str) -> None:
        self.version = version
        self.name = name
        self.sql = sql

    def statements(self) -> list[str]:
        """The file's statements (split on ``;`` at line ends; comments dropped)."""
        lines = [line for line in self.sql.splitlines() if not line.lstrip().startswith("--")]
        text = "\n".join(lines)
        return [s.strip() for s in re.split(r";\s*(?:\n|$)", text) if s.strip()]


def migrations() -> list[Migration]:
    """The packaged migrations, in version order."""
    out = []
    for entry in resources.files("mynaid.rp").joinpath("migrations").iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            out.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(out, key=lambda m: m.version)


class Tx(abc.ABC):
    """One transaction: statements with ``?`` placeholders."""

    @abc.abstractmethod
    def all(self, sql: str, params: Params = ()) -> list[Row]:
        """Run a statement and return every row."""

    def one(self, sql: str, params: Params = ()) -> Row | None:
        """Run a statement and return its first row (None without rows)."""
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def run(self, sql: str, params: Params = ()) -> int:
        """Run a statement that returns no rows; the number of rows it changed."""
        return self._run(sql, params)

    @abc.abstractmethod
    def _run(self, sql: str, params: Params) -> int: ...


class Store(abc.ABC):
    """The store interface (see the module docstring)."""

    #: ``sqlite`` or ``postgresql``.
    dialect: str

    @abc.abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[Tx]:
        """A read-write transaction: committed when the block ends, rolled back on error.

        :class:`StoreUnavailable` when the database cannot be reached.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Close every connection this store opened."""

    def wait_briefly(self, limit: float) -> contextlib.AbstractContextManager[None]:
        """Within the block, the *first* transaction waits at most ``limit`` seconds for
        a write lock another writer holds, then raises :class:`StoreBusy` (later ones
        wait as usual: by then the work may have committed, and must not be run again).
        For a caller that runs short work on an event loop and moves it to a thread only
        when it would wait longer. Stores that never wait on a local lock do nothing."""
        return contextlib.nullcontext()

    def atomic(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` in one transaction; run it again, once, on a new connection when
        the first attempt failed before its commit (a connection that died with a
        database restart). ``work`` must have no effects outside the database."""
        try:
            with self.transaction() as tx:
                return work(tx)
        except StoreUnavailable as exc:
            if not exc.retryable:
                raise
        with self.transaction() as tx:
            return work(tx)

    def single(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one statement as a transaction of its own; its rows. PostgreSQL sends it in
        one round trip (autocommit: no BEGIN, no COMMIT). :class:`StoreUnavailable`
        when it fails: then it may or may not have committed, so only a statement that is
        safe to follow with the general path (a spent nonce stays spent) uses this."""
        with self.transaction() as tx:
            return tx.all(sql, params)

    def migrate(self) -> list[int]:
        """Apply the migrations not yet applied (safe to call from many workers at once);
        the versions applied now."""
        applied: list[int] = []
        with self.transaction() as tx:
            self._lock_for_migration(tx)
            tx.run(_MIGRATIONS_TABLE)
            done = {int(row[0]) for row in tx.all("SELECT version FROM schema_migrations")}
            from mynaid.rp.models import now_text

            for migration in migrations():
                if migration.version in done:
                    continue
                for statement in migration.statements():
                    tx.run(statement)
                tx.run("INSERT INTO schema_migrations (version, name, applied_at) "
                       "VALUES (?, ?, ?)", (migration.version, migration.name, now_text()))
                applied.append(migration.version)
        return applied

    def schema_version(self) -> int:
        """The highest migration applied (0 before any)."""
        with self.transaction() as tx:
            tx.run(_MIGRATIONS_TABLE)
            row = tx.one("SELECT MAX(version) FROM schema_migrations")
        return int(row[0]) if row and row[0] is not None else 0

    def ping(self) -> None:
        """Raise :class:`StoreUnavailable` unless the database answers."""
        self.atomic(lambda tx: tx.one("SELECT 1"))

    def _lock_for_migration(self, tx: Tx) -> None:  # noqa: B027 (optional hook)
        """Serialise concurrent migrations (SQLite's BEGIN IMMEDIATE already does)."""


# --- SQLite ------------------------------------------------------------------------------------


class _SqliteTx(Tx):
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        return [tuple(r) for r in self.db.execute(sql, tuple(params)).fetchall()]

    def _run(self, sql: str, params: Params) -> int:
        return self.db.execute(sql, tuple(params)).rowcount


class SqliteStore(Store):
    """An SQLite file (WAL journal). One connection per thread; every transaction takes
    the write lock up front (``BEGIN IMMEDIATE``), so that concurrent writers wait for
    each other (busy timeout) instead of failing on a lock upgrade."""

    dialect = "sqlite"

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0,
                 checkpoint_interval: float | None = 0.5) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        #: Seconds between background WAL checkpoints (None: SQLite's own, in the commit).
        self.checkpoint_interval = checkpoint_interval
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._writer = threading.Lock()
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self._lock_fd: int | None = None

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            # WAL with synchronous=NORMAL: a commit is atomic and survives a killed
            # process; only an OS crash may lose the last transactions.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            if self.checkpoint_interval is not None:
                # SQLite checkpoints in whichever commit pushes the WAL past 1000 pages:
                # that commit copies the WAL into the database and fsyncs it (measured:
                # up to 23 ms, 1 % of commits, 70 % of all commit time) while holding
                # the write lock every worker waits for. A background thread does it
                # instead (PASSIVE: it never takes the write lock), so no request pays
                # for an fsync. Durability is unchanged: a commit is in the WAL either way.
                db.execute("PRAGMA wal_autocheckpoint=0")
                self._start_checkpointer()
            self._local.db = db
            with self._lock:
                self._all.append(db)
        return db

    def _start_checkpointer(self) -> None:
        with self._lock:
            if self._checkpointer is not None or self._stop.is_set():
                return
            self._checkpointer = threading.Thread(target=self._checkpoint_loop, daemon=True,
                                                  name="mynaid-sqlite-checkpoint")
            self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        assert self.checkpoint_interval is not None
        try:
            # No busy wait: a checkpoint that finds another worker's checkpointer at
            # work gives up until the next interval (it must not wait holding the lock).
            db = sqlite3.connect(self.path, timeout=0, isolation_level=None,
                                 check_same_thread=False)
        except sqlite3.Error:
            return
        with contextlib.closing(db):
            # A WAL that a checkpoint emptied is truncated back to this size on its reset.
            with contextlib.suppress(sqlite3.Error):
                db.execute("PRAGMA journal_size_limit=67108864")
            while not self._stop.wait(self.checkpoint_interval):
                with contextlib.suppress(sqlite3.Error, StoreBusy):
                    row = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    if row is not None and int(row[1]) >= WAL_RESET_FRAMES:
                        # Under steady writes a PASSIVE checkpoint never leaves the WAL
                        # wholly copied when the next writer starts, and only then does
                        # SQLite start the WAL over: it grows without end (measured: about
                        # 255 MB in one benchmark run, every read searching more of its
                        # index). Now and then the checkpointer takes the writers'
                        # lock and finishes the job (RESTART: the few frames written since
                        # the PASSIVE pass; the next writer starts the WAL over, which
                        # journal_size_limit then trims). TRUNCATE would also shrink the
                        # file, but costs 20-30 ms under the lock against ~1 ms.
                        with self._writer_lock(None):
                            db.execute("PRAGMA wal_checkpoint(RESTART)")

    def _lock_file(self) -> int | None:
        fd = self._lock_fd
        if fd is None and str(self.path) != ":memory:":
            try:
                fd = os.open(f"{self.path}.writer-lock", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                return None  # SQLite's busy handler still serialises the writers
            self._lock_fd = fd
        return fd

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        # One writer at a time: SQLite has one write lock per database, and writers that
        # all wait for it in SQLite's busy handler (sleeps of 1..100 ms, however soon the
        # lock is free) serve far fewer requests, and with a far longer tail, than writers
        # queued on a lock that wakes the next one when it is released: a mutex for the
        # threads of this process, an flock(2) on a file beside the database for the
        # worker processes (released by the kernel if its holder is killed). The lock
        # only orders the writers; single use of a nonce is still the UPDATE's.
        limit: float | None = getattr(self._local, "limit", None)
        self._local.limit = None  # only the first transaction of the block
        with self._writer_lock(limit):
            yield from self._transaction()

    @contextlib.contextmanager
    def _writer_lock(self, limit: float | None) -> Iterator[None]:
        """This process's mutex, then the file lock shared with the other processes;
        :class:`StoreBusy` past ``limit`` seconds (None: wait)."""
        if not self._writer.acquire(timeout=-1 if limit is None else limit):
            raise StoreBusy
        try:
            fd = self._lock_file()
            if fd is not None:
                self._flock(fd, limit)
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._writer.release()

    @staticmethod
    def _flock(fd: int, limit: float | None) -> None:
        if limit is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return
        # flock(2) has no timeout: poll it. A transaction holds the lock for a fraction
        # of a millisecond, so steps from 0.05 ms (doubling to 1 ms) find it free soon
        # after it is released (SQLite's own busy handler sleeps 1..100 ms, whenever the
        # lock comes free).
        deadline = time.monotonic() + limit
        step = 0.00005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreBusy from None
                time.sleep(min(step, left))
                step = min(step * 2, 0.001)

    @contextlib.contextmanager
    def wait_briefly(self, limit: float) -> Iterator[None]:
        self._local.limit = limit
        try:
            yield
        finally:
            self._local.limit = None

    def _transaction(self) -> Iterator[Tx]:
        try:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"the SQLite database cannot be opened: {exc}") from exc
        try:
            yield _SqliteTx(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise StoreUnavailable(f"the commit failed: {exc}") from exc

    def close(self) -> None:
        self._stop.set()
        thread, self._checkpointer = self._checkpointer, None
        if thread is not None:
            thread.join(timeout=5)
        with self._lock:
            for db in self._all:
                with contextlib.suppress(sqlite3.Error):
                    db.close()
            self._all.clear()
        self._local = threading.local()
        self._stop.clear()  # a closed store may be used again (it reconnects)
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


# --- PostgreSQL --------------------------------------------------------------------------------


def _pg_sql(sql: str) -> str:
    # The statements use no literal '?' or '%', so the translation is a plain replace.
    return sql.replace("%", "%%").replace("?", "%s")


class _PgTx(Tx):
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        cur = self.conn.execute(_pg_sql(sql), tuple(params))
        return [tuple(r) for r in cur.fetchall()] if cur.description else []

    def _run(self, sql: str, params: Params) -> int:
        return int(self.conn.execute(_pg_sql(sql), tuple(params)).rowcount)


async def _fetch_async(conn: Any, sql: str, params: Params) -> list[Row]:
    cur = await conn.execute(_pg_sql(sql), tuple(params))
    return [tuple(r) for r in await cur.fetchall()] if cur.description else []


class _AsyncPool:
    """One event loop's asynchronous connections: psycopg_pool's AsyncConnectionPool
    (opened on first use in that loop), and the check of its idle connections in flight
    after a failure."""

    def __init__(self, loop: Any, pool: Any) -> None:
        self.loop = loop
        self.pool = pool
        self.opened = False
        self.checking: Any = None


class PostgresStore(Store):
    """PostgreSQL through psycopg 3, with a small connection pool per process.

    ``dsn``: a libpq connection string or URI. A connection found broken (the server
    restarted, the network dropped it) is discarded and the transaction retried once on a
    new connection, when the failure came before the commit was sent: the service recovers
    from a database restart without being restarted itself. A failure during the commit is
    not retried (it may have committed): the caller gets :class:`StoreUnavailable`.
    """

    dialect = "postgresql"

    def __init__(self, dsn: str, *, pool_size: int = 8, connect_timeout: float = 5.0) -> None:
        import psycopg  # the service extra

        self._psycopg = psycopg
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self._pool: queue.LifoQueue[Any] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(pool_size)
        self._all: set[Any] = set()
        self._lock = threading.Lock()
        self._pool_size = pool_size
        self._apool: _AsyncPool | None = None

    def _connect(self) -> Any:
        try:
            conn = self._psycopg.connect(self.dsn, autocommit=False,
                                         connect_timeout=max(1, int(self.connect_timeout)))
        except self._psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: "
                                   f"{type(exc).__name__}") from exc
        with self._lock:
            self._all.add(conn)
        return conn

    def _discard(self, conn: Any) -> None:
        with self._lock:
            self._all.discard(conn)
        with contextlib.suppress(Exception):
            conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        if not self._slots.acquire(timeout=30):
            raise StoreUnavailable("no database connection became free")
        try:
            yield from self._transaction()
        finally:
            self._slots.release()

    def _drain(self) -> None:
        """Close every idle connection: after one was found dead (a server restart), the
        others most likely are too."""
        while True:
            try:
                conn = self._pool.get_nowait()
            except queue.Empty:
                return
            self._discard(conn)

    def _checkout(self) -> Any:
        """A live connection: a pooled one, or a new one in place of a dead or missing one."""
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = None
        if conn is None or conn.closed or conn.broken:
            if conn is not None:
                self._discard(conn)
            conn = self._connect()
        return conn

    def _transaction(self) -> Iterator[Tx]:
        psycopg = self._psycopg
        conn = self._checkout()
        try:
            yield _PgTx(conn)
        except psycopg.OperationalError as exc:
            # A dead connection shows at its first statement; nothing was committed, so
            # Store.atomic may run the work again on a new connection.
            self._discard(conn)
            self._drain()
            raise StoreUnavailable(f"PostgreSQL failed mid-transaction: "
                                   f"{type(exc).__name__}", retryable=True) from exc
        except BaseException:
            try:
                conn.rollback()
            except psycopg.Error:
                self._discard(conn)
            else:
                self._pool.put(conn)
            raise
        try:
            conn.commit()
        except psycopg.Error as exc:
            self._discard(conn)
            self._drain()
            raise StoreUnavailable(f"the commit failed: {type(exc).__name__}") from exc
        self._pool.put(conn)

    def single(self, sql: str, params: Params = ()) -> list[Row]:
        psycopg = self._psycopg
        if not self._slots.acquire(timeout=30):
            raise StoreUnavailable("no database connection became free")
        try:
            conn = self._checkout()
            try:
                conn.autocommit = True
                try:
                    cur = conn.execute(_pg_sql(sql), tuple(params))
                    rows = [tuple(r) for r in cur.fetchall()] if cur.description else []
                finally:
                    if not conn.broken and not conn.closed:
                        conn.autocommit = False
            except psycopg.Error as exc:
                if conn.broken or conn.closed or isinstance(exc, psycopg.OperationalError):
                    self._discard(conn)
                    self._drain()
                else:
                    self._pool.put(conn)
                raise StoreUnavailable(f"PostgreSQL failed: {type(exc).__name__}") from exc
            self._pool.put(conn)
            return rows
        finally:
            self._slots.release()

    async def single_async(self, sql: str, params: Params = (), *,
                           retry: bool = False) -> list[Row]:
        """:meth:`single` for an asyncio caller: the statement on a connection of this
        event loop's own pool of autocommit AsyncConnections, so that the loop neither
        blocks on the database nor hands the work to a thread (which costs as much CPU
        again as the statement). Same contract: one round trip, rows or
        :class:`StoreUnavailable` (then it may or may not have committed). ``retry``: for
        a statement that is safe to run twice, run it again, once, on a new connection
        when the pooled one turned out dead (the database restarted)."""
        apool = await self._async_pool()
        try:
            return await self._pooled(apool, sql, params)
        except StoreUnavailable as exc:
            if not (retry and exc.retryable):
                raise
        return await self._direct(sql, params)

    async def _pooled(self, apool: _AsyncPool, sql: str, params: Params) -> list[Row]:
        import asyncio

        import psycopg_pool

        psycopg = self._psycopg
        try:
            async with apool.pool.connection() as conn:
                return await _fetch_async(conn, sql, params)
        except psycopg_pool.PoolTimeout as exc:
            raise StoreUnavailable("no database connection became free") from exc
        except psycopg.Error as exc:
            dead = isinstance(exc, psycopg.OperationalError)
            if dead and apool.checking is None:
                # After a restart the other idle connections are dead too: the pool
                # tests them (and replaces the dead) in the background.
                async def check() -> None:
                    try:
                        await apool.pool.check()
                    finally:
                        apool.checking = None

                apool.checking = asyncio.get_running_loop().create_task(check())
            raise StoreUnavailable(f"PostgreSQL failed: {type(exc).__name__}",
                                   retryable=dead) from exc

    async def _direct(self, sql: str, params: Params) -> list[Row]:
        """The statement on a connection of its own, closed after it."""
        psycopg = self._psycopg
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True, connect_timeout=max(1, int(self.connect_timeout)))
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: "
                                   f"{type(exc).__name__}") from exc
        try:
            return await _fetch_async(conn, sql, params)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"PostgreSQL failed: {type(exc).__name__}") from exc
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _async_pool(self) -> _AsyncPool:
        import asyncio

        from psycopg_pool import AsyncConnectionPool

        loop = asyncio.get_running_loop()
        apool = self._apool
        if apool is None or apool.loop is not loop:
            # The pool grows in the background while a request waits for a connection in
            # use to come back (psycopg_pool), rather than a burst opening backends in the
            # request path: a new backend's first statements load its catalog caches
            # (measured: 60-140 ms stalls at the start of a run as pools grew).
            pool = AsyncConnectionPool(
                self.dsn, min_size=min(2, self._pool_size), max_size=self._pool_size,
                kwargs={"autocommit": True,
                        "connect_timeout": max(1, int(self.connect_timeout))},
                open=False, timeout=self.connect_timeout, name="mynaid-rp")
            apool = self._apool = _AsyncPool(loop, pool)
        if not apool.opened:
            apool.opened = True
            await apool.pool.open(wait=False)
        return apool

    def _lock_for_migration(self, tx: Tx) -> None:
        tx.one("SELECT pg_advisory_xact_lock(?)", (0x6D796E61,))  # "myna"

    def close(self) -> None:
        with self._lock:
            conns, self._all = list(self._all), set()
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()
        self._drain()
        self._apool = None  # (its connections close with their event loop's process)


def open_store(url: str) -> Store:
    """A store from a URL: ``sqlite:///path/to/file.sqlite3`` (or a plain path), or
    ``postgresql://...`` / a libpq ``host=... dbname=...`` string."""
    if url.startswith(("postgresql://", "postgres://")) or "dbname=" in url:
        return PostgresStore(url)
    if url.startswith("sqlite:///"):
        return SqliteStore(url[len("sqlite:///"):] or ":memory:")
    if url.startswith("sqlite://"):
        return SqliteStore(url[len("sqlite://"):])
    return SqliteStore(url)
