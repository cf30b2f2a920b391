"""A participant's clinical timeline as a server-drawn SVG (pure): one lane per kind of event on one time axis.

Drawn for a phone first: a 360-unit-wide viewBox scaled to the page width (11-unit text stays legible at
390 px), year ticks only, a point per event (a bar for a condition with an end), and each mark's `<title>`
naming the date and the code's display for a tap or hover. No script, no CDN.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

WIDTH = 360
LEFT = 92
RIGHT = 350
TOP = 26
LANE = 30
LANE_KINDS = ("condition", "measurement", "procedure", "medication", "specimen")
COLOURS = {"condition": "#b42318", "measurement": "#175cd3", "procedure": "#6941c6", "medication": "#027a48",
           "specimen": "#b54708"}


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # one of LANE_KINDS (observations are drawn with measurements)
    start: datetime
    end: datetime | None
    text: str


def _years(low: datetime, high: datetime) -> list[int]:
    first, last = low.year, high.year + 1
    step = max(1, (last - first) // 5)
    return list(range(first + (-first) % step, last + 1, step))


def timeline_svg(events: list[Event], lane_labels: dict[str, str], title: str) -> str:
    """The SVG markup; `lane_labels` are the lanes' names in the reader's language."""
    height = TOP + LANE * len(LANE_KINDS) + 8
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'aria-label="{escape(title)}" class="clinical-timeline" font-family="sans-serif" font-size="11">']
    for index, kind in enumerate(LANE_KINDS):
        y = TOP + LANE * index + LANE / 2
        parts.append(f'<text x="4" y="{y + 4:.1f}" fill="#344054">{escape(lane_labels.get(kind, kind))}</text>')
        parts.append(f'<line x1="{LEFT}" x2="{RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eaecf0"/>')
    if not events:
        parts.append("</svg>")
        return "".join(parts)
    low = min(e.start for e in events)
    high = max(max(e.start, e.end or e.start) for e in events)
    years = _years(low, high)
    span_low = datetime(years[0], 1, 1, tzinfo=low.tzinfo).timestamp()
    span_high = max(datetime(years[-1], 1, 1, tzinfo=low.tzinfo).timestamp(), high.timestamp())
    scale = (RIGHT - LEFT) / max(span_high - span_low, 1.0)

    def x_of(moment: datetime) -> float:
        return LEFT + (moment.timestamp() - span_low) * scale

    for year in years:
        x = x_of(datetime(year, 1, 1, tzinfo=low.tzinfo))
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP - 4}" y2="{height - 8}" stroke="#f2f4f7"/>')
        parts.append(f'<text x="{x:.1f}" y="{TOP - 8}" text-anchor="middle" fill="#667085">{year}</text>')
    for event in events:
        kind = event.kind if event.kind in COLOURS else "measurement"
        y = TOP + LANE * LANE_KINDS.index(kind) + LANE / 2
        tip = f"<title>{escape(event.start.date().isoformat())} {escape(event.text)}</title>"
        colour = COLOURS[kind]
        if event.end is not None and event.end > event.start:
            parts.append(f'<line class="mark" data-kind="{kind}" x1="{x_of(event.start):.1f}" '
                         f'x2="{x_of(event.end):.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}" '
                         f'stroke-width="5" stroke-linecap="round" opacity="0.7">{tip}</line>')
        else:
            parts.append(f'<circle class="mark" data-kind="{kind}" cx="{x_of(event.start):.1f}" cy="{y:.1f}" '
                         f'r="4" fill="{colour}" opacity="0.75">{tip}</circle>')
    parts.append("</svg>")
    return "".join(parts)
