"""The relying-party service: an ASGI application (Starlette) over :mod:`mynaid.rp`.

Endpoints (JSON in and out, every answer an object with ``ok``; see README.md):

* ``GET /healthz`` - the process is alive; ``GET /readyz`` - and its database answers;
* ``POST /v1/nonce`` ``{"purpose": "login"|"register"|"face"}`` - a one-time challenge;
* ``POST /v1/register`` / ``/v1/login`` / ``/v1/face`` - :class:`mynaid.rp.core.RelyingParty`;
* ``POST /v1/eligibility`` - login or face route, then the person's insurance record;
* ``POST /v1/recheck`` - the status re-check (現況確認), with the admin token.

Where the work runs. A login costs about half a millisecond of CPU; handing it to a
thread costs as much again (measured: worker CPU per login 0.5 ms on the event loop, 1.2 ms
through the thread pool), so the work runs on the event loop unless it might wait:

* the stateless checks (RSA, the cached path, CRL files) run on the loop; with an OCSP or
  platform-operator source configured, which waits on a network, the whole request goes to
  the thread pool;
* SQLite: the transaction runs on the loop too. The write lock is held for a fraction of
  a millisecond at a time, so the loop waits for it, but only for
  :data:`INLINE_LOCK_WAIT`; past that the request moves to the thread pool
  (:class:`mynaid.rp.store.StoreBusy`), so a long wait never holds the loop;
* PostgreSQL: the hot statements (a nonce's INSERT, the one-statement login) run on the
  loop's own asynchronous connections; everything else (refusals, registration, the face
  route) in the thread pool with the synchronous store.

The event loop also enforces the limits: body size, body deadline, JSON nesting depth, a
per-client token bucket. The header deadline is the protocol's
(:mod:`mynaid.service.protocol`).
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import json
import logging
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mynaid.errors import MynaidError
from mynaid.rp.core import RelyingParty
from mynaid.rp.eligibility import eligibility_answer
from mynaid.rp.reasons import RpError, ServiceReason
from mynaid.rp.store import Store, StoreBusy, StoreUnavailable, open_store
from mynaid.service.config import Limits, ServiceSettings

__all__ = ["ServiceApp", "check_depth", "create_app"]

log = logging.getLogger("mynaid.service")

#: Seconds the event loop may wait for SQLite's write lock before the request moves to a
#: thread. Long against a transaction (a fraction of a millisecond) on purpose: a holder
#: that the scheduler has paused (more workers than cores) still releases it well within
#: this, and a request moved to a thread costs twice the CPU, so a short bound would move
#: requests under ordinary load and take capacity away just when it is needed (measured
#: with 2 ms: 4 workers at 1,000/s fell behind for 1.4 s, p99 477 ms).
INLINE_LOCK_WAIT = 0.05

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


def check_depth(raw: bytes, limit: int) -> None:
    """Refuse JSON nested deeper than ``limit`` before parsing it (``'[' * 30000`` would
    otherwise reach the parser's recursion limit). Brackets inside strings do not count."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return  # cannot be deeper than the number of openers
    depth = 0
    for match in _BRACKETS.finditer(_STRINGS.sub(b'""', raw)):
        if match[0] in (b"[", b"{"):
            depth += 1
            if depth > limit:
                raise RpError(ServiceReason.TOO_DEEP, f"JSON nested deeper than {limit}")
        else:
            depth -= 1


class _Buckets:
    """Token buckets per client address (per worker: a global limit belongs to the reverse
    proxy in front; this one keeps one client from monopolising a worker)."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            tokens, last = self._state.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1:
                self._state[client] = (tokens, now)
                return False
            self._state[client] = (tokens - 1, now)
            if len(self._state) > 100_000:  # bounded: drop the oldest half
                for key in list(self._state)[:50_000]:
                    del self._state[key]
            return True


def _json(status: int, payload: dict[str, Any]) -> JSONResponse:
    return JSONResponse(payload, status_code=status, headers={
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


def _refusal(error: RpError) -> JSONResponse:
    return _json(error.status, error.as_dict())


class ServiceApp:
    """The routes over one :class:`RelyingParty`."""

    def __init__(self, rp: RelyingParty, limits: Limits, *,
                 admin_token: str | None = None) -> None:
        self.rp = rp
        self.limits = limits
        self.admin_token = admin_token
        self.buckets = _Buckets(limits.rate_per_client, limits.burst_per_client)
        self.worker = os.getpid()
        self._migrated = False
        revocation = rp.config.revocation
        #: The stateless checks may run on the event loop: nothing in them waits on a
        #: network (no OCSP responder, no platform operator; CRL files are local).
        self.checks_inline = revocation is None or all(
            getattr(source, "name", "") == "crl" for source in revocation.sources)
        #: SQLite: the whole request on the loop (a brief wait for the write lock at most).
        self.inline = self.checks_inline and rp.store.dialect == "sqlite"
        #: PostgreSQL: the hot statements on the loop's asynchronous connections.
        self.async_db = rp.store.dialect == "postgresql" and hasattr(rp.store,
                                                                     "single_async")

    def _ensure_schema(self) -> None:
        # Migrations run at start; when the database was down then, the first request
        # that reaches it runs them (idempotent and serialised by the database).
        if not self._migrated:
            self.rp.store.migrate()
            self._migrated = True

    # --- plumbing -----------------------------------------------------------------------

    def _client(self, request: Request) -> str:
        host = request.client.host if request.client else "-"
        if host in self.limits.trusted_proxies:
            forwarded = request.headers.get("x-forwarded-for", "")
            if forwarded:
                host = forwarded.split(",")[-1].strip()
        return host

    async def _body(self, request: Request) -> Any:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise RpError(ServiceReason.UNSUPPORTED_MEDIA_TYPE, "send application/json")
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise RpError(ServiceReason.MALFORMED, "bad Content-Length")
            if int(declared) > self.limits.max_body:
                raise RpError(ServiceReason.TOO_LARGE,
                              f"the body is over {self.limits.max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        try:
            with anyio.fail_after(self.limits.body_timeout):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > self.limits.max_body:
                        raise RpError(ServiceReason.TOO_LARGE,
                                      f"the body is over {self.limits.max_body} bytes")
                    chunks.append(chunk)
        except TimeoutError:
            raise RpError(ServiceReason.REQUEST_TIMEOUT,
                          f"the body did not arrive within {self.limits.body_timeout:g} s"
                          ) from None
        raw = b"".join(chunks)
        if not raw.strip():
            return {}
        check_depth(raw, self.limits.max_depth)
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise RpError(ServiceReason.MALFORMED, "the body is not JSON") from None

    async def _run(self, work: Callable[[Any], dict[str, Any]], body: Any,
                   inline: bool) -> dict[str, Any]:
        if inline and self.inline:
            try:
                with self.rp.store.wait_briefly(INLINE_LOCK_WAIT):
                    return work(body)
            except StoreBusy:
                pass  # nothing was done: run it again where it may wait
        return await run_in_threadpool(work, body)

    async def _login_async(self, body: Any) -> dict[str, Any]:
        """PostgreSQL: the checks on the loop (or in a thread, when they may wait), the
        one statement on an asynchronous connection; a refusal, or a failed statement,
        is decided and recorded by the general path in the thread pool."""
        plan = (self.rp.prepare_login(body) if self.checks_inline
                else await run_in_threadpool(self.rp.prepare_login, body))
        if plan.statement is not None:
            try:
                rows = await self.rp.store.single_async(*plan.statement)  # type: ignore[attr-defined]
            except RpError:
                rows = []  # (StoreUnavailable) the general path retries and decides
            answer = self.rp.accepted_login(plan, rows)
            if answer is not None:
                return answer
        return await run_in_threadpool(self.rp.finish_login, plan)

    async def _nonce_async(self, body: Any) -> dict[str, Any]:
        statements, answer = self.rp.issue_statements(self._purpose(body))
        for sql, params in statements:
            # Safe to repeat on a new connection: the same INSERT (or purge) again.
            await self.rp.store.single_async(sql, params, retry=True)  # type: ignore[attr-defined]
        return answer

    def _handler(self, work: Callable[[Any], dict[str, Any]], *, admin: bool = False,
                 inline: bool = True,
                 async_work: Callable[[Any], Awaitable[dict[str, Any]]] | None = None
                 ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            reason = "ok"
            response: Response
            try:
                if not self.buckets.allow(self._client(request)):
                    raise RpError(ServiceReason.RATE_LIMITED, "too many requests; slow down")
                if admin:
                    self._check_admin(request)
                body = await self._body(request)
                if not self._migrated:
                    await run_in_threadpool(self._ensure_schema)
                if async_work is not None and self.async_db:
                    payload = await async_work(body)
                else:
                    payload = await self._run(work, body, inline)
                response = _json(200, payload)
            except RpError as exc:
                reason = exc.reason
                response = _refusal(exc)
            except ClientDisconnect:
                reason = "client-disconnected"
                response = Response(status_code=400)
            except MynaidError as exc:
                reason = exc.reason
                response = _json(400, {"ok": False, "reason": exc.reason,
                                       "message": exc.message})
            except Exception:  # the client gets a code, the log the exception type
                log.exception("internal error on %s", request.url.path)
                reason = ServiceReason.INTERNAL.value
                response = _refusal(RpError(ServiceReason.INTERNAL, "internal error"))
            # One line per request, without personal data: no body, no certificate, no
            # client address; the decision's own line (mynaid.rp) adds a certificate tag.
            log.info("request", extra={"path": request.url.path, "status":
                                       response.status_code, "reason": reason,
                                       "ms": round((time.perf_counter() - started) * 1000, 2)})
            return response

        return endpoint

    def _check_admin(self, request: Request) -> None:
        supplied = request.headers.get("authorization", "")
        if not self.admin_token or not hmac.compare_digest(
                hashlib.sha256(supplied.encode()).digest(),
                hashlib.sha256(f"Bearer {self.admin_token}".encode()).digest()):
            raise RpError(ServiceReason.UNAUTHORIZED, "the admin token is missing or wrong")

    # --- endpoints ----------------------------------------------------------------------

    @staticmethod
    def _purpose(body: Any) -> str:
        purpose = body.get("purpose", "login") if isinstance(body, dict) else None
        if not isinstance(purpose, str):
            raise RpError(ServiceReason.MALFORMED, "purpose must be text")
        return purpose

    def _nonce(self, body: Any) -> dict[str, Any]:
        return self.rp.issue(self._purpose(body))

    def _eligibility(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise RpError(ServiceReason.MALFORMED, "the body must be a JSON object")
        route = body.get("route")
        if route == "pin":
            answer = self.rp.login(body.get("response"))
        elif route == "device":
            answer = self.rp.face(body)
        else:
            raise RpError(ServiceReason.MALFORMED, 'route must be "pin" or "device"')
        return eligibility_answer(self.rp, answer, route)

    def _recheck(self, body: Any) -> dict[str, Any]:
        person = body.get("person_id") if isinstance(body, dict) else None
        if person is not None and not isinstance(person, str):
            raise RpError(ServiceReason.MALFORMED, "person_id must be text")
        return {"ok": True, "results": self.rp.recheck(person_id=person)}

    async def healthz(self, request: Request) -> Response:
        return _json(200, {"ok": True, "worker": self.worker})

    async def readyz(self, request: Request) -> Response:
        try:
            await run_in_threadpool(self.rp.store.ping)
            if not self._migrated:
                await run_in_threadpool(self._ensure_schema)
        except StoreUnavailable as exc:
            return _refusal(exc)
        return _json(200, {"ok": True, "worker": self.worker})

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return _refusal(RpError(ServiceReason.NO_SUCH_ENDPOINT, "no such endpoint"))

    async def not_allowed(self, request: Request, exc: Exception) -> Response:
        return _refusal(RpError(ServiceReason.METHOD_NOT_ALLOWED, "method not allowed"))

    def starlette(self) -> Starlette:
        post = ["POST"]
        routes = [
            Route("/healthz", self.healthz, methods=["GET"]),
            Route("/readyz", self.readyz, methods=["GET"]),
            Route("/v1/nonce", self._handler(self._nonce, async_work=self._nonce_async),
                  methods=post),
            Route("/v1/register", self._handler(self.rp.register), methods=post),
            Route("/v1/login", self._handler(self.rp.login, async_work=self._login_async),
                  methods=post),
            Route("/v1/face", self._handler(self.rp.face), methods=post),
            Route("/v1/eligibility", self._handler(self._eligibility), methods=post),
            # The re-check walks many certificates (and may ask responders): never inline.
            Route("/v1/recheck", self._handler(self._recheck, admin=True, inline=False),
                  methods=post),
        ]
        return Starlette(routes=routes, exception_handlers={404: self.not_found,
                                                            405: self.not_allowed})


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the request fields."""

    FIELDS = ("path", "status", "reason", "ms")

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
                               "level": record.levelname, "logger": record.name,
                               "msg": record.getMessage(), "pid": record.process}
        for name in self.FIELDS:
            if hasattr(record, name):
                out[name] = getattr(record, name)
        if record.exc_info and record.exc_info[0] is not None:
            out["exception"] = record.exc_info[0].__name__  # the type, not a traceback
        return json.dumps(out, ensure_ascii=False)


