"""The demo's cell-therapy chain: three autologous CAR-T orders at different steps and one cord-blood unit
released to a transplant centre.

Idempotent (nothing happens once an order exists) and deterministic. Uses demo participants of the biobank
(P000101-P000104, consent in force) and the HLA registry's first demo cord unit; signatures are those of the
demo users `tech`, `clinician` and `manager`, made directly (the demo loader is trusted; a real signature always
re-enters a password through `service.sign`).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from lifebank.celltherapy import service
from lifebank.celltherapy.chain import RECEIPTS, STEPS, rule_of
from lifebank.celltherapy.models import Order
from lifebank.celltherapy.products import PRODUCTS
from lifebank.celltherapy.signatures import SignedBy
from lifebank.db.base import utcnow
from lifebank.db.engine import Database

ACTOR = "manager"
CODES = Path(__file__).parent / "data" / "demo_product_codes.csv"
CORD_UNIT = "DEMO-C000001"
# The cell-therapy facility's own LN2 tank in the bank: one rack, one 10 x 10 cryobox (types made if missing).
TANK, RACK, BOX = "CT-LN2-01", "R1", "CT-BOX-01"
TYPES = {"Cell-therapy LN2 tank": {"kind": "tank"}, "Cell-therapy rack": {"kind": "rack"},
         "Cell-therapy cryobox 10x10": {"kind": "box", "rows": 10, "columns": 10, "scheme": "letter-number"}}
DAY0 = date(2026, 11, 2)

CAR_T: dict[str, dict[str, str]] = {
    "collection": {"volume_ml": "245", "tnc_e9": "11.8", "cd3_e9": "4.6"},
    "packaging": {"bags": "1", "product_code": "X0001"},
    "shipment-to-manufacturing": {"courier": "Shanghai ColdChain Express", "logger_id": "TT-4471"},
    "receipt-at-manufacturing": {"condition": "intact"},
    "manufacturing": {"batch_record": "BR-2026-118", "activation": "2026-11-03", "vector_lot": "LV-CD19-0925",
                      "transduction": "2026-11-04", "expansion_days": "9"},
    "qc-release": {"sterility": "negative", "mycoplasma": "negative", "endotoxin": "0.8", "viability": "91",
                   "cd3_percent": "97.5", "car_percent": "38", "potency": "1240"},
    "cryopreservation": {"bags": "2", "product_code": "X0002", "storage_location": "", "freezer_run": "CRF-2026-311",
                         "volume_ml": "68", "cells_e6": "310"},
    "shipment-to-centre": {"courier": "Shanghai ColdChain Express", "logger_id": "DS-0192"},
    "receipt-at-centre": {"condition": "intact"},
    "thaw": {"thaw_minutes": "3"},
}
CORD = dict(CAR_T, **{
    "collection": {"volume_ml": "112", "tnc_e9": "1.7"},
    "packaging": {"bags": "1", "product_code": "X0003"},
    "manufacturing": {"batch_record": "CB-2026-031", "processing_method": "volume-reduction"},
    "qc-release": {"sterility": "negative", "mycoplasma": "negative", "endotoxin": "0.3", "viability": "89",
                   "cd34_e6": "5.2", "potency": "41"},
    "cryopreservation": {"bags": "1", "product_code": "X0004", "storage_location": "", "freezer_run": "CRF-2026-120",
                         "volume_ml": "24.5"},
})


def _trace(leg: str, product: str, warm_minutes: int = 0) -> str:
    """A logger trace at one reading every 5 minutes over 6 hours, optionally with an excursion."""
    fresh = product == "car-t"
    base = (5.0 if fresh else 21.0) if leg == "to-manufacturing" else -182.0
    start = utcnow().replace(second=0, microsecond=0) - timedelta(hours=8)
    rows = ["time,temperature_c"]
    for i in range(72):
        value = base + (i % 5) * 0.3
        if warm_minutes and 30 <= i * 5 < 30 + warm_minutes:
            value = 10.5 if fresh else value
        rows.append(f"{(start + timedelta(minutes=5 * i)).isoformat()},{value:.1f}")
    return "\n".join(rows) + "\n"


def _walk(db: Database, order: dict[str, Any], table: dict[str, dict[str, str]], until: str,
          warm_minutes: int = 0) -> None:
    product = PRODUCTS[order["product"]]
    for step in STEPS:
        if step == until:
            return
        if step in RECEIPTS:
            leg = RECEIPTS[step]
            found = service.import_trace(db, order["coi"], leg,
                                         _trace(leg, order["product"], warm_minutes if leg == "to-manufacturing"
                                                else 0), actor="tech")
            values = dict(table[step], **({"deviation": "DEV-2026-044: 20 min above 8 °C, "
                                                        "QA assessed no impact"} if found["excursions"] else {}))
        else:
            values = dict(table[step])
        if step == "cryopreservation":
            values["storage_location"] = _next_places(db)
        if step == "thaw":
            bags = [b for b in service.chain_view(db, order["coi"])["bags"] if b["kind"] == "product"]
            values["bag"] = bags[0]["bag"]
        signers = [SignedBy(name, utcnow()) for name in ("tech", "clinician")[: len(rule_of(step, product).meanings)]]
        service.record_step(db, order["coi"], step, values, signers, actor=signers[0].username)


def _ln2_box(db: Database) -> None:
    """The facility's LN2 tank, rack and cryobox in the biobank (`TANK/RACK/BOX`), where the demo's bags go."""
    from lifebank.biobank import service as biobank

    known = {t["name"] for t in biobank.list_container_types(db)}
    for name, shape in TYPES.items():
        if name not in known:
            biobank.define_container_type(db, name, actor=ACTOR, **shape)
    biobank.create_container(db, TANK, type_name="Cell-therapy LN2 tank", temperature_class="LN2", actor=ACTOR)
    biobank.create_container(db, RACK, type_name="Cell-therapy rack", parent_path=TANK, actor=ACTOR)
    biobank.create_container(db, BOX, type_name="Cell-therapy cryobox 10x10", parent_path=f"{TANK}/{RACK}",
                             actor=ACTOR)


def _next_places(db: Database) -> str:
    """The first free position of the demo's cryobox (filled from A1 on: the positions after it are free too)."""
    from lifebank.biobank import service as biobank

    box = biobank.box_map(db, f"{TANK}/{RACK}/{BOX}")
    free = next(c["label"] for c in box["cells"] if c["specimen"] is None)
    return f"{TANK}/{RACK}/{BOX}/{free}"


