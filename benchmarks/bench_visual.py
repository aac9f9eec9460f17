"""Benchmark: reading the visual application's card-face record, short chunks vs extended.

    python benchmarks/bench_visual.py [--rounds N] [--json OUT] [--no-pcsc]

For each transport (in-process emulator; pcscd + vpcd with the emulator behind it, as root)
and each read strategy (``ExtendedLength.OFF``: 256-byte READ BINARY chunks;
``ExtendedLength.AUTO``: one extended READ BINARY once detected), it reports:

* the face record read alone (EF 0002, inside a transaction after VERIFY): APDUs, bytes
  received and the median time;
* the whole ``VisualSession.face()`` call (SELECT, counter query, VERIFY, read, re-SELECT).

Figures are reported, never asserted. Without root the PC/SC part is skipped with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mynaid.cardspec import VISUAL_PIN_A, VisualFile  # noqa: E402
from mynaid.protocol import CardProtocol, ExtendedLength  # noqa: E402
from mynaid.sessions.visual import MAX_FACE_SIZE, VisualSession  # noqa: E402
from mynaid.transport.recording import RecordingTransport  # noqa: E402

#: The default test card's 照合番号A (its published test My Number, vectors/README.md).
PIN_A = "123456789018"
READER = "Virtual PCD 00 00"


@dataclass
class Result:
    transport: str
    mode: str
    record_bytes: int
    read_apdus: int
    read_binary_commands: int
    read_bytes_received: int
    read_ms_median: float
    read_ms_min: float
    face_call_apdus: int
    face_call_ms_median: float


def _ms(seconds: list[float]) -> tuple[float, float]:
    return statistics.median(seconds) * 1000, min(seconds) * 1000


def measure(name: str, open_protocol: Callable[[ExtendedLength], Iterator[CardProtocol]],
            mode: ExtendedLength, rounds: int) -> Result:
    """Time ``rounds`` reads of the face record and ``rounds`` whole face() calls."""
    read_times: list[float] = []
    call_times: list[float] = []
    with contextmanager(open_protocol)(mode) as protocol:
        session = VisualSession(protocol)
        session.face(PIN_A)  # warm-up: AUTO detects extended support here
        record = b""
        for _ in range(rounds):
            with session.transaction():
                session.verify(VISUAL_PIN_A, PIN_A)
                before = (protocol.stats.commands, protocol.stats.bytes_received)
                reads_before = _read_binary_count(protocol)
                start = time.perf_counter()
                record = session.read_record(VisualFile.FACE, "the card face", MAX_FACE_SIZE)
                read_times.append(time.perf_counter() - start)
                read_apdus = protocol.stats.commands - before[0]
                read_bytes = protocol.stats.bytes_received - before[1]
                read_binaries = _read_binary_count(protocol) - reads_before
        for _ in range(rounds):
            before_call = protocol.stats.commands
            start = time.perf_counter()
            session.face(PIN_A)
            call_times.append(time.perf_counter() - start)
            call_apdus = protocol.stats.commands - before_call
    read_median, read_min = _ms(read_times)
    return Result(name, mode.value, len(record), read_apdus, read_binaries, read_bytes,
                  round(read_median, 3), round(read_min, 3), call_apdus,
                  round(_ms(call_times)[0], 3))


def _read_binary_count(protocol: CardProtocol) -> int:
    transport = protocol.transport
    return transport.count(0xB0) if isinstance(transport, RecordingTransport) else 0


def in_process(mode: ExtendedLength) -> Iterator[CardProtocol]:
    from mynaid.emulator import build_card, default_profile
    from mynaid.transport.emulated import EmulatorTransport

    yield CardProtocol(RecordingTransport(EmulatorTransport(build_card(default_profile()))),
                       mode)


def through_pcscd(mode: ExtendedLength) -> Iterator[CardProtocol]:
    from mynaid.connect import open_transport

    transport = RecordingTransport(open_transport(READER))
    try:
        yield CardProtocol(transport, mode)
    finally:
        transport.close()


def run(rounds: int, pcsc: bool) -> tuple[list[Result], list[str]]:
    results: list[Result] = []
    notes: list[str] = []
    for mode in (ExtendedLength.OFF, ExtendedLength.AUTO):
        results.append(measure("in-process", in_process, mode, rounds))
    if not pcsc:
        notes.append("PC/SC skipped (--no-pcsc)")
        return results, notes
    if os.geteuid() != 0:
        notes.append("PC/SC skipped: needs root (pcscd in a private network namespace)")
        return results, notes
    from tests.pcsc_rig import RigUnavailable, card_in_rig

    try:
        with card_in_rig("mynaid-bench-visual-"):
            for mode in (ExtendedLength.OFF, ExtendedLength.AUTO):
                results.append(measure("pcscd+vpcd", through_pcscd, mode, rounds))
    except RigUnavailable as exc:
        notes.append(f"PC/SC skipped: {exc}")
    return results, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=30, help="reads per configuration")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--no-pcsc", action="store_true", help="in-process only")
    args = parser.parse_args(argv)
    results, notes = run(max(1, args.rounds), not args.no_pcsc)
    header = (f"{'transport':<12} {'mode':<5} {'record B':>8} {'APDUs':>5} {'READs':>5} "
              f"{'recv B':>7} {'read ms':>8} {'min ms':>7} {'face() APDUs':>12} "
              f"{'face() ms':>9}")
    print(header)
    for r in results:
        print(f"{r.transport:<12} {r.mode:<5} {r.record_bytes:>8} {r.read_apdus:>5} "
              f"{r.read_binary_commands:>5} {r.read_bytes_received:>7} "
              f"{r.read_ms_median:>8.3f} {r.read_ms_min:>7.3f} {r.face_call_apdus:>12} "
              f"{r.face_call_ms_median:>9.3f}")
    for note in notes:
        print(note)
    if args.json:
        args.json.write_text(json.dumps({"rounds": args.rounds, "notes": notes,
                                         "results": [asdict(r) for r in results]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
