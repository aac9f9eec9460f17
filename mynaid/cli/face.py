"""``mynaid face``: verify a face against a card photo, evaluate the matcher on pairs.

Needs the face extra (``pip install 'mynaid[face]'``); without it the commands exit 1 with
the install hint. Heavy imports (OpenCV, dlib) happen inside the commands.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from mynaid.cli.main import Settings, emit, pass_settings

_models_option = click.option(
    "--models", "models_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Folder with dlib's model files (default: $MYNAID_FACE_MODELS, else the "
         "face_recognition_models package).")
def _threshold_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--threshold`` and ``--unsafe-threshold`` (a looser value than calibrated is refused
    unless the second is given)."""
    func = click.option(
        "--unsafe-threshold", is_flag=True,
        help="Allow a --threshold looser than the calibrated value (accepts more "
             "impostors; for experiments only).")(func)
    return click.option(
        "--threshold", type=click.FloatRange(min=0.0, min_open=True), default=None,
        help="Match when distance < THRESHOLD (default: the backend's calibrated value; "
             "a looser one needs --unsafe-threshold).")(func)


def _make_matcher(models_dir: Path | None, threshold: float | None,
                  unsafe_threshold: bool) -> Any:
    """A FaceMatcher; a refused threshold is a usage error (exit 2), not a traceback."""
    from mynaid.face.dlib_backend import DlibBackend
    from mynaid.face.matcher import FaceMatcher, UnsafeThresholdError

    try:
        matcher = FaceMatcher(DlibBackend(models_dir), threshold=threshold,
                              allow_unsafe_threshold=unsafe_threshold)
    except UnsafeThresholdError as exc:
        raise click.UsageError(exc.message) from None
    if matcher.unsafe_threshold:
        click.echo(f"warning: UNSAFE threshold {matcher.threshold:g} (looser than the "
                   f"calibrated {matcher.backend.default_threshold:g})", err=True)
    return matcher
_json_option = click.option("--json", "local_json", is_flag=True,
                            help="Machine-readable JSON output (same as mynaid --json).")


def _nonempty(*paths: Path | None) -> None:
    """An empty image file is a bad input file (exit 1), named, before any decoder sees it."""
    from mynaid.errors import InputFileError

    for path in paths:
        if path is not None and path.is_file() and path.stat().st_size == 0:
            raise InputFileError(f"{path} is empty: not an image")


@click.group()
def face() -> None:
    """Face verification against the card photo (needs mynaid[face])."""


