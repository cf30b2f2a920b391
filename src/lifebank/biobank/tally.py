"""Specimen tallies: how many specimens each box holds per type and status, in all and per DUO code their
participant has in force (`bb_specimen_tally`, migration biobank_0005).

The exact total of a specimen search is a sum of these rows (see `search._count`). Database triggers keep them
in the writer's transaction, whatever writes. One exception, for speed only: SQLite fires its triggers once per
row, which costs a bulk specimen import up to half its rate, so `bulk_specimen_tallies` takes the insert
trigger out for the import's own INSERT and adds the same counts, grouped, in the same transaction (SQLite has
one writer at a time, so no other connection ever sees it missing). PostgreSQL's triggers run once per
statement already. The same goes for the consent holdings of migration biobank_0007 (what each consent's
participants hold, for feasibility counts): `_add_holdings` adds a bulk import's share per participant.
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
_TYPE_UPSERT = ("INSERT INTO bb_consent_type_tally (signature_id, type, n) VALUES (?, ?, ?) ON CONFLICT "
                "(signature_id, type) DO UPDATE SET n = bb_consent_type_tally.n + excluded.n")
_HOLDING_UPSERT = ("INSERT INTO bb_consent_holding (signature_id, types, n) VALUES (?, ?, ?) ON CONFLICT "
                   "(signature_id, types) DO UPDATE SET n = bb_consent_holding.n + excluded.n")
_LOOKUP_CHUNK = 5000

_NO_CODES: frozenset[str] = frozenset()


@contextmanager
def bulk_specimen_tallies(connection: Any, table: str, columns: Sequence[str],
                          rows: Sequence[Sequence[Any]]) -> Iterator[None]:
    """Around a bulk INSERT of `rows` on SQLite, where per-row triggers would cost the import its rate:

    - into bb_specimen: the insert triggers are dropped for the duration; the rows' search tallies are added
      in one grouped upsert, and their consent holdings (biobank_0007) per participant, not per tube;
    - into bb_participant without available types (new people hold no tube yet), and into bb_consent_code for
      participants that hold no specimen yet (a participant import registers new people): the trigger would
      add nothing, so it is dropped for the duration.

    The triggers are created again before the transaction ends. DDL is transactional in SQLite and it has one
    writer at a time, so no other connection ever sees the bank without them. Anything else is left to the
    triggers."""
    if connection.dialect.name != "sqlite":
        yield
        return
    if table == "bb_specimen" and all(c in columns for c in _NEEDED):
        names = ("bb_specimen_tally_insert", "bb_specimen_holding_insert", "bb_participant_holding_update")
    elif table == "bb_participant" and "available_types" not in columns:
        names = ("bb_participant_holding_insert",)  # every row holds no tube yet ('' by default): adds nothing
    elif table == "bb_consent_code" and "participant_id" in columns and \
            not _any_specimens(connection, {row[columns.index("participant_id")] for row in rows}):
        names = ("bb_consent_code_tally_insert",)
    else:
        yield
        return
    triggers = dict(connection.exec_driver_sql(  # a database before biobank_0005/0007 lacks some: nothing to keep
        f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({', '.join('?' * len(names))})",
        names).all())
    for name in triggers:
        connection.exec_driver_sql(f"DROP TRIGGER {name}")
    try:
        yield
        if "bb_specimen_tally_insert" in triggers:
            connection.exec_driver_sql(_UPSERT, _tallies(connection, columns, rows))
        if "bb_specimen_holding_insert" in triggers:
            _add_holdings(connection, columns, rows)
    finally:
        for sql in triggers.values():
            connection.exec_driver_sql(sql)


def _add_holdings(connection: Any, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """What the biobank_0007 triggers would have done for `rows`, per participant instead of per tube (the
    specimen insert trigger and the participant update trigger are out for the duration): each available,
    distributable tube counted for its participant's consent, grouped; new tubes only add, so a participant's
    available types become those they had plus the new rows' types, sorted as the triggers' `ORDER BY type`
    sorts them (code point order, which is SQLite's BINARY order of UTF-8 text), and their holding moves."""
    kind, status, person = (columns.index(c) for c in ("type", "status", "participant_id"))
    flagged = "distributable" in columns  # else every row takes the column's default, distributable
    distributable = columns.index("distributable") if flagged else -1
    available = [r for r in rows if r[status] == "available" and r[person] is not None]
    added: dict[int, set[str]] = defaultdict(set)
    for row in available:
        added[row[person]].add(row[kind])
    people = sorted(added)
    consent: dict[int, int] = {}
    updates: list[tuple[str, int]] = []
    moves: Counter[tuple[int, str]] = Counter()
    for start in range(0, len(people), _LOOKUP_CHUNK):
        chunk = people[start:start + _LOOKUP_CHUNK]
        for pid, signature, held in connection.exec_driver_sql(
                "SELECT id, coalesce(consent_signature_id, 0), available_types FROM bb_participant "
                f"WHERE id IN ({', '.join('?' * len(chunk))})", tuple(chunk)):
            consent[pid] = signature
            now = ",".join(sorted(added[pid].union(filter(None, held.split(",")))))
            if now != held:
                updates.append((now, pid))
                if held:
                    moves[(signature, held)] -= 1
                moves[(signature, now)] += 1
    if updates:
        connection.exec_driver_sql("UPDATE bb_participant SET available_types = ? WHERE id = ?", updates)
    if moves:
        connection.exec_driver_sql(_HOLDING_UPSERT, [(*key, n) for key, n in moves.items() if n])
    tubes = Counter((consent[r[person]], r[kind]) for r in available if not flagged or r[distributable])
    if tubes:
        connection.exec_driver_sql(_TYPE_UPSERT, [(*key, n) for key, n in tubes.items()])


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
