"""The eligibility-check service: nonces, card or kiosk verification, record lookup.

An HTTP service on 127.0.0.1 only (standard library ``http.server``, one thread per
request), JSON in and out:

* ``POST /nonce`` -> a one-time challenge (:meth:`mynaid.challenge.ChallengeVerifier.issue`);
* ``POST /verify`` -> the PIN route's challenge response (the card signed the nonce), or the
  face/visual route's claim signed by a registered kiosk; then the insurance record of the
  auth certificate, or a rejection with a reason code.

    python -m examples.eligibility.server --database records.sqlite3 --seed --port 8080

See README.md for the JSON, the reason codes and what each check proves.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from examples.eligibility.records import JST, RecordStore, certificate_key, eligibility
from examples.eligibility.wire import (
    DEFAULT_CONTEXT,
    DeviceClaim,
    MalformedError,
    public_key_from_text,
)
from mynaid.challenge import ChallengeResponse, ChallengeVerifier
from mynaid.trust.anchors import TrustStore
from mynaid.trust.errors import Reason, VerificationError
from mynaid.trust.path import CertificateRole, ValidatedPath, ValidationOptions, validate_path
from mynaid.trust.revocation import (
    CrlSource,
    OcspChecker,
    RevocationChecker,
    RevocationResult,
)

__all__ = [
    "DEFAULT_ANCHOR",
    "EligibilityHTTPServer",
    "EligibilityService",
    "Rejected",
    "RunningServer",
    "ServiceConfig",
    "main",
]

log = logging.getLogger("eligibility.server")

REPO = Path(__file__).resolve().parents[2]
#: The demo's trust anchor: the emulator's cards chain to the committed test root. A real
#: deployment uses the pinned J-LIS roots instead (``"trust_anchors": ["jpki"]``).
DEFAULT_ANCHOR = REPO / "vectors" / "test-pki" / "auth-root.pem"
#: Largest request body read (a challenge response with two certificates is about 4 KB).
MAX_BODY = 64 * 1024
HOST = "127.0.0.1"


# --- rejections ------------------------------------------------------------------------------


#: HTTP status per reason code; anything not listed is 403 (the caller is not accepted).
STATUS_BY_REASON: dict[str, int] = {
    "malformed": 400,
    "not-found": 404,
    "no-such-endpoint": 404,
    "method-not-allowed": 405,
    "length-required": 411,
    "too-large": 413,
    "unsupported-media-type": 415,
    # No usable revocation information is the service's problem, not the patient's: the
    # kiosk may retry later (or fall back to the paper insurance card).
    "revocation-unavailable": 503,
    "revocation-unreachable": 503,
    "revocation-stale": 503,
    "internal-error": 500,
}

#: The library's challenge reasons under the service's names (the rest are used as they are).
_RENAMED = {
    Reason.CHALLENGE_UNKNOWN: "nonce-unknown",
    Reason.CHALLENGE_REUSED: "nonce-replayed",
    Reason.CHALLENGE_EXPIRED: "nonce-expired",
}


class Rejected(Exception):
    """A request the service refuses: a reason code, a message, an HTTP status."""

    def __init__(self, reason: str, message: str, *, library_reason: str | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.status = STATUS_BY_REASON.get(reason, 403)
        self.library_reason = library_reason
        self.extra = extra or {}

    @classmethod
    def from_verification(cls, exc: VerificationError) -> Rejected:
        """The library's reason, kept as it is except for the three nonce reasons."""
        return cls(_RENAMED.get(exc.reason, exc.reason.value), exc.detail,
                   library_reason=exc.reason.value)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": False, "reason": self.reason, "message": self.message}
        if self.library_reason is not None:
            out["library_reason"] = self.library_reason
        out.update(self.extra)
        return out


class ConfigError(ValueError):
    """The service configuration cannot be used."""


def default_trust() -> TrustStore:
    """The demo anchors: the committed test root the emulator's cards chain to."""
    store = TrustStore.empty()
    store.add_file(DEFAULT_ANCHOR)
    return store


