"""Benchmark: card signatures per second, CMS signing with the card, and CMS verify time.

    python benchmarks/bench_sign.py [--rounds N] [--json OUT] [--no-pcsc]

Measured (median and min over N rounds, after one warm-up):

* ``sign_digest_info`` with the auth key (PIN 1234) and the signature key (password
  TEST1234): one PC/SC transaction each (SELECT AP, counter query, VERIFY, SELECT key EF,
  COMPUTE DIGITAL SIGNATURE), in-process and through pcscd + vpcd (as root, with the rig of
  ``tests/pcsc_rig.py``, which waits for the rig lock if another run holds it);
* ``mynaid.cms.sign`` of 1 KiB with the signature key (one card signature plus building);
* ``mynaid.cms.verify`` of that signature: parsing, messageDigest, signature, path validation
  to the test root, SAN holder data (no revocation check: that is network time).

Figures are reported, never asserted. The emulated card computes RSA in pure Python (CRT), so
in-process figures bound the library's own overhead from above, not a real card's speed
(a real My Number Card takes some hundreds of milliseconds per signature).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
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

from mynaid.protocol import CardProtocol  # noqa: E402
from mynaid.sessions.jpki import JpkiSession, digest_info  # noqa: E402

READER = "Virtual PCD 00 00"
AUTH_PIN = "1234"
SIGN_PASSWORD = "TEST1234"
SECRETS = {"auth": AUTH_PIN, "sign": SIGN_PASSWORD}
CONTENT = bytes(range(256)) * 4


@dataclass
class Figure:
    transport: str
    what: str
    median_ms: float
    min_ms: float
    per_second: float
    apdus_per_op: float | None = None


def _timed(rounds: int, op: Callable[[], object]) -> list[float]:
    op()  # warm-up (first SELECT, imports, caches)
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        op()
        samples.append(time.perf_counter() - start)
    return samples


def _figure(transport: str, what: str, samples: list[float],
            apdus: float | None = None) -> Figure:
    median = statistics.median(samples)
    return Figure(transport, what, median * 1000, min(samples) * 1000, 1 / median, apdus)


def measure_card(transport: str, protocol: CardProtocol, rounds: int) -> list[Figure]:
    """Card signatures with both keys, and CMS signing with the signature key."""
    from mynaid import cms
    from mynaid.cardkey import CardRsaPrivateKey

    figures = []
    session = JpkiSession(protocol)
    to_sign = digest_info("sha256", hashlib.sha256(b"benchmark").digest())
    for key in ("auth", "sign"):
        before = protocol.stats.commands
        samples = _timed(rounds, functools.partial(session.sign_digest_info, key, to_sign,
                                                   SECRETS[key]))
        apdus = (protocol.stats.commands - before) / (rounds + 1)
        figures.append(_figure(transport, f"card signature ({key} key)", samples, apdus))
    card_key = CardRsaPrivateKey.open(protocol, "sign", SIGN_PASSWORD)
    samples = _timed(rounds, lambda: cms.sign(CONTENT, card_key, card_key.certificate))
    figures.append(_figure(transport, "cms.sign 1 KiB (sign key)", samples))
    return figures


def measure_verify(rounds: int) -> list[Figure]:
    """CMS verify of a card signature (no card involved)."""
    from mynaid import cms
    from mynaid.cardkey import CardRsaPrivateKey
    from mynaid.connect import connect, emulated_card
    from mynaid.trust.anchors import TrustStore

    with connect(card=emulated_card()) as protocol:
        key = CardRsaPrivateKey.open(protocol, "sign", SIGN_PASSWORD)
        attached = cms.sign(CONTENT, key, key.certificate)
        detached = cms.sign(CONTENT, key, key.certificate, detached=True)
    trust = TrustStore.jpki()
    trust.add_path(ROOT / "vectors" / "test-pki" / "sign-root.pem")
    return [
        _figure("no card", "cms.verify attached 1 KiB", _timed(
            rounds, lambda: cms.verify(attached, trust))),
        _figure("no card", "cms.verify detached 1 KiB", _timed(
            rounds, lambda: cms.verify(detached, trust, content=CONTENT))),
    ]


@contextmanager
def _pcsc_protocol() -> Iterator[CardProtocol]:
    from mynaid.connect import connect

    with connect(READER) as protocol:
        yield protocol


def run(rounds: int, pcsc: bool) -> tuple[list[Figure], list[str]]:
    from mynaid.connect import connect, emulated_card

    figures: list[Figure] = []
    notes: list[str] = []
    with connect(card=emulated_card()) as protocol:
        figures += measure_card("in-process", protocol, rounds)
    figures += measure_verify(rounds)
    if not pcsc:
        notes.append("PC/SC skipped (--no-pcsc)")
        return figures, notes
    if os.geteuid() != 0:
        notes.append("PC/SC skipped: needs root (pcscd in a private network namespace)")
        return figures, notes
    from tests.pcsc_rig import RigUnavailable, card_in_rig

    started = time.monotonic()
    try:
        with card_in_rig("mynaid-bench-sign-"):
            notes.append(f"rig ready after {time.monotonic() - started:.1f} s")
            with _pcsc_protocol() as protocol:
                figures += measure_card("pcscd+vpcd", protocol, rounds)
    except RigUnavailable as exc:
        notes.append(f"PC/SC skipped: {exc}")
    return figures, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=30, help="timed operations per figure")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument("--no-pcsc", action="store_true", help="in-process only")
    args = parser.parse_args(argv)
    figures, notes = run(max(1, args.rounds), not args.no_pcsc)
    print(f"{'transport':<11} {'operation':<28} {'median ms':>9} {'min ms':>8} {'per s':>7} "
          f"{'APDUs/op':>8}")
    for f in figures:
        apdus = f"{f.apdus_per_op:.0f}" if f.apdus_per_op is not None else "-"
        print(f"{f.transport:<11} {f.what:<28} {f.median_ms:>9.2f} {f.min_ms:>8.2f} "
              f"{f.per_second:>7.1f} {apdus:>8}")
    for note in notes:
        print(note)
    if args.json:
        args.json.write_text(json.dumps({"rounds": args.rounds, "notes": notes,
                                         "figures": [asdict(f) for f in figures]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
