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
    again = demo._records(5, "X", "adult", __import__("numpy").random.default_rng(demo.SEED))[0]
    assert first["hla"]["A_1"] == again.columns["A_1"] and first["registry"] in demo.REGISTRIES  # seeded
    # Mostly drawn from the API set: a Han Chinese typing finds likely 10/10 donors, ranked by P(10/10).
    han = "A*02:07+A*33:03^B*46:01+B*58:01^DRB1*09:01+DRB1*03:01"
    found = service.search(db, han, max_mismatches=2, limit=10)
    p10 = [item["p10of10"] for item in found["items"]]
    assert found["total"] > 0 and p10[0] > 0.5 and p10 == sorted(p10, reverse=True)
    assert found["items"][0]["frequencies"] == "NMDP-2007-API" and found["patient_frequencies"] == "NMDP-2007-API"
