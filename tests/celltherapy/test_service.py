"""The chain through the service layer, on SQLite and PostgreSQL: the whole path and every bad input."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select, text

from lifebank.audit import service as ledger
from lifebank.audit.models import LedgerEvent
from lifebank.biobank import service as biobank
from lifebank.celltherapy import service
from lifebank.celltherapy.chain import STEPS, StepRefused
from lifebank.celltherapy.isbt128 import parse_din
from lifebank.errors import Conflict, LifeBankError, NotFound, ValidationFailed

from .conftest import DOB, GOOD_TRACE, WARM_TRACE


def _refusals(db, coi: str) -> list[dict]:
    with db.session() as session:
        events = session.scalars(select(LedgerEvent).where(LedgerEvent.entity_id == coi,
                                                           LedgerEvent.action.like("%refused")))
        seqs = [e.seq for e in events]
        rows = session.execute(text("SELECT change_json FROM ledger_change WHERE seq IN :s")
                               .bindparams(__import__("sqlalchemy").bindparam("s", expanding=True)),
                               {"s": seqs or [-1]}).scalars()
        return [json.loads(r) for r in rows]


def _steps(db, coi: str) -> int:
    return service.get_order(db, coi)["steps_done"]


def test_full_chain_closes_at_infusion_with_every_signature(chain) -> None:
    order = chain.order()
    assert parse_din(order["coi"]).text == order["coi"]  # the COI is a valid ISBT 128 DIN
    chain.run(order)
    view = service.chain_view(chain.db, order["coi"])
    assert [s["step"] for s in view["steps"]] == list(STEPS) and view["closed"]
    bedside = view["steps"][10]
    assert [s["meaning"] for s in bedside["signatures"]] == ["verified", "second verification"]
    assert bedside["values"]["wristband_dob"] == "matched"  # the identifier itself is never stored
    assert {b["status"] for b in view["bags"]} == {"consumed", "infused", "stored"}
    assert all(b["din"] == order["coi"] for b in view["bags"])  # every bag carries the COI
    assert [b["product_code"][5:] for b in view["bags"] if b["kind"] == "product"] == ["0A0", "0B0"]
    with chain.db.session() as session:
        stored = session.execute(text("SELECT identity FROM ct_order")).scalar_one()
    assert DOB not in stored and stored.startswith("v1:")  # encrypted at rest
    # on PostgreSQL a step's claim moves the ledger head and its rows share the event's statement: chain intact
    assert ledger.verify(chain.db).ok


def test_step_out_of_order_and_missing_values_are_refused_and_ledgered(chain) -> None:
    order = chain.order()
    with pytest.raises(StepRefused, match="out of order: the next step is collection"):
        chain.step(order, "packaging")
    with pytest.raises(StepRefused, match="step collection needs cd3_e9"):
        chain.step(order, "collection", {"volume_ml": "200", "tnc_e9": "3"})
    assert _steps(chain.db, order["coi"]) == 0
    assert [r["reason"] for r in _refusals(chain.db, order["coi"])] == ["out_of_order", "missing_fields"]


def test_wrong_bag_at_bedside_is_refused_and_the_right_one_accepted(chain) -> None:
    other = chain.order("P2")
    chain.run(other, until="bedside-verification")
    order = chain.order()
    chain.run(order, until="bedside-verification")
    wrong = chain.values(other, "bedside-verification")["bag"]
    values = chain.values(order, "bedside-verification")
    with pytest.raises(StepRefused, match="WRONG BAG") as refused:
        chain.step(order, "bedside-verification", dict(values, bag=wrong))
    assert refused.value.reason == "wrong_bag"
    with pytest.raises(StepRefused, match="WRONG PATIENT"):
        chain.step(order, "bedside-verification", dict(values, wristband_dob="1971-05-04"))
    with pytest.raises(StepRefused, match="WRONG PATIENT"):
        chain.step(order, "bedside-verification", dict(values, wristband_code="P2"))
    assert _steps(chain.db, order["coi"]) == 10
    assert chain.step(order, "bedside-verification")["next_step"] == "infusion"
    assert [r["reason"] for r in _refusals(chain.db, order["coi"])] == ["wrong_bag", "wrong_patient", "wrong_patient"]


def test_a_mistyped_bag_check_character_is_refused(chain) -> None:
    order = chain.order()
    chain.run(order, until="thaw")
    bag = chain.values(order, "thaw")["bag"]  # 'A999926000001X X00020A0'
    din, code = bag.split()
    bad = din[:-1] + ("A" if din[-1] != "A" else "B")
    with pytest.raises(StepRefused, match="check character") as refused:
        chain.step(order, "thaw", {"bag": f"{bad} {code}", "thaw_minutes": "3"})
    assert refused.value.reason == "bad_scan"


def test_qc_out_of_specification_needs_a_documented_exception(chain) -> None:
    order = chain.order()
    chain.run(order, until="qc-release")
    failing = dict(chain.values(order, "qc-release"), endotoxin="9.5")
    with pytest.raises(StepRefused, match="endotoxin = 9.5"):
        chain.step(order, "qc-release", failing)
    result = chain.step(order, "qc-release", dict(failing, exception="DEV-2026-7: endotoxin retest approved by QP"))
    assert result["values"]["exception"].startswith("DEV-2026-7")
    assert [r["reason"] for r in _refusals(chain.db, order["coi"])] == ["qc_out_of_specification"]


def test_an_excursion_blocks_receipt_until_a_deviation_is_signed(chain) -> None:
    order = chain.order()
    chain.run(order, until="receipt-at-manufacturing")
    with pytest.raises(StepRefused, match="no logger trace"):
        chain.step(order, "receipt-at-manufacturing")
    trace = service.import_trace(chain.db, order["coi"], "to-manufacturing", WARM_TRACE, actor="tech1")
    assert trace["excursions"] == [{"start": "2026-01-01T08:30:00+00:00", "end": "2026-01-01T09:15:00+00:00",
                                    "minutes": 45.0, "extreme_c": 12.0}]
    with pytest.raises(StepRefused, match="1 temperature excursion") as refused:
        chain.step(order, "receipt-at-manufacturing")
    assert refused.value.reason == "excursion"
    done = chain.step(order, "receipt-at-manufacturing", {"condition": "intact", "deviation": "DEV-9 accepted"})
    assert done["values"]["excursions_acknowledged"] == 1
    assert [r["reason"] for r in _refusals(chain.db, order["coi"])] == ["no_trace", "excursion"]
    with pytest.raises(Conflict, match="already received"):
        service.import_trace(chain.db, order["coi"], "to-manufacturing", WARM_TRACE, actor="tech1")


def test_a_second_infusion_of_the_same_bag_is_refused(chain) -> None:
    order = chain.order()
    chain.run(order)
    with pytest.raises(StepRefused, match="already infused") as refused:
        chain.step(order, "infusion", {"bag": chain.values(order, "infusion")["bag"], "volume_ml": "68"})
    assert refused.value.reason == "already_infused"
    assert "already_infused" in [r["reason"] for r in _refusals(chain.db, order["coi"])]


def test_withdrawn_consent_blocks_the_order_and_the_collection(chain) -> None:
    order = chain.order("P2")
    biobank.withdraw_consent(chain.db, "P2", reason="changed mind", actor="t")
    with pytest.raises(ValidationFailed, match="no consent in force"):
        chain.order("P2")
    with pytest.raises(ValidationFailed, match="no consent in force"):
        chain.step(order, "collection")
    assert _steps(chain.db, order["coi"]) == 0
    assert [r["consent_status"] for r in _refusals(chain.db, order["coi"])] == ["withdrawn"]
    with pytest.raises(NotFound):
        chain.order("P404")


def test_two_users_completing_the_same_step_exactly_one_wins(chain) -> None:
    order = chain.order()
    results: list[object] = []
    barrier = threading.Barrier(2)

    def attempt(user: str) -> None:
        barrier.wait()
        try:
            results.append(chain.step(order, "collection", signers=[user]))
        except LifeBankError as exc:
            results.append(exc)

    threads = [threading.Thread(target=attempt, args=(u,)) for u in ("tech1", "tech2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wins = [r for r in results if isinstance(r, dict)]
    losses = [r for r in results if isinstance(r, LifeBankError)]
    assert len(wins) == 1 and len(losses) == 1
    assert "already recorded" in losses[0].detail or "just recorded" in losses[0].detail
    assert _steps(chain.db, order["coi"]) == 1
    assert len(service.chain_view(chain.db, order["coi"])["steps"]) == 1
    assert [r["reason"] for r in _refusals(chain.db, order["coi"])] in (["already_done"], ["concurrent"])


def test_slots_bound_the_apheresis_bookings(chain) -> None:
    from datetime import date

    first, second = chain.order(), chain.order("P2")
    with pytest.raises(NotFound, match="no manufacturing slot"):
        service.book_apheresis(chain.db, first["coi"], date(2026, 12, 7), actor="m")
    service.define_slot(chain.db, date(2026, 12, 7), 1, actor="m")
    assert service.book_apheresis(chain.db, first["coi"], date(2026, 12, 7), actor="m")["apheresis_date"] == \
        "2026-12-07"
    with pytest.raises(Conflict, match="full"):
        service.book_apheresis(chain.db, second["coi"], date(2026, 12, 7), actor="m")
    chain.step(first, "collection")
    timeline = service.chain_view(chain.db, first["coi"])["timeline"]
    assert timeline[0]["planned"] == "2026-12-07" and timeline[0]["actual"]
    assert timeline[-1]["planned"] == "2026-12-28"


def test_cord_blood_order_names_a_cord_unit_of_the_registry(chain) -> None:
    from lifebank.hla import service as hla

    header = "DonorId,DonorType,A_1,A_2,B_1,B_2,C_1,C_2,DPB1_1,DPB1_2,DQB1_1,DQB1_2,DRB1_1,DRB1_2"
    typing = "*01:01,*02:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01"
    hla.import_donors(chain.db, f"{header}\nCBU1,cord,{typing}\nAD1,adult,{typing}\n", actor="t")
    with pytest.raises(ValidationFailed, match="needs the cord unit"):
        chain.order(product="hpc-cord")
    order = chain.order(product="hpc-cord", cord_unit="CBU1", identity_kind="mrn", identity_value="mrn-0042")
    chain.run(order, until="shipment-to-centre")
    fhir = service.fhir_product(chain.db, order["coi"])
    assert fhir["resourceType"] == "BiologicallyDerivedProduct" and fhir["productCategory"] == "cells"
    assert fhir["identifier"][0]["value"] == order["coi"] and fhir["productCode"]["coding"][0]["code"] == "X0004"
    with pytest.raises(ValidationFailed, match="not a cord-blood unit"):
        chain.order(product="hpc-cord", cord_unit="AD1")


def test_cryopreservation_registers_each_bag_as_a_biobank_specimen_at_its_ln2_position(chain) -> None:
    order = chain.order()
    chain.run(order, until="cryopreservation")
    values = dict(chain.values(order, "cryopreservation"), storage_location="LN2-01/R1/BOX-1/C9")
    done = chain.step(order, "cryopreservation", values)["values"]
    coi = order["coi"]
    assert done["specimens"] == [f"{coi}-X00020A0", f"{coi}-X00020B0"]
    assert done["positions"] == ["LN2-01/R1/BOX-1/C9", "LN2-01/R1/BOX-1/C10"]
    first = biobank.get_specimen(chain.db, f"{coi}-X00020A0")
    assert (first["participant"], first["type"], first["quantity"], first["unit"], first["status"]) == \
        ("P1", "CEL", 250.0, "10^6 cells", "available")
    assert first["location"] == "LN2-01/R1/BOX-1/C9" and first["collected_at"] is not None
    assert f"COI {coi}" in first["notes"] and "X00020A0" in first["notes"] and "CRF-1" in first["notes"]
    history = biobank.specimen_history(chain.db, f"{coi}-X00020B0")
    assert [(e["kind"], e["detail"], e["actor"]) for e in history["events"]] == \
        [("registered", "LN2-01/R1/BOX-1/C10", "tech1")]
    assert [e["action"] for e in history["ledger"]] == ["specimen.register"]
    with chain.db.session() as session:
        change = session.execute(text("SELECT change_json FROM ledger_change WHERE seq = :s"),
                                 {"s": history["ledger"][0]["seq"]}).scalar_one()
        step_seq = session.scalar(select(LedgerEvent.seq).where(LedgerEvent.entity_id == coi,
                                                                LedgerEvent.action == "celltherapy.step")
                                  .order_by(LedgerEvent.seq.desc()).limit(1))
    assert json.loads(change)["origin"] == {"bag": done["bags_made"][1], "celltherapy_order": coi,
                                            "step": "cryopreservation"}
    assert step_seq == history["ledger"][0]["seq"] + 1  # the bank's events and the step's: one transaction
    bags = {b["bag"]: b for b in service.chain_view(chain.db, coi)["bags"] if b["kind"] == "product"}
    assert [(b["specimen"], b["location"]) for b in bags.values()] == list(zip(done["specimens"], done["positions"],
                                                                              strict=True))


def test_the_shipment_to_the_centre_takes_the_bags_out_of_the_bank_in_its_transaction(chain) -> None:
    order = chain.order()
    chain.run(order, until="shipment-to-centre")
    coi = order["coi"]
    specimens = [f"{coi}-X00020A0", f"{coi}-X00020B0"]
    assert [biobank.get_specimen(chain.db, b)["status"] for b in specimens] == ["available", "available"]
    done = chain.step(order, "shipment-to-centre")
    assert done["values"]["specimens_shipped"] == specimens
    for barcode in specimens:
        specimen = biobank.get_specimen(chain.db, barcode)
        assert (specimen["status"], specimen["location"]) == ("distributed", None)  # its LN2 position is free
        history = biobank.specimen_history(chain.db, barcode)
        assert [(e["kind"], e["detail"]) for e in history["events"]][-1] == ("distributed", coi)
    with chain.db.session() as session:
        actions = list(session.scalars(select(LedgerEvent.action).where(LedgerEvent.entity_id == coi)
                                       .order_by(LedgerEvent.seq.desc()).limit(2)))
    assert actions == ["celltherapy.step", "specimen.distribute"]  # one transaction: the bank's event, then the step's
    service.import_trace(chain.db, coi, "to-centre", GOOD_TRACE["to-centre"], actor="tech1")
    for step in STEPS[8:]:  # receipt, thaw, bedside check and infusion of a bag that left the bank
        chain.step(order, step)
    assert service.chain_view(chain.db, coi)["closed"]


def test_a_bag_the_bank_no_longer_holds_stops_the_shipment_and_nothing_leaves(chain) -> None:
    order = chain.order()
    chain.run(order, until="shipment-to-centre")
    coi = order["coi"]
    biobank.check_out(chain.db, f"{coi}-X00020B0", actor="t")  # someone took the second bag out of the tank
    with pytest.raises(StepRefused, match=f"release the product bags: .*{coi}-X00020B0") as refused:
        chain.step(order, "shipment-to-centre")
    assert refused.value.reason == "biobank_refused" and _steps(chain.db, coi) == 7
    assert [r["reason"] for r in _refusals(chain.db, coi)] == ["biobank_refused"]
    assert biobank.get_specimen(chain.db, f"{coi}-X00020A0")["status"] == "available"  # the first bag rolled back


def test_a_cord_blood_bag_is_registered_by_volume(chain) -> None:
    from lifebank.hla import service as hla

    header = "DonorId,DonorType,A_1,A_2,B_1,B_2,C_1,C_2,DPB1_1,DPB1_2,DQB1_1,DQB1_2,DRB1_1,DRB1_2"
    typing = "*01:01,*02:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01"
    hla.import_donors(chain.db, f"{header}\nCBU1,cord,{typing}\n", actor="t")
    order = chain.order(product="hpc-cord", cord_unit="CBU1", identity_kind="mrn", identity_value="mrn-0042")
    chain.run(order, until="shipment-to-centre")
    specimen = biobank.get_specimen(chain.db, f"{order['coi']}-X0004000")
    assert (specimen["type"], specimen["quantity"], specimen["unit"]) == ("CRD", 25.0, "mL")


@pytest.mark.parametrize(("location", "reason", "message"), [
    ("FRZ-01/R1/BOX-1/A1", "not_ln2", "not in liquid nitrogen"),
    ("LN2-01/R1/BOX-1/J10", "box_full", r"has 1 position\(s\) from J10 on, not 2"),
    ("LN2-01/R9/BOX-1/A1", "bad_location", "does not exist"),
    ("LN2-01/R1/BOX-1/A2", "biobank_refused", "already occupied"),
])
def test_cryopreservation_into_a_wrong_place_writes_neither_bag_nor_specimen(chain, location, reason,
                                                                             message) -> None:
    biobank.register_specimen(chain.db, "TUBE-IN-A2", participant="P2", type="CEL", quantity=1,
                              location="LN2-01/R1/BOX-1/A2", actor="t")
    order = chain.order()
    chain.run(order, until="cryopreservation")
    values = dict(chain.values(order, "cryopreservation"), storage_location=location)
    with pytest.raises(StepRefused, match=message) as refused:
        chain.step(order, "cryopreservation", values)
    assert refused.value.reason == reason and _steps(chain.db, order["coi"]) == 6
    assert [r["reason"] for r in _refusals(chain.db, order["coi"])] == [reason]
    assert [b["kind"] for b in service.chain_view(chain.db, order["coi"])["bags"]] == ["starting"]
    with pytest.raises(NotFound):
        biobank.get_specimen(chain.db, f"{order['coi']}-X00020A0")  # the first bag's specimen rolled back too


def test_the_bank_refuses_the_bags_of_a_patient_whose_consent_was_withdrawn(chain) -> None:
    order = chain.order()
    chain.run(order, until="cryopreservation")
    biobank.withdraw_consent(chain.db, "P1", reason="patient request", actor="t")
    with pytest.raises(StepRefused, match="no consent in force") as refused:
        chain.step(order, "cryopreservation")
    assert refused.value.reason == "biobank_refused" and _steps(chain.db, order["coi"]) == 6


def test_a_bag_past_its_post_thaw_limit_is_not_infused(chain) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from lifebank.celltherapy.models import Container
    from lifebank.db.base import utcnow

    order = chain.order()
    chain.run(order, until="infusion")
    with chain.db.transaction() as session:
        session.execute(update(Container).where(Container.status == "thawed")
                        .values(expires_at=utcnow() - timedelta(minutes=5)))
    with pytest.raises(StepRefused, match="past its post-thaw limit") as refused:
        chain.step(order, "infusion")
    assert refused.value.reason == "expired" and _steps(chain.db, order["coi"]) == 11
