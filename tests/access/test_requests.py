"""Requests and consent matching through the service, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from lifebank.access import service
from lifebank.errors import NotFound, PermissionDenied, ValidationFailed

from .access_fixtures import Bank


def test_check_follows_the_duo_hierarchy_and_names_each_exclusion(bank: Bank):
    alice = bank.principal("alice")
    request_id = service.create_request(bank.db, bank.draft(purposes=["GRU"]), principal=alice)
    result = service.check_request(bank.db, request_id, bank.principal("manager")).as_dict()
    # GRU covers GRU; HMB-only and DS consents do not cover a GRU request; IRB needs an approval number.
    assert result["eligible"] == ["P000001", "P000004", "P000006"]
    excluded = {e["participant"]: e["reason"] for e in result["excluded"]}
    assert set(excluded) == {"P000002", "P000003", "P000005"}
    assert "HMB" in excluded["P000002"] and "GRU" in excluded["P000002"]
    assert "ethics approval" in excluded["P000005"]


def test_ethics_approval_satisfies_irb_and_npu_refuses_a_for_profit_org(bank: Bank):
    manager = bank.principal("manager")
    draft = bank.draft(organisation="Pharma GmbH", purposes=["HMB"], ethics_approval="EC-2026-7")
    request_id = service.create_request(bank.db, draft, principal=manager)
    result = service.check_request(bank.db, request_id, manager).as_dict()
    assert "P000005" in result["eligible"]
    excluded = {e["participant"]: e["reason"] for e in result["excluded"]}
    assert "for-profit" in excluded["P000004"]


def test_a_purpose_nobody_consented_to_excludes_everyone_clearly(bank: Bank):
    alice = bank.principal("alice")
    # No donor gave an unrestricted (NRES) consent: GRU, HMB and DS consents all fall short of it.
    request_id = service.create_request(bank.db, bank.draft(purposes=["NRES"]), principal=alice)
    result = service.check_request(bank.db, request_id, None).as_dict()
    assert result["eligible"] == []
    assert len(result["excluded"]) == 6
    assert all("the request is for any use (NRES)" in e["reason"] for e in result["excluded"])


def test_withdrawn_consent_is_excluded_with_the_reason(bank: Bank):
    from lifebank.biobank import service as bb

    bb.withdraw_consent(bank.db, "P000006", reason="asked", actor="tester")
    alice = bank.principal("alice")
    request_id = service.create_request(bank.db, bank.draft(), principal=alice)
    excluded = {e["participant"]: e["reason"] for e in service.check_request(bank.db, request_id, None)
                .as_dict()["excluded"]}
    assert "no consent in force" in excluded["P000006"]


def test_a_partner_cannot_read_another_organisations_request_nor_learn_it_exists(bank: Bank):
    request_id = service.create_request(bank.db, bank.draft(), principal=bank.principal("alice"))
    other = bank.principal("other")
    with pytest.raises(NotFound) as seen:
        service.request_view(bank.db, request_id, other)
    with pytest.raises(NotFound) as missing:
        service.request_view(bank.db, 999_999, other)
    assert str(seen.value).replace(str(request_id), "N") == str(missing.value).replace("999999", "N")
    assert service.list_requests(bank.db, other) == []
    assert [r["id"] for r in service.list_requests(bank.db, bank.principal("manager"))] == [request_id]


def test_a_user_requests_only_for_their_own_organisation(bank: Bank):
    with pytest.raises(PermissionDenied):
        service.create_request(bank.db, bank.draft(organisation="Pharma GmbH"), principal=bank.principal("alice"))


BAD_DRAFTS = [
    ({"title": " "}, "title"),
    ({"purposes": ["DUO:0000046"]}, "not a DUO data use permission"),
    ({"purposes": ["DS"]}, "disease code"),
    ({"items": [service.Item("BANANA")]}, "unknown specimen type"),
    ({"items": []}, "cohort or at least one specimen type"),
    ({"organisation": "Nowhere Inc"}, "Nowhere Inc"),
    ({"cohort": "no-such-cohort"}, "no-such-cohort"),
]


def test_incomplete_requests_are_refused_naming_the_field(bank: Bank):
    for changes, words in BAD_DRAFTS:
        with pytest.raises((ValidationFailed, NotFound)) as refused:
            service.create_request(bank.db, bank.draft(**changes), principal=bank.principal("manager"))
        assert words in str(refused.value), changes
    assert service.list_requests(bank.db, bank.principal("manager")) == []


def test_feasibility_hides_small_counts_from_external_users(bank: Bank):
    alice = bank.principal("alice")
    request_id = service.create_request(bank.db, bank.draft(purposes=["GRU"]), principal=alice)
    outside = service.feasibility(bank.db, request_id, alice)
    assert outside["participants"] is None and outside["specimens"] is None
    assert str(outside["shown_as"]) == "fewer than 5"
    inside = service.feasibility(bank.db, request_id, bank.principal("manager"))
    assert (inside["participants"], inside["specimens"], inside["excluded"]) == (3, 6, 3)
    # DS C50.1 is covered by GRU, HMB and DS-C50 consents (P000005's IRB wants an approval): 5, shown.
    wide = service.create_request(bank.db, bank.draft(purposes=["DS"], disease="C50.1"), principal=alice)
    assert service.feasibility(bank.db, wide, alice)["participants"] == 5