@face.command("verify")
@click.option("--card-photo", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The card photo (JPEG 2000 from the card, or any image).")
@click.option("--frame", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A camera frame (image file).")
@click.option("--camera", metavar="DEV|FILE|DIR|GLOB",
              help="Take the best frame of a burst from a camera index, video file, "
                   "folder or glob of images instead of --frame.")
@click.option("--burst", type=click.IntRange(1, 100), default=8, show_default=True,
              help="Frames read from --camera.")
@_threshold_option
@_models_option
@_json_option
@pass_settings
def face_verify(settings: Settings, card_photo: Path, frame: Path | None, camera: str | None,
                burst: int, threshold: float | None, unsafe_threshold: bool,
                models_dir: Path | None, local_json: bool) -> None:
    """Compare the face in a frame with the card photo (exit 6 when not verified)."""
    from mynaid.face.camera import open_frame_source, select_best_frame
    from mynaid.face.errors import FaceVerificationError
    from mynaid.face.imaging import load_image

    if (frame is None) == (camera is None):
        raise click.UsageError("give exactly one of --frame and --camera")
    _nonempty(card_photo, frame)
    card_image = load_image(card_photo)
    matcher = _make_matcher(models_dir, threshold, unsafe_threshold)
    reference = matcher.reference(card_image)
    extra: dict[str, object] = {}
    if frame is not None:
        result = matcher.compare(reference, load_image(frame))
    else:
        assert camera is not None
        with open_frame_source(camera) as source:
            best = select_best_frame(matcher, source, burst)
        result = matcher.compare_samples(reference, best.sample)
        extra = {"frames_read": best.frames_read, "usable_frames": best.usable_frames,
                 "chosen_frame": best.frame.index}
    data = {**result.to_dict(), **extra}
    lines = [result.summary()]
    if result.acquired and result.reasons:
        lines += [f"  {reason}" for reason in result.reasons]
    if extra:
        lines.append(f"best of {extra['frames_read']} frames (frame {extra['chosen_frame']}, "
                     f"{extra['usable_frames']} usable)")
    settings.json = settings.json or local_json
    emit(settings, data, "\n".join(lines))
    if not result.match:
        raise FaceVerificationError(result)


@face.command("eval")
@click.argument("pairs_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the DET curve to this PNG file.")
@click.option("--target-fmr", type=click.FloatRange(0.0, 1.0), default=0.01,
              show_default=True, help="FMR for which the threshold is reported.")
@click.option("--scores", is_flag=True, help="List every pair's distance (text output).")
@_threshold_option
@_models_option
@_json_option
@pass_settings
def face_eval(settings: Settings, pairs_csv: Path, plot_path: Path | None, target_fmr: float,
              scores: bool, threshold: float | None, unsafe_threshold: bool,
              models_dir: Path | None, local_json: bool) -> None:
    """FNMR, FMR, failure to acquire and the DET curve on a pairs file.

    PAIRS_CSV has the columns file_x (card photo), file_y (frame) and Decision (Yes: same
    person, No: different people); paths are relative to the CSV's folder.
    """
    from mynaid.face.evaluate import DetPoint, fmr_at, fnmr_at, read_pairs, score_pairs, summarize

    pairs = read_pairs(pairs_csv)
    _nonempty(*[p.card for p in pairs], *[p.frame for p in pairs])
    matcher = _make_matcher(models_dir, threshold, unsafe_threshold)
    report = summarize(score_pairs(matcher, pairs), matcher.threshold, matcher.backend.name,
                       target_fmr)
    if plot_path is not None:
        if not report.det:
            raise click.UsageError("a DET curve needs acquired genuine and impostor pairs")
        from mynaid.face.plot import write_det_plot

        genuine = [s.distance for s in report.scored if s.pair.genuine and s.distance is not None]
        impostor = [s.distance for s in report.scored
                    if not s.pair.genuine and s.distance is not None]
        fmr, fnmr = fmr_at(impostor, report.threshold), fnmr_at(genuine, report.threshold)
        operating = DetPoint(report.threshold, fmr or 0.0, fnmr or 0.0)
        write_det_plot(plot_path, report.det, operating,
                       f"DET: {pairs_csv.name}, {report.backend}")
    text = report.text()
    if scores:
        rows = [f"{s.pair.line:>5}  {'Yes' if s.pair.genuine else 'No ':<3}  "
                f"{'  FTA ' if s.distance is None else f'{s.distance:.4f}'}  "
                f"{s.pair.card.name} / {s.pair.frame.name}"
                + (f"  ({'; '.join(s.reasons)})" if s.reasons else "")
                for s in report.scored]
        text += "\n\nline decision distance pair\n" + "\n".join(rows)
    if plot_path is not None:
        text += f"\nDET curve written to {plot_path}"
    settings.json = settings.json or local_json
    emit(settings, report.to_dict(pairs_csv.parent), text)


@face.command("card-photo")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The JPEG 2000 (.jp2) file to write.")
@click.option("--height", type=click.IntRange(64, 1200), default=472, show_default=True,
              help="Pixels high (472: the card's 378 × 472).")
@_models_option
def face_card_photo(image: Path, output: Path, height: int, models_dir: Path | None) -> None:
    """Make a card-style photo (ID crop, greyscale, JPEG 2000) from a photo, for tests."""
    from mynaid.cli.main import check_output, write_private
    from mynaid.face.cardstyle import make_card_photo
    from mynaid.face.dlib_backend import DlibBackend
    from mynaid.face.imaging import load_image

    _nonempty(image)
    check_output(output)
    data = make_card_photo(DlibBackend(models_dir), load_image(image), height)
    write_private(output, data)  # a face crop: personal data
    click.echo(f"wrote {output} ({len(data)} bytes)", err=True)


def register(cli: click.Group) -> None:
    """Add ``mynaid face`` to the command group."""
    cli.add_command(face)
