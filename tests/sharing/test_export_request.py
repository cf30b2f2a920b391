"""An export for an approved access request (issue 11's workflow, through its published service functions):
the requester is the recipient, the request's purpose is re-checked against every consent."""

from __future__ import annotations

import pytest

import lifebank.auth as auth_domain
from lifebank.access import service as access
from lifebank.auth import service as auth
from lifebank.errors import Conflict
from lifebank.sharing import exports

from .conftest import PEOPLE

PASSWORD = "Correct-horse-battery-9"


def _principal(db, name: str, role: str, organisation: str | None = None):
    auth.create_user(db, name, PASSWORD, [role], organisation=organisation)
    return auth.principal_of(auth.get_user(db, name))


def test_export_for_an_approved_request_goes_to_its_requester(bank, tmp_path) -> None:
    db = bank.db
    auth_domain.create_organisation(db, "Academic Lab", country="CN", kind="university", for_profit=False)
    requester = _principal(db, "lab1", "partner", "Academic Lab")
    staff = _principal(db, "mgr", "biobank_manager")
    reviewers = [_principal(db, "rev1", "researcher"), _principal(db, "rev2", "researcher")]
    draft = access.RequestDraft(title="data only: commercial screening", organisation="Academic Lab",
                                purposes=["HMB"], commercial=True, ethics_approval="EK-1",
                                items=[access.Item("BLD", 1, None, None)], wants_material=False, wants_data=True,
                                declarations=["publication"])
    request_id = access.create_request(db, draft, principal=requester)
    with pytest.raises(Conflict, match="only an approved request"):
        exports.from_request(db, request_id)
    access.appoint_committee(db, request_id, [r.username for r in reviewers], principal=staff)
    for reviewer in reviewers:
        access.cast_vote(db, request_id, "approve", comment="", principal=reviewer)
    source = exports.from_request(db, request_id)
    assert source.recipient == "lab1" and source.request_id
    result = exports.export(db, bank.settings.data_dir, source, "csv", actor="mgr", k=2, out=tmp_path)
    # commercial use: the HMB;NCU consents (odd participants) exclude it; GRU ones allow it
    assert result["report"]["consent_refused"] == PEOPLE // 2
    assert result["recipient"] == "lab1" and result["request"] == source.request_id
    assert (tmp_path / "participants.csv").is_file()


def test_a_release_for_a_request_must_be_the_requesters_and_approved(bank) -> None:
    from lifebank.sharing import beacon

    db = bank.db
    auth_domain.create_organisation(db, "Lab Two", country="CN", kind="university", for_profit=False)
    requester = _principal(db, "lab2", "partner", "Lab Two")
    _principal(db, "other", "partner", "Lab Two")
    draft = access.RequestDraft(title="data", organisation="Lab Two", purposes=["HMB"], ethics_approval="EK-2",
                                items=[access.Item("BLD", 1, None, None)], wants_material=False, wants_data=True)
    request_id = access.create_request(db, draft, principal=requester)
    with pytest.raises(Conflict, match="cannot release records"):
        beacon.grant_records(db, "kg", "lab2", purposes="HMB", actor="mgr", request_id=str(request_id))
    staff = _principal(db, "mgr", "biobank_manager")
    reviewers = [_principal(db, "rev1", "researcher"), _principal(db, "rev2", "researcher")]
    access.appoint_committee(db, request_id, [r.username for r in reviewers], principal=staff)
    for reviewer in reviewers:
        access.cast_vote(db, request_id, "approve", comment="", principal=reviewer)
    with pytest.raises(Conflict, match="was made by lab2, not other"):
        beacon.grant_records(db, "kg", "other", purposes="HMB", actor="mgr", request_id=str(request_id))
    assert beacon.grant_records(db, "kg", "lab2", purposes="HMB", actor="mgr", request_id=str(request_id)) > 0
