from __future__ import annotations

import threading
from datetime import date

import pytest

from lifebank import biobank
from lifebank.audit import service as ledger
from lifebank.biobank import imports, service
from lifebank.errors import Conflict, NotFound, ValidationFailed

from .biobank_fixtures import ACTOR, participants_csv


def test_register_specimen_at_a_position_and_read_it_back(bank):
    service.register_specimen(bank, "S1", participant="P000001", type="PL1", quantity=1.5, unit="ml",
                              sprec="SER-SST-A-D-N-B-A", location="FRZ-01/R01/BOX-1/A1", actor=ACTOR)
    view = service.get_specimen(bank, "S1")
    assert view["participant"] == "P000001"
    assert view["unit"] == "mL"
    assert view["location"] == "FRZ-01/R01/BOX-1/A1"
    assert view["lineage"] == "primary"
    assert view["status"] == "available"


def test_one_specimen_per_position_is_enforced(bank):
    service.register_specimen(bank, "S1", participant="P000001", type="PL1", quantity=1, location="FRZ-01/R01/BOX-1/B2",
                              actor=ACTOR)
    with pytest.raises(Conflict, match="occupied"):
        service.register_specimen(bank, "S2", participant="P000001", type="PL1", quantity=1,
                                  location="FRZ-01/R01/BOX-1/B2", actor=ACTOR)
    service.register_specimen(bank, "S3", participant="P000001", type="PL1", quantity=1, actor=ACTOR)
    with pytest.raises(Conflict, match="occupied"):
        service.move_specimen(bank, "S3", "FRZ-01/R01/BOX-1/B2", actor=ACTOR)


def test_wrong_unit_bad_sprec_and_bad_position_are_rejected(bank):
    with pytest.raises(ValidationFailed, match="unit 'mL' is wrong for DNA"):
        service.register_specimen(bank, None, participant="P000001", type="DNA", quantity=1, unit="mL", actor=ACTOR)
    with pytest.raises(ValidationFailed, match="XYZ"):
        service.register_specimen(bank, None, participant="P000001", type="SER", quantity=1,
                                  sprec="SER-XYZ-A-D-N-B-A", actor=ACTOR)
    with pytest.raises(ValidationFailed, match="J1"):
        service.register_specimen(bank, None, participant="P000001", type="SER", quantity=1,
                                  location="FRZ-01/R01/BOX-1/J1", actor=ACTOR)


def test_aliquots_and_derivatives_form_a_lineage(bank):
    service.register_specimen(bank, "B1", participant="P000001", type="BLD", quantity=10, actor=ACTOR)
    aliquots = service.split_specimen(bank, "B1", count=2, quantity=2.0, actor=ACTOR)
    dna = service.split_specimen(bank, aliquots[0], count=1, quantity=25.0, type="DNA", actor=ACTOR)
    assert service.get_specimen(bank, "B1")["quantity"] == 6.0
    child = service.get_specimen(bank, dna[0])
    assert (child["lineage"], child["parent"], child["unit"], child["participant"]) == \
        ("derivative", aliquots[0], "µg", "P000001")
    history = service.specimen_history(bank, dna[0])
    assert [a["barcode"] for a in history["ancestors"]] == [aliquots[0], "B1"]
    tree = service.specimen_history(bank, "B1")["descendants"]
    assert [n["barcode"] for n in tree] == aliquots
    assert tree[0]["children"][0]["barcode"] == dna[0]
    with pytest.raises(ValidationFailed, match="cannot be derived"):
        service.split_specimen(bank, dna[0], count=1, quantity=1, type="SER", actor=ACTOR)


def test_pool_of_several_parents(bank):
    service.register_specimen(bank, "A", participant="P000001", type="SER", quantity=1, actor=ACTOR)
    service.register_specimen(bank, "B", participant="P000002", type="SER", quantity=1, actor=ACTOR)
    service.register_specimen(bank, "POOL", participant=None, type="SER", quantity=2, parents=["A", "B"],
                              actor=ACTOR)
    view = service.get_specimen(bank, "POOL")
    assert (view["lineage"], view["participant"]) == ("pool", None)
    assert {a["barcode"] for a in service.specimen_history(bank, "POOL")["ancestors"]} == {"A", "B"}


