"""The real PC/SC stack for tests: pcscd in a private network namespace, vpcd's virtual
readers, and ``mynaid emulator serve`` processes as the cards in them.

vpcd's listener binds 0.0.0.0, so pcscd runs in its own network namespace (only loopback,
nothing reachable from outside); card programs join that namespace with nsenter. Clients
reach pcscd through its filesystem socket as usual. The rig starts at most one pcscd (its
socket path is fixed), refuses to start when another pcscd runs, and stops only the
processes it started, by PID.

Readiness is awaited on conditions, never on fixed sleeps: pcscd's socket appearing, and
PC/SC's own reader-state events (SCardGetStatusChange) for card insertion and removal.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
PCSCD_PIDFILE = Path("/run/pcscd/pcscd.pid")
READER_PORTS = {35963: "Virtual PCD 00 00", 35964: "Virtual PCD 00 01"}
START_TIMEOUT = 20.0
#: Serialises rigs of concurrent test or benchmark runs on one machine (one pcscd at a time).
RIG_LOCK = Path("/run/lock/mynaid-pcsc-rig.lock")
RIG_LOCK_TIMEOUT = 600.0


class RigUnavailable(Exception):
    """The rig cannot run here (not root, packages missing, another pcscd running)."""


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    # Polls a readiness condition with a deadline; a wait on a condition, not a timed guess.
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _pcscd_running() -> list[int]:
    out = subprocess.run(["pgrep", "-x", "pcscd"], capture_output=True, text=True)
    alive = []
    for pid in (int(p) for p in out.stdout.split()):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] != "Z":  # a zombie holds no socket
            alive.append(pid)
    return alive


def check_available() -> None:
    """Raise :class:`RigUnavailable` with the reason when the rig cannot run."""
    if os.geteuid() != 0:
        raise RigUnavailable("needs root (network namespace, pcscd socket in /run)")
    for tool in ("pcscd", "unshare", "nsenter", "ip", "pgrep"):
        if shutil.which(tool) is None:
            raise RigUnavailable(f"{tool} is not installed (make test installs it)")
    if not Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so").exists():
        raise RigUnavailable("vsmartcard-vpcd is not installed")
    try:
        import smartcard.scard  # noqa: F401
    except ImportError as exc:
        raise RigUnavailable("pyscard is not installed") from exc
    if _pcscd_running():
        raise RigUnavailable("another pcscd is running; the rig will not start a second one")


class CardProcess:
    """One ``mynaid emulator serve`` process: a card in a vpcd reader."""

    def __init__(self, rig: PcscRig, port: int, global_args: list[str],
                 serve_args: list[str], log: Path, program: list[str] | None = None) -> None:
        self.rig = rig
        self.port = port
        self.reader = READER_PORTS[port]
        self.log = log
        self._log_file = open(log, "wb")
        # ``program``: another card program's interpreter arguments (e.g. ``-m MODULE ...``);
        # by default ``mynaid emulator serve`` on this port.
        args = program if program is not None else [
            "-m", "mynaid", *global_args, "emulator", "serve", "--port", str(port),
            *serve_args]
        cmd = ["nsenter", "-t", str(rig.pcscd_pid), "-n", sys.executable, *args]
        self.proc = subprocess.Popen(cmd, stdout=self._log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        """Remove the card abruptly (SIGKILL): the reader sees a removal mid-whatever."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()


