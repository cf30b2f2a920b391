"""OMOP CDM 5.4: import of the vendored Eunomia persons, export (with the biobank's specimens) checked field by
field against the specification, round trip of ids, and bad rows named by file, line and column."""

from __future__ import annotations

import csv
import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lifebank import biobank
from lifebank.biobank import service as bank
from lifebank.clinical import queries
from lifebank.clinical.fhir_import import import_fhir_text
from lifebank.clinical.omop_export import export_omop
from lifebank.clinical.omop_import import import_omop_folder
from lifebank.clinical.omop_spec import FIELD_LEVEL, cdm_tables
from lifebank.errors import RowsRejected, ValidationFailed
from shared_data import SHARED_DATA

from .fhir_fixtures import condition, ndjson, patient

EUNOMIA = Path(__file__).parents[2] / "src" / "lifebank" / "clinical" / "data" / "eunomia_synthea27nj"
ACTOR = "test"


def check_against_spec(folder: Path, table: str) -> int:
    """Every column the spec lists, in order; required cells filled; every cell of its type. Returns rows."""
    fields = cdm_tables()[table]
    with (folder / f"{table}.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == [f.name for f in fields]
    for line, row in enumerate(rows[1:], start=2):
        for field, cell in zip(fields, row, strict=True):
            assert field.problem(cell) is None, (table, line, field.name, cell)
    return len(rows) - 1


def test_vendored_spec_is_the_shared_one():
    shared = SHARED_DATA / "clinical" / "omop_cdm_5.4_spec" / "OMOP_CDMv5.4_Field_Level.csv"
    assert hashlib.sha256(FIELD_LEVEL.read_bytes()).digest() == hashlib.sha256(shared.read_bytes()).digest()


def test_eunomia_import_export_round_trip_with_specimens(db, tmp_path):
    result = import_omop_folder(db, EUNOMIA, actor=ACTOR, create_participants=True)
    assert result["tables"]["measurement"] == 1039 and result["participants_created"] == 6
    again = import_omop_folder(db, EUNOMIA, actor=ACTOR, create_participants=True)
    assert again["participants_created"] == 0
    code = sorted(biobank.list_participant_codes(db, 10))[0]
    bank.record_consent(db, code, duo_codes="GRU", consent_date=datetime(2024, 1, 1).date(), actor=ACTOR)
    bank.register_specimen(db, "SPX0001", participant=code, type="DNA", quantity=20.0, unit="ug",
                           collected_at=datetime(2024, 3, 1, 9, 30, tzinfo=UTC), actor=ACTOR)
    counts = export_omop(db, tmp_path / "out")
    for table, rows in counts.items():
        assert check_against_spec(tmp_path / "out", table) == rows
    assert counts["person"] == 6 and counts["specimen"] == 1 and counts["measurement"] == 1039
    assert counts["death"] == 1 and counts["visit_occurrence"] == 127
    with (tmp_path / "out" / "condition_occurrence.csv").open() as handle:
        exported = {int(r["condition_occurrence_id"]) for r in csv.DictReader(handle)}
    with (EUNOMIA / "CONDITION_OCCURRENCE.csv").open() as handle:
        assert exported == {int(r["condition_occurrence_id"]) for r in csv.DictReader(handle)}
    with (tmp_path / "out" / "person.csv").open() as handle:
        persons = list(csv.DictReader(handle))
    assert {p["person_source_value"] for p in persons} == set(biobank.list_participant_codes(db, 10))
    assert {p["person_id"] for p in persons} == {"2", "3", "4", "6", "23", "24"}
    with (tmp_path / "out" / "specimen.csv").open() as handle:
        specimen = next(csv.DictReader(handle))
    assert specimen["specimen_source_id"] == "SPX0001" and specimen["specimen_date"] == "2024-03-01"


def test_export_parquet_has_spec_types(db, tmp_path, bank_participants):
    import_fhir_text(db, "x.ndjson", ndjson(patient("a", "P0001", deceasedDateTime="2020-02-03T10:00:00Z"),
                                            condition("c1", "a")), actor=ACTOR)
    counts = export_omop(db, tmp_path / "pq", table_format="parquet")
    table = pq.read_table(tmp_path / "pq" / "condition_occurrence.parquet")
    assert table.num_rows == counts["condition_occurrence"] == 1
    assert str(table.schema.field("condition_start_date").type) == "date32[day]"
    assert str(table.schema.field("person_id").type) == "int64"
    assert [str(d) for d in pq.read_table(tmp_path / "pq" / "death.parquet").column("death_date").to_pylist()] == [
        "2020-02-03"]
    assert pq.read_table(tmp_path / "pq" / "person.parquet").column("person_source_value").to_pylist() == [
        "P0001", "P0002", "P0003"][:pq.read_table(tmp_path / "pq" / "person.parquet").num_rows]


def test_export_refuses_a_folder_with_files(db, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(ValidationFailed):
        export_omop(db, tmp_path / "full")
    (tmp_path / "empty").mkdir()
    assert export_omop(db, tmp_path / "empty")["person"] == 0


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "omop"
    shutil.copytree(EUNOMIA, folder)
    return folder


def _edit(path: Path, line: int, column: str, value: str) -> None:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    rows[line - 1][rows[0].index(column)] = value
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)


def test_omop_row_with_missing_required_field_or_wrong_type(db, tmp_path):
    folder = _copy(tmp_path)
    _edit(folder / "CONDITION_OCCURRENCE.csv", 3, "condition_start_date", "")
    _edit(folder / "MEASUREMENT.csv", 5, "value_as_number", "high")
    with pytest.raises(RowsRejected) as caught:
        import_omop_folder(db, folder, actor=ACTOR, create_participants=True)
    assert "CONDITION_OCCURRENCE.csv" in caught.value.render()
    assert [(e.line, e.column) for e in caught.value.errors] == [(3, "condition_start_date")]
    _edit(folder / "CONDITION_OCCURRENCE.csv", 3, "condition_start_date", "2001-01-01")
    with pytest.raises(RowsRejected) as caught:
        import_omop_folder(db, folder, actor=ACTOR, create_participants=True)
    assert "MEASUREMENT.csv" in caught.value.render()
    assert [(e.line, e.column) for e in caught.value.errors] == [(5, "value_as_number")]
    assert "'high' is not a number" in caught.value.errors[0].message().render()
    assert biobank.list_participant_codes(db, 10) == []


def test_omop_person_without_participant_is_reported(db, tmp_path):
    with pytest.raises(RowsRejected) as caught:
        import_omop_folder(db, EUNOMIA, actor=ACTOR)
    assert caught.value.errors[0].column == "person_source_value" and caught.value.errors[0].line == 2
    assert "--create-participants" in caught.value.errors[0].message().render()


def test_person_source_value_links_to_existing_participant(db, tmp_path, bank_participants):
    folder = _copy(tmp_path)
    _edit(folder / "PERSON.csv", 2, "person_source_value", "P0002")
    with pytest.raises(RowsRejected):  # the other five are still unknown
        import_omop_folder(db, folder, actor=ACTOR)
    import_omop_folder(db, folder, actor=ACTOR, create_participants=True)
    assert any(r["source_type"] == "condition_occurrence" for r in queries.clinical_timeline(db, "P0002"))


def test_full_shared_eunomia_imports(db, backend):
    if backend != "sqlite":
        pytest.skip("the 28-person set once, on SQLite (the vendored six persons cover PostgreSQL)")
    result = import_omop_folder(db, SHARED_DATA / "clinical" / "eunomia_synthea27nj_omop54", actor=ACTOR,
                                create_participants=True)
    assert result["tables"] == {"person": 28, "visit_occurrence": 1791, "condition_occurrence": 470,
                                "measurement": 10040, "observation": 8099, "drug_exposure": 883,
                                "procedure_occurrence": 1649, "death": 3}
