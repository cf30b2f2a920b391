"""Every Beacon endpoint, at every granularity, for every kind of caller, GET and POST: each response validates
against the vendored Beacon v2 schemas (framework envelope, and each record against the default Model)."""

from __future__ import annotations

import pytest

from lifebank.sharing import beacon

from .beacon_schemas import assert_valid, kind_of

B = "/api/beacon/v2"
SITE = "chr22-10510770-C-A"  # a record of the vendored 1000 Genomes extract that 5+ samples carry

INFORMATIONAL = {"info": f"{B}/info", "service-info": f"{B}/service-info", "configuration": f"{B}/configuration",
                 "map": f"{B}/map", "entry_types": f"{B}/entry_types", "filtering_terms": f"{B}/filtering_terms"}

# (path, GET query, the entry whose Model the records follow)
QUERIES = [
    ("individuals", "filters=NCIT:C16576", "individuals"),
    ("individuals", "filters=NCIT:C20197,DUO:0000042", "individuals"),
    ("individuals", "referenceName=22&start=10510769&alternateBases=A", "individuals"),
    ("individuals/P0001", "", "individuals"),
    ("individuals/P0004/biosamples", "", "biosamples"),
    ("biosamples", "filters=UBERON:0001969", "biosamples"),
    ("biosamples", "filters=lifebank:available", "biosamples"),
    ("biosamples/BLD0003", "", "biosamples"),
    ("g_variants", "referenceName=chr22&start=10510000&end=10512000", "g_variants"),
    ("g_variants", "referenceName=22&start=10510769&alternateBases=A&referenceBases=C", "g_variants"),
    ("g_variants", "geneId=XKR3", "g_variants"),
    (f"g_variants/{SITE}", "", "g_variants"),
    (f"g_variants/{SITE}/individuals", "", "individuals"),
    (f"g_variants/{SITE}/biosamples", "", "biosamples"),
    ("analyses", "", "analyses"),
    ("runs", "", "runs"),
    ("datasets", "", "datasets"),
    ("datasets/kg", "", "datasets"),
    ("datasets/kg/individuals", "filters=NCIT:C16576", "individuals"),
    ("cohorts", "", "cohorts"),
    ("cohorts/GRU women", "", "cohorts"),
    ("cohorts/GRU women/individuals", "", "individuals"),
]


@pytest.fixture
def callers(bank, users):
    beacon.set_level(bank.db, "kg", "PUBLIC", actor="test")
    beacon.set_level(bank.db, "biobank", "REGISTERED", actor="test")
    beacon.change_settings(bank.db, actor="test", budget=10_000)
    registered = users.headers("researcher", "reader")
    granted = users.headers("researcher", "partner1")
    beacon.grant_records(bank.db, "kg", "partner1", purposes="HMB", actor="test")
    beacon.grant_records(bank.db, "biobank", "partner1", purposes="HMB", actor="test")
    return {"anonymous": {}, "registered": registered, "granted": granted}


def test_informational_endpoints_validate(client, callers) -> None:
    for kind, url in INFORMATIONAL.items():
        response = client.get(url)
        assert response.status_code == 200, response.text
        assert_valid(response.json(), kind)
    assert client.get(f"{B}").json()["response"]["id"] == "org.lifebank.beacon"


def test_every_entry_endpoint_at_every_granularity_validates(client, callers) -> None:
    for granularity in ("boolean", "count", "record"):
        _check_granularity(client, callers, granularity)


def _check_granularity(client, callers, granularity: str) -> None:
    seen_kinds = set()
    for who, headers in callers.items():
        for path, query, entry in QUERIES:
            url = f"{B}/{path}?requestedGranularity={granularity}" + (f"&{query}" if query else "")
            response = client.get(url, headers=headers)
            body = response.json()
            kind = kind_of(body)
            seen_kinds.add((who, kind))
            assert_valid(body, kind, entry)
            assert response.status_code == (200 if kind != "error" else body["error"]["errorCode"]), (who, url)
            if kind != "error":
                assert body["meta"]["returnedGranularity"] in ("boolean", "count", "record")
    if granularity == "record":  # every caller gets what it may: booleans, counts, records
        assert ("granted", "record") in seen_kinds and ("granted", "collections") in seen_kinds
        assert ("registered", "count") in seen_kinds and ("anonymous", "boolean") in seen_kinds


def test_saved_cohorts_are_beacon_cohorts(client, callers) -> None:
    body = client.get(f"{B}/cohorts?requestedGranularity=record", headers=callers["granted"]).json()
    (cohort,) = body["response"]["collections"]
    assert cohort["id"] == "GRU women" and cohort["cohortType"] == "user-defined"
    assert cohort["cohortSize"] == len([i for i in range(100) if i % 2 == 0 and i % 3])  # even and female
    members = client.get(f"{B}/cohorts/GRU women/individuals?requestedGranularity=record&limit=100",
                         headers=callers["granted"]).json()
    records = members["response"]["resultSets"][0]["results"]
    assert {r["sex"]["id"] for r in records} == {"NCIT:C16576"}
    assert members["responseSummary"]["numTotalResults"] == cohort["cohortSize"]


def test_post_bodies_validate_and_match_get(client, callers) -> None:
    body = {"meta": {"apiVersion": "v2.0"}, "query": {
        "requestParameters": {"referenceName": "22", "start": [10510000], "end": [10512000]},
        "filters": [], "requestedGranularity": "record", "pagination": {"skip": 0, "limit": 5}}}
    posted = client.post(f"{B}/g_variants", json=body, headers=callers["granted"]).json()
    assert_valid(posted, "record", "g_variants")
    got = client.get(f"{B}/g_variants?referenceName=22&start=10510000&end=10512000&requestedGranularity=record"
                     "&limit=5", headers=callers["granted"]).json()
    assert posted["response"] == got["response"]
    assert len(posted["response"]["resultSets"][0]["results"]) == 5
    filters = {"meta": {"apiVersion": "v2.0"}, "query": {"filters": [{"id": "NCIT:C16576"}],
                                                         "requestedGranularity": "count"}}
    counted = client.post(f"{B}/individuals", json=filters, headers=callers["registered"]).json()
    assert_valid(counted, "count")
    assert counted["responseSummary"]["numTotalResults"] == 66  # every F participant (biobank holds them all)


def test_first_record_is_the_site_the_tests_name(client, callers) -> None:
    body = client.get(f"{B}/g_variants/{SITE}?requestedGranularity=record", headers=callers["granted"]).json()
    record = body["response"]["resultSets"][0]["results"][0]
    assert record["variantInternalId"] == SITE
    assert record["variation"]["location"]["interval"]["start"]["value"] == 10510769  # 0-based
    assert all(case["zygosity"]["id"].startswith("GENO:") for case in record["caseLevelData"])
