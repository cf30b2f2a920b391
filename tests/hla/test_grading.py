"""WMDA grading rules, each checked by hand, plus properties and real data (MVT-3, Atlas donors)."""

from __future__ import annotations

import csv
import gzip
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifebank.hla.grading import Grader
from lifebank.hla.typing import Genotype, LocusTyping, TypingError, TypingParser
from shared_data import SHARED_DATA

SHARED = SHARED_DATA / "hla"


def locus(parser: TypingParser, name: str, first: str | None, second: str | None) -> LocusTyping | None:
    return parser.locus_typing(name, first, second)


def grade_a(parser, grader, p1, p2, d1, d2):
    return grader.locus("A", locus(parser, "A", p1, p2), locus(parser, "A", d1, d2))


def grades(result) -> list[tuple[str, str]]:
    return [(p.grade, p.confidence) for p in result.positions]


def test_identical_full_alleles_are_a_definite_gdna_match(parser, grader):
    r = grade_a(parser, grader, "A*01:01:01:01", "A*02:01:01:01", "A*01:01:01:01", "A*02:01:01:01")
    assert r.mismatch_count == 0 and grades(r) == [("gdna", "definite")] * 2
    assert all(p.antigen_match for p in r.positions)


def test_same_allele_known_only_from_its_coding_sequence_is_a_cdna_match(parser, grader, nom):
    # Allele_status.txt: A*02:01:03 is Partial/cDNA, so identity is proven at cDNA level only
    assert "A*02:01:03" not in nom.full_gdna and "A*02:01:01:01" in nom.full_gdna
    r = grade_a(parser, grader, "A*02:01:03", "A*02:01:01:01", "A*02:01:03", "A*02:01:01:01")
    assert grades(r) == [("cdna", "definite"), ("gdna", "definite")]


def test_grades_step_down_cdna_protein_g_p(parser, grader):
    # same three fields -> cDNA; same two -> protein; same G group -> G; same P group only -> P
    assert grades(grade_a(parser, grader, "A*01:01:01:01", "A*01:01:01:01", "A*01:01:01:03", "A*01:01:01:01"))[0] \
        == ("cdna", "definite")
    assert grades(grade_a(parser, grader, "A*01:01:01:01", "A*01:01:01:01", "A*01:01:02", "A*01:01:01:01"))[0] \
        == ("protein", "definite")
    assert grades(grade_a(parser, grader, "A*01:01:01:01", "A*01:01:01:01", "A*01:01:38L", "A*01:01:01:01"))[0] \
        == ("protein", "definite")
    assert grades(grade_a(parser, grader, "A*01:01:01:01", "A*01:01:01:01", "A*01:32", "A*01:01:01:01"))[0] \
        == ("g_group", "definite")
    assert grades(grade_a(parser, grader, "A*01:01:01:01", "A*01:01:01:01", "A*01:335", "A*01:01:01:01"))[0] \
        == ("p_group", "definite")


def test_orientation_is_chosen_for_the_patient(parser, grader):
    r = grade_a(parser, grader, "A*01:01", "A*02:01", "A*02:01", "A*01:01")
    assert r.mismatch_count == 0 and grades(r) == [("protein", "exact")] * 2


def test_one_and_two_mismatches(parser, grader):
    assert grade_a(parser, grader, "A*01:01", "A*02:01", "A*01:01", "A*03:01").mismatch_count == 1
    r = grade_a(parser, grader, "A*01:01", "A*02:01", "A*11:01", "A*03:01")
    assert r.mismatch_count == 2 and grades(r) == [("mismatch", "mismatch")] * 2
    assert [p.antigen_match for p in r.positions] == [False, False]


def test_allele_mismatch_within_the_same_antigen_is_an_antigen_match(parser, grader):
    r = grade_a(parser, grader, "A*02:01", "A*02:01", "A*02:05", "A*02:01")
    assert r.mismatch_count == 1
    assert [(p.grade, p.antigen_match) for p in r.positions] == [("mismatch", True), ("protein", True)]


def test_null_in_an_allele_string_is_ignored(parser, grader):
    # A*01:01/A*01:04N: the null cannot be what is expressed, so only A*01:01 counts.
    r = grade_a(parser, grader, "A*01:01/A*01:04N", "A*02:01", "A*01:01", "A*02:01")
    assert r.mismatch_count == 0 and grades(r)[0] == ("protein", "exact")


