"""Face verification on the real photos in ../shared/faces (card-style photo vs frames).

Skips without ../shared/faces or without the face extra (``pip install 'mynaid[face]'``;
the ``test`` extra installs it). The card photo is made as on the card: an ID crop,
greyscale, 300 px high, JPEG 2000 of ~3.5 KB; frames are 640×480 colour crops of the
*other* photos.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mynaid.errors import DependencyMissingError, ParseError
from mynaid.face.models import QualityCode

FACES = Path(__file__).resolve().parents[2] / "shared" / "faces"


# --- without the extra ---------------------------------------------------------------------


def test_missing_dlib_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    from mynaid.face.dlib_backend import DlibBackend

    monkeypatch.setitem(sys.modules, "dlib", None)  # makes `import dlib` fail
    with pytest.raises(DependencyMissingError, match=r"mynaid\[face\]"):
        DlibBackend()


def test_missing_models_give_the_install_hint(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    from mynaid.face._deps import MODELS_ENV, locate_dlib_models

    monkeypatch.setenv(MODELS_ENV, str(tmp_path))
    with pytest.raises(DependencyMissingError, match=r"shape_predictor_5.*mynaid\[face\]"):
        locate_dlib_models()


def test_models_are_located_without_importing_their_package() -> None:
    pytest.importorskip("dlib")
    from mynaid.face._deps import locate_dlib_models

    was_loaded = "face_recognition_models" in sys.modules
    files = locate_dlib_models()
    assert files.shape5.is_file() and files.resnet.is_file()
    # Importing it would need pkg_resources (gone from setuptools >= 82) and quit().
    assert ("face_recognition_models" in sys.modules) == was_loaded


# --- with the extra and the photos ------------------------------------------------------------

def _require_face() -> None:
    if not FACES.is_dir():
        pytest.skip(f"no shared face photos at {FACES}")
    for module in ("dlib", "cv2", "numpy"):
        pytest.importorskip(module, reason="the face extra is not installed")
    from mynaid.face._deps import locate_dlib_models

    try:
        locate_dlib_models()
    except DependencyMissingError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def matcher() -> Any:
    _require_face()
    from mynaid.face.matcher import FaceMatcher

    return FaceMatcher()


@pytest.fixture(scope="module")
def photos(matcher: Any) -> dict[str, Any]:
    from mynaid.face.imaging import as_rgb, load_image

    images: dict[str, Any] = {name: load_image(FACES / f"{name}.jpg")
                              for name in ("obama", "obama2", "obama3", "biden")}
    skdata = pytest.importorskip("skimage.data")
    images["astronaut"] = as_rgb(skdata.astronaut(), "rgb")
    images["camera"] = as_rgb(skdata.camera(), "rgb")
    return images


@pytest.fixture(scope="module")
def frames(matcher: Any, photos: dict[str, Any]) -> dict[str, Any]:
    from mynaid.face.cardstyle import make_frame

    return {name: make_frame(matcher.backend, photos[name])
            for name in ("obama2", "obama3", "biden", "astronaut")}


@pytest.fixture(scope="module")
def card_photo(matcher: Any, photos: dict[str, Any]) -> bytes:
    from mynaid.face.cardstyle import make_card_photo

    return make_card_photo(matcher.backend, photos["obama"])


@pytest.fixture(scope="module")
def reference(matcher: Any, card_photo: bytes) -> Any:
    return matcher.reference(card_photo)


def codes(result: Any) -> list[QualityCode]:
    return [reason.code for reason in result.reasons]


def test_card_photo_is_small_greyscale_jpeg2000(card_photo: bytes, reference: Any) -> None:
    import cv2
    import numpy as np

    from mynaid.photo import JP2_MAGIC

    assert card_photo.startswith(JP2_MAGIC)
    assert 1000 < len(card_photo) < 8000
    pixels = cv2.imdecode(np.frombuffer(card_photo, np.uint8), cv2.IMREAD_UNCHANGED)
    assert pixels.ndim == 2 and pixels.shape == (472, 378)  # one grey channel, card size
    # Greyscale detects but dlib encodes only 3 channels: the matcher converts.
    assert reference.usable and reference.report.face_count == 1


@pytest.mark.parametrize("name", ["obama2", "obama3"])
def test_same_person_matches(matcher: Any, reference: Any, frames: dict[str, Any],
                             name: str) -> None:
    result = matcher.compare(reference, frames[name])
    assert result.match, result.summary()
    assert result.distance < result.threshold == matcher.threshold
    assert result.reasons == ()


@pytest.mark.parametrize("name", ["biden", "astronaut"])
def test_other_people_do_not_match(matcher: Any, reference: Any, frames: dict[str, Any],
                                   name: str) -> None:
    result = matcher.compare(reference, frames[name])
    assert not result.match
    assert result.distance >= result.threshold
    assert result.reasons == ()  # a clean "different person", not a quality failure


def test_full_size_photo_and_bgr_frames(matcher: Any, reference: Any, photos: dict[str, Any],
                                        frames: dict[str, Any]) -> None:
    # A large photo is scaled down first; an OpenCV (BGR) frame with order="bgr" gives the
    # same distance as the RGB frame.
    assert matcher.compare(reference, photos["obama3"]).match
    rgb = matcher.compare(reference, frames["obama2"])
    bgr = matcher.compare(reference, frames["obama2"][:, :, ::-1], order="bgr")
    assert bgr.distance == pytest.approx(rgb.distance, abs=1e-6)


def test_frame_without_a_face(matcher: Any, reference: Any, photos: dict[str, Any]) -> None:
    result = matcher.compare(reference, photos["camera"])
    assert not result.match and result.distance is None and not result.acquired
    assert codes(result) == [QualityCode.NO_FACE]
    assert result.frame.face_count == 0
    assert "no face" in result.summary()


def test_frame_with_two_faces(matcher: Any, reference: Any, frames: dict[str, Any]) -> None:
    from mynaid.face.cardstyle import side_by_side

    two = side_by_side(frames["obama2"][:, 120:520], frames["biden"][:, 120:520])
    result = matcher.compare(reference, two)
    assert not result.match and result.distance is None
    assert QualityCode.MULTIPLE_FACES in codes(result)
    assert result.frame.face_count == 2


def test_too_dark_frame(matcher: Any, reference: Any, frames: dict[str, Any]) -> None:
    dark = (frames["obama2"] * 0.15).astype("uint8")
    result = matcher.compare(reference, dark)
    assert codes(result) == [QualityCode.TOO_DARK]
    assert not result.match and result.frame.brightness < matcher.frame_policy.min_brightness
    assert "add light" in str(result.reasons[0])


def test_blurred_frame(matcher: Any, reference: Any, frames: dict[str, Any]) -> None:
    import cv2

    blurred = cv2.GaussianBlur(frames["obama2"], (0, 0), 3)
    result = matcher.compare(reference, blurred)
    assert codes(result) == [QualityCode.TOO_BLURRY]
    assert not result.match


def test_face_too_small(matcher: Any, reference: Any, frames: dict[str, Any]) -> None:
    import cv2
    import numpy as np

    canvas = np.full((480, 640, 3), 128, dtype=np.uint8)
    small = cv2.resize(frames["obama2"], (224, 168), interpolation=cv2.INTER_AREA)
    canvas[150:318, 200:424] = small  # face ~60 px: found by the upsampled retry
    result = matcher.compare(reference, canvas)
    assert codes(result) == [QualityCode.FACE_TOO_SMALL]


def test_unreadable_images(matcher: Any, reference: Any, card_photo: bytes) -> None:
    result = matcher.compare(reference, b"not an image")
    assert codes(result) == [QualityCode.UNREADABLE]
    truncated = matcher.reference(card_photo[:200])
    assert truncated.report.issues[0].code is QualityCode.UNREADABLE
    with pytest.raises(ParseError):
        matcher.prepare(Path("/nonexistent/frame.png"))


def test_results_hold_no_image_or_embedding(matcher: Any, reference: Any,
                                            frames: dict[str, Any]) -> None:
    result = matcher.compare(reference, frames["obama2"])
    data = result.to_dict()
    assert set(data) == {"match", "distance", "threshold", "backend", "reasons", "card",
                         "frame"}
    json.dumps(data)
    assert "embedding" not in repr(reference) and "array" not in repr(reference)
    with pytest.raises(AttributeError):
        result.match = False


def test_68_point_landmarks_are_opt_in(matcher: Any, frames: dict[str, Any]) -> None:
    from mynaid.face.dlib_backend import DlibBackend
    from mynaid.face.liveness import ear_from_landmarks68

    face = matcher.backend.detect(frames["obama2"])[0]
    with pytest.raises(DependencyMissingError, match="not cleared for commercial use"):
        matcher.backend.landmarks68(frames["obama2"], face)
    dense = DlibBackend(enable_68_point_landmarks=True)
    points = dense.landmarks68(frames["obama2"], face)
    assert len(points) == 68
    assert 0.2 < ear_from_landmarks68(points) < 0.45  # eyes open


# --- frame sources and best frame -----------------------------------------------------------


@pytest.fixture
def frame_folder(tmp_path: Path, frames: dict[str, Any]) -> Path:
    import cv2

    folder = tmp_path / "burst"
    folder.mkdir()
    sharp = frames["obama3"]
    variants = [cv2.GaussianBlur(sharp, (0, 0), 4), (sharp * 0.1).astype("uint8"), sharp,
                cv2.GaussianBlur(sharp, (0, 0), 2)]
    for index, image in enumerate(variants):
        cv2.imwrite(str(folder / f"{index:02d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_best_frame_of_a_burst(matcher: Any, reference: Any, frame_folder: Path) -> None:
    from mynaid.face.camera import open_frame_source, select_best_frame

    with open_frame_source(frame_folder) as source:
        best = select_best_frame(matcher, source, count=10)
    assert best.frames_read == 4 and best.frame.name == "02.png"
    assert best.sample.usable
    assert matcher.compare_samples(reference, best.sample).match


def test_frame_sources(frame_folder: Path, frames: dict[str, Any], tmp_path: Path) -> None:
    import cv2

    from mynaid.face.camera import (
        ImageSequenceSource,
        VideoCaptureSource,
        open_frame_source,
    )
    from mynaid.face.errors import CameraError

    with open_frame_source(str(frame_folder / "0[23].png")) as source:
        assert isinstance(source, ImageSequenceSource)
        names = [frame.name for frame in source]
    assert names == ["02.png", "03.png"]
    single = open_frame_source(frame_folder / "02.png")
    frame = single.read()
    assert frame is not None and frame.image.shape == (480, 640, 3)
    assert single.read() is None
    single.close()
    # A video file: frames come back RGB.
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    assert writer.isOpened()
    for _ in range(3):
        writer.write(cv2.cvtColor(frames["obama2"], cv2.COLOR_RGB2BGR))
    writer.release()
    with open_frame_source(video) as source:
        assert isinstance(source, VideoCaptureSource)
        read = list(source)
    assert len(read) == 3
    mean_rgb = read[0].image.reshape(-1, 3).mean(axis=0)
    expected = frames["obama2"].reshape(-1, 3).mean(axis=0)
    assert abs(mean_rgb - expected).max() < 4  # RGB, not BGR
    for bad in (tmp_path / "nothing", str(tmp_path / "*.none"), tmp_path / "empty"):
        if str(bad).endswith("empty"):
            Path(bad).mkdir()
        with pytest.raises(CameraError):
            open_frame_source(bad)


# --- eval and the CLI --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pairs_dir(matcher: Any, photos: dict[str, Any],
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        from make_face_pairs import build
    finally:
        sys.path.pop(0)
    out = tmp_path_factory.mktemp("face-pairs")
    made = build(out, FACES, matcher.backend)
    assert (made.genuine, made.impostor, made.no_face) == (6, 14, 5)
    yield out


def test_eval_on_the_shared_pairs(matcher: Any, pairs_dir: Path) -> None:
    from mynaid.face.evaluate import evaluate_pairs

    report = evaluate_pairs(matcher, pairs_dir / "pairs.csv")
    assert (report.pairs, report.genuine, report.impostor) == (25, 6, 19)
    assert report.failures_to_acquire == 5 and report.fta_rate == 0.2
    assert report.fnmr == 0.0 and report.fmr == 0.0
    assert report.genuine_range is not None and report.impostor_range is not None
    assert report.genuine_range[1] < matcher.threshold <= report.impostor_range[0]
    assert report.threshold_at_target == report.impostor_range[0]  # 14 impostors: k = 0


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from mynaid.cli.main import main

    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_verify(pairs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    card = str(pairs_dir / "card_obama.jp2")
    code, out, _ = run_cli(["face", "verify", "--card-photo", card,
                            "--frame", str(pairs_dir / "frame_obama2.png")], capsys)
    assert code == 0 and out.startswith("match: distance")
    code, out, err = run_cli(["face", "verify", "--card-photo", card, "--json",
                              "--frame", str(pairs_dir / "frame_biden.png")], capsys)
    data = json.loads(out)
    assert code == 6 and data["match"] is False and data["distance"] > data["threshold"]
    assert "face not verified" in err
    code, out, _ = run_cli(["--json", "face", "verify", "--card-photo", card,
                            "--frame", str(pairs_dir / "frame_camera.png")], capsys)
    assert code == 6 and json.loads(out)["reasons"][0]["code"] == "no-face"
    # A threshold looser than calibrated is refused (usage error) unless explicitly unsafe;
    # then it is honoured and turns the impostor into a match, with a warning.
    code, out, err = run_cli(["face", "verify", "--card-photo", card, "--threshold", "0.95",
                              "--frame", str(pairs_dir / "frame_biden.png")], capsys)
    assert code == 2 and "looser than the calibrated" in err
    code, out, err = run_cli(["face", "verify", "--card-photo", card, "--threshold", "0.95",
                              "--unsafe-threshold",
                              "--frame", str(pairs_dir / "frame_biden.png")], capsys)
    assert code == 0 and "UNSAFE threshold" in err
    code, _, err = run_cli(["face", "verify", "--card-photo", card], capsys)
    assert code == 2 and "exactly one of --frame and --camera" in err
    code, out, _ = run_cli(["face", "verify", "--card-photo", card, "--camera",
                            str(pairs_dir / "frame_obama*.png"), "--burst", "2"], capsys)
    assert code == 0 and "best of 2 frames" in out


def test_cli_eval(pairs_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plot = tmp_path / "det.png"
    code, out, _ = run_cli(["face", "eval", str(pairs_dir / "pairs.csv"), "--json",
                            "--plot", str(plot)], capsys)
    data = json.loads(out)
    assert code == 0 and data["fnmr"] == 0.0 and data["fmr"] == 0.0
    assert data["failures_to_acquire"] == 5 and len(data["scores"]) == 25
    assert data["scores"][0]["file_x"] == "card_obama.jp2"
    assert plot.read_bytes().startswith(b"\x89PNG")
    code, out, _ = run_cli(["face", "eval", str(pairs_dir / "pairs.csv"), "--scores"],
                           capsys)
    assert code == 0 and "threshold for FMR <= 1.0 %" in out and "FTA" in out
    bad = pairs_dir / "bad.csv"
    bad.write_text("file_x,file_y,Decision\ncard_obama.jp2,frame_biden.png,perhaps\n")
    code, _, err = run_cli(["face", "eval", str(bad)], capsys)
    assert code == 1 and "line 2" in err and "Yes or No" in err


def test_cli_card_photo(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                        matcher: Any) -> None:
    out = tmp_path / "card.jp2"
    code, _, err = run_cli(["face", "card-photo", str(FACES / "biden.jpg"), "-o", str(out),
                            "--height", "200"], capsys)
    assert code == 0 and "wrote" in err
    from mynaid.photo import JP2_MAGIC

    assert out.read_bytes().startswith(JP2_MAGIC)
    assert matcher.reference(out).usable
