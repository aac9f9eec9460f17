"""Benchmark: the whole clinic kiosk flow on the emulated card through pcscd + vpcd.

    python benchmarks/bench_kiosk.py [--rounds N] [--json OUT]

Each round opens a fresh PC/SC connection and runs :class:`mynaid.kiosk.KioskFlow` to its
outcome with a scripted UI: the face route (照合番号B, card photo, one camera burst of the
sample frame ``vectors/sample-frame.jpg``, consent) and the PIN route (auth PIN with the
card signing a verifier's challenge, consent). The face matcher's model load is paid once
before timing, as a kiosk does at start-up. Target on a 2-core machine: ≤ 2 s per flow.
Figures are reported, never asserted. Needs root for the PC/SC rig (pcscd in a private
network namespace); without it, the in-process figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mynaid.connect import connect, emulated_card  # noqa: E402
from mynaid.integrity import load_issuer_key  # noqa: E402
from mynaid.kiosk import (  # noqa: E402
    CameraFaceRoute,
    KioskFlow,
    Method,
    Outcome,
    SessionKioskCard,
    Step,
)

PIN_B = "55021720352285"  # the default test card's 照合番号B (vectors/README.md)
AUTH_PIN = "1234"
SAMPLE_FRAME = ROOT / "vectors" / "sample-frame.jpg"
VISUAL_ISSUER = ROOT / "vectors" / "test-pki" / "visual-issuer.pem"


class ScriptUI:
    def __init__(self, method: Method) -> None:
        self.methods = deque([method])

    def show(self, step: Step, message: str) -> None:
        pass

    def choose_method(self, offered: tuple[Method, ...]) -> Method | None:
        return self.methods.popleft() if self.methods else None

    def collation_b(self) -> str:
        return PIN_B

    def pin(self, tries_left: int) -> str:
        return AUTH_PIN

    def consent(self) -> bool:
        return True

    def staff_confirms(self) -> bool:
        return True


class RepeatingFrames:
    """The sample frame as an endless camera (a kiosk camera never runs dry)."""

    def __init__(self, image: Any) -> None:
        self.image = image

    def read(self) -> Any:
        from mynaid.face.camera import Frame

        return Frame(self.image, 0, 0.0, "sample")

    def close(self) -> None:
        pass

    def __iter__(self) -> Any:
        while True:
            yield self.read()


def run_flows(open_card: Callable[[], Any], method: Method, rounds: int,
              face: Any) -> tuple[list[float], Outcome]:
    times = []
    outcome = None
    for i in range(rounds + 1):  # round 0 warms up
        start = time.perf_counter()
        with open_card() as protocol:
            card = SessionKioskCard(protocol, issuer_keys=[load_issuer_key(VISUAL_ISSUER)])
            flow = KioskFlow(card, ScriptUI(method),
                             face if method is Method.FACE else None,
                             challenge=os.urandom(32) if method is Method.PIN else None)
            outcome = flow.run()
        elapsed = time.perf_counter() - start
        if not outcome.verified:
            raise SystemExit(f"{method.value} flow not verified: {outcome.message}")
        if i:
            times.append(elapsed)
    assert outcome is not None
    return times, outcome


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"median_ms": statistics.median(times) * 1000,
            "p90_ms": ordered[int(0.9 * (len(ordered) - 1))] * 1000,
            "max_ms": ordered[-1] * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description="kiosk flow benchmark")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import cv2

    from mynaid.face import FaceMatcher

    t0 = time.perf_counter()
    matcher = FaceMatcher()
    matcher.reference(cv2.imread(str(SAMPLE_FRAME)))  # loads the models once
    load_ms = (time.perf_counter() - t0) * 1000
    frame = cv2.cvtColor(cv2.imread(str(SAMPLE_FRAME)), cv2.COLOR_BGR2RGB)
    face = CameraFaceRoute(matcher, RepeatingFrames(frame), burst=5)
    results: dict[str, Any] = {"model_load_ms": load_ms, "rounds": args.rounds}
    print(f"face models loaded in {load_ms:.0f} ms (once per kiosk start); "
          f"{args.rounds} rounds + warm-up; burst of 5 frames per face attempt")

    def in_process() -> Any:
        return connect(card=emulated_card())

    def report(name: str, opener: Callable[[], Any]) -> None:
        for method in (Method.FACE, Method.PIN):
            times, outcome = run_flows(opener, method, args.rounds, face)
            stats = summary(times)
            results[f"{name}/{method.value}"] = {**stats, "steps": [
                s.value for s, _ in outcome.steps]}
            print(f"{name:<12} {method.value:<5} {stats['median_ms']:>8.0f} ms "
                  f"{stats['p90_ms']:>8.0f} ms {stats['max_ms']:>8.0f} ms")

    print(f"{'transport':<12} {'route':<5} {'median':>10} {'p90':>10} {'max':>10}")
    report("in-process", in_process)
    if os.geteuid() != 0:
        print("SKIPPED pcscd+vpcd: needs root (pcscd in a private network namespace)")
    else:
        from tests.pcsc_rig import card_in_rig

        with card_in_rig("mynaid-bench-kiosk-") as reader:
            report("pcscd+vpcd", lambda: connect(reader))
    print("target: <= 2000 ms per flow")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
