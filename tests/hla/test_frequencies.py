"""Haplotype frequency files: the three formats, resolution, every bad line named, and choosing a set."""

from __future__ import annotations

import pytest

from lifebank.hla.frequencies import (
    DEFAULT_SET,
    FrequencyFileError,
    choose_set,
    parse_frequencies,
    read_frequency_file,
    vendored_set,
)
from shared_data import SHARED_DATA

SHARED = SHARED_DATA / "hla"
MVT3 = SHARED / "wmda-mvt3"

SEMI = "haplotype;frequency\nA*01:01g~B*08:01g~DRB1*03:01;0.1\nA*02:01g~B*07:02g~DRB1*15:01;0.05\n"


def test_semicolon_file_with_header_reads_names_and_g_resolution():
    fset = parse_frequencies(SEMI, name="T")
    assert fset.loci == ("A", "B", "DRB1") and len(fset) == 2 and fset.resolution == "g"
    assert fset.haplotypes[1] == ("A*02:01g", "B*07:02g", "DRB1*15:01")
    assert fset.normalised().sum() == pytest.approx(1.0)


def test_comma_file_and_two_field_resolution():
    fset = parse_frequencies("A*01:01~B*08:01,3,0.2\nA*02:01~B*07:02,1,0.1\n", name="C")
    assert fset.resolution == "two_field" and fset.frequencies == (0.2, 0.1)


def test_nmdp_2007_file_needs_a_population_and_strips_hla_prefix():
    text = ("EUR,HLA-A*01:01g~HLA-B*08:01g,0.1,1.0\nAPI,HLA-A*33:03~HLA-B*58:01g,0.02,1.0\n"
            "API,HLA-A*02:07g~HLA-B*46:01,0.01,2.0\n")
    with pytest.raises(FrequencyFileError, match="choose one with --population"):
        parse_frequencies(text, name="N")
    with pytest.raises(FrequencyFileError, match="population CHI is not in the file"):
        parse_frequencies(text, name="N", population="CHI")
    api = parse_frequencies(text, name="N", population="API")
    assert api.population == "API" and api.haplotypes == (("A*33:03", "B*58:01g"), ("A*02:07g", "B*46:01"))


def test_vendored_api_and_eur_sets_match_the_published_figures():
    api, eur = vendored_set("NMDP-2007-API"), vendored_set("NMDP-2007-EUR")
    assert (len(api), len(eur)) == (1629, 3380)
    assert api.total == pytest.approx(0.9963, abs=1e-4) and eur.total == pytest.approx(0.99669, abs=1e-5)
    top = dict(zip(api.haplotype_texts(), api.frequencies, strict=True))
    assert top["A*33:03~C*03:02~B*58:01g~DRB1*03:01~DQB1*02:01g"] == 0.02214
    assert api.loci == ("A", "C", "B", "DRB1", "DQB1") and api.resolution == "g"


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("A*01:01~B*08:01;0.1\nA*01:01~B*08:01;0.2\n", 2, "haplotype A*01:01~B*08:01 already listed on line 1"),
    ("A*01:01~B*08:01;0.1\nA*02:01~B*07:02;abc\n", 2, "frequency 'abc' is not a number from 0 to 1"),
    ("A*01:01~B*08:01;0.1\nA*02:01~B*07:02;-0.1\n", 2, "frequency '-0.1' is not a number from 0 to 1"),
    ("A*01:01~B*08:01;0.1\nA*02:01~C*07:02;0.1\n", 2, "loci A~C differ from the first haplotype's A~B"),
    ("A*01:01~B*08:01;0.1\nA*0x:01~B*07:02;0.1\n", 2, "'A*0x:01' is not an HLA allele name"),
    ("A*01:01~B*08:01;0.1\nA*02:01~B*07:02;0.1;9\n", 2, "expected haplotype;frequency, found 3 fields"),
])
def test_every_bad_line_is_named(text, line, reason):
    with pytest.raises(FrequencyFileError) as caught:
        parse_frequencies(text, name="bad")
    assert [(e.line, str(e.reason)) for e in caught.value.errors] == [(line, reason)]


def test_whole_file_errors():
    with pytest.raises(FrequencyFileError, match="not a haplotype frequency file"):
        parse_frequencies("hello world\n", name="x")
    with pytest.raises(FrequencyFileError, match="sum to 0"):
        parse_frequencies("A*01:01~B*08:01;0\n", name="x")
    with pytest.raises(FrequencyFileError, match="more than 1"):
        parse_frequencies("A*01:01~B*08:01;0.9\nA*02:01~B*08:01;0.9\n", name="x")


def test_choose_set_by_registry_then_population_then_default():
    api = vendored_set("NMDP-2007-API")
    eur = vendored_set("NMDP-2007-EUR")
    chi = parse_frequencies(SEMI, name="CHI", population="CHI", registries=["CMDP"])
    sets = [api, eur, chi]
    assert choose_set(sets, registry="CMDP") == choose_set(sets, registry="CMDP", population="EUR")
    assert choose_set(sets, registry="CMDP").reason == "registry"
    assert choose_set(sets, registry="LB").name == "NMDP-2007-API"
    assert choose_set(sets, population="eur").name == "NMDP-2007-EUR"
    assert choose_set(sets, registry="XX", population="HIS") == choose_set([], population=None)
    assert choose_set([], population=None).name == DEFAULT_SET


def test_mvt3_freqs_file_reads_whole():
    fset = read_frequency_file(MVT3 / "task3-inputs" / "freqs.txt", name="MVT3")
    assert len(fset) == 3394 and fset.resolution == "g" and fset.loci == ("A", "C", "B", "DRB1", "DQB1")
    cau = read_frequency_file(SHARED / "haplotype-frequencies" / "CAU.freqs.gz", name="CAU")
    assert len(cau) == 3380 and cau.resolution == "two_field"
