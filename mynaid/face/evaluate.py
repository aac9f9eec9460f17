"""Measuring the matcher: pairs files, FNMR/FMR, the DET curve, failure to acquire.

Vocabulary (ISO/IEC 19795-1): a *genuine* pair shows the same person, an *impostor* pair
two people. With the decision rule ``match when distance < threshold``:

* FNMR(t): share of genuine distances ``>= t`` (the same person rejected);
* FMR(t): share of impostor distances ``< t`` (another person accepted);
* failure to acquire (FTA): share of pairs for which no distance exists (no usable face in
  either image); FNMR and FMR are over the acquired pairs only, as a matcher metric;
  ``false_reject_rate`` counts genuine pairs rejected for any reason (FTA included), as
  the person at the counter sees it.

The score functions are pure (lists of floats in, exact figures out) and need no extra.

Pairs file: CSV with a header holding ``file_x``, ``file_y`` and ``Decision`` (``Yes`` for
the same person, ``No`` otherwise); ``file_x`` is the card photo, ``file_y`` the frame;
relative paths are relative to the CSV's folder.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mynaid.face.errors import PairsFileError

if TYPE_CHECKING:
    from mynaid.face.matcher import FaceMatcher
    from mynaid.face.models import FaceSample

#: The FMR that ``threshold_for_fmr`` targets in the report.
TARGET_FMR = 0.01
MAX_PAIRS_FILE_BYTES = 16 << 20
REQUIRED_COLUMNS = ("file_x", "file_y", "Decision")
_YES = {"yes", "y", "true", "1", "same"}
_NO = {"no", "n", "false", "0", "different"}


# --- pairs file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """One row of a pairs file: card photo, frame, and whether they are the same person."""

    card: Path
    frame: Path
    genuine: bool
    line: int


def parse_pairs(text: str, base: Path, *, check_files: bool = True) -> list[Pair]:
    """Parse pairs CSV text; paths are resolved against ``base``.

    Raises :class:`PairsFileError` (with the line number) for a missing column, an empty
    path, a Decision other than Yes/No, a missing file (with ``check_files``) or no rows.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in (reader.fieldnames or [])]
    if not header:
        raise PairsFileError("the pairs file is empty", 1)
    lowered = {name.lower(): name for name in header}
    missing = [col for col in REQUIRED_COLUMNS if col.lower() not in lowered]
    if missing:
        raise PairsFileError(f"missing column(s) {', '.join(missing)} (header: "
                             f"{', '.join(header)})", 1)
    reader.fieldnames = header
    key_x, key_y, key_d = (lowered[c.lower()] for c in REQUIRED_COLUMNS)
    pairs: list[Pair] = []
    for row in reader:
        line = reader.line_num
        if None in row:
            raise PairsFileError("more fields than columns", line)
        values = [(row.get(key) or "").strip() for key in (key_x, key_y, key_d)]
        if not any(values):
            continue
        file_x, file_y, decision = values
        if not file_x or not file_y:
            raise PairsFileError("empty file_x or file_y", line)
        if decision.lower() in _YES:
            genuine = True
        elif decision.lower() in _NO:
            genuine = False
        else:
            raise PairsFileError(f"Decision must be Yes or No, not {decision!r}", line)
        card, frame = base / file_x, base / file_y
        if check_files:
            for path in (card, frame):
                if not path.is_file():
                    raise PairsFileError(f"no such file: {path}", line)
        pairs.append(Pair(card, frame, genuine, line))
    if not pairs:
        raise PairsFileError("the pairs file has no rows")
    return pairs


