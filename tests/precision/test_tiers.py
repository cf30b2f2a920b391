"""AMP/ASCO/CAP 2017 tiers: one test per rule, and the issue's hand-checked cases through the whole path."""

from __future__ import annotations

import pytest

from lifebank.errors import ValidationFailed
from lifebank.precision.cna_input import parse_segments
from lifebank.precision.interpret import TumourInputs, interpret
from lifebank.precision.knowledge import PROTEIN, Evidence
from lifebank.precision.oncotree import ANY_SOLID
from lifebank.precision.tiers import place
from lifebank.precision.vcf_input import read_vcf

from .conftest import vep_vcf


def evidence(level: str, code: str | None, direction: str = "sensitivity") -> Evidence:
    return Evidence(source="T", source_id="1", kind=PROTEIN, gene="G", therapy="drug", direction=direction,
                    level=level, tumour_code=code, disease="", evidence_label=level)


@pytest.mark.parametrize(("items", "tumour", "expected"), [
    ([evidence("A", "NSCLC")], "LUAD", ("I", "I-A")),                 # ancestor type counts as this type
    ([evidence("B", "LUAD")], "LUAD", ("I", "I-B")),
    ([evidence("B", "LUAD", "resistance")], "LUAD", ("I", "I-B")),    # resistance is significant too
    ([evidence("A", "MEL")], "LUAD", ("II", "II-C")),                 # A elsewhere counts as C
    ([evidence("A", "LUAD")], "NSCLC", ("II", "II-C")),               # a subtype's evidence is not the parent's
    ([evidence("C", "LUAD")], "LUAD", ("II", "II-C")),
    ([evidence("A", None)], "LUAD", ("II", "II-C")),                  # disease without OncoTree code: elsewhere
    ([evidence("D", "LUAD")], "LUAD", ("II", "II-D")),
    ([evidence("A", ANY_SOLID)], "COAD", ("I", "I-A")),              # tumour-agnostic, solid tumour
    ([evidence("A", ANY_SOLID)], "AML", ("II", "II-C")),             # … not for a haematological one
    ([], "LUAD", ("III", "III")),
])
def test_tier_rules(kb, items, tumour, expected):
    placed = place(items, tumour, kb.oncotree)
    assert (placed.tier, placed.rule) == expected


def test_tier_iv_benign_by_population_frequency_or_synonymous(kb):
    assert place([], "LUAD", kb.oncotree, population_af=0.2).tier == "IV"
    assert place([], "LUAD", kb.oncotree, consequence="synonymous_variant").tier == "IV"
    assert place([evidence("D", "LUAD")], "LUAD", kb.oncotree, population_af=0.2).tier == "II"


def report(kb, tmp_path, tumour, records, **kwargs):
    inputs = TumourInputs(tumour, read_vcf(vep_vcf(tmp_path / "t.vcf", records)), **kwargs)
    return interpret(inputs, kb)


def therapies(variant):
    return {t["therapy"] for t in variant["therapies"] if t["amp_level"] == "A" and t["direction"] == "sensitivity"}


BRAF_V600E = ("chr7", 140753336, "A", "T", "BRAF", "missense_variant", "p.Val600Glu")


def test_braf_v600e_in_melanoma_is_tier_i(kb, tmp_path):
    variant = report(kb, tmp_path, "MEL", [BRAF_V600E])["variants"][0]
    assert (variant["gene"], variant["protein_change"], variant["tier"], variant["tier_rule"]) == (
        "BRAF", "p.V600E", "I", "I-A")
    assert {"Dabrafenib + Trametinib", "Vemurafenib", "Encorafenib"} <= therapies(variant)


def test_braf_v600e_in_any_solid_tumour_is_tier_i_but_aml_is_tier_ii(kb, tmp_path):
    thyroid = report(kb, tmp_path, "THPA", [BRAF_V600E])["variants"][0]
    assert thyroid["tier"] == "I" and "Dabrafenib + Trametinib" in therapies(thyroid)
    aml = report(kb, tmp_path, "AML", [BRAF_V600E])["variants"][0]
    assert (aml["tier"], aml["tier_rule"]) == ("II", "II-C")
    assert not any(t["in_tumour_type"] for t in aml["therapies"])


def test_kras_g12c_in_nsclc_is_tier_i(kb, tmp_path):
    variant = report(kb, tmp_path, "LUAD", [("12", 25245351, "C", "A", "KRAS", "missense_variant",
                                              "p.Gly12Cys")])["variants"][0]
    assert variant["tier"] == "I" and {"Sotorasib", "Adagrasib"} <= therapies(variant)


