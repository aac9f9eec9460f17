"""Relying-party service benchmarks (loopback only, bounded).

    python benchmarks/bench_service.py [--requests N] [--rate R] [--warmup N]
                                       [--backend sqlite|postgres|both]
                                       [--workers 1,2,4] [--json OUT]

1. In-process cost of one challenge verification (the auth signature over the nonce and
   the certificate path), three ways in the same run: the library's ChallengeVerifier
   (path validated from scratch every time), the relying party's stateless checks with
   its path cache (mynaid.rp.pathcache), and a whole RelyingParty.login including its
   SQLite transaction (spend the nonce, look the person up, write the record). Target
   <= 0.5 ms for the verification; the RSA verification alone is the floor.
2. Verifications over HTTP with 1, 2 and 4 uvicorn workers: POST /v1/login with
   pre-issued nonces and pre-signed bodies, from a raw asyncio load generator
   (tests/loadgen.py: keep-alive connections, no client objects, its own garbage
   collector paused while it measures), against SQLite and against a private PostgreSQL
   (tests/pg_rig.py). Per service, after an unmeasured warm-up (every worker validates
   the test path once and opens its connections; the first seconds after a PostgreSQL
   start also hold a one-off stall):

   * **the target run, open loop**: ``--rate`` verifications a second (default 1,000)
     arrive on schedule whatever the answers, each timed from when it was due (no
     coordinated omission): the target is that rate served at p99 < 50 ms;
   * **the saturation run, closed loop**: ``--connections`` clients (32), each sending
     as soon as answered: the most the service serves, and its latency when every core
     is busy (by Little's law about connections / throughput);
   * GET /healthz, closed loop, is the peer: the framework's own ceiling on this machine
     in this run.

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


def _percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[max(0, int(len(sorted_values) * q) - 1)]


def _summary(answers: list[loadgen.Answer], elapsed: float) -> dict[str, Any]:
    latencies = sorted(a.seconds * 1000 for a in answers)
    return {"per_s": round(len(answers) / elapsed, 1),
            "accepted": sum(1 for a in answers if a.status == 200),
            "p50_ms": round(statistics.median(latencies), 2),
            "p99_ms": round(_percentile(latencies, 0.99), 2),
            "max_ms": round(latencies[-1], 2)}


def over_http(store_url: str, workers: int, requests: int, connections: int,
              pin: bool = True, rate: float = 1000.0, warmup: int = 2000) -> dict[str, Any]:
    """Three loads on one service: a closed-loop warm-up (not measured: every worker
    validates the test path once and opens its database connection), the open-loop run at
    ``rate`` (the target: p99 at that offered rate), then the closed-loop saturation run
    (``connections`` clients each sending as soon as answered: the most it serves)."""
    workdir = Path(tempfile.mkdtemp(prefix="mynaid-bench-svc-"))
    config = {"store": store_url, "context": CONTEXT,
              "trust_anchors": [str(PKI / "auth-root.pem"), str(PKI / "sign-root.pem")],
              "limits": {"rate_per_client": 0}}
    service = ServiceProcess(workdir, config, workers=workers)
    try:
        port = int(service.url.rsplit(":", 1)[1])
        _register(service.url)
        total = warmup + 2 * requests
        issued = loadgen.run_sync(port, [loadgen.post_request(
            "/v1/nonce", {"purpose": "login"})] * total, connections=connections)
        bodies = [loadgen.post_request("/v1/login", CARD.login_body(
            bytes.fromhex(a.body["nonce"]), CONTEXT)) for a in issued if a.status == 200]
        warm, paced, closed = (bodies[:warmup], bodies[warmup:warmup + requests],
                               bodies[warmup + requests:])
        pids = service.worker_pids()
        pinned = pin and (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")
        if pinned:
            # The generator on the last CPU; one worker on the first, so that they do
            # not share a core (more workers get every CPU, the generator's included).
            os.sched_setaffinity(0, {(os.cpu_count() or 2) - 1})
            if workers == 1:
                os.sched_setaffinity(pids[0], {0})
        try:
            loadgen.run_sync(port, warm, connections=connections)
            paced_answers = loadgen.run_rate_sync(port, paced, rate=rate)
            # From the first request's due time to the last answer (request i was due at
            # i / rate and took its seconds from then): the generator's own start-up and
            # clean-up are not the service's.
            paced_elapsed = max(i / rate + a.seconds for i, a in enumerate(paced_answers))
            answers, elapsed, gen_cpu, worker_cpu = _timed(port, closed, connections, pids)
            health = [b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"] * requests
            h_answers, h_elapsed, h_gen_cpu, h_worker_cpu = _timed(port, health, connections,
                                                                   pids)
        finally:
            if pinned:
                os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    finally:
        service.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    at_rate = _summary(paced_answers, paced_elapsed)
    saturated = _summary(answers, elapsed)
    health_summary = _summary(h_answers, h_elapsed)
    return {"workers": workers, "requests": len(closed), "offered_per_s": rate,
            "at_rate": at_rate, "saturated": saturated, "healthz": health_summary,
            "generator_cpu_ms_per_request": round(gen_cpu, 3),
            "worker_cpu_ms_per_request": round(worker_cpu, 3),
            "healthz_generator_cpu_ms": round(h_gen_cpu, 3),
            "healthz_worker_cpu_ms": round(h_worker_cpu, 3), "pinned": pinned}


def _met(result: dict[str, Any]) -> bool:
    """>= the offered rate served (within 2 %: the last answers' own latency) at p99 < 50 ms,
    every answer an acceptance, and the saturation run at least as fast."""
    at_rate, offered = result["at_rate"], result["offered_per_s"]
    return (at_rate["per_s"] >= 0.98 * offered and at_rate["p99_ms"] < 50
            and at_rate["accepted"] == result["requests"]
            and result["saturated"]["per_s"] >= offered)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000,
                        help="measured logins per run (open and closed loop each)")
    parser.add_argument("--connections", type=int, default=32,
                        help="clients of the closed-loop (saturation) run")
    parser.add_argument("--rate", type=float, default=1000.0,
                        help="verifications per second offered in the open-loop run")
    parser.add_argument("--warmup", type=int, default=2000,
                        help="unmeasured logins before the measured runs")
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
                                   pin=not args.no_pin, rate=args.rate, warmup=args.warmup)
                result["backend"] = name
                if server is None:  # how far the WAL grew (it must be started over)
                    wal = tmp / "rp.sqlite3-wal"
                    result["wal_mb"] = round(wal.stat().st_size / 2**20, 1) \
                        if wal.exists() else 0.0
                    shutil.rmtree(tmp, ignore_errors=True)
                report.setdefault("http", []).append(result)
                r, c, h = result["at_rate"], result["saturated"], result["healthz"]
                print(f"  {name:8s} {workers} worker(s), {args.rate:.0f}/s offered: served "
                      f"{r['per_s']:7.1f}/s, p50 {r['p50_ms']:6.2f} ms, p99 {r['p99_ms']:6.2f}"
                      f" ms, max {r['max_ms']:6.1f} ms ({r['accepted']}/{result['requests']}"
                      f" accepted) target {'met' if _met(result) else 'NOT met'}")
                print(f"  {'':8s} saturated ({args.connections} clients): {c['per_s']:7.1f}/s,"
                      f" p50 {c['p50_ms']:6.2f} ms, p99 {c['p99_ms']:6.2f} ms; healthz peer "
                      f"{h['per_s']:7.1f}/s (login/healthz {c['per_s'] / h['per_s']:.2f}); "
                      f"CPU ms per login: workers {result['worker_cpu_ms_per_request']:.3f}, "
                      f"generator {result['generator_cpu_ms_per_request']:.3f} (healthz "
                      f"{result['healthz_worker_cpu_ms']:.3f} / "
                      f"{result['healthz_generator_cpu_ms']:.3f})"
                      + (f"; WAL {result['wal_mb']} MB" if "wal_mb" in result else ""))
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
