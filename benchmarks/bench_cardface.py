"""Benchmark: APDUs of the card-face reads, with and without the presence proof.

    python benchmarks/bench_cardface.py [--rounds N] [--json OUT]

On the in-process emulator (the APDU count does not depend on the transport), for each read
strategy (``ExtendedLength.OFF``: 256-byte chunks; ``AUTO``: extended READ BINARY once
detected) and each way the emulator writes record lengths (``card``, as real cards;
``minimal``; ``long``), it reports the APDUs, bytes received and median time of:

* ``TextSession.read`` (PIN) and ``read_proven`` (the same plus EF 0007 and ``80 2A``);
* ``TextSession.prove_presence`` alone;
* ``VisualSession.read`` (照合番号A) and ``read_with_presence``;
* ``checked_age_record`` (birth-date key, EF 0001 + 0004) and ``checked_my_number_image``.

The presence proof's cost is the difference between a read and the same read with the proof,
in the same run. Figures are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mynaid.emulator import EmulatorOptions, build_card, default_profile  # noqa: E402
from mynaid.integrity import load_issuer_key  # noqa: E402
from mynaid.protocol import CardProtocol, ExtendedLength  # noqa: E402
from mynaid.sessions.text import TextSession  # noqa: E402
from mynaid.sessions.visual import VisualSession  # noqa: E402
from mynaid.transport.emulated import EmulatorTransport  # noqa: E402

PKI = ROOT / "vectors" / "test-pki"
PIN, PIN_A, BIRTH = "5678", "123456789018", "550217"


def operations(keys: list[object]) -> dict[str, Callable[[CardProtocol], object]]:
    return {
        "text.read": lambda p: TextSession(p).read(PIN),
        "text.read_proven": lambda p: TextSession(p).read_proven(PIN, "pin", keys),
        "text.prove_presence": lambda p: TextSession(p).prove_presence(PIN, "pin", keys),
        "visual.read": lambda p: VisualSession(p).read(PIN_A),
        "visual.read_with_presence":
            lambda p: VisualSession(p).read_with_presence(PIN_A, "pin-a", keys),
        "visual.checked_age_record": lambda p: VisualSession(p).checked_age_record(BIRTH, keys),
        "visual.checked_my_number_image":
            lambda p: VisualSession(p).checked_my_number_image(PIN_A, keys),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    keys = [load_issuer_key(PKI / "text-issuer.pem"), load_issuer_key(PKI / "visual-issuer.pem")]
    profile = default_profile()
    rows = []
    for lengths in ("card", "minimal", "long"):
        for mode in (ExtendedLength.OFF, ExtendedLength.AUTO):
            card = build_card(profile, EmulatorOptions(record_lengths=lengths))
            protocol = CardProtocol(EmulatorTransport(card), mode)
            VisualSession(protocol).read(PIN_A)  # warm-up: AUTO detects extended length
            for name, op in operations(keys).items():  # type: ignore[arg-type]
                times = []
                for _ in range(max(1, args.rounds)):
                    before = (card.apdu_count, protocol.stats.bytes_received)
                    start = time.perf_counter()
                    op(protocol)
                    times.append(time.perf_counter() - start)
                    apdus = card.apdu_count - before[0]
                    received = protocol.stats.bytes_received - before[1]
                rows.append({"lengths": lengths, "extended": mode.value, "operation": name,
                             "apdus": apdus, "bytes_received": received,
                             "ms_median": round(statistics.median(times) * 1000, 3)})
    print(f"{'lengths':<8} {'extended':<8} {'operation':<32} {'APDUs':>5} {'bytes':>7} "
          f"{'ms':>8}")
    for r in rows:
        print(f"{r['lengths']:<8} {r['extended']:<8} {r['operation']:<32} {r['apdus']:>5} "
              f"{r['bytes_received']:>7} {r['ms_median']:>8.3f}")
    by = {(r["lengths"], r["extended"], r["operation"]): r["apdus"] for r in rows}
    for mode in ("off", "auto"):
        for base, proven in (("text.read", "text.read_proven"),
                             ("visual.read", "visual.read_with_presence")):
            extra = by[("card", mode, proven)] - by[("card", mode, base)]
            print(f"presence proof on top of {base} (extended {mode}): +{extra} APDUs")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
