"""Frequency sets and predictions as use cases, on SQLite and PostgreSQL; the CLI's exact JSON shapes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from lifebank.audit.models import LedgerEvent
from lifebank.errors import Conflict, NotFound, RowsRejected, ValidationFailed
from lifebank.hla import prediction
from shared_data import SHARED_DATA

HAN = "A*02:07+A*33:03^B*46:01+B*58:01^DRB1*09:01+DRB1*03:01"
HAN_FULL = HAN + "^C*01:02+C*03:02^DQB1*03:03+DQB1*02:01"
TINY = "A*80:01~B*46:01~DRB1*09:01;0.5\nA*33:03~B*58:01~DRB1*03:01;0.5\n"
TINY5 = ("A*80:01~C*01:02~B*46:01~DRB1*09:01~DQB1*03:03;0.5\n"
         "A*33:03~C*03:02~B*58:01~DRB1*03:01~DQB1*02:01;0.5\n")
KEYS = {"p10of10", "p9of10", "p8of8", "p7of8", "loci"}


def test_load_list_and_refuse_duplicates_and_bad_lines(db, tmp_path: Path):
    path = tmp_path / "tiny.txt"
    path.write_text(TINY)
    loaded = prediction.load_set(db, path, name="TINY", population="CHI", registries=["CMDP"], actor="tester")
    assert (loaded["haplotypes"], loaded["resolution"], loaded["loci"]) == (2, "two_field", ["A", "B", "DRB1"])
    names = [s["name"] for s in prediction.list_sets(db)]
    assert names == ["NMDP-2007-API", "NMDP-2007-EUR", "TINY"]
    with db.session() as session:
        event = session.execute(select(LedgerEvent).order_by(LedgerEvent.seq.desc())).scalars().first()
        assert event.action == "hla.frequencies.load" and event.entity_id == "TINY"
    with pytest.raises(Conflict, match="already loaded"):
        prediction.load_set(db, path, name="TINY", actor="tester")
    with pytest.raises(Conflict, match="built in"):
        prediction.load_set(db, path, name="NMDP-2007-API", actor="tester")
    bad = tmp_path / "bad.txt"
    bad.write_text("A*01:01~B*08:01;0.1\nA*01:01~B*08:01;x\nA*99:99~B*08:01;0.1\n")
    with pytest.raises(RowsRejected) as caught:
        prediction.load_set(db, bad, name="BAD", actor="tester")
    assert [(e.line, str(e.reason)) for e in caught.value.errors] == [
        (2, "frequency 'x' is not a number from 0 to 1")]
    unknown = tmp_path / "unknown.txt"
    unknown.write_text("A*01:01~B*08:01;0.1\nA*99:99~B*08:01;0.1\n")
    with pytest.raises(ValidationFailed, match=r"not in IPD-IMGT/HLA 3.58.0: A\*99:99"):
        prediction.load_set(db, unknown, name="UNK", actor="tester")
    with pytest.raises(ValidationFailed, match="cannot read"):
        prediction.load_set(db, tmp_path / "missing.txt", name="M", actor="tester")
    assert [s["name"] for s in prediction.list_sets(db)] == names  # nothing half-written
    assert prediction.get_set(db, "TINY").registries == ("CMDP",)
    assert prediction.set_for(db, registry="CMDP") == "TINY"
    assert prediction.set_for(db, population="EUR") == "NMDP-2007-EUR"
    assert prediction.set_for(db, registry="LB") == "NMDP-2007-API"


def test_predict_shapes_fallback_and_unrepresented(db, tmp_path: Path):
    got = prediction.predict(db, HAN_FULL, HAN, frequencies="NMDP-2007-API")
    assert set(got) == KEYS and set(got["loci"]) == {"A", "B", "C", "DQB1", "DRB1"}
    assert got["p10of10"] == pytest.approx(0.9510137829, abs=1e-9)
    assert got["p9of10"] == pytest.approx(1 - got["p10of10"])
    # A*80:01 is in no built-in set: with an explicit set the answer says so and guesses nothing
    rare = HAN.replace("A*02:07", "A*80:01")
    unknown = prediction.predict(db, rare, HAN, frequencies="NMDP-2007-API")
    assert unknown["p10of10"] is None and unknown["loci"]["A"]["p0"] is None
    assert unknown["unrepresented"] == [{"side": "patient", "set": "NMDP-2007-API",
                                         "positions": [{"locus": "A", "typing": "A*80:01"}]}]
    # without --frequencies the documented fallback tries the other sets: a set that has it explains it
    # (never to a set covering fewer loci: a three-locus set cannot stand in for a five-locus one)
    path = tmp_path / "tiny.txt"
    path.write_text(TINY)
    prediction.load_set(db, path, name="TINY", actor="tester")
    assert prediction.predict(db, rare, rare)["p10of10"] is None
    path.write_text(TINY5)
    prediction.load_set(db, path, name="TINY5", actor="tester")
    fallback = prediction.predict(db, rare, rare)
    assert fallback["p10of10"] == pytest.approx(1.0) and "unrepresented" not in fallback
    with pytest.raises(NotFound, match="frequency set NOPE is not loaded"):
        prediction.predict(db, HAN, HAN, frequencies="NOPE")
    with pytest.raises(ValidationFailed, match="patient"):
        prediction.predict(db, "A*99:99+A*01:01", HAN)


def test_pairs_in_order_and_bad_lines_named(db):
    answers = prediction.predict_pairs(db, f"{HAN_FULL}\t{HAN}\n\n{HAN}\t{HAN_FULL}\n", frequencies="NMDP-2007-API")
    assert len(answers) == 2 and answers[0]["p10of10"] == pytest.approx(answers[1]["p10of10"])
    with pytest.raises(RowsRejected) as caught:
        prediction.predict_pairs(db, f"{HAN}\n{HAN}\tA*99:99\n", frequencies="NMDP-2007-API")
    assert [(e.line, e.column) for e in caught.value.errors] == [(1, "line"), (2, "donor")]
    assert "A*99:99" in str(caught.value.errors[1].reason)


def test_imputed_genotypes_for_a_typing(db):
    found = prediction.imputed_genotypes(db, HAN, limit=2)
    assert found["set"] == "NMDP-2007-API" and found["represented"] and found["count"] == 5
    assert found["genotypes"][0]["haplotypes"] == ["A*02:07g~C*01:02~B*46:01~DRB1*09:01~DQB1*03:03",
                                                   "A*33:03~C*03:02~B*58:01g~DRB1*03:01~DQB1*02:01g"]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lifebank", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=180)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_cli_frequencies_and_predict_exact_shapes(tmp_path: Path, db_url: str):
    env = {"LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    freqs = SHARED_DATA / "hla" / "wmda-mvt3" / "task3-inputs" / "freqs.txt"
    loaded = run(["hla", "frequencies", "load", str(freqs), "--name", "MVT3", "--population", "EUR",
                  "--format", "json"], env)
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["haplotypes"] == 3394
    listed = run(["hla", "frequencies", "list", "--format", "json"], env)
    assert [s["name"] for s in json.loads(listed.stdout)] == ["NMDP-2007-API", "NMDP-2007-EUR", "MVT3"]
    one = run(["hla", "predict", HAN_FULL, HAN, "--frequencies", "NMDP-2007-API", "--format", "json"], env)
    assert one.returncode == 0, one.stderr
    body = json.loads(one.stdout)
    assert set(body) == KEYS and set(body["loci"]["A"]) == {"p0", "p1", "p2"}
    pairs = tmp_path / "pairs.tsv"
    eur = "A*01:01+A*02:01^C*07:01+C*07:02^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01^DQB1*02:01+DQB1*06:02"
    pairs.write_text(f"{eur}\t{eur.split('^C')[0]}\n{HAN}\t{HAN}\n")
    many = run(["hla", "predict", "--pairs", str(pairs), "--frequencies", "MVT3", "--format", "json"], env)
    assert many.returncode == 0, many.stderr
    lines = [json.loads(line) for line in many.stdout.splitlines()]
    assert len(lines) == 2 and set(lines[0]) == KEYS and 0 < lines[0]["p10of10"] < 1
    assert lines[1]["p10of10"] is None and lines[1]["unrepresented"][0]["set"] == "MVT3"  # A*02:07 is not in it
    bad = run(["hla", "frequencies", "load", str(freqs.parent.parent.parent / "haplotype-frequencies" /
                                                  "NMDP_2007_FiveLocus_Freqs.csv"), "--name", "ALL"], env)
    assert bad.returncode != 0 and "choose one with --population" in bad.stderr + bad.stdout


HEADER = "DonorId,DonorType,A_1,A_2,B_1,B_2,C_1,C_2,DPB1_1,DPB1_2,DQB1_1,DQB1_2,DRB1_1,DRB1_2,RegistryCode"
DONORS = "\n".join([
    HEADER,
    "FULL,adult,*02:07,*33:03,*46:01,*58:01,*01:02,*03:02,NULL,NULL,*03:03,*02:01,*09:01,*03:01,LB",
    "ABDR,adult,*02:07,*33:03,*46:01,*58:01,NULL,NULL,NULL,NULL,NULL,NULL,*09:01,*03:01,LB",
    "CMIS,adult,*02:07,*33:03,*46:01,*58:01,*01:03,*03:02,NULL,NULL,*03:03,*02:01,*09:01,*03:01,LB",
    "XX,adult,*02:XX,*33:XX,*46:01,*58:01,NULL,NULL,NULL,NULL,NULL,NULL,*09:01,*03:01,LB",
    "RARE,adult,*80:01,*33:03,*46:01,*58:01,NULL,NULL,NULL,NULL,NULL,NULL,*09:01,*03:01,LB",
]) + "\n"


def test_search_ranks_by_probability_and_names_what_was_compared(db):
    from lifebank.hla import service

    service.import_donors(db, DONORS, actor="tester")
    # The case: an A/B/DRB1-only patient. No donor is labelled 10/10; C and DQB1 say "untyped".
    found = service.search(db, HAN, max_mismatches=2)
    by_id = {item["donor_id"]: item for item in found["items"]}
    assert by_id["FULL"]["match"] == "6/6" and by_id["FULL"]["compared"] == ["A", "B", "DRB1"]
    assert by_id["FULL"]["untyped"] == ["C", "DQB1"]
    assert by_id["FULL"]["match_label"].startswith("6/6 on A, B, DRB1; C, DQB1 untyped - P(10/10) = 0.9")
    assert by_id["RARE"]["p10of10"] is None and by_id["RARE"]["match_label"].endswith("untyped")  # no set has it
    assert [i["donor_id"] for i in found["items"]] == ["FULL", "ABDR", "XX", "CMIS", "RARE"]
    p10 = [item["p10of10"] for item in found["items"]]
    assert p10[:-1] == sorted(p10[:-1], reverse=True) and p10[-1] is None  # unknown last
    # A fully typed patient: the C mismatch donor is certain 9/10; ABDR's untyped C/DQB1 are probabilities.
    full = service.search(db, HAN_FULL, max_mismatches=2)
    by_id = {item["donor_id"]: item for item in full["items"]}
    assert by_id["FULL"]["p10of10"] == pytest.approx(1.0) and by_id["FULL"]["match"] == "10/10"
    assert by_id["CMIS"]["p9of10"] == pytest.approx(1.0) and by_id["CMIS"]["loci"]["C"]["p1"] == pytest.approx(1.0)
    assert 0.9 < by_id["ABDR"]["p10of10"] < 1 and by_id["ABDR"]["incompletely_typed"]
    assert [i["donor_id"] for i in full["items"]][:2] == ["FULL", "ABDR"]
    strict = service.search(db, HAN_FULL, max_mismatches=2, min_probability=0.5)
    assert {i["donor_id"] for i in strict["items"]} == {"FULL", "ABDR", "XX"} and strict["total"] == 3
    with pytest.raises(ValidationFailed, match="min_probability"):
        service.search(db, HAN_FULL, min_probability=1.5)
    graded = service.search(db, HAN_FULL, max_mismatches=2, probabilities=False)
    assert "p10of10" not in graded["items"][0] and graded["total"] == full["total"]


def test_a_and_b_only_donors_are_kept_flagged_and_found_through_probabilities(db):
    from lifebank.hla import service

    legacy = HEADER + "\nAB,adult,*02:07,*33:03,*46:01,*58:01,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,LB\n"
    assert service.import_donors(db, legacy, actor="tester").added == 1
    found = service.search(db, HAN_FULL, max_mismatches=0)
    item = found["items"][0]
    assert item["donor_id"] == "AB" and item["incompletely_typed"] and item["compared"] == ["A", "B"]
    assert item["match"] == "4/4" and item["untyped"] == ["C", "DRB1", "DQB1"]
    assert 0.1 < item["p10of10"] < 0.5 and 0.2 < item["loci"]["DRB1"]["p0"] < 1
    with pytest.raises(RowsRejected) as caught:
        service.import_donors(db, HEADER + "\nA1,adult,*02:07,*33:03,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,"
                                           "*09:01,*03:01,LB\n", actor="tester")
    assert [(e.column, str(e.reason)) for e in caught.value.errors] == [("B_1", "B must be typed (A and B at least)")]


def test_dpb1_gets_probabilities_when_the_set_has_it_but_never_counts_in_the_totals(db, tmp_path: Path):
    six = tmp_path / "six.txt"
    six.write_text("A*02:07~C*01:02~B*46:01~DRB1*09:01~DQB1*03:03~DPB1*05:01;0.4\n"
                   "A*33:03~C*03:02~B*58:01~DRB1*03:01~DQB1*02:01~DPB1*02:01;0.4\n"
                   "A*33:03~C*03:02~B*58:01~DRB1*03:01~DQB1*02:01~DPB1*04:01;0.2\n")
    prediction.load_set(db, six, name="SIX", actor="tester")
    patient = HAN_FULL + "^DPB1*05:01+DPB1*02:01"
    got = prediction.predict(db, patient, HAN_FULL + "^DPB1*05:01+DPB1*04:01", frequencies="SIX")
    assert got["loci"]["DPB1"] == {"p0": 0.0, "p1": 1.0, "p2": 0.0}
    assert got["p10of10"] == pytest.approx(1.0) and got["p9of10"] == 0.0
    untyped = prediction.predict(db, patient, HAN_FULL, frequencies="SIX")  # donor DPB1 imputed: 02:01 or 04:01
    assert untyped["loci"]["DPB1"]["p0"] == pytest.approx(2 / 3) and untyped["p10of10"] == pytest.approx(1.0)


def test_loading_a_mac_dictionary_reimputes_the_registry(db, tmp_path: Path):
    """A new dictionary changes what a stored MAC means; the donor's imputation follows it."""
    from lifebank.hla import service

    macs = tmp_path / "macs.txt"
    macs.write_text("AB\t03/04\n")
    service.load_macs(db, macs, actor="tester")
    service.import_donors(db, HEADER + "\nMAC,adult,*02:07,*33:AB,*46:01,*58:01,NULL,NULL,NULL,NULL,NULL,NULL,"
                                      "*09:01,*03:01,LB\n", actor="tester")
    before = service.search(db, HAN, max_mismatches=2)["items"][0]
    assert before["p10of10"] > 0.5
    macs.write_text("AB\t01/02\n")  # now A*33:01/A*33:02: no API haplotype carries them
    service.load_macs(db, macs, actor="tester")
    after = service.search(db, HAN, max_mismatches=2)
    assert after["total"] == 1 and after["items"][0]["loci"]["A"]["mismatch_count"] == 1
    assert after["items"][0]["p10of10"] is None  # unrepresented now, not the stale 0.9