@dataclass
class ServiceConfig:
    """Everything the service needs. :meth:`from_dict` reads the JSON form (README.md)."""

    database: Path
    trust: TrustStore = field(default_factory=default_trust)
    #: Registered kiosks: id -> Ed25519 public key (for the face and visual routes).
    devices: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    revocation: RevocationChecker | None = None
    context: str = DEFAULT_CONTEXT
    nonce_lifetime: dt.timedelta = dt.timedelta(minutes=2)
    #: Refuse the JPKI test-card policy (production: true; the demo card is a test card).
    production_only: bool = False
    port: int = 8080

    @classmethod
    def from_file(cls, path: str | Path) -> ServiceConfig:
        """Read a JSON config; relative paths in it are relative to the file."""
        config_path = Path(path)
        try:
            data = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{config_path}: {exc}") from exc
        return cls.from_dict(data, base=config_path.parent)

    @classmethod
    def from_dict(cls, data: Any, *, base: Path = Path()) -> ServiceConfig:
        """The config from its JSON form (keys as in README.md)."""
        if not isinstance(data, dict):
            raise ConfigError("the configuration must be a JSON object")
        try:
            database = base / str(data["database"])
        except KeyError:
            raise ConfigError("the configuration names no database") from None
        trust = TrustStore.empty()
        for anchor in data.get("trust_anchors", [str(DEFAULT_ANCHOR)]):
            if anchor == "jpki":
                trust.pinned |= TrustStore.jpki().pinned  # the pinned J-LIS roots
            else:
                try:
                    trust.add_path(base / str(anchor))
                except (OSError, ValueError) as exc:
                    raise ConfigError(f"trust anchor {anchor}: {exc}") from exc
        try:
            devices = {str(k): public_key_from_text(str(v))
                       for k, v in dict(data.get("devices", {})).items()}
        except (MalformedError, TypeError, ValueError) as exc:
            raise ConfigError(f"devices: {exc}") from exc
        try:
            lifetime = dt.timedelta(seconds=float(data.get("nonce_lifetime_seconds", 120)))
            port = int(data.get("port", 8080))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"nonce_lifetime_seconds / port: {exc}") from exc
        return cls(database=database, trust=trust, devices=devices,
                   revocation=_revocation(data.get("revocation"), base),
                   context=str(data.get("context", DEFAULT_CONTEXT)), nonce_lifetime=lifetime,
                   production_only=bool(data.get("production_only", False)), port=port)


def _revocation(data: Any, base: Path) -> RevocationChecker | None:
    """``{"crl_files": [...], "crl_config": "...", "ocsp_url": "...", "ocsp_timeout": 5}``
    -> a checker (OCSP first, then CRLs), or None when nothing is configured."""
    if not data:
        return None
    if not isinstance(data, dict):
        raise ConfigError("revocation must be a JSON object")
    crls: CrlSource | None = None
    try:
        if data.get("crl_config"):
            crls = CrlSource.load_config(base / str(data["crl_config"]))
        for item in data.get("crl_files", []):
            crls = crls or CrlSource()
            crls.add_path(base / str(item))
    except ValueError as exc:  # ParseError is a ValueError
        raise ConfigError(f"revocation: {exc}") from exc
    ocsp = None
    if data.get("ocsp_url"):
        ocsp = OcspChecker(url=str(data["ocsp_url"]),
                           timeout=float(data.get("ocsp_timeout", 10)))
    if crls is None and ocsp is None:
        return None
    return RevocationChecker(ocsp=ocsp, crls=crls)


# --- the service -----------------------------------------------------------------------------


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def certificate_ref(cert: x509.Certificate) -> str:
    """A short pseudonymous tag of a certificate for the logs: lets an operator follow one
    card through the log lines without the log holding its serial or anything personal."""
    serial = format(cert.serial_number, "x").encode()
    return hashlib.sha256(cert.issuer.public_bytes() + b"\x00" + serial).hexdigest()[:12]


@dataclass(frozen=True)
class Verified:
    """A request that passed every check: who vouched, for which certificate."""

    route: str  # "pin" (the card signed) or "device" (a registered kiosk signed)
    method: str  # pin, face or visual
    kiosk_id: str | None
    certificate: x509.Certificate
    path: ValidatedPath
    revocation: tuple[RevocationResult, ...]

    def certificate_dict(self) -> dict[str, Any]:
        issuer, serial = certificate_key(self.certificate)
        return {"issuer": issuer, "serial": serial,
                "policy_kind": self.path.policy_kind.value,
                "anchor_fingerprint": self.path.anchor_fingerprint,
                "revocation": [r.as_dict() for r in self.revocation]}


