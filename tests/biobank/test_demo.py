from __future__ import annotations

from contextlib import contextmanager

from lifebank import biobank
from lifebank.audit import service as ledger
from lifebank.biobank import demo, service


@contextmanager
def quiet(_description, _total, _unit="rows"):
    yield lambda _n: None


def test_demo_bank_is_realistic_deterministic_and_loads_once(db):
    demo.load_demo(db, quiet)
    total, _ = service.search_specimens(db, service.SpecimenFilter(), limit=1)
    assert 45_000 <= total <= 55_000
    assert len(biobank.list_participant_codes(db, 5000)) == 2000
    assert biobank.list_participant_codes(db, 2) == ["P000001", "P000002"]
    stored = service.occupancy(db, "ZJ")
    assert stored["used"] > 35_000
    for unit in ("ZJ/FRZ-01", "ZJ/LN2-01", "ZJ/AS-01"):
        assert service.occupancy(db, unit)["used"] > 0
    _n, dna = service.search_specimens(db, service.SpecimenFilter(type="DNA"), limit=1)
    history = service.specimen_history(db, dna[0]["barcode"])
    assert [a["type"] for a in history["ancestors"]] == ["BUF", "BLD"]
    reserved, _ = service.search_specimens(db, service.SpecimenFilter(status="reserved"), limit=1)
    assert reserved == 12
    first = service.get_specimen(db, "LB0000000015")
    assert first["type"] == "BLD" and first["status"] == "consumed"
    events = ledger.verify(db).checked
    demo.load_demo(db, quiet)
    assert ledger.verify(db).checked == events
