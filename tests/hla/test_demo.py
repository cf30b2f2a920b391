"""The demo registry: deterministic, idempotent, a realistic resolution mix, searchable."""

from __future__ import annotations

from contextlib import contextmanager

from lifebank.hla import demo, service


@contextmanager
def quiet(_description, _total, _unit="rows"):
    yield lambda _n: None


def test_demo_registry_loads_once_with_mixed_resolution(db, monkeypatch):
    monkeypatch.setattr(demo, "ADULTS", 3000)  # the full 100 k + 5 k run is `make demo`; same code path
    monkeypatch.setattr(demo, "CORDS", 300)
    demo.load_demo(db, quiet)
    demo.load_demo(db, quiet)  # second call: skipped
    total, _ = service.list_donors(db, limit=1)
    assert total == 3300
    cords, items = service.list_donors(db, donor_type="cord", limit=300)
    assert cords == 300 and all(d["cell_dose"] and d["collection_date"] for d in items)
    _, adults = service.list_donors(db, donor_type="adult", limit=1000)
    kinds = {"xx": 0, "serology": 0, "string": 0, "ab_drb1_only": 0}
    for d in adults:
        a = d["hla"]["A_1"]
        kinds["xx"] += a.endswith(":XX")
        kinds["serology"] += "*" not in a
        kinds["string"] += "/" in a
        kinds["ab_drb1_only"] += d["hla"]["C_1"] is None
    assert all(count > 0 for count in kinds.values()), kinds
    first = service.get_donor(db, "DEMO-A000001")
    assert first["hla"]["A_1"] == "A*33:01" and first["registry"] in demo.REGISTRIES  # seeded: same every run
    patient = ("A*03:01+A*03:01^B*35:01+B*35:01^DRB1*04:04+DRB1*04:04")
    found = service.search(db, patient, max_mismatches=4, limit=3)
    assert found["total"] > 0 and found["items"][0]["mismatch_count"] <= found["items"][-1]["mismatch_count"]
