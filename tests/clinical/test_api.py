"""The clinical JSON API: import with problem+json errors, records of a participant, permissions."""

from __future__ import annotations

from lifebank.biobank import service as bank

from .fhir_fixtures import condition, ndjson, patient


def test_api_import_and_records(client, db, users):
    bank.register_participant(db, "P0001", sex="M", birth_year=1950, site="SH", actor="test")
    manager = users.headers("biobank_manager")
    bad = client.post("/api/v1/clinical/import?name=c.ndjson", headers=manager,
                      content=ndjson(patient("pat-1", "P0001"), condition("c-1", "nobody")))
    assert bad.status_code == 422
    assert bad.json()["errors"] == [{"line": 2, "column": "Condition.subject",
                                     "reason": "reference Patient/nobody points to no resource in the file or the "
                                               "database"}]
    assert "c.ndjson" in bad.json()["detail"]
    good = client.post("/api/v1/clinical/import?name=c.ndjson", headers=manager,
                       content=ndjson(patient("pat-1", "P0001"), condition("c-1", "pat-1")))
    assert good.status_code == 201 and good.json()["resources"] == {"Condition": 1, "Patient": 1}
    records = client.get("/api/v1/clinical/participants/P0001/records", headers=manager).json()
    assert [(r["kind"], r["code"]) for r in records] == [("condition", "399068003")]
    assert client.get("/api/v1/clinical/participants/P0001/records",
                      headers=users.headers("researcher")).status_code == 403
    technician = users.headers("technician")
    refused = client.post("/api/v1/clinical/import?create_participants=true", headers=technician,
                          content=ndjson(patient("x")))
    assert refused.status_code == 403
