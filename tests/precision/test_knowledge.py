"""Knowledge-base loaders: MOAlmanac, hotspots, OncoTree, CIViC nightly TSV, gene table, liftover."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifebank.errors import RowsRejected, ValidationFailed
from lifebank.precision import kb_store
from lifebank.precision.civic import civic_tumour_code, parse_civic_evidence
from lifebank.precision.hotspots import parse_hotspots
from lifebank.precision.knowledge import AMPLIFICATION, FUSION, GENE_MUTATION, TMB_HIGH, moalmanac_evidence
from lifebank.precision.oncotree import ANY_SOLID
from lifebank.precision.protein import THREE_TO_ONE, codon_of, short_protein_change

from .conftest import FIXTURES

MOALMANAC = kb_store.VENDORED / "moalmanac" / "molecular-oncology-almanac.legacy.json.gz"


def test_moalmanac_levels_follow_the_amp_mapping():
    rows = json.loads(gzip.decompress(MOALMANAC.read_bytes()))
    levels = {}
    for row in rows:
        evidence, _ = moalmanac_evidence(row)
        if evidence:
            levels.setdefault(evidence.evidence_label, set()).add(evidence.level)
    assert levels == {"FDA-Approved": {"A"}, "Guideline": {"A"}, "Clinical trial": {"B"},
                      "Clinical evidence": {"C"}, "Preclinical": {"D"}, "Inferential": {"D"}}


def test_moalmanac_feature_kinds_and_any_solid_tumour(kb):
    moa = next(s for s in kb.sources if s.name == "MOAlmanac")
    assert len(moa.evidence) == 687 and moa.skipped["deprecated"] == 3
    assert moa.skipped["feature type not tested: Germline Variant"] == 53
    kinds = {e.kind for e in moa.evidence}
    assert {AMPLIFICATION, FUSION, GENE_MUTATION, TMB_HIGH} <= kinds
    agnostic = [e for e in moa.evidence if e.gene == "BRAF" and e.tumour_code == ANY_SOLID]
    assert [e.therapy for e in agnostic] == ["Dabrafenib + Trametinib"]
    tmb = [e for e in moa.evidence if e.kind == TMB_HIGH and e.tumour_code == ANY_SOLID]
    assert tmb[0].therapy == "Pembrolizumab" and tmb[0].tmb_threshold == 10


def test_moalmanac_alleles_are_lifted_to_grch38(kb):
    # BRAF V600E: GRCh37 7:140453136 A>T is GRCh38 7:140753336 (NCBI GRCh38.p14)
    braf = kb.allele_evidence("chr7", 140753336, "A", "T")
    assert {e.therapy for e in braf} >= {"Dabrafenib + Trametinib", "Vemurafenib", "Encorafenib"}
    assert kb.protein_at[("7", 140753336, "A", "T")] == ("BRAF", "p.V600E")
    assert kb.unlifted == 5


def test_oncotree_hierarchy_and_unknown_code(kb):
    tree = kb.oncotree
    assert tree.ancestors("LUAD") == ["LUAD", "NSCLC", "LUNG"]
    assert tree.applies("NSCLC", "LUAD") and not tree.applies("LUAD", "NSCLC")
    assert tree.applies(ANY_SOLID, "COAD") and not tree.applies(ANY_SOLID, "AML")
    with pytest.raises(ValidationFailed, match="unknown OncoTree code 'XYZ'"):
        tree.get("XYZ")
    assert tree.get("GBM").code == "GB" and tree.applies("TALL", "TLL") and tree.applies("LEUK", "AML")


def test_hotspots_residues_and_bad_row():
    text = ("hugo_symbol\tresidue\tamino_acid_position\ttype\tvariant_amino_acid\ttumor_count\n"
            "PIK3CA\tH1047\t1047\tsingle residue\tR:537|L:85\t647\n"
            "CDKN2A\t27-42\t27-42\tin-frame indel\tV28_E33del:4\t12\n")
    hotspots = parse_hotspots(text, "t", "d")
    assert hotspots.residue("PIK3CA", 1047).variants == frozenset({"R", "L"})
    assert hotspots.at("CDKN2A", 30)[0].kind == "in-frame indel"
    with pytest.raises(RowsRejected) as caught:
        parse_hotspots(text + "KRAS\tG12\ttwelve\tsingle residue\tC:1\t1\n", "t", "d")
    assert caught.value.errors[0].line == 4 and caught.value.errors[0].column == "amino_acid_position"


def test_vendored_hotspots_cover_the_classic_residues(kb):
    for gene, position in (("BRAF", 600), ("KRAS", 12), ("PIK3CA", 1047), ("TP53", 273), ("EGFR", 858)):
        assert kb.hotspots.residue(gene, position) is not None, gene


def test_civic_nightly_tsv_on_real_records(kb):
    path = FIXTURES / "01-Nov-2026-ClinicalEvidenceSummaries.tsv"
    parsed = parse_civic_evidence(path.read_text(), "01-Nov-2026", "d", civic_tumour_code(kb.oncotree.code_for_name))
    by_id = {(e.source_id, e.therapy): e for e in parsed.evidence}
    assert set(by_id) == {("EID2997", "Afatinib"), ("EID9851", "Encorafenib + Cetuximab"),
                          ("EID3017", "Dabrafenib + Trametinib")}
    nsclc = by_id[("EID3017", "Dabrafenib + Trametinib")]
    assert (nsclc.gene, nsclc.protein_change, nsclc.level, nsclc.tumour_code, nsclc.pmids) == (
        "BRAF", "p.V600E", "A", "NSCLC", ("27283860",))
    assert by_id[("EID9851", "Encorafenib + Cetuximab")].tumour_code == "COADREAD"
    assert parsed.skipped == {"does not support": 1, "not predictive": 3}


def test_civic_tsv_missing_columns_are_named():
    with pytest.raises(RowsRejected) as caught:
        parse_civic_evidence("disease\ttherapies\n", "v", "d", lambda name: None)
    assert {e.column for e in caught.value.errors} >= {"evidence_level", "significance", "molecular_profile"}


def test_gene_table_places_positions(kb):
    assert kb.genes.gene_at("7", 140753336) == "BRAF"
    assert kb.genes.gene_at("17", 7675088) == "TP53"
    assert [g.symbol for g in kb.genes.overlapping("17", 39687914, 39730426)] == ["ERBB2"] or \
        "ERBB2" in [g.symbol for g in kb.genes.overlapping("17", 39687914, 39730426)]


@given(st.sampled_from(sorted(k for k in THREE_TO_ONE if k not in ("Ter", "Sec", "Xaa"))),
       st.integers(min_value=1, max_value=5000),
       st.sampled_from(sorted(k for k in THREE_TO_ONE if k not in ("Sec", "Xaa"))))
def test_protein_changes_from_every_spelling_agree(ref, position, alt):
    short = f"p.{THREE_TO_ONE[ref]}{position}{THREE_TO_ONE[alt]}"
    assert short_protein_change(f"ENSP00000288602.6:p.{ref}{position}{alt}") == short
    assert short_protein_change(f"p.({ref}{position}{alt})") == short
    assert short_protein_change(short) == short
    assert short_protein_change(short[2:]) == short
    assert codon_of(short) == (THREE_TO_ONE[ref], position)
