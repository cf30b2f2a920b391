"""Participants and consent in the UI: list (filters, sort, pages, export), register with a first consent,
a new consent version, withdrawal with a preview then a confirmation; every write checked in the database
and in the ledger."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook

from lifebank.biobank import service

from .biobank_fixtures import ACTOR, add_participant
from .manage_helpers import ledger, log_in


def test_register_a_participant_with_a_first_consent_in_one_form(bank, client):
    token = log_in(client, bank)
    form = client.get("/biobank/participants/new")
    assert "general research use" in form.text and "DUO:0000042" in form.text
    answer = client.post("/biobank/participants", data={
        "csrf_token": token, "code": "P-NEW-1", "sex": "F", "birth_year": "1990", "site": "SH",
        "codes": ["DUO:0000042", "DUO:0000021"], "consent_date": "2025-03-04", "scope": "cohort A"},
        follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/biobank/participants/P-NEW-1?done=registered"
    view = service.participant_view(bank, "P-NEW-1")
    assert view["consents"][0]["codes"] == ["DUO:0000021", "DUO:0000042"] and view["consent_status"] == "in_force"
    assert ledger(bank, "participant.register")[-1] == ("mara", "P-NEW-1",
                                                         {"sex": "F", "birth_year": 1990, "site": "SH"})
    assert ledger(bank, "consent.record")[-1][2]["codes"] == ["DUO:0000042", "DUO:0000021"]
    page = client.get("/biobank/participants/P-NEW-1?done=registered")
    assert "ethics approval required" in page.text and "DUO:0000021" in page.text


def test_registration_mistakes_are_shown_inline_and_nothing_is_written(bank, client):
    token = log_in(client, bank, locale="zh_Hans")
    no_codes = client.post("/biobank/participants", data={
        "csrf_token": token, "code": "P-X", "sex": "F", "site": "SH", "consent_date": "2025-03-04"})
    assert no_codes.status_code == 422 and "text/html" in no_codes.headers["content-type"]
    assert 'id="form-error"' in no_codes.text and "a consent needs at least one DUO code" not in no_codes.text
    taken = client.post("/biobank/participants", data={
        "csrf_token": token, "code": "P000001", "sex": "F", "site": "SH", "codes": ["DUO:0000042"],
        "consent_date": "2025-03-04"})
    assert taken.status_code == 422 and "P000001" in taken.text
    assert service.list_participants(bank)[0] == 2


def test_a_new_consent_version_shows_its_codes_by_label(bank, client):
    token = log_in(client, bank)
    answer = client.post("/biobank/participants/P000001/consents", data={
        "csrf_token": token, "codes": ["DUO:0000006"], "consent_date": "2025-05-06"}, follow_redirects=False)
    assert answer.status_code == 303
    view = service.participant_view(bank, "P000001")
    assert [c["version"] for c in view["consents"]] == [1, 2] and view["consents"][1]["codes"] == ["DUO:0000006"]
    assert ledger(bank, "consent.record")[-1][:2] == ("mara", "P000001")
    assert ledger(bank, "consent.record")[-1][2]["version"] == 2
    page = client.get("/biobank/participants/P000001")
    assert "health or medical or biomedical research" in page.text


def test_withdrawal_previews_the_block_then_needs_a_confirmation(bank, client):
    service.register_specimen(bank, "W1", participant="P000002", type="SER", quantity=1, actor=ACTOR)
    service.register_specimen(bank, "W2", participant="P000002", type="SER", quantity=1, actor=ACTOR)
    service.reserve_specimens(bank, ["W2"], purpose="study Z", actor=ACTOR)
    token = log_in(client, bank)
    preview = client.get("/biobank/participants/P000002/withdraw")
    assert preview.status_code == 200
    assert "Specimens that become not distributable: 2" in preview.text
    assert "Open reservations affected: 1" in preview.text and "study Z" in preview.text
    unconfirmed = client.post("/biobank/participants/P000002/withdraw",
                              data={"csrf_token": token, "reason": "asked"})
    assert unconfirmed.status_code == 422 and "tick the confirmation" in unconfirmed.text
    assert service.participant_view(bank, "P000002")["consent_status"] == "in_force"
    done = client.post("/biobank/participants/P000002/withdraw",
                       data={"csrf_token": token, "reason": "asked", "confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 303
    assert all(not s["distributable"] for s in service.search_specimens(
        bank, service.SpecimenFilter(participant="P000002"))[1])
    actor, entity, change = ledger(bank, "consent.withdraw")[-1]
    assert (actor, entity) == ("mara", "P000002")
    assert change["specimens_blocked"] == 2 and change["reservations_affected"] == 1 and change["reason"] == "asked"
    page = client.get("/biobank/participants/P000002")
    assert 'id="withdrawal-block"' in page.text and "2 of this participant" in page.text
    assert page.text.count('data-distributable="no"') == 2


def test_the_list_filters_sorts_counts_pages_and_exports(bank, client):
    for i in range(3, 60):
        add_participant(bank, f"P{i:06d}", site="GZ" if i % 2 else "SH")
    service.withdraw_consent(bank, "P000003", actor=ACTOR)
    log_in(client, bank)
    first = client.get("/biobank/participants", params={"site": "GZ"})
    assert "29 participants" in first.text and "Page 1 of 1" in first.text
    every = client.get("/biobank/participants")
    assert "59 participants" in every.text and "Page 1 of 2" in every.text
    withdrawn = client.get("/biobank/participants", params={"consent_status": "withdrawn"})
    assert "1 participant ·" in withdrawn.text and "P000003" in withdrawn.text
    hmb = client.get("/biobank/participants", params={"consent_code": "HMB"})
    assert "1 participant ·" in hmb.text and "P000002" in hmb.text
    bad = client.get("/biobank/participants", params={"consent_code": "BANANA"})
    assert bad.status_code == 200 and "is not a DUO term" in bad.text
    down = client.get("/biobank/participants", params={"sort": "code", "desc": "1"})
    assert down.text.index("P000059") < down.text.index("P000058")
    link = re.search(r'id="export-csv" href="([^"]+)"', down.text).group(1).replace("&amp;", "&")
    linked = client.get(link)
    assert linked.status_code == 200 and linked.text.lstrip("\ufeff").splitlines()[1].startswith("P000059,")
    xlsx = client.get("/api/v1/biobank/participants/export", params={"format": "xlsx", "site": "GZ"})
    assert xlsx.status_code == 200
    rows = list(load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    assert rows[0][:5] == ("code", "sex", "birth_year", "site", "consent_status")
    assert len(rows) == 30 and {r[3] for r in rows[1:]} == {"GZ"}
    csv_ = client.get("/api/v1/biobank/participants/export", params={"format": "csv", "consent_status": "withdrawn"})
    assert csv_.text.lstrip("\ufeff").splitlines()[1].startswith("P000003,")
    wrong = client.get("/api/v1/biobank/participants/export", params={"consent_status": "maybe"})
    assert wrong.status_code == 422 and "maybe" in wrong.json()["detail"]
