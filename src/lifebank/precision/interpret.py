"""One tumour's inputs + the knowledge base -> the report content (the JSON of `lifebank precision report`).

Pure. Matching, strongest first, for each input variant (after lifting GRCh37 inputs to GRCh38):
  allele          the exact GRCh38 allele of a knowledge-base row (MOAlmanac's GRCh37 coordinates, lifted);
                  for a raw VCF this also supplies the protein change
  protein_change  same gene and protein change (from VEP CSQ / SnpEff ANN / MAF HGVSp_Short)
  codon           codon-level evidence (`BRAF p.V600`), or, for a raw VCF, another base at a nucleotide the
                  knowledge base places on that codon
  gene_mutation   gene-level evidence ("PIK3CA oncogenic mutation"), applied only when the variant is shown to
                  be oncogenic: at a recurrent cancer hotspot residue, or, for loss-of-function evidence
                  (nonsense, frameshift, splice site), a truncating consequence
Copy-number and fusion biomarkers match by gene (and partner); TMB-high evidence by its threshold.
Every other variant is reported at gene level (Tier III/IV). Tiers: `lifebank.precision.tiers`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lifebank.errors import ValidationFailed
from lifebank.messages import Msg
from lifebank.precision import tiers
from lifebank.precision.cna_input import Segment, call
from lifebank.precision.fusion_input import Fusion
from lifebank.precision.kb import KnowledgeBase
from lifebank.precision.knowledge import AMPLIFICATION, DELETION, LEVEL_ORDER, TRUNCATING, Evidence
from lifebank.precision.protein import codon_of
from lifebank.precision.vcf_input import NONSYNONYMOUS, SomaticVariant, VariantInput
from lifebank.precision.vcf_input import TRUNCATING as TRUNCATING_CONSEQUENCES

DEFAULT_TARGET_MB = 34.0  # PCGR's default effective target size (whole exome)
TMB_HIGH = 10.0           # mutations per Mb (FDA, pembrolizumab 2020)


@dataclass
class TumourInputs:
    tumour_type: str
    variants: VariantInput | None = None
    segments: list[Segment] = field(default_factory=list)
    fusions: list[Fusion] = field(default_factory=list)
    purity: float | None = None
    ploidy: float | None = None
    target_size_mb: float = DEFAULT_TARGET_MB


def _therapies(evidence: list[Evidence], tumour: str, kb: KnowledgeBase) -> list[dict[str, Any]]:
    """One entry per therapy, direction, source, level and disease: assertions that say the same thing (MOAlmanac
    often has one per label revision or guideline) are merged, their ids, PMIDs and trials kept."""
    merged: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
    for item in evidence:
        key = (item.therapy, item.direction, item.source, item.level, item.disease)
        if key in merged:
            entry = merged[key]
            entry["source_id"] += "," + item.source_id
            entry["pmids"] += [p for p in item.pmids if p not in entry["pmids"]]
            entry["trials"] += [t for t in item.trials if t not in entry["trials"]]
            continue
        entry = item.therapy_entry()
        here = tiers.in_tumour_type(item, tumour, kb.oncotree)
        entry["in_tumour_type"] = here
        entry["amp_level"] = tiers.contextual_level(item, here)
        merged[key] = entry
    entries = list(merged.values())
    entries.sort(key=lambda e: (e["direction"] != "sensitivity", LEVEL_ORDER[e["amp_level"]], e["therapy"]))
    return entries


def _dedupe(evidence: list[Evidence]) -> list[Evidence]:
    seen: set[tuple[str, str, str]] = set()
    kept = []
    for item in evidence:
        key = (item.source, item.source_id, item.therapy)
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def match_variant(variant: SomaticVariant, kb: KnowledgeBase) -> tuple[list[Evidence], list[str], dict[str, Any]]:
    """(evidence, how each kind matched, hotspot) for one GRCh38 variant; fills in gene/protein change."""
    found: list[Evidence] = []
    how: list[str] = []
    exact = kb.by_allele.get((variant.chrom, variant.pos, variant.ref, variant.alt), [])
    if exact:
        found += exact
        how.append("allele")
        if variant.protein_change is None and (variant.chrom, variant.pos, variant.ref, variant.alt) in kb.protein_at:
            variant.gene, variant.protein_change = kb.protein_at[(variant.chrom, variant.pos, variant.ref, variant.alt)]
    if variant.gene is None:
        variant.gene = kb.genes.gene_at(variant.chrom, variant.pos)
    gene = variant.gene or ""
    codon = codon_of(variant.protein_change)
    if codon is None and not variant.annotated and (variant.chrom, variant.pos) in kb.codon_at:
        codon_gene, aa, position = kb.codon_at[(variant.chrom, variant.pos)]
        if codon_gene == gene or not gene:
            gene = variant.gene = codon_gene
            codon = (aa, position)
    if variant.protein_change and (gene, variant.protein_change) in kb.by_protein:
        found += kb.by_protein[(gene, variant.protein_change)]
        how.append("protein_change")
    if codon and (gene, codon[1]) in kb.by_codon:
        found += kb.by_codon[(gene, codon[1])]
        how.append("codon")
    hotspot = kb.hotspots.residue(gene, codon[1], variant.protein_change, variant.consequence) if codon else None
    truncating = variant.consequence in TRUNCATING_CONSEQUENCES
    gene_level = [e for e in kb.gene_level.get(gene, ())
                  if (e.variant_class in TRUNCATING and truncating) or (e.variant_class not in TRUNCATING and hotspot)
                  ] if (hotspot or truncating) else []
    if gene_level:
        found += gene_level
        how.append("gene_mutation")
    hotspot_info = {"residue": hotspot.residue, "type": hotspot.kind, "tumours": hotspot.tumour_count,
                    "same_allele_seen": bool(variant.protein_change and variant.protein_change[-1:] in hotspot.variants)
                    } if hotspot else None
    return (_dedupe(found) if len(how) > 1 else found), how, hotspot_info or {}


def check_build(inputs: VariantInput, kb: KnowledgeBase, warnings: list[Msg]) -> None:
    """The declared build against the reference bases the knowledge base knows for both builds.

    A variant that is exactly a knowledge-base allele of the *other* build (same position, REF and ALT), while
    no variant agrees with the declared build's reference at a known position, proves the file is of the other
    build: refused, naming the record. REF disagreeing with the declared build's known reference is a warning.
    """
    declared = inputs.genome
    other = "GRCh37" if declared == "GRCh38" else "GRCh38"
    other_alleles = kb.grch37_alleles if declared == "GRCh38" else {a: v for a, v in kb.protein_at.items()}
    agree, disagree, foreign = 0, [], []
    for variant in inputs.variants:
        known = kb.reference_base.get((declared, variant.chrom, variant.pos))
        if known is not None:
            if variant.ref[:len(known)] == known[:len(variant.ref)]:
                agree += 1
            else:
                disagree.append(variant)
        elif (variant.chrom, variant.pos, variant.ref, variant.alt) in other_alleles:
            foreign.append(variant)
    if foreign and not agree:
        first = foreign[0]
        gene, protein = other_alleles[(first.chrom, first.pos, first.ref, first.alt)]
        raise ValidationFailed("line {line}: {chrom}:{pos} {ref}>{alt} is the {other} allele of {gene} {protein}, and "
                               "no variant matches a {declared} reference base the knowledge base knows: the file is "
                               "{other}, not {declared}; declare --genome {other}", line=first.line,
                               chrom=first.chrom, pos=first.pos, ref=first.ref, alt=first.alt, other=other, gene=gene,
                               protein=protein, declared=declared)
    if disagree and not agree:
        first = disagree[0]
        warnings.append(Msg("line {line}: REF {ref} at {chrom}:{pos} is not the {declared} reference base the "
                            "knowledge base knows; check the genome build", line=first.line, ref=first.ref,
                            chrom=first.chrom, pos=first.pos, declared=declared))


def _lift(inputs: VariantInput, kb: KnowledgeBase, warnings: list[Msg]) -> list[tuple[SomaticVariant, Any]]:
    if inputs.genome == "GRCh38":
        return [(v, None) for v in inputs.variants]
    if kb.lifter is None:
        raise ValidationFailed("no GRCh37 to GRCh38 chain is available to lift the input over")
    lifted = []
    unlifted = 0
    for variant in inputs.variants:
        original = {"chrom": variant.chrom, "pos": variant.pos, "ref": variant.ref, "alt": variant.alt}
        moved = kb.lifter.allele(variant.chrom, variant.pos, variant.ref, variant.alt) \
            if "-" not in (variant.ref, variant.alt) else None
        if moved is None:
            position = kb.lifter.position(variant.chrom, variant.pos)
            if position is None:
                unlifted += 1
                lifted.append((variant, dict(original, lifted=False)))
                continue
            variant.chrom, variant.pos = position[0], position[1]
        else:
            variant.chrom, variant.pos, variant.ref, variant.alt = moved
        lifted.append((variant, dict(original, lifted=True)))
    if unlifted:
        warnings.append(Msg("{count} variant could not be lifted from GRCh37 to GRCh38 and is reported at its "
                            "GRCh37 position", plural="{count} variants could not be lifted from GRCh37 to GRCh38 "
                            "and are reported at their GRCh37 positions", count=unlifted))
    return lifted


def _variants(inputs: TumourInputs, kb: KnowledgeBase, warnings: list[Msg]) -> list[dict[str, Any]]:
    if inputs.variants is None:
        return []
    check_build(inputs.variants, kb, warnings)
    rows = []
    for variant, grch37 in _lift(inputs.variants, kb, warnings):
        evidence, how, hotspot = match_variant(variant, kb) if not (grch37 and not grch37["lifted"]) \
            else ([], [], {})
        placed = tiers.place(evidence, inputs.tumour_type, kb.oncotree, population_af=variant.population_af,
                             consequence=variant.consequence)
        row: dict[str, Any] = {
            "gene": variant.gene, "protein_change": variant.protein_change, "chrom": variant.chrom,
            "pos": variant.pos, "ref": variant.ref, "alt": variant.alt, "tier": placed.tier,
            "therapies": _therapies(evidence, inputs.tumour_type, kb) if evidence else [],
            "tier_rule": placed.rule, "matched_by": how, "consequence": variant.consequence, "vaf": variant.vaf,
            "hotspot": hotspot or None, "line": variant.line,
        }
        if grch37 is not None:
            row["grch37"] = grch37
        rows.append(row)
    return rows


def _tmb(inputs: TumourInputs, kb: KnowledgeBase) -> dict[str, Any] | None:
    if inputs.variants is None:
        return None
    variants = inputs.variants.variants
    annotated = any(v.annotated for v in variants)
    counted = sum(1 for v in variants if v.consequence in NONSYNONYMOUS) if annotated else len(variants)
    value = round(counted / inputs.target_size_mb, 2)
    evidence = [e for e in kb.tmb if value >= (e.tmb_threshold or TMB_HIGH)] if value >= TMB_HIGH else []
    placed = tiers.place(evidence, inputs.tumour_type, kb.oncotree) if evidence else None
    return {"value": value, "unit": "mutations/Mb", "mutations": counted, "target_size_mb": inputs.target_size_mb,
            "method": "nonsynonymous coding variants" if annotated else "all variants (the input is not annotated)",
            "high": value >= TMB_HIGH, "tier": placed.tier if placed else None,
            "tier_rule": placed.rule if placed else None,
            "therapies": _therapies(evidence, inputs.tumour_type, kb) if evidence else []}


def _cna(inputs: TumourInputs, kb: KnowledgeBase) -> list[dict[str, Any]]:
    genes = {gene for gene, _kind in kb.copy_number}
    ploidy = inputs.ploidy or 2.0
    rows = []
    for segment in inputs.segments:
        called = call(segment.copy_number, ploidy)
        if called not in ("amplification", "deletion"):
            continue
        kind = AMPLIFICATION if called == "amplification" else DELETION
        for gene in kb.genes.overlapping(segment.chrom, segment.start, segment.end):
            if gene.symbol not in genes:
                continue
            evidence = _dedupe(list(kb.copy_number.get((gene.symbol, kind), ())))
            placed = tiers.place(evidence, inputs.tumour_type, kb.oncotree)
            rows.append({"gene": gene.symbol, "call": called, "copy_number": round(segment.copy_number, 2),
                         "chrom": segment.chrom, "start": segment.start, "end": segment.end, "tier": placed.tier,
                         "tier_rule": placed.rule, "therapies": _therapies(evidence, inputs.tumour_type, kb)})
    return rows


def _fusions(inputs: TumourInputs, kb: KnowledgeBase) -> list[dict[str, Any]]:
    rows = []
    for fusion in inputs.fusions:
        pair = {fusion.gene5, fusion.gene3} - {""}
        candidates = list(kb.fusions.get(fusion.gene5, ())) + list(kb.fusions.get(fusion.gene3, ()))
        evidence = _dedupe([e for e in candidates if (e.partner is None and e.gene in pair)
                            or (e.partner is not None and {e.gene, e.partner} == pair)])
        placed = tiers.place(evidence, inputs.tumour_type, kb.oncotree)
        name = f"{fusion.gene5}::{fusion.gene3}" if fusion.gene3 else fusion.gene5
        rows.append({"fusion": name, "gene5": fusion.gene5, "gene3": fusion.gene3,
                     "left_breakpoint": fusion.left, "right_breakpoint": fusion.right, "split_reads": fusion.reads,
                     "tier": placed.tier, "tier_rule": placed.rule,
                     "therapies": _therapies(evidence, inputs.tumour_type, kb)})
    return rows


def interpret(inputs: TumourInputs, kb: KnowledgeBase) -> dict[str, Any]:
    """The report content. The tumour type must be an OncoTree code of the knowledge base's release."""
    tumour = kb.oncotree.get(inputs.tumour_type)
    if tumour.level == 0:
        raise ValidationFailed("{code} is the root of OncoTree, not a tumour type", code=tumour.code)
    inputs.tumour_type = tumour.code
    warnings: list[Msg] = list(inputs.variants.warnings) if inputs.variants else []
    variants = _variants(inputs, kb, warnings)
    content: dict[str, Any] = {
        "tumour_type": tumour.code,
        "tmb": _tmb(inputs, kb),
        "variants": variants,
        "cna": _cna(inputs, kb),
        "fusions": _fusions(inputs, kb),
        "knowledge_base": kb.versions(),
        "tumour_type_name": tumour.name,
        "solid_tumour": kb.oncotree.is_solid(tumour.code),
        "genome": "GRCh38",
        "input": {"genome": inputs.variants.genome if inputs.variants else None,
                  "sample": inputs.variants.sample if inputs.variants else None,
                  "annotation": inputs.variants.annotation if inputs.variants else None,
                  "segments": len(inputs.segments), "purity": inputs.purity, "ploidy": inputs.ploidy},
        "warnings": [str(w) for w in warnings],
    }
    content["summary"] = {tier: sum(1 for v in variants if v["tier"] == tier) for tier in ("I", "II", "III", "IV")}
    return content
