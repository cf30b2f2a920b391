"""The fast lane of the specimen import: check a clean file column by column instead of row by row.

At 10 M specimens, per-row Python (strip, regex, dict look-ups, one object per row) costs more than SQLite's
own insert. A bank's files are almost always clean, so the import first tries this lane:
- pyarrow's CSV reader splits the file in C; columns stay plain strings (no type guessing, no NULLs);
- high-cardinality columns (barcode, location) are checked with pyarrow.compute (regex, uniqueness, look-up
  in a value set); low-cardinality ones (type, unit, quantity, collection time, SPREC, status, box path) are
  checked once per distinct value with the very functions of the row-wise import, and mapped back;
- participants, boxes and taken positions are fetched in bulk as before, and positions are compared as
  integer keys with NumPy.
The lane never reports an error itself. Whenever a file is anything but plainly valid (a bad value, a quoted
field, a blank line, a pool, a parent stored earlier or appearing later in the file, ...), it steps aside
(`NotPlain`) and the row-wise import runs instead, which names every bad row with its line, column and
reason. So the messages stay exactly those of the row-wise import, and both lanes write the same rows.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pa_csv

from lifebank.biobank.specimen_types import (
    FINAL_STATUSES,
    SPECIMEN_TYPES,
    LineageError,
    lineage_kind,
    quantity_too_large,
)
from lifebank.biobank.storage_layout import GridLayout
from lifebank.messages import Msg

BARCODE_RE2 = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # barcode.BARCODE_PATTERN (a clean field has no newline)
# Bytes a plain file body consists of: printable ASCII, newlines, and the two bytes of 'µ' in UTF-8 (no other
# character is made of those two bytes alone). Spaces only inside a field ('2024-03-01 08:00').
PLAIN_BYTES = bytes(range(0x20, 0x7F)) + b"\n" + "µ".encode()


class NotPlain(Exception):
    """The file needs the row-wise import (which reports what is wrong, if anything is)."""


@dataclass(slots=True)
class CheckedColumns:
    """A plainly valid specimen file, column by column (row i is line i + 2 of the file)."""

    rows: int
    barcode: list[str]
    participant: pa.Array  # codes, "" for a child that inherits its parent's participant
    type: list[str]
    quantity: list[float | None]
    unit: list[str]
    collected_at: list[Any]  # datetime, or the SQLite text form of it
    parent_index: np.ndarray  # row index of the parent in the file, -1 for none
    lineage: list[str]
    sprec: list[str | None]
    status: list[str]
    stored: np.ndarray  # rows with a location, and their box path and position label
    box_path: pa.Array
    position: pa.Array


def _read(content: bytes, columns: dict[str, int], width: int) -> list[pa.Array]:
    if (b'"' in content or b"\r" in content or b"\n\n" in content or content.startswith(b"\xef\xbb\xbf")
            or not content.endswith(b"\n")):
        raise NotPlain("quoting, CR, blank lines or a BOM: the csv module's reading of them is the reference")
    names = [f"c{i}" for i in range(width)]
    try:
        table = pa_csv.read_csv(
            io.BytesIO(content),
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, use_threads=False,
                                            block_size=1 << 24),
            parse_options=pa_csv.ParseOptions(quote_char=False, double_quote=False, newlines_in_values=False,
                                              ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                  strings_can_be_null=False, null_values=[]),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:  # ragged rows, bad UTF-8, ...
        raise NotPlain(str(exc)) from None
    return [table.column(i).combine_chunks() for i in range(width)]


def _per_distinct(column: pa.Array, check: Callable[[str], Any],
                  check_all: Callable[[pa.Array], list[Any]] | None = None) -> list[Any]:
    """`check` applied once per distinct value (or `check_all` to all distinct values at once), mapped back
    to every row; NotPlain when it says so."""
    encoded = pc.dictionary_encode(column)
    checked = check_all(encoded.dictionary) if check_all else [check(v) for v in encoded.dictionary.to_pylist()]
    if len(checked) == 1:
        return checked * len(column)
    return [checked[i] for i in encoded.indices.to_numpy(zero_copy_only=False).tolist()]


def _all(mask: pa.Array) -> bool:
    return bool(pc.all(mask).as_py()) if len(mask) else True


def check_columns(content: bytes, columns: dict[str, int], width: int, *,
                  unit_for: Callable[[str, str], str], sprec_check: Callable[[str], str],
                  parse_time: Callable[[str], datetime], stamp: Callable[[datetime], Any] | None,
                  statuses: Sequence[str]) -> CheckedColumns:
    """Every check of the row-wise import that needs no database, on whole columns."""
    cells = _read(content, columns, width)
    rows = len(cells[0])
    if rows == 0:
        raise NotPlain("no rows")

    def col(name: str) -> pa.Array:
        return cells[columns[name]]

    # Every field is printable ASCII or 'µ' (of 'µg', never whitespace), without blanks at its ends: so no
    # strip() of the row-wise import could change a value. Passes over the bytes, not over every column.
    if content.translate(None, PLAIN_BYTES) and content.split(b"\n", 1)[1].translate(None, PLAIN_BYTES):
        raise NotPlain("control characters or non-ASCII text")  # (the header may have either)
    if b" " in content:
        body = b"\n" + content.split(b"\n", 1)[1]
        if any(edge in body for edge in (b" ,", b", ", b" \n", b"\n ")):
            raise NotPlain("a field with blanks at an end")
    barcode = col("barcode")
    if not _all(pc.match_substring_regex(barcode, BARCODE_RE2)):
        raise NotPlain("barcode pattern")
    # Duplicate barcodes (in the file or stored) and taken positions are left to the unique constraints.

    types = _per_distinct(col("type"), lambda t: t if t in SPECIMEN_TYPES else _not_plain("type"))
    type_unit = pc.binary_join_element_wise(col("type"), col("unit"), "\x00")
    units = _per_distinct(type_unit, lambda tu: _ok(unit_for(*tu.split("\x00", 1))))
    quantity = _per_distinct(col("quantity"), _quantity)
    def collection_time(text: str) -> Any:
        if not text:
            return None
        try:
            when = parse_time(text)
        except ValueError:
            raise NotPlain("collected_at") from None
        return stamp(when) if stamp else when

    collected_at = _per_distinct(col("collected_at"), collection_time,
                                 (lambda values: _sqlite_stamps(values, collection_time)) if stamp else None)
    sprec = _per_distinct(col("sprec"), lambda v: _ok(sprec_check(v)) if v else None)
    if "status" in columns:
        status = _per_distinct(col("status"), lambda v: _status(v, statuses))
    else:
        status = ["available"] * rows

    # lineage: one parent at most (pools take the row-wise lane), appearing earlier in the file
    parent = col("parent_barcode")
    participant = col("participant")
    has_parent = pc.not_equal(parent, "")
    if not _all(pc.invert(pc.match_substring(parent, ";"))):
        raise NotPlain("a pool")
    if not _all(pc.or_(has_parent, pc.not_equal(participant, ""))):
        raise NotPlain("a specimen with neither participant nor parent")
    parent_index = pc.index_in(parent, value_set=barcode).to_numpy(zero_copy_only=False)
    has_parent_np = has_parent.to_numpy(zero_copy_only=False)
    parent_index = np.where(has_parent_np, np.nan_to_num(parent_index, nan=-2), -1).astype(np.int64)
    if (parent_index[has_parent_np] < 0).any():
        raise NotPlain("a parent not in the file")
    if (parent_index[has_parent_np] >= np.flatnonzero(has_parent_np)).any():
        raise NotPlain("a parent after its child (or itself)")
    lineage = ["primary"] * rows
    children = np.flatnonzero(has_parent_np)
    if len(children):
        kinds: dict[tuple[str, str], str] = {}
        for child, parent_row in zip(children.tolist(), parent_index[children].tolist(), strict=True):
            pair = (types[parent_row], types[child])
            kind = kinds.get(pair)
            if kind is None:
                try:
                    kind = kinds[pair] = lineage_kind([pair[0]], pair[1]).value
                except LineageError:
                    raise NotPlain("impossible lineage") from None
            lineage[child] = kind

    location = col("location")
    stored = pc.not_equal(location, "")
    at = pc.filter(location, stored)
    if not _all(pc.invert(pc.or_(pc.starts_with(at, "/"), pc.ends_with(at, "/")))):
        raise NotPlain("a location with a '/' at an end")
    parts = pc.split_pattern(at, "/", max_splits=1, reverse=True)  # box path, position
    if not _all(pc.equal(pc.list_value_length(parts), 2)):
        raise NotPlain("a location that is not a box path and a position")
    final = pc.is_in(pa.array(status), value_set=pa.array(sorted(FINAL_STATUSES)))
    if not _all(pc.invert(pc.and_(final, stored))):
        raise NotPlain("a used-up specimen with a location")
    return CheckedColumns(rows, barcode.to_pylist(), participant, types, quantity, units, collected_at,
                          parent_index, lineage, sprec, status,
                          np.flatnonzero(stored.to_numpy(zero_copy_only=False)), pc.list_element(parts, 0),
                          pc.list_element(parts, 1))


ISO_UTC_SECONDS = "%Y-%m-%dT%H:%M:%SZ"


def _sqlite_stamps(values: pa.Array, one_by_one: Callable[[str], Any]) -> list[Any]:
    """SQLite text of collection times: the common 'YYYY-MM-DDTHH:MM:SSZ' converted in C (a value that
    does not print back unchanged, such as 30 February, is no such time), any other form one by one."""
    parsed = pc.strptime(values, format=ISO_UTC_SECONDS, unit="s", error_is_null=True)
    exact = pc.fill_null(pc.equal(pc.strftime(parsed, format=ISO_UTC_SECONDS), values), False)
    stamps = pc.strftime(parsed, format="%Y-%m-%d %H:%M:%S.000000").to_pylist()
    others = np.flatnonzero(~exact.to_numpy(zero_copy_only=False))
    if len(others):
        texts = values.to_pylist()
        for i in others.tolist():
            stamps[i] = one_by_one(texts[i])
    return stamps


def _not_plain(what: str) -> Any:
    raise NotPlain(what)


def _ok(checked: str | Msg) -> str:
    """Unwrap the row-wise checks' answers: a message (SPREC) or '!reason' (unit) means not plain."""
    if isinstance(checked, Msg):
        raise NotPlain(str(checked))
    if checked[0] == "!":
        raise NotPlain(checked[1:])
    return checked


