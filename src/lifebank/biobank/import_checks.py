"""Step 2 of the biobank imports: every row of a participant or specimen file checked on its own, no database.

Each check appends a `RowError` (line, column, reason) and keeps going, so a rejection lists every bad row at
once: participant codes, sex, birth year, site, DUO consent codes and dates; specimen barcodes (and duplicates
within the file), types and units, quantities, collection times, parents, SPREC codes, status and location
syntax; and, across the file, the order that puts every parent before its children (lineage cycles are errors).
Rows that pass come back parsed, ready for step 3 (`import_db_checks`) and the write (`imports`).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

from lifebank.biobank.barcode import BARCODE_PATTERN
from lifebank.biobank.duo import UnknownDuoTerm, parse_duo_codes
from lifebank.biobank.import_sql import Advance
from lifebank.biobank.participants import SEXES
from lifebank.biobank.specimen_types import (
    FINAL_STATUSES,
    MAX_QUANTITY,
    SPECIMEN_TYPES,
    normalise_unit,
    quantity_too_large,
)
from lifebank.biobank.sprec import SprecError, parse_sprec
from lifebank.db.base import utcnow
from lifebank.errors import RowError
from lifebank.messages import Msg

PARTICIPANT_COLUMNS = ("participant", "sex", "birth_year", "site", "consent_codes", "consent_date")
SPECIMEN_COLUMNS = ("barcode", "participant", "type", "quantity", "unit", "collected_at", "parent_barcode", "sprec",
                    "location")
# Optional column `status`: a historic specimen may arrive already used up (reserved/in_use need the service).
IMPORT_STATUSES = ("available", "consumed", "destroyed", "distributed")
# A checked participant row: code, sex, birth year, site, DUO codes, consent date, consent scope.
ParsedParticipant = tuple[str, str, int | None, str, list[str], date, str]


def _parse_date(value: str) -> date:
    return date.fromisoformat(value.strip())


@lru_cache(maxsize=4096)
def _sprec_check(code: str) -> str | Msg:
    """Normalised SPREC, or '!reason' when invalid (cached: imports repeat a few codes many times)."""
    try:
        return str(parse_sprec(code))
    except SprecError as exc:
        return exc.reason


@lru_cache(maxsize=256)
def _unit_for(type_code: str, unit: str) -> str:
    """The normalised unit, or '!' and the unit the type expects when `unit` is wrong for it."""
    expected = SPECIMEN_TYPES[type_code].unit
    normal = normalise_unit(unit) if unit else expected
    return normal if normal == expected else "!" + expected


def _parse_time(value: str) -> datetime:
    """ISO 8601; a time without an offset is taken as UTC (documented in import-formats.md)."""
    text_ = value.strip()
    if text_.endswith(("Z", "z")):
        text_ = text_[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text_)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass(slots=True)
class _Row:
    line: int
    barcode: str
    participant: str
    type: str
    quantity: float | None
    unit: str
    collected_at: datetime | None
    parents: list[str]
    sprec: str | None
    box_path: str
    position: str
    status: str


def check_participant_rows(rows: list[list[str]], columns: dict[str, int], advance: Advance
                           ) -> tuple[list[RowError], dict[str, int], list[ParsedParticipant]]:
    """Every participant row on its own: the errors, each good code's line, and the parsed good rows."""
    c_code, c_sex, c_year, c_site = (columns[c] for c in ("participant", "sex", "birth_year", "site"))
    c_codes, c_date = columns["consent_codes"], columns["consent_date"]
    c_scope = columns.get("consent_scope")
    width = max(columns.values()) + 1
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    parsed: list[ParsedParticipant] = []
    duo_cache: dict[str, list[str] | Msg] = {}
    this_year = utcnow().year
    for n, row in enumerate(rows):
        line = n + 2
        if len(row) < width:
            if not any(cell.strip() for cell in row):
                continue
            errors.append(RowError(line, "-", Msg("has {fields} fields, the header has {width}",
                                                      fields=len(row), width=width)))
            continue
        code = row[c_code].strip()
        bad = len(errors)
        if not code or len(code) > 32 or not code.replace("-", "").replace("_", "").isalnum():
            errors.append(RowError(line, "participant", Msg("code {code!r} must be 1-32 letters, digits, - or _",
                                                            code=code)))
        elif code in seen:
            errors.append(RowError(line, "participant", Msg("{code} is already on line {other}", code=code,
                                                            other=seen[code])))
        else:
            seen[code] = line
        sex = row[c_sex].strip().upper()
        if sex not in SEXES:
            errors.append(RowError(line, "sex", Msg("{value!r} must be F, M, O or U", value=row[c_sex])))
        year_text = row[c_year].strip()
        year: int | None = None
        if year_text:
            if not year_text.isdigit() or not 1900 <= int(year_text) <= this_year:
                errors.append(RowError(line, "birth_year", Msg("{value!r} is not a year 1900..{this_year}",
                                                               value=year_text, this_year=this_year)))
            else:
                year = int(year_text)
        site = row[c_site].strip()
        if not site or len(site) > 64:
            errors.append(RowError(line, "site", Msg("site is required (at most 64 characters)")))
        codes_text = row[c_codes]
        codes = duo_cache.get(codes_text)
        if codes is None:
            try:
                codes = parse_duo_codes(codes_text) or Msg("at least one DUO code is required")
            except UnknownDuoTerm as exc:
                codes = exc.message
            duo_cache[codes_text] = codes
        if isinstance(codes, Msg):
            errors.append(RowError(line, "consent_codes", codes))
        try:
            consent_date = _parse_date(row[c_date])
        except ValueError:
            errors.append(RowError(line, "consent_date", Msg("{value!r} is not a date (YYYY-MM-DD)",
                                                                 value=row[c_date])))
        if len(errors) == bad:
            assert not isinstance(codes, Msg)
            parsed.append((code, sex, year, site, codes, consent_date,
                           row[c_scope].strip() if c_scope is not None and c_scope < len(row) else ""))
        if n % 10000 == 9999:
            advance(10000)
    advance(len(rows) % 10000)
    return errors, seen, parsed


