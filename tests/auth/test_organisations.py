"""Organisations and scoped grants: service, API and CLI (issue 11, item 1)."""

from __future__ import annotations

import pytest

import lifebank.auth as auth_api
from lifebank.audit import service as audit
from lifebank.auth import organisations
from lifebank.auth import service as auth
from lifebank.errors import Conflict, NotFound, ValidationFailed

TEST_PASSWORD = "Correct-horse-battery-9"


def test_a_company_is_for_profit_unless_told_otherwise_and_the_other_kinds_are_not(db) -> None:
    acme = auth_api.create_organisation(db, "Acme Pharma", country="de", kind="company", actor="root")
    assert (acme.country, acme.kind, acme.for_profit) == ("DE", "company", True)
    charity = auth_api.create_organisation(db, "Open Cures", kind="company", for_profit=False)
    assert charity.for_profit is False
    ruijin = auth_api.create_organisation(db, "Ruijin Hospital", kind="hospital")
    assert (ruijin.country, ruijin.for_profit) == ("CN", False)
    assert auth_api.create_organisation(db, "Fudan", kind="university").for_profit is False
    assert auth_api.create_organisation(db, "Lab Inc", kind="hospital", for_profit=True).for_profit is True
    events = audit.list_events(db, entity_type="organisation", entity_id="Acme Pharma")[1]
    assert [e.action for e in events] == ["organisation.create"] and events[0].actor == "root"


def test_organisation_names_are_unique_regardless_of_case_and_bad_codes_are_named(db) -> None:
    auth_api.create_organisation(db, "Acme Pharma")
    with pytest.raises(Conflict, match="already exists"):
        auth_api.create_organisation(db, "acme   PHARMA")
    with pytest.raises(ValidationFailed, match="'ZZ' is not an ISO 3166-1 alpha-2"):
        auth_api.create_organisation(db, "Nowhere", country="ZZ")
    with pytest.raises(ValidationFailed, match="unknown organisation kind 'charity'"):
        auth_api.create_organisation(db, "Nowhere", kind="charity")
    assert [o.name for o in auth_api.list_organisations(db)] == ["Acme Pharma"]


def test_users_belong_to_an_organisation_and_the_principal_carries_it(db) -> None:
    acme = auth_api.create_organisation(db, "Acme Pharma")
    user = auth.create_user(db, "pia", TEST_PASSWORD, ["partner"], organisation="ACME pharma")
    assert user.organisation is not None and user.organisation.name == "Acme Pharma"
    principal = auth.principal_of(auth.get_user(db, "pia"))
    assert principal.organisation_id == acme.id
    with db.session() as session:
        assert auth_api.organisation_of_user(session, user.id) == acme
        assert auth_api.organisation_by_name(session, "acme pharma") == acme
        assert auth_api.organisation_members(session, acme.id) == ["pia"]
        with pytest.raises(NotFound, match="'Beta' does not exist"):
            auth_api.organisation_by_name(session, "Beta")
    with pytest.raises(NotFound, match="'Beta' does not exist"):
        auth.create_user(db, "pia2", TEST_PASSWORD, ["partner"], organisation="Beta")
    organisations.set_user_organisation(db, "pia", None, actor="root")
    with db.session() as session:
        assert auth_api.organisation_of_user(session, user.id) is None
    created = audit.list_events(db, entity_type="user", entity_id="pia", action="user.create")[1][0]
    assert audit.event_detail(db, created.seq).change["organisation"] == "Acme Pharma"


def test_a_scoped_grant_confers_only_the_roles_scopable_reads_limited_to_its_scope(db) -> None:
    auth.create_user(db, "tim", TEST_PASSWORD, ["technician"], scopes=["site:Hangzhou", "collection: ZJ/FRZ-01/"])
    principal = auth.principal_of(auth.get_user(db, "tim"))
    assert principal.roles == frozenset()
    # Only routes that filter by scope admit it (`can_within`); `can` (every other route) stays global.
    assert principal.permissions == frozenset() and not principal.can("specimen.read")
    assert {p for p in ("participant.read", "specimen.read", "specimen.count", "specimen.write", "storage.read")
            if principal.can_within(p)} == {"participant.read", "specimen.read", "specimen.count"}
    scope = auth_api.scope_of(principal, "specimen.read")
    assert scope == auth_api.Scope(frozenset({"Hangzhou"}), frozenset({"ZJ/FRZ-01"}))
    assert principal.scope_of("storage.read") == auth_api.Scope() and not auth_api.Scope()
    # A global grant of the same permission lifts the limit.
    auth.set_roles(db, "tim", ["clinician"], actor="root")
    widened = auth.principal_of(auth.get_user(db, "tim"))
    assert widened.scope_of("specimen.read") is None and widened.can("hla.search")
    assert auth.get_user(db, "tim").roles == {"clinician"}
    assert [g.scope_id for g in auth.get_user(db, "tim").scoped_grants] == ["ZJ/FRZ-01", "Hangzhou"]


