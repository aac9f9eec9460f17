"""mynaid benchmarks: APDU economy, certificate read speed vs OpenSC, CLI start-up time.

    python benchmarks/run.py [--json OUT] [--rounds N] [--only NAME ...]

Figures are measured and reported, never asserted: the exit status is 0 whether or not a
target is met (it is non-zero only when the benchmark itself cannot run). As root, the PC/SC
benchmarks start their own pcscd + vpcd rig (``tests/pcsc_rig.py``) and stop it on exit; as
another user they are skipped with the reason. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mynaid.cardspec import CertificateSlot  # noqa: E402
from mynaid.protocol import CardProtocol, ExtendedLength  # noqa: E402
from mynaid.transport.recording import RecordingTransport  # noqa: E402

#: The default test card's signature password (test material, vectors/default-card.json).
SIGN_PASSWORD = "TEST1234"
READER = "Virtual PCD 00 00"
READER_SUBSTR = "00 00"
OPENSC_READER_INDEX = "0"
#: OpenSC's PKCS#15 ids of the four JPKI certificates (card-reference.md §8).
OPENSC_IDS = {
    CertificateSlot.AUTH: "01",
    CertificateSlot.SIGN: "02",
    CertificateSlot.AUTH_CA: "03",
    CertificateSlot.SIGN_CA: "04",
}
#: OpenSC's auth id of the signature password (PIN 02); without it --verify-pin picks the
#: 4-digit auth PIN and refuses the 8-character password.
OPENSC_SIGN_AUTH_ID = "02"
PIN_ENV = "MYNAID_BENCH_PIN"
SLOTS = (CertificateSlot.AUTH, CertificateSlot.AUTH_CA, CertificateSlot.SIGN,
         CertificateSlot.SIGN_CA)
SHORT_CHUNK = 256
INS_READ_BINARY = 0xB0
INS_SELECT = 0xA4
INS_VERIFY = 0x20
STARTUP_TARGET_S = 0.3
SPEED_TARGET_RATIO = 1.0
BENCHMARKS = ("apdus", "pcsc-speed", "startup", "emulator", "probe")
PCSC_BENCHMARKS = ("apdus", "pcsc-speed")
SUBPROCESS_TIMEOUT = 60


# --- helpers -------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p90 of 20 samples is the 18th smallest)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarize(samples: list[float]) -> dict[str, Any]:
    return {
        "n": len(samples),
        "median_s": statistics.median(samples),
        "p90_s": percentile(samples, 0.9),
        "min_s": min(samples),
        "max_s": max(samples),
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w)
                         for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells[1:]]
    return "\n".join("  " + row for row in out)


def heading(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def timed_rounds(rounds: int, steps: dict[str, Callable[[], object]]) -> dict[str, list[float]]:
    """One untimed warm-up round, then ``rounds`` rounds; the steps interleave in each round
    so that drift on the machine affects every contender alike."""
    for step in steps.values():
        step()
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            samples[name].append(time.perf_counter() - start)
    return samples


def python_env(pycache: Path) -> dict[str, str]:
    """The environment of the Python subprocesses: bytecode cached in a private directory
    (as an installed package has it), even when this shell sets PYTHONDONTWRITEBYTECODE;
    the warm-up round fills the cache. Nothing is written into the source tree."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def importtime_profile(cmd: list[str], env: dict[str, str], runs: int,
                       input_bytes: bytes | None = None) -> dict[str, tuple[int, int]]:
    """{module: (self_us, cumulative_us)}, the median of ``runs`` ``-X importtime`` runs."""
    per_module: dict[str, list[tuple[int, int]]] = {}
    for _ in range(runs):
        result = subprocess.run([sys.executable, "-X", "importtime", *cmd], env=env,
                                input=input_bytes, capture_output=True,
                                timeout=SUBPROCESS_TIMEOUT,
                                stdin=None if input_bytes is not None else subprocess.DEVNULL)
        for name, value in parse_importtime(result.stderr.decode(errors="replace")).items():
            per_module.setdefault(name, []).append(value)
    return {name: (int(statistics.median(v[0] for v in vals)),
                   int(statistics.median(v[1] for v in vals)))
            for name, vals in per_module.items()}