def check_specimen_rows(raw: list[list[str]], columns: dict[str, int], advance: Advance
                        ) -> tuple[list[RowError], list[_Row], dict[str, int]]:
    """Every specimen row on its own: the errors, the parsed good rows, and each barcode's line."""
    idx = [columns[c] for c in SPECIMEN_COLUMNS]
    c_status = columns.get("status")
    pick = operator.itemgetter(*idx)
    times: dict[str, datetime | None] = {}
    width = max(columns.values()) + 1
    errors: list[RowError] = []
    rows: list[_Row] = []
    line_of: dict[str, int] = {}
    match_barcode = BARCODE_PATTERN.match
    types = SPECIMEN_TYPES
    for n, fields in enumerate(raw):
        line = n + 2
        if len(fields) < width:
            if not any(cell.strip() for cell in fields):
                continue
            errors.append(RowError(line, "-", Msg("has {fields} fields, the header has {width}",
                                                      fields=len(fields), width=width)))
            continue
        barcode, participant, type_code, quantity_text, unit, collected, parent, sprec, location = \
            pick(fields)
        barcode, participant, location, collected = barcode.strip(), participant.strip(), location.strip(), \
            collected.strip()
        parent, sprec, quantity_text = parent.strip(), sprec.strip(), quantity_text.strip()
        bad = len(errors)
        if not match_barcode(barcode):
            errors.append(RowError(line, "barcode", Msg("{barcode!r} is not a barcode (letters, digits, . _ -)",
                                                        barcode=barcode)))
        elif barcode in line_of:
            errors.append(RowError(line, "barcode", Msg("duplicate barcode {barcode}: also on line {other}",
                                                        barcode=barcode, other=line_of[barcode])))
        else:
            line_of[barcode] = line
        type_code = type_code.strip().upper()
        if type_code not in types:
            errors.append(RowError(line, "type", Msg("unknown specimen type {code!r}", code=type_code)))
        else:
            checked_unit = _unit_for(type_code, unit)
            if checked_unit[0] == "!":
                errors.append(RowError(line, "unit", Msg("unit {unit!r} is wrong for {type}: use {expected}",
                                                         unit=unit, type=type_code, expected=checked_unit[1:])))
            unit = checked_unit
        quantity = _checked_quantity(quantity_text, line, errors) if quantity_text else None
        collected_at = _checked_time(collected, line, times, errors) if collected else None
        parents = [p.strip() for p in parent.split(";") if p.strip()] if parent else []
        if barcode in parents:
            errors.append(RowError(line, "parent_barcode", Msg("a specimen cannot be its own parent")))
        if not participant and not parents:
            errors.append(RowError(line, "participant", Msg("required for a specimen without a parent")))
        if sprec:
            sprec = _sprec_check(sprec)
            if isinstance(sprec, Msg):
                errors.append(RowError(line, "sprec", sprec))
        status = "available"
        if c_status is not None and c_status < len(fields) and fields[c_status].strip():
            status = _checked_status(fields[c_status], location, line, errors)
        box_path, position = _box_and_position(location, line, errors) if location else ("", "")
        if len(errors) == bad:
            rows.append(_Row(line, barcode, participant, type_code, quantity, unit, collected_at, parents,
                             sprec or None, box_path, position, status))
        if n % 10000 == 9999:
            advance(10000)
    advance(len(raw) % 10000)
    return errors, rows, line_of


