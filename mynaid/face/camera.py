"""Frames from a camera, a video file or an image sequence, and best-frame selection.

:func:`open_frame_source` takes what a user types after ``--camera``:

* a device index (``0``, ``"1"``): a camera through ``cv2.VideoCapture`` (asked for
  640×480);
* a folder: its images (``.png .jpg .jpeg .bmp .jp2 .j2k .tif .tiff .webp``) in name
  order;
* a glob pattern (``frames/*.png``): the matching files in name order;
* an image file: a sequence of that one image;
* any other file: a video, read through ``cv2.VideoCapture``.

Every source yields :class:`Frame` objects whose ``image`` is already RGB (OpenCV's BGR is
converted once, here). :func:`select_best_frame` reads a short burst and keeps the frame
that is most usable for matching, then encodes only that one.
"""

from __future__ import annotations

import glob
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from mynaid.errors import ParseError
from mynaid.face._deps import load_cv2
from mynaid.face.errors import CameraError
from mynaid.face.imaging import as_rgb, load_image
from mynaid.face.quality import quality_score

if TYPE_CHECKING:
    from mynaid.face._typing import ImageArray
    from mynaid.face.matcher import FaceMatcher
    from mynaid.face.models import FaceSample

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".jp2", ".j2k", ".tif",
                            ".tiff", ".webp"})
CAMERA_SIZE = (640, 480)
#: Frames read in a burst by default (~20 ms each to analyse at 640×480).
DEFAULT_BURST = 8


@dataclass(frozen=True)
class Frame:
    """One RGB frame, its position in the source and when it was read (monotonic s)."""

    image: ImageArray = field(repr=False, compare=False)
    index: int
    timestamp: float
    name: str = ""


@runtime_checkable
class FrameSource(Protocol):
    """Anything that yields frames: ``read`` returns None at the end."""

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


class _SourceBase:
    """Context manager and iteration on top of ``read``/``close``."""

    def read(self) -> Frame | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame

    def __enter__(self) -> _SourceBase:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class VideoCaptureSource(_SourceBase):
    """A camera (device index) or a video file, through ``cv2.VideoCapture``."""

    def __init__(self, source: int | str, *, size: tuple[int, int] | None = CAMERA_SIZE,
                 max_frames: int | None = None) -> None:
        cv2 = load_cv2()
        self._capture: Any = cv2.VideoCapture(source)
        if not self._capture.isOpened():
            self._capture.release()
            what = f"camera {source}" if isinstance(source, int) else f"video {source}"
            raise CameraError(f"cannot open {what}")
        if isinstance(source, int) and size is not None:
            self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
            self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        self._name = str(source)
        self._index = 0
        self._max_frames = max_frames

    def read(self) -> Frame | None:
        if self._capture is None:
            raise CameraError("the frame source is closed")
        if self._max_frames is not None and self._index >= self._max_frames:
            return None
        ok, bgr = self._capture.read()
        if not ok or bgr is None:
            return None
        frame = Frame(as_rgb(bgr, "bgr"), self._index, time.monotonic(), self._name)
        self._index += 1
        return frame

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class ImageSequenceSource(_SourceBase):
    """Image files read in order, as frames."""

    def __init__(self, paths: Iterable[str | Path]) -> None:
        self._paths = [Path(p) for p in paths]
        if not self._paths:
            raise CameraError("the image sequence is empty")
        self._index = 0
        self._closed = False

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(self._paths)

    def read(self) -> Frame | None:
        if self._closed:
            raise CameraError("the frame source is closed")
        if self._index >= len(self._paths):
            return None
        path = self._paths[self._index]
        try:
            image = load_image(path)
        except ParseError as exc:
            raise CameraError(exc.message) from exc
        frame = Frame(image, self._index, time.monotonic(), path.name)
        self._index += 1
        return frame

    def close(self) -> None:
        self._closed = True


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def open_frame_source(spec: int | str | Path) -> _SourceBase:
    """Open a device index, folder, glob pattern, image file or video file (see module doc).

    Raises :class:`~mynaid.face.errors.CameraError` when nothing can be opened.
    """
    if isinstance(spec, int):
        return VideoCaptureSource(spec)
    text = str(spec)
    if text.isdigit():
        return VideoCaptureSource(int(text))
    path = Path(text)
    if path.is_dir():
        images = _images_in(path)
        if not images:
            raise CameraError(f"no images in {path}")
        return ImageSequenceSource(images)
    if any(ch in text for ch in "*?["):
        matches = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file())
        if not matches:
            raise CameraError(f"no files match {text}")
        return ImageSequenceSource(matches)
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return ImageSequenceSource([path])
        return VideoCaptureSource(text)
    raise CameraError(f"no camera, folder, pattern or file {text!r}")


@dataclass(frozen=True)
class BestFrame:
    """The frame chosen from a burst, its analysed (and, if usable, encoded) sample."""

    frame: Frame
    sample: FaceSample
    frames_read: int
    usable_frames: int


def select_best_frame(matcher: FaceMatcher, frames: Iterable[Frame],
                      count: int = DEFAULT_BURST) -> BestFrame:
    """Read up to ``count`` frames, keep the one with the best quality, encode only it.

    Ranking (:func:`mynaid.face.quality.quality_score`): frames that pass every check
    first, then sharper and larger faces; among frames that all fail, the one with the
    fewest issues (its reasons say what to fix). Raises :class:`CameraError` when the
    source gives no frame at all.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    best: tuple[float, Frame, ImageArray, FaceSample] | None = None
    read = usable = 0
    policy = matcher.frame_policy
    for frame in frames:
        read += 1
        rgb = matcher.prepare(frame.image)
        sample = matcher.analyze_rgb(rgb, subject="frame", policy=policy, encode=False)
        usable += sample.report.ok
        score = quality_score(sample.report, policy)
        if best is None or score > best[0]:
            best = (score, frame, rgb, sample)
        if read >= count:
            break
    if best is None:
        raise CameraError("the frame source gave no frame")
    _score, frame, rgb, sample = best
    if sample.report.ok and sample.face is not None:
        sample = matcher.encode(rgb, sample.report, sample.face)
    return BestFrame(frame, sample, read, usable)