def print_import_profile(title: str, medians: dict[str, tuple[int, int]],
                         runs: int) -> list[dict[str, Any]]:
    top = sorted(medians.items(), key=lambda kv: kv[1][1], reverse=True)[:10]
    total_us = sum(v[0] for v in medians.values())
    print(f"\n  -X importtime of {title}: top 10 by cumulative time (median of {runs} runs; "
          f"{len(medians)} modules, {total_us / 1000:.1f} ms of imports in all)")
    print(table(["module", "cumulative", "self"],
                [[name, f"{cum / 1000:.1f} ms", f"{own / 1000:.1f} ms"]
                 for name, (own, cum) in top]))
    return [{"module": n, "cumulative_us": c, "self_us": o} for n, (o, c) in top]


def parse_importtime(stderr: str) -> dict[str, tuple[int, int]]:
    """``-X importtime`` lines -> {module: (self_us, cumulative_us)}."""
    found: dict[str, tuple[int, int]] = {}
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s*(\S+)", line)
        if m:
            # A module can be listed twice (``import a.b`` lists a.b again at the top).
            own, cum = found.get(m.group(3), (0, 0))
            found[m.group(3)] = (own + int(m.group(1)), max(cum, int(m.group(2))))
    return found


def run_checked(cmd: list[str], *, input_bytes: bytes | None = None,
                env: dict[str, str] | None = None) -> bytes:
    result = subprocess.run(cmd, input=input_bytes, capture_output=True, env=env,
                            timeout=SUBPROCESS_TIMEOUT,
                            stdin=None if input_bytes is not None else subprocess.DEVNULL)
    if result.returncode != 0:
        shown = " ".join(cmd)
        raise RuntimeError(f"{shown} exited {result.returncode}: "
                           f"{result.stderr.decode(errors='replace').strip()[:500]}")
    return result.stdout


def pem_to_der(pem: bytes) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(pem)
    return cert.public_bytes(serialization.Encoding.DER)


# --- counting transport --------------------------------------------------------------------


@dataclass
class Counts:
    apdus: int = 0
    read_binary: int = 0
    select: int = 0
    verify: int = 0
    other: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0

    def minus(self, other: Counts) -> Counts:
        return Counts(**{k: v - getattr(other, k) for k, v in asdict(self).items()})


class CountingTransport(RecordingTransport):
    """The library's recording wrapper, summed up as :class:`Counts`."""

    @property
    def counts(self) -> Counts:
        total = len(self.commands)
        read, select, verify = (self.count(INS_READ_BINARY), self.count(INS_SELECT),
                                self.count(INS_VERIFY))
        return Counts(total, read, select, verify, total - read - select - verify,
                      self.bytes_sent, self.bytes_received)


def read_four(protocol: CardProtocol) -> dict[CertificateSlot, bytes]:
    from mynaid.sessions.jpki import JpkiSession

    session = JpkiSession(protocol)
    return {slot: session.read_certificate_der(
        slot, SIGN_PASSWORD if slot.needs_sign_password else None) for slot in SLOTS}


# --- pcscd log (APDUs as pcscd saw them) ---------------------------------------------------


