"""The specimen search of `lifebank specimens search` as plain SQL over a DB-API connection, without the ORM.

Why: a one-shot `lifebank specimens search` spent 0.3-0.75 s importing SQLAlchemy, pydantic-settings and the
biobank's models and services before it ran a 1.5 ms query (issue 10: a one-shot query's fixed cost <= 300 ms).
This module runs the same statements as `lifebank.biobank.search` (`checked_filter`, `_filtered`, `_count`,
`_sorted`, `specimen_views`) and returns the same page, total and error messages; it imports only the
biobank's pure modules. `tests/cli/test_direct_search.py` holds the two to the same output on SQLite and
PostgreSQL, filter by filter; a change to the search's semantics must be made in both (the test fails until
it is).

The connection is anything with `rows(sql, params)`, `scalar(sql, params)` and `is_sqlite`
(`lifebank.cli.direct.DirectConnection`); SQL uses `?` placeholders and no literal `%`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from lifebank.biobank.duo import duo_terms
from lifebank.biobank.specimen_types import SPECIMEN_TYPES, SpecimenStatus
from lifebank.biobank.storage_layout import ContainerKind, GridLayout, LabelScheme
from lifebank.errors import NotFound, ValidationFailed

SORT_KEYS = ("barcode", "type", "status", "participant", "collected", "location")  # as biobank.search.SORT_KEYS
_SORT_COLUMNS = {"barcode": ["s.barcode"], "type": ["s.type"], "status": ["s.status"], "collected": ["s.collected_at"],
                 "participant": ["p.code"], "location": ["c.name_path", "s.position"]}
_VIEW_COLUMNS = ("s.id, s.barcode, s.participant_id, s.type, s.quantity, s.unit, s.collected_at, s.status, "
                 "s.distributable, s.lineage, s.parent_id, s.sprec, s.freeze_thaw, s.container_id, s.position, "
                 "s.notes")


class Connection(Protocol):
    is_sqlite: bool

    def rows(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]: ...

    def scalar(self, sql: str, params: Any = ()) -> Any: ...


def search_specimens(conn: Connection, *, type: str | None = None, status: str | None = None,
                     participant: str | None = None, consent: str | None = None, container: str | None = None,
                     limit: int = 50, offset: int = 0, sort: str | None = None,
                     ) -> tuple[int, list[dict[str, Any]]]:
    """The page and the exact total `biobank.search.search_specimens(..., with_total=True)` returns."""
    flt = _checked(conn, type=type, status=status, participant=participant, consent=consent, container=container)
    where, params, root = _where(conn, flt, counting=False)
    order, joins = _order(flt, sort)
    total = _count(conn, flt, root)
    rows = conn.rows(f"SELECT {_VIEW_COLUMNS} FROM bb_specimen s{joins} WHERE {where} ORDER BY {order} "
                     "LIMIT ? OFFSET ?", [*params, limit, offset])
    return total, specimen_views(conn, rows)


def _checked(conn: Connection, **given: str | None) -> dict[str, str | None]:
    """`biobank.search.checked_filter`: the values as stored, or the same error saying why they cannot match."""
    flt = dict(given)
    if flt["type"]:
        code = flt["type"].strip().upper()
        if code not in SPECIMEN_TYPES:
            raise ValidationFailed("unknown specimen type {type}; allowed: {allowed}", type=flt["type"],
                                   allowed=", ".join(SPECIMEN_TYPES))
        flt["type"] = code
    if flt["status"]:
        code = flt["status"].strip().lower()
        if code not in {s.value for s in SpecimenStatus}:
            raise ValidationFailed("unknown status {status}; allowed: {allowed}", status=flt["status"],
                                   allowed=", ".join(s.value for s in SpecimenStatus))
        flt["status"] = code
    if flt["consent"]:
        flt["consent"] = _duo_code_of(flt["consent"])
    if flt["container"]:
        flt["container"] = _container_path_of(conn, flt["container"])
    if flt["participant"]:
        flt["participant"] = flt["participant"].strip()
    return flt


def _duo_code_of(text: str) -> str:
    terms = duo_terms()
    item = text.strip().upper()
    by_shorthand = {t.shorthand.upper(): t.id for t in terms.values() if t.shorthand}
    code = by_shorthand.get(item) or (item if item.startswith("DUO:") else f"DUO:{item}")
    if code not in terms:
        raise ValidationFailed("{code} is not a DUO term; use an id such as DUO:0000042 or a shorthand: {allowed}",
                               code=text, allowed=", ".join(sorted(by_shorthand)))
    return code


def _container_path_of(conn: Connection, text: str) -> str:
    path = "/".join(part.strip() for part in text.strip().strip("/").split("/") if part.strip())
    candidates = [path]
    if "/" in path:
        candidates.append(path.rpartition("/")[0])  # 'FRZ-01/R01/BOX-1/A1': the box the tube sits in
    for candidate in candidates:
        if conn.scalar("SELECT id FROM bb_container WHERE name_path = ?", [candidate]) is not None:
            return candidate
    raise NotFound("no storage unit has the path {path}; paths are written as in the storage page, e.g. {example}",
                   path=text, example=conn.scalar("SELECT name_path FROM bb_container ORDER BY id LIMIT 1")
                   or "FRZ-01/R01")


def _subtree(conn: Connection, column: str) -> str:
    """`biobank.storage.in_subtree`: an index range on SQLite, a constant-prefix LIKE on PostgreSQL."""
    return f"{column} >= ? AND {column} < ?" if conn.is_sqlite else f"{column} LIKE ?"


def _subtree_params(conn: Connection, path: str) -> list[str]:
    return [path, path[:-1] + "0"] if conn.is_sqlite else [path + "%"]


def _true(conn: Connection) -> str:
    return "1" if conn.is_sqlite else "true"


def _where(conn: Connection, flt: dict[str, str | None], *, counting: bool) -> tuple[str, list[Any], str | None]:
    """`biobank.search._filtered`: the WHERE clause over `bb_specimen s`, its parameters, the subtree's path."""
    narrowed = (bool(flt["participant"]) or (bool(flt["container"]) and not counting)) and conn.is_sqlite
    clauses: list[str] = []
    params: list[Any] = []
    root = None
    if flt["type"]:
        clauses.append("s.type || '' = ?" if narrowed else "s.type = ?")
        params.append(flt["type"].upper())
    if flt["status"]:
        clauses.append("s.status || '' = ?" if narrowed else "s.status = ?")
        params.append(flt["status"])
    if flt["participant"]:
        pid = conn.scalar("SELECT id FROM bb_participant WHERE code = ?", [flt["participant"]])
        clauses.append("s.participant_id = ?")
        params.append(pid if pid is not None else -1)
    if flt["consent"]:
        clauses.append("EXISTS (SELECT cc.participant_id FROM bb_consent_code cc WHERE cc.participant_id = "
                       f"s.participant_id AND cc.duo_code = ? AND cc.in_force IS {_true(conn)})")
        params.append(flt["consent"])
    if flt["container"]:
        root = conn.scalar("SELECT path FROM bb_container WHERE name_path = ?", [flt["container"]])
        clauses.append(f"s.container_id IN (SELECT ct.id FROM bb_container ct WHERE {_subtree(conn, 'ct.path')})")
        params += _subtree_params(conn, root)
    return " AND ".join(clauses) or "1 = 1", params, root


