"""Parsers and splitting rules, fuzzed with hypothesis."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifebank.errors import ValidationFailed
from lifebank.omics.allele_counts import AlleleCount, AlleleCounts, format_float
from lifebank.omics.normalise import split_alleles, split_info_value
from lifebank.omics.regions import parse_region
from lifebank.omics.sample_map import SampleMapInvalid, parse_sample_map

positions = st.integers(min_value=1, max_value=2**31 - 1)


@given(st.from_regex(r"(chr)?[0-9XYM]{1,2}", fullmatch=True), positions, positions)
def test_region_round_trips_with_thousands_separators(chrom, a, b):
    start, end = min(a, b), max(a, b)
    region = parse_region(f"{chrom}:{start:,}-{end:,}")
    assert (region.chrom, region.start, region.end) == (chrom, start, end)
    assert parse_region(str(region)) == region


@given(st.text(max_size=30))
def test_region_parser_never_crashes(text):
    try:
        region = parse_region(text)
    except ValidationFailed:
        return
    assert 1 <= region.start <= region.end


def test_region_forms_of_bcftools():
    assert str(parse_region("chr1")) == "chr1:1-2147483647"
    assert str(parse_region("chr1:100")) == "chr1:100-100"
    assert str(parse_region("chr1:100-")) == "chr1:100-2147483647"
    with pytest.raises(ValidationFailed):
        parse_region("chr1:200-100")


alleles_arrays = st.integers(min_value=1, max_value=4).flatmap(
    lambda n_alts: st.tuples(
        st.just(n_alts),
        st.lists(st.tuples(st.integers(-1, n_alts), st.integers(-2, n_alts)), min_size=1, max_size=20)))


@given(alleles_arrays)
def test_split_alleles_follow_bcftools_rule_per_allele(case):
    n_alts, calls = case
    alleles = np.array(calls, dtype=np.int16)
    for alt in range(1, n_alts + 1):
        codes = split_alleles(alleles, alt)
        for (x, y), (cx, cy) in zip(calls, codes.tolist(), strict=True):
            for original, code in ((x, cx), (y, cy)):
                expected = 1 if original == alt else (original if original < 0 else 0)
                assert code == expected


@given(st.integers(min_value=2, max_value=5), st.data())
def test_number_a_r_g_split(n_alts, data):
    alt = data.draw(st.integers(1, n_alts))
    a = tuple(range(10, 10 + n_alts))
    r = tuple(range(20, 21 + n_alts))
    g = tuple(range((n_alts + 1) * (n_alts + 2) // 2))
    assert split_info_value("A", a, alt, n_alts) == a[alt - 1]
    assert split_info_value("R", r, alt, n_alts) == [r[0], r[alt]]
    assert split_info_value("G", g, alt, n_alts) == [0, alt * (alt + 1) // 2, alt * (alt + 1) // 2 + alt]
    assert split_info_value("1", "x", alt, n_alts) == "x"


def test_af_is_printed_like_htslib():
    assert AlleleCount("1", 1, "A", "G", 1, 3).af_text == "0.333333"
    assert AlleleCount("1", 1, "A", "G", 0, 0).af_text == "."
    assert AlleleCount("1", 1, "A", "G", 0, 0).af is None
    assert format_float(0.5) == "0.5" and format_float(1 / 6404) == "0.000156152"


@given(st.lists(st.tuples(st.from_regex(r"[A-Za-z0-9_]{1,8}", fullmatch=True),
                          st.from_regex(r"P[0-9]{1,4}", fullmatch=True)), max_size=20, unique_by=lambda t: t[0]))
def test_sample_map_round_trip(rows):
    text = "vcf_sample,participant,specimen_barcode\n" + "".join(f"{s},{p},\n" for s, p in rows)
    links = parse_sample_map(text)
    assert [(link.vcf_sample, link.participant, link.specimen_barcode) for link in links] == \
        [(s, p, None) for s, p in rows]


def test_sample_map_header_is_required():
    with pytest.raises(SampleMapInvalid) as caught:
        parse_sample_map("sample,participant\nA,P1\n")
    assert caught.value.errors[0].line == 1


site_counts = st.lists(st.tuples(st.integers(min_value=0, max_value=20_000), st.integers(min_value=0, max_value=20_000))
                       .map(lambda t: (min(t), max(t))), max_size=40)


@settings(deadline=None)  # under a loaded machine one example can take longer than the default 200 ms
@given(site_counts)
def test_columnar_counts_print_and_iterate_like_one_count_per_site(pairs):
    singles = [AlleleCount("chr1", 100 + i, "A", "CT", ac, an) for i, (ac, an) in enumerate(pairs)]
    table = AlleleCounts.from_counts(singles)
    assert len(table) == len(singles)
    assert list(table) == singles and table == singles
    assert [table[i] for i in range(len(table))] == singles
    assert table.af_texts() == [c.af_text for c in singles]
    assert table.as_rows() == [c.as_row() for c in singles]
    assert table.to_tsv() == "".join(f"chr1\t{c.pos}\tA\tCT\t{c.ac}\t{c.an}\t{c.af_text}\n" for c in singles)
    assert [None if np.isnan(af) else float(af) for af in table.af_values] == [c.af for c in singles]
    assert list(table[1:3]) == singles[1:3]
