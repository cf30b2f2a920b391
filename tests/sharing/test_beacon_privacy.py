"""Security levels, granularity by caller, the count threshold, the variant-query budget (the
Shringarpure–Bustamante attack played out) and the query ledger; every malformed request's error response."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from lifebank.audit.models import LedgerChange, LedgerEvent
from lifebank.audit.service import verify
from lifebank.errors import ValidationFailed
from lifebank.omics import service as omics
from lifebank.sharing import beacon

from .beacon_schemas import assert_valid

B = "/api/beacon/v2"


def _count(client, url, headers=None):
    body = client.get(url, headers=headers or {}).json()
    return body["meta"]["returnedGranularity"], body["responseSummary"]


def test_security_levels_decide_what_each_caller_sees(client, bank, users) -> None:
    reader = users.headers("researcher", "reader")
    url = f"{B}/individuals?requestedGranularity=count&filters=NCIT:C16576&datasets=kg"
    # CONTROLLED (the default): anonymous 401, registered 403, both in the framework's error shape
    for headers, code in (({}, 401), (reader, 403)):
        response = client.get(url, headers=headers)
        assert response.status_code == code
        assert_valid(response.json(), "error")
        assert "CONTROLLED" in response.json()["error"]["errorMessage"]
    beacon.set_level(bank.db, "kg", "REGISTERED", actor="test")
    assert client.get(url).status_code == 401
    assert _count(client, url, reader) == ("count", {"exists": True, "numTotalResults": 66})
    beacon.set_level(bank.db, "kg", "PUBLIC", actor="test")
    assert _count(client, url) == ("boolean", {"exists": True})  # anonymous: boolean only
    beacon.change_settings(bank.db, actor="test", anonymous_granularity="count")
    assert _count(client, url) == ("count", {"exists": True, "numTotalResults": 66})
    # records only with a grant
    record = url.replace("count", "record")
    assert client.get(record, headers=reader).json()["meta"]["returnedGranularity"] == "count"
    beacon.grant_records(bank.db, "kg", "reader", purposes="HMB", actor="test")
    body = client.get(record + "&limit=100", headers=reader).json()
    assert body["meta"]["returnedGranularity"] == "record"
    assert len(body["response"]["resultSets"][0]["results"]) == 66
    assert {r["sex"]["id"] for r in body["response"]["resultSets"][0]["results"]} == {"NCIT:C16576"}


def test_counts_below_the_threshold_are_never_shown(client, bank, users) -> None:
    beacon.set_level(bank.db, "kg", "PUBLIC", actor="test")
    reader = users.headers("researcher", "reader")
    # one sample carries this allele (checked from the store): the count 1 must not be shown
    rows = omics.genotypes(bank.db, bank.settings.data_dir, "chr22:10513440-10513440", dataset="kg")
    carriers = {r["sample_id"] for r in rows if 1 in (r["a1"], r["a2"])}
    assert 0 < len(carriers) < 5
    url = f"{B}/individuals?requestedGranularity=count&referenceName=22&start=10513439&alternateBases=G"
    granularity, summary = _count(client, url, reader)
    assert (granularity, summary) == ("boolean", {"exists": True})
    body = client.get(url, headers=reader).json()
    assert "count is not shown" in body["info"]["note"]
    beacon.change_settings(bank.db, actor="test", threshold=2)
    assert _count(client, url, reader)[0] == ("count" if len(carriers) >= 2 else "boolean")
    beacon.grant_records(bank.db, "kg", "reader", purposes="HMB", actor="test")
    beacon.change_settings(bank.db, actor="test", threshold=5)
    body = client.get(url.replace("=count", "=record"), headers=reader).json()
    assert body["responseSummary"]["numTotalResults"] == len(carriers)  # record access: the exact figure
    with pytest.raises(ValidationFailed):
        beacon.change_settings(bank.db, actor="test", threshold=1)


def test_membership_attack_is_stopped_by_the_budget(client, bank) -> None:
    """Shringarpure & Bustamante (2015): ask a Beacon about each allele of a genome; a member answers "yes"
    far more often than chance. LifeBank's budget ends the attack after `budget` questions, says why, and
    every question (answered or refused) is in the ledger."""
    beacon.set_level(bank.db, "kg", "PUBLIC", actor="test")
    beacon.change_settings(bank.db, actor="test", budget=3, window_hours=24)
    rows = omics.genotypes(bank.db, bank.settings.data_dir, "chr22:10510000-10520000", dataset="kg")
    alleles: dict[str, set] = {}
    for r in rows:
        if 1 in (r["a1"], r["a2"]) and r["alt"] != "*":
            alleles.setdefault(r["sample_id"], set()).add((r["pos"], r["ref"], r["alt"]))
    target = sorted(max(alleles.values(), key=len))  # the genome with the most non-reference alleles here
    assert len(target) > 3  # more alleles than the budget allows questions
    answered, refused = [], None
    for pos, ref, alt in target:
        response = client.get(f"{B}/g_variants?referenceName=chr22&start={pos - 1}&referenceBases={ref}"
                              f"&alternateBases={alt}")
        if response.status_code == 429:
            refused = response.json()
            break
        answered.append(response.json()["responseSummary"]["exists"])
    assert len(answered) == 3 and all(answered)  # a member: every answer "yes" until the budget ends it
    assert refused is not None
    assert_valid(refused, "error")
    message = refused["error"]["errorMessage"]
    assert "3 variant queries per 24 h" in message and "re-identification" in message
    # in Chinese too, when the caller asks for it
    chinese = client.get(f"{B}/g_variants?referenceName=22&start=10510769&alternateBases=A",
                         headers={"Accept-Language": "zh-CN"}).json()
    assert "查询配额已用完" in chinese["error"]["errorMessage"]
    # non-variant queries are not budgeted; every query is ledgered, and the chain still verifies
    assert client.get(f"{B}/individuals").status_code == 200
    # the log is written in batches off the request path; reading it writes this process's queue first
    assert [q["refused"] for q in beacon.query_log(bank.db, caller="ip:testclient")][:3] == [False, True, True]
    with bank.db.session() as session:
        events = session.scalars(select(LedgerChange.change_json).join(
            LedgerEvent, LedgerEvent.seq == LedgerChange.seq).where(LedgerEvent.action == "beacon.query")).all()
    listed = [q for change in events for q in json.loads(change)["queries"]]
    assert len(listed) == 3 + 2 + 1  # every query, answered or refused, is in the ledger
    assert [q["refused"] for q in listed] == [False] * 3 + [True] * 2 + [False]
    assert {q["caller"] for q in listed} == {"ip:testclient"} and listed[-1]["endpoint"] == "individuals"
    assert verify(bank.db).ok


MALFORMED = [
    ("individuals?filters=NCIT:C0000", "unknown filter NCIT:C0000"),
    ("individuals?filters=HP:0001250", "unknown filter HP:0001250"),
    ("analyses?filters=NCIT:C16576", "does not apply to analyses"),
    ("individuals?requestedGranularity=aggregated", "requestedGranularity 'aggregated' is not one of"),
    ("g_variants?referenceName=22&start=-5&alternateBases=A", "start must be at least 0"),
    ("g_variants?referenceName=22&start=abc&alternateBases=A", "start must be a whole number"),
    ("g_variants?referenceName=22&start=100&end=50", "must be greater than start"),
    ("g_variants?referenceName=chrQ&start=100&end=200", "is not a chromosome"),
    ("g_variants?start=100&end=200", "referenceName is required"),
    ("g_variants?referenceName=22&start=100", "needs alternateBases"),
    ("g_variants?referenceName=22&start=100&alternateBases=XYZ", "is not a sequence of bases"),
    ("g_variants", "needs referenceName"),
    ("individuals?limit=5000", "above the maximum"),
    ("individuals?colour=blue", "unknown request parameter"),
    ("g_variants/chr22-notanumber", "is not CHROM-POS-REF-ALT"),
    ("nowhere", "no Beacon endpoint /nowhere"),
]


def test_malformed_requests_get_the_framework_error(client, bank) -> None:
    beacon.set_level(bank.db, "kg", "PUBLIC", actor="test")
    for query, reason in MALFORMED:
        response = client.get(f"{B}/{query}")
        body = response.json()
        assert response.status_code in (400, 404), body
        assert_valid(body, "error")
        assert body["error"]["errorCode"] == response.status_code
        assert reason in body["error"]["errorMessage"], (query, body)


def test_malformed_post_bodies_and_tokens(client, bank) -> None:
    beacon.set_level(bank.db, "kg", "PUBLIC", actor="test")
    for content, reason in ((b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object"),
                            (b'{"query": {"filters": [{"operator": "="}]}}', "each filter needs an id"),
                            (b'{"query": {"requestParameters": {"start": [1, 2, 3], "referenceName": "1"}}}',
                             "one position")):
        response = client.post(f"{B}/individuals", content=content, headers={"Content-Type": "application/json"})
        assert response.status_code == 400
        assert_valid(response.json(), "error")
        assert reason in response.json()["error"]["errorMessage"]
    bad_token = client.get(f"{B}/individuals", headers={"Authorization": "Bearer nope"})
    assert bad_token.status_code == 401
    assert_valid(bad_token.json(), "error")


def test_coordinates_are_zero_based_and_contig_names_flexible(client, bank) -> None:
    beacon.set_level(bank.db, "kg", "PUBLIC", actor="test")
    at = "g_variants?referenceBases=C&alternateBases=A&referenceName="
    assert client.get(f"{B}/{at}22&start=10510769").json()["responseSummary"]["exists"] is True
    assert client.get(f"{B}/{at}chr22&start=10510769").json()["responseSummary"]["exists"] is True
    assert client.get(f"{B}/{at}22&start=10510770").json()["responseSummary"]["exists"] is False  # 1-based: no
    # a half-open range: [10510769, 10510770) holds the record, [10510770, 10510800) does not
    assert client.get(f"{B}/g_variants?referenceName=22&start=10510769&end=10510770").json()[
        "responseSummary"]["exists"] is True
    assert client.get(f"{B}/g_variants?referenceName=22&start=10510770&end=10510800").json()[
        "responseSummary"]["exists"] is False
    # assemblyId: the dataset is GRCh38; GRCh37 coordinates mean nothing there
    assert client.get(f"{B}/{at}22&start=10510769&assemblyId=GRCh38.p13").json()["responseSummary"]["exists"]
    assert not client.get(f"{B}/{at}22&start=10510769&assemblyId=hg19").json()["responseSummary"]["exists"]
    # a site in the file that no sample of the dataset carries (AC=0) is no answer
    assert client.get(f"{B}/g_variants?referenceName=22&start=10510060&alternateBases=T").json()[
        "responseSummary"]["exists"] is False


def test_filters_on_sex_consent_and_sample_origin(client, bank, users) -> None:
    beacon.set_level(bank.db, "biobank", "REGISTERED", actor="test")
    reader = users.headers("researcher", "reader")

    def n(query: str) -> int:
        return client.get(f"{B}/{query}&requestedGranularity=count&datasets=biobank",
                          headers=reader).json()["responseSummary"]["numTotalResults"]

    assert n("individuals?filters=NCIT:C20197") == 34
    assert n("individuals?filters=DUO:0000042") == 50  # GRU: even participants
    assert n("individuals?filters=DUO:0000046,NCIT:C16576") == len([i for i in range(100) if i % 2 and i % 3])
    assert n("individuals?filters=UBERON:0001969") == 25  # blood plasma: every 4th participant
    assert n("biosamples?filters=UBERON:0001969") == 25
    assert n("biosamples?filters=UBERON:0000178") == 100
    assert n("biosamples?filters=UBERON:0000178,NCIT:C20197") == 34
