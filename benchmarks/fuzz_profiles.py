"""The profile mutation fuzzer's longer mode: N seeded mutants through the CLI's loader.

    python benchmarks/fuzz_profiles.py [--mutants 20000] [--seed 1]

Each mutant (half structural: fields replaced, deleted or wrapped; half byte-level: flips,
cuts, splices of hostile text such as '[' * 5000) goes file → parse → card, as
``mynaid --profile`` does. Reports how many loaded, how many were refused with ParseError,
and every foreign exception (which should be none), plus the slowest mutant.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mynaid.connect import emulated_card
from mynaid.errors import ParseError
from tests.test_profile_fuzz import byte_mutant, structural_mutant


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    outcomes: Counter[str] = Counter()
    foreign: Counter[str] = Counter()
    slowest = 0.0
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mutant.json"
        start = time.perf_counter()
        for index in range(args.mutants):
            path.write_bytes(structural_mutant(rng).encode() if index % 2
                             else byte_mutant(rng))
            began = time.perf_counter()
            try:
                emulated_card(path)
                outcomes["loaded"] += 1
            except ParseError:
                outcomes["refused (ParseError)"] += 1
            except Exception as exc:  # what the fuzzer hunts: report, keep going
                outcomes["FOREIGN"] += 1
                foreign[f"{type(exc).__name__}: {traceback.format_exc().splitlines()[-3]}"] += 1
            slowest = max(slowest, time.perf_counter() - began)
        total = time.perf_counter() - start
    print(f"{args.mutants} profile mutants (seed {args.seed}) in {total:.1f} s; "
          f"slowest {slowest * 1000:.0f} ms")
    for name, count in sorted(outcomes.items()):
        print(f"  {name:<22} {count}")
    for name, count in foreign.most_common():
        print(f"  foreign {count}x {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
