"""The mutation fuzzer's long mode (issue 11): N seeded cases per target, with counts.

    .venv/bin/python benchmarks/fuzz.py --iterations 2000 [--seed S] [--target p7s ...]
                                        [--bound SECONDS] [--json OUT]

Targets: signatures (.p7s), certificates, CRLs, CRL maps, OCSP answers, challenge
responses, images, and hostile-card sessions (JPKI, text, visual) through an in-process
transport that mutates the emulated card's answers. Every case must end in success or a
MynaidError; the output counts foreign exceptions (by type and code site), hangs (a case
over the per-case bound) and forgeries (a mutated signature that verifies with other
content). Exit status 1 when any of those is non-zero. The engine is tests/fuzz_engine.py,
which the suite runs with a few dozen cases per target.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import fuzz_engine  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1000, help="cases per target")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--target", action="append", choices=sorted(fuzz_engine.TARGETS))
    parser.add_argument("--bound", type=float, default=fuzz_engine.CASE_BOUND,
                        help="per-case wall-clock bound in seconds (a hang beyond it)")
    parser.add_argument("--json", type=Path, help="also write the counts as JSON")
    args = parser.parse_args(argv)
    examples: dict[str, list[str]] = {}
    started = time.perf_counter()
    results = fuzz_engine.run(args.iterations, seed=args.seed, targets=args.target,
                              bound=args.bound, examples=examples)
    elapsed = time.perf_counter() - started
    print(fuzz_engine.summary(results))
    total = sum(c.cases for c in results.values())
    foreign = sum(c.foreign_total for c in results.values())
    hangs = sum(c.hangs for c in results.values())
    forged = sum(c.forgeries for c in results.values())
    print(f"\n{total} cases in {elapsed:.1f} s: {foreign} foreign exceptions, {hangs} hangs, "
          f"{forged} forgeries (seed {args.seed}, bound {args.bound:g} s per case)")
    for site, lines in examples.items():
        print(f"\n== first case of {site}\n{''.join(lines)}")
    if args.json:
        args.json.write_text(json.dumps({
            "seed": args.seed, "iterations": args.iterations, "seconds": round(elapsed, 1),
            "targets": {name: c.as_dict() for name, c in results.items()}}, indent=2))
    return 1 if foreign or hangs or forged else 0


if __name__ == "__main__":
    sys.exit(main())
