"""SVG plots of the order page: a shipment's temperature trace against the product's range, and the
vein-to-vein timeline (planned vs actual day of each step). Pure: numbers in, SVG markup out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from markupsafe import Markup, escape

WIDTH, HEIGHT, LEFT, TOP, BOTTOM = 640, 200, 48, 10, 28


def trace_plot(series: Sequence[Sequence[float]], low: float, high: float, title: str) -> Markup:
    """Temperature over time (minutes since the first reading); the allowed band shaded, readings outside red."""
    if not series:
        return Markup("")
    xs = [p[0] for p in series]
    ys = [p[1] for p in series]
    y_min, y_max = min(min(ys), low) - 2, max(max(ys), high) + 2
    span_x = (xs[-1] - xs[0]) or 1
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - TOP - BOTTOM

    def x(v: float) -> float:
        return LEFT + (v - xs[0]) / span_x * plot_w

    def y(v: float) -> float:
        return TOP + (y_max - v) / (y_max - y_min) * plot_h

    points = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in series)
    outside = "".join(f'<circle cx="{x(a):.1f}" cy="{y(b):.1f}" r="2.5" class="ct-out"/>' for a, b in series
                      if b < low or b > high)
    return Markup(
        f'<svg class="chart ct-trace" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<rect x="{LEFT}" y="{y(high):.1f}" width="{plot_w}" height="{y(low) - y(high):.1f}" class="ct-band"/>'
        f'<text x="{LEFT - 4}" y="{y(high) + 4:.1f}" text-anchor="end" class="chart-value">{high:g}</text>'
        f'<text x="{LEFT - 4}" y="{y(low) + 4:.1f}" text-anchor="end" class="chart-value">{low:g}</text>'
        f'<polyline points="{points}" class="ct-line" fill="none"/>{outside}'
        f'<text x="{LEFT}" y="{HEIGHT - 8}" class="chart-label">0 h</text>'
        f'<text x="{WIDTH - 8}" y="{HEIGHT - 8}" text-anchor="end" class="chart-label">'
        f'{span_x / 60:.1f} h</text></svg>')


def _day(value: str | None) -> date | None:
    if not value:
        return None
    return datetime.fromisoformat(value).date() if "T" in value else date.fromisoformat(value)


def timeline_plot(rows: Sequence[dict[str, Any]], labels: dict[str, str], title: str) -> Markup:
    """One line per step: a hollow mark on the planned day, a filled one on the actual day (red when late)."""
    planned = [_day(r["planned"]) for r in rows]
    actual = [_day(r["actual"]) for r in rows]
    days = [d for d in planned + actual if d]
    if not days:
        return Markup("")
    start, end = min(days), max(days)
    span = max((end - start).days, 1)
    left, row_h = 230, 18
    height = TOP + row_h * len(rows) + BOTTOM
    plot_w = WIDTH - left - 12

    def x(d: date) -> float:
        return left + (d - start).days / span * plot_w

    parts = [f'<svg class="chart ct-timeline" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for i, row in enumerate(rows):
        cy = TOP + i * row_h + row_h / 2
        parts.append(f'<text x="{left - 8}" y="{cy + 4:.1f}" text-anchor="end" class="chart-label">'
                     f'{escape(labels.get(row["step"], row["step"]))}</text>')
        if planned[i]:
            parts.append(f'<circle cx="{x(planned[i]):.1f}" cy="{cy:.1f}" r="5" class="ct-planned"/>')
        if actual[i]:
            late = bool(row.get("days_late") and row["days_late"] > 0)
            parts.append(f'<circle cx="{x(actual[i]):.1f}" cy="{cy:.1f}" r="4" class="ct-actual'
                         f'{" ct-late" if late else ""}"/>')
    parts.append(f'<text x="{left}" y="{height - 8}" class="chart-label">{start.isoformat()}</text>'
                 f'<text x="{WIDTH - 12}" y="{height - 8}" text-anchor="end" class="chart-label">'
                 f'{end.isoformat()}</text></svg>')
    return Markup("".join(parts))
