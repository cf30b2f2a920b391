"""Imputation and match probability: NMDP's own imputation and a naive enumeration as oracles, hand-checked cases,
properties."""

from __future__ import annotations

import gzip
import itertools
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifebank.hla.frequencies import read_frequency_file, vendored_set
from lifebank.hla.imputation import CLASSES, Imputer
from lifebank.hla.match_probability import TEN_LOCI, batch_probabilities, pair_probabilities
from lifebank.hla.typing import TypingParser
from shared_data import SHARED_DATA

MVT3 = SHARED_DATA / "hla" / "wmda-mvt3"
HAN = "A*02:07+A*33:03^B*46:01+B*58:01^DRB1*09:01+DRB1*03:01"


@pytest.fixture(scope="module")
def api(nom) -> Imputer:
    return Imputer(vendored_set("NMDP-2007-API"), nom)


@pytest.fixture(scope="module")
def eur(nom) -> Imputer:
    return Imputer(vendored_set("NMDP-2007-EUR"), nom)


@pytest.fixture(scope="module")
def mvt3(nom) -> Imputer:
    return Imputer(read_frequency_file(MVT3 / "task3-inputs" / "freqs.txt", name="MVT3"), nom)


def probabilities(imputer: Imputer, parser: TypingParser, patient: str, donor: str) -> dict:
    p = imputer.impute(parser.genotype(patient).loci)
    d = imputer.impute(parser.genotype(donor).loci)
    return pair_probabilities(CLASSES, imputer.match_genotypes(p, TEN_LOCI), imputer.match_genotypes(d, TEN_LOCI))


# -- oracles -------------------------------------------------------------------------------------------------------
def test_every_mvt3_patient_imputes_as_nmdp_did(mvt3, parser):
    """pat.2015.txt.gz is NMDP's imputation of the 1,000 MVT-3 patients with the same frequencies: every genotype
    list and probability agrees (after stripping the `g` of the set's names)."""
    theirs: dict[str, dict[frozenset[str], float]] = defaultdict(dict)
    with gzip.open(MVT3 / "pat.2015.txt.gz", "rt") as handle:
        for line in handle:
            f = line.rstrip("\n").split("\t")
            key = frozenset((f[2], f[5]))
            theirs[f[0]][key] = theirs[f[0]].get(key, 0.0) + float(f[9])
    worst, checked = 0.0, 0
    with gzip.open(MVT3 / "pat.gl.txt.gz", "rt") as handle:
        for line in handle:
            pid, gl = line.strip().split("%")
            result = mvt3.impute(parser.genotype(gl).loci)
            ours: dict[frozenset[str], float] = {}
            for g in mvt3.genotype_texts(result):
                key = frozenset(h.replace("g", "") for h in g["haplotypes"])
                ours[key] = ours.get(key, 0.0) + g["probability"]
            assert set(ours) == set(theirs[pid]), pid
            worst = max(worst, *(abs(ours[k] - theirs[pid][k]) for k in ours))
            checked += 1
    assert checked == 1000 and worst < 1e-6


def naive_genotypes(fset, gl: str) -> dict[frozenset[str], float]:
    """Deliberately naive: every ordered pair of haplotypes whose names (g stripped) equal the typed alleles at
    every typed locus in one orientation, with probability f1 * f2, normalised."""
    typed = {}
    for block in gl.split("^"):
        first, _, second = block.partition("+")
        locus = first.partition("*")[0]
        typed[locus] = (set(first.split("/")), set((second or first).split("/")))
    names = [tuple(n.rstrip("g") for n in h) for h in fset.haplotypes]
    keep = [i for i, h in enumerate(names)
            if all(h[j] in typed[locus][0] | typed[locus][1] for j, locus in enumerate(fset.loci) if locus in typed)]
    out: dict[frozenset[str], float] = defaultdict(float)
    for i, k in itertools.product(keep, keep):
        if all((names[i][j] in typed[locus][0] and names[k][j] in typed[locus][1])
               or (names[i][j] in typed[locus][1] and names[k][j] in typed[locus][0])
               for j, locus in enumerate(fset.loci) if locus in typed):
            out[frozenset(("~".join(fset.haplotypes[i]), "~".join(fset.haplotypes[k])))] += (
                fset.frequencies[i] * fset.frequencies[k])
    total = sum(out.values())
    return {key: value / total for key, value in out.items()}


