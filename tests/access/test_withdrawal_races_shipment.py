"""A donor withdrawing consent while their tube is being shipped: whichever commits first decides, never both.

The shipment and the withdrawal are two writers; they take turns (BEGIN IMMEDIATE on SQLite, the writers' lock on
PostgreSQL), so the ledger orders them. If the withdrawal is first, the shipment must drop the donor's tube; if
the shipment is first, the tube left before the withdrawal (it is `distributed`, with the request in its history).
Run on both databases, several races each, both threads released together.
"""

from __future__ import annotations

import threading

from sqlalchemy import text

from lifebank.access import service
from lifebank.biobank import service as bb

from .access_fixtures import Bank


def _ready_to_ship(bank: Bank) -> int:
    manager = bank.principal("manager")
    request_id = service.create_request(bank.db, bank.draft(organisation="Hospital A", purposes=["GRU"]),
                                        principal=manager)
    service.appoint_committee(bank.db, request_id, ["rev2"], principal=manager)
    service.cast_vote(bank.db, request_id, "approve", principal=bank.principal("rev2"))
    service.add_document(bank.db, request_id, kind="agreement", filename="mta.pdf", content=b"%PDF",
                         content_type="application/pdf", principal=manager)
    service.sign_agreement(bank.db, request_id, principal=manager)
    service.allocate(bank.db, request_id, principal=manager)
    for pick in service.pick_list(bank.db, request_id, manager):
        service.scan(bank.db, request_id, pick["barcode"], principal=manager)
    return request_id


def _seq(bank: Bank, action: str) -> int:
    with bank.db.engine.connect() as conn:
        return conn.execute(text("SELECT max(seq) FROM ledger_event WHERE action = :a"), {"a": action}).scalar_one()


def test_withdrawal_racing_a_shipment_is_decided_by_whichever_commits_first(bank: Bank) -> None:
    manager = bank.principal("manager")
    request_id = _ready_to_ship(bank)
    picks = service.pick_list(bank.db, request_id, manager)
    donor_tubes = {p["barcode"] for p in picks if p["barcode"].startswith("S000006-")}
    assert donor_tubes, "the race needs a tube of P000006 on the pick list"
    barrier = threading.Barrier(2)
    outcome: dict[str, object] = {}

    def ship() -> None:
        barrier.wait()
        outcome["shipped"] = service.ship(bank.db, request_id, courier="SF", tracking_number="SF-race",
                                          temperature="dry_ice", un3373=True, principal=manager)

    def withdraw() -> None:
        barrier.wait()
        bb.withdraw_consent(bank.db, "P000006", reason="race", actor="tester")

    threads = [threading.Thread(target=ship), threading.Thread(target=withdraw)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shipped = outcome["shipped"]
    assert isinstance(shipped, dict)
    states = {p["barcode"]: p["state"] for p in service.pick_list(bank.db, request_id, manager)}
    if _seq(bank, "consent.withdraw") < _seq(bank, "access.shipment"):
        assert set(shipped["dropped"]) == donor_tubes and all(states[b] == "dropped" for b in donor_tubes)
    else:
        assert shipped["dropped"] == [] and all(states[b] == "shipped" for b in donor_tubes)
        for barcode in donor_tubes:
            assert bb.get_specimen(bank.db, barcode)["status"] == "distributed"
