"""Shared pieces of the relying-party tests: cards, signed bodies, the service process."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from mynaid.challenge import signed_message
from mynaid.emulator.profile import CardProfile

REPO = Path(__file__).resolve().parents[1]
PKI = REPO / "vectors" / "test-pki"
CONTEXT = "mynaid-rp"
DEMO_COLLATION_B = "55021720352285"


def b64(der: bytes) -> str:
    return base64.b64encode(der).decode()


@dataclass(frozen=True)
class SoftCard:
    """A card profile's keys used directly: fast signed bodies for load tests (the card
    itself is exercised by the functional tests)."""

    profile: CardProfile

    def login_body(self, nonce: bytes, context: str = CONTEXT) -> dict[str, Any]:
        jpki = self.profile.jpki
        signature = jpki.auth_key.sign(signed_message(context, nonce), padding.PKCS1v15(),
                                       hashes.SHA256())
        return {"nonce": nonce.hex(), "context": context, "signature": b64(signature),
                "certificate": b64(jpki.auth_cert), "ca_certificates": [b64(jpki.auth_ca_cert)]}

    @property
    def auth_certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.profile.jpki.auth_cert)


def nonce_digest(nonce_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(nonce_hex)).hexdigest()


def get(url: str, timeout: float = 5.0) -> tuple[int, dict[str, Any]]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code), json.loads(exc.read())


class ServiceProcess:
    """``python -m mynaid.service`` with N workers on 127.0.0.1 (a free port), stopped by
    PID; its workers are found as the supervisor's children."""

    def __init__(self, workdir: Path, config: dict[str, Any], *, workers: int = 1,
                 env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.config_path = workdir / "rp.json"
        self.config_path.write_text(json.dumps(config))
        self.port_file = workdir / "port"
        self.port_file.unlink(missing_ok=True)
        self.log_path = workdir / "service.log"
        self._log = open(self.log_path, "ab")
        environment = {**os.environ, "MYNAID_RP_QUIET": "1", **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mynaid.service", "--config", str(self.config_path),
             "--port", "0", "--port-file", str(self.port_file), "--workers", str(workers)],
            stdout=self._log, stderr=subprocess.STDOUT, env=environment, cwd=REPO,
            start_new_session=True)
        self.workers = workers
        self.url = ""
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service exited: {self.log_path.read_text()[-2000:]}")
            if self.port_file.exists() and self.port_file.read_text().strip():
                self.url = f"http://127.0.0.1:{int(self.port_file.read_text())}"
                try:
                    if get(self.url + "/readyz", 2)[0] == 200 and \
                            len(self.worker_pids()) >= self.workers:
                        return
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError("the service did not become ready")
            time.sleep(0.05)

    def worker_pids(self) -> list[int]:
        if self.workers <= 1:
            return [self.proc.pid]
        pids = []
        for path in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = path.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # Children of the supervisor: uvicorn's workers and multiprocessing's tracker.
            if int(fields[1]) == self.proc.pid and fields[0] != "Z":
                cmdline = (path.parent / "cmdline").read_bytes()
                if b"multiprocessing.spawn" in cmdline and b"resource_tracker" not in cmdline:
                    pids.append(int(path.parent.name))
        return sorted(pids)

    def stop(self) -> None:
        children = self.worker_pids() if self.proc.poll() is None else []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in children:  # only the workers this service started, if still there
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"multiprocessing.spawn" in cmdline:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._log.close()
