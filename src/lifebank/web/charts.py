"""Charts drawn on the server as SVG: no chart library, no CDN, readable offline and in mainland China.

Two shapes cover the dashboard: horizontal bars (counts by category, fill of storage units) and columns
over time (collections per month). Each chart scales to its container's width (`viewBox`, width 100 %), so
it fits a 390 px phone, carries a `<title>` for screen readers, and escapes every label. Pure: strings in,
SVG text out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH = 600
BAR_HEIGHT = 26
GAP = 8
LABEL_WIDTH = 230
TEXT_Y = 18  # baseline of a bar's text, from the bar's top


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    total: float | None = None  # when set, the bar shows value/total (a fill) instead of value/max
    href: str | None = None
    warn: bool = False  # drawn in the warning colour (e.g. a freezer ≥ 90 % full)


def _fmt(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.1f}"


def bar_chart(title: str, bars: Sequence[Bar], *, percent: bool = False) -> Markup:
    """Horizontal bars, longest = full width (or each bar's own `total` when given: a fill gauge)."""
    if not bars:
        return Markup("")
    peak = max((b.value for b in bars), default=0) or 1
    height = len(bars) * (BAR_HEIGHT + GAP) + GAP
    track = WIDTH - LABEL_WIDTH - 130
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
             f'aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet"><title>{escape(title)}</title>']
    for i, bar in enumerate(bars):
        y = GAP + i * (BAR_HEIGHT + GAP)
        share = (bar.value / bar.total if bar.total else bar.value / peak) if (bar.total or peak) else 0
        length = max(0.0, min(1.0, share)) * track
        text = f"{share * 100:.0f} %" if percent else _fmt(bar.value)
        detail = f"{text} ({_fmt(bar.value)}/{_fmt(bar.total)})" if percent and bar.total else text
        label = escape(bar.label if len(bar.label) <= 22 else bar.label[:21] + "…")
        css = "bar warn" if bar.warn else "bar"
        row = (f'<text x="{LABEL_WIDTH - 6}" y="{y + TEXT_Y}" text-anchor="end" class="chart-label">{label}</text>'
               + (f'<rect x="{LABEL_WIDTH}" y="{y}" width="{track}" height="{BAR_HEIGHT}" class="track"/>'
                  if bar.total else "")
               + f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" class="{css}">'
               f'<title>{escape(bar.label)}: {escape(detail)}</title></rect>'
               f'<text x="{LABEL_WIDTH + length + 4:.1f}" y="{y + TEXT_Y}" class="chart-value">{escape(text)}</text>')
        if bar.href:
            row = f'<a href="{escape(bar.href)}">{row}</a>'
        parts.append(row)
    parts.append("</svg>")
    return Markup("".join(parts))


def column_chart(title: str, points: Sequence[tuple[str, float]], *, y_title: str = "") -> Markup:
    """Columns over time (e.g. collections per month), labelled on the first, last and every few columns."""
    if not points:
        return Markup("")
    height, bottom, left, top = 220, 30, 56, 12
    plot_w, plot_h = WIDTH - left - 8, height - bottom - top
    peak = max(v for _, v in points) or 1
    step = plot_w / len(points)
    every = max(1, len(points) // 6)
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{WIDTH - 8}" y2="{top + plot_h}" class="axis"/>',
             f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" class="chart-value">{_fmt(peak)}</text>',
             f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" class="chart-value">0</text>']
    if y_title:
        parts.append(f'<text x="12" y="{top + plot_h / 2}" transform="rotate(-90 12 {top + plot_h / 2})" '
                     f'text-anchor="middle" class="chart-label">{escape(y_title)}</text>')
    for i, (label, value) in enumerate(points):
        h = value / peak * plot_h
        x = left + i * step
        parts.append(f'<rect x="{x + step * 0.1:.1f}" y="{top + plot_h - h:.1f}" width="{step * 0.8:.1f}" '
                     f'height="{h:.1f}" class="bar"><title>{escape(label)}: {_fmt(value)}</title></rect>')
        last = i == len(points) - 1
        if (i % every == 0 and len(points) - 1 - i >= every / 2) or last:  # no label crowds the last one
            anchor, at = ("end", x + step) if last else ("middle", x + step / 2)
            parts.append(f'<text x="{at:.1f}" y="{height - 10}" text-anchor="{anchor}" '
                         f'class="chart-label">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


__all__ = ["Bar", "bar_chart", "column_chart"]
