"""The column-wise lane of the specimen import writes exactly what the row-wise import writes, and steps
aside (to the row-wise import and its row-level report) for anything but a plainly valid file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from lifebank.biobank import columnar_import, imports
from lifebank.biobank.models import Specimen
from lifebank.db import migrate
from lifebank.db.engine import Database

from .biobank_fixtures import ACTOR, SPECIMEN_HEADER, add_participant, build_storage

HEADER_WITH_STATUS = SPECIMEN_HEADER.rstrip("\n") + ",status\n"
PLAIN = (HEADER_WITH_STATUS
         + "BLD-1,P000001,BLD,8,mL,2024-03-01T08:00:00+08:00,,BLD-PED-A-N-N-N-A,,consumed\n"
         + "PL-1,,PL1,0.5,ml,2024-03-01T08:00:00Z,BLD-1,PL1-PED-A-D-N-B-A,FRZ-01/R01/BOX-1/A1,\n"
         + "PL-1a,,PL1,0.25,mL,,PL-1,,FRZ-01/R01/BOX-1/A2,available\n"
         + "DNA-1,P000001,DNA,20,ug,2024-03-01 08:00,BLD-1,,FRZ-01/R01/BOX-2/I9,\n"
         + "RNA-1,,RNA,1.5e1,µg,2024-03-02T01:02:03.5+02:00,PL-1a,,TANK-01/RL1/CB-1/100,\n"
         + "SER-1,P000002,SER,,mL,2024-03-01,,,,destroyed\n")


def small_bank(path: Path) -> Database:
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    build_storage(db)
    add_participant(db, "P000001")
    add_participant(db, "P000002", codes="DUO:0000006;DUO:0000021", sex="M", site="BJ")
    return db


def stored_specimens(db: Database) -> list[dict]:
    with db.session() as session:
        return [dict(row._mapping) for row in session.execute(select(*Specimen.__table__.c).order_by(Specimen.id))]


def test_both_lanes_write_the_same_specimens(tmp_path: Path) -> None:
    by_columns, by_rows = small_bank(tmp_path / "columns.db"), small_bank(tmp_path / "rows.db")
    try:
        assert imports.import_specimens(by_columns, PLAIN.encode(), actor=ACTOR, lane="columns").rows == 6
        assert imports.import_specimens(by_rows, PLAIN.encode(), actor=ACTOR, lane="rows").rows == 6
        assert stored_specimens(by_columns) == stored_specimens(by_rows)
    finally:
        by_columns.dispose()
        by_rows.dispose()


def test_column_wise_lane_resolves_lineage_owners_and_positions(bank: Database) -> None:
    assert imports.import_specimens(bank, PLAIN.encode(), actor=ACTOR, lane="columns").rows == 6
    written = [(s["barcode"], s["participant_id"], s["lineage"], s["parent_id"], s["unit"], s["status"],
                s["position"]) for s in stored_specimens(bank)]
    assert written == [
        ("BLD-1", 1, "primary", None, "mL", "consumed", None), ("PL-1", 1, "derivative", 1, "mL", "available", 0),
        ("PL-1a", 1, "aliquot", 2, "mL", "available", 1), ("DNA-1", 1, "derivative", 1, "µg", "available", 80),
        ("RNA-1", 1, "derivative", 3, "µg", "available", 99), ("SER-1", 2, "primary", None, "mL", "destroyed", None)]


@pytest.mark.parametrize("change", [
    ("PL-1a,,PL1,0.25,mL,,PL-1,", "PL-1a,,PL1,0.25,mL,,PL-9,"),  # unknown parent
    ("DNA-1,P000001,DNA,20,ug,2024-03-01 08:00,BLD-1", "DNA-1,P000001,DNA,20,ug,2024-03-01 08:00,SER-1"),  # later
    ("P000002,SER,,mL", "P000002,SER,-1,mL"),  # bad quantity
    ("0.5,ml,2024-03-01T08:00:00Z", "0.5,ml,2024-02-30T08:00:00Z"),  # no such day
    ("0.5,ml,2024-03-01T08:00:00Z", "0.5,ml,yesterday"),  # no time at all
    ("PL1-PED-A-D-N-B-A", "PL1-PED-A-D-N-B-A-Z-Z"),  # bad SPREC
    ("DNA,20,ug", "DNA,20,mL"),  # wrong unit for the type
    ("BOX-1/A2", "BOX-1/A1"),  # two rows in one position
    ("BOX-1/A2", "BOX-1/a2"),  # a label the row-wise import normalises
    ("BOX-1/A2", "BOX-9/A2"),  # no such box
    ("DNA-1,P000001", "DNA-1,P000002"),  # parent of another participant
    ("P000002,SER", "P000009,SER"),  # unknown participant
    ("2024-03-01,,,,destroyed", "2024-03-01,,,,lost"),  # unknown status
    ("2024-03-01,,,,destroyed", "2024-03-01,,,FRZ-01/R01/BOX-2/A1,destroyed"),  # used up but stored
    ("PL-1,,PL1", "PL-1,,PL1 "),  # a blank the row-wise import strips
    ("BLD-1,P000001,BLD", '"BLD-1",P000001,BLD'),  # quoting: the csv module is the reference
    ("PL-1a,,PL1,0.25,mL,,PL-1,", "PL-1a,,PL1,0.25,mL,,PL-1;BLD-1,"),  # a pool
])
def test_anything_but_a_plain_file_steps_aside_without_writing(bank: Database, change: tuple[str, str]) -> None:
    content = PLAIN.replace(*change, 1)
    assert content != PLAIN
    with pytest.raises(columnar_import.NotPlain):
        imports.import_specimens(bank, content.encode(), actor=ACTOR, lane="columns")
    assert stored_specimens(bank) == []


def test_a_barcode_stored_before_is_left_to_the_row_wise_report(bank: Database) -> None:
    imports.import_specimens(bank, (HEADER_WITH_STATUS + "SER-1,P000002,SER,1,mL,,,,,\n").encode(), actor=ACTOR)
    with pytest.raises(imports.ImportRejected) as caught:
        imports.import_specimens(bank, PLAIN.encode(), actor=ACTOR)
    assert [(e.line, e.column, e.reason) for e in caught.value.errors] == [
        (7, "barcode", "barcode SER-1 is already stored")]
    assert len(stored_specimens(bank)) == 1


# --- property: whatever the file, importing it gives what the row-wise import alone gives ----------------

# Per column: plain values (drawn more often), then values the column-wise lane must leave to the row-wise one.
# "#" is the row's own barcode X<n>.
CELLS = {
    "barcode": (["#"], ["X1", "bad barcode", " X9", ""]),
    "participant": (["P000001", "P000002"], ["", "P000009", "P000001 "]),
    "type": (["BLD", "PL1", "DNA"], ["pl1", "XYZ"]),
    "quantity": (["1", "0.5", "", "1e1"], ["-1", "x"]),
    "unit": ([""], ["mL", "ml", "ug", "µg", "kg"]),  # empty: the type's own unit
    "collected_at": (["2024-03-01T08:00:00Z", "", "2024-03-01 08:00", "2024-03-01T08:00:00+08:00"],
                     ["2024-02-30T08:00:00Z"]),
    "parent_barcode": ([""] * 6 + ["X1", "X2"], ["X1;X2", "NOPE"]),
    "sprec": (["", "PL1-PED-A-D-N-B-A"], ["junk"]),
    "location": (["", "", "FRZ-01/R01/BOX-1/A1", "FRZ-01/R01/BOX-2/I9", "TANK-01/RL1/CB-1/7"],
                 ["FRZ-01/R01/BOX-1/a3", "FRZ-01/R01/BOX-9/A1", "/FRZ-01/R01/BOX-2/B1"]),
    "status": (["", "available", "consumed"], ["lost"]),
}


def _outcome(db: Database, content: bytes, lane: str) -> tuple:
    try:
        imports.import_specimens(db, content, actor=ACTOR, lane=lane)  # type: ignore[arg-type]
    except imports.ImportRejected as exc:
        return ("rejected", [(e.line, e.column, e.reason) for e in exc.errors])
    return ("written", stored_specimens(db))


@pytest.fixture(scope="module")
def bank_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lanes") / "template.db"
    small_bank(path).dispose()
    return path


def test_auto_lane_matches_the_row_wise_import_on_any_file(bank_template: Path, tmp_path: Path) -> None:
    import shutil

    from hypothesis import given, settings
    from hypothesis import strategies as st

    plain_row = st.fixed_dictionaries({column: st.sampled_from(plain) for column, (plain, _) in CELLS.items()})
    any_row = st.fixed_dictionaries({column: st.sampled_from(plain + other)
                                     for column, (plain, other) in CELLS.items()})
    row = st.one_of(plain_row, plain_row, plain_row, any_row)
    counter = iter(range(10**6))

    @settings(max_examples=150, deadline=None)
    @given(st.lists(row, min_size=1, max_size=5))
    def check(rows: list[dict[str, str]]) -> None:
        lines = [",".join(f"X{n + 1}" if r[c] == "#" else r[c] for c in CELLS) + "\n" for n, r in enumerate(rows)]
        content = (HEADER_WITH_STATUS + "".join(lines)).encode()
        outcomes = []
        for lane in ("auto", "rows"):
            path = tmp_path / f"{next(counter)}.db"
            shutil.copy(bank_template, path)
            db = Database(f"sqlite:///{path}")
            try:
                outcomes.append(_outcome(db, content, lane))
            finally:
                db.dispose()
        assert outcomes[0] == outcomes[1]

    check()
