"""The OMOP CDM 5.4 field rules, read from OHDSI's own specification table (vendored in `data/omop_cdm_5.4/`).

Pure. One source of truth for the importer (is each row valid?) and the exporter (which columns, in which
order, of which type): every table's fields in spec order, whether each is required, and its datatype
(`integer`, `float`, `date`, `datetime`, `varchar(n)`).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

from lifebank.messages import Msg

SPEC_DIR = Path(__file__).parent / "data" / "omop_cdm_5.4"
FIELD_LEVEL = SPEC_DIR / "OMOP_CDMv5.4_Field_Level.csv"
_VARCHAR = re.compile(r"varchar\((\d+|MAX)\)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    required: bool
    datatype: str  # integer | float | date | datetime | varchar
    length: int | None  # varchar(n); None for MAX or non-text

    def problem(self, text: str) -> Msg | None:
        """Why `text` (a CSV cell) is not a valid value of this field, or None."""
        if text == "":
            return Msg("required field is empty") if self.required else None
        if self.datatype == "integer":
            try:
                int(text)
            except ValueError:
                return Msg("{value!r} is not an integer", value=text)
        elif self.datatype == "float":
            try:
                float(text)
            except ValueError:
                return Msg("{value!r} is not a number", value=text)
        elif self.datatype == "date":
            try:
                date.fromisoformat(text)
            except ValueError:
                return Msg("{value!r} is not a date (YYYY-MM-DD)", value=text)
        elif self.datatype == "datetime":
            try:
                datetime.fromisoformat(text)
            except ValueError:
                return Msg("{value!r} is not a date and time (YYYY-MM-DD HH:MM:SS)", value=text)
        elif self.length is not None and len(text) > self.length:
            return Msg("{count} characters, at most {length} allowed", count=len(text), length=self.length)
        return None


@cache
def cdm_tables(path: Path = FIELD_LEVEL) -> dict[str, tuple[Field, ...]]:
    """Table name (lower case) -> its fields in specification order."""
    tables: dict[str, list[Field]] = {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            kind = row["cdmDatatype"].strip().lower()
            length = None
            if match := _VARCHAR.fullmatch(kind):
                kind, length = "varchar", None if match.group(1).upper() == "MAX" else int(match.group(1))
            tables.setdefault(row["cdmTableName"].strip().lower(), []).append(
                Field(row["cdmFieldName"].strip().lower(), row["isRequired"].strip() == "Yes", kind, length))
    return {name: tuple(fields) for name, fields in tables.items()}


def row_problems(table: str, header: list[str], row: list[str]) -> list[tuple[str, Msg]]:
    """(column, reason) for every bad cell of one CSV row of `table` (columns outside the spec are ignored)."""
    fields = {f.name: f for f in cdm_tables()[table]}
    problems = []
    for index, column in enumerate(header):
        spec = fields.get(column)
        if spec is None:
            continue
        if (reason := spec.problem(row[index] if index < len(row) else "")) is not None:
            problems.append((column, reason))
    return problems


def missing_columns(table: str, header: list[str]) -> list[str]:
    """Required columns of `table` that the header lacks."""
    return [f.name for f in cdm_tables()[table] if f.required and f.name not in header]