def _checked_quantity(quantity_text: str, line: int, errors: list[RowError]) -> float | None:
    quantity: float | None = None
    try:
        quantity = float(quantity_text)
        if quantity < 0 or quantity != quantity:
            raise ValueError
        if quantity_too_large(quantity):
            errors.append(RowError(line, "quantity", Msg("{value!r} is more than any one specimen holds "
                                                         "(at most {limit} in its unit)", value=quantity_text,
                                                         limit=f"{MAX_QUANTITY:,.0f}")))
    except ValueError:
        errors.append(RowError(line, "quantity", Msg("{value!r} is not a non-negative number",
                                                    value=quantity_text)))
    return quantity


def _checked_time(collected: str, line: int, times: dict[str, datetime | None],
                  errors: list[RowError]) -> datetime | None:
    """The collection time, parsed once per distinct text (`times` caches up to 100,000 of them)."""
    collected_at: datetime | None = None
    collected_at = times.get(collected, times)  # type: ignore[arg-type]
    if collected_at is times:
        try:
            collected_at = _parse_time(collected)
        except ValueError:
            collected_at = None
        if len(times) < 100_000:
            times[collected] = collected_at
    if collected_at is None:
        errors.append(RowError(line, "collected_at", Msg("{value!r} is not an ISO 8601 time", value=collected)))
    return collected_at


def _checked_status(text_: str, location: str, line: int, errors: list[RowError]) -> str:
    status = text_.strip().lower()
    if status not in IMPORT_STATUSES:
        errors.append(RowError(line, "status", Msg("{status!r} must be one of {choices}", status=status,
                                                  choices=", ".join(IMPORT_STATUSES))))
    elif status in FINAL_STATUSES and location:
        errors.append(RowError(line, "location", Msg("a {status} specimen cannot have a location",
                                                    status=status)))
    return status


def _box_and_position(location: str, line: int, errors: list[RowError]) -> tuple[str, str]:
    box_path, _, position = location.strip("/").rpartition("/")
    if not box_path or not position:
        errors.append(RowError(line, "location", Msg("{location!r} must be a box path and a position",
                                                    location=location)))
    return box_path, position


def _parents_first(rows: list[_Row], in_file: dict[str, _Row], errors: list[RowError]) -> list[_Row]:
    """Order rows so every parent from the file precedes its children (a stable sort by lineage depth);
    report lineage cycles. Iterative depth-first search: deep chains must not hit the recursion limit."""
    seen: set[str] = set()
    for row in rows:  # usually a parent comes before its children already: keep the file's order then
        if any(p in in_file and p not in seen for p in row.parents):
            break
        seen.add(row.barcode)
    else:
        return rows
    depth: dict[str, int] = {}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in rows:
        if not root.parents:
            depth[root.barcode] = 1
            state[root.barcode] = 2
            continue
        if root.barcode in state:
            continue
        state[root.barcode] = 1
        stack = [(root, iter([p for p in root.parents if p in in_file]))]
        while stack:
            node, pending = stack[-1]
            descended = False
            for parent in pending:
                seen = state.get(parent)
                if seen is None:
                    state[parent] = 1
                    stack.append((in_file[parent], iter([p for p in in_file[parent].parents if p in in_file])))
                    descended = True
                    break
                if seen == 1:
                    errors.append(RowError(node.line, "parent_barcode",
                                           Msg("lineage cycle: {parent} descends from {child}", parent=parent,
                                               child=node.barcode)))
            if descended:
                continue
            depth[node.barcode] = 1 + max((depth.get(p, 0) for p in node.parents if p in in_file), default=0)
            state[node.barcode] = 2
            stack.pop()
    return sorted(rows, key=lambda r: depth[r.barcode])
