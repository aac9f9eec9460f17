"""Demo data for the eligibility service: the emulated test card's holder, registered with
the relying-party service, and invented insurance records for them.

Registration is the real one (the card's signature and auth keys sign a registration
nonce, with the test card's published secrets), done in-process against the store; the
insurance records then hang off the registered person, as an insurer's batch would add
them. All of it is test data; the insurer numbers are in no real insurer's range we know.

    python -m examples.eligibility.seed sqlite:///records.sqlite3
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

from examples.eligibility.wire import DEFAULT_CONTEXT
from mynaid.emulator import default_profile
from mynaid.emulator.profile import CardProfile
from mynaid.rp.client import registration_body
from mynaid.rp.core import RelyingParty, RpConfig
from mynaid.rp.eligibility import InsuranceRecord, add_records
from mynaid.rp.store import open_store
from mynaid.trust.anchors import TrustStore

__all__ = ["DEMO_HOLDER", "demo_records", "seed_database", "test_trust"]

REPO = Path(__file__).resolve().parents[2]
#: The test card holder's name, as on the (invented) insurance card.
DEMO_HOLDER = "試験\u3000花子"


def test_trust() -> TrustStore:
    """The committed test roots the emulator's cards chain to (never J-LIS)."""
    store = TrustStore.empty()
    for name in ("auth-root.pem", "sign-root.pem"):
        store.add_file(REPO / "vectors" / "test-pki" / name)
    return store


def demo_records(person_id: str) -> list[InsuranceRecord]:
    """One qualification in force and one lapsed, for ``person_id``."""
    return [
        InsuranceRecord(person_id, "06139990", "mynaid テスト健康保険組合 (TEST)", "TEST-1",
                        "2345", "00", DEMO_HOLDER, 30, dt.date(2024, 4, 1)),
        InsuranceRecord(person_id, "01139990", "mynaid テスト協会 (TEST)", "TEST-9", "87",
                        "01", DEMO_HOLDER, 30, dt.date(2019, 4, 1), dt.date(2024, 3, 31)),
    ]


def seed_database(store_url: str | Path, profile: CardProfile | None = None, *,
                  context: str = DEFAULT_CONTEXT, trust: TrustStore | None = None) -> str:
    """Register ``profile``'s holder (default: the built-in test card) in the store at
    ``store_url`` and add the demo records; the person id."""
    from mynaid.connect import connect
    from mynaid.emulator import build_card

    card = profile or default_profile()
    store = open_store(str(store_url))
    try:
        store.migrate()
        rp = RelyingParty(store, RpConfig(trust=trust or test_trust(), context=context))
        nonce = bytes.fromhex(rp.issue("register")["nonce"])
        with connect(card=build_card(card)) as protocol:
            answer = rp.register(registration_body(
                protocol, nonce, context, sign_password=card.jpki.sign_password,
                auth_pin=card.jpki.auth_pin))
        person_id = str(answer["person_id"])
        add_records(store, demo_records(person_id))
    finally:
        store.close()
    return person_id


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: seed a store (an SQLite file or a PostgreSQL URL)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", help="sqlite:///FILE, a file path, or postgresql://...")
    parser.add_argument("--profile", type=Path,
                        help="an emulator profile whose holder gets the records "
                             "(default: the built-in test card)")
    args = parser.parse_args(argv)
    profile = CardProfile.load(args.profile) if args.profile else None
    person = seed_database(args.store, profile)
    print(f"{args.store}: demo records for person {person}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
