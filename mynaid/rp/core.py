"""The relying party: registration, login, the face route, renewal, status re-checks.

No web framework here: :class:`RelyingParty` takes parsed JSON bodies (dicts), returns
JSON-friendly dicts and raises :class:`~mynaid.rp.reasons.RpError` with a stable reason
code; :mod:`mynaid.service` only moves HTTP. The state is all in the :class:`Store`, so any
number of instances (threads, worker processes, machines) can share one database.

Every check follows the same order:

1. parse the body (``malformed`` refusals spend nothing and leave no record);
2. the checks that need no state: context, signatures, certificate paths (cached by DER:
   :mod:`mynaid.rp.pathcache`), revocation (network, so outside any transaction);
3. one database transaction: spend the nonce (``UPDATE nonces SET used_at = ... WHERE
   nonce = ? AND used_at IS NULL RETURNING``), look the person up, decide, write the
   confirmation record, commit. A nonce is spent by its first answer, even one that is
   refused, and its record is written with it or not at all.

Signed messages (all with :func:`mynaid.challenge.signed_message`, so a signature made for
one purpose is valid for no other):

* login: the auth key over ``signed_message(context, nonce)`` - exactly what
  :func:`mynaid.challenge.respond` makes, so ``mynaid auth --json`` output can be posted;
* registration: the signature key *and* the auth key over
  ``signed_message(context + "/register", nonce)``: the signature certificate's four
  attributes become the person, and the auth key's signature over the same nonce shows the
  auth certificate belongs to the same holder (without it anyone could link a victim's
  public auth certificate to their own identity);
* face / visual: a registered kiosk's Ed25519 signature over the claim (the nonce, the
  auth certificate, the method and the verified card-face identity).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mynaid.challenge import NONCE_SIZE, signed_message
from mynaid.rp.binding import CardFaceIdentity, bind
from mynaid.rp.models import (
    CertificateStatus,
    ConfirmationRecord,
    Operation,
    Person,
    certificate_ref,
    new_id,
    parse_time,
    time_text,
)
from mynaid.rp.pathcache import PathCache
from mynaid.rp.reasons import RpError, ServiceReason
from mynaid.rp.revocation import RevocationChain
from mynaid.rp.store import Store, Tx
from mynaid.trust.anchors import TrustStore
from mynaid.trust.errors import Reason, VerificationError
from mynaid.trust.path import CertificateRole, ValidatedPath
from mynaid.trust.revocation import RevocationResult, RevocationStatus
from mynaid.trust.san import HolderInfo, parse_holder

__all__ = [
    "DEVICE_TAG",
    "PURPOSES",
    "REGISTER_SUFFIX",
    "LoginPlan",
    "RelyingParty",
    "RpConfig",
    "device_message",
]

log = logging.getLogger("mynaid.rp")

#: What a nonce may be issued for; a nonce answers only its own purpose.
PURPOSES = ("login", "register", "face")
REGISTER_SUFFIX = "/register"
#: Domain separation of the kiosk's device signature.
DEVICE_TAG = b"mynaid rp device claim v1\x00"
DEVICE_METHODS = ("face", "visual")
MAX_CA_CERTIFICATES = 4
MAX_CERT_B64 = 16_384


#: The accepted-login statement of :meth:`RelyingParty._login_one_statement` (PostgreSQL:
#: a data-modifying CTE; constant column names only).
_LOGIN_ONE_STATEMENT = "".join((
    "WITH person AS (SELECT c.person_id AS id FROM certificates c WHERE c.issuer = ? AND ",
    "c.serial = ? AND c.kind = 'auth' AND c.status = 'active'), ",
    "spent AS (UPDATE nonces SET used_at = ? WHERE nonce = ? AND used_at IS NULL AND ",
    "purpose = 'login' AND expires_at >= ? AND EXISTS (SELECT 1 FROM person) ",
    "RETURNING nonce), rec AS (INSERT INTO confirmation_records (",
    ", ".join(ConfirmationRecord.COLUMNS), ") SELECT ",
    ", ".join("person.id" if c == "person_id" else "?" for c in ConfirmationRecord.COLUMNS),
    " FROM spent, person RETURNING person_id) SELECT person_id FROM rec"))


def _statement(sql: str, params: tuple[Any, ...]) -> Callable[[Tx], int]:
    return lambda tx: tx.run(sql, params)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class RpConfig:
    """What the relying party needs besides its store."""

    #: Anchors for both auth and signature certificates (J-LIS roots, or the test roots).
    trust: TrustStore = field(default_factory=TrustStore.jpki)
    context: str = "mynaid-rp"
    nonce_lifetime: dt.timedelta = dt.timedelta(minutes=2)
    production_only: bool = False
    revocation: RevocationChain | None = None
    #: Registered kiosks: id -> Ed25519 public key (the face and visual routes).
    devices: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    #: How often the status re-check (現況確認) asks about each active certificate.
    recheck_interval: dt.timedelta = dt.timedelta(days=1)


@dataclass(frozen=True)
class _Presented:
    """A certificate with its CA certificates, as sent (DER kept for the path cache)."""

    cert: x509.Certificate
    der: bytes
    cas: tuple[x509.Certificate, ...]
    ca_ders: tuple[bytes, ...]


def _b64(value: Any, what: str, limit: int = MAX_CERT_B64) -> bytes:
    if not isinstance(value, str) or len(value) > limit:
        raise RpError(ServiceReason.MALFORMED, f"{what} must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise RpError(ServiceReason.MALFORMED, f"{what} must be base64 text") from None


#: Parsed certificates by their DER bytes as received: the same card sends the same bytes
#: every time, so a repeat login finds the same (immutable) object, and :data:`_IDENT` can
#: find what it derived from that object by identity instead of re-encoding it.
_PARSED: dict[bytes, x509.Certificate] = {}
_CACHE_SIZE = 4096


def _certificate(der: bytes, what: str) -> x509.Certificate:
    found = _PARSED.get(der)
    if found is not None:
        return found
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        raise RpError(Reason.MALFORMED_CERTIFICATE, f"{what} does not parse") from None
    if len(_PARSED) >= _CACHE_SIZE:
        _PARSED.clear()  # bounded; a miss costs only a parse
    _PARSED[der] = cert
    return cert


def _presented(data: dict[str, Any], what: str) -> _Presented:
    der = _b64(data.get("certificate"), f"{what}.certificate")
    cas_raw = data.get("ca_certificates", [])
    if not isinstance(cas_raw, list) or len(cas_raw) > MAX_CA_CERTIFICATES:
        raise RpError(ServiceReason.MALFORMED,
                      f"{what}.ca_certificates must be a list of at most "
                      f"{MAX_CA_CERTIFICATES}")
    ca_ders = tuple(_b64(c, f"{what}.ca_certificates") for c in cas_raw)
    return _Presented(_certificate(der, f"{what}.certificate"), der,
                      tuple(_certificate(d, f"{what}.ca_certificates") for d in ca_ders),
                      ca_ders)


def _nonce(data: dict[str, Any]) -> bytes:
    value = data.get("nonce")
    if not isinstance(value, str) or len(value) != 2 * NONCE_SIZE:
        raise RpError(ServiceReason.MALFORMED, f"nonce must be {NONCE_SIZE} bytes of hex")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise RpError(ServiceReason.MALFORMED, "nonce must be hex") from None


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RpError(ServiceReason.MALFORMED, f"{what} must be a JSON object")
    return value


def device_message(claim: dict[str, Any]) -> bytes:
    """The bytes a kiosk's device key signs: a tag, then the claim as canonical JSON
    (sorted keys, no white space, UTF-8). The service re-serialises the claim it parsed,
    so any change to any field breaks the signature."""
    return DEVICE_TAG + json.dumps(claim, sort_keys=True, separators=(",", ":"),
                                   ensure_ascii=False).encode("utf-8")


#: (issuer DN text, serial hex, SHA-256 fingerprint, log tag) per certificate object: the
#: RFC 4514 rendering, the fingerprint and the log tag (each a DER re-encoding, 15-20 us)
#: cost more than the RSA verification, and each check needs them several times. Keyed by
#: ``id()`` with the object kept in the entry (so the id cannot be reused while the entry
#: lives); the objects come from :data:`_PARSED`, so repeat requests hit. Bounded.
_IDENT: dict[int, tuple[x509.Certificate, tuple[str, str, str, str]]] = {}


def _identity(cert: x509.Certificate) -> tuple[str, str, str, str]:
    entry = _IDENT.get(id(cert))
    if entry is not None and entry[0] is cert:
        return entry[1]
    found = (cert.issuer.rfc4514_string(), format(cert.serial_number, "X"),
             cert.fingerprint(hashes.SHA256()).hex(), certificate_ref(cert))
    if len(_IDENT) >= _CACHE_SIZE:
        _IDENT.clear()
    _IDENT[id(cert)] = (cert, found)
    return found


def _ident(cert: x509.Certificate) -> tuple[str, str, str]:
    issuer, serial, fp, _ = _identity(cert)
    return issuer, serial, fp


def _issuer_serial(cert: x509.Certificate) -> tuple[str, str]:
    issuer, serial, _ = _ident(cert)
    return issuer, serial


def _cert_fields(prefix: str, cert: x509.Certificate | None) -> dict[str, str | None]:
    if cert is None:
        return {}
    issuer, serial, fp = _ident(cert)
    return {f"{prefix}_issuer": issuer, f"{prefix}_serial": serial,
            f"{prefix}_fingerprint": fp}


@dataclass
class _Check:
    """One check in progress: what goes into its confirmation record."""

    operation: Operation
    nonce: bytes | None = None
    auth: x509.Certificate | None = None
    sign: x509.Certificate | None = None
    kiosk_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    error: RpError | None = None


@dataclass
class LoginPlan:
    """A login whose stateless checks have run (:meth:`RelyingParty.prepare_login`)."""

    check: _Check
    now: dt.datetime
    presented: _Presented
    #: PostgreSQL, every check passed: the one statement that accepts it, and its record.
    statement: tuple[str, tuple[Any, ...]] | None = None
    record: ConfirmationRecord | None = None


class RelyingParty:
    """The relying-party core over one :class:`Store` (thread-safe)."""

    def __init__(self, store: Store, config: RpConfig | None = None, *,
                 clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self.store = store
        self.config = config or RpConfig()
        self.clock = clock
        self.paths = PathCache(self.config.trust)
        signed_message(self.config.context + REGISTER_SUFFIX, b"\x00" * NONCE_SIZE)
        self._issued = 0

    # --- nonces -------------------------------------------------------------------------

    def issue(self, purpose: str = "login") -> dict[str, Any]:
        """A fresh one-time challenge for ``purpose`` (login, register or face)."""
        statements, answer = self.issue_statements(purpose)
        for sql, params in statements:
            self.store.atomic(_statement(sql, params))
        return answer

    def issue_statements(self, purpose: str = "login"
                         ) -> tuple[list[tuple[str, tuple[Any, ...]]], dict[str, Any]]:
        """What :meth:`issue` runs, for a caller that runs statements its own way (the
        service's asynchronous PostgreSQL path): the statements, each its own transaction
        and in order (the nonce's INSERT, now and then a purge of old nonces), and the
        answer to give once they have run."""
        if purpose not in PURPOSES:
            raise RpError(ServiceReason.MALFORMED,
                          f"purpose must be one of {', '.join(PURPOSES)}")
        now = self.clock()
        nonce = secrets.token_bytes(NONCE_SIZE)
        expires = now + self.config.nonce_lifetime
        statements: list[tuple[str, tuple[Any, ...]]] = [(
            "INSERT INTO nonces (nonce, purpose, issued_at, expires_at) VALUES (?, ?, ?, ?)",
            (nonce.hex(), purpose, time_text(now), time_text(expires)))]
        self._issued += 1
        if self._issued % 512 == 1:
            statements.append(self._purge_statement())
        context = self.config.context + (REGISTER_SUFFIX if purpose == "register" else "")
        return statements, {
            "ok": True, "nonce": nonce.hex(), "purpose": purpose, "context": context,
            "issued_at": now.isoformat(), "expires_at": expires.isoformat(),
            "lifetime_seconds": int(self.config.nonce_lifetime.total_seconds())}

    def _purge_statement(self) -> tuple[str, tuple[Any, ...]]:
        cutoff = self.clock() - self.config.nonce_lifetime
        return "DELETE FROM nonces WHERE expires_at < ?", (time_text(cutoff),)

    def purge_nonces(self) -> int:
        """Forget nonces one lifetime after they expired (a replay is then "unknown",
        still refused)."""
        sql, params = self._purge_statement()
        return self.store.atomic(lambda tx: tx.run(sql, params))

    def _spend(self, tx: Tx, nonce: bytes, purpose: str, now: dt.datetime) -> None:
        """Spend ``nonce`` in ``tx``: one statement, so only one transaction can win."""
        row = tx.one("UPDATE nonces SET used_at = ? WHERE nonce = ? AND used_at IS NULL "
                     "RETURNING purpose, expires_at", (time_text(now), nonce.hex()))
        if row is None:
            if tx.one("SELECT 1 FROM nonces WHERE nonce = ?", (nonce.hex(),)):
                raise RpError(ServiceReason.NONCE_REPLAYED, "this nonce was already answered")
            raise RpError(ServiceReason.NONCE_UNKNOWN,
                          "this service did not issue that nonce (or has forgotten it)")
        if row[0] != purpose:
            raise RpError(ServiceReason.NONCE_WRONG_PURPOSE,
                          f"the nonce was issued for {row[0]}, not {purpose}")
        if now > parse_time(str(row[1])):
            raise RpError(ServiceReason.NONCE_EXPIRED, "the nonce is past its lifetime")

    # --- shared checks ----------------------------------------------------------------------

    def _signature(self, cert: x509.Certificate, signature: bytes, message: bytes,
                   what: str) -> None:
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise RpError(Reason.UNSUPPORTED_ALGORITHM, f"the {what} certificate does not "
                                                        "hold an RSA key")
        try:
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise RpError(Reason.BAD_SIGNATURE,
                          f"the {what} signature over the nonce does not verify") from None

    def _path(self, presented: _Presented, role: CertificateRole,
              now: dt.datetime) -> ValidatedPath:
        return self.paths.validate(presented.cert, presented.der, presented.cas,
                                   presented.ca_ders, role=role, at=now,
                                   production_only=self.config.production_only)

    def _revocation(self, path: ValidatedPath, now: dt.datetime) -> list[RevocationResult]:
        if self.config.revocation is None:
            return []
        return self.config.revocation.enforce(path.certificates, now)

    def _new_record(self, check: _Check, now: dt.datetime, person_id: str | None,
                    result: str | None = None) -> ConfirmationRecord:
        error = check.error
        return ConfirmationRecord(
            id=new_id(), at=now, operation=check.operation.value,
            result=result or ("refused" if error else "accepted"),
            reason=error.reason if error else "ok", person_id=person_id,
            nonce_digest=hashlib.sha256(check.nonce).hexdigest() if check.nonce else None,
            kiosk_id=check.kiosk_id, details=check.details,
            **_cert_fields("auth", check.auth), **_cert_fields("sign", check.sign))

    def _record(self, tx: Tx, check: _Check, now: dt.datetime, person_id: str | None,
                result: str | None = None) -> ConfirmationRecord:
        record = self._new_record(check, now, person_id, result)
        marks = ", ".join("?" * len(ConfirmationRecord.COLUMNS))
        tx.run(f"INSERT INTO confirmation_records ({', '.join(ConfirmationRecord.COLUMNS)}) "  # noqa: S608 (constant column names)
               f"VALUES ({marks})", record.row())
        return record

    def _finish(self, check: _Check, purpose: str, now: dt.datetime,
                decide: Callable[[Tx], tuple[str | None, dict[str, Any]]]) -> dict[str, Any]:
        """The transaction of steps 3: spend the nonce, decide, record, commit; then return
        the answer or raise the refusal."""
        refusal = check.error  # from the stateless checks

        def work(tx: Tx) -> tuple[ConfirmationRecord | None, dict[str, Any]]:
            check.error = refusal  # (again, if the work is run a second time)
            person_id: str | None = None
            answer: dict[str, Any] = {}
            try:
                if check.nonce is not None:
                    self._spend(tx, check.nonce, purpose, now)
                if check.error is None:
                    person_id, answer = decide(tx)
            except RpError as exc:
                check.error = exc  # a nonce refusal overrides a check's refusal
            if check.error is not None and \
                    check.error.reason == ServiceReason.NONCE_UNKNOWN.value:
                # Not a nonce of ours: recording it would let anyone fill the table.
                return None, answer
            return self._record(tx, check, now, person_id), answer

        record, answer = self.store.atomic(work)
        log.info("check op=%s auth=%s kiosk=%s -> %s", check.operation.value,
                 _identity(check.auth)[3] if check.auth else "-", check.kiosk_id or "-",
                 check.error.reason if check.error else "ok")
        if check.error is not None:
            raise check.error
        assert record is not None
        return {"ok": True, "operation": check.operation.value, "record_id": record.id,
                **answer}

    @staticmethod
    def _guard(check: _Check, step: Callable[[], Any]) -> Any:
        """Run a stateless check; a refusal is kept for the record, not raised yet."""
        if check.error is not None:
            return None
        try:
            return step()
        except RpError as exc:
            check.error = exc
        except VerificationError as exc:
            check.error = RpError.from_verification(exc)
        return None

    @staticmethod
    def _context(data: dict[str, Any], expected: str) -> None:
        if data.get("context") != expected:
            raise RpError(ServiceReason.CONTEXT_MISMATCH,
                          "the response was made for another service context")

    # --- login ---------------------------------------------------------------------------

    def login(self, body: Any) -> dict[str, Any]:
        """An auth-key signature over a login nonce; the person found by the auth
        certificate's issuer and serial."""
        plan = self.prepare_login(body)
        if plan.statement is not None:
            try:
                rows = self.store.single(*plan.statement)
            except RpError:
                rows = []  # (StoreUnavailable) the general path retries and decides
            answer = self.accepted_login(plan, rows)
            if answer is not None:
                return answer
        return self.finish_login(plan)

    def prepare_login(self, body: Any) -> LoginPlan:
        """A login's stateless checks (signature, path, revocation), no database: the
        plan that :meth:`finish_login` completes. Raises only for a malformed body."""
        data = _object(body, "the body")
        nonce = _nonce(data)
        signature = _b64(data.get("signature"), "signature", 1024)
        presented = _presented(data, "response")
        now = self.clock()
        check = _Check(Operation.LOGIN, nonce=nonce, auth=presented.cert)
        self._guard(check, lambda: self._context(data, self.config.context))
        self._guard(check, lambda: self._signature(
            presented.cert, signature, signed_message(self.config.context, nonce), "auth"))
        path = self._guard(check, lambda: self._path(presented, CertificateRole.AUTH, now))
        if path is not None:
            check.details["policy_kind"] = path.policy_kind.value
            results = self._guard(check, lambda: self._revocation(path, now))
            check.details["revocation"] = [r.source + ":" + r.status.value
                                           for r in (results or [])]
        plan = LoginPlan(check, now, presented)
        if check.error is None and self.store.dialect == "postgresql":
            plan.record, plan.statement = self._login_one_statement(check, now)
        return plan

    def finish_login(self, plan: LoginPlan) -> dict[str, Any]:
        """The general path of a login: spend the nonce, decide, record, in one
        transaction; the answer, or the refusal raised."""
        return self._finish(plan.check, "login", plan.now,
                            lambda tx: self._linked_person(tx, plan.presented.cert))

    def _login_one_statement(self, check: _Check, now: dt.datetime
                             ) -> tuple[ConfirmationRecord, tuple[str, tuple[Any, ...]]]:
        """PostgreSQL: an accepted login in one statement, one round trip (instead of
        BEGIN, spend, look up, record, COMMIT: five). It spends the nonce only when the
        login is to be accepted (the nonce unspent, for login, not expired, the auth
        certificate linked and active) and then writes the record, all or nothing, in
        one snapshot; a concurrent answer to the same nonce waits for the row lock and
        then finds it spent. When it changes nothing (any refusal, or the database
        failed), the general path decides and records, from the start."""
        assert check.nonce is not None and check.auth is not None
        issuer, serial = _issuer_serial(check.auth)
        record = self._new_record(check, now, None)
        values = dict(zip(ConfirmationRecord.COLUMNS, record.row(), strict=True))
        params = (issuer, serial, time_text(now), check.nonce.hex(), time_text(now),
                  *(values[c] for c in ConfirmationRecord.COLUMNS if c != "person_id"))
        return record, (_LOGIN_ONE_STATEMENT, params)

    def accepted_login(self, plan: LoginPlan, rows: list[tuple[Any, ...]]
                       ) -> dict[str, Any] | None:
        """The answer when the one statement (run by the caller) accepted the login; None
        when it changed nothing, and :meth:`finish_login` must decide."""
        if not rows or plan.record is None:
            return None
        check = plan.check
        assert check.auth is not None
        person_id = str(rows[0][0])
        log.info("check op=%s auth=%s kiosk=%s -> %s", check.operation.value,
                 _identity(check.auth)[3], "-", "ok")
        return {"ok": True, "operation": check.operation.value, "record_id": plan.record.id,
                "person_id": person_id}

    def _linked_person(self, tx: Tx, cert: x509.Certificate) -> tuple[str, dict[str, Any]]:
        person = self._person_of(tx, cert)
        return person.id, {"person_id": person.id}

    def _person_of(self, tx: Tx, cert: x509.Certificate) -> Person:
        """The person an auth certificate is linked to, refusing retired/revoked links."""
        issuer, serial = _issuer_serial(cert)
        row = tx.one(
            "SELECT c.status, p.id, p.name, p.name_flags, p.birth_date, p.birth_raw, "
            "p.sex_code, p.address FROM certificates c JOIN persons p ON p.id = c.person_id "
            "WHERE c.issuer = ? AND c.serial = ? AND c.kind = 'auth'", (issuer, serial))
        if row is None:
            raise RpError(ServiceReason.NOT_REGISTERED,
                          "no person is registered with this auth certificate")
        if row[0] == CertificateStatus.RETIRED.value:
            raise RpError(ServiceReason.CERTIFICATE_RETIRED,
                          "this card's certificates were replaced by a newer registration")
        if row[0] == CertificateStatus.REVOKED.value:
            raise RpError(ServiceReason.CERTIFICATE_REVOKED,
                          "a status re-check found this certificate revoked")
        return Person(str(row[1]), str(row[2]), str(row[3]),
                      dt.date.fromisoformat(row[4]) if row[4] else None, str(row[5]),
                      str(row[6]), str(row[7]))

    # --- registration and renewal -------------------------------------------------------

    def register(self, body: Any) -> dict[str, Any]:
        """Registration: the signature key and the auth key each sign the registration
        nonce. A registration whose four attributes match a registered person is a
        renewal or replacement: the new certificates are linked and the old retired."""
        data = _object(body, "the body")
        nonce = _nonce(data)
        sign_data = _object(data.get("sign"), "sign")
        auth_data = _object(data.get("auth"), "auth")
        sign = _presented(sign_data, "sign")
        auth = _presented(auth_data, "auth")
        sign_sig = _b64(sign_data.get("signature"), "sign.signature", 1024)
        auth_sig = _b64(auth_data.get("signature"), "auth.signature", 1024)
        context = self.config.context + REGISTER_SUFFIX
        message = signed_message(context, nonce)
        now = self.clock()
        check = _Check(Operation.REGISTER, nonce=nonce, auth=auth.cert, sign=sign.cert)
        self._guard(check, lambda: self._context(data, context))
        self._guard(check, lambda: self._signature(sign.cert, sign_sig, message, "signature"))
        self._guard(check, lambda: self._signature(auth.cert, auth_sig, message, "auth"))
        sign_path = self._guard(check, lambda: self._path(sign, CertificateRole.SIGN, now))
        auth_path = self._guard(check, lambda: self._path(auth, CertificateRole.AUTH, now))
        holder: HolderInfo | None = self._guard(check, lambda: parse_holder(sign.cert))
        if sign_path is not None and auth_path is not None:
            check.details["policy_kind"] = auth_path.policy_kind.value
            results = (self._guard(check, lambda: self._revocation(sign_path, now)) or []) + (
                self._guard(check, lambda: self._revocation(auth_path, now)) or [])
            check.details["revocation"] = [r.source + ":" + r.status.value for r in results]

        def decide(tx: Tx) -> tuple[str, dict[str, Any]]:
            assert holder is not None and sign_path is not None and auth_path is not None
            return self._link(tx, check, holder, sign, sign_path, auth, auth_path, now)

        return self._finish(check, "register", now, decide)

    def _link(self, tx: Tx, check: _Check, holder: HolderInfo, sign: _Presented,
              sign_path: ValidatedPath, auth: _Presented, auth_path: ValidatedPath,
              now: dt.datetime) -> tuple[str, dict[str, Any]]:
        person = Person.from_holder(new_id(), holder)
        key = person.identity_key
        stamp = time_text(now)
        tx.run("INSERT INTO persons (id, name, name_flags, birth_date, birth_raw, sex_code, "
               "address, identity_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, "
               "?, ?, ?) ON CONFLICT (identity_key) DO NOTHING",
               (person.id, person.name, person.name_flags,
                person.birth_date.isoformat() if person.birth_date else None,
                person.birth_raw, person.sex_code, person.address, key, stamp, stamp))
        row = tx.one("SELECT id FROM persons WHERE identity_key = ?", (key,))
        assert row is not None
        person_id = str(row[0])
        existing: dict[str, tuple[str, str]] = {}
        for kind, presented in (("sign", sign), ("auth", auth)):
            issuer, serial = _issuer_serial(presented.cert)
            found = tx.one("SELECT person_id, status FROM certificates WHERE issuer = ? AND "
                           "serial = ? AND kind = ?", (issuer, serial, kind))
            if found is not None:
                existing[kind] = (str(found[0]), str(found[1]))
        for kind, (owner, status) in existing.items():
            if owner != person_id:
                raise RpError(ServiceReason.AUTH_LINKED_ELSEWHERE,
                              f"the {kind} certificate is linked to another person")
            if status != CertificateStatus.ACTIVE.value:
                raise RpError(ServiceReason.CERTIFICATE_RETIRED if status == "retired"
                              else ServiceReason.CERTIFICATE_REVOKED,
                              f"the {kind} certificate is {status}; register the current card")
        # Renewal / replacement: the person's other active certificates are retired.
        fingerprints = (_ident(sign.cert)[2], _ident(auth.cert)[2])
        retired = tx.run("UPDATE certificates SET status = 'retired', retired_at = ? "
                         "WHERE person_id = ? AND status = 'active' AND fingerprint NOT IN "
                         "(?, ?)", (stamp, person_id, *fingerprints))
        if retired:
            check.operation = Operation.RENEW
        check.details["retired_certificates"] = retired
        for kind, presented, path in (("sign", sign, sign_path), ("auth", auth, auth_path)):
            if kind in existing:
                continue
            issuer, serial = _issuer_serial(presented.cert)
            tx.run("INSERT INTO certificates (id, person_id, kind, issuer, serial, "
                   "fingerprint, der, issuer_der, not_after, status, registered_at, "
                   "last_checked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)",
                   (new_id(), person_id, kind, issuer, serial,
                    _ident(presented.cert)[2],
                    base64.b64encode(presented.der).decode(),
                    base64.b64encode(_der(path.certificates[1])).decode()
                    if len(path.certificates) > 1 else base64.b64encode(presented.der).decode(),
                    time_text(presented.cert.not_valid_after_utc), stamp, stamp))
        return person_id, {"person_id": person_id, "renewed": bool(retired),
                           "retired_certificates": retired}

    # --- the face / visual route --------------------------------------------------------

    def face(self, body: Any) -> dict[str, Any]:
        """A registered kiosk vouches for a face (or staff visual) identification; the
        card-face identity it verified must name the person of the auth certificate."""
        data = _object(body, "the body")
        claim = _object(data.get("claim"), "claim")
        raw_signature = _b64(data.get("device_signature"), "device_signature", 256)
        kiosk_id = claim.get("kiosk_id")
        method = claim.get("method")
        if not isinstance(kiosk_id, str) or not 0 < len(kiosk_id) <= 64:
            raise RpError(ServiceReason.MALFORMED, "claim.kiosk_id must be text")
        if method not in DEVICE_METHODS:
            raise RpError(ServiceReason.MALFORMED, "claim.method must be face or visual")
        # The device signature is checked first: a claim nobody vouches for spends nothing.
        key = self.config.devices.get(kiosk_id)
        if key is None:
            raise RpError(ServiceReason.UNKNOWN_DEVICE, "this kiosk is not registered")
        try:
            key.verify(raw_signature, device_message(claim))
        except InvalidSignature:
            raise RpError(ServiceReason.BAD_DEVICE_SIGNATURE,
                          "the claim is not signed by the kiosk's registered key") from None
        nonce = _nonce(claim)
        presented = _presented(claim, "claim")
        identity = CardFaceIdentity.from_dict(claim.get("card_face"))
        now = self.clock()
        check = _Check(Operation(method), nonce=nonce, auth=presented.cert, kiosk_id=kiosk_id,
                       details={"card_face_checks": identity.checks})
        self._guard(check, lambda: self._context(claim, self.config.context))
        path = self._guard(check, lambda: self._path(presented, CertificateRole.AUTH, now))
        if path is not None:
            check.details["policy_kind"] = path.policy_kind.value
            results = self._guard(check, lambda: self._revocation(path, now))
            check.details["revocation"] = [r.source + ":" + r.status.value
                                           for r in (results or [])]

        def decide(tx: Tx) -> tuple[str, dict[str, Any]]:
            person = self._person_of(tx, presented.cert)
            try:
                bind(identity, person)
            except RpError:
                check.details["binding"] = "refused"
                raise
            check.details["binding"] = "matched"
            return person.id, {"person_id": person.id, "method": method}

        return self._finish(check, "face", now, decide)

    # --- 現況確認: periodic status re-checks ------------------------------------------------

    def recheck(self, *, person_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Ask the revocation sources about active certificates: those of ``person_id``,
        or up to ``limit`` not checked within ``recheck_interval``. A revoked one is
        marked so (logins with it are then refused); each gets a confirmation record."""
        now = self.clock()
        if self.config.revocation is None:
            raise RpError(Reason.REVOCATION_UNAVAILABLE, "no revocation source is configured")
        with self.store.transaction() as tx:
            if person_id is not None:
                rows = tx.all("SELECT id, person_id, kind, der, issuer_der FROM certificates "
                              "WHERE person_id = ? AND status = 'active'", (person_id,))
            else:
                due = time_text(now - self.config.recheck_interval)
                rows = tx.all("SELECT id, person_id, kind, der, issuer_der FROM certificates "
                              "WHERE status = 'active' AND (last_checked_at IS NULL OR "
                              "last_checked_at < ?) ORDER BY last_checked_at LIMIT ?",
                              (due, int(limit)))
        out = []
        for cert_id, owner, kind, der, issuer_der in rows:
            cert = x509.load_der_x509_certificate(base64.b64decode(der))
            issuer = x509.load_der_x509_certificate(base64.b64decode(issuer_der))
            result = self.config.revocation.check(cert, issuer, now)
            check = _Check(Operation.RECHECK, details={"kind": kind, "source": result.source,
                                                       "status": result.status.value})
            if kind == "auth":
                check.auth = cert
            else:
                check.sign = cert
            outcome = "accepted"
            if result.status is RevocationStatus.REVOKED:
                outcome = "refused"
                check.error = RpError(Reason.REVOKED, result.message)
            elif not result.good:
                outcome = "indeterminate"
                check.error = RpError(result.reason or Reason.REVOCATION_UNAVAILABLE,
                                      result.message)
            with self.store.transaction() as tx:
                if result.status is RevocationStatus.REVOKED:
                    tx.run("UPDATE certificates SET status = 'revoked', last_checked_at = ? "
                           "WHERE id = ?", (time_text(now), cert_id))
                elif result.good:
                    tx.run("UPDATE certificates SET last_checked_at = ? WHERE id = ?",
                           (time_text(now), cert_id))
                record = self._record(tx, check, now, str(owner), outcome)
            out.append({"person_id": owner, "kind": kind, "status": result.status.value,
                        "source": result.source, "reason": record.reason,
                        "record_id": record.id})
        return out

    # --- reading back -----------------------------------------------------------------------

    def records(self, *, person_id: str | None = None,
                limit: int = 100) -> list[ConfirmationRecord]:
        """Confirmation records, newest first."""
        columns = ", ".join(ConfirmationRecord.COLUMNS)
        with self.store.transaction() as tx:
            if person_id is None:
                rows = tx.all(f"SELECT {columns} FROM confirmation_records "  # noqa: S608
                              "ORDER BY at DESC LIMIT ?", (int(limit),))
            else:
                rows = tx.all(f"SELECT {columns} FROM confirmation_records "  # noqa: S608
                              "WHERE person_id = ? ORDER BY at DESC LIMIT ?",
                              (person_id, int(limit)))
        return [ConfirmationRecord.from_row(r) for r in rows]

    def certificates(self, person_id: str) -> list[dict[str, Any]]:
        """The person's certificates (kind, issuer, serial, status), oldest first."""
        with self.store.transaction() as tx:
            rows = tx.all("SELECT kind, issuer, serial, status, registered_at, retired_at "
                          "FROM certificates WHERE person_id = ? ORDER BY registered_at, kind",
                          (person_id,))
        return [dict(zip(("kind", "issuer", "serial", "status", "registered_at",
                          "retired_at"), r, strict=True)) for r in rows]


def _der(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.DER)

