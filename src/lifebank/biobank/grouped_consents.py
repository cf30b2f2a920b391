"""Candidates of an access request grouped by their consent in force: a published read for issue 11's speed.

`distribution.consents_in_force` hands back one row per candidate (a million rows, a million Python tuples).
The rule table decides per distinct consent, and a bank's participants share a handful of consents, so this
read lets the database do the per-participant work: one grouped query returns, per distinct consent in force
(DUO codes, scope text, and the date when a time limit (TS) needs it), how many candidates hold it and their
codes as one aggregated string, split in C. A million candidates are a few hundred rows for Python.

Candidates are as in `distribution.candidate_participants`: the given participant codes that exist (a
cohort), or the participants holding an available specimen of one of the types (at least the volume). The
consent in force is the newest consent not withdrawn; candidates without one form their own group
(`consent` None: never given, or withdrawn).

How the query runs, by database:
- SQLite (nested loops only): the candidates are collected once into a connection-local temporary table (the
  stored tubes of the types read box by box through the covering (container_id, type, status, participant_id)
  index: no specimen row is read); the consents are scanned in table order, each probing that table, its
  codes read through the code table's primary key, and the rows grouped by consent. Candidates without a
  consent in force are found among the participants who withdrew one or never gave one, which are few.
- PostgreSQL: one statement of hash joins (candidates, newest consent per participant, codes per consent), with
  the transaction's work_mem raised so that its hashes and sorts stay in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from lifebank.biobank.distribution import ConsentInForce
from lifebank.biobank.specimen_types import SpecimenStatus
from lifebank.db.engine import Database

TIME_LIMIT = "DUO:0000025"  # TS: the only term whose decision reads the consent date


@dataclass(frozen=True, slots=True)
class TubeCriteria:
    """Which tubes a group's `specimens` counts: available, distributable, of this type (and volume, freeze-
    thaw count, SPREC prefix), as `distribution.allocatable_counts` counts them."""

    specimen_type: str
    min_quantity: float | None = None
    max_freeze_thaw: int | None = None
    sprec_prefix: str | None = None


@dataclass(frozen=True, slots=True)
class ConsentGroup:
    """Candidates sharing one consent in force (None: no consent in force): how many, their codes sorted
    (when asked for), and how many tubes meeting the criteria asked for they hold (summed over criteria)."""

    consent: ConsentInForce | None
    count: int
    participants: list[str]
    specimens: int = 0


def consent_groups(db: Database, *, participant_codes: Iterable[str] | None = None,
                   specimen_types: Sequence[str] | None = None, min_quantity: float | None = None,
                   with_participants: bool = True, count_tubes: Sequence[TubeCriteria] = ()) -> list[ConsentGroup]:
    """The request's candidates grouped by consent in force (see the module docstring). With
    `with_participants=False` only the counts come back; `count_tubes` adds the tubes each group holds."""
    codes = None if participant_codes is None else list(dict.fromkeys(participant_codes))
    types = [t.upper() for t in specimen_types or ()]
    with db.session() as session:
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            rows = _postgresql(connection, codes, types, min_quantity, with_participants, count_tubes)
        else:
            rows = _sqlite(connection, codes, types, min_quantity, with_participants, count_tubes)
        session.rollback()
    return _merged(rows)


def _merged(rows: Iterable[tuple[Any, ...]]) -> list[ConsentGroup]:
    """Rows (has consent, codes, scope, date, count, tubes, joined codes) -> groups; rows that differ only in
    the order of their codes are one group. The separators cannot occur inside what they join: a participant
    code is letters, digits, '-' and '_' (`participants._checked_new_participant`, the import's check), a DUO
    code `DUO:nnnnnnn`."""
    groups: dict[Any, tuple[ConsentInForce | None, int, list[str], int]] = {}
    for has_consent, joined_codes, scope, day, count, tubes, joined in rows:
        consent = None if not has_consent else ConsentInForce(
            tuple(sorted(set(joined_codes.split(";")))) if joined_codes else (), _date(day), scope or "")
        members = joined.split(",") if joined else []
        known = groups.get(consent)
        if known is None:
            groups[consent] = (consent, count, members, int(tubes or 0))
        else:
            groups[consent] = (consent, known[1] + count, known[2] + members, known[3] + int(tubes or 0))
    out = []
    for consent, count, members, tubes in groups.values():
        members.sort()
        out.append(ConsentGroup(consent, count, members, tubes))
    return out


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _specimen_filter(types: list[str], min_quantity: float | None, alias: str) -> tuple[str, dict[str, Any]]:
    marks = ", ".join(f":t{i}" for i in range(len(types)))
    where = f"{alias}.type IN ({marks}) AND {alias}.status = :available"
    params: dict[str, Any] = {f"t{i}": t for i, t in enumerate(types)}
    params["available"] = SpecimenStatus.AVAILABLE.value
    if min_quantity is not None:
        where += f" AND {alias}.quantity >= :min_quantity"
        params["min_quantity"] = min_quantity
    return where, params


def _tube_filter(criteria: TubeCriteria, alias: str) -> tuple[str, dict[str, Any]]:
    """The tubes `distribution.allocatable_counts` counts, as SQL over `alias`."""
    where = (f"{alias}.type = :c_type AND {alias}.status = :c_available AND {alias}.distributable = :c_true")
    params: dict[str, Any] = {"c_type": criteria.specimen_type.upper(), "c_available": SpecimenStatus.AVAILABLE.value,
                              "c_true": True}
    if criteria.min_quantity is not None:
        where += f" AND {alias}.quantity >= :c_quantity"
        params["c_quantity"] = criteria.min_quantity
    if criteria.max_freeze_thaw is not None:
        where += f" AND {alias}.freeze_thaw <= :c_thaws"
        params["c_thaws"] = criteria.max_freeze_thaw
    if criteria.sprec_prefix:
        where += f" AND substr({alias}.sprec, 1, :c_len) = :c_sprec"
        params.update(c_len=len(criteria.sprec_prefix), c_sprec=criteria.sprec_prefix.upper())
    return where, params


# --- SQLite ---------------------------------------------------------------------------------------------------

def _sqlite(connection: Connection, codes: list[str] | None, types: list[str], min_quantity: float | None,
            with_participants: bool, count_tubes: Sequence[TubeCriteria]) -> list[tuple[Any, ...]]:
    table = f"temp.lb_candidates_{uuid.uuid4().hex[:12]}"
    connection.exec_driver_sql(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0)")
    try:
        if codes is not None:
            for start in range(0, len(codes), 5000):
                chunk = codes[start:start + 5000]
                connection.execute(text(f"INSERT OR IGNORE INTO {table} (id) SELECT id FROM bb_participant "
                                        "WHERE code IN :codes").bindparams(bindparam("codes", expanding=True)),
                                   {"codes": chunk})
        elif types:
            where, params = _specimen_filter(types, min_quantity, "s")
            # Box by box through the covering (container_id, type, status, participant_id) index, then the tubes
            # in no box: no specimen row is read unless a volume is asked for.
            connection.execute(text(
                f"INSERT OR IGNORE INTO {table} (id) SELECT s.participant_id FROM bb_container b "
                f"CROSS JOIN bb_specimen s ON s.container_id = b.id AND {where} "
                f"UNION ALL SELECT s.participant_id FROM bb_specimen s WHERE s.container_id IS NULL AND {where}"),
                params)
            connection.exec_driver_sql(f"DELETE FROM {table} WHERE id IS NULL")
        total = connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() or 0
        if not total:
            return []
        for criteria in count_tubes:  # each candidate's tubes, counted from the tubes' side (no probe per candidate)
            where, params = _tube_filter(criteria, "s")
            connection.execute(text(f"INSERT INTO {table} (id, n) SELECT s.participant_id, 1 FROM bb_specimen s "
                                    f"WHERE {where} AND s.participant_id IN (SELECT id FROM {table}) "
                                    "ON CONFLICT (id) DO UPDATE SET n = n + 1"), params)
        members = "group_concat(code, ',')" if with_participants else "NULL"
        # `+` keeps SQLite from driving the loop from the candidates (a seek per candidate into the consents):
        # scanning the consents in table order and probing the candidates is cheaper.
        rows = list(connection.exec_driver_sql(
            "WITH r AS MATERIALIZED (SELECT p.code AS code, c.scope AS scope, c.consent_date AS day, t.n AS n, "
            "(SELECT group_concat(cc.duo_code, ';') FROM bb_consent_code cc WHERE cc.consent_id = c.id) AS codes "
            f"FROM bb_consent c CROSS JOIN {table} t ON t.id = +c.participant_id "
            "CROSS JOIN bb_participant p ON p.id = c.participant_id "
            "WHERE c.withdrawn_at IS NULL AND +c.id NOT IN ("
            # a consent superseded by a newer one not withdrawn (rare: only participants with a version > 1)
            "SELECT o.id FROM bb_consent o WHERE o.participant_id IN "
            "(SELECT participant_id FROM bb_consent WHERE version > 1 AND withdrawn_at IS NULL) "
            "AND o.withdrawn_at IS NULL AND o.id < (SELECT max(n.id) FROM bb_consent n "
            "WHERE n.participant_id = o.participant_id AND n.withdrawn_at IS NULL))) "
            f"SELECT 1, codes, scope, CASE WHEN instr(codes, '{TIME_LIMIT}') > 0 THEN day END, count(*), sum(n), "
            f"{members} "
            "FROM r GROUP BY codes, scope, 4"))
        grouped = sum(r[4] for r in rows)
        if grouped < total:
            rows += _sqlite_without_consent(connection, table, total - grouped, with_participants)
        return rows
    finally:
        connection.exec_driver_sql(f"DROP TABLE {table}")


def _sqlite_without_consent(connection: Connection, table: str, missing: int,
                            with_participants: bool) -> list[tuple[Any, ...]]:
    """Candidates without a consent in force: those who withdrew every consent (found from the withdrawn
    consents, few), then, only if some are still missing, those who never gave one (a probe per candidate)."""
    no_active = ("NOT EXISTS (SELECT 1 FROM bb_consent a WHERE a.participant_id = t.id AND a.withdrawn_at IS NULL)")
    found = list(connection.exec_driver_sql(
        f"SELECT p.code, t.n FROM {table} t JOIN bb_participant p ON p.id = t.id WHERE t.id IN "
        f"(SELECT participant_id FROM bb_consent WHERE withdrawn_at IS NOT NULL) AND {no_active}"))
    if len(found) < missing:
        found += list(connection.exec_driver_sql(
            f"SELECT p.code, t.n FROM {table} t JOIN bb_participant p ON p.id = t.id "
            "WHERE NOT EXISTS (SELECT 1 FROM bb_consent a WHERE a.participant_id = t.id)"))
    codes = sorted(r[0] for r in found)
    return [(0, None, None, None, len(found), sum(r[1] for r in found),
             ",".join(codes) if with_participants else None)]


# --- PostgreSQL -----------------------------------------------------------------------------------------------

def _postgresql(connection: Connection, codes: list[str] | None, types: list[str], min_quantity: float | None,
                with_participants: bool, count_tubes: Sequence[TubeCriteria]) -> list[tuple[Any, ...]]:
    params: dict[str, Any] = {}
    if codes is not None:
        candidates = "SELECT id FROM bb_participant WHERE code = ANY(:codes)"
        params["codes"] = codes
    elif types:
        where, params = _specimen_filter(types, min_quantity, "s")
        candidates = f"SELECT DISTINCT s.participant_id AS id FROM bb_specimen s WHERE {where}"
    else:
        return []
    members = "string_agg(p.code, ',' ORDER BY p.code)" if with_participants else "NULL"
    tubes, joins = [], []
    for i, criteria in enumerate(count_tubes):  # each candidate's tubes, one grouped count per criteria
        where, more = _tube_filter(criteria, "s")
        params.update({f"{k}_{i}": v for k, v in more.items()})
        for key in more:
            where = where.replace(f":{key}", f":{key}_{i}")
        joins.append(f" LEFT JOIN (SELECT s.participant_id, count(*) AS n FROM bb_specimen s WHERE {where} "
                     f"GROUP BY s.participant_id) x{i} ON x{i}.participant_id = cand.id")
        tubes.append(f"coalesce(x{i}.n, 0)")
    counted = f"sum({' + '.join(tubes)})" if tubes else "0"
    # The newest consent not withdrawn (an anti-join drops superseded ones) and each consent's codes, joined by
    # hash to the candidates; the sorts and hashes of a million rows get the memory to stay off disk.
    sql = (
        f"SELECT c.id IS NOT NULL, k.codes, c.scope, CASE WHEN strpos(k.codes, '{TIME_LIMIT}') > 0 "
        f"THEN c.consent_date::text END AS day, count(*), {counted}, {members} "
        f"FROM ({candidates}) cand JOIN bb_participant p ON p.id = cand.id "
        "LEFT JOIN (SELECT c.id, c.participant_id, c.scope, c.consent_date FROM bb_consent c "
        "WHERE c.withdrawn_at IS NULL AND NOT EXISTS (SELECT 1 FROM bb_consent n WHERE n.participant_id = "
        "c.participant_id AND n.withdrawn_at IS NULL AND n.id > c.id)) c ON c.participant_id = cand.id "
        "LEFT JOIN (SELECT cc.consent_id, string_agg(cc.duo_code, ';') AS codes FROM bb_consent_code cc "
        f"GROUP BY cc.consent_id) k ON k.consent_id = c.id{''.join(joins)} GROUP BY 1, 2, 3, 4")
    connection.exec_driver_sql("SET LOCAL work_mem = '256MB'")
    return [tuple(r) for r in connection.execute(text(sql), params)]


def consents_in_force_after(db: Database, after: str | None, limit: int) -> dict[str, ConsentInForce | None]:
    """The next `limit` participants in code order after `after` (None: from the first), each with their
    consent in force: allocation reads the bank in pages like this and stops once it has its tubes.

    One statement: the page of participants through the code index, each one's consents not withdrawn
    through the participant index (the newest is kept), its codes through the code table's key. As in
    `consent_groups`, the consent date is kept only when a time limit (TS) needs it."""
    with db.session() as session:
        connection = session.connection()
        postgresql = connection.dialect.name == "postgresql"
        aggregate = ("string_agg(cc.duo_code, ';' ORDER BY cc.duo_code)" if postgresql
                     else "group_concat(cc.duo_code, ';')")
        mark = "%s" if postgresql else "?"
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:  # tens of thousands of rows: read through the driver, no row objects in between
            cursor.execute(
                "SELECT p.code, c.id, c.consent_date, c.scope, "
                f"(SELECT {aggregate} FROM bb_consent_code cc WHERE cc.consent_id = c.id) "
                f"FROM (SELECT id, code FROM bb_participant WHERE code > {mark} ORDER BY code LIMIT {mark}) p "
                "LEFT JOIN bb_consent c ON c.participant_id = p.id AND c.withdrawn_at IS NULL",
                ("" if after is None else after, limit))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        session.rollback()
    shared: dict[tuple[Any, ...], ConsentInForce] = {}
    found: dict[str, ConsentInForce | None] = {}
    newest: dict[str, int] = {}
    for code, consent_id, day, scope, joined in rows:
        if consent_id is None:
            found[code] = None
            continue
        if newest.get(code, -1) > consent_id:  # several consents not withdrawn: the newest is in force
            continue
        newest[code] = consent_id
        raw = (joined, day, scope)
        record = shared.get(raw)
        if record is None:
            codes = tuple(sorted(set(joined.split(";")))) if joined else ()
            record = shared[raw] = ConsentInForce(codes, _date(day) if TIME_LIMIT in codes else None, scope or "")
        found[code] = record
    return dict(sorted(found.items()))


__all__ = ["ConsentGroup", "TubeCriteria", "consent_groups", "consents_in_force_after"]