class PcscdLog:
    """Counts the APDUs pcscd logged (``--apdu``) since a mark: the view from outside both
    the library and OpenSC, used to count OpenSC's APDUs and to cross-check the wrapper."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def apdus_since(self, mark: int) -> int | None:
        if not self.path.exists():
            return None
        with open(self.path, "rb") as f:
            f.seek(mark)
            text = f.read().decode(errors="replace")
        return sum(1 for line in text.splitlines() if re.search(r"\bAPDU: ", line))


# --- 1. APDUs and bytes per certificate ---------------------------------------------------


def bench_apdus(log: PcscdLog) -> dict[str, Any]:
    from mynaid.sessions.jpki import JpkiSession
    from mynaid.transport.pcsc import PcscTransport

    heading("1. APDUs and bytes per certificate read (pcscd + vpcd, one connection per mode)")
    results: dict[str, Any] = {"modes": {}}
    rows = []
    for mode in (ExtendedLength.OFF, ExtendedLength.AUTO):
        transport = CountingTransport(PcscTransport.open(READER))
        per_cert = {}
        try:
            protocol = CardProtocol(transport, mode)
            session = JpkiSession(protocol)
            for slot in SLOTS:
                before = transport.counts
                stats_before = protocol.stats.commands
                mark = log.mark()
                der = session.read_certificate_der(
                    slot, SIGN_PASSWORD if slot.needs_sign_password else None)
                delta = transport.counts.minus(before)
                seen_by_pcscd = log.apdus_since(mark)
                size = len(der)
                minimum_reads = math.ceil(size / SHORT_CHUNK) if mode is ExtendedLength.OFF \
                    else 1
                # SELECT AP + SELECT EF + reads; the signature certificate also needs
                # SELECT of the password's EF 001B and VERIFY (P2 80 = the selected EF's key).
                minimum_total = 2 + minimum_reads + (2 if slot.needs_sign_password else 0)
                entry = {
                    "size": size,
                    **asdict(delta),
                    "minimum_read_binary": minimum_reads,
                    "read_binary_equal_to_minimum": delta.read_binary == minimum_reads,
                    "minimum_apdus": minimum_total,
                    "protocol_stats_agree": protocol.stats.commands - stats_before
                    == delta.apdus,
                    "pcscd_log_apdus": seen_by_pcscd,
                }
                per_cert[slot.value] = entry
                rows.append([mode.value, slot.value, size, delta.read_binary, minimum_reads,
                             yes_no(entry["read_binary_equal_to_minimum"]), delta.apdus,
                             minimum_total, delta.apdus - minimum_total,
                             f"{delta.select}/{delta.verify}/{delta.other}",
                             delta.bytes_sent, delta.bytes_received,
                             "-" if seen_by_pcscd is None else seen_by_pcscd])
            extended_supported = protocol.extended_supported
        finally:
            transport.close()
        total = {k: sum(e[k] for e in per_cert.values())
                 for k in ("size", "read_binary", "minimum_read_binary", "apdus",
                           "minimum_apdus", "bytes_sent", "bytes_received")}
        total["all_equal_to_minimum"] = all(e["read_binary_equal_to_minimum"]
                                            for e in per_cert.values())
        results["modes"][mode.value] = {"certificates": per_cert, "total": total,
                                        "extended_supported": extended_supported}
        rows.append([mode.value, "ALL FOUR", total["size"], total["read_binary"],
                     total["minimum_read_binary"], yes_no(total["all_equal_to_minimum"]),
                     total["apdus"], total["minimum_apdus"],
                     total["apdus"] - total["minimum_apdus"], "", total["bytes_sent"],
                     total["bytes_received"], ""])
    print(table(["extended", "cert", "bytes", "READ BIN", "min", "= min", "APDUs", "min APDUs",
                 "extra", "SEL/VFY/oth", "sent", "received", "pcscd saw"], rows))
    agree = all(e["protocol_stats_agree"] and e["pcscd_log_apdus"] in (None, e["apdus"])
                for m in results["modes"].values() for e in m["certificates"].values())
    results["counts_cross_checked"] = agree
    print("  READ BIN = READ BINARY APDUs counted by a wrapper around the PC/SC transport;")
    print("  min = ceil(size/256) with extended off, 1 with auto. min APDUs adds SELECT AP,")
    print("  SELECT EF and, for sign, SELECT 001B + VERIFY. The extras on sign are by design:")
    print("  an empty VERIFY (retry-counter query for the lockout guard) and a closing SELECT")
    print("  AP that drops the verified password before the PC/SC transaction ends.")
    print(f"  wrapper, CardProtocol.stats and pcscd's APDU log agree: {yes_no(agree)}")
    return results


# --- 2. reading all four certificates: library vs OpenSC ----------------------------------

OPENSC = "OpenSC pkcs15-tool (4 processes)"
IN_PROCESS = "library in-process"
CLI = "library CLI (4 processes)"
FLOOR = "python -c pass x4 (interpreter floor)"


def bench_pcsc_speed(rounds: int, log: PcscdLog, py_env: dict[str, str]) -> dict[str, Any]:
    from mynaid.connect import connect

    heading(f"2. Read all four certificates through pcscd + vpcd ({rounds} rounds + warm-up)")
    reference: dict[CertificateSlot, bytes] = {}

    def library_in_process() -> None:
        with connect(READER) as protocol:
            certs = read_four(protocol)
        if not reference:
            reference.update(certs)

    mark = log.mark()
    library_in_process()
    library_apdus = log.apdus_since(mark)

    def cli_cmd(slot: CertificateSlot) -> list[str]:
        return ["-m", "mynaid", "--reader", READER_SUBSTR, "cert", "export", slot.value]

    def cli_input(slot: CertificateSlot) -> bytes:
        return (SIGN_PASSWORD + "\n").encode() if slot.needs_sign_password else b""

    def library_cli(slot: CertificateSlot) -> bytes:
        return run_checked([sys.executable, *cli_cmd(slot)], input_bytes=cli_input(slot),
                           env=py_env)

    def library_subprocesses() -> None:
        for slot in SLOTS:
            library_cli(slot)

    def interpreter_floor() -> None:
        for _ in SLOTS:
            run_checked([sys.executable, "-c", "pass"], env=py_env)

    # Correctness first (untimed): every contender must return the same four certificates.
    for slot in SLOTS:
        if pem_to_der(library_cli(slot)) != reference[slot]:
            raise RuntimeError(f"mynaid cert export returned another {slot.value} certificate")
    steps: dict[str, Callable[[], object]] = {
        IN_PROCESS: library_in_process,
        CLI: library_subprocesses,
    }
    notes = []
    opensc_env = dict(os.environ, **{PIN_ENV: SIGN_PASSWORD})

    def opensc_cmd(slot: CertificateSlot) -> list[str]:
        cmd = ["pkcs15-tool", "-r", OPENSC_READER_INDEX, "--read-certificate",
               OPENSC_IDS[slot]]
        if slot.needs_sign_password:
            # env:NAME keeps the (test) password out of argv.
            cmd += ["--verify-pin", "--auth-id", OPENSC_SIGN_AUTH_ID, "--pin", f"env:{PIN_ENV}"]
        return cmd

    opensc_apdus: dict[str, int | None] = {}
    if shutil.which("pkcs15-tool") is None:
        notes.append("pkcs15-tool not found: OpenSC comparison skipped (apt-get install opensc)")
    else:
        for slot in SLOTS:
            mark = log.mark()
            out = run_checked(opensc_cmd(slot), env=opensc_env)
            opensc_apdus[slot.value] = log.apdus_since(mark)
            if pem_to_der(out) != reference[slot]:
                raise RuntimeError(f"OpenSC returned another {slot.value} certificate")

        def opensc_subprocesses() -> None:
            for slot in SLOTS:
                run_checked(opensc_cmd(slot), env=opensc_env)

        steps[OPENSC] = opensc_subprocesses
    steps[FLOOR] = interpreter_floor

    samples = timed_rounds(rounds, steps)
    stats = {name: summarize(values) for name, values in samples.items()}
    base = stats[OPENSC]["median_s"] if OPENSC in stats else None
    rows = [[name, ms(s["median_s"]), ms(s["p90_s"]), ms(s["min_s"]),
             "-" if base is None else f"{s['median_s'] / base:.2f}"]
            for name, s in stats.items()]
    print(table(["contender (all four certificates per round)", "median", "p90", "min",
                 "/ OpenSC"], rows))
    results: dict[str, Any] = {"rounds": rounds, "timings": stats, "notes": notes,
                               "library_apdus_all_four": library_apdus}
    if base is not None:
        ratios = {
            "in_process_over_opensc": stats[IN_PROCESS]["median_s"] / base,
            "cli_over_opensc": stats[CLI]["median_s"] / base,
            "interpreter_floor_over_opensc": stats[FLOOR]["median_s"] / base,
        }
        met = {
            "in_process": ratios["in_process_over_opensc"] <= SPEED_TARGET_RATIO,
            "cli": ratios["cli_over_opensc"] <= SPEED_TARGET_RATIO,
        }
        results.update(ratios=ratios, target_met=met, opensc_apdus_per_run=opensc_apdus)
        print(f"  target library/OpenSC <= {SPEED_TARGET_RATIO:.1f}: in-process "
              f"{'met' if met['in_process'] else 'NOT met'} "
              f"({ratios['in_process_over_opensc']:.3f}); CLI processes "
              f"{'met' if met['cli'] else 'NOT met'} ({ratios['cli_over_opensc']:.2f})")
        shown = ", ".join(f"{k} {v}" for k, v in opensc_apdus.items())
        total = sum(v for v in opensc_apdus.values() if v is not None)
        print(f"  APDUs pcscd logged per pkcs15-tool run: {shown} (total {total}); "
              f"the library in-process: {library_apdus} for all four")
        per = {name: stats[name]["median_s"] / len(SLOTS) for name in (CLI, OPENSC, FLOOR)}
        results["median_per_process_s"] = per
        print(f"  per process (median / 4): library CLI {ms(per[CLI])}, OpenSC "
              f"{ms(per[OPENSC])}, bare Python interpreter {ms(per[FLOOR])}")
    for note in notes:
        print(f"  note: {note}")
    runs = 3
    profile = importtime_profile(cli_cmd(CertificateSlot.AUTH), py_env, runs)
    results["cli_importtime_top10_cumulative"] = print_import_profile(
        f"`mynaid --reader \"{READER_SUBSTR}\" cert export auth`", profile, runs)
    return results


# --- 3. CLI start-up ----------------------------------------------------------------------


def bench_startup(rounds: int, py_env: dict[str, str]) -> dict[str, Any]:
    heading(f"3. CLI start-up: `mynaid --help` ({rounds} rounds + warm-up)")
    py = sys.executable
    commands: dict[str, list[str]] = {
        "python -c pass (interpreter floor)": [py, "-c", "pass"],
        "python -m mynaid --help": [py, "-m", "mynaid", "--help"],
    }
    script = Path(py).parent / "mynaid"
    if script.exists():
        commands[f"{script} --help"] = [str(script), "--help"]

    def runner(cmd: list[str]) -> Callable[[], object]:
        return lambda: run_checked(cmd, env=py_env)

    samples = timed_rounds(rounds, {name: runner(cmd) for name, cmd in commands.items()})
    stats = {name: summarize(values) for name, values in samples.items()}
    rows = [[name, ms(s["median_s"]), ms(s["p90_s"]), ms(s["min_s"])]
            for name, s in stats.items()]
    print(table(["command", "median", "p90", "min"], rows))
    main = stats["python -m mynaid --help"]["median_s"]
    met = main < STARTUP_TARGET_S
    print(f"  target < {STARTUP_TARGET_S:.1f} s for python -m mynaid --help: "
          f"{'met' if met else 'NOT met'} ({ms(main)})")
    runs = 5
    medians = importtime_profile(["-m", "mynaid", "--help"], py_env, runs)
    top = print_import_profile("`mynaid --help`", medians, runs)
    heavy = [name for name in ("cryptography", "smartcard", "mynaid.emulator",
                               "mynaid.sessions", "mynaid.transport.pcsc", "asyncio")
             if name in medians]
    print(f"  heavy modules imported by --help: {', '.join(heavy) if heavy else 'none'}")
    editable = [name for name in medians if name.startswith("__editable__")]
    if editable:
        print(f"  note: {editable[0]} is the editable (pip -e) install's import hook, "
              "run by site at every start; a regular install has none")
    return {
        "rounds": rounds, "timings": stats, "target_s": STARTUP_TARGET_S, "target_met": met,
        "importtime_runs": runs,
        "import_total_self_us": sum(v[0] for v in medians.values()),
        "importtime_top10_cumulative": top,
        "heavy_modules_imported": heavy,
    }


# --- 4. in-process emulator ---------------------------------------------------------------


def bench_emulator(rounds: int) -> dict[str, Any]:
    from mynaid.connect import emulated_card
    from mynaid.transport.emulated import EmulatorTransport

    heading(f"4. In-process emulator, no pcscd: read all four certificates ({rounds} rounds)")
    start = time.perf_counter()
    card = emulated_card()
    build_s = time.perf_counter() - start
    results: dict[str, Any] = {"rounds": rounds, "card_build_s": build_s, "modes": {}}
    rows = []
    for mode in (ExtendedLength.AUTO, ExtendedLength.OFF):
        counts: list[Counts] = []

        def step(mode: ExtendedLength = mode, counts: list[Counts] = counts) -> None:
            transport = CountingTransport(EmulatorTransport(card))
            try:
                read_four(CardProtocol(transport, mode))
            finally:
                transport.close()
            counts[:] = [transport.counts]

        stats = summarize(timed_rounds(rounds, {"read": step})["read"])
        c = counts[0]
        results["modes"][mode.value] = {"timing": stats, "counts": asdict(c)}
        rows.append([mode.value, ms(stats["median_s"]), ms(stats["p90_s"]),
                     ms(stats["min_s"]), c.apdus, c.read_binary, c.bytes_sent,
                     c.bytes_received])
    print(table(["extended", "median", "p90", "min", "APDUs", "READ BIN", "sent", "received"],
                rows))
    print(f"  (building the default emulated card once, untimed above: {ms(build_s)})")
    return results




# --- 5. the extended-length probe ---------------------------------------------------------


def _is_extended_read(command: bytes) -> bool:
    return len(command) == 7 and command[1] == INS_READ_BINARY and command[4] == 0x00


def bench_probe() -> dict[str, Any]:
    """What the extended-length probe costs, per connection (APDU counts; deterministic).

    For each scenario on a fresh connection: the APDUs with ``--extended auto`` against the
    best a reader could do knowing the card's support in advance (``off`` on a card that
    refuses extended length, ``auto`` itself on one that accepts it), and where the extended
    APDUs went relative to the first VERIFY (card-reference §9: probe on a free EF before any
    VERIFY, never after one).
    """
    from mynaid.cardspec import AUTH_PIN
    from mynaid.emulator import EmulatorOptions, build_card, default_profile
    from mynaid.sessions.jpki import JpkiSession
    from mynaid.transport.emulated import EmulatorTransport

    heading("5. Extended-length probe: APDUs per connection (in-process, counted)")
    profile = default_profile()

    def four_auth_first(session: JpkiSession) -> None:
        read_four(session.protocol)

    def sign_first(session: JpkiSession) -> None:
        session.read_certificate_der(CertificateSlot.SIGN, SIGN_PASSWORD)
        session.read_certificate_der(CertificateSlot.AUTH)

    def verify_then_read(session: JpkiSession) -> None:
        session.verify(AUTH_PIN, "1234")
        session.read_certificate_der(CertificateSlot.AUTH_CA)

    scenarios = {"four certificates, auth first": four_auth_first,
                 "signature certificate first": sign_first,
                 "VERIFY, then a read": verify_then_read}

    def run(scenario: Callable[[JpkiSession], None], extended_card: bool,
            mode: ExtendedLength) -> tuple[CountingTransport, CardProtocol]:
        card = build_card(profile, EmulatorOptions(extended_length=extended_card))
        transport = CountingTransport(EmulatorTransport(card))
        protocol = CardProtocol(transport, mode)
        scenario(JpkiSession(protocol))
        return transport, protocol

    results: dict[str, Any] = {"scenarios": {}}
    rows = []
    for name, scenario in scenarios.items():
        for extended_card in (True, False):
            auto, protocol = run(scenario, extended_card, ExtendedLength.AUTO)
            off, _ = run(scenario, extended_card, ExtendedLength.OFF)
            best = auto.counts.apdus if extended_card else off.counts.apdus
            verifies = [i for i, c in enumerate(auto.commands)
                        if c[1] == INS_VERIFY and len(c) > 4]
            first_verify = verifies[0] if verifies else len(auto.commands)
            extended = [i for i, c in enumerate(auto.commands) if _is_extended_read(c)]
            before = sum(1 for i in extended if i < first_verify)
            after_unsettled = sum(1 for i in extended if i > first_verify) \
                if protocol.extended_supported is not True else 0
            entry = {"extended_card": extended_card, "apdus_auto": auto.counts.apdus,
                     "apdus_off": off.counts.apdus, "apdus_best": best,
                     "probe_cost_apdus": auto.counts.apdus - best,
                     "extended_before_first_verify": before,
                     "probes_after_a_verify": after_unsettled,
                     "extended_supported": protocol.extended_supported}
            results["scenarios"][f"{name} / {'extended' if extended_card else 'short'} card"] \
                = entry
            rows.append([name, "accepts" if extended_card else "refuses", auto.counts.apdus,
                         off.counts.apdus, best, entry["probe_cost_apdus"], before,
                         after_unsettled])
    print(table(["scenario (fresh connection)", "card: extended", "APDUs auto", "APDUs off",
                 "best", "probe cost", "ext before VERIFY", "probes after VERIFY"], rows))
    results["max_probe_cost_apdus"] = max(e["probe_cost_apdus"]
                                          for e in results["scenarios"].values())
    print("  best = the APDUs of a reader that knew the card's support in advance; probe cost")
    print("  = auto minus best. A probe is never sent after a VERIFY: a reader that resets the")
    print("  card on an extended APDU it cannot carry would drop the verified state.")
    return results


# --- the PC/SC rig --------------------------------------------------------------------------


@contextmanager
def pcsc_rig(skipped: dict[str, str]) -> Iterator[PcscdLog | None]:
    """Yield a pcscd log reader with a card inserted in READER, or None (reason in
    ``skipped``). pcscd and the card are always stopped on exit."""
    if os.geteuid() != 0:
        skipped["pcsc"] = ("not root: the PC/SC benchmarks start their own pcscd in a network "
                           "namespace, which needs root")
        yield None
        return
    from tests.pcsc_rig import PcscRig, RigUnavailable

    with tempfile.TemporaryDirectory(prefix="mynaid-bench-rig-") as tmp:
        rig = PcscRig(Path(tmp))
        print("\nstarting the pcscd + vpcd rig (waits while another rig runs) ...", flush=True)
        start = time.perf_counter()
        try:
            rig.start()
        except RigUnavailable as exc:
            skipped["pcsc"] = f"PC/SC rig unavailable: {exc}"
            yield None
            return
        try:
            card = rig.insert_card()
            print(f"rig ready, card in {READER!r} after {time.perf_counter() - start:.1f} s",
                  flush=True)
            try:
                yield PcscdLog(Path(tmp) / "pcscd.log")
            finally:
                rig.remove_card(card)
        finally:
            rig.stop()


# --- main ---------------------------------------------------------------------------------


def _sigterm(_signum: int, _frame: object) -> None:
    raise SystemExit(143)  # unwinds the finally blocks: the rig is stopped


def metadata(rounds: int) -> dict[str, Any]:
    opensc_version = None
    if shutil.which("dpkg-query"):
        result = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "opensc"],
                                capture_output=True, text=True)
        opensc_version = result.stdout.strip() or None
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "opensc": opensc_version,
        "rounds": rounds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", type=Path, metavar="OUT", help="Also write results as JSON.")
    parser.add_argument("--rounds", type=int, default=20, metavar="N",
                        help="Timed rounds per measurement, after one warm-up round "
                             "(default 20).")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, metavar="NAME",
                        help=f"Run only this benchmark (repeatable): {', '.join(BENCHMARKS)}.")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    selected = args.only or list(BENCHMARKS)
    signal.signal(signal.SIGTERM, _sigterm)

    meta = metadata(args.rounds)
    print(f"mynaid benchmarks: Python {meta['python']}, {meta['platform']}, "
          f"{meta['cpu_count']} CPUs, OpenSC {meta['opensc']}; {args.rounds} rounds + warm-up")
    print("Figures are reported, never asserted: a missed target does not fail this command.")
    started = time.perf_counter()
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}

    with tempfile.TemporaryDirectory(prefix="mynaid-bench-pycache-") as pycache:
        py_env = python_env(Path(pycache))
        if any(name in selected for name in PCSC_BENCHMARKS):
            with pcsc_rig(skipped) as log:
                if log is None:
                    reason = skipped.pop("pcsc")
                    names = [n for n in PCSC_BENCHMARKS if n in selected]
                    skipped.update(dict.fromkeys(names, reason))
                    print(f"\nSKIPPED {', '.join(names)}: {reason}")
                else:
                    if "apdus" in selected:
                        results["apdus"] = bench_apdus(log)
                    if "pcsc-speed" in selected:
                        results["pcsc-speed"] = bench_pcsc_speed(args.rounds, log, py_env)
        if "startup" in selected:
            results["startup"] = bench_startup(args.rounds, py_env)
        if "emulator" in selected:
            results["emulator"] = bench_emulator(args.rounds)
        if "probe" in selected:
            results["probe"] = bench_probe()

    elapsed = time.perf_counter() - started
    print(f"\ndone in {elapsed:.1f} s")
    if args.json:
        payload = {"meta": meta, "elapsed_s": elapsed, "results": results, "skipped": skipped}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
