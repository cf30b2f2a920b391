from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lifebank.audit import service as ledger
from lifebank.biobank import imports, service
from lifebank.biobank.models import Participant, Specimen

from .biobank_fixtures import ACTOR, SPECIMEN_HEADER, participants_csv, specimens_csv


def count(db, model) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_participants_import_with_consent(bank):
    result = imports.import_participants(bank, participants_csv(5, start=10), actor=ACTOR)
    assert result.rows == 5
    view = service.participant_view(bank, "P000010")
    assert view["consents"][0]["codes"] == ["DUO:0000021", "DUO:0000042"]
    _total, events = ledger.list_events(bank, entity_type="import")
    assert [e.action for e in events] == ["import.participants"]


def test_participant_rows_with_errors_are_all_reported(bank):
    content = (participants_csv(0).decode() + "P000001,F,1980,SH,DUO:0000042,2024-01-01\n"
               "P000003,X,1980,SH,DUO:0000042,2024-01-01\n"
               "P000004,F,1780,SH,DUO:9999999,2024-13-01\n"
               "P000004,F,1980,SH,GRU,2024-01-01\n").encode()
    with pytest.raises(imports.ImportRejected) as caught:
        imports.import_participants(bank, content, actor=ACTOR)
    assert [(e.line, e.column) for e in caught.value.errors] == [
        (2, "participant"), (3, "sex"), (4, "birth_year"), (4, "consent_codes"), (4, "consent_date"),
        (5, "participant")]
    assert count(bank, Participant) == 2


def test_specimen_import_with_lineage_and_storage(bank):
    content = (SPECIMEN_HEADER
               + "DNA-1,P000001,DNA,20,ug,2024-03-01T08:00:00Z,BLD-1,,FRZ-01/R01/BOX-1/A2\n"
               + "BLD-1,P000001,BLD,8,mL,2024-03-01T08:00:00+08:00,,BLD-PED-A-N-N-N-A,\n"
               + "SER-1,P000002,SER,1,ml,2024-03-01 08:00,,,FRZ-01/R01/BOX-1/A1\n"
               + "POOL-1,,SER,1,mL,,SER-1;SER-0,,\n"
               + "SER-0,P000002,SER,1,mL,,,,\n").encode()
    assert imports.import_specimens(bank, content, actor=ACTOR).rows == 5
    dna = service.get_specimen(bank, "DNA-1")
    assert (dna["parent"], dna["lineage"], dna["location"], dna["unit"]) == \
        ("BLD-1", "derivative", "FRZ-01/R01/BOX-1/A2", "µg")
    assert service.get_specimen(bank, "BLD-1")["collected_at"] == "2024-03-01T00:00:00+00:00"
    pool = service.get_specimen(bank, "POOL-1")
    assert (pool["lineage"], pool["participant"]) == ("pool", "P000002")