def naive_probabilities(fset, grader, parser, pat: dict, don: dict) -> dict[str, float]:
    """Sum over every (patient genotype, donor genotype) of the product, counting mismatches with `Grader`."""
    locus_of = {locus: j for j, locus in enumerate(fset.loci)}
    out = defaultdict(float)
    memo: dict[tuple, int] = {}
    for pg, pp in pat.items():
        ph = [h.split("~") for h in pg] * (2 if len(pg) == 1 else 1)
        for dg, dp in don.items():
            dh = [h.split("~") for h in dg] * (2 if len(dg) == 1 else 1)
            total = 0
            for locus in TEN_LOCI:
                j = locus_of[locus]
                key = (locus, ph[0][j], ph[1][j], dh[0][j], dh[1][j])
                if key not in memo:
                    pt = parser.genotype(f"{ph[0][j].rstrip('g')}+{ph[1][j].rstrip('g')}").get(locus)
                    dt = parser.genotype(f"{dh[0][j].rstrip('g')}+{dh[1][j].rstrip('g')}").get(locus)
                    memo[key] = grader.locus(locus, pt, dt).mismatch_count
                total += memo[key]
            out[total] += pp * dp
    return {"p10of10": out[0], "p9of10": out[1]}


def test_mvt3_sample_agrees_with_naive_enumeration(mvt3, parser, grader):
    with gzip.open(MVT3 / "pat.gl.txt.gz", "rt") as handle:
        patients = [line.strip().split("%")[1] for line in itertools.islice(handle, 0, 40, 8)]
    with gzip.open(MVT3 / "don.gl.txt.gz", "rt") as handle:
        donors = [line.strip().split("%")[1] for line in itertools.islice(handle, 0, 3000, 300)]
    fset = mvt3.set
    naive = {gl: naive_genotypes(fset, gl) for gl in patients + donors}
    for gl, expected in naive.items():
        result = mvt3.impute(parser.genotype(gl).loci)
        ours = {frozenset(g["haplotypes"]): g["probability"] for g in mvt3.genotype_texts(result)}
        assert set(ours) == set(expected)
        assert max(abs(ours[k] - expected[k]) for k in ours) < 1e-6
    for pgl in patients:
        pm = mvt3.match_genotypes(mvt3.impute(parser.genotype(pgl).loci), TEN_LOCI)
        batch = batch_probabilities(CLASSES, pm, [mvt3.match_genotypes(mvt3.impute(parser.genotype(d).loci),
                                                                      TEN_LOCI) for d in donors])
        for i, dgl in enumerate(donors):
            expected = naive_probabilities(fset, grader, parser, naive[pgl], naive[dgl])
            assert batch["p10of10"][i] == pytest.approx(expected["p10of10"], abs=1e-6)
            assert batch["p9of10"][i] == pytest.approx(expected["p9of10"], abs=1e-6)


# -- hand-checked cases --------------------------------------------------------------------------------------------
def test_homozygous_typing_is_one_genotype(api, parser):
    result = api.impute(parser.genotype("A*33:03^C*03:02^B*58:01^DRB1*03:01^DQB1*02:01").loci)
    assert len(result.pairs) == 1 and result.pairs[0][0] == result.pairs[0][1]
    assert result.probabilities.tolist() == [1.0]
    assert api.genotype_texts(result)[0]["haplotypes"][0] == "A*33:03~C*03:02~B*58:01g~DRB1*03:01~DQB1*02:01g"