class EligibilityService:
    """The checks and the lookup, independent of HTTP (the handler only moves JSON)."""

    def __init__(self, config: ServiceConfig, *,
                 clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self.config = config
        self.clock = clock
        self.records = RecordStore(config.database)
        self.verifier = ChallengeVerifier(trust=config.trust, context=config.context,
                                          lifetime=config.nonce_lifetime,
                                          production_only=config.production_only,
                                          revocation=config.revocation, clock=clock)

    def issue_nonce(self) -> dict[str, Any]:
        """A fresh challenge; one book of nonces (the verifier's) serves both routes."""
        challenge = self.verifier.issue()
        expires = challenge.issued_at + self.config.nonce_lifetime
        return {"ok": True, **challenge.as_dict(), "expires_at": expires.isoformat(),
                "lifetime_seconds": int(self.config.nonce_lifetime.total_seconds())}

    def verify(self, body: Any) -> tuple[int, dict[str, Any]]:
        """Check a ``/verify`` body; (HTTP status, JSON payload). Never raises."""
        verified: Verified | None = None
        try:
            verified = self._authenticate(body)
            status, payload = self._lookup(verified)
        except Rejected as rejected:
            status, payload = rejected.status, rejected.as_dict()
        except VerificationError as exc:
            from_library = Rejected.from_verification(exc)
            status, payload = from_library.status, from_library.as_dict()
        except MalformedError as exc:
            status, payload = 400, Rejected("malformed", str(exc)).as_dict()
        except Exception:  # the kiosk gets a reason code, the log the traceback
            log.exception("verify: internal error")
            status, payload = 500, Rejected("internal-error", "internal error").as_dict()
        # One line per decision, without personal data: no certificate content, no record.
        log.info("verify route=%s method=%s kiosk=%s cert=%s -> %d %s",
                 verified.route if verified else _route_of(body),
                 verified.method if verified else "-",
                 (verified.kiosk_id if verified else None) or "-",
                 certificate_ref(verified.certificate) if verified else "-",
                 status, payload.get("reason", "ok"))
        return status, payload

    # --- authentication ---------------------------------------------------------------------

    def _authenticate(self, body: Any) -> Verified:
        if not isinstance(body, dict):
            raise MalformedError("the body must be a JSON object")
        route = _route_of(body)
        if route == "pin":
            return self._verify_pin(body.get("response", body))
        if route == "device":
            return self._verify_device(body)
        raise MalformedError('route must be "pin" or "device"')

    def _verify_pin(self, data: Any) -> Verified:
        """The card signed our nonce: ChallengeVerifier checks nonce binding and freshness,
        the signature, the path to the anchors, the auth policy, clientAuth, revocation."""
        response = ChallengeResponse.from_dict(data)  # VerificationError(malformed)
        result = self.verifier.verify(response)
        return Verified("pin", "pin", None, result.certificate, result.path, result.revocation)

    def _verify_device(self, body: dict[str, Any]) -> Verified:
        """A registered kiosk vouches for a face or visual identification."""
        claim = DeviceClaim.from_dict(body.get("claim"))
        signature = body.get("device_signature")
        try:
            raw_signature = base64.b64decode(str(signature), validate=True)
        except (ValueError, binascii.Error) as exc:
            raise MalformedError("device_signature must be base64") from exc
        # The device signature is checked before the nonce is spent, so that a request
        # nobody vouches for changes no state.
        key = self.config.devices.get(claim.kiosk_id)
        if key is None:
            raise Rejected("bad-device-signature",
                           f"kiosk {claim.kiosk_id!r} is not registered")
        try:
            claim.verify(key, raw_signature)
        except InvalidSignature:
            raise Rejected("bad-device-signature",
                           "the claim is not signed by the kiosk's registered key") from None
        if claim.context != self.config.context:
            raise Rejected(Reason.CHALLENGE_CONTEXT_MISMATCH.value,
                           "the claim was made for another service context")
        now = self.clock()
        self.verifier.consume(claim.nonce, now)
        options = ValidationOptions(role=CertificateRole.AUTH, at=now,
                                    production_only=self.config.production_only)
        path = validate_path(claim.certificate, self.config.trust,
                             intermediates=claim.ca_certificates, options=options)
        results: tuple[RevocationResult, ...] = ()
        if self.config.revocation is not None:
            results = tuple(self.config.revocation.enforce(path.certificates, now))
        return Verified("device", claim.method, claim.kiosk_id, claim.certificate, path,
                        results)

    # --- lookup -----------------------------------------------------------------------------

    def _lookup(self, verified: Verified) -> tuple[int, dict[str, Any]]:
        day = self.clock().astimezone(JST).date()
        found = eligibility(self.records.find(*certificate_key(verified.certificate)), day)
        common = {"route": verified.route, "method": verified.method,
                  "kiosk_id": verified.kiosk_id, "authenticated": True,
                  "certificate": verified.certificate_dict()}
        if found is None:
            raise Rejected("not-found", "no insurance record is linked to this certificate",
                           extra=common)
        record, in_force = found
        return 200, {"ok": True, **common, "as_of": day.isoformat(), "eligible": in_force,
                     "status": "in-force" if in_force else (
                         "not-yet-valid" if record.valid_from > day else "lapsed"),
                     "record": record.public_dict()}


def _route_of(body: Any) -> str:
    if not isinstance(body, dict):
        return "-"
    route = body.get("route")
    if route is None and "signature" in body:
        return "pin"  # a bare ChallengeResponse.as_dict() (what `mynaid auth --json` prints)
    return str(route) if route in ("pin", "device") else "-"


# --- HTTP ------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """JSON over HTTP; every answer, error or not, is a JSON object with ``ok``."""

    server: EligibilityHTTPServer
    server_version = "mynaid-eligibility/0.1"
    #: Seconds a client may take to send its request (a stalled one frees its thread).
    timeout = 30

    def do_POST(self) -> None:
        started = time.perf_counter()
        path = urllib.parse.urlsplit(self.path).path
        try:
            if path == "/nonce":
                self._read_body(required=False)  # nothing is needed from it
                status, payload = 200, self.server.service.issue_nonce()
            elif path == "/verify":
                status, payload = self.server.service.verify(self._read_body(required=True))
            else:
                raise Rejected("no-such-endpoint", f"no endpoint {path}")
        except Rejected as rejected:
            status, payload = rejected.status, rejected.as_dict()
        self._send(status, payload)
        log.debug("POST %s -> %d (%.1f ms)", path, status,
                  (time.perf_counter() - started) * 1000)

    def _refuse_method(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path in ("/nonce", "/verify"):
            rejected = Rejected("method-not-allowed", "use POST")
        else:
            rejected = Rejected("no-such-endpoint", f"no endpoint {path}")
        self._send(rejected.status, rejected.as_dict(), allow="POST")

    do_GET = do_PUT = do_DELETE = do_PATCH = _refuse_method

    def _read_body(self, *, required: bool) -> Any:
        if self.headers.get("Transfer-Encoding"):
            raise Rejected("length-required", "send a Content-Length, not chunks")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise Rejected("malformed", "bad Content-Length") from None
        if length < 0:
            raise Rejected("malformed", "bad Content-Length")
        if length > MAX_BODY:
            raise Rejected("too-large", f"the body is over {MAX_BODY} bytes")
        raw = self.rfile.read(length)
        if not required:
            return None
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise Rejected("unsupported-media-type", "send application/json")
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise Rejected("malformed", "the body is not JSON") from None

    def _send(self, status: int, payload: dict[str, Any], *, allow: str | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        # Answers hold insurance data: no cache may keep them.
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if allow:
            self.send_header("Allow", allow)
        self.end_headers()
        self.wfile.write(data)

    def version_string(self) -> str:
        return self.server_version  # without the Python version http.server would add

    def log_message(self, format: str, *args: Any) -> None:
        # http.server's own access line (client address, request line) goes to DEBUG; the
        # service logs its decisions itself.
        log.debug("http: " + format, *args)


class EligibilityHTTPServer(ThreadingHTTPServer):
    """The HTTP server, bound to 127.0.0.1 (there is no option to bind anything else: the
    prototype has no TLS and no client authentication, so it must not face a network)."""

    daemon_threads = True
    #: Connections served at once; more are closed at once rather than each holding a
    #: thread (a slow client sending a byte just under the read timeout would otherwise
    #: pin a thread indefinitely).
    max_connections = 32

    def __init__(self, service: EligibilityService, port: int = 0) -> None:
        self.service = service
        self._slots = threading.BoundedSemaphore(self.max_connections)
        super().__init__((HOST, port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}"


class RunningServer:
    """A server serving in a background thread; a context manager that stops it."""

    def __init__(self, service: EligibilityService, port: int = 0) -> None:
        self.httpd = EligibilityHTTPServer(service, port)
        # A short poll interval makes stop() return promptly.
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name="eligibility-server")

    @property
    def url(self) -> str:
        return self.httpd.url

    def start(self) -> RunningServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self.httpd.shutdown()
            self._thread.join()
        self.httpd.server_close()

    def __enter__(self) -> RunningServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- command line ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(description="The eligibility-check prototype service "
                                                 "(127.0.0.1 only).")
    parser.add_argument("--config", type=Path, help="JSON configuration (see README.md)")
    parser.add_argument("--database", help="SQLite file of records (overrides the config)")
    parser.add_argument("--port", type=int, help="TCP port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--seed", action="store_true",
                        help="add the demo records to the database first")
    parser.add_argument("--trust-anchor", action="append", default=None, metavar="PEM|jpki",
                        help="a root certificate file or folder, or 'jpki' for the pinned "
                             "J-LIS roots (repeatable; default: the test root)")
    parser.add_argument("--crl", action="append", default=[], metavar="FILE",
                        help="a CRL file or folder (repeatable)")
    parser.add_argument("--ocsp-url", help="an OCSP responder to ask")
    parser.add_argument("--device", action="append", default=[], metavar="KIOSK_ID=PUBKEY",
                        help="register a kiosk's Ed25519 public key (base64, raw 32 bytes)")
    parser.add_argument("--production-only", action="store_true",
                        help="refuse JPKI test-card certificates")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")

    data: dict[str, Any] = {}
    base = Path()
    if args.config:
        try:
            data = json.loads(args.config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            parser.error(f"{args.config}: {exc}")
        base = args.config.parent
    # Command-line values are relative to the working directory, not to the config file.
    cwd = Path.cwd()
    if args.database:
        data["database"] = str(cwd / args.database)
    data.setdefault("database", "eligibility.sqlite3")
    if args.port is not None:
        data["port"] = args.port
    if args.trust_anchor:
        data["trust_anchors"] = [a if a == "jpki" else str(cwd / a) for a in args.trust_anchor]
    revocation = dict(data.get("revocation") or {})
    if args.crl:
        revocation["crl_files"] = [str(cwd / c) for c in args.crl]
    if args.ocsp_url:
        revocation["ocsp_url"] = args.ocsp_url
    data["revocation"] = revocation
    devices = dict(data.get("devices") or {})
    for item in args.device:
        kiosk_id, sep, key = item.partition("=")
        if not sep:
            parser.error("--device takes KIOSK_ID=PUBKEY")
        devices[kiosk_id] = key
    data["devices"] = devices
    if args.production_only:
        data["production_only"] = True
    try:
        config = ServiceConfig.from_dict(data, base=base)
    except ConfigError as exc:
        parser.error(str(exc))
    if args.seed:
        from examples.eligibility.seed import seed_database

        log.info("seeded %d demo records into %s", seed_database(config.database),
                 config.database)
    if not config.database.exists():
        parser.error(f"{config.database} does not exist (use --seed or the seed module)")
    httpd = EligibilityHTTPServer(EligibilityService(config), config.port)
    log.info("listening on %s (%d kiosk(s) registered, revocation %s)", httpd.url,
             len(config.devices), "on" if config.revocation else "off")
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
