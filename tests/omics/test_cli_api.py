"""`lifebank omics ...` as a user runs it, and the same use cases over the API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REAL_VCFS, bcftools, bcftools_pipeline

CHR22 = next(v for v in REAL_VCFS if "chr22" in v.name)
REGION = "chr22:10510000-10512000"


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lifebank", *args], env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=180)


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {"LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}


def test_cli_import_query_af_with_samples_file(cli_env, tmp_path):
    imported = run(["omics", "import", str(CHR22), "--dataset", "kg", "--format", "json"], cli_env)
    assert imported.returncode == 0, imported.stderr
    result = json.loads(imported.stdout)
    assert (result["batch"], result["records"], result["sites"], result["samples"]) == (1, 100, 104, 100)
    assert len(result["unmapped_samples"]) == 100

    query = run(["omics", "query", "--region", REGION, "--format", "json"], cli_env)
    assert query.returncode == 0, query.stderr
    expected = bcftools_pipeline(f"bcftools view -r {REGION} {CHR22} 2>/dev/null | bcftools norm -m- - 2>/dev/null"
                                 " | bcftools query -f '%POS:%REF:%ALT\\n'").split()
    assert [f"{r['pos']}:{r['ref']}:{r['alt']}" for r in json.loads(query.stdout)] == expected
    tsv = run(["omics", "query", "--region", REGION, "--format", "tsv"], cli_env)
    assert tsv.stdout.splitlines()[0] == "dataset\tchrom\tpos\tid\tref\talt\tqual\tfilter"
    assert len(tsv.stdout.splitlines()) == len(expected) + 1

    samples = bcftools("query", "-l", str(CHR22)).split()[10:40]
    samples_file = tmp_path / "samples.txt"
    samples_file.write_text("\n".join(samples) + "\n")
    af = run(["omics", "af", "--region", REGION, "--dataset", "kg", "--samples", str(samples_file),
              "--format", "tsv"], cli_env)
    assert af.returncode == 0, af.stderr
    expected_af = bcftools_pipeline(
        f"bcftools view -r {REGION} {CHR22} 2>/dev/null | bcftools norm -m- - 2>/dev/null | "
        f"bcftools view -s {','.join(samples)} - | bcftools +fill-tags -- -t AC,AN,AF 2>/dev/null | "
        "bcftools query -f '%CHROM\\t%POS\\t%REF\\t%ALT\\t%AC\\t%AN\\t%AF\\n'")
    assert af.stdout == "CHROM\tPOS\tREF\tALT\tAC\tAN\tAF\n" + expected_af


def test_cli_errors_are_one_line(cli_env, tmp_path):
    missing = run(["omics", "query", "--region", "chr22:5-1"], cli_env)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: region 'chr22:5-1': need 1 <= START <= END"
    bad_map = tmp_path / "map.csv"
    bad_map.write_text("vcf_sample,participant,specimen_barcode\nHG00096,NOBODY,\n")
    refused = run(["omics", "import", str(CHR22), "--dataset", "kg", "--sample-map", str(bad_map),
                   "--format", "json"], cli_env)
    assert refused.returncode == 1
    assert json.loads(refused.stdout) == [
        {"line": 2, "column": "participant", "reason": "no participant 'NOBODY' in the biobank"}]


def test_api_import_variants_af_cohort(client, users):
    writer = users.headers("admin")
    reader = users.headers("researcher")
    with CHR22.open("rb") as handle:
        response = client.post("/api/v1/omics/datasets/kg/imports", headers=writer,
                               files={"file": ("chr22.vcf.gz", handle, "application/gzip")})
    assert response.status_code == 201, response.text
    assert response.json()["sites"] == 104
    assert client.post("/api/v1/omics/datasets/kg/imports", headers=reader,
                       files={"file": ("x.vcf", b"", "text/plain")}).status_code == 403

    page = client.get("/api/v1/omics/variants", params={"region": REGION, "limit": 5}, headers=reader).json()
    assert page["limit"] == 5 and len(page["items"]) == 5 and page["total"] > 5
    assert page["items"][0]["info"]["VQSLOD"] is not None

    samples = bcftools("query", "-l", str(CHR22)).split()[:20]
    counts = client.post("/api/v1/omics/af", json={"region": REGION, "samples": samples}, headers=reader).json()
    expected = bcftools_pipeline(
        f"bcftools view -r {REGION} {CHR22} 2>/dev/null | bcftools norm -m- - 2>/dev/null | "
        f"bcftools view -s {','.join(samples)} - | bcftools +fill-tags -- -t AC,AN 2>/dev/null | "
        "bcftools query -f '%POS\\t%AC\\t%AN\\n'")
    assert [f"{c['POS']}\t{c['AC']}\t{c['AN']}" for c in counts] == expected.splitlines()

    # a genotype-only cohort (no biobank links yet): carriers are VCF samples, kept, never dropped
    body = {"name": "carriers", "criteria": {"region": REGION, "max_af": 0.15}}
    created = client.post("/api/v1/omics/cohorts", json=body, headers=reader)
    assert created.status_code == 201, created.text
    cohort = created.json()
    assert cohort["size"] == len(cohort["members"]) > 0
    assert all(m["participant"] is None for m in cohort["members"])
    members = [s for m in cohort["members"] for s in m["vcf_samples"]]
    # carriers of an ALT allele at the two sites with AF < 0.15 (10510770 and 10511551), per bcftools
    expected_carriers = bcftools_pipeline(
        f"bcftools view -r chr22:10510770,chr22:10511551 {CHR22} 2>/dev/null | "
        "bcftools query -f '[%SAMPLE\t%GT\n]' | grep -E '\t(1[/|]|.[/|]1)' | cut -f1 | sort -u").split()
    assert sorted(members) == expected_carriers
    reuse = client.get("/api/v1/omics/af", params={"region": REGION, "cohort": "carriers"}, headers=reader).json()
    direct = client.post("/api/v1/omics/af", json={"region": REGION, "samples": members}, headers=reader).json()
    assert reuse == direct
    assert client.post("/api/v1/omics/cohorts", json=body, headers=reader).status_code == 409
    assert client.get("/api/v1/omics/af", params={"region": REGION}).status_code == 401


def test_api_sample_map_errors_are_listed_in_the_problem(client, users):
    headers = users.headers("admin")
    mapping = b"vcf_sample,participant,specimen_barcode\nHG00096,NOBODY,\nHG00097,,\n"
    with CHR22.open("rb") as handle:
        response = client.post("/api/v1/omics/datasets/kg/imports", headers=headers,
                               files={"file": ("chr22.vcf.gz", handle, "application/gzip"),
                                      "sample_map": ("map.csv", mapping, "text/csv")})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"] == [
        {"line": 3, "column": "participant", "reason": "give a participant code, a specimen barcode or both"}]
    assert client.get("/api/v1/omics/datasets", headers=headers).json() == []


def test_api_cohort_refuses_unknown_values_and_empty_cohorts_and_deletes(client, users, db, tmp_path):
    from lifebank.omics import service

    from .conftest import EDGE_VCF

    vcf = tmp_path / "edge.vcf"
    vcf.write_text(EDGE_VCF)
    service.import_vcf(db, client.app.state.settings.data_dir, vcf, dataset="edge", actor="t")
    reader = users.headers("researcher")
    banana = client.post("/api/v1/omics/cohorts", json={"name": "b", "criteria": {"specimen_type": "BANANA"}},
                         headers=reader)
    assert banana.status_code == 422
    assert banana.json()["detail"].startswith("Specimen type (specimen_type): 'BANANA' is not a known value; "
                                              "choose one of ")
    chinese = client.post("/api/v1/omics/cohorts/preview", json={"name": "b", "criteria": {"specimen_status": "x"}},
                          headers={**reader, "Accept-Language": "zh-CN"})
    assert chinese.status_code == 422 and chinese.json()["detail"].startswith("样本状态（specimen_status）")
    nobody = {"name": "nobody", "criteria": {"variant": "2:999"}}
    refused = client.post("/api/v1/omics/cohorts", json=nobody, headers=reader)
    assert refused.status_code == 422 and "no members" in refused.json()["detail"]
    saved = client.post("/api/v1/omics/cohorts", json={**nobody, "allow_empty": True}, headers=reader)
    assert saved.status_code == 201 and saved.json()["size"] == 0
    carriers = client.post("/api/v1/omics/cohorts", json={"name": "c", "criteria": {"variant": "1:10:CT:C"}},
                           headers=reader).json()
    assert carriers["size"] == 3  # s1 0/1, s2 1|2, s4 ./1 carry CT>C
    export = client.get("/api/v1/omics/cohorts/c/members/export", params={"format": "csv"}, headers=reader)
    assert export.content.decode("utf-8-sig").splitlines() == [
        "participant,vcf_samples", ",s1", ",s2", ",s4"]
    assert client.delete("/api/v1/omics/cohorts/c", headers=users.headers("clinician")).status_code == 403
    deleted = client.delete("/api/v1/omics/cohorts/c", headers=reader)
    assert deleted.status_code == 200 and deleted.json()["size"] == 3
    assert client.get("/api/v1/omics/cohorts/c", headers=reader).status_code == 404
    assert client.delete("/api/v1/omics/cohorts/c", headers=reader).status_code == 404


def test_cli_cohort_create_refuses_banana_and_delete_removes(cli_env, tmp_path):
    from .conftest import EDGE_VCF

    vcf = tmp_path / "edge.vcf"
    vcf.write_text(EDGE_VCF)
    assert run(["omics", "import", str(vcf), "--dataset", "edge"], cli_env).returncode == 0
    banana = run(["omics", "cohort", "create", "b", "--where", "specimen_type=BANANA"], cli_env)
    assert banana.returncode == 1
    assert banana.stderr.startswith("error: Specimen type (specimen_type): 'BANANA' is not a known value")
    empty = run(["omics", "cohort", "create", "e", "--where", "variant=2:999"], cli_env)
    assert empty.returncode == 1 and "no members" in empty.stderr
    made = run(["omics", "cohort", "create", "c", "--where", "variant=1:10:CT:C"], cli_env)
    assert made.returncode == 0 and made.stdout.strip() == "saved cohort c: 3 members"
    gone = run(["omics", "cohort", "delete", "c"], cli_env)
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout.strip() == "deleted cohort c"
    assert json.loads(run(["omics", "cohort", "list", "--format", "json"], cli_env).stdout) == []
    again = run(["omics", "cohort", "delete", "c"], cli_env)
    assert again.returncode == 1 and again.stderr.strip() == "error: no cohort 'c'"
