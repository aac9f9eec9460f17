"""The backend interface: a stub backend drives FaceMatcher; SFace plumbing with stub models.

Needs OpenCV and numpy (the quality checks use them), not dlib nor any model file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from mynaid.errors import DependencyMissingError
from mynaid.face.backend import FaceBackend
from mynaid.face.models import Face, FaceBox, QualityCode

np = pytest.importorskip("numpy")
cv2 = pytest.importorskip("cv2")


class StubBackend:
    """Finds one face where the image has a bright square; the embedding is its colour."""

    name = "stub"
    default_threshold = 0.5

    def detect(self, image: Any) -> Sequence[Face]:
        mask = image.max(axis=2) > 0
        if not mask.any():
            return []
        rows, cols = np.nonzero(mask)
        box = FaceBox(int(cols.min()), int(rows.min()), int(cols.max()) + 1,
                      int(rows.max()) + 1)
        return [Face(box, ((float(box.left), float(box.top)),), 1.0)]

    def embedding(self, image: Any, face: Face) -> Any:
        b = face.box
        return image[b.top:b.bottom, b.left:b.right].reshape(-1, 3).mean(axis=0) / 255.0

    def distance(self, a: Any, b: Any) -> float:
        return float(np.linalg.norm(a - b))


def frame_with(colour: tuple[int, int, int], size: int = 160) -> Any:
    rng = np.random.default_rng(3)
    image = np.zeros((480, 640, 3), dtype=np.uint8)
    patch = rng.integers(0, 60, (size, size, 3)).astype(np.int32) + np.array(colour)
    image[100:100 + size, 200:200 + size] = np.clip(patch, 1, 255).astype(np.uint8)
    return image


def test_stub_backend_satisfies_the_protocol_and_drives_the_matcher() -> None:
    from mynaid.face.matcher import FaceMatcher

    backend = StubBackend()
    assert isinstance(backend, FaceBackend)
    matcher = FaceMatcher(backend)
    assert matcher.threshold == 0.5
    reference = matcher.reference(frame_with((150, 100, 60)))
    assert reference.usable and reference.backend == "stub"
    same = matcher.compare(reference, frame_with((152, 98, 61)))
    other = matcher.compare(reference, frame_with((10, 150, 180)))
    assert same.match and same.backend == "stub"
    assert not other.match and other.reasons == ()
    empty = matcher.compare(reference, np.zeros((480, 640, 3), dtype=np.uint8))
    assert [r.code for r in empty.reasons] == [QualityCode.NO_FACE, QualityCode.TOO_DARK,
                                               QualityCode.TOO_BLURRY]
    # BGR input converted when told so: the same pixels read as BGR give another colour.
    bgr = matcher.compare(reference, frame_with((60, 100, 150)), order="bgr")
    assert bgr.match


def test_threshold_must_be_positive() -> None:
    from mynaid.face.matcher import FaceMatcher

    with pytest.raises(ValueError):
        FaceMatcher(StubBackend(), threshold=0)


def test_samples_of_different_backends_are_not_compared() -> None:
    from mynaid.face.matcher import FaceMatcher
    from mynaid.face.models import FaceSample, QualityReport

    matcher = FaceMatcher(StubBackend())
    report = QualityReport("card", (), 1)
    card = FaceSample(report, None, np.zeros(3), backend="dlib-resnet")
    frame = FaceSample(QualityReport("frame", (), 1), None, np.zeros(3), backend="stub")
    with pytest.raises(ValueError, match="different backends"):
        matcher.compare_samples(card, frame)


class FakeYuNet:
    def __init__(self) -> None:
        self.size: tuple[int, int] | None = None

    def setInputSize(self, size: tuple[int, int]) -> None:  # OpenCV's method name
        self.size = size

    def detect(self, image: Any) -> tuple[int, Any]:
        row = [10, 20, 100, 120, 40, 60, 80, 60, 60, 90, 45, 110, 75, 110, 0.95]
        small = [300, 300, 30, 30, *([310.0] * 10), 0.9]
        return 1, np.array([small, row], dtype=np.float32)


class FakeSFace:
    def alignCrop(self, image: Any, row: Any) -> Any:  # OpenCV's method name
        assert row.shape == (15,)
        return image[:112, :112]

    def feature(self, aligned: Any) -> Any:
        # BGR input: channel 0 is blue. The fake feature is the mean colour per channel.
        return aligned.reshape(-1, 3).mean(axis=0).reshape(1, 3)


def test_sface_backend_plumbing() -> None:
    from mynaid.face.sface_backend import SFACE_DEFAULT_THRESHOLD, SFaceBackend

    backend = SFaceBackend.__new__(SFaceBackend)
    backend._cv2, backend._np = cv2, np
    backend._detector, backend._recognizer = FakeYuNet(), FakeSFace()
    assert isinstance(backend, FaceBackend)
    image = np.zeros((240, 320, 3), dtype=np.uint8)
    image[:, :, 0] = 200  # red in RGB
    faces = backend.detect(image)
    assert backend._detector.size == (320, 240)
    assert [f.box for f in faces] == [FaceBox(10, 20, 110, 140), FaceBox(300, 300, 330, 330)]
    assert faces[0].landmarks[0] == (40.0, 60.0) and faces[0].score == pytest.approx(0.95)
    vector = backend.embedding(image, faces[0])
    assert vector.tolist() == [0.0, 0.0, 1.0]  # RGB red became BGR for OpenCV
    assert backend.distance(vector, vector) == pytest.approx(0.0)
    assert backend.distance(vector, np.array([1.0, 0.0, 0.0])) == pytest.approx(1.0)
    assert backend.default_threshold == SFACE_DEFAULT_THRESHOLD == pytest.approx(0.637)


def test_sface_backend_needs_model_files(tmp_path: Path) -> None:
    from mynaid.face.sface_backend import SFaceBackend

    with pytest.raises(DependencyMissingError, match="not found"):
        SFaceBackend(tmp_path / "yunet.onnx", tmp_path / "sface.onnx")


def test_as_rgb_conversions() -> None:
    from mynaid.errors import ParseError
    from mynaid.face.imaging import as_rgb, decode_image

    grey = np.full((4, 5), 7, dtype=np.uint8)
    assert as_rgb(grey).shape == (4, 5, 3)
    bgr = np.zeros((2, 2, 3), dtype=np.uint8)
    bgr[..., 0] = 255
    assert as_rgb(bgr, "bgr")[0, 0].tolist() == [0, 0, 255]
    assert as_rgb(bgr, "rgb")[0, 0].tolist() == [255, 0, 0]
    bgra = np.zeros((2, 2, 4), dtype=np.uint8)
    bgra[..., 2] = 9
    assert as_rgb(bgra, "bgr")[0, 0].tolist() == [9, 0, 0]
    wide = np.full((2, 2), 65535, dtype=np.uint16)
    assert as_rgb(wide)[0, 0].tolist() == [255, 255, 255]
    floats = np.full((2, 2, 3), 0.5)
    assert as_rgb(floats, "rgb")[0, 0].tolist() == [127, 127, 127]
    converted = as_rgb(bgr[:, ::-1], "rgb")
    assert converted.flags["C_CONTIGUOUS"] and converted.dtype == np.uint8
    with pytest.raises(ParseError):
        as_rgb(np.zeros((2, 2, 2), dtype=np.uint8))
    ok, png = cv2.imencode(".png", grey)
    assert ok and decode_image(png.tobytes()).shape == (4, 5, 3)
    with pytest.raises(ParseError, match="cannot decode"):
        decode_image(b"\x00" * 10)