def read_pairs(path: str | Path, *, check_files: bool = True) -> list[Pair]:
    """Read a pairs CSV file (see :func:`parse_pairs`)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_PAIRS_FILE_BYTES:
            raise PairsFileError(f"{path} is over {MAX_PAIRS_FILE_BYTES} bytes")
        raw = path.read_bytes()
    except OSError as exc:
        raise PairsFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PairsFileError(f"{path} is not UTF-8 text") from exc
    return parse_pairs(text, path.parent, check_files=check_files)


# --- pure score functions --------------------------------------------------------------------


@dataclass(frozen=True)
class DetPoint:
    """One operating point: at ``threshold``, the FMR and FNMR."""

    threshold: float
    fmr: float
    fnmr: float


def fnmr_at(genuine: Sequence[float], threshold: float) -> float | None:
    """Share of genuine distances ``>= threshold`` (None without genuine scores)."""
    if not genuine:
        return None
    return sum(1 for d in genuine if d >= threshold) / len(genuine)


def fmr_at(impostor: Sequence[float], threshold: float) -> float | None:
    """Share of impostor distances ``< threshold`` (None without impostor scores)."""
    if not impostor:
        return None
    return sum(1 for d in impostor if d < threshold) / len(impostor)


def threshold_for_fmr(impostor: Sequence[float], target: float = TARGET_FMR) -> float:
    """The largest threshold whose FMR is at most ``target``.

    With the impostor distances sorted ascending as ``s`` and ``k = floor(target * n)``,
    that is ``s[k]`` (``distance < s[k]`` accepts at most k impostors), or infinity when
    ``k >= n``. Raises ValueError without impostor scores or for a target outside [0, 1].
    """
    if not impostor:
        raise ValueError("no impostor scores")
    if not 0.0 <= target <= 1.0:
        raise ValueError("the target FMR must be within [0, 1]")
    ordered = sorted(impostor)
    k = math.floor(target * len(ordered) + 1e-9)
    return math.inf if k >= len(ordered) else ordered[k]


def det_curve(genuine: Sequence[float], impostor: Sequence[float]) -> list[DetPoint]:
    """Every distinct operating point, by increasing threshold.

    Thresholds are the distinct scores, then infinity: the first point has FMR 0 (nothing
    is below the smallest score) and the last FMR 1, FNMR 0. Needs both score lists.
    """
    if not genuine or not impostor:
        raise ValueError("a DET curve needs genuine and impostor scores")
    thresholds = [*sorted(set(genuine) | set(impostor)), math.inf]
    points = []
    for t in thresholds:
        fmr, fnmr = fmr_at(impostor, t), fnmr_at(genuine, t)
        assert fmr is not None and fnmr is not None
        points.append(DetPoint(t, fmr, fnmr))
    return points


def equal_error_rate(points: Sequence[DetPoint]) -> float:
    """The error rate where FMR and FNMR cross (the smaller max(FMR, FNMR) over points)."""
    if not points:
        raise ValueError("no DET points")
    return min(max(p.fmr, p.fnmr) for p in points)


# --- scoring a pairs file ---------------------------------------------------------------------


@dataclass(frozen=True)
class ScoredPair:
    """A pair with its distance (None: failure to acquire) and the reasons."""

    pair: Pair
    distance: float | None
    reasons: tuple[str, ...]

    def to_dict(self, base: Path | None = None) -> dict[str, Any]:
        def name(path: Path) -> str:
            if base is not None:
                try:
                    return str(path.relative_to(base))
                except ValueError:
                    pass
            return str(path)

        return {"file_x": name(self.pair.card), "file_y": name(self.pair.frame),
                "decision": "Yes" if self.pair.genuine else "No",
                "distance": None if self.distance is None else round(self.distance, 4),
                "reasons": list(self.reasons)}


def _rate(count: int, total: int) -> float | None:
    return count / total if total else None


@dataclass(frozen=True)
class EvalReport:
    """The ``face eval`` figures (rates are None when their denominator is zero)."""

    backend: str
    threshold: float
    pairs: int
    genuine: int
    impostor: int
    failures_to_acquire: int
    fta_rate: float
    genuine_scores: int
    """Genuine pairs with a distance (acquired)."""
    impostor_scores: int
    """Impostor pairs with a distance (acquired)."""
    fnmr: float | None
    fmr: float | None
    false_reject_rate: float | None
    false_accept_rate: float | None
    target_fmr: float
    threshold_at_target: float | None
    fnmr_at_target: float | None
    eer: float | None
    genuine_range: tuple[float, float] | None
    impostor_range: tuple[float, float] | None
    det: tuple[DetPoint, ...] = field(repr=False)
    scored: tuple[ScoredPair, ...] = field(repr=False)

    def to_dict(self, base: Path | None = None) -> dict[str, Any]:
        def num(value: float | None) -> float | str | None:
            if value is None:
                return None
            return "inf" if math.isinf(value) else round(value, 4)

        return {
            "backend": self.backend, "threshold": self.threshold, "pairs": self.pairs,
            "genuine": self.genuine, "impostor": self.impostor,
            "failures_to_acquire": self.failures_to_acquire, "fta_rate": num(self.fta_rate),
            "genuine_scores": self.genuine_scores, "impostor_scores": self.impostor_scores,
            "fnmr": num(self.fnmr), "fmr": num(self.fmr),
            "false_reject_rate": num(self.false_reject_rate),
            "false_accept_rate": num(self.false_accept_rate),
            "target_fmr": self.target_fmr,
            "threshold_at_target_fmr": num(self.threshold_at_target),
            "fnmr_at_target_fmr": num(self.fnmr_at_target), "eer": num(self.eer),
            "genuine_distances": None if self.genuine_range is None
            else [num(v) for v in self.genuine_range],
            "impostor_distances": None if self.impostor_range is None
            else [num(v) for v in self.impostor_range],
            "det": [{"threshold": num(p.threshold), "fmr": num(p.fmr), "fnmr": num(p.fnmr)}
                    for p in self.det],
            "scores": [s.to_dict(base) for s in self.scored],
        }

    def text(self) -> str:
        """The report for people."""
        def pct(value: float | None) -> str:
            return "n/a" if value is None else f"{100 * value:.1f} %"

        def span(values: tuple[float, float] | None) -> str:
            return "n/a" if values is None else f"{values[0]:.3f}–{values[1]:.3f}"

        at_target = ("n/a" if self.threshold_at_target is None
                     else "any (all impostors allowed)" if math.isinf(self.threshold_at_target)
                     else f"{self.threshold_at_target:.3f}")
        lines = [
            f"backend {self.backend}; {self.pairs} pairs: {self.genuine} genuine, "
            f"{self.impostor} impostor",
            f"failure to acquire: {self.failures_to_acquire} ({pct(self.fta_rate)})",
            f"at threshold {self.threshold:.3f} (match when distance < threshold):",
            f"  FNMR {pct(self.fnmr)}, FMR {pct(self.fmr)} (acquired pairs)",
            f"  false rejects {pct(self.false_reject_rate)}, false accepts "
            f"{pct(self.false_accept_rate)} (all pairs, FTA counted as rejected)",
            f"threshold for FMR <= {pct(self.target_fmr)}: {at_target} "
            f"(FNMR there {pct(self.fnmr_at_target)})",
            f"equal error rate: {pct(self.eer)}",
            f"distances: genuine {span(self.genuine_range)}, impostor {span(self.impostor_range)}",
        ]
        if self.impostor_scores and self.impostor_scores < 3 / max(self.target_fmr, 1e-9):
            bound = 3 / self.impostor_scores
            lines.append(f"note: with {self.impostor_scores} scored impostor pairs, zero false "
                         f"matches only bounds the FMR below {pct(min(bound, 1.0))} (95 %, "
                         f"rule of three): too few to confirm an FMR of {pct(self.target_fmr)}")
        return "\n".join(lines)


def summarize(scored: Sequence[ScoredPair], threshold: float, backend: str,
              target_fmr: float = TARGET_FMR) -> EvalReport:
    """The report for scored pairs at ``threshold``."""
    genuine = [s.distance for s in scored if s.pair.genuine and s.distance is not None]
    impostor = [s.distance for s in scored if not s.pair.genuine and s.distance is not None]
    n_gen = sum(1 for s in scored if s.pair.genuine)
    n_imp = len(scored) - n_gen
    fta = sum(1 for s in scored if s.distance is None)
    false_rejects = sum(1 for s in scored if s.pair.genuine
                        and (s.distance is None or s.distance >= threshold))
    false_accepts = sum(1 for s in scored if not s.pair.genuine
                        and s.distance is not None and s.distance < threshold)
    at_target = threshold_for_fmr(impostor, target_fmr) if impostor else None
    det = det_curve(genuine, impostor) if genuine and impostor else []
    return EvalReport(
        backend=backend, threshold=threshold, pairs=len(scored), genuine=n_gen,
        impostor=n_imp, failures_to_acquire=fta, fta_rate=fta / len(scored) if scored else 0.0,
        genuine_scores=len(genuine), impostor_scores=len(impostor),
        fnmr=fnmr_at(genuine, threshold), fmr=fmr_at(impostor, threshold),
        false_reject_rate=_rate(false_rejects, n_gen),
        false_accept_rate=_rate(false_accepts, n_imp),
        target_fmr=target_fmr, threshold_at_target=at_target,
        fnmr_at_target=None if at_target is None else fnmr_at(genuine, at_target),
        eer=equal_error_rate(det) if det else None,
        genuine_range=(min(genuine), max(genuine)) if genuine else None,
        impostor_range=(min(impostor), max(impostor)) if impostor else None,
        det=tuple(det), scored=tuple(scored))


def score_pairs(matcher: FaceMatcher, pairs: Sequence[Pair],
                progress: Callable[[int, int], None] | None = None) -> list[ScoredPair]:
    """Distances for every pair (each image analysed once, however often it appears)."""
    cache: dict[tuple[Path, str], FaceSample] = {}

    def sample(path: Path, card: bool) -> FaceSample:
        key = (path, "card" if card else "frame")
        if key not in cache:
            cache[key] = matcher.reference(path) if card else matcher.analyze(path)
        return cache[key]

    scored = []
    for index, pair in enumerate(pairs):
        result = matcher.compare_samples(sample(pair.card, True), sample(pair.frame, False))
        scored.append(ScoredPair(pair, result.distance, tuple(str(r) for r in result.reasons)))
        if progress is not None:
            progress(index + 1, len(pairs))
    return scored


def evaluate_pairs(matcher: FaceMatcher, pairs_file: str | Path,
                   target_fmr: float = TARGET_FMR) -> EvalReport:
    """Read a pairs file, score it with ``matcher`` and summarise at its threshold."""
    pairs = read_pairs(pairs_file)
    return summarize(score_pairs(matcher, pairs), matcher.threshold, matcher.backend.name,
                     target_fmr)
