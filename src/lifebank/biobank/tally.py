"""Specimen tallies: how many specimens each box holds per type and status, in all and per DUO code their
participant has in force (`bb_specimen_tally`, migration biobank_0005).

The exact total of a specimen search is a sum of these rows (see `search._count`). Database triggers keep them
in the writer's transaction, whatever writes. One exception, for speed only: SQLite fires its triggers once per
row, which costs a bulk specimen import up to half its rate, so `bulk_specimen_tallies` takes the insert
trigger out for the import's own INSERT and adds the same counts, grouped, in the same transaction (SQLite has
one writer at a time, so no other connection ever sees it missing). PostgreSQL's triggers run once per
statement already.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import repeat
from operator import itemgetter
from typing import Any

from sqlalchemy import BigInteger, Column, MetaData, String, Table

tally_table = Table("bb_specimen_tally", MetaData(), Column("container_id", BigInteger), Column("type", String),
                    Column("status", String), Column("duo_code", String), Column("n", BigInteger))

_NEEDED = ("container_id", "type", "status", "participant_id")
_UPSERT = ("INSERT INTO bb_specimen_tally (container_id, type, status, duo_code, n) VALUES (?, ?, ?, ?, ?) "
           "ON CONFLICT (container_id, type, status, duo_code) DO UPDATE SET n = bb_specimen_tally.n + excluded.n")
_LOOKUP_CHUNK = 5000
_NO_CODES: frozenset[str] = frozenset()


@contextmanager
def bulk_specimen_tallies(connection: Any, table: str, columns: Sequence[str],
                          rows: Sequence[Sequence[Any]]) -> Iterator[None]:
    """Around a bulk INSERT of `rows` on SQLite, where a per-row trigger would cost the import its rate:

    - into bb_specimen: the insert trigger is dropped for the duration and the rows' tallies are added in one
      grouped upsert;
    - into bb_consent_code for participants that hold no specimen yet (a participant import registers new
      people): the trigger would add nothing, so it is dropped for the duration.

    The trigger is created again before the transaction ends. DDL is transactional in SQLite and it has one
    writer at a time, so no other connection ever sees the bank without its trigger. Anything else is left to
    the triggers."""
    if connection.dialect.name != "sqlite":
        yield
        return
    if table == "bb_specimen" and all(c in columns for c in _NEEDED):
        name, add = "bb_specimen_tally_insert", True
    elif table == "bb_consent_code" and "participant_id" in columns and \
            not _any_specimens(connection, {row[columns.index("participant_id")] for row in rows}):
        name, add = "bb_consent_code_tally_insert", False
    else:
        yield
        return
    trigger = connection.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                                         "AND name = ?", (name,)).scalar()
    if trigger is None:  # a database before biobank_0005: no tallies to keep
        yield
        return
    connection.exec_driver_sql(f"DROP TRIGGER {name}")
    try:
        yield
        if add:
            connection.exec_driver_sql(_UPSERT, _tallies(connection, columns, rows))
    finally:
        connection.exec_driver_sql(trigger)


def _any_specimens(connection: Any, participant_ids: set[Any]) -> bool:
    """Whether any of these participants holds a specimen (their consent codes then move tallies)."""
    ids = sorted(pid for pid in participant_ids if pid is not None)
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        chunk = ids[start:start + _LOOKUP_CHUNK]
        if connection.exec_driver_sql("SELECT 1 FROM bb_specimen WHERE participant_id IN "
                                      f"({', '.join('?' * len(chunk))}) LIMIT 1", tuple(chunk)).first():
            return True
    return False


def _tallies(connection: Any, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """The tally rows the insert trigger would have added for `rows`, summed.

    Counted in C (`Counter` over `map`/`zip`), keyed by (box, type, status) and the participant's set of codes
    in force, so the Python loop runs once per distinct key, not once per row: half a million rows cost about
    as much as their INSERT's tenth."""
    box, kind, status, person = (columns.index(c) for c in _NEEDED)
    people = sorted({pid for pid in map(itemgetter(person), rows) if pid is not None})
    codes: dict[int, set[str]] = defaultdict(set)
    for start in range(0, len(people), _LOOKUP_CHUNK):
        chunk = people[start:start + _LOOKUP_CHUNK]
        for pid, code in connection.exec_driver_sql(
                "SELECT participant_id, duo_code FROM bb_consent_code WHERE in_force AND participant_id IN "
                f"({', '.join('?' * len(chunk))})", tuple(chunk)):
            codes[pid].add(code)
    code_sets = {pid: frozenset(found) for pid, found in codes.items()}
    grouped = Counter(zip(map(itemgetter(box, kind, status), rows),
                          map(code_sets.get, map(itemgetter(person), rows), repeat(_NO_CODES)), strict=True))
    deltas: Counter[tuple[Any, ...]] = Counter()
    for ((container, type_, state), code_set), n in grouped.items():
        key = (container or 0, type_, state)
        deltas[(*key, "")] += n
        for code in code_set:
            deltas[(*key, code)] += n
    return [(*key, n) for key, n in deltas.items()]
