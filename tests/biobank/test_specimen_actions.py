"""A technician's actions on specimens through the service: check-out/in, discard, edit, bulk actions, labels,
and the list's filters, sorting and export rows - on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lifebank.audit import service as audit
from lifebank.biobank import label_printing, service, specimen_bulk
from lifebank.errors import Conflict, NotFound, ValidationFailed

from .biobank_fixtures import ACTOR


def _tube(db, barcode: str, location: str | None = None, type: str = "SER", participant: str = "P000001") -> None:
    service.register_specimen(db, barcode, participant=participant, type=type, quantity=1.0, location=location,
                              collected_at=datetime(2024, 3, 1, 8, tzinfo=UTC), actor=ACTOR)


def _actions(db, barcode: str) -> list[str]:
    _total, events = audit.list_events(db, entity_type="specimen", entity_id=barcode, limit=50)
    return [e.action for e in reversed(events)]


def test_check_out_and_in_counts_one_freeze_thaw_and_is_ledgered(bank):
    _tube(bank, "S1", "FRZ-01/R01/BOX-1/A1")
    assert service.check_out(bank, "S1", actor=ACTOR) == "in_use"
    assert service.get_specimen(bank, "S1")["location"] == "FRZ-01/R01/BOX-1/A1"  # its place is kept
    with pytest.raises(Conflict):
        service.check_out(bank, "S1", actor=ACTOR)
    assert service.check_in(bank, "S1", actor=ACTOR) == "available"
    assert service.get_specimen(bank, "S1")["freeze_thaw"] == 1
    with pytest.raises(Conflict, match="not checked out"):
        service.check_in(bank, "S1", actor=ACTOR)
    assert _actions(bank, "S1")[-2:] == ["specimen.checked_out", "specimen.checked_in"]


def test_discard_needs_a_reason_and_frees_the_position(bank):
    _tube(bank, "S1", "FRZ-01/R01/BOX-1/A1")
    with pytest.raises(ValidationFailed, match="reason is required"):
        service.discard_specimen(bank, "S1", reason="  ", actor=ACTOR)
    with pytest.raises(ValidationFailed, match="reason is required"):
        service.change_status(bank, "S1", "destroyed", actor=ACTOR)
    service.discard_specimen(bank, "S1", reason="tube cracked", actor=ACTOR)
    view = service.get_specimen(bank, "S1")
    assert (view["status"], view["location"]) == ("destroyed", None)
    _total, events = audit.list_events(bank, entity_id="S1", limit=1)
    assert events[0].action == "specimen.destroyed"
    assert service.specimen_history(bank, "S1")["events"][-1]["detail"] == "tube cracked"


def test_unknown_status_names_the_allowed_ones(bank):
    _tube(bank, "S1")
    with pytest.raises(ValidationFailed, match="allowed: available, reserved, in_use"):
        service.change_status(bank, "S1", "lost", actor=ACTOR)


def test_edit_records_old_and_new_values_and_skips_no_change(bank):
    _tube(bank, "S1")
    changes = service.edit_specimen(bank, "S1", quantity=0.5, sprec="SER-SST-A-D-N-B-A", notes="haemolysed",
                                    actor=ACTOR)
    assert changes["quantity"] == {"from": 1.0, "to": 0.5}
    assert changes["notes"] == {"from": None, "to": "haemolysed"}
    view = service.get_specimen(bank, "S1")
    assert (view["quantity"], view["sprec"], view["notes"]) == (0.5, "SER-SST-A-D-N-B-A", "haemolysed")
    assert service.edit_specimen(bank, "S1", quantity=0.5, actor=ACTOR) == {}
    assert _actions(bank, "S1").count("specimen.edit") == 1
    with pytest.raises(ValidationFailed, match="SPREC code"):
        service.edit_specimen(bank, "S1", sprec="nonsense", actor=ACTOR)


def test_bulk_move_takes_contiguous_free_positions_in_one_transaction(bank):
    _tube(bank, "S1")
    _tube(bank, "S2")
    _tube(bank, "S3")
    _tube(bank, "X1", "FRZ-01/R01/BOX-2/A2")  # A1 free, A2 taken: the run starts at A3
    plan = specimen_bulk.preview(bank, "move", ["S1", "S2", "S3"], {"box": "FRZ-01/R01/BOX-2"})
    assert plan.runnable
    assert [str(t.outcome) for t in plan.tubes] == ["moves to FRZ-01/R01/BOX-2/A3", "moves to FRZ-01/R01/BOX-2/A4",
                                                    "moves to FRZ-01/R01/BOX-2/A5"]
    assert service.get_specimen(bank, "S1")["location"] is None  # a preview writes nothing
    specimen_bulk.run(bank, "move", ["S1", "S2", "S3"], {"box": "FRZ-01/R01/BOX-2"}, actor=ACTOR)
    assert [service.get_specimen(bank, b)["location"] for b in ("S1", "S2", "S3")] == [
        "FRZ-01/R01/BOX-2/A3", "FRZ-01/R01/BOX-2/A4", "FRZ-01/R01/BOX-2/A5"]
    assert _actions(bank, "S3")[-1] == "specimen.move"


def test_bulk_action_with_one_refused_tube_changes_nothing(bank):
    _tube(bank, "S1")
    _tube(bank, "S2")
    service.discard_specimen(bank, "S2", reason="broken", actor=ACTOR)
    plan = specimen_bulk.preview(bank, "status", ["S1", "S2", "NOPE"], {"status": "in_use"})
    assert not plan.runnable
    refused = {t.barcode: str(t.refused) for t in plan.refused}
    assert refused == {"S2": "S2 cannot go from Destroyed to Checked out", "NOPE": "no specimen has this barcode"}
    with pytest.raises(Conflict, match="2 specimens refused, nothing was changed"):
        specimen_bulk.run(bank, "status", ["S1", "S2", "NOPE"], {"status": "in_use"}, actor=ACTOR)
    assert service.get_specimen(bank, "S1")["status"] == "available"
    specimen_bulk.run(bank, "status", ["S1"], {"status": "in_use"}, actor=ACTOR)
    assert service.get_specimen(bank, "S1")["status"] == "in_use"
    reserving = specimen_bulk.preview(bank, "status", ["S1"], {"status": "reserved"})
    assert not reserving.runnable and "reserving needs a purpose" in str(reserving.problem)


def test_bulk_move_refuses_a_box_without_room(bank):
    _tube(bank, "S0")
    _tube(bank, "S1")
    rows, cols = "ABCDEFGHI", range(1, 10)
    positions = [f"{r}{c}" for r in rows for c in cols]
    for i, position in enumerate(positions[1::2]):  # every other position taken: no two free side by side
        _tube(bank, f"F{i}", f"FRZ-01/R01/BOX-2/{position}")
    plan = specimen_bulk.preview(bank, "move", ["S0", "S1"], {"box": "FRZ-01/R01/BOX-2"})
    assert not plan.runnable
    assert str(plan.problem) == "FRZ-01/R01/BOX-2 has no 2 free positions in a row (41 free)"
    with pytest.raises(Conflict, match="no 2 free positions in a row"):
        specimen_bulk.run(bank, "move", ["S0", "S1"], {"box": "FRZ-01/R01/BOX-2"}, actor=ACTOR)
    assert service.get_specimen(bank, "S0")["location"] is None


def test_label_print_is_ledgered_once_per_tube_and_names_every_unknown_barcode(bank):
    _tube(bank, "S1")
    _tube(bank, "S2")
    with pytest.raises(NotFound) as caught:
        label_printing.print_labels(bank, ["S1", "BAD1", "S2", "BAD2"], fmt="zpl", actor=ACTOR)
    assert caught.value.detail == "2 specimens do not exist: BAD1, BAD2"
    job = label_printing.print_labels(bank, ["S1", "S2"], fmt="zpl", actor=ACTOR)
    assert job.media_type == "application/zpl" and not job.reprint
    text = job.content.decode()
    assert text.count("^XA") == 2 and text.count("^XZ") == 2
    assert _actions(bank, "S1")[-1] == "specimen.label_printed"
    assert _actions(bank, "S2")[-1] == "specimen.label_printed"
    again = label_printing.print_labels(bank, ["S1"], fmt="pdf", actor=ACTOR)
    assert again.reprint and again.content.startswith(b"%PDF")
    assert _actions(bank, "S1")[-1] == "specimen.label_reprinted"
    assert _actions(bank, "S2").count("specimen.label_printed") == 1


def test_label_templates_choose_stock_and_fields(bank):
    assert label_printing.list_templates(bank)[0]["name"] == "standard"
    label_printing.save_template(bank, "barcode only", stock="cryo-25x13", symbology="code128", fields=[],
                                 actor=ACTOR)
    saved = label_printing.save_template(bank, "full", stock="cryo-38x13", symbology="datamatrix",
                                         fields=["sprec", "participant"], is_default=True, actor=ACTOR)
    assert saved["fields"] == ["participant", "sprec"]
    templates = label_printing.list_templates(bank)
    assert [(t["name"], t["is_default"]) for t in templates] == [("full", True), ("barcode only", False)]
    _tube(bank, "S1")
    text = label_printing.print_labels(bank, ["S1"], fmt="zpl", actor=ACTOR).content.decode()
    assert "^FDP000001^FS" in text and "^BX" in text
    text = label_printing.print_labels(bank, ["S1"], fmt="zpl", template="barcode only", actor=ACTOR).content.decode()
    assert "P000001" not in text and "^BC" in text
    with pytest.raises(ValidationFailed, match="unknown label stock"):
        label_printing.save_template(bank, "x", stock="huge", symbology="code128", fields=[], actor=ACTOR)


def test_filters_say_why_instead_of_matching_nothing(bank):
    _tube(bank, "S1", "FRZ-01/R01/BOX-1/A1")
    with pytest.raises(ValidationFailed, match="unknown status bogus; allowed: available"):
        service.search_specimens(bank, service.SpecimenFilter(status="bogus"))
    with pytest.raises(ValidationFailed, match="unknown specimen type BANANA; allowed: BLD"):
        service.search_specimens(bank, service.SpecimenFilter(type="BANANA"))
    with pytest.raises(NotFound, match="no storage unit has the path FRZ-09/R01"):
        service.search_specimens(bank, service.SpecimenFilter(container="FRZ-09/R01"))
    for path in ("FRZ-01 / R01", "/FRZ-01/R01/", "FRZ-01/R01/BOX-1/A1"):
        assert service.search_specimens(bank, service.SpecimenFilter(container=path))[0] == 1, path
    for consent in ("GRU", "gru", "DUO:0000042"):
        assert service.search_specimens(bank, service.SpecimenFilter(consent=consent))[0] == 1, consent
    with pytest.raises(ValidationFailed, match="not a DUO term"):
        service.search_specimens(bank, service.SpecimenFilter(consent="BANANA"))


def test_list_sorts_by_whitelisted_columns_and_export_rows_follow(bank):
    _tube(bank, "B", "FRZ-01/R01/BOX-2/A1", participant="P000002", type="PL1")
    _tube(bank, "A", "FRZ-01/R01/BOX-1/A1")
    _tube(bank, "C")
    flt = service.SpecimenFilter()
    assert [s["barcode"] for s in service.search_specimens(bank, flt, sort="barcode")[1]] == ["A", "B", "C"]
    assert [s["barcode"] for s in service.search_specimens(bank, flt, sort="-barcode")[1]] == ["C", "B", "A"]
    assert [s["barcode"] for s in service.search_specimens(bank, flt, sort="location")[1]] == ["A", "B", "C"]
    assert [s["barcode"] for s in service.search_specimens(bank, flt, sort="-participant")[1]][0] == "B"
    assert [s["barcode"] for s in service.search_specimens(bank, flt, sort="type")[1]][0] == "B"
    with pytest.raises(ValidationFailed, match="cannot sort by id; sortable columns"):
        service.search_specimens(bank, flt, sort="id")
    assert [s["barcode"] for s in service.iter_specimens(bank, flt, batch=2)] == ["B", "A", "C"]
    assert [s["barcode"] for s in service.iter_specimens(bank, flt, sort="barcode", batch=2)] == ["A", "B", "C"]
    assert [s["barcode"] for s in service.iter_specimens(bank, service.SpecimenFilter(type="pl1"))] == ["B"]
