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
from typing import Any

from sqlalchemy import BigInteger, Column, MetaData, String, Table

tally_table = Table("bb_specimen_tally", MetaData(), Column("container_id", BigInteger), Column("type", String),
                    Column("status", String), Column("duo_code", String), Column("n", BigInteger))

_NEEDED = ("container_id", "type", "status", "participant_id")
_UPSERT = ("INSERT INTO bb_specimen_tally (container_id, type, status, duo_code, n) VALUES (?, ?, ?, ?, ?) "
           "ON CONFLICT (container_id, type, status, duo_code) DO UPDATE SET n = bb_specimen_tally.n + excluded.n")
_LOOKUP_CHUNK = 5000


@contextmanager
def bulk_specimen_tallies(connection: Any, table: str, columns: Sequence[str],
                          rows: Sequence[Sequence[Any]]) -> Iterator[None]:
    """Around a bulk INSERT of `rows` into bb_specimen on SQLite: the per-row insert trigger is dropped for the
    duration and the rows' tallies are added in one grouped upsert; the trigger is created again before the
    transaction ends. DDL is transactional in SQLite and it has one writer at a time, so no other connection
    ever sees the bank without its trigger. Anything else is left to the triggers."""
    if table != "bb_specimen" or connection.dialect.name != "sqlite" or not all(c in columns for c in _NEEDED):
        yield
        return
    trigger = connection.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                                         "AND name = 'bb_specimen_tally_insert'").scalar()
    if trigger is None:  # a database before biobank_0005: no tallies to keep
        yield
        return
    connection.exec_driver_sql("DROP TRIGGER bb_specimen_tally_insert")
    try:
        yield
        connection.exec_driver_sql(_UPSERT, _tallies(connection, columns, rows))
    finally:
        connection.exec_driver_sql(trigger)


def _tallies(connection: Any, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """The tally rows the insert trigger would have added for `rows`, summed."""
    box, kind, status, person = (columns.index(c) for c in _NEEDED)
    per_box: Counter[tuple[Any, ...]] = Counter()
    per_person: Counter[tuple[Any, ...]] = Counter()
    for row in rows:
        key = (row[box] or 0, row[kind], row[status])
        per_box[key] += 1
        if row[person] is not None:
            per_person[(key, row[person])] += 1
    codes: dict[int, set[str]] = defaultdict(set)
    people = sorted({pid for _key, pid in per_person})
    for start in range(0, len(people), _LOOKUP_CHUNK):
        chunk = people[start:start + _LOOKUP_CHUNK]
        for pid, code in connection.exec_driver_sql(
                "SELECT participant_id, duo_code FROM bb_consent_code WHERE in_force AND participant_id IN "
                f"({', '.join('?' * len(chunk))})", tuple(chunk)):
            codes[pid].add(code)
    deltas: Counter[tuple[Any, ...]] = Counter({(*key, ""): n for key, n in per_box.items()})
    for (key, pid), n in per_person.items():
        for code in codes.get(pid, ()):
            deltas[(*key, code)] += n
    return [(*key, n) for key, n in deltas.items()]
