"""Helpers for the web kiosk's tests and benchmark: a loopback uvicorn server in a thread,
test videos (a video file is the camera), and a frame source that holds at a frame until the
test lets it go (so a screenshot of the face screen is taken on a condition, not a sleep)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED_FACES = ROOT.parent / "shared" / "faces"
SAMPLE_FRAME = ROOT / "vectors" / "sample-frame.jpg"
VISUAL_ISSUER = ROOT / "vectors" / "test-pki" / "visual-issuer.pem"
PIN_B = "55021720352285"  # the default test card's 照合番号B (published test data)


class LoopbackServer:
    """uvicorn on 127.0.0.1 with an OS-chosen port, in a thread; stop() ends it."""

    def __init__(self, app: Any, board: Any = None) -> None:
        import uvicorn

        self.board = board
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                access_log=False, lifespan="on", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def start(self) -> LoopbackServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:  # a readiness condition with a deadline
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the kiosk server did not start")
            time.sleep(0.01)
        return self

    @property
    def port(self) -> int:
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.board is not None:
            self.board.close()  # ends the event streams, so shutdown does not wait
        self.server.should_exit = True
        self.thread.join(timeout=15)


def http(url: str, body: Any = None, *, headers: dict[str, str] | None = None,
         raw: bytes | None = None) -> tuple[int, bytes, dict[str, str]]:
    """One request; (status, body, headers) also for error statuses."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, headers={  # noqa: S310 (loopback http)
        **({"Content-Type": "application/json"} if data is not None else {}),
        **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def make_video(path: Path, image_path: Path, frames: int = 12) -> Path:
    """A 640×480 MJPEG video of ``image_path`` (a face photo), cropped to the upper part
    where the face is and shifted a little per frame, as a camera would see a patient."""
    import cv2
    import numpy as np

    image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(image_path)
    h, w = image.shape[:2]
    if (w, h) != (640, 480):
        # Keep the head and shoulders: the top square of a portrait.
        side = min(w, h)
        top = 0 if h > w else (h - side) // 2
        left = (w - side) // 2
        square = image[top:top + side, left:left + side]
        scaled = cv2.resize(square, (480, 480), interpolation=cv2.INTER_AREA)
        image = np.full((480, 640, 3), 128, dtype=np.uint8)
        image[:, 80:560] = scaled
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15, (640, 480))
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write MJPEG video here")
    for i in range(frames):
        shift = np.float32([[1, 0, (i % 4) - 2], [0, 1, (i % 3) - 1]])
        writer.write(cv2.warpAffine(image, shift, (640, 480), borderMode=cv2.BORDER_REPLICATE))
    writer.release()
    return path


class GatedFrames:
    """A frame source that stops before frame ``hold_at`` until :attr:`release` is set.

    The test waits for the face screen (a DOM condition), takes its screenshot, then
    sets the event. ``wait_limit`` bounds the hold, so a failing test never hangs."""

    def __init__(self, source: Any, hold_at: int, release: threading.Event,
                 wait_limit: float = 60.0) -> None:
        self.source = source
        self.hold_at = hold_at
        self.release = release
        self.wait_limit = wait_limit
        self.read_count = 0

    def read(self) -> Any:
        if self.read_count == self.hold_at:
            self.release.wait(self.wait_limit)
        self.read_count += 1
        return self.source.read()

    def close(self) -> None:
        self.source.close()
