"""Small inline SVG charts: a line chart (score and best per step) and a bar chart (tokens).

Hand-written SVG rather than a plotting library: the page must open offline with no
dependency, and two charts of a few dozen points need no more than this.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["bar_chart", "line_chart"]

_W, _H = 560, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 40, 32
_COLORS = ("#2a5db0", "#b08800", "#2a9d5b", "#b02a2a")


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


def _frame(chart_id: str, title: str, xs: Sequence[int], lo: float, hi: float) -> list[str]:
    """The SVG head, the y grid with labels and the x labels (steps)."""
    out = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text class="caption" x="{_LEFT}" y="16">{escape(title)}</text>',
    ]
    for i in range(5):
        v = lo + (hi - lo) * i / 4
        y = _y(v, lo, hi)
        out.append(f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(v)}</text>')
    every = max(1, len(xs) // 12)
    for i, x in enumerate(xs):
        if i % every == 0 or i == len(xs) - 1:
            out.append(f'<text class="tick" x="{_x(i, len(xs)):.1f}" y="{_H - 10}" text-anchor="middle">{x}</text>')
    return out


def _x(i: int, n: int) -> float:
    return _LEFT + (_W - _LEFT - _RIGHT) * (i + 0.5) / max(n, 1)


def _y(v: float, lo: float, hi: float) -> float:
    return _TOP + (_H - _TOP - _BOTTOM) * (1 - (v - lo) / (hi - lo))


def line_chart(chart_id: str, title: str, xs: Sequence[int], series: dict[str, Sequence[float | None]]) -> str:
    """An SVG line chart: one polyline (and a dot per point, with a hover title) per series.

    Missing values (``None``) break nothing: the line joins the points that exist.

    >>> svg = line_chart("score", "Score", [1, 2], {"score": [0.5, 0.75]})
    >>> svg.count("<circle"), "polyline" in svg
    (2, True)
    """
    values = [v for s in series.values() for v in s if v is not None]
    if not xs or not values:
        return f'<p class="empty" id="{escape(chart_id)}">No {escape(title.lower())} recorded.</p>'
    lo, hi = _scale(min(0.0, min(values)), max(values))
    out = _frame(chart_id, title, xs, lo, hi)
    for k, (name, points) in enumerate(series.items()):
        color = _COLORS[k % len(_COLORS)]
        coords = [(_x(i, len(xs)), _y(v, lo, hi), x, v) for i, (x, v) in enumerate(zip(xs, points)) if v is not None]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in coords)
        dash = ' stroke-dasharray="6 4"' if k else ""
        out.append(f'<polyline class="series" data-series="{escape(name)}" fill="none" stroke="{color}" '
                   f'stroke-width="2"{dash} points="{path}"/>')  # fmt: skip
        for px, py, x, v in coords:
            out.append(f'<circle class="point" data-step="{x}" cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{color}">'
                       f"<title>{escape(name)} at step {x}: {_fmt(v)}</title></circle>")  # fmt: skip
        out.append(f'<text class="legend" x="{_W - _RIGHT - 90 * (len(series) - k)}" y="16" fill="{color}">'
                   f"{'- - ' if k else '— '}{escape(name)}</text>")  # fmt: skip
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(chart_id: str, title: str, xs: Sequence[int], values: Sequence[float]) -> str:
    """An SVG bar chart, one bar per step with a hover title.

    >>> bar_chart("tokens", "Tokens", [1, 2], [100, 300]).count('class="bar"')
    2
    """
    if not xs or not any(values):
        return f'<p class="empty" id="{escape(chart_id)}">No {escape(title.lower())} recorded.</p>'
    lo, hi = 0.0, max(values) * 1.05
    out = _frame(chart_id, title, xs, lo, hi)
    width = max(2.0, (_W - _LEFT - _RIGHT) / max(len(xs), 1) * 0.6)
    for i, (x, v) in enumerate(zip(xs, values)):
        top = _y(v, lo, hi)
        out.append(f'<rect class="bar" data-step="{x}" x="{_x(i, len(xs)) - width / 2:.1f}" y="{top:.1f}" '
                   f'width="{width:.1f}" height="{_y(lo, lo, hi) - top:.1f}" fill="{_COLORS[0]}">'
                   f"<title>step {x}: {_fmt(v)}</title></rect>")  # fmt: skip
    out.append("</svg>")
    return "\n".join(out)
