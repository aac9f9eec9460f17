"""Relying-party service benchmarks (loopback only, bounded).

    python benchmarks/bench_service.py [--requests N] [--backend sqlite|postgres|both]
                                       [--workers 1,2,4] [--json OUT]

1. In-process cost of one challenge verification (the auth signature over the nonce and
   the certificate path), three ways in the same run: the library's ChallengeVerifier
   (path validated from scratch every time), the relying party's stateless checks with
   its path cache (mynaid.rp.pathcache), and a whole RelyingParty.login including its
   SQLite transaction (spend the nonce, look the person up, write the record). Target
   <= 0.5 ms for the verification; the RSA verification alone is the floor.
2. Verifications per second and p50/p99 latency over HTTP with 1, 2 and 4 uvicorn
   workers: POST /v1/login with pre-issued nonces and pre-signed bodies, from a raw
   asyncio load generator (tests/loadgen.py: keep-alive connections, no client objects),
   against SQLite and against a private PostgreSQL (tests/pg_rig.py). Target >= 1000/s
   at p99 < 50 ms. GET /healthz with the same generator is the peer: the framework's own
   ceiling on this machine in this run.

Figures are reported, never asserted; the machine's other load is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402

from mynaid.challenge import ChallengeResponse, ChallengeVerifier, signed_message  # noqa: E402
from mynaid.emulator import build_card, default_profile  # noqa: E402
from mynaid.protocol import CardProtocol  # noqa: E402
from mynaid.rp.client import registration_body  # noqa: E402
from mynaid.rp.core import RelyingParty, RpConfig  # noqa: E402
from mynaid.rp.store import SqliteStore  # noqa: E402
from mynaid.transport.emulated import EmulatorTransport  # noqa: E402
from mynaid.trust.anchors import TrustStore  # noqa: E402
from tests import loadgen  # noqa: E402
from tests.rp_helpers import PKI, ServiceProcess, SoftCard  # noqa: E402

CONTEXT = "mynaid-rp"
CARD = SoftCard(default_profile())


def _trust() -> TrustStore:
    store = TrustStore.empty()
    store.add_file(PKI / "auth-root.pem")
    store.add_file(PKI / "sign-root.pem")
    return store


def _per_call(fn: Any, rounds: int) -> float:
    fn()  # warm-up
    started = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - started) / rounds * 1000


def in_process(rounds: int) -> dict[str, float]:
    """Milliseconds per verification, four ways."""
    profile = default_profile()
    cert = x509.load_der_x509_certificate(profile.jpki.auth_cert)
    ca = x509.load_der_x509_certificate(profile.jpki.auth_ca_cert)
    key = cert.public_key()
    nonce = os.urandom(32)
    body = CARD.login_body(nonce, CONTEXT)
    signature = bytes.fromhex(ChallengeResponse.from_dict(body).signature.hex())
    message = signed_message(CONTEXT, nonce)

    def rsa_only() -> None:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr]

    verifier = ChallengeVerifier(trust=_trust(), context=CONTEXT)

    def library() -> None:
        challenge = verifier.issue()
        response = ChallengeResponse(challenge.nonce, CONTEXT, b"", cert, (ca,))
        sig = profile.jpki.auth_key.sign(signed_message(CONTEXT, challenge.nonce),
                                         padding.PKCS1v15(), hashes.SHA256())
        verifier.verify(ChallengeResponse(response.nonce, CONTEXT, sig, cert, (ca,)))

    # The library figure includes one RSA signature by the test (to make a fresh valid
    # answer); it is measured separately and subtracted.
    sign_cost = _per_call(lambda: profile.jpki.auth_key.sign(message, padding.PKCS1v15(),
                                                              hashes.SHA256()), rounds)

    workdir = Path(tempfile.mkdtemp(prefix="mynaid-bench-rp-"))
    store = SqliteStore(workdir / "rp.sqlite3")
    store.migrate()
    rp = RelyingParty(store, RpConfig(trust=_trust(), context=CONTEXT))
    reg = bytes.fromhex(rp.issue("register")["nonce"])
    rp.register(registration_body(CardProtocol(EmulatorTransport(build_card(profile))), reg,
                                  CONTEXT, sign_password="TEST1234", auth_pin="1234"))
    from mynaid.rp.core import _presented
    from mynaid.trust.path import CertificateRole

    presented = _presented(body, "response")
    now = rp.clock()

    def rp_stateless() -> None:
        rp._signature(presented.cert, signature, message, "auth")
        rp._path(presented, CertificateRole.AUTH, now)

    bodies = [CARD.login_body(bytes.fromhex(rp.issue("login")["nonce"]), CONTEXT)
              for _ in range(rounds + 1)]
    it = iter(bodies)

    def rp_login() -> None:
        rp.login(next(it))

    out = {
        "rsa_verify_only_ms": _per_call(rsa_only, rounds),
        "library_challenge_verify_ms": _per_call(library, rounds) - sign_cost,
        "rp_stateless_checks_cached_ms": _per_call(rp_stateless, rounds),
        "rp_login_with_sqlite_record_ms": _per_call(rp_login, rounds),
    }
    store.close()
    shutil.rmtree(workdir, ignore_errors=True)
    return out


def _register(url: str) -> None:
    from mynaid.rp.client import RpClient

    protocol = CardProtocol(EmulatorTransport(build_card(default_profile())))
    status, answer = RpClient(url, context=CONTEXT).register(
        protocol, sign_password="TEST1234", auth_pin="1234")
    if status != 200:
        raise RuntimeError(f"registration failed: {answer}")


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed(port: int, requests: list[bytes], connections: int,
           pids: list[int]) -> tuple[list[loadgen.Answer], float, float, float]:
    """Answers, seconds, and CPU ms per request of the generator and of the workers."""
    workers_before = sum(_cpu_seconds(p) for p in pids)
    cpu_before = time.process_time()
    started = time.perf_counter()
    answers = loadgen.run_sync(port, requests, connections=connections)
    elapsed = time.perf_counter() - started
    n = max(1, len(requests))
    return (answers, elapsed, (time.process_time() - cpu_before) / n * 1000,
            (sum(_cpu_seconds(p) for p in pids) - workers_before) / n * 1000)


def over_http(store_url: str, workers: int, requests: int, connections: int,
              pin: bool = True) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="mynaid-bench-svc-"))
    config = {"store": store_url, "context": CONTEXT,
              "trust_anchors": [str(PKI / "auth-root.pem"), str(PKI / "sign-root.pem")],
              "limits": {"rate_per_client": 0}}
    service = ServiceProcess(workdir, config, workers=workers)
    try:
        port = int(service.url.rsplit(":", 1)[1])
        _register(service.url)
        issued = loadgen.run_sync(port, [loadgen.post_request(
            "/v1/nonce", {"purpose": "login"})] * requests, connections=connections)
        bodies = [loadgen.post_request("/v1/login", CARD.login_body(
            bytes.fromhex(a.body["nonce"]), CONTEXT)) for a in issued if a.status == 200]
        pids = service.worker_pids()
        pinned = pin and (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")
        if pinned:
            # The generator on the last CPU; one worker on the first, so that they do
            # not share a core (more workers get every CPU, the generator's included).
            os.sched_setaffinity(0, {(os.cpu_count() or 2) - 1})
            if workers == 1:
                os.sched_setaffinity(pids[0], {0})
        try:
            answers, elapsed, gen_cpu, worker_cpu = _timed(port, bodies, connections, pids)
            health = [b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"] * requests
            h_answers, h_elapsed, h_gen_cpu, h_worker_cpu = _timed(port, health, connections,
                                                                   pids)
        finally:
            if pinned:
                os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    finally:
        service.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    h_latencies = sorted(a.seconds * 1000 for a in h_answers)
    latencies = sorted(a.seconds * 1000 for a in answers)
    ok = sum(1 for a in answers if a.status == 200)
    return {"workers": workers, "requests": len(bodies), "accepted": ok,
            "verifications_per_s": round(len(bodies) / elapsed, 1),
            "p50_ms": round(statistics.median(latencies), 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
            "healthz_per_s": round(len(h_answers) / h_elapsed, 1),
            "healthz_p50_ms": round(statistics.median(h_latencies), 2),
            "healthz_p99_ms": round(h_latencies[int(len(h_latencies) * 0.99) - 1], 2),
            "generator_cpu_ms_per_request": round(gen_cpu, 3),
            "worker_cpu_ms_per_request": round(worker_cpu, 3),
            "healthz_generator_cpu_ms": round(h_gen_cpu, 3),
            "healthz_worker_cpu_ms": round(h_worker_cpu, 3), "pinned": pinned}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin the load generator (and one worker) to CPUs")
    args = parser.parse_args()
    os.environ["MYNAID_RP_QUIET"] = "1"
    report: dict[str, Any] = {"load_average": os.getloadavg(), "cpus": os.cpu_count()}
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} "
          "(other processes share these figures)")
    report["in_process"] = in_process(args.rounds)
    for name, value in report["in_process"].items():
        print(f"  {name:34s} {value:7.3f} ms")
    verify = report["in_process"]["rp_stateless_checks_cached_ms"]
    print(f"  verification target <= 0.5 ms: {'met' if verify <= 0.5 else 'NOT met'}; "
          f"library/cached ratio "
          f"{report['in_process']['library_challenge_verify_ms'] / verify:.1f}x")
    backends: list[tuple[str, Any]] = []
    pg = None
    workdir = None
    if args.backend in ("sqlite", "both"):
        backends.append(("sqlite", None))
    if args.backend in ("postgres", "both"):
        from tests.pg_rig import PostgresRig, PostgresUnavailable

        workdir = Path(tempfile.mkdtemp(prefix="mynaid-bench-pg-"))
        try:
            pg = PostgresRig(workdir, port=54391)
            pg.init()
            pg.start()
            backends.append(("postgres", pg))
        except PostgresUnavailable as exc:
            print(f"SKIPPED postgres: {exc}")
    try:
        for name, server in backends:
            for workers in (int(w) for w in args.workers.split(",")):
                if server is None:
                    tmp = Path(tempfile.mkdtemp(prefix="mynaid-bench-sqlite-"))
                    url = f"sqlite:///{tmp / 'rp.sqlite3'}"
                else:
                    url = server.create_database(f"bench_{workers}")
                result = over_http(url, workers, args.requests, args.connections,
                                   pin=not args.no_pin)
                result["backend"] = name
                report.setdefault("http", []).append(result)
                met = result["verifications_per_s"] >= 1000 and result["p99_ms"] < 50
                print(f"  {name:8s} {workers} worker(s): {result['verifications_per_s']:7.1f}"
                      f" verifications/s, p50 {result['p50_ms']:6.2f} ms, p99 "
                      f"{result['p99_ms']:6.2f} ms ({result['accepted']}/"
                      f"{result['requests']} accepted) target {'met' if met else 'NOT met'}")
                print(f"  {'':8s} healthz peer {result['healthz_per_s']:7.1f}/s, p50 "
                      f"{result['healthz_p50_ms']:6.2f} ms, p99 {result['healthz_p99_ms']:6.2f}"
                      f" ms; login/healthz "
                      f"{result['verifications_per_s'] / result['healthz_per_s']:.2f}; CPU ms"
                      f" per login: workers {result['worker_cpu_ms_per_request']:.3f}, "
                      f"generator {result['generator_cpu_ms_per_request']:.3f} (healthz "
                      f"{result['healthz_worker_cpu_ms']:.3f} / "
                      f"{result['healthz_generator_cpu_ms']:.3f})")
    finally:
        if pg is not None:
            pg.stop()
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
