"""The kiosk as an ASGI application (Starlette): the patient page, the staff page, and the
event streams that drive them.

Transport: server-sent events (``/events``, ``/staff/events``) carry the screen from the
server to the page; answers go back as small JSON ``POST``\\s. The screen changes only when
the flow asks something, so a one-way stream plus plain requests is all a page needs:
EventSource reconnects by itself, needs no extra server package (uvicorn's WebSocket
support needs ``websockets`` or ``wsproto``) and each answer is one request that can be
checked on its own.

Frames are captured on the server (OpenCV, :mod:`mynaid.face.camera`): the camera is the
kiosk's own, the browser needs no camera permission, the matcher sees the full-resolution
frame, and tests and benchmarks use a video file as the camera. The page shows a reduced
JPEG preview of the last analysed frame with the face frame drawn over it.

Nothing here listens: :func:`serve` binds 127.0.0.1 only; an embedding application mounts
:func:`create_app` in its own server. Requests whose ``Host`` is not loopback are refused
(DNS rebinding), answers must be JSON (no cross-site form posts), and the staff page needs
the staff PIN (compared in constant time, never logged; a session cookie that is
``HttpOnly`` and ``SameSite=Strict``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from mynaid.kioskweb.service import KioskService

#: Wrong staff PINs allowed before a pause.
STAFF_PIN_TRIES = 5
#: Seconds the staff login is closed after too many wrong PINs.
STAFF_LOCK_SECONDS = 60.0
MAX_BODY = 4096
COOKIE = "mynaid_staff"
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
_NO_STORE = {"Cache-Control": "no-store",
             "Content-Security-Policy": "default-src 'self'; img-src 'self'; "
                                        "frame-ancestors 'none'",
             "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


class _StaffGate:
    def __init__(self, pin: str) -> None:
        if len(pin) < 4:
            raise ValueError("the staff PIN must have at least 4 characters")
        self._pin = pin.encode("utf-8")
        self._tokens: set[str] = set()
        self._failures = 0
        self._locked_until = 0.0

    def __repr__(self) -> str:
        return "<staff gate>"

    def login(self, pin: str) -> str | None:
        now = time.monotonic()
        if now < self._locked_until:
            return None
        if hmac.compare_digest(pin.encode("utf-8"), self._pin):
            self._failures = 0
            token = secrets.token_urlsafe(32)
            self._tokens.add(token)
            return token
        self._failures += 1
        if self._failures >= STAFF_PIN_TRIES:
            self._failures = 0
            self._locked_until = now + STAFF_LOCK_SECONDS
        return None

    def ok(self, request: Request) -> bool:
        token = request.cookies.get(COOKIE, "")
        return any(hmac.compare_digest(token, t) for t in self._tokens)


def _static(name: str) -> bytes:
    return resources.files("mynaid.kioskweb").joinpath("static").joinpath(name).read_bytes()


async def _json_body(request: Request) -> Any:
    from starlette.exceptions import HTTPException

    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(415, "JSON only")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, "too large")
    try:
        return json.loads(body)
    except ValueError:
        raise HTTPException(400, "not JSON") from None


def create_app(service: KioskService, *, staff_pin: str, start_service: bool = True,
               ) -> Starlette:
    """The ASGI app for ``service``. With ``start_service`` the app's lifespan starts and
    stops the kiosk loop."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    gate = _StaffGate(staff_pin)
    board = service.board
    files = {"index.html": "text/html; charset=utf-8", "staff.html": "text/html; charset=utf-8",
             "kiosk.js": "text/javascript; charset=utf-8",
             "staff.js": "text/javascript; charset=utf-8",
             "kiosk.css": "text/css; charset=utf-8"}

    def static_file(name: str) -> Response:
        return Response(_static(name), media_type=files[name], headers=_NO_STORE)

    async def index(request: Request) -> Response:
        return static_file("index.html")

    async def staff_page(request: Request) -> Response:
        return static_file("staff.html")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in files or name.endswith(".html"):
            raise HTTPException(404)
        return static_file(name)

    def stream(request: Request, pick: Any) -> StreamingResponse:
        async def events() -> AsyncIterator[str]:
            version = -1
            while True:
                if board.closed or await request.is_disconnected():
                    return
                new = await asyncio.to_thread(board.wait_change, version, 5.0)
                if board.closed:
                    return
                if new == version:
                    yield ": keep-alive\n\n"
                    continue
                version = new
                _v, patient, staff = board.snapshot()
                yield f"data: {json.dumps(pick(patient, staff), ensure_ascii=False)}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers=_NO_STORE)

    async def patient_events(request: Request) -> Response:
        return stream(request, lambda patient, staff: patient)

    async def answer(request: Request) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("id"), int):
            raise HTTPException(400, "id expected")
        value = body.get("value")
        if not isinstance(value, (str, bool)):
            raise HTTPException(400, "value expected")
        accepted = board.answer(body["id"], value)
        return JSONResponse({"accepted": accepted}, headers=_NO_STORE)

    async def preview(request: Request) -> Response:
        jpeg = board.preview()
        if jpeg is None:
            return Response(status_code=204, headers=_NO_STORE)
        return Response(jpeg, media_type="image/jpeg", headers=_NO_STORE)

    async def staff_login(request: Request) -> Response:
        body = await _json_body(request)
        pin = body.get("pin") if isinstance(body, dict) else None
        token = gate.login(pin) if isinstance(pin, str) and len(pin) <= 64 else None
        if token is None:
            return JSONResponse({"ok": False}, status_code=403, headers=_NO_STORE)
        response = JSONResponse({"ok": True}, headers=_NO_STORE)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/staff")
        return response

    def require_staff(request: Request) -> None:
        if not gate.ok(request):
            raise HTTPException(403, "staff login required")

    async def staff_events(request: Request) -> Response:
        require_staff(request)
        return stream(request, lambda patient, staff: {
            **staff, "patient_screen": patient.get("screen"),
            "unsafe_threshold": patient.get("unsafe_threshold")})

    async def staff_action(request: Request) -> Response:
        require_staff(request)
        body = await _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("action"), str):
            raise HTTPException(400, "action expected")
        done = service.staff_action(body["action"], body.get("value"))
        return JSONResponse({"done": done}, headers=_NO_STORE)

    async def staff_photo(request: Request) -> Response:
        require_staff(request)
        png = board.photo()
        if png is None:
            raise HTTPException(404)
        return Response(png, media_type="image/png", headers=_NO_STORE)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if start_service:
            service.start()
        try:
            yield
        finally:
            if start_service:
                await asyncio.to_thread(service.stop)

    routes = [
        Route("/", index),
        Route("/staff", staff_page),
        Route("/static/{name}", asset),
        Route("/events", patient_events),
        Route("/answer", answer, methods=["POST"]),
        Route("/preview.jpg", preview),
        Route("/staff/login", staff_login, methods=["POST"]),
        Route("/staff/events", staff_events),
        Route("/staff/action", staff_action, methods=["POST"]),
        Route("/staff/photo", staff_photo),
    ]
    return Starlette(routes=routes, lifespan=lifespan,
                     middleware=[Middleware(TrustedHostMiddleware,
                                            allowed_hosts=LOOPBACK_HOSTS)])


def serve(app: Starlette, service: KioskService, port: int = 8765) -> None:
    """Run ``app`` with uvicorn on 127.0.0.1:``port`` (loopback only; no access log, so no
    request line, answer or cookie is ever logged). Ctrl-C ends the event streams first, so
    the server stops at once."""
    import uvicorn

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            service.board.close()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, host="127.0.0.1", port=port, access_log=False,
                            log_level="warning", timeout_graceful_shutdown=2)
    _Server(config).run()
