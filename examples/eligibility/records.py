"""The insurance records: an embedded SQLite database keyed by auth certificate.

In the real system the auth certificate's serial is linked (through J-LIS and the
insurers' My Number registration) to the patient's insurance; the clinic never sees a My
Number. Here the link is a table: (issuer DN, serial) of the auth certificate -> record.

The issuer is stored as ``cryptography``'s RFC 4514 rendering of the certificate's issuer
DN and the serial as upper-case hex without leading zeros (how ``mynaid`` prints serials);
both sides compute them with :func:`certificate_key`, so they always match. Serials are
unique per issuing CA (RFC 5280 §4.1.2.2), hence the pair.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

__all__ = ["JST", "InsuranceRecord", "RecordStore", "certificate_key", "eligibility"]

#: Insurance validity dates are calendar days in Japan.
JST = dt.timezone(dt.timedelta(hours=9), "JST")

SCHEMA = """
CREATE TABLE IF NOT EXISTS insurance_records (
    issuer          TEXT NOT NULL,  -- RFC 4514 issuer DN of the auth certificate
    serial          TEXT NOT NULL,  -- its serial, upper-case hex
    insurer_number  TEXT NOT NULL,  -- 保険者番号 (8 digits; 6 for national health insurance)
    insurer_name    TEXT NOT NULL,
    symbol          TEXT NOT NULL,  -- 記号
    number          TEXT NOT NULL,  -- 番号
    branch          TEXT NOT NULL,  -- 枝番 (2 digits)
    holder_name     TEXT NOT NULL,  -- as printed on the insurance card (test data only)
    copayment_ratio INTEGER NOT NULL CHECK (copayment_ratio IN (10, 20, 30)),  -- percent
    valid_from      TEXT NOT NULL,  -- ISO date, JST
    valid_to        TEXT,           -- ISO date, JST, inclusive; NULL while in force
    PRIMARY KEY (issuer, serial, valid_from)
) WITHOUT ROWID;
"""


def certificate_key(cert: x509.Certificate) -> tuple[str, str]:
    """The (issuer, serial) lookup key of an auth certificate."""
    return cert.issuer.rfc4514_string(), format(cert.serial_number, "X")


@dataclass(frozen=True)
class InsuranceRecord:
    """One insurance qualification (資格) linked to one auth certificate."""

    issuer: str
    serial: str
    insurer_number: str
    insurer_name: str
    symbol: str
    number: str
    branch: str
    holder_name: str
    copayment_ratio: int
    valid_from: dt.date
    valid_to: dt.date | None = None

    def in_force(self, day: dt.date) -> bool:
        """Whether the qualification covers ``day`` (both bounds inclusive)."""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def public_dict(self) -> dict[str, Any]:
        """What the kiosk is told (the lookup key stays on the server)."""
        out = asdict(self)
        del out["issuer"], out["serial"]
        out["valid_from"] = self.valid_from.isoformat()
        out["valid_to"] = self.valid_to.isoformat() if self.valid_to else None
        return out


_COLUMNS = ("issuer", "serial", "insurer_number", "insurer_name", "symbol", "number",
            "branch", "holder_name", "copayment_ratio", "valid_from", "valid_to")


class RecordStore:
    """The records in one SQLite file. Each call opens its own connection, so the store is
    safe to share between the server's request threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def create(self) -> None:
        """Create the table if it does not exist."""
        with closing(sqlite3.connect(self.path)) as db, db:
            db.executescript(SCHEMA)

    def add(self, records: Iterable[InsuranceRecord]) -> int:
        """Insert records (replacing one with the same key and start date)."""
        rows = [(r.issuer, r.serial, r.insurer_number, r.insurer_name, r.symbol, r.number,
                 r.branch, r.holder_name, r.copayment_ratio, r.valid_from.isoformat(),
                 r.valid_to.isoformat() if r.valid_to else None) for r in records]
        marks = ", ".join("?" * len(_COLUMNS))
        with closing(sqlite3.connect(self.path)) as db, db:
            db.executemany(f"INSERT OR REPLACE INTO insurance_records ({', '.join(_COLUMNS)}) "  # noqa: S608 (constant column names, values are parameters)
                           f"VALUES ({marks})", rows)
        return len(rows)

    def find(self, issuer: str, serial: str) -> list[InsuranceRecord]:
        """Every record of one certificate, newest first."""
        # Read-only: the server only looks up, so no request can change the records.
        uri = self.path.resolve().as_uri() + "?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as db:
            rows = db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM insurance_records "  # noqa: S608 (constant column names)
                "WHERE issuer = ? AND serial = ? ORDER BY valid_from DESC",
                (issuer, serial)).fetchall()
        return [InsuranceRecord(
            issuer=row[0], serial=row[1], insurer_number=row[2], insurer_name=row[3],
            symbol=row[4], number=row[5], branch=row[6], holder_name=row[7],
            copayment_ratio=int(row[8]), valid_from=dt.date.fromisoformat(row[9]),
            valid_to=dt.date.fromisoformat(row[10]) if row[10] else None) for row in rows]


def eligibility(records: list[InsuranceRecord], day: dt.date
                ) -> tuple[InsuranceRecord, bool] | None:
    """The record to show for ``day`` and whether it is in force: the one in force if any,
    else the newest (a lapsed or future qualification); None without records."""
    if not records:
        return None
    current = next((r for r in records if r.in_force(day)), None)
    return (current, True) if current else (records[0], False)
