"""The exact total of a specimen search equals a count done by hand, whatever was written before it.

Totals come from `bb_specimen_tally`, which database triggers keep (migration biobank_0005). So the property
builds random small banks, then changes them the ways the application and raw SQL do - status changes, moves,
deletes, a participant's consent withdrawn or given again, several rows in one statement - and compares the
search's total, for random filters, with a brute-force count over every row.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, text, update

from lifebank.biobank import imports
from lifebank.biobank.models import Consent, ConsentCode, Container, ContainerType, Participant, Specimen
from lifebank.biobank.search import SpecimenFilter, search_specimens
from lifebank.db.engine import Database

from .biobank_fixtures import MIXED_PARTICIPANTS, mixed_specimen_lines

CODES = ("DUO:0000042", "DUO:0000006", "DUO:0000021")
TYPES = ("PL1", "SER", "DNA")
STATUSES = ("available", "reserved", "consumed")
# (id, name path, materialised path): a site, two freezers, three boxes.
CONTAINERS = ((1, "S", "/1/", "site"), (2, "S/F1", "/1/2/", "freezer"), (3, "S/F2", "/1/3/", "freezer"),
              (4, "S/F1/B1", "/1/2/4/", "box"), (5, "S/F1/B2", "/1/2/5/", "box"), (6, "S/F2/B1", "/1/3/6/", "box"))
BOXES = (4, 5, 6)

participants_st = st.lists(  # per participant: consent versions, each (codes, withdrawn)
    st.lists(st.tuples(st.sets(st.sampled_from(CODES)), st.booleans()), max_size=2), min_size=1, max_size=4)
specimens_st = st.lists(st.tuples(st.integers(0, 3) | st.none(), st.sampled_from(TYPES), st.sampled_from(STATUSES),
                                  st.sampled_from(BOXES) | st.none()), max_size=20)
changes_st = st.lists(st.one_of(
    st.tuples(st.just("status"), st.integers(0, 19), st.sampled_from(STATUSES)),
    st.tuples(st.just("move"), st.integers(0, 19), st.sampled_from(BOXES) | st.none()),
    st.tuples(st.just("donor"), st.integers(0, 19), st.integers(0, 3)),
    st.tuples(st.just("delete"), st.integers(0, 19), st.none()),
    st.tuples(st.just("withdraw"), st.integers(0, 3), st.none()),  # every code of the participant, one statement
    st.tuples(st.just("reconsent"), st.integers(0, 3), st.sets(st.sampled_from(CODES), min_size=1)),
    st.tuples(st.just("type_status"), st.sampled_from(TYPES), st.sampled_from(STATUSES)),  # many rows at once
), max_size=8)
filters_st = st.lists(st.builds(
    SpecimenFilter, type=st.sampled_from(TYPES) | st.none(), status=st.sampled_from(STATUSES) | st.none(),
    consent=st.sampled_from(CODES) | st.none(), container=st.sampled_from([c[1] for c in CONTAINERS]) | st.none()),
    min_size=1, max_size=6)


def _empty(db: Database) -> None:
    with db.transaction() as session:
        for model in (Specimen, ConsentCode, Consent, Participant, Container, ContainerType):
            session.execute(delete(model))


def _build(db: Database, participants: list[Any], specimens: list[Any]) -> tuple[list[int], list[int]]:
    with db.transaction() as session:
        session.execute(insert(ContainerType.__table__), [
            {"id": 1, "name": "Site", "kind": "site"}, {"id": 2, "name": "Freezer", "kind": "freezer"},
            {"id": 3, "name": "Box", "kind": "box", "rows": 10, "columns": 10, "scheme": "letter-number"}])
        for cid, name_path, path, kind in CONTAINERS:
            session.add(Container(id=cid, name=name_path.rsplit("/", 1)[-1], kind=kind, path=path,
                                  type_id={"site": 1, "freezer": 2, "box": 3}[kind], name_path=name_path,
                                  parent_id=None if cid == 1 else 1 if cid < 4 else 2 if cid < 6 else 3))
            session.flush()
        people = []
        for i, consents in enumerate(participants):
            person = Participant(code=f"P{i}", sex="F", birth_year=1970, site="SH")
            session.add(person)
            session.flush()
            people.append(person.id)
            for version, (codes, withdrawn) in enumerate(consents, start=1):
                consent = Consent(participant_id=person.id, version=version, consent_date=date(2024, 1, 1))
                session.add(consent)
                session.flush()
                session.add_all([ConsentCode(consent_id=consent.id, duo_code=c, participant_id=person.id,
                                             in_force=not withdrawn) for c in codes])
        tubes = []
        for n, (who, type_, status, box) in enumerate(specimens):
            tube = Specimen(barcode=f"T{n:03d}", type=type_, status=status, unit="mL", container_id=box,
                            position=n if box else None,
                            participant_id=people[who] if who is not None and who < len(people) else None)
            session.add(tube)
            session.flush()
            tubes.append(tube.id)
    return people, tubes


def _change(db: Database, people: list[int], tubes: list[int], changes: list[Any]) -> None:
    for kind, target, value in changes:
        with db.transaction() as session:
            tube = tubes[target % len(tubes)] if tubes and isinstance(target, int) else None
            person = people[target % len(people)] if isinstance(target, int) else None
            if kind == "status" and tube:
                session.execute(update(Specimen).where(Specimen.id == tube).values(status=value))
            elif kind == "move" and tube:
                session.execute(update(Specimen).where(Specimen.id == tube).values(container_id=value))
            elif kind == "donor" and tube:
                session.execute(update(Specimen).where(Specimen.id == tube)
                                .values(participant_id=people[value % len(people)]))
            elif kind == "delete" and tube:
                session.execute(delete(Specimen).where(Specimen.id == tube))
            elif kind == "withdraw":
                session.execute(update(ConsentCode).where(ConsentCode.participant_id == person).values(in_force=False))
            elif kind == "reconsent":
                version = (session.scalar(text("SELECT max(version) FROM bb_consent WHERE participant_id = :p"),
                                          {"p": person}) or 0) + 1
                consent = Consent(participant_id=person, version=version, consent_date=date(2025, 1, 1))
                session.add(consent)
                session.flush()
                session.execute(insert(ConsentCode.__table__), [
                    {"consent_id": consent.id, "duo_code": c, "participant_id": person, "in_force": True}
                    for c in sorted(value)])
            elif kind == "type_status":
                session.execute(update(Specimen).where(Specimen.type == target).values(status=value))


def _brute_total(db: Database, flt: SpecimenFilter) -> int:
    with db.session() as session:
        paths = dict(session.execute(select(Container.id, Container.path)).all())
        in_force = {(p, c) for p, c in session.execute(select(ConsentCode.participant_id, ConsentCode.duo_code)
                                                       .where(ConsentCode.in_force.is_(True)))}
        root = session.scalar(select(Container.path).where(Container.name_path == flt.container)) \
            if flt.container else None
        return sum(1 for type_, status, cid, pid in session.execute(
                       select(Specimen.type, Specimen.status, Specimen.container_id, Specimen.participant_id))
                   if (flt.type is None or type_ == flt.type) and (flt.status is None or status == flt.status)
                   and (flt.consent is None or (pid, flt.consent) in in_force)
                   and (root is None or (cid is not None and paths[cid].startswith(root))))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(participants=participants_st, specimens=specimens_st, changes=changes_st, filters=filters_st)
def test_search_total_is_the_brute_force_count(db: Database, participants: list[Any], specimens: list[Any],
                                               changes: list[Any], filters: list[SpecimenFilter]) -> None:
    _empty(db)
    people, tubes = _build(db, participants, specimens)
    _change(db, people, tubes, changes)
    for flt in filters:
        total, page = search_specimens(db, flt, limit=500)
        assert total == _brute_total(db, flt) == len(page), flt
    _empty(db)
    with db.session() as session:  # every specimen gone: every tally back to zero
        assert session.scalar(text("SELECT count(*) FROM bb_specimen_tally WHERE n <> 0")) == 0


def test_a_withdrawal_takes_the_specimens_out_of_the_consent_total(db: Database) -> None:
    people, _tubes = _build(db, [[({"DUO:0000042"}, False), ({"DUO:0000042"}, False)]],
                            [(0, "PL1", "available", 4), (0, "PL1", "available", 5), (None, "PL1", "available", 6)])
    consented = SpecimenFilter(type="PL1", consent="DUO:0000042", container="S")
    assert search_specimens(db, consented)[0] == 2
    with db.transaction() as session:  # the first version alone: the second still carries the code
        session.execute(update(ConsentCode).where(ConsentCode.consent_id == session.scalar(
            select(Consent.id).where(Consent.version == 1))).values(in_force=False))
    assert search_specimens(db, consented)[0] == 2
    _change(db, people, [], [("withdraw", 0, None)])
    assert search_specimens(db, consented)[0] == 0
    assert search_specimens(db, SpecimenFilter(type="PL1", container="S/F1"))[0] == 2


def test_imported_specimens_are_in_the_totals(bank: Database) -> None:
    """Bulk imports on SQLite write the tallies grouped, not through the per-row trigger: same counts."""
    imports.import_participants(bank, MIXED_PARTICIPANTS, actor="tester")
    lines = mixed_specimen_lines()
    lines.append("D000,,DNA,5,µg,2024-03-02T08:00:00Z,B000,,FRZ-01/R01/BOX-2/I9,")  # the donor of its parent
    assert imports.import_specimens(bank, ("\n".join(lines) + "\n").encode(), actor="tester").rows == 25
    _change(bank, *_ids(bank), [("withdraw", 2, None)])  # P000010's codes are no longer in force
    for flt in [SpecimenFilter(), SpecimenFilter(consent="DUO:0000042"), SpecimenFilter(consent="DUO:0000006"),
                SpecimenFilter(type="SER", container="FRZ-01"),
                SpecimenFilter(status="consumed", consent="DUO:0000042"),
                SpecimenFilter(status="available", container="TANK-01"),
                SpecimenFilter(type="DNA", consent="DUO:0000042", container="FRZ-01/R01/BOX-2"),
                SpecimenFilter(type="PL1", status="available", consent="DUO:0000021", container="FRZ-01/R01")]:
        assert search_specimens(bank, flt, limit=500)[0] == _brute_total(bank, flt), flt
    assert search_specimens(bank, SpecimenFilter())[0] == 25


def _ids(db: Database) -> tuple[list[int], list[int]]:
    with db.session() as session:
        return (list(session.scalars(select(Participant.id).order_by(Participant.code))),
                list(session.scalars(select(Specimen.id).order_by(Specimen.id))))