def configure_logging(level: int = logging.INFO) -> None:
    """Structured logs on stderr for the service's loggers (idempotent)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    # psycopg_pool reports the connections it discards (after a database restart) on its
    # own logger: the same structured lines, not Python's bare last-resort output.
    for name in ("mynaid.service", "mynaid.rp", "psycopg.pool"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False


def create_app(settings: ServiceSettings | None = None, *,
               store: Store | None = None) -> Starlette:
    """The ASGI application (uvicorn's ``--factory`` target): settings from
    ``$MYNAID_RP_CONFIG`` unless given. Migrations run at start (idempotent, serialised
    across workers by the database)."""
    settings = settings or ServiceSettings.from_env()
    if os.environ.get("MYNAID_RP_LOG", "1") != "0":
        configure_logging(logging.WARNING if os.environ.get("MYNAID_RP_QUIET") else
                          logging.INFO)
    store = store or open_store(settings.store_url)
    service = ServiceApp(RelyingParty(store, settings.rp), settings.limits,
                         admin_token=settings.admin_token)
    try:
        service._ensure_schema()
    except StoreUnavailable:
        # Start anyway: /readyz says not ready until the database answers, and every
        # request retries the connection (a database restart needs no service restart).
        log.warning("the database is not reachable at start; not ready")
    app = service.starlette()
    # What exists now (modules, the trust store, the test PKI, the framework) lives as
    # long as the worker: moved out of the collector's view, a full collection no longer
    # walks it (measured: 28 ms pauses of the event loop, every request it held waiting).
    gc.collect()
    gc.freeze()
    return app