class PcscRig:
    """pcscd + vpcd + emulated cards. Use as a context manager."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.pcscd: subprocess.Popen[bytes] | None = None
        self.cards: list[CardProcess] = []
        self._lock_fd: int | None = None

    def _acquire_lock(self) -> None:
        RIG_LOCK.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(RIG_LOCK, os.O_CREAT | os.O_RDWR, 0o600)

        def locked() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False

        try:
            _wait_for(locked, RIG_LOCK_TIMEOUT, "another rig on this machine to finish")
        except BaseException:
            os.close(fd)
            raise
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    @property
    def pcscd_pid(self) -> int:
        assert self.pcscd is not None
        return self.pcscd.pid

    def start(self) -> None:
        if os.geteuid() == 0:
            self._acquire_lock()
        try:
            check_available()
        except BaseException:
            self._release_lock()
            raise
        # No pcscd runs (checked above), so socket and pid files are stale leftovers.
        PCSCD_SOCKET.unlink(missing_ok=True)
        PCSCD_PIDFILE.unlink(missing_ok=True)
        log = open(self.workdir / "pcscd.log", "wb")
        # unshare and sh exec into pcscd, so the PID we hold is pcscd's own.
        self.pcscd = subprocess.Popen(
            ["unshare", "--net", "sh", "-c",
             "ip link set lo up && exec pcscd --foreground --debug --apdu"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        try:
            _wait_for(lambda: PCSCD_SOCKET.exists() or self.pcscd.poll() is not None,
                      START_TIMEOUT, "pcscd's socket")
            if self.pcscd.poll() is not None:
                raise RigUnavailable(f"pcscd exited: see {self.workdir / 'pcscd.log'}")
            self._wait_reader_listed()
        except BaseException:
            self.stop()
            raise

    def _wait_reader_listed(self) -> None:
        from smartcard import scard

        def listed() -> bool:
            code, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if code != scard.SCARD_S_SUCCESS:
                return False
            try:
                code, readers = scard.SCardListReaders(ctx, [])
                return code == scard.SCARD_S_SUCCESS and READER_PORTS[35963] in readers
            finally:
                scard.SCardReleaseContext(ctx)

        _wait_for(listed, START_TIMEOUT, "vpcd's readers")

    def _wait_state(self, reader: str, present: bool) -> None:
        """Block on PC/SC reader events until the card is (not) present."""
        from smartcard import scard

        code, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        assert code == scard.SCARD_S_SUCCESS
        try:
            state = scard.SCARD_STATE_UNAWARE
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                remaining = int((deadline - time.monotonic()) * 1000)
                if remaining <= 0:
                    raise TimeoutError(f"card {'insertion' if present else 'removal'} "
                                       f"not seen in {reader}")
                code, states = scard.SCardGetStatusChange(ctx, remaining, [(reader, state)])
                if code == scard.SCARD_E_TIMEOUT:
                    continue
                assert code == scard.SCARD_S_SUCCESS, hex(code)
                _name, event, _atr = states[0]
                is_present = bool(event & scard.SCARD_STATE_PRESENT) and not (
                    event & scard.SCARD_STATE_MUTE)
                if is_present == present:
                    return
                state = event & ~scard.SCARD_STATE_CHANGED
        finally:
            scard.SCardReleaseContext(ctx)

    def insert_card(self, *serve_args: str, port: int = 35963,
                    global_args: tuple[str, ...] = ()) -> CardProcess:
        """Start an emulated card in the reader on ``port``; return when PC/SC sees it.

        ``serve_args`` go to ``mynaid emulator serve`` (variant options); ``global_args``
        before the subcommand (e.g. ``--profile PATH``).
        """
        return self._insert(port, list(global_args), list(serve_args), None)

    def insert_program(self, *program: str, port: int = 35963) -> CardProcess:
        """Start another card program (interpreter arguments, e.g. ``-m MODULE --port N``)
        in the reader on ``port``; return when PC/SC sees its card."""
        return self._insert(port, [], [], list(program))

    def _insert(self, port: int, global_args: list[str], serve_args: list[str],
                program: list[str] | None) -> CardProcess:
        log = self.workdir / f"card-{port}-{len(self.cards)}.log"
        card = CardProcess(self, port, global_args, serve_args, log, program)
        self.cards.append(card)
        try:
            self._wait_state(card.reader, present=True)
        except TimeoutError:
            card.stop()
            raise
        return card

    def remove_card(self, card: CardProcess, *, abrupt: bool = False) -> None:
        """Stop a card program and return when PC/SC has seen the removal."""
        if abrupt:
            card.kill()
        card.stop()
        self._wait_state(card.reader, present=False)
        if card in self.cards:
            self.cards.remove(card)

    def stop(self) -> None:
        for card in self.cards:
            card.stop()
        self.cards.clear()
        if self.pcscd is not None and self.pcscd.poll() is None:
            os.kill(self.pcscd.pid, signal.SIGTERM)
            try:
                self.pcscd.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.pcscd.kill()
                self.pcscd.wait()
        self.pcscd = None
        self._release_lock()

    def __enter__(self) -> PcscRig:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def card_in_rig(prefix: str, *serve_args: str) -> Iterator[str]:
    """A rig of its own with one emulated card in reader 0, for scripts (benchmarks): yields
    the reader name, stops everything after. Raises :class:`RigUnavailable` when it cannot
    run here."""
    with tempfile.TemporaryDirectory(prefix=prefix) as workdir:
        rig = PcscRig(Path(workdir))
        rig.start()
        try:
            card = rig.insert_card(*serve_args)
            try:
                yield card.reader
            finally:
                rig.remove_card(card)
        finally:
            rig.stop()
