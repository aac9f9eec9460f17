"""The eligibility check (オンライン資格確認 prototype) on the relying party: insurance
records are one more table, linked to the person (so a renewed or replaced card finds the
same records). In the real system the link is made through J-LIS and the insurers' My
Number registration; the clinic never sees a My Number, and neither does this table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from mynaid.rp.reasons import RpError, ServiceReason

if TYPE_CHECKING:
    from mynaid.rp.core import RelyingParty
    from mynaid.rp.store import Store

__all__ = ["JST", "InsuranceRecord", "add_records", "eligibility_answer", "find_records"]

#: Insurance validity dates are calendar days in Japan.
JST = dt.timezone(dt.timedelta(hours=9), "JST")
_COLUMNS = ("person_id", "insurer_number", "insurer_name", "symbol", "number", "branch",
            "holder_name", "copayment_ratio", "valid_from", "valid_to")


@dataclass(frozen=True)
class InsuranceRecord:
    """One insurance qualification (資格) of one person."""

    person_id: str
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
        """What the kiosk is told (the person id stays on the server)."""
        out = asdict(self)
        del out["person_id"]
        out["valid_from"] = self.valid_from.isoformat()
        out["valid_to"] = self.valid_to.isoformat() if self.valid_to else None
        return out


def add_records(store: Store, records: Iterable[InsuranceRecord]) -> int:
    """Insert records (one with the same person and start date is replaced)."""
    count = 0
    with store.transaction() as tx:
        for r in records:
            tx.run("DELETE FROM insurance_records WHERE person_id = ? AND valid_from = ?",
                   (r.person_id, r.valid_from.isoformat()))
            tx.run(f"INSERT INTO insurance_records ({', '.join(_COLUMNS)}) "  # noqa: S608 (constant column names)
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (r.person_id, r.insurer_number, r.insurer_name, r.symbol, r.number,
                    r.branch, r.holder_name, r.copayment_ratio, r.valid_from.isoformat(),
                    r.valid_to.isoformat() if r.valid_to else None))
            count += 1
    return count


def find_records(store: Store, person_id: str) -> list[InsuranceRecord]:
    """The person's records, newest first."""
    rows = store.atomic(lambda tx: tx.all(
        f"SELECT {', '.join(_COLUMNS)} FROM insurance_records "  # noqa: S608
        "WHERE person_id = ? ORDER BY valid_from DESC", (person_id,)))
    return [InsuranceRecord(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]),
                            str(r[6]), int(r[7]), dt.date.fromisoformat(r[8]),
                            dt.date.fromisoformat(r[9]) if r[9] else None) for r in rows]


def eligibility_answer(rp: RelyingParty, verified: dict[str, Any],
                       route: str) -> dict[str, Any]:
    """The answer to an identified patient: the record in force today (JST), else the
    newest with ``eligible: false``; ``not-found`` without records."""
    person_id = str(verified["person_id"])
    day = rp.clock().astimezone(JST).date()
    records = find_records(rp.store, person_id)
    common = {"route": route, "method": verified.get("method", "pin"),
              "authenticated": True, "record_id": verified.get("record_id")}
    if not records:
        error = RpError(ServiceReason.NOT_FOUND, "no insurance record for this person")
        raise error
    current = next((r for r in records if r.in_force(day)), None)
    record = current or records[0]
    status = "in-force" if current else (
        "not-yet-valid" if record.valid_from > day else "lapsed")
    return {"ok": True, **common, "as_of": day.isoformat(), "eligible": current is not None,
            "status": status, "record": record.public_dict()}
