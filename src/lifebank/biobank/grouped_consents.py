"""Candidates of an access request grouped by their consent in force: a published read for issue 11's speed.

`distribution.consents_in_force` hands back one row per candidate (a million rows, a million Python tuples).
The rule table decides per distinct consent, and a bank's participants share a handful of consents, so this
read lets the database do the per-participant work. Each participant points at the stored signature of their
consent in force (`bb_participant.consent_signature_id`: DUO codes, scope text, and the date when a time limit
(TS) needs it; `lifebank.biobank.consent_signatures`, kept by the consent writes and the import), so one
grouped query returns, per signature, how many candidates hold it and their codes as one aggregated string,
split in C. A million candidates are a few rows for Python, and no consent or consent-code row is read.

Candidates are as in `distribution.candidate_participants`: the given participant codes that exist (a
cohort), or the participants holding an available specimen of one of the types (at least the volume). The
consent in force is the newest consent not withdrawn; candidates without one form their own group
(`consent` None: never given, or withdrawn).

How the query runs, by database:
- SQLite (nested loops only): the candidates are collected once into a connection-local temporary table (the
  stored tubes of the types read box by box through the covering (container_id, type, status, participant_id)
  index: no specimen row is read); when they are a good part of the bank, the (signature, code) index of the
  participants is read in order, each entry probing that table, so groups and their codes come out sorted
  with no sort step; a few candidates (a cohort) are read by key and grouped.
- PostgreSQL: one statement, the participants hash-semi-joined to the tubes that make them candidates (or
  matched to the cohort's codes) and grouped by signature, with the transaction's work_mem raised so that its
  hashes and sorts stay in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from lifebank.biobank.consent_signatures import signatures
from lifebank.biobank.distribution import ConsentInForce
from lifebank.biobank.specimen_types import SpecimenStatus
from lifebank.db.engine import Database

MOST_OF_THE_BANK = 8  # candidates of at least 1/8 of the participants: read the signature index in order (SQLite)


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
        found = signatures(session, [r[0] for r in rows if r[0] is not None])
        session.rollback()
    return _merged(rows, found)


def _merged(rows: Iterable[tuple[Any, ...]], found: dict[int, tuple[tuple[str, ...], date | None, str]]
            ) -> list[ConsentGroup]:
    """Rows (signature id, count, tubes, joined codes) -> groups. The separator cannot occur inside what it
    joins: a participant code is letters, digits, '-' and '_' (`participants._checked_new_participant`, the
    import's check)."""
    out = []
    for signature, count, tubes, joined in rows:
        consent = None if signature is None else ConsentInForce(*found[signature])
        members = joined.split(",") if joined else []
        members.sort()  # in code order already (index order, or the database's sort): a linear check
        out.append(ConsentGroup(consent, count, members, int(tubes or 0)))
    return out


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
            # (A NULL inserted into an INTEGER PRIMARY KEY takes the next rowid: tubes of no participant are
            # left out before they become someone.)
            where += " AND s.participant_id IS NOT NULL"
            connection.execute(text(
                f"INSERT OR IGNORE INTO {table} (id) SELECT s.participant_id FROM bb_container b "
                f"CROSS JOIN bb_specimen s ON s.container_id = b.id AND {where} "
                f"UNION ALL SELECT s.participant_id FROM bb_specimen s WHERE s.container_id IS NULL AND {where}"),
                params)
        total = connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() or 0
        if not total:
            return []
        for criteria in count_tubes:  # each candidate's tubes, counted from the tubes' side (no probe per candidate)
            where, params = _tube_filter(criteria, "s")
            connection.execute(text(f"INSERT INTO {table} (id, n) SELECT s.participant_id, 1 FROM bb_specimen s "
                                    f"WHERE {where} AND s.participant_id IN (SELECT id FROM {table}) "
                                    "ON CONFLICT (id) DO UPDATE SET n = n + 1"), params)
        members = "group_concat(p.code, ',')" if with_participants else "NULL"
        bank = connection.exec_driver_sql("SELECT max(id) FROM bb_participant").scalar() or 0
        if total * MOST_OF_THE_BANK >= bank:
            # Most of the bank: the (signature, code) index read in order, each entry probing the candidates, so
            # the groups come out in signature order and each group's codes in code order, with no sort.
            source = (f"bb_participant p INDEXED BY ix_bb_participant_consent_signature "
                      f"CROSS JOIN {table} t ON t.id = p.id")
        else:  # a few candidates (a cohort): each one's participant row by key, then grouped
            source = f"{table} t CROSS JOIN bb_participant p ON p.id = t.id"
        return list(connection.exec_driver_sql(
            f"SELECT p.consent_signature_id, count(*), sum(t.n), {members} FROM {source} "
            "GROUP BY p.consent_signature_id"))
    finally:
        connection.exec_driver_sql(f"DROP TABLE {table}")


# --- PostgreSQL -----------------------------------------------------------------------------------------------

def _postgresql(connection: Connection, codes: list[str] | None, types: list[str], min_quantity: float | None,
                with_participants: bool, count_tubes: Sequence[TubeCriteria]) -> list[tuple[Any, ...]]:
    params: dict[str, Any] = {}
    if codes is not None:
        candidates = "p.code = ANY(:codes)"
        params["codes"] = codes
    elif types:  # a semi-join: a hash of the tubes' participants, no DISTINCT of them first (half the time)
        where, params = _specimen_filter(types, min_quantity, "s")
        candidates = f"EXISTS (SELECT 1 FROM bb_specimen s WHERE s.participant_id = p.id AND {where})"
    else:
        return []
    # "C": byte order, which is Python's order of these ASCII codes (the locale's collation is slower and may
    # order '-' and '_' differently)
    members = 'string_agg(p.code, \',\' ORDER BY p.code COLLATE "C")' if with_participants else "NULL"
    tubes, joins = [], []
    for i, criteria in enumerate(count_tubes):  # each candidate's tubes, one grouped count per criteria
        where, more = _tube_filter(criteria, "s")
        params.update({f"{k}_{i}": v for k, v in more.items()})
        for key in more:
            where = where.replace(f":{key}", f":{key}_{i}")
        joins.append(f" LEFT JOIN (SELECT s.participant_id, count(*) AS n FROM bb_specimen s WHERE {where} "
                     f"GROUP BY s.participant_id) x{i} ON x{i}.participant_id = p.id")
        tubes.append(f"coalesce(x{i}.n, 0)")
    counted = f"sum({' + '.join(tubes)})" if tubes else "0"
    sql = (f"SELECT p.consent_signature_id, count(*), {counted}, {members} "
           f"FROM bb_participant p{''.join(joins)} WHERE {candidates} GROUP BY 1")
    connection.exec_driver_sql("SET LOCAL work_mem = '256MB'")  # the hashes and sorts of a million rows in memory
    return [tuple(r) for r in connection.execute(text(sql), params)]


def consent_holdings(db: Database, specimen_types: Sequence[str]) -> list[ConsentGroup]:
    """The candidates of a request for these specimen types (participants holding an available tube of at
    least one), grouped by consent in force and counted - no codes - from what the biobank_0007 triggers keep:
    participants per (consent, set of types held) and available, distributable tubes per (consent, type). A
    few hundred rows whatever the bank's size, so a new question costs milliseconds; it answers what
    `consent_groups(db, specimen_types=..., with_participants=False, count_tubes=[TubeCriteria(t) ...])`
    answers, as long as no volume, freeze-thaw or SPREC limit is asked (those need the tubes themselves).
    `specimens` sums the tubes over the types as given (a type twice counts twice, as two criteria would)."""
    wanted = [t.upper() for t in specimen_types]
    if not wanted:
        return []
    kinds = set(wanted)
    with db.session() as session:
        connection = session.connection()
        people: dict[int, int] = {}
        for signature, held, n in connection.exec_driver_sql(
                "SELECT signature_id, types, n FROM bb_consent_holding WHERE n <> 0"):
            if not kinds.isdisjoint(held.split(",")):
                people[signature] = people.get(signature, 0) + n
        tubes: dict[int, int] = {}
        for signature, kind, n in connection.execute(text(
                "SELECT signature_id, type, n FROM bb_consent_type_tally WHERE type IN :types").bindparams(
                bindparam("types", expanding=True)), {"types": sorted(kinds)}):
            tubes[signature] = tubes.get(signature, 0) + n * wanted.count(kind)
        found = signatures(session, [s for s in people if s])
        session.rollback()
    return [ConsentGroup(ConsentInForce(*found[s]) if s else None, n, [], tubes.get(s, 0))
            for s, n in sorted(people.items())]


def consents_in_force_after(db: Database, after: str | None, limit: int) -> dict[str, ConsentInForce | None]:
    """The next `limit` participants in code order after `after` (None: from the first), each with their
    consent in force: allocation reads the bank in pages like this and stops once it has its tubes.

    One statement through the code index, each participant's stored consent signature beside the code
    (`bb_participant.consent_signature_id`); the few distinct signatures are read once. As in `consent_groups`,
    the consent date is kept only when a time limit (TS) needs it."""
    with db.session() as session:
        connection = session.connection()
        mark = "%s" if connection.dialect.name == "postgresql" else "?"
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:  # tens of thousands of rows: read through the driver, no row objects in between
            cursor.execute(f"SELECT code, consent_signature_id FROM bb_participant WHERE code > {mark} "
                           f"ORDER BY code LIMIT {mark}", ("" if after is None else after, limit))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        found = signatures(session, list({r[1] for r in rows if r[1] is not None}))
        session.rollback()
    shared = {sid: ConsentInForce(*record) for sid, record in found.items()}
    shared_get = shared.get
    rows.sort()  # Python's order of the codes, whatever the database's collation
    return {code: shared_get(signature) for code, signature in rows}  # type: ignore[arg-type]


__all__ = ["ConsentGroup", "TubeCriteria", "consent_groups", "consent_holdings", "consents_in_force_after"]