def _count(conn: Connection, flt: dict[str, str | None], root: str | None) -> int:
    """`biobank.search._count`: the tallies per box, or the participant's own rows."""
    if flt["participant"]:
        where, params, _ = _where(conn, flt, counting=True)
        return int(conn.scalar(f"SELECT count(*) FROM bb_specimen s WHERE {where}", params) or 0)
    partial = bool(flt["container"]) and not (flt["type"] and flt["status"])
    clauses = ["t.duo_code || '' = ?" if partial else "t.duo_code = ?"]
    params: list[Any] = [flt["consent"] or ""]
    if flt["type"]:
        clauses.append("t.type = ?")
        params.append(flt["type"])
    if flt["status"]:
        clauses.append("t.status = ?")
        params.append(flt["status"])
    if not flt["container"] or root is None:
        return int(conn.scalar(f"SELECT sum(t.n) FROM bb_specimen_tally t WHERE {' AND '.join(clauses)}", params)
                   or 0)
    per_container = f"SELECT sum(t.n) FROM bb_specimen_tally t WHERE {' AND '.join(clauses)} AND t.container_id = c.id"
    return int(conn.scalar(f"SELECT sum(({per_container})) FROM bb_container c WHERE {_subtree(conn, 'c.path')}",
                           [*params, *_subtree_params(conn, root)]) or 0)


