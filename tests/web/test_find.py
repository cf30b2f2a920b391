"""Find anything: one box, typed or scanned, jumps to the object a principal may open; else a list or "none"."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from shell_bank import BOX_PATH, build_shell_bank

from lifebank.web.find import Hit, clean_query, find_everywhere


@pytest.fixture
def bank(db):
    return build_shell_bank(db)


def _find(client, headers, q: str, language: str = "en"):
    return client.get("/find", params={"q": q}, headers={**headers, "Accept-Language": language},
                      follow_redirects=False)


def test_a_scanned_barcode_jumps_to_the_specimen(client, users, bank) -> None:
    headers = users.headers("technician")
    for scanned in (bank.tube, bank.tube.lower(), f"{bank.tube}\r\n", f"\t{bank.tube} "):
        response = _find(client, headers, scanned)
        assert response.status_code == 303, scanned
        assert response.headers["location"] == f"/biobank/specimens/{bank.tube}"


def test_participant_container_position_and_donor_each_open_their_page(client, users, bank) -> None:
    headers = users.headers("admin")
    assert _find(client, headers, "p000001").headers["location"] == "/biobank/participants/P000001"
    box = _find(client, headers, BOX_PATH)
    assert box.headers["location"] == f"/biobank/storage?path={quote(BOX_PATH, safe='')}"
    assert _find(client, headers, f"/{BOX_PATH}/").headers["location"] == box.headers["location"]
    freezer = _find(client, headers, "Site A/Freezer 1")
    assert freezer.headers["location"] == "/biobank/storage?path=Site%20A%2FFreezer%201"
    assert _find(client, headers, f"{BOX_PATH}/a1").headers["location"] == f"/biobank/specimens/{bank.tube}"
    empty_position = _find(client, headers, f"{BOX_PATH}/D5")
    assert empty_position.headers["location"] == box.headers["location"]
    assert _find(client, headers, "D1").headers["location"] == "/hla/donors/D1"
    # the object pages the hits point to answer (participant and donor pages belong to their domains)
    assert client.get(box.headers["location"], headers=headers).status_code == 200
    assert client.get(f"/biobank/specimens/{bank.tube}", headers=headers).status_code == 200


def test_several_hits_give_a_list_and_none_says_so(client, users, bank) -> None:
    headers = users.headers("admin")
    several = _find(client, headers, bank.twin)
    assert several.status_code == 200
    assert 'id="find-several"' in several.text
    assert f'href="/biobank/specimens/{bank.twin}"' in several.text
    assert f'href="/biobank/participants/{bank.twin}"' in several.text
    assert "<th>What</th>" in several.text
    none = _find(client, headers, "NO-SUCH-THING-42")
    assert none.status_code == 200
    assert "Nothing found for “NO-SUCH-THING-42”." in none.text
    chinese = _find(client, headers, "NO-SUCH-THING-42", language="zh-CN")
    assert "未找到与“NO-SUCH-THING-42”匹配的内容。" in chinese.text
    # the header box keeps what was searched, so a typo can be corrected in place
    assert 'value="NO-SUCH-THING-42"' in none.text


def test_hits_are_only_what_the_principal_may_open(client, users, bank) -> None:
    clinician = users.headers("clinician")  # participant.read, specimen.read; no storage.read
    assert _find(client, clinician, bank.tube).headers["location"] == f"/biobank/specimens/{bank.tube}"
    assert 'id="find-none"' in _find(client, clinician, BOX_PATH).text
    assert _find(client, clinician, f"{BOX_PATH}/A1").status_code == 200  # positions are storage
    assert 'id="find-none"' in _find(client, clinician, f"{BOX_PATH}/A1").text
    # A researcher sees counts only and a partner nothing of the bank: no specimen, participant or storage hit.
    for reader in (users.headers("researcher"), users.headers("partner")):
        for text in ("P000001", BOX_PATH, bank.twin, bank.tube):
            assert 'id="find-none"' in _find(client, reader, text).text, text
    assert 'id="find-none"' in _find(client, users.headers("partner"), "D1").text


def test_find_needs_a_login_and_an_empty_box_explains_itself(client, users, bank) -> None:
    anonymous = client.get("/find", params={"q": bank.tube}, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    empty = _find(client, users.headers("technician"), "   ")
    assert empty.status_code == 200 and 'id="find-hint"' in empty.text


def test_the_find_box_is_in_every_page_header_and_focused_only_on_the_dashboard(client, users, bank) -> None:
    headers = users.headers("admin")
    dashboard = client.get("/dashboard", headers=headers).text
    assert 'action="/find"' in dashboard and 'name="q"' in dashboard
    assert dashboard.count("autofocus") == 1
    for path in ("/biobank/specimens", "/audit", "/admin/users", f"/biobank/specimens/{bank.tube}"):
        page = client.get(path, headers=headers)
        assert page.status_code == 200, path
        assert 'action="/find"' in page.text, path
        assert "autofocus" not in page.text.split("</header>")[0], path
    login = client.get("/login").text
    assert 'action="/find"' not in login


@given(st.text(max_size=60))
def test_clean_query_strips_what_scanners_add_and_keeps_inner_spaces(text: str) -> None:
    cleaned = clean_query(f"\t{text}\r\n")
    assert cleaned == cleaned.strip()
    assert all(ch.isprintable() for ch in cleaned)
    assert clean_query(f"\x02{cleaned}\r") == cleaned.strip()


def test_find_everywhere_merges_domains_in_order_without_duplicates() -> None:
    a, b = Hit("X1", "/a/X1", "specimen"), Hit("X1", "/b/X1", "participant")
    hits = find_everywhere(None, " X1 ", None, finders=[lambda db, t, p: [a], lambda db, t, p: [a, b]])
    assert hits == [a, b]
    assert find_everywhere(None, "x" * 201, None, finders=[lambda db, t, p: [a]]) == []
