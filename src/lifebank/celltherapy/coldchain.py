"""Cold chain: a data logger's trace (time, temperature) read from its CSV export, and the excursions in it.

Pure: text in, readings and excursions out. Two layouts are read (docs/celltherapy.md shows both):

- `generic`: a header `time,temperature_c` (also `timestamp`, `temperature`), ISO 8601 times with an offset
  or `Z` (a time without one is read as UTC);
- `date-time`: the layout of many logger tools' CSV exports (LogTag Analyzer, ELPRO and others): a few
  preamble lines, then a header with separate `Date` and `Time` columns and a `Temperature` column whose
  name may carry its unit (`Temperature (°C)`); dates as YYYY-MM-DD or DD/MM/YYYY, times as HH:MM[:SS], UTC.

An excursion is a run of readings outside the product's range; its duration runs from the first reading
outside to the first reading back inside (or the last reading, when the trace ends outside).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime

from lifebank.errors import RowError, RowsRejected
from lifebank.messages import Msg

MAX_READINGS = 200_000  # 4 months at one reading a minute: more is not one shipment's trace


@dataclass(frozen=True, slots=True)
class Excursion:
    start: datetime
    end: datetime
    extreme: float  # the temperature furthest outside the range, °C

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60

    def as_dict(self) -> dict[str, object]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "minutes": round(self.minutes, 1),
                "extreme_c": self.extreme}


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _date_time(day: str, clock: str) -> datetime:
    day = day.strip()
    if "/" in day:
        d, m, y = day.split("/")
        day = f"{int(y):04d}-{int(m):02d}-{int(d):02d}"
    clock = clock.strip()
    if clock.count(":") == 1:
        clock += ":00"
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=UTC)


def _header_index(lines: list[str]) -> int:
    for n, line in enumerate(lines[:50]):
        lowered = line.lower()
        if "temp" in lowered and ("time" in lowered or "date" in lowered):
            return n
    raise RowsRejected(Msg("logger trace"), [RowError(1, "header", Msg(
        "no header with a time (or date and time) column and a temperature column in the first 50 lines"))])


def parse_trace(text: str) -> list[tuple[datetime, float]]:
    """The readings of a logger export, in time order; every bad row is named, nothing is half-read."""
    lines = text.lstrip("\ufeff").splitlines()
    start = _header_index(lines)
    reader = csv.reader(io.StringIO("\n".join(lines[start:])))
    header = [h.strip().lower() for h in next(reader)]
    temp_col = next(i for i, h in enumerate(header) if h.startswith("temp"))
    date_col = next((i for i, h in enumerate(header) if h == "date"), None)
    time_col = next((i for i, h in enumerate(header) if h in ("time", "timestamp", "date/time", "datetime")), None)
    if time_col is None:
        raise RowsRejected(Msg("logger trace"), [RowError(start + 1, "time", Msg("no time column"))])
    readings: list[tuple[datetime, float]] = []
    errors: list[RowError] = []
    for offset, row in enumerate(reader):
        line = start + 2 + offset
        if not any(cell.strip() for cell in row):
            continue
        try:
            when = _date_time(row[date_col], row[time_col]) if date_col is not None else _time(row[time_col])
        except (ValueError, IndexError):
            errors.append(RowError(line, header[time_col], Msg("not a date and time")))
            continue
        try:
            value = float(row[temp_col].replace(",", ".").replace("°C", "").strip())
        except (ValueError, IndexError):
            errors.append(RowError(line, header[temp_col], Msg("not a temperature in °C")))
            continue
        if readings and when <= readings[-1][0]:
            errors.append(RowError(line, header[time_col], Msg("time does not follow the previous reading")))
            continue
        readings.append((when, value))
        if len(readings) > MAX_READINGS:
            errors.append(RowError(line, header[time_col], Msg("more than {n} readings", n=MAX_READINGS)))
            break
    if not readings and not errors:
        errors.append(RowError(start + 2, header[time_col], Msg("the trace has no readings")))
    if errors:
        raise RowsRejected(Msg("logger trace"), errors, rows=len(readings) + len(errors))
    return readings


def excursions(readings: list[tuple[datetime, float]], low: float, high: float) -> list[Excursion]:
    """Every run of readings outside [low, high], with its duration and its most extreme temperature."""
    found: list[Excursion] = []
    start: datetime | None = None
    extreme = 0.0
    for when, value in readings:
        outside = value < low or value > high
        if outside:
            if start is None:
                start, extreme = when, value
            elif abs(value - (low + high) / 2) > abs(extreme - (low + high) / 2):
                extreme = value
        elif start is not None:
            found.append(Excursion(start, when, extreme))
            start = None
    if start is not None:
        found.append(Excursion(start, readings[-1][0], extreme))
    return found