def _date_of_birth(db: Database, participant: str, fallback: str) -> str:
    """A date of birth in the participant's birth year as the biobank knows it (month and day made up)."""
    from lifebank.biobank import service as biobank

    year = biobank.participant_view(db, participant).get("birth_year")
    return f"{year}{fallback[4:]}" if year else fallback


def load_demo(db: Database, progress_bar: Any) -> None:
    with db.session() as session:
        if (session.scalar(select(func.count()).select_from(Order)) or 0) > 0:
            return
    service.load_product_codes(db, CODES.read_text(), actor=ACTOR)
    _ln2_box(db)
    for offset in range(0, 28, 7):
        service.define_slot(db, DAY0 + timedelta(days=offset), 2, actor=ACTOR)
    with progress_bar("Cell-therapy chains", 4, "orders") as advance:
        plans = [("P000101", "2026-11-16", "packaging", 0, "1968-03-14"),
                 ("P000102", "2026-11-09", "qc-release", 20, "1975-09-02"),
                 ("P000103", "2026-11-02", "bedside-verification", 0, "1981-12-25")]
        for participant, day, until, warm, dob in plans:
            dob = _date_of_birth(db, participant, dob)
            order = service.create_order(db, participant=participant, product="car-t",
                                         centre="Ruijin Hospital, Shanghai", identity_kind="dob",
                                         identity_value=dob, actor="clinician")
            service.book_apheresis(db, order["coi"], date.fromisoformat(day), actor="clinician")
            _walk(db, order, CAR_T, until, warm)
            advance(1)
        cord = service.create_order(db, participant="P000104", product="hpc-cord", cord_unit=CORD_UNIT,
                                    centre="Shanghai Children's Medical Center (transplant)", identity_kind="mrn",
                                    identity_value="SCMC-2026-0831", actor="clinician")
        _walk(db, cord, CORD, "thaw")
        advance(1)