def _quantity(text: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise NotPlain("quantity") from None
    if value < 0 or value != value or quantity_too_large(value):
        raise NotPlain("quantity")
    return value


def _status(text: str, statuses: Sequence[str]) -> str:
    status = text.lower() if text else "available"
    if status not in statuses:
        raise NotPlain("status")
    return status


def participant_ids(column: pa.Array, people: dict[str, tuple[int, bool]]) -> np.ndarray:
    """Participant id per row (0 where the column is empty); NotPlain for unknown or withdrawn ones."""
    encoded = pc.dictionary_encode(column)
    ids = []
    for code in encoded.dictionary.to_pylist():
        if not code:
            ids.append(0)
            continue
        person = people.get(code)
        if person is None or not person[1]:
            raise NotPlain("unknown participant or withdrawn consent")
        ids.append(person[0])
    return np.asarray(ids, dtype=np.int64)[encoded.indices.to_numpy(zero_copy_only=False)]


def inherit_owners(own: np.ndarray, parent_index: np.ndarray) -> np.ndarray:
    """A child without a participant belongs to its parent's (parents precede children, so one pass in
    file order settles chains); NotPlain when a child names another participant than its parent's."""
    children = np.flatnonzero(parent_index >= 0)
    own_of_parent = own[parent_index[children]]
    named = own[children]
    if ((named != 0) & (own_of_parent != 0) & (named != own_of_parent)).any():
        raise NotPlain("a parent of another participant")
    owner = own.copy()
    pending = children[named == 0]
    while len(pending):  # one step per generation (fancy assignment reads before it writes)
        owner[pending] = owner[parent_index[pending]]
        unresolved = pending[owner[pending] == 0]
        if len(unresolved) == len(pending):
            break
        pending = unresolved
    return owner


def positions(checked: CheckedColumns, boxes: dict[str, tuple[int, GridLayout] | None],
              ) -> tuple[np.ndarray, np.ndarray]:
    """(box id, position index) per row (0/-1 for a specimen not stored); NotPlain for a missing box or a
    label the grid does not name exactly (the row-wise import explains or normalises those). Two rows in
    one position, or a position taken already, are left to the unique constraint."""
    box_ids = np.zeros(checked.rows, dtype=np.int64)
    index = np.full(checked.rows, -1, dtype=np.int64)
    if not len(checked.stored):
        return box_ids, index
    encoded = pc.dictionary_encode(checked.box_path)
    paths = encoded.dictionary.to_pylist()
    box_of_path = np.zeros(len(paths), dtype=np.int64)
    layout_of_path: list[GridLayout] = []
    for i, path in enumerate(paths):
        box = boxes.get(path)
        if box is None:
            raise NotPlain("no such box")
        box_of_path[i] = box[0]
        layout_of_path.append(box[1])
    path_index = encoded.indices.to_numpy(zero_copy_only=False)
    box_ids[checked.stored] = box_of_path[path_index]
    for layout in set(layout_of_path):
        rows = np.flatnonzero(np.isin(path_index, [i for i, lay in enumerate(layout_of_path) if lay == layout]))
        found = pc.index_in(pc.take(checked.position, pa.array(rows)), value_set=pa.array(layout.labels()))
        if found.null_count:
            raise NotPlain("a position label to normalise or explain")
        index[checked.stored[rows]] = found.to_numpy(zero_copy_only=False)
    return box_ids, index
