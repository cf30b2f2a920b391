"""The variant browser's allele-frequency plot: an inline SVG drawn on the server (no JavaScript needed).

One vertical bar per biallelic site at its position, as tall as its AF; hovering shows the site.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from lifebank.omics.allele_counts import AlleleCount

WIDTH, HEIGHT, MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 800, 240, 60, 46, 10


def af_svg(counts: Sequence[AlleleCount], start: int, end: int, *, title: str, x_title: str = "",
           y_title: str = "") -> str:
    """SVG markup; positions outside [start, end] are clamped, sites with AN = 0 are drawn as hollow ticks.

    `x_title` and `y_title` are the axis titles, already in the reader's language ("Position on chr22 (bp)",
    "Allele frequency"): a plot without them reads as a bar chart of anything.
    """
    if end <= start:
        end = start + 1
    plot_w, plot_h = WIDTH - MARGIN_LEFT - 10, HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    base = MARGIN_TOP + plot_h

    def x_of(pos: int) -> float:
        return MARGIN_LEFT + (min(max(pos, start), end) - start) / (end - start) * plot_w

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="af-plot" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<line x1="{MARGIN_LEFT}" y1="{base}" x2="{WIDTH - 10}" y2="{base}" class="axis"/>',
             f'<line x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{MARGIN_LEFT}" y2="{base}" class="axis"/>']
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = base - tick * plot_h
        parts.append(f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{tick:g}</text>')
        parts.append(f'<line x1="{MARGIN_LEFT}" y1="{y:.1f}" x2="{WIDTH - 10}" y2="{y:.1f}" class="grid"/>')
    parts.append(f'<text x="{MARGIN_LEFT}" y="{base + 16}" class="tick">{start:,}</text>')
    parts.append(f'<text x="{WIDTH - 10}" y="{base + 16}" text-anchor="end" class="tick">{end:,}</text>')
    if x_title:
        parts.append(f'<text x="{MARGIN_LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" '
                     f'class="axis-title x-title">{escape(x_title)}</text>')
    if y_title:
        middle = MARGIN_TOP + plot_h / 2
        parts.append(f'<text x="14" y="{middle:.1f}" text-anchor="middle" transform="rotate(-90 14 {middle:.1f})" '
                     f'class="axis-title y-title">{escape(y_title)}</text>')
    for c in counts:
        x = x_of(c.pos)
        label = escape(f"{c.chrom}:{c.pos} {c.ref}>{c.alt} AC={c.ac} AN={c.an} AF={c.af_text}")
        if c.af is None:
            parts.append(f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base - 4}" class="site nocall">'
                         f"<title>{label}</title></line>")
        else:
            y = base - max(c.af * plot_h, 1.5)
            parts.append(f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{y:.1f}" class="site">'
                         f"<title>{label}</title></line>")
    parts.append("</svg>")
    return "".join(parts)