def _order(flt: dict[str, str | None], sort: str | None) -> tuple[str, str]:
    """`biobank.search._sorted`: the ORDER BY and the joins it needs."""
    key = (sort or "").lstrip("-")
    if not key:
        return ("s.container_id, s.position, s.id" if flt["container"] else "s.id"), ""
    if key not in SORT_KEYS:
        raise ValidationFailed("cannot sort by {key}; sortable columns: {allowed}", key=key,
                               allowed=", ".join(SORT_KEYS))
    descending = (sort or "").startswith("-")
    joins = {"participant": " LEFT OUTER JOIN bb_participant p ON p.id = s.participant_id",
             "location": " LEFT OUTER JOIN bb_container c ON c.id = s.container_id"}.get(key, "")
    direction = "DESC" if descending else "ASC"
    ordered = [f"{column} {direction} NULLS LAST" for column in _SORT_COLUMNS[key]]
    return ", ".join([*ordered, "s.id DESC" if descending else "s.id"]), joins


def _utc_iso(value: Any) -> str | None:
    """`db.base.UTCDateTime` then `isoformat()`: SQLite's text (naive UTC) or PostgreSQL's aware value."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat()


def _in_list(values: set[Any]) -> tuple[str, list[Any]]:
    ordered = sorted(values)
    return ", ".join("?" * len(ordered)), ordered


def specimen_views(conn: Connection, rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """`biobank.search.specimen_views` over rows of `_VIEW_COLUMNS`."""
    participant_ids = {r[2] for r in rows if r[2] is not None}
    codes: dict[Any, Any] = {}
    if participant_ids:
        marks, ids = _in_list(participant_ids)
        codes = dict(conn.rows(f"SELECT id, code FROM bb_participant WHERE id IN ({marks})", ids))
    parent_ids = {r[10] for r in rows if r[10] is not None}
    parents: dict[Any, Any] = {}
    if parent_ids:
        marks, ids = _in_list(parent_ids)
        parents = dict(conn.rows(f"SELECT id, barcode FROM bb_specimen WHERE id IN ({marks})", ids))
    box_ids = {r[13] for r in rows if r[13] is not None}
    boxes: dict[Any, tuple[str, GridLayout | None]] = {}
    if box_ids:
        marks, ids = _in_list(box_ids)
        for box_id, name_path, kind, n_rows, n_columns, scheme in conn.rows(
                "SELECT c.id, c.name_path, ct.kind, ct.rows, ct.columns, ct.scheme FROM bb_container c "
                f"JOIN bb_container_type ct ON c.type_id = ct.id WHERE c.id IN ({marks})", ids):
            layout = None
            if kind == ContainerKind.BOX and n_rows and n_columns:  # biobank.storage.layout_of
                layout = GridLayout(n_rows, n_columns, LabelScheme(scheme or LabelScheme.LETTER_NUMBER))
            boxes[box_id] = (name_path, layout)
    views = []
    for (_id, barcode, participant_id, type_, quantity, unit, collected_at, status, distributable, lineage,
         parent_id, sprec, freeze_thaw, container_id, position, notes) in rows:
        location = None
        if container_id is not None and position is not None:
            path, layout = boxes[container_id]
            location = f"{path}/{layout.label(position)}" if layout else path
        views.append({
            "barcode": barcode, "participant": codes.get(participant_id), "type": type_,
            "quantity": quantity, "unit": unit,
            "collected_at": _utc_iso(collected_at), "status": status,
            "distributable": None if distributable is None else bool(distributable), "lineage": lineage,
            "parent": parents.get(parent_id), "sprec": sprec, "freeze_thaw": freeze_thaw,
            "location": location, "notes": notes,
        })
    return views