def test_every_kind_of_bad_specimen_row_is_named(bank):
    service.register_specimen(bank, "OLD", participant="P000001", type="SER", quantity=1,
                              location="FRZ-01/R01/BOX-1/A1", actor=ACTOR)
    service.register_participant(bank, "P000003", sex="F", birth_year=1990, site="SH", actor=ACTOR)
    service.record_consent(bank, "P000003", duo_codes="GRU", consent_date=service.utcnow().date(), actor=ACTOR)
    service.withdraw_consent(bank, "P000003", actor=ACTOR)
    content = (SPECIMEN_HEADER
               + "OLD,P000001,SER,1,mL,,,,\n"  # 2 stored barcode
               + "A,P000009,SER,1,mL,,,,\n"  # 3 unknown participant
               + "B,P000001,SER,1,mL,,NOPE,,\n"  # 4 unknown parent
               + "C,P000001,SER,1,mL,,,,FRZ-01/R01/BOX-1/A1\n"  # 5 occupied
               + "D,P000001,SER,1,mL,,,,FRZ-01/R01/BOX-9/A1\n"  # 6 no such box
               + "E,P000001,SER,1,mL,,,SER-XYZ-A-D-N-B-A,\n"  # 7 bad SPREC
               + "F,P000001,DNA,1,mL,,,,\n"  # 8 wrong unit
               + "G,P000003,SER,1,mL,,,,\n"  # 9 withdrawn consent
               + "A,P000001,SER,1,mL,,,,\n"  # 10 duplicate in file
               + "H,P000001,SER,1,mL,,,,FRZ-01/R01/BOX-1/Z1\n"  # 11 no such position
               + "I,P000001,SER,1,mL,,,,FRZ-01/R01/BOX-1/B1\n"  # 12 fine
               + "J,P000001,SER,1,mL,,,,FRZ-01/R01/BOX-1/B1\n"  # 13 position taken by line 12
               ).encode()
    with pytest.raises(imports.ImportRejected) as caught:
        imports.import_specimens(bank, content, actor=ACTOR)
    got = [(e.line, e.column) for e in caught.value.errors]
    assert got == [(2, "barcode"), (3, "participant"), (4, "parent_barcode"), (5, "location"), (6, "location"),
                   (7, "sprec"), (8, "unit"), (9, "participant"), (10, "barcode"), (11, "location"),
                   (13, "location")]
    reasons = {e.line: e.reason for e in caught.value.errors}
    assert reasons[2] == "barcode OLD is already stored"
    assert reasons[9] == "participant P000003 has withdrawn consent"
    assert reasons[13] == "position FRZ-01/R01/BOX-1/B1 is occupied by line 12"
    assert count(bank, Specimen) == 1


def test_one_bad_row_in_100k_writes_nothing_then_the_fixed_file_imports(bank):
    imports.import_participants(bank, participants_csv(1000, start=3), actor=ACTOR)
    good = specimens_csv(100_000, 1000)
    bad = good.replace(b"T00054321,P000322,SER,1.0,mL", b"T00054321,P000322,SER,1.0,ug")
    assert bad != good
    before = ledger.verify(bank)
    with pytest.raises(imports.ImportRejected) as caught:
        imports.import_specimens(bank, bad, actor=ACTOR)
    assert [e.as_dict() for e in caught.value.errors] == [
        {"line": 54323, "column": "unit", "reason": "unit 'ug' is wrong for SER: use mL"}]
    assert count(bank, Specimen) == 0
    assert ledger.verify(bank).checked == before.checked
    assert imports.import_specimens(bank, good, actor=ACTOR).rows == 100_000
    assert count(bank, Specimen) == 100_000
    assert ledger.verify(bank).ok


def test_child_of_another_participants_specimen_and_lineage_cycles_are_rejected(bank):
    content = (SPECIMEN_HEADER
               + "B1,P000001,BLD,8,mL,,,,\n"
               + "D1,P000002,DNA,10,ug,,B1,,\n"
               + "X1,,SER,1,mL,,X2,,\n"
               + "X2,,SER,1,mL,,X1,,\n").encode()
    with pytest.raises(imports.ImportRejected) as caught:
        imports.import_specimens(bank, content, actor=ACTOR)
    assert [(e.line, e.column, e.reason) for e in caught.value.errors] == [
        (3, "participant", "parent B1 belongs to another participant"),
        (5, "parent_barcode", "lineage cycle: X1 descends from X2"),
    ]


@pytest.mark.parametrize("quantity", ["99999999999999999999", "inf", "1000001"])
def test_absurd_quantities_are_named_and_nothing_is_written(bank, quantity: str) -> None:
    content = f"{SPECIMEN_HEADER}LBQ-1,P000001,PL1,{quantity},mL,2024-01-01T08:00:00Z,,,\n".encode()
    with bank.session() as session:
        before = session.scalar(select(func.count()).select_from(Specimen))
    with pytest.raises(imports.ImportRejected) as caught:
        imports.import_specimens(bank, content, actor=ACTOR)
    assert [e.as_dict() for e in caught.value.errors] == [
        {"line": 2, "column": "quantity",
         "reason": f"{quantity!r} is more than any one specimen holds (at most 1,000,000 in its unit)"}]
    with bank.session() as session:
        assert session.scalar(select(func.count()).select_from(Specimen)) == before
