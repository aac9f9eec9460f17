"""A small, efficient HTTP/1.1 load generator on raw asyncio streams (loopback only).

Each of ``connections`` keep-alive connections sends its share of pre-built requests one
after another and reads each answer by its Content-Length: no per-request client objects,
so the generator costs far less CPU than the service it measures. Used by the service
tests and by benchmarks/bench_service.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast


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


async def run_rate(port: int, requests: Sequence[bytes], *, rate: float,
                   max_connections: int = 256, timeout: float = 60.0) -> list[Answer]:
    """Open loop: request ``i`` is due at ``start + i / rate`` whatever the answers before
    it, as clients arriving independently would send it. Each goes out on an idle
    kept-alive connection (a new one while fewer than ``max_connections`` are open, else
    it waits for one), and its time runs **from when it was due**, so a stalled service is
    charged for every request it kept waiting (no coordinated omission)."""
    loop = asyncio.get_running_loop()
    answers: list[Answer | None] = [None] * len(requests)
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    free = asyncio.Condition()
    opened = 0

    async def one(index: int, due: float) -> None:
        nonlocal opened
        conn = None
        async with free:
            while not idle and opened >= max_connections:
                await free.wait()
            if idle:
                conn = idle.pop()
            else:
                opened += 1
        try:
            if conn is None:
                conn = await asyncio.open_connection("127.0.0.1", port)
            reader, writer = conn
            writer.write(requests[index])
            status, body = await asyncio.wait_for(_read_answer(reader), timeout)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                asyncio.TimeoutError, ValueError):
            if conn is not None:
                conn[1].close()
            answers[index] = Answer(0, {}, time.perf_counter() - due)
            async with free:
                opened -= 1
                free.notify()
            return
        answers[index] = Answer(status, body, time.perf_counter() - due)
        async with free:
            idle.append(conn)
            free.notify()

    tasks = []
    start = time.perf_counter() + 0.01
    for i in range(len(requests)):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    for _reader, writer in idle:
        writer.close()
    return [a if a is not None else Answer(0, {}, 0.0) for a in answers]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No garbage collection in the generator while it measures: a full collection over
    its thousands of answers stalls it for tens of milliseconds, and every request due
    meanwhile would be charged to the service (measured: p99 41 ms with it, 6 ms without,
    the same service)."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def _run_loop(coro: Any) -> Any:
    with _collector_paused():
        try:  # uvloop (the service extra) when installed: the generator then costs less
            import uvloop
        except ImportError:
            return asyncio.run(coro)
        return uvloop.run(coro)


def run_sync(port: int, requests: Sequence[bytes], **kwargs: Any) -> list[Answer]:
    """:func:`run` to completion (on uvloop when installed)."""
    return cast(list[Answer], _run_loop(run(port, requests, **kwargs)))


def run_rate_sync(port: int, requests: Sequence[bytes], **kwargs: Any) -> list[Answer]:
    """:func:`run_rate` to completion (on uvloop when installed)."""
    return cast(list[Answer], _run_loop(run_rate(port, requests, **kwargs)))
