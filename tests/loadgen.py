"""A small, efficient HTTP/1.1 load generator on raw asyncio streams (loopback only).

Each of ``connections`` keep-alive connections sends its share of pre-built requests one
after another and reads each answer by its Content-Length: no per-request client objects,
so the generator costs far less CPU than the service it measures. Used by the service
tests and by benchmarks/bench_service.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int  # 0: the connection broke
    body: dict[str, Any]
    seconds: float

    @property
    def reason(self) -> str:
        return str(self.body.get("reason", "ok")) if self.status else "connection-broken"


def post_request(path: str, body: dict[str, Any]) -> bytes:
    raw = json.dumps(body, separators=(",", ":")).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\n\r\n").encode() + raw


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, Any]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    raw = await reader.readexactly(length) if length else b""
    return status, (json.loads(raw) if raw else {})


async def run(port: int, requests: Sequence[bytes], *, connections: int = 32,
              timeout: float = 60.0,
              progress: Callable[[int], None] | None = None) -> list[Answer]:
    """Send every request (in order within each connection); answers in request order.
    ``progress`` is called with the number of answers so far after each one."""
    done = 0
    answers: list[Answer | None] = [None] * len(requests)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(requests)):
        queue.put_nowait(i)

    async def worker() -> None:
        nonlocal done
        reader = writer = None
        while True:
            try:
                index = queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            started = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                assert reader is not None
                writer.write(requests[index])
                status, body = await asyncio.wait_for(_read_answer(reader), timeout)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    asyncio.TimeoutError, ValueError):
                if writer is not None:
                    writer.close()
                reader = writer = None
                answers[index] = Answer(0, {}, time.perf_counter() - started)
            else:
                answers[index] = Answer(status, body, time.perf_counter() - started)
            done += 1
            if progress is not None:
                progress(done)
        if writer is not None:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(min(connections, len(requests)) or 1)))
    return [a if a is not None else Answer(0, {}, 0.0) for a in answers]


def run_sync(port: int, requests: Sequence[bytes], **kwargs: Any) -> list[Answer]:
    try:  # uvloop (the service extra) when installed: the generator then costs less CPU
        import uvloop
    except ImportError:
        return asyncio.run(run(port, requests, **kwargs))
    return uvloop.run(run(port, requests, **kwargs))
