"""Researchers see counts only outside an approved request (issue 11, item 1): a cohort's members and a
dataset's sample map name participants to readers of participants, and to a researcher only under an
approved data request of their organisation on that cohort (then its consent-eligible members, today)."""

from __future__ import annotations

import csv
import io

import pytest

from lifebank.access import coverage, service
from lifebank.auth import service as auth
from lifebank.biobank import service as bb
from lifebank.omics import cohorts
from lifebank.omics import service as omics

from .access_fixtures import ACTOR, Bank

# One biallelic site, six samples s1..s6 (linked to P000001..P000006 by the sample map).
VCF = ("##fileformat=VCFv4.2\n##contig=<ID=1,length=1000>\n"
       "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n"
       "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ts1\ts2\ts3\ts4\ts5\ts6\ts7\n"
       "1\t10\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/0\t1/1\t0/1\t0/0\t0/1\t0/1\n")
CODES = [f"P00000{i}" for i in range(1, 7)]


@pytest.fixture
def genomes(bank: Bank, tmp_path) -> Bank:
    vcf = tmp_path / "small.vcf"
    vcf.write_text(VCF)
    mapping = "vcf_sample,participant,specimen_barcode\n" + "".join(
        f"s{i},P00000{i},S00000{i}-0\n" for i in range(1, 7))  # s7 is linked to nobody
    omics.import_vcf(bank.db, tmp_path / "data", vcf, dataset="small", actor=ACTOR, sample_map=mapping)
    cohorts.save_cohort(bank.db, tmp_path / "data", "sh", cohorts.CohortCriteria(site="SH"), actor=ACTOR)
    return bank


def _data_request(bank: Bank, *, state: str = "approved", cohort: str = "sh", wants_data: bool = True) -> int:
    manager, alice = bank.principal("manager"), bank.principal("alice")
    request_id = service.create_request(bank.db, bank.draft(purposes=["HMB"], cohort=cohort, items=[],
                                                            wants_material=False, wants_data=wants_data),
                                        principal=alice)
    if state == "submitted":
        return request_id
    service.appoint_committee(bank.db, request_id, ["rev2"], principal=manager)
    service.cast_vote(bank.db, request_id, "reject" if state == "rejected" else "approve",
                      comment="not this cohort" if state == "rejected" else "", principal=bank.principal("rev2"))
    return request_id


def _headers(bank: Bank, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth.create_token(bank.db, username, 'test').token}"}


def test_a_researcher_without_an_approved_request_sees_counts_only(genomes: Bank, client) -> None:
    alice = _headers(genomes, "alice")
    answer = client.get("/api/v1/omics/cohorts/sh", headers=alice)
    assert answer.status_code == 200
    body = answer.json()
    assert body["members"] == [] and body["members_hidden"] == 6 and body["size"] == 6
    assert (body["members_total"], body["members_with_participant"], body["members_with_samples"],
            body["vcf_samples_total"]) == (6, 6, 6, 6)
    assert "P00000" not in answer.text
    export = client.get("/api/v1/omics/cohorts/sh/members/export", headers=alice)
    assert export.status_code == 200 and "P00000" not in export.text
    samples = client.get("/api/v1/omics/datasets/small/samples", headers=alice).json()
    assert [s["participant"] for s in samples] == [None] * 7 and [s["specimen_barcode"] for s in samples] == [None] * 7
    assert [s["linked"] for s in samples] == [True] * 6 + [False]
    preview = client.post("/api/v1/omics/cohorts/preview", json={"name": "x", "criteria": {"site": "SH"}},
                          headers=alice).json()
    assert preview["size"] == 6 and preview["members"] == [] and preview["members_hidden"] == 6
    # Genotype-level aggregates stay open: allele counts over the cohort.
    af = client.get("/api/v1/omics/af", params={"region": "1:1-100", "cohort": "sh"}, headers=alice).json()
    assert [(row["AC"], row["AN"]) for row in af] == [(5, 12)]
    # A reader of participants (the manager) sees every code, in the API, the export and the sample map.
    manager = _headers(genomes, "manager")
    assert [m["participant"] for m in client.get("/api/v1/omics/cohorts/sh", headers=manager).json()["members"]] \
        == CODES
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/omics/cohorts/sh/members/export",
                                                      headers=manager).content.decode("utf-8-sig"))))
    assert [r["participant"] for r in rows] == CODES
    assert [s["participant"] for s in client.get("/api/v1/omics/datasets/small/samples",
                                                 headers=manager).json()] == [*CODES, None]


@pytest.mark.parametrize("state,wants_data", [("submitted", True), ("rejected", True), ("approved", False)])
def test_a_request_not_approved_or_not_for_data_covers_nothing(genomes: Bank, state: str, wants_data: bool) -> None:
    _data_request(genomes, state=state, wants_data=wants_data)
    alice = genomes.principal("alice")
    assert not coverage.covers(genomes.db, alice, cohort="sh")
    assert coverage.covered_codes(genomes.db, alice) == frozenset()


def test_an_approved_data_request_shows_its_consent_eligible_members_to_its_organisation(genomes: Bank,
                                                                                         client) -> None:
    _data_request(genomes)
    alice = genomes.principal("alice")
    # HMB request without an ethics approval: P000003's consent is DS (breast cancer) only and P000005's
    # asks for an ethics approval (IRB), so both stay hidden.
    eligible = ["P000001", "P000002", "P000004", "P000006"]
    assert coverage.covers(genomes.db, alice, cohort="sh")
    assert sorted(coverage.covered_codes(genomes.db, alice, cohort="sh") or ()) == eligible
    body = client.get("/api/v1/omics/cohorts/sh", headers=_headers(genomes, "alice")).json()
    assert [m["participant"] for m in body["members"]] == eligible and body["members_hidden"] == 2
    samples = client.get("/api/v1/omics/datasets/small/samples", headers=_headers(genomes, "alice")).json()
    assert [s["participant"] for s in samples] == ["P000001", "P000002", None, "P000004", None,
                                                     "P000006", None]
    # Another organisation's researcher is not covered by Hospital A's request.
    auth.create_user(genomes.db, "oscar", "Correct-horse-battery-9", ["researcher"], organisation="Other Hospital")
    assert not coverage.covers(genomes.db, genomes.principal("oscar"), cohort="sh")
    assert client.get("/api/v1/omics/cohorts/sh", headers=_headers(genomes, "oscar")).json()["members"] == []
    # A donor who withdraws disappears from view at once; the cohort page says how many are not listed.
    bb.withdraw_consent(genomes.db, "P000006", reason="changed their mind", actor=ACTOR)
    assert "P000006" not in (coverage.covered_codes(genomes.db, alice, cohort="sh") or ())
    html = client.get("/omics/cohorts/sh", headers=_headers(genomes, "alice")).text
    assert "P000001" in html and "P000003" not in html and "P000006" not in html
    assert "3 members are not listed" in html
    assert 'id="members-hidden"' in html and 'id="member-counts"' in html