def test_null_allele_in_a_list_becomes_a_probability(eur, parser, grader):
    """EUR lists A*01:16N on A*01:16N~C*07:01g~B*08:01g~DRB1*03:01~DQB1*02:01g (6e-5). A patient typed
    A*01:01/A*01:16N carries the null with the probability the set gives it; grading ignores the null."""
    patient = ("A*01:01/A*01:16N+A*02:01^C*07:01+C*07:02^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01"
               "^DQB1*02:01+DQB1*06:02")
    donor = "A*01:01+A*02:01^C*07:01+C*07:02^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01^DQB1*02:01+DQB1*06:02"
    result = eur.impute(parser.genotype(patient).loci)
    null_share = sum(g["probability"] for g in eur.genotype_texts(result)
                     if any(h.startswith("A*01:16N") for h in g["haplotypes"]))
    assert 0 < null_share < 0.05
    got = probabilities(eur, parser, patient, donor)
    assert got["loci"]["A"]["p1"] == pytest.approx(null_share, abs=1e-12)
    assert got["p10of10"] == pytest.approx(1 - null_share, abs=1e-12)
    assert grader.grade(parser.genotype(patient), parser.genotype(donor)).mismatch_count == 0


def test_xx_code_expands_to_the_sets_alleles_of_that_family(api, parser):
    result = api.impute(parser.genotype("A*02:XX+A*33:03^B*46:01+B*58:01^DRB1*09:01+DRB1*03:01").loci)
    a_alleles = {h.split("~")[0] for g in api.genotype_texts(result) for h in g["haplotypes"]}
    assert a_alleles - {"A*33:03"} and all(a.startswith("A*02:") for a in a_alleles - {"A*33:03"})
    assert len(a_alleles) > 2 and result.probabilities.sum() == pytest.approx(1.0)


def test_donor_untyped_at_c_and_dqb1_gets_probabilities_there(api, parser):
    patient = HAN + "^C*01:02+C*03:02^DQB1*03:03+DQB1*02:01"
    got = probabilities(api, parser, patient, HAN)
    for locus in ("A", "B", "DRB1"):
        assert got["loci"][locus]["p0"] == pytest.approx(1.0)
    # In API, B*46:01~DRB1*09:01 carries C*01:02 (or 01:03, 01:05...) and always DQB1*03:03; B*58:01~DRB1*03:01
    # carries C*03:02 and DQB1*02:01g: so C is likely but not certain, DQB1 certain.
    assert got["loci"]["C"]["p0"] == pytest.approx(0.9510137829, abs=1e-9)
    assert got["loci"]["DQB1"]["p0"] == pytest.approx(1.0)
    for locus in ("C", "DQB1"):
        assert sum(got["loci"][locus].values()) == pytest.approx(1.0)
    assert got["p10of10"] == pytest.approx(got["loci"]["C"]["p0"])
    assert got["p9of10"] == pytest.approx(1 - got["p10of10"])
    assert got["p8of8"] >= got["p10of10"]


def test_patient_allele_absent_from_the_set_is_unrepresented(api, parser):
    result = api.impute(parser.genotype("A*80:01+A*33:03^B*46:01+B*58:01^DRB1*09:01+DRB1*03:01").loci)
    assert not result.represented and result.unexplained == (("A", "A*80:01"),)
    # every position covered, but no haplotype pair combines them: unrepresented, nothing listed
    odd = api.impute(parser.genotype("A*33:03^B*46:01^DRB1*14:54^C*01:02^DQB1*06:09").loci)
    assert not odd.represented and odd.unexplained == ()


# -- properties ----------------------------------------------------------------------------------------------------
def _typing(fset, h1: int, h2: int, xx_loci: frozenset[str] = frozenset(), untyped: frozenset[str] = frozenset()):
    blocks = []
    for j, locus in enumerate(fset.loci):
        if locus in untyped:
            continue
        a, b = fset.haplotypes[h1][j].rstrip("g"), fset.haplotypes[h2][j].rstrip("g")
        if locus in xx_loci:
            a, b = (f"{x.split(':')[0]}:XX" for x in (a, b))
        blocks.append(f"{a}+{b}")
    return "^".join(blocks)


haplotype_index = st.integers(min_value=0, max_value=1628)
loci_subset = st.frozensets(st.sampled_from(("A", "B", "C", "DQB1", "DRB1")), max_size=2)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(haplotype_index, haplotype_index, haplotype_index, haplotype_index, loci_subset,
       st.frozensets(st.sampled_from(("C", "DQB1")), max_size=2))
