"""Read an OHDSI Athena vocabulary download (CONCEPT, CONCEPT_ANCESTOR, CONCEPT_RELATIONSHIP CSVs).

Pure. LifeBank ships no licensed vocabulary (SNOMED CT, LOINC, RxNorm names need their owners' licences): a
site loads its own Athena download. Athena writes tab-separated files named `.csv`; Eunomia writes commas: the
delimiter is taken from the header line. A file missing a required column is refused naming the file and the
column. When CONCEPT_ANCESTOR is empty (Eunomia's subset ships it so), the ancestry is derived from the
`Is a` relationships, so "a diagnosis and its descendants" still works.
"""

from __future__ import annotations

import csv
from collections import defaultdict, deque
from collections.abc import Iterator
from pathlib import Path

from lifebank.errors import RowError, RowsRejected
from lifebank.messages import Msg

CONCEPT_COLUMNS = ("concept_id", "concept_name", "domain_id", "vocabulary_id", "concept_class_id",
                   "standard_concept", "concept_code", "valid_start_date", "valid_end_date", "invalid_reason")
ANCESTOR_COLUMNS = ("ancestor_concept_id", "descendant_concept_id", "min_levels_of_separation",
                    "max_levels_of_separation")
RELATIONSHIP_COLUMNS = ("concept_id_1", "concept_id_2", "relationship_id", "valid_start_date", "valid_end_date",
                        "invalid_reason")
FILES = {"CONCEPT.csv": CONCEPT_COLUMNS, "CONCEPT_ANCESTOR.csv": ANCESTOR_COLUMNS,
         "CONCEPT_RELATIONSHIP.csv": RELATIONSHIP_COLUMNS}
KEPT_RELATIONSHIPS = frozenset({"Is a", "Subsumes", "Maps to", "Mapped from"})


def _reader(path: Path) -> tuple[list[str], Iterator[list[str]]]:
    handle = path.open(encoding="utf-8", newline="")
    header = handle.readline()
    delimiter = "\t" if header.count("\t") > header.count(",") else ","
    columns = next(csv.reader([header], delimiter=delimiter)) if header.strip() else []
    return [c.strip().lower() for c in columns], csv.reader(handle, delimiter=delimiter)


def check_columns(path: Path, expected: tuple[str, ...]) -> None:
    """Refuse a vocabulary file that lacks a column its loader needs (line 1, that column)."""
    if not path.is_file():
        raise RowsRejected(Msg("vocabulary file {file}", file=path.name),
                           [RowError(0, path.name, Msg("the file is missing"))])
    columns, _rows = _reader(path)
    missing = [c for c in expected if c not in columns]
    if missing:
        raise RowsRejected(Msg("vocabulary file {file}", file=path.name),
                           [RowError(1, c, Msg("required column {column} is missing (found: {found})",
                                               column=c, found=", ".join(columns) or "-")) for c in missing])


def _int(path: Path, line: int, column: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise RowsRejected(Msg("vocabulary file {file}", file=path.name),
                           [RowError(line, column, Msg("{value!r} is not an integer", value=text))]) from None


def read_rows(path: Path, expected: tuple[str, ...], wanted: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, {column: text}) of the `wanted` columns, after `check_columns`."""
    check_columns(path, expected)
    columns, rows = _reader(path)
    index = {c: columns.index(c) for c in wanted}
    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        if len(row) < len(columns):
            raise RowsRejected(Msg("vocabulary file {file}", file=path.name),
                               [RowError(line, columns[len(row)] if len(row) < len(columns) else "-",
                                         Msg("the row has {found} fields, the header {expected}",
                                             found=len(row), expected=len(columns)))])
        yield line, {c: row[i] for c, i in index.items()}


def concepts(path: Path) -> Iterator[dict[str, object]]:
    for line, row in read_rows(path, CONCEPT_COLUMNS, ("concept_id", "concept_name", "domain_id", "vocabulary_id",
                                                        "concept_class_id", "standard_concept", "concept_code",
                                                        "invalid_reason")):
        yield {"concept_id": _int(path, line, "concept_id", row["concept_id"]),
               "concept_name": row["concept_name"][:255], "domain_id": row["domain_id"][:20],
               "vocabulary_id": row["vocabulary_id"][:20], "concept_class_id": row["concept_class_id"][:20],
               "standard_concept": row["standard_concept"][:1] or None, "concept_code": row["concept_code"][:50],
               "invalid_reason": row["invalid_reason"][:1] or None}


def ancestors(path: Path) -> Iterator[dict[str, int]]:
    for line, row in read_rows(path, ANCESTOR_COLUMNS, ANCESTOR_COLUMNS):
        yield {"ancestor_concept_id": _int(path, line, "ancestor_concept_id", row["ancestor_concept_id"]),
               "descendant_concept_id": _int(path, line, "descendant_concept_id", row["descendant_concept_id"]),
               "min_levels": _int(path, line, "min_levels_of_separation", row["min_levels_of_separation"]),
               "max_levels": _int(path, line, "max_levels_of_separation", row["max_levels_of_separation"])}


def relationships(path: Path) -> Iterator[dict[str, object]]:
    """The relationships the cohort builder and the code checks use (hierarchy and mappings)."""
    for line, row in read_rows(path, RELATIONSHIP_COLUMNS, ("concept_id_1", "concept_id_2", "relationship_id")):
        if row["relationship_id"] in KEPT_RELATIONSHIPS:
            yield {"concept_id_1": _int(path, line, "concept_id_1", row["concept_id_1"]),
                   "concept_id_2": _int(path, line, "concept_id_2", row["concept_id_2"]),
                   "relationship_id": row["relationship_id"][:20]}


def ancestry_from_is_a(concept_ids: set[int], is_a: list[tuple[int, int]]) -> list[dict[str, int]]:
    """CONCEPT_ANCESTOR rows derived from `Is a` edges (child, parent) among loaded concepts: every concept is
    its own ancestor at level 0 (as in Athena), and each ancestor reached at its shortest and longest path."""
    parents: dict[int, set[int]] = defaultdict(set)
    for child, parent in is_a:
        if child in concept_ids and parent in concept_ids and child != parent:
            parents[child].add(parent)
    rows = []
    for concept in concept_ids:
        levels: dict[int, tuple[int, int]] = {concept: (0, 0)}
        queue = deque([(concept, 0)])
        while queue:
            node, depth = queue.popleft()
            for parent in parents.get(node, ()):
                low, high = levels.get(parent, (depth + 1, 0))
                if parent not in levels:
                    queue.append((parent, depth + 1))
                levels[parent] = (min(low, depth + 1), max(high, depth + 1))
        rows += [{"ancestor_concept_id": a, "descendant_concept_id": concept, "min_levels": lo, "max_levels": hi}
                 for a, (lo, hi) in levels.items()]
    return rows