def test_null_only_position_makes_the_locus_homozygous(parser, grader):
    # Patient expresses only A*02:01 (A*01:04N is null) -> a donor homozygous A*02:01 matches 0/2 mismatches
    r = grade_a(parser, grader, "A*01:04:01:01N", "A*02:01", "A*02:01", "A*02:01")
    assert r.mismatch_count == 0
    assert sorted(grades(r)) == [("expressing_vs_null", "exact"), ("protein", "exact")]
    # ... and a donor who also carries A*01:01 mismatches once (the patient would reject it: HvG)
    assert grade_a(parser, grader, "A*01:04:01:01N", "A*02:01", "A*01:01", "A*02:01").mismatch_count == 1


def test_null_against_null_gets_a_null_grade(parser, grader):
    r = grade_a(parser, grader, "A*01:04:01:01N", "A*02:01", "A*01:04:01:01N", "A*02:01")
    assert r.mismatch_count == 0 and grades(r)[0] == ("null_gdna", "definite")
    r = grade_a(parser, grader, "A*01:04:01:01N", "A*02:01", "A*01:04:01:02N", "A*02:01")
    assert grades(r)[0] == ("null_cdna", "definite")


def test_untyped_donor_locus_is_a_potential_match(parser, grader):
    r = grader.locus("C", locus(parser, "C", "C*07:01", "C*07:02"), None)
    assert (r.mismatch_count, r.untyped) == (0, True)
    assert grades(r) == [("unknown", "potential")] * 2


def test_single_donor_position_means_homozygous(parser, grader):
    assert grade_a(parser, grader, "A*01:01", "A*01:01", "A*01:01", None).mismatch_count == 0
    assert grade_a(parser, grader, "A*01:01", "A*02:01", "A*01:01", None).mismatch_count == 1


def test_xx_and_mac_are_potential_matches(parser, grader):
    r = grade_a(parser, grader, "A*01:01:01:01", "A*02:01:01:01", "A*01:XX", "A*03:AB")
    assert r.mismatch_count == 1  # A*03:AB = A*03:01/A*03:02
    r = grade_a(parser, grader, "A*01:01:01:01", "A*02:01:01:01", "A*01:XX", "A*02:XX")
    assert r.mismatch_count == 0 and [c for _, c in grades(r)] == ["potential", "potential"]
    r = grade_a(parser, grader, "A*01:01:01:01", "A*02:01:01:01", "A*01:AB", "A*02:01")
    assert r.mismatch_count == 0 and grades(r) == [("protein", "potential"), ("protein", "exact")]
    assert grades(grade_a(parser, grader, "A*01:01", "A*02:01", "A*01:XX", "A*02:01"))[0] == ("g_group", "potential")


def test_serology_grades(parser, grader):
    # same split antigen
    assert grades(grade_a(parser, grader, "A24", "A24", "A24", "A24"))[0] == ("split", "potential")
    # split vs its broad
    assert grades(grade_a(parser, grader, "A24", "A24", "A9", "A9"))[0] == ("broad", "potential")
    # associated vs its split
    assert grades(grade_a(parser, grader, "A2403", "A2403", "A24", "A24"))[0] == ("associated", "potential")
    # molecular vs serology
    assert grades(grade_a(parser, grader, "A*24:02", "A*24:02", "A24", "A24"))[0] == ("split", "potential")
    # two splits of one broad do not match
    r = grade_a(parser, grader, "A23", "A23", "A24", "A24")
    assert r.mismatch_count == 2


def test_dpb1_tce(parser, grader):
    def tce(p1, p2, d1, d2):
        return grader.dpb1_tce(locus(parser, "DPB1", p1, p2), locus(parser, "DPB1", d1, d2))

    # DPB1*04:01 and *02:01 are TCE 3; *09:01 is TCE 1
    assert tce("DPB1*04:01", "DPB1*02:01", "DPB1*04:01", "DPB1*04:01") == "permissive"
    assert tce("DPB1*09:01", "DPB1*04:01", "DPB1*04:01", "DPB1*02:01") == "non_permissive_gvh"
    assert tce("DPB1*04:01", "DPB1*02:01", "DPB1*09:01", "DPB1*04:01") == "non_permissive_hvg"
    assert tce("DPB1*04:01", "DPB1*02:01", None, None) == "unknown"