def test_pik3ca_h1047r_in_breast_is_tier_i_through_gene_level_evidence_and_hotspot(kb, tmp_path):
    variant = report(kb, tmp_path, "BRCA", [("3", 179234297, "A", "G", "PIK3CA", "missense_variant",
                                              "p.His1047Arg")])["variants"][0]
    assert variant["tier"] == "I" and "gene_mutation" in variant["matched_by"]
    assert "Alpelisib" in therapies(variant)
    assert variant["hotspot"]["residue"] == "H1047" and variant["hotspot"]["same_allele_seen"]


def test_gene_level_evidence_needs_an_oncogenic_variant(kb, tmp_path):
    # PIK3CA p.L10P is no hotspot: the gene-level alpelisib assertion does not apply
    variant = report(kb, tmp_path, "BRCA", [("3", 179199000, "T", "C", "PIK3CA", "missense_variant",
                                              "p.Leu10Pro")])["variants"][0]
    assert variant["tier"] == "III" and variant["therapies"] == []


def test_erbb2_amplification_in_breast_is_tier_i(kb, tmp_path):
    segments = parse_segments(["Chromosome\tStart\tEnd\tnMajor\tnMinor\n", "17\t39600000\t39800000\t6\t3\n"])
    content = report(kb, tmp_path, "BRCA", [BRAF_V600E], segments=segments)
    erbb2 = next(c for c in content["cna"] if c["gene"] == "ERBB2")
    assert (erbb2["call"], erbb2["tier"]) == ("amplification", "I")
    assert "Trastuzumab" in therapies(erbb2)


def test_unknown_oncotree_code_is_refused(kb, tmp_path):
    with pytest.raises(ValidationFailed, match="unknown OncoTree code 'BREAST-X'"):
        report(kb, tmp_path, "BREAST-X", [BRAF_V600E])
    with pytest.raises(ValidationFailed, match="TISSUE is the root of OncoTree, not a tumour type"):
        report(kb, tmp_path, "tissue", [BRAF_V600E])


def test_grch37_input_is_lifted_and_matched(kb, tmp_path):
    content = interpret(TumourInputs("MEL", read_vcf(vep_vcf(tmp_path / "t.vcf", [
        ("7", 140453136, "A", "T", "BRAF", "missense_variant", "p.Val600Glu")], genome="GRCh37"),
        declared_genome="GRCh37")), kb)
    variant = content["variants"][0]
    assert (variant["pos"], variant["grch37"]["pos"], variant["tier"]) == (140753336, 140453136, "I")
    assert "allele" in variant["matched_by"]


def test_raw_vcf_is_matched_by_allele_and_reported_at_gene_level(kb):
    from .conftest import EXAMPLES

    content = interpret(TumourInputs("COAD", read_vcf(EXAMPLES / "T001-COAD.grch38.vcf.gz")), kb)
    assert len(content["variants"]) == 3313
    tier_one = [v for v in content["variants"] if v["tier"] == "I"]
    assert [(v["gene"], v["protein_change"], v["matched_by"][0]) for v in tier_one] == [("BRAF", "p.V600E", "allele")]
    assert content["tmb"]["method"] == "all variants (the input is not annotated)"
    assert content["tmb"]["value"] == round(3313 / 34, 2) and content["tmb"]["high"]
    assert content["tmb"]["tier"] == "I"  # pembrolizumab, TMB >= 10, any solid tumour


RAW_HEADER = ["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tTUMOR"]


def test_grch37_file_declared_grch38_is_detected_from_reference_alleles(kb):
    from lifebank.precision.vcf_input import parse_vcf

    grch37 = RAW_HEADER + ["1\t1000000\t.\tA\tC\t.\tPASS\t.\tGT\t0/1", "3\t178952085\t.\tA\tG\t.\tPASS\t.\tGT\t0/1"]
    with pytest.raises(ValidationFailed, match=r"line 4: 3:178952085 A>G is the GRCh37 allele of PIK3CA p.H1047R"):
        interpret(TumourInputs("BRCA", parse_vcf(grch37)), kb)
    content = interpret(TumourInputs("BRCA", parse_vcf(grch37, declared_genome="GRCh37")), kb)
    assert content["variants"][1]["pos"] == 179234297 and content["variants"][1]["tier"] == "I"


def test_position_past_the_chromosome_end_names_the_record():
    from lifebank.errors import RowsRejected
    from lifebank.precision.vcf_input import parse_vcf

    with pytest.raises(RowsRejected) as caught:
        parse_vcf(RAW_HEADER + ["17\t83257442\t.\tA\tC\t.\tPASS\t.\tGT\t0/1"])
    assert caught.value.errors[0].line == 3 and "past the end of chromosome 17 in GRCh38" in str(caught.value)
