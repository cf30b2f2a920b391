"""The read-only FHIR R4 API: every resource type and search it offers emits resources that validate with
fhir.resources R4B; paging links, errors as OperationOutcome, permissions, and the Group $export."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from fhir.resources.R4B import get_fhir_model_class

from lifebank.biobank import service as bank
from lifebank.clinical.fhir_import import import_fhir_text
from lifebank.omics import cohorts

from .fhir_fixtures import bundle, condition, encounter, medication, observation, patient

ACTOR = "test"
PROCEDURE = {
    "resourceType": "Procedure",
    "id": "pr-1",
    "status": "completed",
    "subject": {"reference": "Patient/pat-1"},
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "41976001"}]},
    "performedPeriod": {"start": "2016-02-01T10:00:00Z", "end": "2016-02-01T11:00:00Z"},
}


def valid(resource: dict) -> dict:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def _seed(db, tmp_path) -> None:
    for code in ("P0001", "P0002"):
        bank.register_participant_with_consent(
            db,
            code,
            sex="M",
            birth_year=1950,
            site="Shanghai",
            duo_codes="GRU",
            consent_date=date(2020, 1, 1),
            actor=ACTOR,
        )
    import_fhir_text(
        db,
        "b.json",
        json.dumps(
            bundle(
                patient("pat-1", "P0001"),
                encounter("e-1", "pat-1"),
                condition("c-1", "pat-1", onset="2015-06-01"),
                condition("c-2", "pat-1", code="44054006", onset="2019-02-03"),
                *[observation(f"o-{i}", "pat-1", value=float(i), when=f"2016-01-{i + 1:02d}") for i in range(5)],
                medication("m-1", "pat-1"),
                PROCEDURE,
            )
        ),
        actor=ACTOR,
    )
    parent = bank.register_specimen(
        db,
        "SP0001",
        participant="P0001",
        type="BLD",
        quantity=5.0,
        unit="mL",
        collected_at=datetime(2021, 5, 1, 8, 0, tzinfo=UTC),
        actor=ACTOR,
    )
    assert parent
    bank.split_specimen(db, "SP0001", count=1, quantity=1.0, actor=ACTOR)
    cohorts.save_cohort(
        db, tmp_path / "data", "prostate", cohorts.CohortCriteria(consent_code="DUO:0000042"), actor=ACTOR
    )


def _get(client, headers, path: str, status: int = 200) -> dict:
    answer = client.get(path, headers=headers)
    assert answer.status_code == status, answer.text
    return answer.json()


def test_every_resource_and_search_validates(client, db, users, tmp_path):
    _seed(db, tmp_path)
    headers = users.headers("admin")
    cap = valid(client.get("/fhir/r4/metadata").json())
    assert cap["fhirVersion"] == "4.0.1"
    assert valid(_get(client, headers, "/fhir/r4/Patient/pat-1"))["identifier"][0]["value"] == "P0001"
    assert valid(_get(client, headers, "/fhir/r4/Patient/P0002"))["birthDate"] == "1950"
    emitted = 0
    for path in (
        "Patient",
        "Condition?subject=Patient/pat-1",
        "Observation?subject=pat-1&code=http://loinc.org|2857-1",
        "Procedure",
        "Encounter",
        "MedicationStatement",
        "Specimen?subject=Patient/pat-1",
        "Consent?patient=P0002",
        "Group",
    ):
        found = valid(_get(client, headers, f"/fhir/r4/{path}"))
        for entry in found["entry"]:
            valid(entry["resource"])
            emitted += 1
            rtype = entry["resource"]["resourceType"]
            read = valid(_get(client, headers, f"/fhir/r4/{rtype}/{entry['resource']['id']}"))
            assert read["id"] == entry["resource"]["id"]
    assert emitted == 15
    specimens = _get(client, headers, "/fhir/r4/Specimen?subject=P0001")["entry"]
    child = next(e["resource"] for e in specimens if "parent" in e["resource"])
    assert child["parent"] == [{"reference": "Specimen/SP0001"}] and child["subject"]["reference"] == "Patient/pat-1"
    consent = _get(client, headers, "/fhir/r4/Consent/P0001-1")
    assert consent["provision"]["purpose"][0]["code"] == "DUO:0000042"


def test_search_by_date_code_and_paging(client, db, users, tmp_path):
    _seed(db, tmp_path)
    headers = users.headers("admin")
    page = _get(client, headers, "/fhir/r4/Observation?subject=pat-1&_count=2")
    assert page["total"] == 5 and len(page["entry"]) == 2
    following = next(link["url"] for link in page["link"] if link["relation"] == "next")
    second = _get(client, headers, following.replace("http://testserver", ""))
    assert [e["resource"]["id"] for e in second["entry"]] == ["o-2", "o-3"]
    for offset, entries in ((4, 1), (10, 0)):  # the last page's total comes from its rows; past the end, counted
        page = _get(client, headers, f"/fhir/r4/Observation?subject=pat-1&_count=2&_offset={offset}")
        assert page["total"] == 5 and len(page.get("entry", [])) == entries
    dated = _get(client, headers, "/fhir/r4/Observation?date=ge2016-01-03&date=lt2016-01-05")
    assert [e["resource"]["id"] for e in dated["entry"]] == ["o-2", "o-3"]
    coded = _get(client, headers, "/fhir/r4/Condition?code=http://snomed.info/sct|44054006")
    assert [e["resource"]["id"] for e in coded["entry"]] == ["c-2"]
    assert _get(client, headers, "/fhir/r4/Condition?_lastUpdated=lt2000-01-01")["total"] == 0
    bad = _get(client, headers, "/fhir/r4/Condition?date=yesterday", 422)
    assert bad["resourceType"] == "OperationOutcome" and "yesterday" in bad["issue"][0]["diagnostics"]


def test_errors_are_operation_outcomes_and_permissions_hold(client, db, users, tmp_path):
    _seed(db, tmp_path)
    missing = _get(client, users.headers("admin"), "/fhir/r4/Condition/nope", 404)
    assert valid(missing)["issue"][0]["code"] == "not-found"
    assert _get(client, {}, "/fhir/r4/Patient/pat-1", 401)["resourceType"] == "OperationOutcome"
    refused = _get(client, users.headers("researcher"), "/fhir/r4/Patient/pat-1", 403)
    assert refused["issue"][0]["code"] == "forbidden"
    assert _get(client, users.headers("researcher"), "/fhir/r4/Group")["total"] == 1


def test_group_bulk_export(client, db, users, tmp_path):
    _seed(db, tmp_path)
    headers = users.headers("admin")
    group = _get(client, headers, "/fhir/r4/Group")["entry"][0]["resource"]
    assert group["quantity"] == 2
    kick = client.get(f"/fhir/r4/Group/{group['id']}/$export", headers={**headers, "Prefer": "respond-async"})
    assert kick.status_code == 202
    status = client.get(kick.headers["Content-Location"].replace("http://testserver", ""), headers=headers)
    assert status.status_code == 200
    manifest = status.json()
    types = {o["type"]: o for o in manifest["output"]}
    assert set(types) >= {"Patient", "Condition", "Observation", "Specimen", "Consent"}
    ndjson = client.get(types["Condition"]["url"].replace("http://testserver", ""), headers=headers)
    lines = [valid(json.loads(line)) for line in ndjson.text.splitlines()]
    assert {r["id"] for r in lines} == {"c-1", "c-2"}
    other = users.headers("admin")
    assert (
        client.get(kick.headers["Content-Location"].replace("http://testserver", ""), headers=other).status_code == 404
    )


def test_every_fhir_route_but_metadata_needs_a_token(app, client):
    from fastapi.routing import iter_route_contexts
    from starlette.routing import compile_path

    checked = 0
    for route in iter_route_contexts(app.routes):
        path = getattr(route, "path", "")
        if not path.startswith("/fhir/r4") or path == "/fhir/r4/metadata":
            continue
        concrete = compile_path(path)[1].replace("{", "").replace("}", "")  # a stand-in value per parameter
        answer = client.get(concrete)
        assert answer.status_code == 401, (path, answer.status_code)
        assert answer.json()["resourceType"] == "OperationOutcome"
        checked += 1
    assert checked >= 16
    assert client.get("/fhir/r4/metadata").status_code == 200