def test_withdrawn_consent_blocks_distribution(bank):
    service.register_specimen(bank, "S1", participant="P000001", type="SER", quantity=1, actor=ACTOR)
    service.register_specimen(bank, "S2", participant="P000001", type="SER", quantity=1, actor=ACTOR)
    before = ledger.verify(bank).checked
    assert service.withdraw_consent(bank, "P000001", reason="asked", actor=ACTOR) == 2
    assert service.get_specimen(bank, "S1")["distributable"] is False
    with pytest.raises(Conflict, match="not distributable"):
        service.change_status(bank, "S1", "distributed", actor=ACTOR)
    with pytest.raises(Conflict, match="consent withdrawn"):
        service.reserve_specimens(bank, ["S2"], purpose="study", actor=ACTOR)
    with pytest.raises(ValidationFailed, match="no consent in force"):
        service.register_specimen(bank, "S3", participant="P000001", type="SER", quantity=1, actor=ACTOR)
    _total, events = ledger.list_events(bank, entity_type="participant", entity_id="P000001")
    assert events[0].action == "consent.withdraw"
    assert ledger.verify(bank).checked == before + 1
    assert biobank.participants_matching(bank, consent_code="DUO:0000042") == set()


def test_check_out_and_in_counts_freeze_thaw(bank):
    service.register_specimen(bank, "S1", participant="P000001", type="SER", quantity=1, actor=ACTOR)
    service.change_status(bank, "S1", "in_use", actor=ACTOR)
    service.change_status(bank, "S1", "available", actor=ACTOR)
    assert service.get_specimen(bank, "S1")["freeze_thaw"] == 1
    kinds = [e["kind"] for e in service.specimen_history(bank, "S1")["events"]]
    assert kinds == ["registered", "checked_out", "checked_in"]


def test_auto_placement_respects_temperature_and_contiguity(bank):
    for i in range(3):
        service.register_specimen(bank, f"P{i}", participant="P000001", type="PL1", quantity=1, actor=ACTOR)
    service.register_specimen(bank, "C1", participant="P000001", type="CEL", quantity=5, actor=ACTOR)
    service.move_specimen(bank, "P0", "FRZ-01/R01/BOX-1/A2", actor=ACTOR)
    placed = service.place_specimens(bank, ["P1", "P2"], actor=ACTOR)
    assert placed == {"P1": "FRZ-01/R01/BOX-1/A3", "P2": "FRZ-01/R01/BOX-1/A4"}
    assert service.place_specimens(bank, ["C1"], actor=ACTOR) == {"C1": "TANK-01/RL1/CB-1/1"}


def test_move_a_whole_box_and_its_contents_follow(bank):
    service.register_specimen(bank, "S1", participant="P000001", type="SER", quantity=1,
                              location="FRZ-01/R01/BOX-2/C3", actor=ACTOR)
    service.create_container(bank, "R02", type_name="Rack", parent_path="FRZ-01", actor=ACTOR)
    assert service.move_container(bank, "FRZ-01/R01/BOX-2", "FRZ-01/R02", actor=ACTOR) == "FRZ-01/R02/BOX-2"
    assert service.get_specimen(bank, "S1")["location"] == "FRZ-01/R02/BOX-2/C3"
    assert service.occupancy(bank, "FRZ-01")["children"] == [
        {"name": "R01", "kind": "rack", "path": "FRZ-01/R01", "used": 0, "capacity": 81},
        {"name": "R02", "kind": "rack", "path": "FRZ-01/R02", "used": 1, "capacity": 81},
    ]
    with pytest.raises(ValidationFailed, match="kept at −80 °C"):
        service.move_container(bank, "FRZ-01/R02/BOX-2", "TANK-01/RL1", actor=ACTOR)
    with pytest.raises(ValidationFailed, match="cannot hold"):
        service.create_container(bank, "X", type_name="Rack", parent_path="FRZ-01/R02/BOX-2", actor=ACTOR)


def test_box_map_lists_every_position(bank):
    service.register_specimen(bank, "S1", participant="P000001", type="SER", quantity=1,
                              location="FRZ-01/R01/BOX-1/I9", actor=ACTOR)
    grid = service.box_map(bank, "FRZ-01/R01/BOX-1")
    assert (grid["rows"], grid["columns"], grid["used"], len(grid["cells"])) == (9, 9, 1, 81)
    assert grid["cells"][80] == {"index": 80, "label": "I9", "specimen": {
        "barcode": "S1", "type": "SER", "status": "available", "distributable": True}}


def test_search_by_consent_and_container(bank):
    service.register_specimen(bank, "S1", participant="P000001", type="PL1", quantity=1,
                              location="FRZ-01/R01/BOX-1/A1", actor=ACTOR)
    service.register_specimen(bank, "S2", participant="P000002", type="PL1", quantity=1,
                              location="FRZ-01/R01/BOX-1/A2", actor=ACTOR)
    service.register_specimen(bank, "S3", participant="P000001", type="PL1", quantity=1, actor=ACTOR)
    total, items = service.search_specimens(bank, service.SpecimenFilter(type="PL1", consent="DUO:0000042",
                                                                          container="FRZ-01"))
    assert (total, [i["barcode"] for i in items]) == (1, ["S1"])


