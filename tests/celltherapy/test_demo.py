"""The demo: three CAR-T orders at different steps and one cord-blood unit released to a transplant centre;
loading twice changes nothing."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date

import pytest

from lifebank.biobank import service as biobank
from lifebank.celltherapy import demo, service
from lifebank.config import get_settings
from lifebank.hla import service as hla


@contextmanager
def _progress(description: str, total: int | None, unit: str):
    yield lambda n: None


@pytest.fixture
def demo_world(db, monkeypatch):
    monkeypatch.setenv("LIFEBANK_SECRET_KEY", "demo-test-secret-0123456789")
    get_settings.cache_clear()
    for code in ("P000101", "P000102", "P000103", "P000104"):
        biobank.register_participant_with_consent(db, code, sex="F", birth_year=1970, site="SH",
                                                  duo_codes=["DUO:0000042"], consent_date=date(2025, 1, 1), actor="t")
    header = "DonorId,DonorType,A_1,A_2,B_1,B_2,C_1,C_2,DPB1_1,DPB1_2,DQB1_1,DQB1_2,DRB1_1,DRB1_2"
    hla.import_donors(db, f"{header}\n{demo.CORD_UNIT},cord,*01:01,*02:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,"
                          "NULL,*03:01,*15:01\n", actor="t")
    yield db
    get_settings.cache_clear()


def test_demo_orders_are_at_their_steps_and_loading_twice_changes_nothing(demo_world) -> None:
    db = demo_world
    demo.load_demo(db, _progress)
    demo.load_demo(db, _progress)
    orders = sorted(service.list_orders(db)["items"], key=lambda o: o["id"])
    assert [(o["participant"], o["product"], o["next_step"]) for o in orders] == [
        ("P000101", "car-t", "packaging"), ("P000102", "car-t", "qc-release"),
        ("P000103", "car-t", "bedside-verification"), ("P000104", "hpc-cord", "thaw")]
    excursion = service.chain_view(db, orders[1]["coi"])
    assert excursion["traces"][0]["excursions"][0]["minutes"] == 20.0
    assert excursion["steps"][3]["values"]["deviation"].startswith("DEV-2026-044")
    cord = service.fhir_product(db, orders[3]["coi"])
    assert cord["productCode"]["coding"][0]["code"] == "X0004"
    assert len(service.list_product_codes(db)) == 4
