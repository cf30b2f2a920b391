"""The registry through its HTTP API and its command line, with the exact JSON shapes of the issue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

API = "/api/v1/hla"
HEADER = "DonorId,DonorType,A_1,A_2,B_1,B_2,C_1,C_2,DPB1_1,DPB1_2,DQB1_1,DQB1_2,DRB1_1,DRB1_2"
DONORS = "\n".join([
    HEADER,
    "D1,adult,*01:01,*02:01,*08:01,*07:02,*07:01,*07:02,*04:01,*04:01,*02:01,*06:02,*03:01,*15:01",
    "D2,adult,*01:01,*03:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01",
    "C1,cord,*01:01,*02:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01",
]) + "\n"
PATIENT = ("A*01:01+A*02:01^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*03:01+DRB1*15:01^DQB1*02:01+DQB1*06:02"
           "^DPB1*04:01+DPB1*02:01")


def test_api_import_search_grade_update_delete(client, users):
    admin, clinician, researcher = users.headers("admin"), users.headers("clinician"), users.headers("researcher")
    assert client.post(f"{API}/donors/import", headers=clinician, content=DONORS).status_code == 403
    imported = client.post(f"{API}/donors/import", headers=admin, content=DONORS,
                           params={"donor_type": "adult"})
    assert imported.status_code == 201 and imported.json()["added"] == 3
    assert client.post(f"{API}/search", headers=researcher, json={"patient": PATIENT}).status_code == 403
    found = client.post(f"{API}/search", headers=clinician, json={"patient": PATIENT, "max_mismatches": 1})
    assert found.status_code == 200
    body = found.json()
    assert body["total"] == 3 and [i["donor_id"] for i in body["items"]] == ["D1", "C1", "D2"]
    assert body["items"][0]["loci"]["A"]["positions"][0].keys() == {"grade", "confidence", "antigen_match"}
    assert body["items"][0]["dpb1_tce"] == "permissive"
    via_get = client.get(f"{API}/search", headers=clinician,
                         params={"patient": PATIENT, "max_mismatches": 1, "donor_type": "cord"}).json()
    assert [i["donor_id"] for i in via_get["items"]] == ["C1"]
    graded = client.post(f"{API}/grade", headers=clinician, json={
        "patient": PATIENT, "donor": "A*01:01+A*03:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01"}).json()
    assert (graded["mismatch_count"], graded["match"]) == (1, "9/10")
    assert client.patch(f"{API}/donors/D2", headers=admin, json={"A_2": "*02:01"}).json()["revision"] == 2
    # D2 now matches A, B, DRB1; its untyped C and DQB1 are potential matches -> 0 mismatches
    assert client.post(f"{API}/search", headers=clinician, json={"patient": PATIENT}).json()["total"] == 3
    assert client.delete(f"{API}/donors/D1", headers=admin).status_code == 204
    assert client.get(f"{API}/donors/D1", headers=clinician).status_code == 404
    assert client.get(f"{API}/donors", headers=clinician).json()["total"] == 2
    assert client.get(f"{API}/index", headers=clinician).json()["donors"] == 2


def test_api_import_errors_are_a_list(client, users):
    admin = users.headers("admin")
    bad = HEADER + "\nX1,adult,*01:01,*99:99,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01\n"
    response = client.post(f"{API}/donors/import", headers=admin, content=bad)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"line": 2, "column": "A_2", "reason": "'A*99:99': A*99:99 is not an allele of IPD-IMGT/HLA 3.58.0"}]
    problem = client.post(f"{API}/grade", headers=admin, json={"patient": "A*01:01+Z", "donor": "A*01:01"})
    assert problem.status_code == 422 and "'Z'" in problem.json()["detail"]


def test_api_allele_lookup(client, users):
    clinician = users.headers("clinician")
    null = client.get(f"{API}/alleles/A*01:22N", headers=clinician)
    assert null.status_code == 200
    body = null.json()
    assert (body["status"], body["null"], body["g_groups"], body["lgx"]) == ("current", True, ["A*01:01:01G"],
                                                                             ["A*01:01"])
    assert (body["expressed_antigens"], body["serological_equivalents"], body["p_groups"]) == ([], ["A1"], [])
    renamed = client.get(f"{API}/alleles/DQB1*02:01:10", headers=clinician).json()
    assert (renamed["status"], renamed["current_name"]) == ("deleted", "DQB1*02:02:15")
    dp = client.get(f"{API}/alleles/DPB1*04:01:01:01", headers=clinician).json()
    assert dp["dpb1_tce"] == ["3"]
    assert client.get(f"{API}/alleles/A*99:99", headers=clinician).status_code == 404
    assert client.get(f"{API}/alleles/nonsense", headers=clinician).status_code == 422
    assert client.get(f"{API}/alleles/A*01:01").status_code == 401


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lifebank", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=180)


@pytest.mark.slow
def test_cli_grade_import_search(tmp_path: Path, db_url: str):
    env = {"LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    graded = run(["hla", "grade", PATIENT, "A*01:01+A*03:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01",
                  "--format", "json"], env)
    assert graded.returncode == 0, graded.stderr
    body = json.loads(graded.stdout)
    assert set(body) == {"mismatch_count", "match", "loci", "dpb1_tce"} and body["match"] == "9/10"
    assert set(body["loci"]["A"]) == {"mismatch_count", "untyped", "positions"}
    donors = tmp_path / "donors.csv"
    donors.write_text(DONORS)
    imported = run(["hla", "import", "donors", str(donors), "--format", "json"], env)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["added"] == 3
    found = run(["hla", "search", PATIENT, "--max-mismatches", "1", "--loci", "A,B,C,DRB1,DQB1", "--donor-type",
                 "adult", "--limit", "5", "--format", "json"], env)
    assert found.returncode == 0, found.stderr
    result = json.loads(found.stdout)
    assert result["total"] == 2 and [i["donor_id"] for i in result["items"]] == ["D1", "D2"]
    assert {"donor_id", "mismatch_count", "loci"} <= set(result["items"][0])
    capped = run(["hla", "search", PATIENT, "--max-mismatches", "1", "--cap", "A=0", "--format", "json"], env)
    assert [i["donor_id"] for i in json.loads(capped.stdout)["items"]] == ["D1", "C1"]
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "\nX1,adult,*01:01,*99:99,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01\n")
    rejected = run(["hla", "import", "donors", str(bad), "--format", "json"], env)
    assert rejected.returncode == 1
    assert json.loads(rejected.stdout)[0]["column"] == "A_2"
    wrong = run(["hla", "grade", "A*99:99", "A*01:01"], env)
    assert wrong.returncode == 1 and wrong.stderr.strip().startswith("error: patient: 'A*99:99'")
    allele = run(["hla", "allele", "C*02:10:01:01", "--format", "json"], env)
    assert allele.returncode == 0, allele.stderr
    assert json.loads(allele.stdout)["g_groups"] == ["C*02:02:37G"]
    unknown = run(["hla", "allele", "A*99:99"], env)
    assert unknown.returncode == 1 and "A*99:99 is not an allele of IPD-IMGT/HLA 3.58.0" in unknown.stderr
    macs = tmp_path / "numer.v3.txt"
    macs.write_text("*\tAB\t01/02\n")
    assert run(["hla", "macs", "load", str(macs)], env).returncode == 0
    mac_grade = run(["hla", "grade", "A*01:AB+A*02:01^B*08:01^DRB1*03:01", "A*01:01+A*02:01", "--format", "json"],
                    env)
    assert mac_grade.returncode == 0, mac_grade.stderr
