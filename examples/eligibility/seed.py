"""Demo insurance records: the emulator's default card, plus a few unrelated ones.

All of it is invented test data (the holder name is the test card's, "試験 花子"); the
insurer numbers are in no real insurer's range we know of, and the names say TEST.

    python -m examples.eligibility.seed records.sqlite3
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509

from examples.eligibility.records import InsuranceRecord, RecordStore, certificate_key
from mynaid.emulator import default_profile
from mynaid.emulator.profile import CardProfile

__all__ = ["demo_records", "seed_database"]

#: The test card holder's name, as on the (invented) insurance card.
DEMO_HOLDER = "試験\u3000花子"


def demo_records(profile: CardProfile | None = None) -> list[InsuranceRecord]:
    """Records for ``profile``'s auth certificate (default: the emulator's default card),
    one in force and one lapsed, and two for certificates no test card has."""
    card = profile or default_profile()
    cert = x509.load_der_x509_certificate(card.jpki.auth_cert)
    issuer, serial = certificate_key(cert)
    return [
        # The card's current qualification: a 3割 (30 %) copayment, in force.
        InsuranceRecord(issuer, serial, "06139990", "mynaid テスト健康保険組合 (TEST)",
                        "TEST-1", "2345", "00", DEMO_HOLDER, 30, dt.date(2024, 4, 1)),
        # Its previous employer's insurance, lapsed: shown only if nothing is in force.
        InsuranceRecord(issuer, serial, "01139990", "mynaid テスト協会 (TEST)",
                        "TEST-9", "87", "01", DEMO_HOLDER, 30, dt.date(2019, 4, 1),
                        dt.date(2024, 3, 31)),
        # Unrelated patients (serials that no generated test card has: 160-bit and above).
        InsuranceRecord(issuer, "F" * 41, "139990", "mynaid テスト市国民健康保険 (TEST)",
                        "TEST-2", "345", "00", "試験\u3000一郎", 20, dt.date(2020, 1, 1)),
        InsuranceRecord("CN=another test CA,O=mynaid TEST,C=JP", "01",
                        "39139990", "mynaid テスト後期高齢者医療 (TEST)", "TEST-3", "4567",
                        "00", "試験\u3000次郎", 10, dt.date(2021, 8, 1)),
    ]


def seed_database(path: str | Path, profile: CardProfile | None = None) -> int:
    """Create the database at ``path`` (if needed) and add the demo records."""
    store = RecordStore(path)
    store.create()
    return store.add(demo_records(profile))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: seed a database file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path, help="the SQLite file (created if missing)")
    parser.add_argument("--profile", type=Path,
                        help="an emulator profile whose card gets the records "
                             "(default: the built-in test card)")
    args = parser.parse_args(argv)
    profile = CardProfile.load(args.profile) if args.profile else None
    count = seed_database(args.database, profile)
    print(f"{args.database}: {count} demo records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
