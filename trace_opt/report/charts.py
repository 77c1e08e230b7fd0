"""Small inline SVG charts: a line chart (score and best per step) and a bar chart (tokens).

Hand-drawn SVG rather than a plotting library: the page must open offline with no
dependency, and two charts of a few dozen points need no more than this. This module does
the arithmetic (``Chart``: coordinates and labels); ``templates/charts.svg.j2`` draws it.
A line series may carry an interval per point (a 95% confidence interval of the score),
drawn as a whisker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .templating import render

__all__ = ["Chart", "bar_chart", "bar_geometry", "line_chart", "line_geometry"]

_W, _H = 560, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 40, 32
_COLORS = ("#2a5db0", "#b08800", "#2a9d5b", "#b02a2a")
Interval = tuple[float, float]


@dataclass(frozen=True)
class Point:
    """One drawn value: its position, step and label; ``low``/``high`` the whisker's ends (y)."""

    x: float
    y: float
    step: int
    label: str
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    dashed: bool
    points: tuple[Point, ...]
    legend_x: float

    @property
    def path(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    step: int
    label: str


@dataclass(frozen=True)
class Chart:
    """What ``charts.svg.j2`` draws: ``kind`` ``"line"``, ``"bar"`` or ``"empty"`` (nothing
    recorded), the y grid ``(y, label)``, the x labels ``(x, step)``, and the series or bars."""

    id: str
    title: str
    kind: str
    grid: tuple[tuple[float, str], ...] = ()
    xticks: tuple[tuple[float, int], ...] = ()
    series: tuple[Series, ...] = ()
    bars: tuple[Bar, ...] = ()
    width: int = _W
    height: int = _H
    left: int = _LEFT
    right: int = _W - _RIGHT


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def _scale(lo: float, hi: float) -> tuple[float, float]:
    """The y range: scores in [0, 1] on a fixed 0..1 axis, anything else padded above (and
    below, when negative) so no point sits on the frame."""
    if 0 <= lo and hi <= 1:
        return 0.0, 1.0
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.05
    return (lo - pad if lo < 0 else lo), hi + pad


def _x(i: int, n: int) -> float:
    return _LEFT + (_W - _LEFT - _RIGHT) * (i + 0.5) / max(n, 1)


def _y(v: float, lo: float, hi: float) -> float:
    return _TOP + (_H - _TOP - _BOTTOM) * (1 - (v - lo) / (hi - lo))


def _axes(chart_id: str, title: str, kind: str, xs: Sequence[int], lo: float, hi: float, **drawn: object) -> Chart:
    """The chart with its y grid (5 labelled lines) and x labels (steps, at most about 12)."""
    grid = tuple((_y(lo + (hi - lo) * i / 4, lo, hi), _fmt(lo + (hi - lo) * i / 4)) for i in range(5))
    every = max(1, len(xs) // 12)
    ticks = tuple((_x(i, len(xs)), x) for i, x in enumerate(xs) if i % every == 0 or i == len(xs) - 1)
    return Chart(chart_id, title, kind, grid, ticks, **drawn)  # type: ignore[arg-type]


def line_geometry(chart_id: str, title: str, xs: Sequence[int], series: Mapping[str, Sequence[float | None]],
                  intervals: Mapping[str, Sequence[Interval | None]] | None = None) -> Chart:  # fmt: skip
    """The line chart's coordinates: one polyline and a dot per value of each series; missing
    values (``None``) are skipped and the line joins the points that exist."""
    intervals = intervals or {}
    values = [v for s in series.values() for v in s if v is not None]
    values += [b for s in intervals.values() for iv in s if iv is not None for b in iv]
    if not xs or not values:
        return Chart(chart_id, title, "empty")
    lo, hi = _scale(min(0.0, min(values)), max(values))
    drawn = []
    for k, (name, points) in enumerate(series.items()):
        bands = [*intervals.get(name, ()), *[None] * len(xs)]
        dots = []
        for i, (x, v) in enumerate(zip(xs, points)):
            if v is None:
                continue
            band = bands[i]
            ends = (_y(band[0], lo, hi), _y(band[1], lo, hi)) if band is not None else (None, None)
            dots.append(Point(_x(i, len(xs)), _y(v, lo, hi), x, f"{name} at step {x}: {_fmt(v)}", *ends))
        drawn.append(Series(name, _COLORS[k % len(_COLORS)], k > 0, tuple(dots), _W - _RIGHT - 90 * (len(series) - k)))
    return _axes(chart_id, title, "line", xs, lo, hi, series=tuple(drawn))


def bar_geometry(chart_id: str, title: str, xs: Sequence[int], values: Sequence[float]) -> Chart:
    """The bar chart's coordinates: one bar per step."""
    if not xs or not any(values):
        return Chart(chart_id, title, "empty")
    lo, hi = 0.0, max(values) * 1.05
    width = max(2.0, (_W - _LEFT - _RIGHT) / max(len(xs), 1) * 0.6)
    bars = tuple(Bar(_x(i, len(xs)) - width / 2, _y(v, lo, hi), width, _y(lo, lo, hi) - _y(v, lo, hi), x,
                     f"step {x}: {_fmt(v)}") for i, (x, v) in enumerate(zip(xs, values)))  # fmt: skip
    return _axes(chart_id, title, "bar", xs, lo, hi, bars=bars)


def line_chart(chart_id: str, title: str, xs: Sequence[int], series: Mapping[str, Sequence[float | None]],
               intervals: Mapping[str, Sequence[Interval | None]] | None = None) -> str:  # fmt: skip
    """An SVG line chart: one polyline (and a dot per point, with a hover title) per series;
    ``intervals`` (``{series: [(low, high) or None per x]}``) adds a whisker per point.

    >>> svg = line_chart("score", "Score", [1, 2], {"score": [0.5, 0.75]}, {"score": [(0.25, 0.75), None]})
    >>> svg.count("<circle"), "polyline" in svg, svg.count('class="interval"')
    (2, True, 1)
    """
    return render("charts.svg.j2", "chart", line_geometry(chart_id, title, xs, series, intervals))


def bar_chart(chart_id: str, title: str, xs: Sequence[int], values: Sequence[float]) -> str:
    """An SVG bar chart, one bar per step with a hover title.

    >>> bar_chart("tokens", "Tokens", [1, 2], [100, 300]).count('class="bar"')
    2
    """
    return render("charts.svg.j2", "chart", bar_geometry(chart_id, title, xs, values))
