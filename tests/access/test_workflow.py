"""The whole path through the HTTP API — request, committee, agreement, allocation, pick list, scan,
shipment (HGR), receipt, HGR report — and the bad inputs of issue 11, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import threading

from lifebank.access import service
from lifebank.auth import service as auth
from lifebank.biobank import service as bb
from lifebank.errors import Conflict, ValidationFailed

from .access_fixtures import Bank


def _headers(bank: Bank, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth.create_token(bank.db, username, 'test').token}"}


def _approved_request(client, bank: Bank, h: dict[str, dict[str, str]], **body) -> int:
    payload = {"title": "Serum proteomics", "organisation": "Pharma GmbH", "purposes": ["DUO:0000006"],
               "ethics_approval": "EC-2026-7", "specimen_types": [{"specimen_type": "SER", "per_participant": 1}]}
    payload.update(body)
    created = client.post("/api/v1/access/requests", json=payload, headers=h["pharma"])
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]
    assert client.post(f"/api/v1/access/requests/{request_id}/committee", json={"reviewers": ["rev1", "rev2"]},
                       headers=h["manager"]).status_code == 200
    assert client.post(f"/api/v1/access/requests/{request_id}/votes", json={"vote": "approve"},
                       headers=h["rev1"]).json() == {"state": "under_review"}
    done = client.post(f"/api/v1/access/requests/{request_id}/votes",
                       json={"vote": "approve_with_conditions", "comment": "acknowledge the bank"},
                       headers=h["rev2"])
    assert done.json() == {"state": "approved_with_conditions"}
    return request_id


def test_request_to_receipt_through_the_api(client, bank: Bank):
    h = {name: _headers(bank, name) for name in ("pharma", "other", "manager", "rev1", "rev2", "tech")}
    request_id = _approved_request(client, bank, h)
    url = f"/api/v1/access/requests/{request_id}"
    # The partner reads its own request; another organisation gets the same 404 as a missing request.
    assert client.get(url, headers=h["pharma"]).json()["state"] == "approved_with_conditions"
    hidden, missing = client.get(url, headers=h["other"]), client.get("/api/v1/access/requests/9999",
                                                                       headers=h["other"])
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace(str(request_id), "N") == missing.json()["detail"].replace("9999", "N")
    # Participant codes are for staff and the committee; the partner reads counts only.
    assert client.get(f"{url}/check", headers=h["pharma"]).status_code == 403
    assert client.get(f"{url}/check", headers=h["rev1"]).json()["eligible"] == [
        "P000001", "P000002", "P000005", "P000006"]
    # Agreement: the signed MTA first.
    assert client.post(f"{url}/agreement", headers=h["manager"]).status_code == 422
    files = {"file": ("mta.pdf", b"%PDF-1.4 signed", "application/pdf")}
    assert client.post(f"{url}/documents", data={"kind": "agreement"}, files=files,
                       headers=h["pharma"]).status_code == 201
    assert client.post(f"{url}/agreement", headers=h["manager"]).json()["state"] == "agreement_signed"
    # Allocation: one tube of each eligible participant, the second (last) one kept.
    allocated = client.post(f"{url}/allocation", json={}, headers=h["manager"]).json()
    assert allocated["allocated"] == 4
    picks = client.get(f"{url}/pick-list", headers=h["tech"]).json()["tubes"]
    sources = [p["source"] for p in picks]
    assert sources == sorted(sources, key=lambda s: (s.split("/")[0], s.split("/")[2].replace("BOX-2", "BOX-02")))
    job = list(csv.DictReader(io.StringIO(client.get(f"{url}/pick-list?format=csv", headers=h["tech"]).text)))
    assert [r["barcode"] for r in job] == [p["barcode"] for p in picks]
    assert set(job[0]) == {"barcode", "source_rack", "source_position", "target_rack", "target_position"}
    assert client.get(f"{url}/pick-list?format=pdf", headers=h["tech"]).content[:4] == b"%PDF"
    assert client.get(f"{url}/pick-list", headers=h["pharma"]).status_code == 403
    # Scan: a tube not on the list is refused loudly; each listed tube once.
    wrong = client.post(f"{url}/scan", json={"barcode": "S000003-0"}, headers=h["tech"])
    assert wrong.status_code == 409 and "WRONG TUBE" in wrong.json()["detail"]
    early = client.post(f"{url}/shipments", json={"courier": "SF", "tracking_number": "1",
                                                  "temperature": "dry_ice"}, headers=h["manager"])
    assert early.status_code == 409
    for pick in picks:
        assert client.post(f"{url}/scan", json={"barcode": pick["barcode"]}, headers=h["tech"]).json()["state"] \
            == "picked"
    again = client.post(f"{url}/scan", json={"barcode": picks[0]["barcode"]}, headers=h["tech"])
    assert again.status_code == 409 and "already scanned" in again.json()["detail"]
    # International (DE): no HGR approval, nothing ships.
    shipment = {"courier": "World Courier", "tracking_number": "WC123", "temperature": "dry_ice", "un3373": True}
    refused = client.post(f"{url}/shipments", json=shipment, headers=h["manager"])
    assert refused.status_code == 409 and "HGR approval" in refused.json()["detail"]
    assert client.post(f"{url}/hgr", json={"number": "[2026]CJ0042"}, headers=h["manager"]).status_code == 200
    files = {"file": ("hgr.pdf", b"%PDF-1.4 hgr", "application/pdf")}
    client.post(f"{url}/documents", data={"kind": "hgr"}, files=files, headers=h["manager"])
    sent = client.post(f"{url}/shipments", json=shipment, headers=h["manager"])
    assert sent.status_code == 201, sent.text
    assert sent.json()["tubes"] == 4
    history = bb.specimen_history(bank.db, picks[0]["barcode"])
    assert history["specimen"]["status"] == "distributed"
    assert {"kind": "distributed", "detail": f"AR-{request_id:06d}"} in [
        {"kind": e["kind"], "detail": e["detail"]} for e in history["events"]]
    manifest = client.get(f"{url}/manifest?format=csv", headers=h["pharma"]).text
    assert picks[0]["barcode"] in manifest and "participant" not in manifest
    assert client.get(f"{url}/manifest?format=pdf", headers=h["pharma"]).content[:4] == b"%PDF"
    received = client.post(f"{url}/receipt", json={"discrepancies": "one tube thawed"}, headers=h["pharma"])
    assert received.json()["state"] == "received"
    notices = client.get("/api/v1/access/notifications", headers=h["manager"]).json()
    assert any("discrepancies" in n["message"] for n in notices)
    report = client.get("/api/v1/access/hgr-report?year=2026&format=csv", headers=h["manager"])
    assert report.status_code == 200
    text = report.content.decode("utf-8-sig")
    assert "Pharma GmbH" in text and "[2026]CJ0042" in text and "样本类型" in text
    states = [t["to"] for t in client.get(url, headers=h["manager"]).json()["history"]]
    assert states == ["submitted", "under_review", "approved_with_conditions", "agreement_signed",
                      "in_fulfilment", "shipped", "received"]


def test_one_may_not_approve_ones_own_request(client, bank: Bank):
    h = {name: _headers(bank, name) for name in ("rev1", "rev2", "manager")}
    created = client.post("/api/v1/access/requests", headers=h["rev1"], json={
        "title": "Own", "organisation": "LifeBank", "purposes": ["GRU"],
        "specimen_types": [{"specimen_type": "SER"}]})
    request_id = created.json()["id"]
    url = f"/api/v1/access/requests/{request_id}"
    on_own = client.post(f"{url}/committee", json={"reviewers": ["rev1", "rev2"]}, headers=h["manager"])
    assert on_own.status_code == 403
    assert client.post(f"{url}/committee", json={"reviewers": ["rev2"]}, headers=h["manager"]).status_code == 200
    vote = client.post(f"{url}/votes", json={"vote": "approve"}, headers=h["rev1"])
    assert vote.status_code == 403 and "may not approve" in vote.json()["detail"]
    assert client.get(url, headers=h["manager"]).json()["state"] == "under_review"


def test_two_fulfilments_racing_for_the_same_tubes_exactly_one_wins(bank: Bank):
    manager = bank.principal("manager")
    ids = []
    for _ in range(2):
        request_id = service.create_request(bank.db, bank.draft(purposes=["GRU"]), principal=manager)
        service.appoint_committee(bank.db, request_id, ["rev2"], principal=manager)
        service.cast_vote(bank.db, request_id, "approve", principal=bank.principal("rev2"))
        service.add_document(bank.db, request_id, kind="agreement", filename="mta.pdf", content=b"%PDF",
                             content_type="application/pdf", principal=manager)
        service.sign_agreement(bank.db, request_id, principal=manager)
        ids.append(request_id)
    barrier = threading.Barrier(2)
    outcomes: dict[int, str] = {}

    def fulfil(request_id: int) -> None:
        barrier.wait()
        try:
            service.allocate(bank.db, request_id, principal=manager)
            outcomes[request_id] = "won"
        except (Conflict, ValidationFailed):
            # Conflict when both read the free tubes and the loser's reservation finds them taken; "no tube meets
            # the request" when the loser reads after the winner's commit (writers take turns): both leave it empty.
            outcomes[request_id] = "lost"

    threads = [threading.Thread(target=fulfil, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()) == ["lost", "won"]
    loser = next(i for i, o in outcomes.items() if o == "lost")
    assert service.pick_list(bank.db, loser, manager) == []
    assert service.request_view(bank.db, loser, manager)["state"] == "agreement_signed"


def test_withdrawal_after_approval_removes_the_tube_before_shipment(bank: Bank):
    manager = bank.principal("manager")
    request_id = service.create_request(bank.db, bank.draft(organisation="Hospital A", purposes=["GRU"]),
                                        principal=manager)
    service.appoint_committee(bank.db, request_id, ["rev2"], principal=manager)
    service.cast_vote(bank.db, request_id, "approve", principal=bank.principal("rev2"))
    service.add_document(bank.db, request_id, kind="agreement", filename="mta.pdf", content=b"%PDF",
                         content_type="application/pdf", principal=manager)
    service.sign_agreement(bank.db, request_id, principal=manager)
    assert service.allocate(bank.db, request_id, principal=manager)["allocated"] == 3
    for pick in service.pick_list(bank.db, request_id, manager):
        service.scan(bank.db, request_id, pick["barcode"], principal=manager)
    bb.withdraw_consent(bank.db, "P000006", reason="changed their mind", actor="tester")
    shipped = service.ship(bank.db, request_id, courier="SF", tracking_number="SF1", temperature="dry_ice",
                           un3373=True, principal=manager)
    assert shipped["tubes"] == 2 and shipped["dropped"] == ["S000006-0"]
    rows = {p["barcode"]: p["state"] for p in service.pick_list(bank.db, request_id, manager)}
    assert rows["S000006-0"] == "dropped"


def test_changes_requested_then_resubmitted_then_returned_material(bank: Bank):
    import pytest

    from lifebank.errors import ValidationFailed

    manager, rev2 = bank.principal("manager"), bank.principal("rev2")
    alice = bank.principal("alice")
    request_id = service.create_request(bank.db, bank.draft(purposes=["GRU"]), principal=alice)
    service.appoint_committee(bank.db, request_id, ["rev2"], principal=manager)
    with pytest.raises(ValidationFailed):
        service.cast_vote(bank.db, request_id, "request_changes", principal=rev2)  # says why
    assert service.cast_vote(bank.db, request_id, "request_changes", comment="add the ethics approval",
                             principal=rev2) == "changes_requested"
    service.resubmit_request(bank.db, request_id, principal=alice, ethics_approval="EC-9")
    assert service.request_view(bank.db, request_id, alice)["ethics_approval"] == "EC-9"
    service.appoint_committee(bank.db, request_id, ["rev2"], principal=manager)
    assert service.cast_vote(bank.db, request_id, "approve", principal=rev2) == "approved"
    service.add_document(bank.db, request_id, kind="agreement", filename="mta.pdf", content=b"%PDF",
                         content_type="application/pdf", principal=manager)
    service.sign_agreement(bank.db, request_id, principal=manager)
    picks = [p["barcode"] for p in (service.allocate(bank.db, request_id, principal=manager) and
                                    service.pick_list(bank.db, request_id, manager))]
    for barcode in picks:
        service.scan(bank.db, request_id, barcode, principal=manager)
    service.ship(bank.db, request_id, courier="SF", tracking_number="SF9", temperature="2-8C", un3373=False,
                 principal=manager)
    service.receive(bank.db, request_id, principal=alice)
    with pytest.raises(ValidationFailed):
        service.record_return(bank.db, request_id, picks[:1], outcome="destroyed", principal=manager)
    service.add_document(bank.db, request_id, kind="certificate", filename="destroyed.pdf", content=b"%PDF",
                         content_type="application/pdf", principal=manager)
    assert service.record_return(bank.db, request_id, picks[:1], outcome="destroyed", principal=manager) == 1
    assert service.record_return(bank.db, request_id, picks[1:2], outcome="returned", principal=manager) == 1
    assert bb.get_specimen(bank.db, picks[0])["status"] == "destroyed"
    assert bb.get_specimen(bank.db, picks[1])["status"] == "available"
    rows = {p["barcode"]: p["state"] for p in service.pick_list(bank.db, request_id, manager)}
    assert rows[picks[0]] == "destroyed" and rows[picks[1]] == "returned"
    assert service.render_report(bank.db, 2026, "pdf")[:4] == b"%PDF"