def test_scoped_grants_are_granted_revoked_and_refused_when_meaningless(db) -> None:
    auth.create_user(db, "una", TEST_PASSWORD, ["researcher"])
    organisations.grant_scoped_role(db, "una", "clinician", "site:Suzhou", actor="root")
    assert auth.principal_of(auth.get_user(db, "una")).scope_of("participant.read") == \
        auth_api.Scope(frozenset({"Suzhou"}))
    with pytest.raises(Conflict, match="already holds clinician in site:Suzhou"):
        organisations.grant_scoped_role(db, "una", "clinician", "site:Suzhou", actor="root")
    with pytest.raises(ValidationFailed, match="role partner holds no permission a site or collection can limit"):
        organisations.grant_scoped_role(db, "una", "partner", "site:Suzhou", actor="root")
    with pytest.raises(ValidationFailed, match="scope 'freezer:1' is not valid"):
        organisations.grant_scoped_role(db, "una", "clinician", "freezer:1", actor="root")
    organisations.revoke_scoped_role(db, "una", "clinician", "site:Suzhou", actor="root")
    assert not auth.principal_of(auth.get_user(db, "una")).can_within("participant.read")
    with pytest.raises(NotFound, match="holds no clinician grant in site:Suzhou"):
        organisations.revoke_scoped_role(db, "una", "clinician", "site:Suzhou", actor="root")
    actions = [e.action for e in audit.list_events(db, entity_type="user", entity_id="una")[1]]
    assert actions.count("user.scope_grant") == 1 and actions.count("user.scope_revoke") == 1


def test_organisations_over_the_api(client, users) -> None:
    admin = users.headers("admin")
    created = client.post("/api/v1/organisations", json={"name": "Acme Pharma", "country": "DE"}, headers=admin)
    assert created.status_code == 201 and created.json()["for_profit"] is True
    assert client.post("/api/v1/organisations", json={"name": "Acme Pharma"}, headers=admin).status_code == 409
    bad = client.post("/api/v1/organisations", json={"name": "X", "country": "XX"}, headers=admin)
    assert bad.status_code == 422 and "ISO 3166" in bad.json()["detail"]
    client.post("/api/v1/organisations", json={"name": "Beta Bio"}, headers=admin)
    user = client.post("/api/v1/users", json={"username": "pia", "password": TEST_PASSWORD, "roles": ["partner"],
                                              "organisation": "Acme Pharma"}, headers=admin)
    assert user.status_code == 201 and user.json()["organisation"] == "Acme Pharma"
    scoped = client.post("/api/v1/users", json={"username": "tec", "password": TEST_PASSWORD,
                                                "roles": ["technician"], "scopes": ["site:Hangzhou"]}, headers=admin)
    assert scoped.json()["roles"] == [] and scoped.json()["scoped_roles"] == ["technician@site:Hangzhou"]
    tec = {"Authorization": "Bearer " + auth.create_token(client.app.state.db, "tec", "t").token}
    me = client.get("/api/v1/me", headers=tec).json()
    assert me["permissions"] == [] and me["scoped_permissions"]["specimen.read"] == \
        {"sites": ["Hangzhou"], "collections": []}
    assert set(me["scoped_permissions"]) == {"participant.read", "specimen.read", "specimen.count"}
    granted = client.post("/api/v1/users/pia/scoped-roles", json={"role": "clinician", "scope": "site:Suzhou"},
                          headers=admin)
    assert granted.status_code == 201 and granted.json()["scoped_roles"] == ["clinician@site:Suzhou"]
    revoked = client.delete("/api/v1/users/pia/scoped-roles", params={"role": "clinician", "scope": "site:Suzhou"},
                            headers=admin)
    assert revoked.json()["scoped_roles"] == []
    token = {"Authorization": "Bearer " + auth.create_token(client.app.state.db, "pia", "t").token}
    assert client.get("/api/v1/me", headers=token).json()["organisation"] == "Acme Pharma"
    own = client.get("/api/v1/organisations/Acme Pharma", headers=token)
    assert own.status_code == 200 and own.json()["members"] == ["pia"]
    other, unknown = (client.get(f"/api/v1/organisations/{n}", headers=token) for n in ("Beta Bio", "Nope"))
    assert other.status_code == unknown.status_code == 404 and other.json()["detail"].replace("Beta Bio", "X") \
        == unknown.json()["detail"].replace("Nope", "X")
    assert client.get("/api/v1/organisations", headers=token).status_code == 403
    moved = client.put("/api/v1/users/pia/organisation", json={"organisation": "Beta Bio"}, headers=admin)
    assert moved.json()["organisation"] == "Beta Bio"
    assert [o["name"] for o in client.get("/api/v1/organisations", headers=admin).json()] == \
        ["Acme Pharma", "Beta Bio"]


def test_two_administrators_creating_the_same_name_in_another_case_at_once_make_one_organisation(db) -> None:
    import threading

    for round_ in range(3):
        start = threading.Barrier(2)
        outcomes: list[str] = []

        def create(name: str, start: threading.Barrier = start, outcomes: list[str] = outcomes) -> None:
            start.wait()
            try:
                auth_api.create_organisation(db, name)
                outcomes.append("created")
            except Conflict:
                outcomes.append("refused")

        threads = [threading.Thread(target=create, args=(name,))
                   for name in (f"Acme {round_}", f"ACME {round_}")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["created", "refused"]
    assert len(auth_api.list_organisations(db)) == 3


def test_the_demo_places_the_demo_users_in_organisations_once(db) -> None:
    from lifebank.auth import demo

    auth.create_user(db, "partner", TEST_PASSWORD, ["partner"])
    auth.create_user(db, "clinician", TEST_PASSWORD, ["clinician"])
    demo.load_demo(db)
    demo.load_demo(db)
    assert [(o.name, o.kind, o.for_profit) for o in auth_api.list_organisations(db)] == [
        ("Fudan University", "university", False), ("LifeBank Biobank", "bank", False),
        ("Partner Pharma Ltd", "company", True), ("Ruijin Hospital", "hospital", False)]
    assert auth.get_user(db, "partner").organisation.name == "Partner Pharma Ltd"
    assert auth.get_user(db, "clinician").organisation.name == "Ruijin Hospital"
    assert len(audit.list_events(db, action="user.organisation")[1]) == 2
