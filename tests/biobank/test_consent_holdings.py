"""Consent holdings (migration biobank_0007) answer what a scan of the candidates answers, whatever was written.

`consent_holdings` counts a request's candidates per consent in force from rows database triggers keep;
`consent_groups` counts them from the specimens themselves. The property builds random small banks, changes
them the ways the application and raw SQL do - status, type, donor and distributable changes, deletes, several
rows in one statement, a consent given again or withdrawn through the biobank's own functions - and compares
the two for random sets of types, on both databases. Bulk imports (grouped on SQLite) and the migration's
backfill are checked against the same scan.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, text, update

import lifebank.biobank as biobank
from lifebank.biobank import imports
from lifebank.biobank import service as bb
from lifebank.biobank.models import Consent, ConsentCode, ConsentSignature, Participant, Specimen
from lifebank.db import migrate
from lifebank.db.engine import Database

from .biobank_fixtures import MIXED_PARTICIPANTS, mixed_specimen_lines

CODES = ("DUO:0000042", "DUO:0000006", "DUO:0000021")
TYPES = ("PL1", "SER", "DNA")
STATUSES = ("available", "reserved", "consumed")

participants_st = st.lists(st.sets(st.sampled_from(CODES)), min_size=1, max_size=4)  # the first consent's codes
specimens_st = st.lists(st.tuples(st.integers(0, 3) | st.none(), st.sampled_from(TYPES), st.sampled_from(STATUSES),
                                  st.booleans()), max_size=16)
changes_st = st.lists(st.one_of(
    st.tuples(st.just("status"), st.integers(0, 15), st.sampled_from(STATUSES)),
    st.tuples(st.just("type"), st.integers(0, 15), st.sampled_from(TYPES)),
    st.tuples(st.just("donor"), st.integers(0, 15), st.integers(0, 3) | st.none()),
    st.tuples(st.just("distributable"), st.integers(0, 15), st.booleans()),
    st.tuples(st.just("delete"), st.integers(0, 15), st.none()),
    st.tuples(st.just("withdraw"), st.integers(0, 3), st.none()),
    st.tuples(st.just("reconsent"), st.integers(0, 3), st.sets(st.sampled_from(CODES), min_size=1)),
    st.tuples(st.just("type_status"), st.sampled_from(TYPES), st.sampled_from(STATUSES)),  # many rows at once
), max_size=8)
questions_st = st.lists(st.lists(st.sampled_from(TYPES), min_size=1, max_size=3), min_size=1, max_size=4)


def _empty(db: Database) -> None:
    with db.transaction() as session:
        for model in (Specimen, ConsentCode, Consent, Participant, ConsentSignature):
            session.execute(delete(model))


def _build(db: Database, participants: list[set[str]], specimens: list[Any]) -> tuple[list[str], list[int]]:
    codes = []
    for i, duo in enumerate(participants):
        code = f"P{i}"
        if duo:
            bb.register_participant_with_consent(db, code, sex="F", birth_year=1970, site="SH", duo_codes=sorted(duo),
                                                 consent_date=date(2024, 1, 1), actor="t")
        else:
            bb.register_participant(db, code, sex="F", birth_year=1970, site="SH", actor="t")
        codes.append(code)
    with db.transaction() as session:
        ids = dict(session.execute(text("SELECT code, id FROM bb_participant")).all())
        tubes = []
        for n, (who, type_, status, distributable) in enumerate(specimens):
            tube = Specimen(barcode=f"T{n:03d}", type=type_, status=status, unit="mL", distributable=distributable,
                            participant_id=ids[codes[who]] if who is not None and who < len(codes) else None)
            session.add(tube)
            session.flush()
            tubes.append(tube.id)
    return codes, tubes


def _change(db: Database, people: list[str], tubes: list[int], changes: list[Any]) -> None:
    for kind, target, value in changes:
        tube = tubes[target % len(tubes)] if tubes and isinstance(target, int) else None
        person = people[target % len(people)] if isinstance(target, int) else None
        if kind == "withdraw":
            try:
                bb.withdraw_consent(db, person, actor="t")
            except Exception:  # nothing in force: nothing to withdraw
                pass
            continue
        if kind == "reconsent":
            bb.record_consent(db, person, duo_codes=sorted(value), consent_date=date(2025, 1, 1), actor="t")
            continue
        with db.transaction() as session:
            one = Specimen.id == tube
            if kind == "type_status":
                session.execute(update(Specimen).where(Specimen.type == target).values(status=value))
            elif tube is None:
                continue
            elif kind == "delete":
                session.execute(delete(Specimen).where(one))
            elif kind == "donor":
                pid = None if value is None else session.scalar(
                    text("SELECT id FROM bb_participant WHERE code = :c"), {"c": people[value % len(people)]})
                session.execute(update(Specimen).where(one).values(participant_id=pid))
            else:
                session.execute(update(Specimen).where(one).values(**{kind: value}))


def _as_counts(groups: list[Any]) -> Counter[tuple[Any, ...]]:
    return Counter({(g.consent, g.specimens): g.count for g in groups if g.count})


def _scanned(db: Database, types: list[str]) -> list[Any]:
    return biobank.consent_groups(db, specimen_types=types, with_participants=False,
                                  count_tubes=[biobank.TubeCriteria(t) for t in types])


def _assert_holdings_match(db: Database, questions: list[list[str]]) -> None:
    for types in questions:
        held = biobank.consent_holdings(db, types)
        assert _as_counts(held) == _as_counts(_scanned(db, types)), types
        assert all(not g.participants for g in held)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(participants=participants_st, specimens=specimens_st, changes=changes_st, questions=questions_st)
def test_holdings_are_the_scanned_counts(db: Database, participants: list[set[str]], specimens: list[Any],
                                         changes: list[Any], questions: list[list[str]]) -> None:
    _empty(db)
    people, tubes = _build(db, participants, specimens)
    _change(db, people, tubes, changes)
    _assert_holdings_match(db, questions)
    with db.transaction() as session:  # every specimen gone: every holding and tube count back to zero
        session.execute(delete(Specimen))
    with db.session() as session:
        assert session.scalar(text("SELECT count(*) FROM bb_consent_holding WHERE n <> 0")) == 0
        assert session.scalar(text("SELECT count(*) FROM bb_consent_type_tally WHERE n <> 0")) == 0
        assert set(session.scalars(text("SELECT available_types FROM bb_participant"))) <= {""}


def test_a_withdrawal_moves_the_participant_out_of_the_eligible_consent(db: Database) -> None:
    bb.register_participant_with_consent(db, "P1", sex="F", birth_year=1970, site="SH", duo_codes=["DUO:0000042"],
                                         consent_date=date(2024, 1, 1), actor="t")
    with db.transaction() as session:
        pid = session.scalar(text("SELECT id FROM bb_participant WHERE code = 'P1'"))
        session.add_all([Specimen(barcode=f"T{i}", type=t, status="available", unit="mL", participant_id=pid)
                         for i, t in enumerate(("SER", "SER", "DNA"))])
    [group] = biobank.consent_holdings(db, ["SER", "DNA"])
    assert (group.consent.codes, group.count, group.specimens) == (("DUO:0000042",), 1, 3)
    bb.withdraw_consent(db, "P1", actor="t")
    [group] = biobank.consent_holdings(db, ["SER"])
    # no consent in force; the tubes stay the participant's but are no longer distributable
    assert (group.consent, group.count, group.specimens) == (None, 1, 0)
    with db.session() as session:
        assert session.scalar(text("SELECT available_types FROM bb_participant WHERE code = 'P1'")) == "DNA,SER"


def test_imported_specimens_are_in_the_holdings(bank: Database) -> None:
    """A bulk import (grouped, not per row, on SQLite) leaves the same holdings as a scan finds."""
    imports.import_participants(bank, MIXED_PARTICIPANTS, actor="tester")
    lines = mixed_specimen_lines()
    assert imports.import_specimens(bank, ("\n".join(lines) + "\n").encode(), actor="tester").rows == 24
    _assert_holdings_match(bank, [["SER"], ["PL1"], ["DNA"], ["SER", "PL1"], ["PL1", "PL1"], ["DNA", "SER", "PL1"]])
    with bank.session() as session:
        assert session.scalar(text("SELECT available_types FROM bb_participant WHERE code = 'P000010'")) == "PL1,SER"


def test_the_migration_fills_the_holdings_of_the_bank(db: Database) -> None:
    """biobank_0007 computes every participant's available types and both tallies from the bank as it is
    (the bank is written at the head, taken back to biobank_0006 - holdings gone - and upgraded again)."""
    bb.register_participant_with_consent(db, "P1", sex="F", birth_year=1970, site="SH",
                                         duo_codes=["DUO:0000042"], consent_date=date(2024, 1, 1), actor="t")
    bb.register_participant_with_consent(db, "P2", sex="M", birth_year=1970, site="SH",
                                         duo_codes=["DUO:0000006"], consent_date=date(2024, 1, 1), actor="t")
    bb.register_participant(db, "P3", sex="M", birth_year=1970, site="SH", actor="t")
    with db.transaction() as session:
        ids = dict(session.execute(text("SELECT code, id FROM bb_participant")).all())
        rows = [("P1", "SER", "available", True), ("P1", "DNA", "available", True), ("P1", "PL1", "consumed", True),
                ("P2", "SER", "available", False), ("P2", "SER", "available", True), ("P3", "PL1", "available", True),
                (None, "SER", "available", True)]
        session.execute(text(
            "INSERT INTO bb_specimen (barcode, participant_id, type, quantity, unit, status, distributable, "
            "lineage, freeze_thaw) VALUES (:b, :p, :t, 1, 'mL', :s, :d, 'primary', 0)"),
            [{"b": f"T{i}", "p": ids.get(w), "t": t, "s": s, "d": d} for i, (w, t, s, d) in enumerate(rows)])
    command.downgrade(migrate.alembic_config(db), "biobank@biobank_0006")
    with db.session() as session:
        assert "available_types" not in session.execute(text("SELECT * FROM bb_participant")).keys()
    migrate.upgrade(db)
    with db.session() as session:
        held = dict(session.execute(text("SELECT code, available_types FROM bb_participant")).all())
    assert held == {"P1": "DNA,SER", "P2": "SER", "P3": "PL1"}
    _assert_holdings_match(db, [["SER"], ["PL1"], ["DNA"], ["SER", "DNA"], ["PL1", "SER", "DNA"]])
