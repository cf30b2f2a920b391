"""The pages over the test client: the order list and its forms, the chain page with its step form (refusal
inline, in Chinese too), the bedside check refusing a wrong bag and accepting the right one."""

from __future__ import annotations

import re

from lifebank.auth import service as auth

from .conftest import DOB

PASSWORD = "Correct-horse-battery-9"


def _login(client, db, username: str, role: str) -> str:
    auth.create_user(db, username, PASSWORD, [role])
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
                       follow_redirects=False).status_code == 303
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/celltherapy").text).group(1)


def test_pages_order_chain_and_bedside(client, chain) -> None:
    token = _login(client, chain.db, "mara", "biobank_manager")
    auth.create_user(chain.db, "nurse2", PASSWORD, ["clinician"])
    listing = client.get("/celltherapy")
    assert listing.status_code == 200 and 'id="new-order"' in listing.text and 'id="slot-form"' in listing.text
    refused = client.post("/celltherapy/orders", data={"csrf_token": token, "participant": "P1", "product": "car-t",
                                                       "centre": "Ruijin", "identity_kind": "dob",
                                                       "identity_value": "05/04/1970"})
    assert refused.status_code == 422 and "is not a date (YYYY-MM-DD)" in refused.text
    created = client.post("/celltherapy/orders", data={"csrf_token": token, "participant": "P1", "product": "car-t",
                                                       "centre": "Ruijin", "identity_kind": "dob",
                                                       "identity_value": DOB}, follow_redirects=False)
    assert created.status_code == 303
    coi = created.headers["location"].rsplit("/", 1)[1]
    page = client.get(f"/celltherapy/orders/{coi}")
    assert "Next step: Collection (apheresis)" in page.text and 'name="f_cd3_e9"' in page.text
    missing = client.post(f"/celltherapy/orders/{coi}/steps", data={
        "csrf_token": token, "step": "collection", "f_volume_ml": "250", "signer1": "mara", "password1": PASSWORD})
    assert missing.status_code == 422 and "step collection needs tnc_e9, cd3_e9" in missing.text
    assert 'value="250"' in missing.text and PASSWORD not in missing.text  # what was typed is kept, never a password
    zh = client.post(f"/celltherapy/orders/{coi}/steps", headers={"Accept-Language": "zh-CN"}, data={
        "csrf_token": token, "step": "collection", "f_volume_ml": "250", "signer1": "mara", "password1": PASSWORD})
    assert "步骤 collection 需要 tnc_e9, cd3_e9" in zh.text
    order = {"coi": coi, "product": "car-t", "participant": "P1"}
    chain.run(order, until="bedside-verification")
    page = client.get(f"/celltherapy/orders/{coi}")
    assert page.text.count('class="todo"') == 2 and "<svg" in page.text and "✍ tech1" in page.text
    specimen = f"{coi}-X00020B0"  # the second product bag, registered in the biobank by the cryopreservation
    assert f'href="/biobank/specimens/{specimen}"' in page.text and "LN2-01/R1/BOX-1/A2" in page.text
    banked = client.get(f"/biobank/specimens/{specimen}")
    assert banked.status_code == 200 and f"COI {coi}" in banked.text and "LN2-01/R1/BOX-1/A2" in banked.text
    values = chain.values(order, "bedside-verification")
    form = {"csrf_token": token, "step": "bedside-verification", "from": "bedside", "f_bag": values["bag"],
            "f_wristband_code": "P1", "f_wristband_dob": DOB, "signer1": "mara", "password1": PASSWORD,
            "signer2": "nurse2", "password2": PASSWORD}
    wrong_bag = values["bag"].replace("0A0", "0B0")  # the other bag of the same order was not thawed
    refused = client.post(f"/celltherapy/orders/{coi}/steps", data={**form, "f_bag": wrong_bag})
    assert refused.status_code == 422 and "STOP" in refused.text and "is stored, not thawed" in refused.text
    accepted = client.post(f"/celltherapy/orders/{coi}/steps", data=form)
    assert accepted.status_code == 200 and "Verified: the bag and the patient match" in accepted.text
    assert "Second verification" in client.get(f"/celltherapy/orders/{coi}").text


def test_find_box_opens_an_order_from_its_din_or_a_bag(client, chain) -> None:
    _login(client, chain.db, "tina", "technician")
    order = chain.order()
    chain.run(order, until="shipment-to-centre")
    bag = chain.values(order, "thaw")["bag"]
    for text in (order["coi"], bag):
        answer = client.get("/find", params={"q": text}, follow_redirects=False)
        assert answer.status_code in (302, 303, 307) and answer.headers["location"].endswith(order["coi"])
