"""Checks against published material: PCGR's legacy GRCh37 BRCA tiers, and liftover against hotspot codons."""

from __future__ import annotations

import csv

from lifebank.precision.interpret import TumourInputs, interpret
from lifebank.precision.maf_input import parse_maf
from lifebank.precision.protein import codon_of

from .conftest import FIXTURES

# PCGR 0.x tiers: 1 = clinical biomarker (therapy/prognosis evidence), 2 = cancer hotspot / predicted driver.
# LifeBank's AMP tiers: I/II = therapy evidence; a hotspot without therapy evidence is AMP Tier III, flagged.
# Differences that follow from the knowledge bases, each with its reason. None among the covered variants
# today: TP53 p.V272M (PCGR tier 2, its hotspot call) is AMP Tier II here through MOAlmanac's gene-level TP53
# missense evidence in other tumour types (lenalidomide resistance, MDS), applied because V272 is a hotspot.
# Not covered by MOAlmanac or the hotspots, so not compared: ABL2 p.D227Y and CAD p.M759I (PCGR's predicted
# drivers, tier 2), which LifeBank reports in Tier III.
DIFFERENCES: dict[tuple[str, str], str] = {}


def _legacy_rows():
    with (FIXTURES / "tumor_sample.BRCA.pcgr.snvs_indels.tiers.tsv").open() as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _as_maf(rows):
    """The PCGR output's VEP annotation (symbol, consequence, protein change) as a MAF, GRCh37."""
    lines = ["Hugo_Symbol\tChromosome\tStart_Position\tReference_Allele\tTumor_Seq_Allele2\tVariant_Classification"
             "\tTumor_Sample_Barcode\tHGVSp_Short\tNCBI_Build"]
    for row in rows:
        chrom, pos, change = row["GENOMIC_CHANGE"].removeprefix("g.").split(":")
        ref, alt = change.split(">")
        protein = row["PROTEIN_CHANGE"] if row["PROTEIN_CHANGE"] != "NA" else ""
        lines.append("\t".join([row["SYMBOL"], chrom, pos, ref, alt, row["CONSEQUENCE"].split("&")[0],
                                "tumor_sample.BRCA", protein, "GRCh37"]))
    return lines


def test_pcgr_legacy_brca_tier_1_and_2_variants_are_found_at_least_as_actionable(kb):
    rows = _legacy_rows()
    content = interpret(TumourInputs("BRCA", parse_maf(_as_maf(rows))), kb)
    assert len(content["variants"]) == len(rows) == 199
    ours = {(v["gene"], v["protein_change"]): v for v in content["variants"]}
    checked = 0
    for row in rows:
        pcgr_tier = int(row["TIER"].split()[1])
        if pcgr_tier > 2:
            continue
        key = (row["SYMBOL"], row["PROTEIN_CHANGE"])
        codon = codon_of(row["PROTEIN_CHANGE"])
        covered = key in kb.by_protein or bool(codon and kb.hotspots.residue(key[0], codon[1]))
        if not covered:  # ABL2 p.D227Y, CAD p.M759I: PCGR's predicted-driver calls, in neither knowledge base
            continue
        variant = ours[key]
        checked += 1
        if key in DIFFERENCES:
            assert variant["tier"] == DIFFERENCES[key] and variant["hotspot"] is not None
            continue
        if pcgr_tier == 1:
            assert variant["tier"] in ("I", "II"), key
        else:
            assert variant["tier"] in ("I", "II") or variant["hotspot"], key
    assert checked == 2
    assert ours[("TP53", "p.V272M")]["tier"] == "II" and ours[("TP53", "p.V272M")]["hotspot"]["residue"] == "V272"
    assert ours[("ABL2", "p.D227Y")]["tier"] == ours[("CAD", "p.M759I")]["tier"] == "III"
    pik3ca = ours[("PIK3CA", "p.H1047R")]
    assert (pik3ca["tier"], pik3ca["grch37"]["pos"], pik3ca["pos"]) == ("I", 178952085, 179234297)


# Published GRCh38 positions of hotspot codons (NCBI GRCh38.p14; the nucleotide the common allele changes).
PUBLISHED_GRCH38 = {("BRAF", 600): ("7", 140753336), ("PIK3CA", 1047): ("3", 179234297),
                    ("KRAS", 12): ("12", 25245350), ("PIK3CA", 545): ("3", 179218303),
                    ("EGFR", 858): ("7", 55191822), ("IDH1", 132): ("2", 208248389)}


def test_moalmanac_grch37_rows_lift_onto_the_hotspot_codons(kb):
    lifted_by_codon: dict[tuple[str, int], set[tuple[str, int]]] = {}
    for (chrom, pos, _ref, _alt), (gene, protein) in kb.protein_at.items():
        codon = codon_of(protein)
        if codon and kb.hotspots.residue(gene, codon[1], protein):
            lifted_by_codon.setdefault((gene, codon[1]), set()).add((chrom, pos))
    assert len(lifted_by_codon) >= 20
    for (gene, codon), positions in lifted_by_codon.items():
        chroms = {c for c, _ in positions}
        span = max(p for _, p in positions) - min(p for _, p in positions)
        assert len(chroms) == 1 and span <= 2, (gene, codon, positions)  # one codon: three nucleotides at most
        gene_span = kb.genes.by_symbol[gene]
        assert gene_span.chrom in chroms and all(gene_span.start <= p <= gene_span.end for _, p in positions)
    for key, (chrom, pos) in PUBLISHED_GRCH38.items():
        if key in lifted_by_codon:
            assert any(c == chrom and abs(p - pos) <= 2 for c, p in lifted_by_codon[key]), key
    assert {("BRAF", 600), ("PIK3CA", 1047), ("KRAS", 12), ("EGFR", 858)} <= set(lifted_by_codon)
