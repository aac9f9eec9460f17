"""A DET curve as a PNG, drawn with OpenCV (no plotting library needed).

Both axes use the normal-deviate (probit) scale of DET plots (ISO/IEC 19795-1), from
0.1 % to 80 %; rates of 0 or 1 are drawn on the edges. The operating point at the
threshold in use is marked.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from statistics import NormalDist

from mynaid.errors import MynaidError
from mynaid.face._deps import load_cv2, load_numpy
from mynaid.face.evaluate import DetPoint

LOW, HIGH = 0.001, 0.8
TICKS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8)
WIDTH, HEIGHT = 640, 560
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 80, 30, 50, 70
_NORMAL = NormalDist()


def probit(rate: float) -> float:
    """The normal deviate of ``rate``, clipped to the plot's range."""
    return _NORMAL.inv_cdf(min(max(rate, LOW), HIGH))


def _to_px(fmr: float, fnmr: float) -> tuple[int, int]:
    lo, hi = probit(LOW), probit(HIGH)
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    x = MARGIN_LEFT + (probit(fmr) - lo) / (hi - lo) * plot_w
    y = MARGIN_TOP + plot_h - (probit(fnmr) - lo) / (hi - lo) * plot_h
    return round(x), round(y)


def _label(rate: float) -> str:
    percent = 100 * rate
    return f"{percent:g}"


def render_det(points: Sequence[DetPoint], operating: DetPoint | None = None,
               title: str = "DET curve") -> bytes:
    """PNG bytes of the DET curve ``points`` (and the ``operating`` point, if given)."""
    cv2 = load_cv2()
    np = load_numpy()
    image = np.full((HEIGHT, WIDTH, 3), 255, dtype=np.uint8)
    font, grey, black = cv2.FONT_HERSHEY_SIMPLEX, (200, 200, 200), (0, 0, 0)
    left, top = MARGIN_LEFT, MARGIN_TOP
    right, bottom = WIDTH - MARGIN_RIGHT, HEIGHT - MARGIN_BOTTOM
    for tick in TICKS:
        x, _ = _to_px(tick, LOW)
        _, y = _to_px(LOW, tick)
        cv2.line(image, (x, top), (x, bottom), grey, 1)
        cv2.line(image, (left, y), (right, y), grey, 1)
        cv2.putText(image, _label(tick), (x - 12, bottom + 18), font, 0.4, black, 1,
                    cv2.LINE_AA)
        cv2.putText(image, _label(tick), (left - 40, y + 4), font, 0.4, black, 1, cv2.LINE_AA)
    cv2.rectangle(image, (left, top), (right, bottom), black, 1)
    cv2.putText(image, "FMR (%): other people accepted", (left + 120, bottom + 45), font, 0.5,
                black, 1, cv2.LINE_AA)
    cv2.putText(image, "FNMR (%)", (8, top - 12), font, 0.5, black, 1, cv2.LINE_AA)
    cv2.putText(image, title, (left + 90, 24), font, 0.55, black, 1, cv2.LINE_AA)
    # The curve: a staircase between successive operating points.
    red = (40, 40, 220)  # BGR
    previous: tuple[int, int] | None = None
    for point in points:
        current = _to_px(point.fmr, point.fnmr)
        if previous is not None:
            corner = (current[0], previous[1])
            cv2.line(image, previous, corner, red, 2, cv2.LINE_AA)
            cv2.line(image, corner, current, red, 2, cv2.LINE_AA)
        previous = current
    if operating is not None:
        centre = _to_px(operating.fmr, operating.fnmr)
        cv2.circle(image, centre, 7, (200, 90, 0), 2, cv2.LINE_AA)
        text = (f"threshold {operating.threshold:.3f}: FMR {100 * operating.fmr:.1f} %, "
                f"FNMR {100 * operating.fnmr:.1f} %")
        cv2.putText(image, text, (left + 10, top + 20), font, 0.45, (200, 90, 0), 1,
                    cv2.LINE_AA)
    ok, buffer = cv2.imencode(".png", image)
    if not ok:
        raise MynaidError("OpenCV could not encode the plot")
    return bytes(buffer.tobytes())


def write_det_plot(path: str | Path, points: Sequence[DetPoint],
                   operating: DetPoint | None = None, title: str = "DET curve") -> None:
    """Write :func:`render_det` to ``path``."""
    Path(path).write_bytes(render_det(points, operating, title))