def test_consent_search_follows_withdrawal_and_new_versions(bank):
    imports.import_participants(bank, participants_csv(1, start=3), actor=ACTOR)  # P000003: DUO:0000042
    for n, code in enumerate(("P000001", "P000002", "P000003")):
        service.register_specimen(bank, f"S{n}", participant=code, type="PL1", quantity=1,
                                  location=f"FRZ-01/R01/BOX-1/A{n + 1}", actor=ACTOR)
    flt = service.SpecimenFilter(type="PL1", status="available", consent="DUO:0000042", container="FRZ-01")

    def found() -> tuple[int | None, list[str]]:
        total, items = service.search_specimens(bank, flt)
        return total, [i["barcode"] for i in items]

    assert found() == (2, ["S0", "S2"])
    service.withdraw_consent(bank, "P000003", reason="asked", actor=ACTOR)
    assert found() == (1, ["S0"])
    service.record_consent(bank, "P000002", duo_codes="DUO:0000042", consent_date=date(2025, 1, 2), actor=ACTOR)
    assert found() == (2, ["S0", "S1"])
    service.withdraw_consent(bank, "P000002", actor=ACTOR)  # every version, the new one included
    assert found() == (1, ["S0"])


def test_cross_domain_interface(bank):
    service.register_specimen(bank, "S1", participant="P000001", type="PL1", quantity=1.5, actor=ACTOR)
    service.register_specimen(bank, "S2", participant="P000002", type="DNA", quantity=10, actor=ACTOR)
    assert biobank.existing_participants(bank, ["P000001", "NOPE"]) == {"P000001"}
    assert biobank.specimen_participants(bank, ["S1", "S2", "S9"]) == {"S1": "P000001", "S2": "P000002"}
    assert biobank.participants_matching(bank, consent_code="DUO:0000006") == {"P000002"}
    assert biobank.participants_matching(bank, sex="F", site="SH") == {"P000001"}
    assert biobank.participants_with_specimens(bank, specimen_type="PL1", min_quantity=1.0) == {"P000001"}
    assert biobank.participants_with_specimens(bank, specimen_type="PL1", min_quantity=2.0) == set()
    assert biobank.list_participant_codes(bank, 1) == ["P000001"]
    # `among` narrows to candidates a cohort already chose (unknown codes simply do not match)
    assert biobank.participants_matching(bank, consent_code="DUO:0000006", among={"P000001", "NOPE"}) == set()
    assert biobank.participants_matching(bank, among={"P000002", "NOPE"}) == {"P000002"}
    assert biobank.participants_with_specimens(bank, specimen_type="DNA", among={"P000002"}) == {"P000002"}
    assert biobank.participants_with_specimens(bank, among={"P000001", "P000002"}) == {"P000001", "P000002"}
    assert biobank.participants_with_specimens(bank, among=set()) == set()


def test_unknown_things_are_not_found(bank):
    with pytest.raises(NotFound):
        service.get_specimen(bank, "NOPE")
    with pytest.raises(NotFound):
        service.register_specimen(bank, None, participant="P9", type="SER", quantity=1, actor=ACTOR)


def test_two_concurrent_reservers_exactly_one_wins(bank):
    service.register_specimen(bank, "S1", participant="P000001", type="SER", quantity=1, actor=ACTOR)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def reserve(who: str) -> None:
        barrier.wait()
        try:
            service.reserve_specimens(bank, ["S1"], purpose=f"study of {who}", actor=who)
            outcomes.append("won")
        except Conflict:
            outcomes.append("lost")

    threads = [threading.Thread(target=reserve, args=(name,)) for name in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["lost", "won"]
    assert len(service.specimen_history(bank, "S1")["reservations"]) == 1


def test_two_concurrent_moves_into_one_position_exactly_one_wins(bank):
    for barcode in ("T1", "T2"):
        service.register_specimen(bank, barcode, participant="P000001", type="SER", quantity=1, actor=ACTOR)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def move(barcode: str) -> None:
        barrier.wait()
        try:
            service.move_specimen(bank, barcode, "FRZ-01/R01/BOX-2/E5", actor=ACTOR)
            outcomes.append("won")
        except Conflict:
            outcomes.append("lost")

    threads = [threading.Thread(target=move, args=(b,)) for b in ("T1", "T2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["lost", "won"]
    grid = service.box_map(bank, "FRZ-01/R01/BOX-2")
    assert grid["used"] == 1
