"""Matcher metrics (pure functions, exact values) and the pairs-file parser."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mynaid.errors import ParseError
from mynaid.face.errors import PairsFileError
from mynaid.face.evaluate import (
    DetPoint,
    Pair,
    ScoredPair,
    det_curve,
    equal_error_rate,
    fmr_at,
    fnmr_at,
    parse_pairs,
    read_pairs,
    summarize,
    threshold_for_fmr,
)

# --- rates -----------------------------------------------------------------------------------


def test_fnmr_counts_genuine_at_or_above_threshold() -> None:
    genuine = [0.30, 0.40, 0.50, 0.60]
    assert fnmr_at(genuine, 0.50) == 0.5  # 0.50 and 0.60: not below the threshold
    assert fnmr_at(genuine, 0.55) == 0.25
    assert fnmr_at(genuine, 0.30) == 1.0
    assert fnmr_at(genuine, math.inf) == 0.0
    assert fnmr_at([], 0.5) is None


def test_fmr_counts_impostors_strictly_below_threshold() -> None:
    impostor = [0.70, 0.80, 0.90, 0.95]
    assert fmr_at(impostor, 0.80) == 0.25  # only 0.70 is below 0.80
    assert fmr_at(impostor, 0.81) == 0.5
    assert fmr_at(impostor, 0.70) == 0.0
    assert fmr_at(impostor, 1.0) == 1.0
    assert fmr_at([], 0.5) is None


def test_threshold_for_fmr_exact_values() -> None:
    impostor = [0.90, 0.70, 0.80, 0.75]  # sorted: 0.70 0.75 0.80 0.90
    assert threshold_for_fmr(impostor, 0.0) == 0.70
    assert threshold_for_fmr(impostor, 0.01) == 0.70
    assert threshold_for_fmr(impostor, 0.25) == 0.75
    assert threshold_for_fmr(impostor, 0.49) == 0.75
    assert threshold_for_fmr(impostor, 0.50) == 0.80
    assert threshold_for_fmr(impostor, 1.0) == math.inf
    # 200 impostors, 1 %: two may be accepted, so the threshold is the third smallest.
    many = [i / 200 for i in range(200)]
    assert threshold_for_fmr(many, 0.01) == 2 / 200
    assert fmr_at(many, 2 / 200) == 0.01


def test_threshold_for_fmr_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="no impostor"):
        threshold_for_fmr([], 0.01)
    with pytest.raises(ValueError, match="within"):
        threshold_for_fmr([0.5], 1.5)


@given(st.lists(st.floats(0.0, 2.0), min_size=1, max_size=60),
       st.floats(0.0, 1.0))
def test_threshold_for_fmr_is_the_largest_that_meets_the_target(impostor: list[float],
                                                                target: float) -> None:
    t = threshold_for_fmr(impostor, target)
    rate = fmr_at(impostor, t)
    assert rate is not None and rate <= target + 1e-12
    if not math.isinf(t):
        above = fmr_at(impostor, math.nextafter(t, math.inf))
        assert above is not None and above > target


def test_det_curve_exact_points() -> None:
    points = det_curve([0.3, 0.5], [0.4, 0.8])
    assert points == [
        DetPoint(0.3, 0.0, 1.0),
        DetPoint(0.4, 0.0, 0.5),
        DetPoint(0.5, 0.5, 0.5),
        DetPoint(0.8, 0.5, 0.0),
        DetPoint(math.inf, 1.0, 0.0),
    ]
    assert equal_error_rate(points) == 0.5


def test_det_curve_separated_scores_reach_zero_errors() -> None:
    points = det_curve([0.3, 0.4], [0.7, 0.9])
    assert DetPoint(0.7, 0.0, 0.0) in points
    assert equal_error_rate(points) == 0.0
    with pytest.raises(ValueError):
        det_curve([], [0.5])


def _scored(genuine: bool, distance: float | None, line: int) -> ScoredPair:
    pair = Pair(Path(f"c{line}.jp2"), Path(f"f{line}.png"), genuine, line)
    return ScoredPair(pair, distance, () if distance is not None else ("frame: no face found",))


def test_summarize_counts_failures_to_acquire_separately() -> None:
    scored = [
        _scored(True, 0.30, 2), _scored(True, 0.60, 3), _scored(True, None, 4),
        _scored(False, 0.50, 5), _scored(False, 0.80, 6), _scored(False, 0.90, 7),
        _scored(False, None, 8), _scored(False, 0.85, 9),
    ]
    report = summarize(scored, 0.55, "test", target_fmr=0.25)
    assert (report.pairs, report.genuine, report.impostor) == (8, 3, 5)
    assert (report.genuine_scores, report.impostor_scores) == (2, 4)
    assert report.failures_to_acquire == 2
    assert report.fta_rate == 0.25
    assert report.fnmr == 0.5  # 0.60 rejected among the two acquired genuine pairs
    assert report.fmr == 0.25  # 0.50 accepted among four acquired impostor pairs
    assert report.false_reject_rate == 2 / 3  # the FTA genuine pair counts as rejected
    assert report.false_accept_rate == 1 / 5
    assert report.threshold_at_target == 0.80  # k = 1: the second smallest impostor
    assert report.fnmr_at_target == 0.0
    assert report.genuine_range == (0.30, 0.60)
    assert report.impostor_range == (0.50, 0.90)
    data = report.to_dict()
    assert data["fnmr"] == 0.5 and data["failures_to_acquire"] == 2
    assert "FNMR 50.0 %" in report.text()


def test_summarize_without_impostors() -> None:
    report = summarize([_scored(True, 0.3, 2)], 0.55, "test")
    assert report.fmr is None and report.threshold_at_target is None and report.det == ()
    assert "n/a" in report.text()


# --- pairs file ------------------------------------------------------------------------------


@pytest.fixture
def images(tmp_path: Path) -> Path:
    for name in ("a.jp2", "b.png", "c.png"):
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


def test_parse_pairs_resolves_paths_and_decisions(images: Path) -> None:
    text = "file_x,file_y,Decision\na.jp2,b.png,Yes\na.jp2, c.png ,no\n\n"
    pairs = parse_pairs(text, images)
    assert pairs == [Pair(images / "a.jp2", images / "b.png", True, 2),
                     Pair(images / "a.jp2", images / "c.png", False, 3)]


def test_read_pairs_accepts_bom_and_column_order(images: Path) -> None:
    csv_path = images / "pairs.csv"
    csv_path.write_text("\ufeffDecision,file_y,file_x\nYES,b.png,a.jp2\n", encoding="utf-8")
    assert read_pairs(csv_path) == [Pair(images / "a.jp2", images / "b.png", True, 2)]


@pytest.mark.parametrize(("text", "line", "message"), [
    ("", 1, "empty"),
    ("file_x,file_y\na.jp2,b.png\n", 1, "missing column"),
    ("file_x,file_y,Decision\na.jp2,b.png,maybe\n", 2, "Yes or No"),
    ("file_x,file_y,Decision\na.jp2,b.png,Yes\na.jp2,,No\n", 3, "empty file"),
    ("file_x,file_y,Decision\na.jp2,b.png,Yes,extra\n", 2, "more fields"),
    ("file_x,file_y,Decision\na.jp2,missing.png,Yes\n", 2, "no such file"),
    ("file_x,file_y,Decision\n", None, "no rows"),
])
def test_parse_pairs_errors_are_typed(images: Path, text: str, line: int | None,
                                      message: str) -> None:
    with pytest.raises(PairsFileError, match=message) as caught:
        parse_pairs(text, images)
    assert caught.value.line == line
    assert isinstance(caught.value, ParseError)


def test_read_pairs_missing_or_binary_file(tmp_path: Path) -> None:
    with pytest.raises(PairsFileError, match="cannot read"):
        read_pairs(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(PairsFileError, match="UTF-8"):
        read_pairs(bad)


def test_det_plot_is_a_png() -> None:
    pytest.importorskip("cv2")
    from mynaid.face.plot import render_det

    points = det_curve([0.3, 0.45, 0.5, 0.62], [0.4, 0.7, 0.8, 0.9])
    png = render_det(points, DetPoint(0.55, 0.25, 0.25))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