def test_whole_genotype_json_shape(parser, grader):
    patient = parser.genotype("A*01:01+A*02:01^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*03:01+DRB1*15:01"
                              "^DQB1*02:01+DQB1*06:02")
    donor = parser.genotype("A*01:01+A*02:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01^DQB1*02:01+DQB1*06:03")
    result = grader.grade(patient, donor).as_dict()
    assert result["mismatch_count"] == 1 and result["match"] == "9/10"
    assert result["loci"]["C"]["untyped"] is True and result["loci"]["DQB1"]["mismatch_count"] == 1
    assert result["dpb1_tce"] == "unknown"
    assert set(result["loci"]) == {"A", "B", "C", "DPB1", "DQB1", "DRB1"}


# -- properties ---------------------------------------------------------------------------------------------------
COMMON_A = ["A*01:01", "A*02:01", "A*02:05", "A*03:01", "A*11:01", "A*24:02", "A*26:01", "A*29:02", "A*01:04N",
            "A*02:XX", "A*24", "A2", "A9", "A*01:01:01:01", "A*31:01"]
typing = st.sampled_from(COMMON_A)


@settings(max_examples=300, deadline=None)
@given(typing, typing, typing, typing)
def test_grading_is_symmetric_in_position_order(parser, grader, p1, p2, d1, d2):
    base = grade_a(parser, grader, p1, p2, d1, d2).mismatch_count
    assert grade_a(parser, grader, p2, p1, d1, d2).mismatch_count == base
    assert grade_a(parser, grader, p1, p2, d2, d1).mismatch_count == base


@settings(max_examples=300, deadline=None)
@given(typing, typing, typing, typing, st.sampled_from(["A*01:01", "A*02:01", "A*68:01", "A*03:01"]))
def test_adding_ambiguity_never_increases_mismatches(parser, grader, p1, p2, d1, d2, extra):
    if parser.position(d1, "A").is_null:
        return  # widening a null-only typing with an expressed allele can rightly add a mismatch
    base = grade_a(parser, grader, p1, p2, d1, d2).mismatch_count
    widened = f"{d1}/{extra}" if "*" in d1 and ":XX" not in d1 else d1
    try:
        assert grade_a(parser, grader, p1, p2, widened, d2).mismatch_count <= base
    except TypingError:
        pytest.fail(f"{widened} did not parse")


# -- real data ----------------------------------------------------------------------------------------------------
def _gl_file(name: str) -> list[str]:
    path = SHARED / "wmda-mvt3" / name
    if not path.exists():
        pytest.skip(f"{path} not on this machine")
    with gzip.open(path, "rt") as handle:
        return [line.strip().split("%", 1)[1] for line in handle if line.strip()]


def test_mvt3_sample_grades_without_error(nom):
    parser, grader = TypingParser(nom), Grader(nom)
    patients = [parser.genotype(gl) for gl in _gl_file("pat.gl.txt.gz")]
    donors = [parser.genotype(gl) for gl in _gl_file("don.gl.txt.gz")]
    assert (len(patients), len(donors)) == (1000, 10_000)
    counts = Counter(grader.grade(p, d).mismatch_count for p in patients[::100] for d in donors[::10])
    assert sum(counts.values()) == 10_000
    assert set(counts) <= set(range(11)) and len(counts) >= 5


def test_atlas_donor_files_parse_and_grade(nom, atlas_macs):
    path = SHARED / "atlas-testdata" / "TestDonorsForUpdatesForSmokeTests.tsv"
    if not path.exists():
        pytest.skip("atlas test data not on this machine")
    # Donor records are read as a registry reads them: names IMGT renamed since are followed.
    parser, grader = TypingParser(nom, atlas_macs, follow_renames=True), Grader(nom)
    loci = ["A", "B", "C", "DPB1", "DQB1", "DRB1"]
    patient = parser.genotype("A*01:01+A*02:01^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*03:01+DRB1*15:01"
                              "^DQB1*02:01+DQB1*06:02^DPB1*04:01+DPB1*02:01")
    mismatches: Counter[int] = Counter()
    with path.open() as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            typed = {}
            for name in loci:
                first, second = (None if row[f"{name}_{i}"] == "NULL" else row[f"{name}_{i}"] for i in (1, 2))
                lt = parser.locus_typing(name, first, second)
                if lt is not None:
                    typed[name] = lt
            mismatches[grader.grade(patient, Genotype(typed)).mismatch_count] += 1
    assert sum(mismatches.values()) == 20_000
    assert len(mismatches) >= 5
