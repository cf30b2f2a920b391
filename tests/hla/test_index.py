"""The search index agrees exactly with the grader, and stays current under adds, updates and deletes."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifebank.hla.grading import CONFIDENCE_RANK, GRADE_RANK, Grader
from lifebank.hla.index import SearchIndex, build, build_from_columns
from lifebank.hla.macs import MacDictionary
from lifebank.hla.typing import TypingError, TypingParser
from shared_data import SHARED_DATA

MVT3 = SHARED_DATA / "hla" / "wmda-mvt3"


def _genotypes(parser: TypingParser, name: str):
    path = MVT3 / name
    if not path.exists():
        pytest.skip("MVT-3 data not on this machine")
    with gzip.open(path, "rt") as handle:
        return [parser.genotype(line.strip().split("%", 1)[1]) for line in handle]


@pytest.fixture(scope="module")
def mvt(nom):
    parser = TypingParser(nom)
    return _genotypes(parser, "pat.gl.txt.gz"), _genotypes(parser, "don.gl.txt.gz")


def scorer_for(grader: Grader):
    def score(patient, donor):
        g = grader.position(patient, donor)
        return GRADE_RANK[g.grade], CONFIDENCE_RANK[g.confidence]
    return score


@pytest.mark.parametrize("max_mismatches", [0, 1, 2, 3])
@pytest.mark.parametrize("loci", [("A", "B", "C", "DQB1", "DRB1"), ("A", "B", "C", "DRB1")])
def test_search_finds_exactly_the_donors_the_grader_accepts(mvt, grader, max_mismatches, loci):
    patients, donors = mvt
    index = build((i, "adult", None, dict(d.loci)) for i, d in enumerate(donors))
    for patient in patients[::125]:
        expected = {i for i, d in enumerate(donors)
                    if grader.grade(patient, d, loci).mismatch_count <= max_mismatches}
        found = index.search(dict(patient.loci), max_mismatches=max_mismatches, match_loci=loci, limit=10**6)
        assert found.total == len(expected)
        assert set(index.keys[found.rows].tolist()) == expected
        full = index.full_scan(dict(patient.loci), max_mismatches=max_mismatches, match_loci=loci)
        assert set(index.keys[full].tolist()) == expected
        for row, mm in zip(found.rows.tolist(), found.mismatches.tolist(), strict=True):
            assert grader.grade(patient, donors[index.keys[row]], loci).mismatch_count == mm


def test_ranking_puts_fewer_mismatches_then_better_grades_first(parser, grader):
    patient = parser.genotype("A*01:01:01:01+A*02:01:01:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01")
    donors = {
        1: parser.genotype("A*01:XX+A*02:XX^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01"),
        2: parser.genotype("A*01:01:01:01+A*02:01:01:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01"),
        3: parser.genotype("A*01:01+A*03:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01"),
    }
    index = build((k, "adult", None, dict(g.loci)) for k, g in donors.items())
    out = index.search(dict(patient.loci), max_mismatches=2, scorer=scorer_for(grader))
    assert index.keys[out.rows].tolist() == [2, 1, 3]
    assert out.mismatches.tolist() == [0, 0, 1]


def test_cords_rank_by_cell_dose_when_otherwise_equal(parser, grader):
    patient = parser.genotype("A*01:01+A*02:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01")
    index = build([(1, "cord", 2.5, dict(patient.loci)), (2, "cord", 4.0, dict(patient.loci)),
                   (3, "adult", None, dict(patient.loci))])
    out = index.search(dict(patient.loci), max_mismatches=0, donor_type="cord", scorer=scorer_for(grader))
    assert index.keys[out.rows].tolist() == [2, 1]
    # Cell dose orders cords only: an equally matched adult comes first in a mixed search.
    mixed = index.search(dict(patient.loci), max_mismatches=0, scorer=scorer_for(grader))
    assert index.keys[mixed.rows].tolist() == [3, 2, 1]


def test_incremental_add_update_delete_without_rebuild(parser):
    patient = parser.genotype("A*01:01+A*02:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01")
    other = parser.genotype("A*03:01+A*11:01^B*35:01+B*44:02^DRB1*04:01+DRB1*07:01")
    index = build([(1, "adult", None, dict(patient.loci)), (2, "adult", None, dict(other.loci))])
    posted = index.posted

    def hits() -> list[int]:
        out = index.search(dict(patient.loci), max_mismatches=0)
        return sorted(index.keys[out.rows].tolist())

    assert hits() == [1]
    index.add(3, "adult", None, dict(patient.loci))  # new donor: found through the delta
    assert hits() == [1, 3] and index.posted == posted
    index.add(2, "adult", None, dict(patient.loci))  # update: donor 2 now matches
    assert hits() == [1, 2, 3]
    index.add(1, "adult", None, dict(other.loci))  # update: donor 1 no longer matches
    assert hits() == [2, 3]
    assert index.remove(3) and hits() == [2]
    assert not index.remove(99)
    index.compact()
    assert hits() == [2] and len(index) == 2


def test_per_locus_caps_and_donor_type(parser):
    patient = parser.genotype("A*01:01+A*02:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01")
    one_a = parser.genotype("A*01:01+A*03:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01")
    one_b = parser.genotype("A*01:01+A*02:01^B*08:01+B*44:02^DRB1*03:01+DRB1*15:01")
    index = build([(1, "adult", None, dict(one_a.loci)), (2, "cord", 3.0, dict(one_b.loci))])
    out = index.search(dict(patient.loci), max_mismatches=1, locus_caps={"A": 0})
    assert index.keys[out.rows].tolist() == [2]
    out = index.search(dict(patient.loci), max_mismatches=1, donor_type="adult")
    assert index.keys[out.rows].tolist() == [1]


def test_empty_index_answers_nothing(parser):
    index = SearchIndex()
    index.compact()
    out = index.search(dict(parser.genotype("A*01:01+A*02:01").loci), max_mismatches=2)
    assert (out.total, len(out.rows)) == (0, 0)
    assert np.asarray(out.rows).dtype.kind == "i"


def test_pages_follow_the_full_ranking_across_mismatch_tiers(mvt, grader):
    patients, donors = mvt
    index = build((i, "adult", None, dict(d.loci)) for i, d in enumerate(donors))
    scorer = scorer_for(grader)
    patient = dict(patients[3].loci)
    full = index.search(patient, max_mismatches=3, limit=10**6, scorer=scorer)
    assert full.total > 40 and len(set(full.mismatches.tolist())) > 1
    paged = []
    for offset in range(0, 40, 7):
        page = index.search(patient, max_mismatches=3, offset=offset, limit=7, scorer=scorer)
        assert page.total == full.total
        paged += page.rows.tolist()
    assert paged == full.rows[:len(paged)].tolist()


def test_index_agrees_with_the_grader_on_atlas_donors_with_macs_xx_and_serology(nom, atlas_macs, grader):
    import csv

    from lifebank.hla.typing import Genotype, TypingError

    path = SHARED_DATA / "hla" / "atlas-testdata" / "TestDonorsForUpdatesForSmokeTests.tsv"
    if not path.exists():
        pytest.skip("Atlas test data not on this machine")
    parser = TypingParser(nom, atlas_macs)
    donors = []
    with path.open() as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            try:
                loci = {locus: parser.locus_typing(locus, *(None if row[f"{locus}_{i}"] == "NULL" else
                                                            row[f"{locus}_{i}"] for i in (1, 2)))
                        for locus in ("A", "B", "C", "DPB1", "DQB1", "DRB1")}
            except TypingError:
                continue
            donors.append(Genotype({k: v for k, v in loci.items() if v is not None}))
            if len(donors) == 4000:
                break
    index = build((i, "adult", None, dict(d.loci)) for i, d in enumerate(donors))
    for patient in donors[:40:8]:
        for m in (0, 1, 2):
            expected = {i for i, d in enumerate(donors) if grader.grade(patient, d).mismatch_count <= m}
            found = index.search(dict(patient.loci), max_mismatches=m, limit=10**6)
            assert set(index.keys[found.rows].tolist()) == expected



def test_null_only_loci_count_like_the_grader(parser, grader):
    patient = parser.genotype("A*01:04N+A*01:04N^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01")
    donors = {1: parser.genotype("A*01:04N+A*01:04N^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01"),
              2: parser.genotype("A*01:04N+A*02:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01"),
              3: parser.genotype("A*02:01+A*03:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01")}
    index = build((k, "adult", None, dict(g.loci)) for k, g in donors.items())
    out = index.search(dict(patient.loci), max_mismatches=2, limit=10)
    found = dict(zip(index.keys[out.rows].tolist(), out.mismatches.tolist(), strict=True))
    assert found == {k: grader.grade(patient, g).mismatch_count for k, g in donors.items()} == {1: 0, 2: 1, 3: 2}


POOL = {
    "A": ["A*01:01", "A*02:01", "A*02:05", "A*03:01", "A*01:04N", "A*02:XX", "A2", "A9", "A*24:02", "A*01:01/02:01",
          None],
    "B": ["B*08:01", "B*07:02", "B*44:02", "B*44:XX", "B12", "B*07:02/08:01", None],
    "DRB1": ["DRB1*03:01", "DRB1*15:01", "DRB1*04:01", "DRB1*15:XX", "DR15", "DRB1*03:01/04:01"],
    "C": ["C*07:01", "C*07:02", "C*07:XX", None],
}


@st.composite
def typed(draw):
    out = {}
    for locus, pool in POOL.items():
        first, second = draw(st.sampled_from(pool)), draw(st.sampled_from(pool))
        if first is not None or second is not None:
            out[locus] = (first, second)
    if "A" not in out or "B" not in out:
        out["A"], out["B"] = out.get("A", ("A*01:01", None)), out.get("B", ("B*08:01", None))
    return out


@settings(max_examples=80, deadline=None)
@given(st.lists(typed(), min_size=1, max_size=25), typed(), st.integers(0, 3))
def test_property_index_equals_grader_on_random_registries(parser, grader, donors, patient, m):
    from lifebank.hla.typing import Genotype

    def genotype(columns):
        loci = {locus: parser.locus_typing(locus, a, b) for locus, (a, b) in columns.items()}
        return Genotype({k: v for k, v in loci.items() if v is not None})

    genotypes = [genotype(d) for d in donors]
    patient_g = genotype(patient)
    index = build((i, "adult", None, dict(g.loci)) for i, g in enumerate(genotypes))
    out = index.search(dict(patient_g.loci), max_mismatches=m, limit=1000, scorer=scorer_for(grader))
    expected = {i: grader.grade(patient_g, g).mismatch_count for i, g in enumerate(genotypes)}
    assert dict(zip(index.keys[out.rows].tolist(), out.mismatches.tolist(), strict=True)) == {
        i: mm for i, mm in expected.items() if mm <= m}


def test_reresolve_reads_typing_texts_again_without_moving_donors(nom, parser):
    def parse_with(p: TypingParser):
        def parse(locus, text):
            try:
                return p.position(text, locus)
            except TypingError:
                return None
        return parse

    rows = [(1, "adult", None, "*01:QQ", "*02:01", "*08:01", "*07:02", None, None, None, None, None, None,
             "*03:01", "*15:01"),
            (2, "adult", None, "*03:01", "*02:01", "*08:01", "*07:02", None, None, None, None, None, None,
             "*03:01", "*15:01")]
    index = build_from_columns(rows, parse_with(TypingParser(nom)))  # QQ is no known code: unresolved
    patient = dict(parser.genotype("A*01:01+A*02:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01").loci)

    def zero_mismatch_keys() -> list[int]:
        out = index.search(patient, max_mismatches=0, match_loci=("A", "B", "DRB1"))
        return sorted(index.keys[out.rows].tolist())

    assert zero_mismatch_keys() == [1]  # an unresolved position leaves its locus untyped: a potential match
    geno, order = index.geno["A"].copy(), index.order["A"].copy()
    index.reresolve(parse_with(TypingParser(nom, MacDictionary({"QQ": "03/04"}))))
    assert zero_mismatch_keys() == []  # A*01:03/01:04 is now a mismatch for A*01:01
    index.reresolve(parse_with(TypingParser(nom, MacDictionary({"QQ": "01/02"}))))
    assert zero_mismatch_keys() == [1]
    assert index.full_scan(patient, max_mismatches=0, match_loci=("A", "B", "DRB1")).tolist() == [0]
    assert np.array_equal(index.geno["A"], geno) and np.array_equal(index.order["A"], order)
