"""Properties of the tier rules and the VCF reader, over generated cases (Hypothesis)."""

from __future__ import annotations

from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from lifebank.precision import kb_store
from lifebank.precision.knowledge import PROTEIN, Evidence
from lifebank.precision.oncotree import ANY_SOLID
from lifebank.precision.tiers import in_tumour_type, place
from lifebank.precision.vcf_input import parse_vcf

CODES = ["NSCLC", "LUAD", "MEL", "BRCA", "IDC", "AML", "COADREAD", "COAD", ANY_SOLID, None]
ORDER = {"I": 0, "II": 1, "III": 2, "IV": 3}


@cache
def oncotree():
    return kb_store.build(None).oncotree


evidence_items = st.builds(
    lambda level, code, direction: Evidence(source="T", source_id="1", kind=PROTEIN, gene="G", therapy="t",
                                            direction=direction, level=level, tumour_code=code, disease="",
                                            evidence_label=level),
    st.sampled_from("ABCD"), st.sampled_from(CODES), st.sampled_from(["sensitivity", "resistance"]))
tumours = st.sampled_from(["LUAD", "MEL", "IDC", "AML", "COAD", "BRCA"])


@settings(max_examples=200, deadline=None)
@given(st.lists(evidence_items, max_size=5), evidence_items, tumours)
def test_more_evidence_never_makes_a_biomarker_less_actionable(items, extra, tumour):
    before = place(items, tumour, oncotree())
    after = place([*items, extra], tumour, oncotree())
    assert ORDER[after.tier] <= ORDER[before.tier]


@settings(max_examples=200, deadline=None)
@given(st.lists(evidence_items, max_size=5), tumours)
def test_tier_one_exactly_when_level_a_or_b_applies_in_this_tumour_type(items, tumour):
    tree = oncotree()
    expected = any(e.level in "AB" and in_tumour_type(e, tumour, tree) for e in items)
    assert (place(items, tumour, tree).tier == "I") == expected


bases = st.text(alphabet="ACGT", min_size=1, max_size=4)
records = st.lists(st.tuples(st.sampled_from([str(c) for c in range(1, 23)] + ["X"]),
                             st.integers(min_value=1, max_value=40_000_000), bases, bases, st.booleans()),
                   min_size=1, max_size=20)


@settings(max_examples=100, deadline=None)
@given(records)
def test_vcf_records_read_back_with_normalised_contigs(rows):
    lines = ["##fileformat=VCFv4.2", "##reference=GRCh38", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT"]
    lines += [f"{'chr' if prefixed else ''}{chrom}\t{pos}\t.\t{ref}\t{alt}\t.\tPASS\t.\tGT\t0/1"
              for chrom, pos, ref, alt, prefixed in rows]
    parsed = parse_vcf(lines)
    assert [(v.chrom, v.pos, v.ref, v.alt, v.line) for v in parsed.variants] == [
        (chrom, pos, ref, alt, i + 4) for i, (chrom, pos, ref, alt, _p) in enumerate(rows)]
