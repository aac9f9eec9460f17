-- The relying party's tables. Portable SQL: SQLite and PostgreSQL run the same file.
-- Ids are random text chosen by the application (no SERIAL / AUTOINCREMENT dialects);
-- times are UTC ISO 8601 text with a fixed width ("2026-12-02T00:00:00.000000Z"), so
-- that text order is time order.

-- The person: the signature certificate's four attributes (基本4情報), as registered.
CREATE TABLE persons (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    name_flags    TEXT NOT NULL,   -- the SAN's substitute-character flags
    birth_date    TEXT,            -- ISO date; NULL when the certificate gives none
    birth_raw     TEXT NOT NULL,   -- EYYYYMMDD as in the certificate
    sex_code      TEXT NOT NULL,   -- 1 male, 2 female, 3 unspecified (the SAN's codes)
    address       TEXT NOT NULL,
    identity_key  TEXT NOT NULL UNIQUE,  -- SHA-256 of the four attributes, normalised
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- Certificates linked to a person: the signature certificate of a registration and the
-- auth certificate presented with it. A renewal retires the person's older ones.
CREATE TABLE certificates (
    id              TEXT PRIMARY KEY,
    person_id       TEXT NOT NULL REFERENCES persons (id),
    kind            TEXT NOT NULL CHECK (kind IN ('sign', 'auth')),
    issuer          TEXT NOT NULL,   -- RFC 4514 issuer DN
    serial          TEXT NOT NULL,   -- upper-case hex
    fingerprint     TEXT NOT NULL,   -- SHA-256 of the DER, hex
    der             TEXT NOT NULL,   -- base64 DER (the status re-check needs it)
    issuer_der      TEXT NOT NULL,   -- base64 DER of the issuing CA certificate
    not_after       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('active', 'retired', 'revoked')),
    registered_at   TEXT NOT NULL,
    retired_at      TEXT,
    last_checked_at TEXT,
    UNIQUE (issuer, serial, kind)
);
CREATE INDEX certificates_person ON certificates (person_id, status);
CREATE INDEX certificates_due ON certificates (status, last_checked_at);

-- One-time challenges. A nonce is spent by one UPDATE ... WHERE used_at IS NULL, in the
-- same transaction as the confirmation record of its answer: the database, not a process
-- lock, makes it single-use across workers and machines.
CREATE TABLE nonces (
    nonce       TEXT PRIMARY KEY,   -- hex
    purpose     TEXT NOT NULL,
    issued_at   TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
CREATE INDEX nonces_expiry ON nonces (expires_at);

-- 確認記録: one row per check. What was checked, when, with which certificates (issuer,
-- serial, fingerprint), the result and its reason. Never a My Number, never a photo,
-- never the card-face attributes themselves (only which checks passed).
CREATE TABLE confirmation_records (
    id                TEXT PRIMARY KEY,
    at                TEXT NOT NULL,
    operation         TEXT NOT NULL,   -- register, renew, login, face, visual, recheck
    result            TEXT NOT NULL CHECK (result IN ('accepted', 'refused', 'indeterminate')),
    reason            TEXT NOT NULL,   -- 'ok' or a reason code
    person_id         TEXT,
    nonce_digest      TEXT,            -- SHA-256 of the nonce (links a record to its nonce)
    auth_issuer       TEXT,
    auth_serial       TEXT,
    auth_fingerprint  TEXT,
    sign_issuer       TEXT,
    sign_serial       TEXT,
    sign_fingerprint  TEXT,
    kiosk_id          TEXT,
    details           TEXT NOT NULL    -- JSON: checks made, revocation sources, policy kind
);
CREATE INDEX confirmation_records_person ON confirmation_records (person_id, at);
CREATE INDEX confirmation_records_nonce ON confirmation_records (nonce_digest);
