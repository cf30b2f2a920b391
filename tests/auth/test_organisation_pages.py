"""The administrator's organisation forms: create an organisation, choose a user's organisation, grant and take
away a scoped role — errors inline in the reader's language, every change ledgered."""

from __future__ import annotations

import re

from lifebank.audit import service as audit
from lifebank.auth import organisations
from lifebank.auth import service as auth

PASSWORD = "Correct-horse-battery-9"


def _login(client, username: str, language: str | None = None) -> str:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    if language:
        client.cookies.set("lifebank_lang", language)
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return token


def test_an_administrator_creates_an_organisation_and_places_a_user_in_it(client, db) -> None:
    auth.create_user(db, "kate", PASSWORD, ["admin"])
    token = _login(client, "kate")
    created = client.post("/admin/organisations", data={"name": "Acme Pharma", "kind": "company", "country": "de",
                                                        "for_profit": "", "csrf_token": token},
                          follow_redirects=False)
    assert created.status_code == 303
    page = client.get(created.headers["location"]).text
    assert "Organisation Acme Pharma created." in page and "<td>DE</td>" in page
    assert organisations.get_organisation(db, "Acme Pharma").for_profit is True
    made = client.post("/admin/users", data={"username": "pia", "password": PASSWORD, "role": ["partner"],
                                             "organisation": "Acme Pharma", "csrf_token": token},
                       follow_redirects=False)
    assert made.status_code == 303 and auth.get_user(db, "pia").organisation.name == "Acme Pharma"
    client.post("/admin/organisations", data={"name": "Fudan University", "kind": "university",
                                              "csrf_token": token})
    moved = client.post("/admin/users/pia/organisation", data={"organisation": "Fudan University",
                                                               "csrf_token": token}, follow_redirects=True)
    assert "Organisation saved." in moved.text and 'id="user-organisation-name">Fudan University' in moved.text
    listing = client.get("/admin/organisations").text
    assert '<a href="/admin/users/pia">pia</a>' in listing
    assert [e.action for e in audit.list_events(db, entity_type="user", entity_id="pia")[1]][0] == \
        "user.organisation"


def test_organisation_mistakes_are_shown_in_the_form_in_chinese(client, db) -> None:
    auth.create_user(db, "kate", PASSWORD, ["admin"])
    token = _login(client, "kate", language="zh_Hans")
    bad = client.post("/admin/organisations", data={"name": "Nowhere", "country": "ZZ", "csrf_token": token})
    assert bad.status_code == 422 and "text/html" in bad.headers["content-type"]
    assert "不是 ISO 3166-1 二字母国家代码" in bad.text and 'value="Nowhere"' in bad.text
    assert "机构" in client.get("/admin/organisations").text


def test_scoped_roles_are_granted_and_taken_away_on_the_user_page(client, db) -> None:
    auth.create_user(db, "kate", PASSWORD, ["admin"])
    auth.create_user(db, "tess", PASSWORD, ["researcher"])
    token = _login(client, "kate")
    granted = client.post("/admin/users/tess/scoped-roles", data={"role": "technician", "scope_type": "site",
                                                                  "scope_name": "Hangzhou", "csrf_token": token},
                          follow_redirects=True)
    assert "Scoped role granted." in granted.text and "Technician · Site Hangzhou" in granted.text
    principal = auth.principal_of(auth.get_user(db, "tess"))
    assert principal.can_within("specimen.read") and not principal.can("specimen.read")
    refused = client.post("/admin/users/tess/scoped-roles", data={"role": "partner", "scope_type": "site",
                                                                  "scope_name": "Hangzhou", "csrf_token": token})
    assert refused.status_code == 422 and "holds no permission a site or collection can limit" in refused.text
    removed = client.post("/admin/users/tess/scoped-roles/remove",
                          data={"role": "technician", "scope": "site:Hangzhou", "csrf_token": token},
                          follow_redirects=True)
    assert "Scoped role taken away." in removed.text and "No scoped roles." in removed.text
    stale = client.post("/admin/users/tess/scoped-roles/remove",
                        data={"role": "technician", "scope": "site:Hangzhou", "csrf_token": token})
    assert stale.status_code == 409 and "holds no technician grant in site:Hangzhou" in stale.text


def test_only_an_administrator_opens_the_organisations_page(client, db) -> None:
    auth.create_user(db, "rita", PASSWORD, ["biobank_manager"])
    _login(client, "rita")
    assert client.get("/admin/organisations").status_code == 403
