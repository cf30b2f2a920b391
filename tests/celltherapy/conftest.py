"""Cell-therapy fixtures: a consenting patient, the product-code table, and a helper that walks an order
through its chain with valid values (signatures made directly; `test_signatures.py` covers passwords)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from lifebank.biobank import service as biobank
from lifebank.celltherapy import service
from lifebank.celltherapy.chain import RECEIPTS, STEPS, rule_of
from lifebank.celltherapy.products import PRODUCTS
from lifebank.celltherapy.signatures import SignedBy
from lifebank.config import Settings
from lifebank.db.base import utcnow
from lifebank.db.engine import Database

from .chain_values import CAR_T, HPC_CORD, PRODUCT_CODES_CSV, add_ln2_storage

DOB = "1970-05-04"
GOOD_TRACE = {
    "to-manufacturing": "time,temperature_c\n2026-01-01T08:00:00Z,4.0\n2026-01-01T09:00:00Z,5.0\n",
    "to-centre": "time,temperature_c\n2026-01-01T08:00:00Z,-180\n2026-01-01T09:00:00Z,-178\n",
}
CORD_TRACE = "time,temperature_c\n2026-01-01T08:00:00Z,20.0\n2026-01-01T09:00:00Z,21.0\n"
WARM_TRACE = "time,temperature_c\n2026-01-01T08:00:00Z,4.0\n2026-01-01T08:30:00Z,12.0\n2026-01-01T09:15:00Z,5.0\n"


@dataclass
class Chain:
    db: Database
    settings: Settings
    stored: int = 0  # product bags placed so far: the next order's bags take the next free LN2 positions

    def order(self, participant: str = "P1", product: str = "car-t", **kw) -> dict:
        defaults = {"identity_kind": "dob", "identity_value": DOB, "centre": "Ruijin Hospital", "actor": "doc"}
        return service.create_order(self.db, participant=participant, product=product, settings=self.settings,
                                    **{**defaults, **kw})

    def values(self, order: dict, step: str) -> dict:
        table = CAR_T if order["product"] == "car-t" else HPC_CORD
        values = dict(table[step])
        if "bag" in values:
            bags = [b for b in service.chain_view(self.db, order["coi"])["bags"] if b["kind"] == "product"]
            values["bag"] = bags[0]["bag"]
        if "wristband_code" in values:
            values["wristband_code"] = order["participant"]
        if step == "cryopreservation":
            box, index = divmod(self.stored, 100)
            values["storage_location"] = f"LN2-01/R1/BOX-{box + 1}/{'ABCDEFGHIJ'[index // 10]}{index % 10 + 1}"
        return values

    def step(self, order: dict, step: str, values: dict | None = None, signers: list[str] | None = None) -> dict:
        meanings = rule_of(step, PRODUCTS[order["product"]]).meanings
        names = signers or ["tech1", "nurse2"][: len(meanings)]
        done = service.record_step(self.db, order["coi"], step, self.values(order, step) if values is None else values,
                                   [SignedBy(n, utcnow()) for n in names], actor=names[0], settings=self.settings)
        self.stored += len(done["values"].get("specimens", []))
        return done

    def run(self, order: dict, until: str | None = None) -> None:
        """Record every step before `until` (all of them when None), importing good traces before receipts."""
        for step in STEPS:
            if step == until:
                return
            if step in RECEIPTS:
                leg = RECEIPTS[step]
                trace = CORD_TRACE if (order["product"], leg) == ("hpc-cord", "to-manufacturing") else GOOD_TRACE[leg]
                service.import_trace(self.db, order["coi"], leg, trace, actor="tech1")
            self.step(order, step)


@pytest.fixture
def chain(db: Database, settings: Settings) -> Chain:
    biobank.register_participant_with_consent(db, "P1", sex="F", birth_year=1970, site="SH",
                                              duo_codes=["DUO:0000042"], consent_date=date(2025, 1, 1), actor="t")
    biobank.register_participant_with_consent(db, "P2", sex="M", birth_year=1980, site="SH",
                                              duo_codes=["DUO:0000042"], consent_date=date(2025, 1, 1), actor="t")
    service.load_product_codes(db, PRODUCT_CODES_CSV, actor="admin")
    add_ln2_storage(db)
    return Chain(db, settings)
