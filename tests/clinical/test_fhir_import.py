"""FHIR R4 import: links to participants, stores no direct identifiers, idempotent, every bad input named."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select, text

from lifebank import biobank
from lifebank.clinical import queries
from lifebank.clinical.fhir_import import import_fhir_path, import_fhir_text
from lifebank.clinical.models import ClinPatient, ClinRecord
from lifebank.errors import RowsRejected
from shared_data import SHARED_DATA

from .fhir_fixtures import bundle, condition, encounter, medication, ndjson, observation, patient

ACTOR = "test"


def _records(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(ClinRecord)) or 0


def _rejected(db, name: str, text: str, **kwargs) -> RowsRejected:
    with pytest.raises(RowsRejected) as caught:
        import_fhir_text(db, name, text, actor=ACTOR, **kwargs)
    assert name in caught.value.render()
    assert _records(db) == 0
    return caught.value


def test_bundle_links_patient_to_participant_and_keeps_no_identifiers(db, bank_participants):
    text = json.dumps(
        bundle(
            patient("pat-1", "P0001"),
            encounter("enc-1", "pat-1"),
            condition("c-1", "pat-1", encounter={"reference": "urn:uuid:enc-1"}),
            observation("o-1", "pat-1"),
            medication("m-1", "pat-1"),
        )
    )
    result = import_fhir_text(db, "one.json", text, actor=ACTOR)
    assert result["resources"] == {
        "Condition": 1,
        "Encounter": 1,
        "MedicationRequest": 1,
        "Observation": 1,
        "Patient": 1,
    }
    timeline = queries.clinical_timeline(db, "P0001")
    assert [(r["kind"], r["code"]) for r in timeline] == [
        ("measurement", "2857-1"),
        ("encounter", ""),
        ("condition", "399068003"),
        ("medication", "310798"),
    ]
    assert timeline[0]["value_num"] == 5.2 and timeline[0]["unit"] == "ng/mL"
    with db.session() as session:
        stored = session.scalars(select(ClinPatient)).one()
        row = {c.name: getattr(stored, c.name) for c in ClinPatient.__table__.columns}
    assert row["participant_code"] == "P0001" and row["birth_year"] == 1950 and row["gender"] == "male"
    flat = json.dumps(row, default=str)
    for secret in ("Doe", "Johnny", "Secret Street", "Hidden Town", "MRN-778899", "1950-03-04"):
        assert secret not in flat


def test_reimport_updates_and_never_duplicates(db, bank_participants):
    first = ndjson(patient("pat-1", "P0001"), condition("c-1", "pat-1"), observation("o-1", "pat-1"))
    import_fhir_text(db, "a.ndjson", first, actor=ACTOR)
    import_fhir_text(db, "a.ndjson", first, actor=ACTOR)
    assert _records(db) == 2
    changed = ndjson(
        patient("pat-1", "P0001", gender="female", birthDate="1951"),
        condition("c-1", "pat-1"),
        observation("o-1", "pat-1", value=9.9, when="2015-05-20T09:30:00+08:00"),
    )
    import_fhir_text(db, "a.ndjson", changed, actor=ACTOR)
    timeline = queries.clinical_timeline(db, "P0001")
    values = [(r["value_num"], r["start"]) for r in timeline if r["kind"] == "measurement"]
    assert values == [(9.9, datetime(2015, 5, 20, 1, 30, tzinfo=UTC))] and _records(db) == 2
    with db.session() as session:  # the known patient updated in place (same row id: its records point at it)
        stored = session.execute(select(ClinPatient.id, ClinPatient.gender, ClinPatient.birth_year)).all()
        assert [(g, y) for _id, g, y in stored] == [("female", 1951)]
        assert set(session.scalars(select(ClinRecord.patient_id))) == {stored[0][0]}
        # the stored timestamps compare in SQL like those the ORM writes (same format on SQLite)
        for stamp, records in (
            (datetime(2015, 5, 20, 1, 30, tzinfo=UTC), 2),
            (datetime(2015, 5, 20, 1, 31, tzinfo=UTC), 1),
            (datetime(2015, 6, 1, 0, 0, 1, tzinfo=UTC), 0),
        ):
            assert (
                session.scalar(select(func.count()).select_from(ClinRecord).where(ClinRecord.start >= stamp)) == records
            ), stamp
        assert (
            session.scalar(
                select(func.count())
                .select_from(ClinRecord)
                .where(ClinRecord.start == datetime(2015, 5, 20, 1, 30, tzinfo=UTC))
            )
            == 1
        )


def test_not_json_is_named_by_line(db, bank_participants):
    text = ndjson(patient("pat-1", "P0001")) + "{not json\n"
    error = _rejected(db, "broken.ndjson", text)
    assert [(e.line, e.column) for e in error.errors] == [(2, "-")]
    assert "not JSON" in error.errors[0].message().render()


def test_unsupported_resource_type_is_refused(db, bank_participants):
    error = _rejected(
        db,
        "odd.ndjson",
        ndjson(
            patient("pat-1", "P0001"),
            {"resourceType": "Spaceship", "id": "x"},
            {"resourceType": "Account", "id": "a", "status": "active"},
        ),
    )
    assert [(e.line, e.column) for e in error.errors] == [(2, "Spaceship"), (3, "Account")]
    assert "not supported" in error.errors[0].message().render()


def test_bad_date_names_the_fhir_path(db, bank_participants):
    error = _rejected(
        db, "dates.json", json.dumps(bundle(patient("pat-1", "P0001"), condition("c-1", "pat-1", onset="2015-13-45")))
    )
    assert error.errors[0].line == 2 and error.errors[0].column.startswith("Condition.onsetDateTime")
    assert error.errors[0].message().render().startswith("entry 2, Condition.onsetDateTime")


def test_unknown_code_system_in_a_required_binding(db, bank_participants):
    bad = condition("c-1", "pat-1")
    bad["clinicalStatus"]["coding"][0]["system"] = "http://example.org/my-statuses"
    error = _rejected(
        db, "binding.ndjson", ndjson(patient("pat-1", "P0001"), bad, patient("pat-2", "P0002", gender="banana"))
    )
    assert [(e.line, e.column) for e in error.errors] == [
        (2, "Condition.clinicalStatus.coding[0].system"),
        (3, "Patient.gender"),
    ]
    assert "http://example.org/my-statuses" in error.errors[0].message().render()


def test_reference_to_a_missing_resource(db, bank_participants):
    error = _rejected(
        db,
        "refs.ndjson",
        ndjson(
            patient("pat-1", "P0001"),
            condition("c-1", "nobody"),
            condition("c-2", "pat-1", encounter={"reference": "Encounter/e9"}),
        ),
    )
    assert [(e.line, e.column) for e in error.errors] == [(2, "Condition.subject"), (3, "Condition.encounter")]
    assert "Patient/nobody" in error.errors[0].message().render()


def test_references_resolve_against_the_database(db, bank_participants):
    import_fhir_text(db, "Patient.000.ndjson", ndjson(patient("pat-1", "P0001")), actor=ACTOR)
    import_fhir_text(db, "Encounter.000.ndjson", ndjson(encounter("e-1", "pat-1")), actor=ACTOR)
    import_fhir_text(
        db,
        "Condition.000.ndjson",
        ndjson(condition("c-1", "pat-1", encounter={"reference": "Encounter/e-1"})),
        actor=ACTOR,
    )
    assert _records(db) == 2


def test_a_folder_is_read_one_file_ahead_and_a_rejected_file_stops_it(db, bank_participants, tmp_path, monkeypatch):
    """A folder's next file validates (in the worker pool) while the previous one is written; its references are
    still resolved against what the previous files wrote, and a rejected file stops the run, the one read
    ahead of it included."""
    from lifebank.clinical import fhir_read

    monkeypatch.setattr(fhir_read, "validation_workers", lambda: 2)
    monkeypatch.setattr(fhir_read, "PARALLEL_MIN", 1)
    monkeypatch.setattr(fhir_read, "SLICE_MIN", 1)
    (tmp_path / "Patient.000.ndjson").write_text(ndjson(patient("pat-1", "P0001"), patient("pat-2", "P0002")))
    (tmp_path / "Encounter.000.ndjson").write_text(ndjson(encounter("e-1", "pat-1"), encounter("e-2", "pat-2")))
    (tmp_path / "Condition.000.ndjson").write_text(
        ndjson(condition("c-1", "pat-1", encounter={"reference": "Encounter/e-1"}), condition("c-2", "pat-2"))
    )
    (tmp_path / "Observation.000.ndjson").write_text(ndjson(observation("o-1", "pat-1"), observation("o-2", "pat-9")))
    (tmp_path / "Procedure.000.ndjson").write_text(ndjson(condition("c-3", "pat-1")))
    started: list[str] = []
    start = fhir_read.start_reading
    pools: list[int] = []
    executor = fhir_read._executor
    monkeypatch.setattr(fhir_read, "_executor", lambda workers: pools.append(workers) or executor(workers))
    monkeypatch.setattr(
        "lifebank.clinical.fhir_import.start_reading",
        lambda name, text, pool: started.append(name) or start(name, text, pool),
    )
    with pytest.raises(RowsRejected) as caught:
        import_fhir_path(db, tmp_path, actor=ACTOR)
    assert "Observation.000.ndjson" in caught.value.render()
    assert [(e.line, e.column) for e in caught.value.errors] == [(2, "Observation.subject")]
    assert _records(db) == 4  # 2 encounters and 2 conditions; nothing of Observation or Procedure
    assert started[-1] == "Procedure.000.ndjson"  # read ahead, then dropped
    assert pools == [2]  # one pool for the folder's files


def test_patient_without_participant_is_reported_or_created(db, bank_participants):
    text = ndjson(patient("synthea-77"), condition("c-1", "synthea-77"))
    error = _rejected(db, "orphan.ndjson", text)
    assert (error.errors[0].line, error.errors[0].column) == (1, "Patient.identifier")
    assert "--create-participants" in error.errors[0].message().render()
    assert biobank.list_participant_codes(db, 10) == bank_participants
    result = import_fhir_text(db, "orphan.ndjson", text, actor=ACTOR, create_participants=True)
    assert result["participants_created"] == 1
    created = set(biobank.list_participant_codes(db, 10)) - set(bank_participants)
    assert len(created) == 1 and "synthea" not in next(iter(created))
    assert [r["code"] for r in queries.clinical_timeline(db, next(iter(created)))] == ["399068003"]
    again = import_fhir_text(db, "orphan.ndjson", text, actor=ACTOR, create_participants=False)
    assert again["participants_created"] == 0 and _records(db) == 1


def test_identifier_naming_an_unknown_participant(db, bank_participants):
    error = _rejected(db, "unknown.ndjson", ndjson(patient("pat-9", "P9999")))
    assert "P9999" in error.errors[0].message().render()


def test_every_shared_synthea_resource_imports(db, backend):
    if backend != "sqlite":
        pytest.skip("14,474 resources once, on SQLite; the import paths run on PostgreSQL in the tests above")
    bulk = import_fhir_path(
        db, SHARED_DATA / "clinical" / "fhir_r4_bulk_ndjson_10pt", actor=ACTOR, create_participants=True
    )
    assert bulk["resources"]["Condition"] == 555 and bulk["resources"]["Procedure"] == 2056
    assert bulk["resources"]["Patient"] == 13
    bundles = import_fhir_path(
        db, SHARED_DATA / "clinical" / "fhir_r4_synthea_hiv_bundles", actor=ACTOR, create_participants=True
    )
    assert bundles["resources"]["Observation"] == 420
    assert bundles["resources"]["Patient"] == 10
    assert len(biobank.list_participant_codes(db, 100)) == 23


def test_parallel_validation_of_a_large_file_reports_the_same_problems(monkeypatch):
    from lifebank.clinical import fhir_read

    resources = [condition(f"c-{i}", "pat-1") for i in range(30)]
    resources[7]["onsetDateTime"] = "2015-02-30"
    resources[21]["clinicalStatus"]["coding"][0]["code"] = "sleeping"
    text = ndjson(*resources) + "{broken\n"
    serial = fhir_read.read_fhir_text("big.ndjson", text)
    pools: list[int] = []
    in_parallel = fhir_read._start_parallel
    monkeypatch.setattr(
        fhir_read, "_start_parallel", lambda lines, workers: pools.append(workers) or in_parallel(lines, workers)
    )
    monkeypatch.setattr(fhir_read, "validation_workers", lambda: 2)  # whatever the machine's load
    monkeypatch.setattr(fhir_read, "PARALLEL_MIN", 10)
    parallel = fhir_read.read_fhir_text("big.ndjson", text)
    assert pools == [2]
    assert (
        [(e.line, e.column) for e in parallel.errors]
        == [(e.line, e.column) for e in serial.errors]
        == [(8, "Condition.onsetDateTime"), (22, "Condition.clinicalStatus.coding[0].code"), (31, "-")]
    )
    assert not parallel.entries and not serial.entries  # a rejected file keeps no rows
    good = fhir_read.read_fhir_text("big.ndjson", ndjson(*resources[:5]))
    monkeypatch.setattr(fhir_read, "PARALLEL_MIN", 3)
    monkeypatch.setattr(fhir_read, "SLICE_MIN", 2)  # several slices, gathered in line order
    parallel_good = fhir_read.read_fhir_text("big.ndjson", ndjson(*resources[:5]))
    assert parallel_good.entries == good.entries and len(good.entries) == 5
    assert [where for where, *_rest in good.entries] == [1, 2, 3, 4, 5]
    assert parallel_good.counts == good.counts == {"Condition": 5}
    assert pools == [2, 2]


def test_validation_uses_the_idle_cores_only():
    from lifebank.clinical.fhir_read import validation_workers

    assert validation_workers(cpus=2, load=0.3) == 2  # an idle machine: both cores
    assert validation_workers(cpus=2, load=1.4) == 1  # another process holds a core: no pool
    assert validation_workers(cpus=2, load=9.0) == 1
    assert validation_workers(cpus=16, load=2.0) == 4  # at most MAX_WORKERS
    assert validation_workers(cpus=1, load=0.0) == 1


def test_statistics_after_a_large_import_reach_pooled_connections(db, backend):
    """SQLite: an import's ANALYZE must reach the connections already in the read pool, or a cohort's clinical
    check among a few candidates keeps an empty table's plan (the (kind, code, system) index: every record of
    the code at 100,000 participants) instead of walking the candidates' own rows."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL's statistics live in the server, shared by every connection")
    from lifebank.clinical import _store

    with db.transaction() as session:
        session.execute(
            insert(ClinPatient),
            [{"origin": "fhir", "source_id": f"p{i}", "participant_code": f"Q{i}"} for i in range(400)],
        )
        ids = list(session.scalars(select(ClinPatient.id)))
        session.execute(
            insert(ClinRecord),
            [
                {
                    "patient_id": pk,
                    "kind": "condition",
                    "origin": "fhir",
                    "source_type": "Condition",
                    "source_id": f"{pk}-{n}",
                    "system": "http://snomed.info/sct",
                    "code": "399068003",
                }
                for pk in ids
                for n in range(8)
            ],
        )
    plan = (
        "EXPLAIN QUERY PLAN SELECT p.participant_code FROM clin_patient p JOIN clin_record r ON "
        "r.patient_id = p.id WHERE r.kind = 'condition' AND r.code IN ('399068003', '254900004') AND "
        "r.system = 'http://snomed.info/sct' AND p.participant_code IN ('Q1', 'Q2')"
    )

    def record_index() -> str:
        with db.session() as session:  # a pooled read connection
            steps = [row[-1] for row in session.execute(text(plan))]
        return next(step for step in steps if " r USING " in step)

    assert "ix_clin_record_kind_code" in record_index()  # no statistics yet: the code's index
    _store.refresh_statistics(db, 5_000)
    assert "ix_clin_record_patient_code_system" in record_index()