def test_probabilities_sum_to_one_and_are_symmetric(api, parser, a, b, c, d, xx, untyped):
    fset = api.set
    patient, donor = _typing(fset, a, b), _typing(fset, c, d, xx, untyped)
    forward = probabilities(api, parser, patient, donor)
    backward = probabilities(api, parser, donor, patient)
    for p in forward["loci"].values():
        assert p["p0"] + p["p1"] + p["p2"] == pytest.approx(1.0, abs=1e-9)
        assert min(p.values()) >= 0
    for key in ("p10of10", "p9of10", "p8of8", "p7of8"):
        assert forward[key] == pytest.approx(backward[key], abs=1e-9)
    assert forward["p10of10"] + forward["p9of10"] <= 1 + 1e-9


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(haplotype_index, haplotype_index, haplotype_index, haplotype_index, loci_subset)
def test_allele_level_pair_is_certain_and_agrees_with_grading(api, parser, grader, a, b, c, d, xx):
    fset = api.set
    patient, donor = _typing(fset, a, b), _typing(fset, c, d)
    got = probabilities(api, parser, patient, donor)
    graded = grader.grade(parser.genotype(patient), parser.genotype(donor))
    for locus in TEN_LOCI:
        expected = graded.loci[locus].mismatch_count
        assert got["loci"][locus][f"p{expected}"] == pytest.approx(1.0)
    assert got["p10of10"] == (1.0 if graded.mismatch_count == 0 else 0.0)
    assert got["p9of10"] == pytest.approx(1.0 if graded.mismatch_count == 1 else 0.0)
    # Ambiguity added to a certain mismatch never makes it a certain match: the true genotype stays possible.
    if graded.mismatch_count:
        vague = probabilities(api, parser, patient, _typing(fset, c, d, xx))
        assert vague["p10of10"] < 1.0


def test_batch_equals_pairs(api, parser):
    donors = [HAN, HAN + "^C*01:02+C*03:02", "A*02:07+A*11:01^B*46:01+B*40:01^DRB1*09:01+DRB1*15:01"]
    pm = api.match_genotypes(api.impute(parser.genotype(HAN).loci), TEN_LOCI)
    lists = [api.match_genotypes(api.impute(parser.genotype(d).loci), TEN_LOCI) for d in donors]
    batch = batch_probabilities(CLASSES, pm, lists)
    for i, dm in enumerate(lists):
        one = pair_probabilities(CLASSES, pm, dm)
        assert np.isclose(batch["p10of10"][i], one["p10of10"]) and np.isclose(batch["p9of10"][i], one["p9of10"])


def test_registry_imputation_bulk_path_equals_one_by_one(api, nom, parser):
    """Unambiguous typings are decided in bulk; every row's list equals the per-typing imputation."""
    from lifebank.hla.index import SearchIndex
    from lifebank.hla.registry_imputation import ImputedRegistry
    from lifebank.hla.synthetic import SYNTHETIC_LOCI, frequencies_from_set, genotype_ids, sample_population

    rng = np.random.default_rng(3)
    index = SearchIndex(("A", "B", "C", "DQB1", "DRB1"))
    pop = sample_population(400, rng, nom, frequencies_from_set(api.set))
    genotypes = {locus: genotype_ids(pop, parser, index, locus) for locus in SYNTHETIC_LOCI}
    index.add_coded(np.arange(400, dtype=np.int64), np.zeros(400, dtype=np.int8), np.full(400, np.nan,
                    dtype=np.float32), genotypes)
    index.compact()
    registry = ImputedRegistry(index, api)
    assert registry.precompute() > 100 and registry.bulk > 50
    for row in range(0, 400, 7):
        typing = registry._typing(tuple(int(index.geno[locus][row]) for locus in registry.loci))
        expected = api.match_genotypes(api.impute(typing), registry.loci)
        got = registry.lists[registry.row_key[row]]
        assert got is not None
        want = {tuple(c.ravel()): p for c, p in zip(expected.classes, expected.probabilities, strict=True)}
        have = {tuple(c.ravel()): p for c, p in zip(got.classes, got.probabilities, strict=True)}
        assert want.keys() == have.keys() and all(abs(want[k] - have[k]) < 1e-12 for k in want)
