-- The eligibility check's insurance records (オンライン資格確認 prototype): one more table,
-- linked to the person, so that a renewed or replaced card finds the same records.
CREATE TABLE insurance_records (
    person_id       TEXT NOT NULL REFERENCES persons (id),
    insurer_number  TEXT NOT NULL,
    insurer_name    TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    number          TEXT NOT NULL,
    branch          TEXT NOT NULL,
    holder_name     TEXT NOT NULL,
    copayment_ratio INTEGER NOT NULL CHECK (copayment_ratio IN (10, 20, 30)),
    valid_from      TEXT NOT NULL,
    valid_to        TEXT,
    PRIMARY KEY (person_id, valid_from)
);
