"""Parsing every typing form: alleles, truncated names, G/P groups, allele strings, XX, MAC, serology, GL."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifebank.hla.macs import MacError, load_mac_file, parse_mac_lines
from lifebank.hla.typing import (
    ALLELE,
    ALLELE_STRING,
    G_GROUP,
    MAC,
    P_GROUP,
    SEROLOGY,
    XX_CODE,
    TypingError,
    TypingParser,
)


def test_full_allele_is_one_allele(parser: TypingParser):
    p = parser.position("A*01:01:01:01")
    assert (p.kind, p.alleles, p.p_groups) == (ALLELE, ("A*01:01:01:01",), frozenset({"A*01:01P"}))
    assert p.single_allele == "A*01:01:01:01"


def test_truncated_name_expands_to_every_allele_it_stands_for(parser: TypingParser, nom):
    p = parser.position("A*01:01")
    assert p.kind == ALLELE
    assert len(p.alleles) == 280 and all(a.startswith("A*01:01:") for a in p.alleles)
    assert "A*01:01:01:02N" in p.alleles  # nulls are listed, but express no P group
    assert p.p_groups == {"A*01:01P"}


def test_expression_suffix_names_the_null_allele(parser: TypingParser):
    p = parser.position("A*01:04N")
    assert p.alleles == ("A*01:04:01:01N", "A*01:04:01:02N") and p.is_null


def test_g_and_p_groups(parser: TypingParser, nom):
    g = parser.position("A*01:01:01G")
    assert g.kind == G_GROUP and set(g.alleles) == set(nom.g_members["A*01:01:01G"])
    p = parser.position("A*01:01P")
    assert p.kind == P_GROUP and p.p_groups == {"A*01:01P"}


def test_allele_strings_with_and_without_repeated_locus(parser: TypingParser):
    short = parser.position("A*01:01/01:02")
    long = parser.position("A*01:01/A*01:02")
    assert short.kind == long.kind == ALLELE_STRING
    assert short.alleles == long.alleles and short.p_groups == {"A*01:01P", "A*01:02P"}


def test_allele_string_with_bare_second_fields_keeps_the_first_field(parser: TypingParser):
    p = parser.position("A*02:04/66/11")
    assert p.names == ("A*02:04", "A*02:66", "A*02:11")
    assert p.p_groups == {"A*02:04P", "A*02:01P", "A*02:11P"}  # A*02:66 belongs to A*02:01P


def test_xx_code_covers_the_first_field(parser: TypingParser):
    p = parser.position("A*02:XX")
    assert p.kind == XX_CODE and all(a.startswith("A*02:") for a in p.alleles) and len(p.alleles) == 1910


def test_xx_code_of_a_broad_antigen_covers_its_splits_families(parser: TypingParser):
    # No DRB1*02 family exists; NMDP reads DRB1*02:XX as DR2, the broad of DR15 and DR16.
    p = parser.position("DRB1*02:XX")
    assert p.kind == XX_CODE
    assert {a.split(":")[0] for a in p.alleles} == {"DRB1*15", "DRB1*16"}
    assert {a.split(":")[0] for a in parser.position("A*09:XX").alleles} == {"A*23", "A*24"}
    with pytest.raises(TypingError, match="no B allele has first field 70"):
        parser.position("B*70:XX")  # B70's splits B71/B72 are B*15 alleles: no family to read it by


def test_genotype_alternatives_mixing_codes_and_alleles_parse_and_reparse(parser: TypingParser):
    # "A*01:XX+A*02:01|A*02:01+A*03:01": the first position is A*01:XX or A*02:01; a donor file stores it as one
    # column value, which must parse again to the same alleles.
    g = parser.genotype("A*01:XX+A*02:01|A*02:01+A*03:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01")
    first = g.loci["A"].first
    again = parser.position(first.text, "A")
    assert first.text == "A*01:XX/A*02:01"
    assert set(again.alleles) == set(first.alleles)
    assert set(parser.position("A*01:XX").alleles) | set(parser.position("A*02:01").alleles) == set(again.alleles)
    assert again.p_groups == first.p_groups


def test_a_registry_parser_follows_renames_and_says_so(nom):
    registry = TypingParser(nom, follow_renames=True)
    p = registry.position("DRB1*11:01:01:01/15:02:01:01")
    assert p.renamed == (("DRB1*15:02:01:01", "DRB1*15:02:01:02"),)
    assert "DRB1*15:02:01:02" in p.alleles
    assert registry.position("A*01:01").renamed == ()
    with pytest.raises(TypingError, match="was deleted"):
        registry.position("A*02:100")  # deleted without a successor


def test_generic_and_specific_macs(parser: TypingParser):
    generic = parser.position("A*01:AB")
    assert generic.kind == MAC and generic.p_groups == {"A*01:01P", "A*01:02P"}
    specific = parser.position("A*01:DEF")  # specific codes ignore the first field they follow
    assert specific.p_groups == {"A*02:01P", "A*03:01P"}


def test_mac_of_only_nulls_is_a_null_position(parser: TypingParser):
    assert parser.position("A*01:NUL").is_null


def test_serology_broad_split_and_bare_number_in_a_column(parser: TypingParser, nom):
    a24 = parser.position("A24")
    assert a24.kind == SEROLOGY and a24.serology == "A24"
    a9 = parser.position("A9")  # a broad covers its splits
    assert a24.p_groups < a9.p_groups
    assert parser.position("2", "A").serology == "A2"
    assert parser.position("Cw3").locus == "C"


def test_column_locus_fills_in_star_names(parser: TypingParser):
    assert parser.position("*01:01", "A").alleles == parser.position("A*01:01").alleles
    assert parser.position("*08:XX", "B").locus == "B"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("A*01:34N", "A*01:34N was deleted from IPD-IMGT/HLA 3.58.0; it is now named A*01:01:38L"),
        ("DRB1*15:02:01:01/15:01", "DRB1*15:02:01:01 was deleted from IPD-IMGT/HLA 3.58.0; it is now named "
                                   "DRB1*15:02:01:02"),
        ("A*99:99", "A*99:99 is not an allele of IPD-IMGT/HLA 3.58.0"),
        ("A*01:ZZZZ", "unknown multiple-allele code 'ZZZZ' in A*01:ZZZZ (not among the 4 codes loaded; "
                      "load NMDP's current list with `lifebank hla macs load FILE`)"),
        ("Q*01:01", "locus 'Q' is not one LifeBank matches"),
        ("A*77:XX", "no A allele has first field 77"),
        ("A99", "A99 is not a serological antigen"),
        ("hello", "not an HLA allele name"),
        ("A*01:01/B*08:01", "allele string mixes loci"),
    ],
)
def test_invalid_tokens_are_named(parser: TypingParser, token: str, message: str):
    with pytest.raises(TypingError) as caught:
        parser.position(token)
    assert caught.value.token == token
    assert message in str(caught.value)


def test_wrong_locus_for_column(parser: TypingParser):
    with pytest.raises(TypingError, match="is locus B, expected A"):
        parser.position("B*08:01", "A")


def test_gl_string_loci_positions_and_homozygous(parser: TypingParser):
    g = parser.genotype("A*01:01+A*02:01^B*08:01^DRB1*03:01/DRB1*03:02+DRB1*15:01")
    assert set(g.loci) == {"A", "B", "DRB1"}
    assert g.loci["A"].first.p_groups == {"A*01:01P"} and g.loci["A"].second.p_groups == {"A*02:01P"}
    assert g.loci["B"].first is g.loci["B"].second  # one position reported: homozygous
    assert g.loci["DRB1"].first.kind == ALLELE_STRING


def test_gl_string_haplotypes_and_genotype_alternatives(parser: TypingParser):
    g = parser.genotype("A*01:01~B*08:01+A*02:01~B*07:02")
    assert g.loci["A"].second.p_groups == {"A*02:01P"} and g.loci["B"].first.p_groups == {"B*08:01P"}
    alt = parser.genotype("A*01:01+A*02:01|A*01:02+A*02:01")
    assert alt.loci["A"].first.p_groups == {"A*01:01P", "A*01:02P"}
    assert alt.loci["A"].second.p_groups == {"A*02:01P"}


def test_gl_string_errors_name_the_token(parser: TypingParser):
    with pytest.raises(TypingError, match="locus A appears twice"):
        parser.genotype("A*01:01+A*02:01^A*03:01")
    with pytest.raises(TypingError, match="more than two positions"):
        parser.genotype("A*01:01+A*02:01+A*03:01")


def test_mac_file_layouts(tmp_path):
    nmdp = tmp_path / "numer.v3.txt"
    nmdp.write_text("LAST UPDATED: 2024\n\n*\tAB\t01/02\n\tAC\t01/03\n")
    assert load_mac_file(nmdp).codes == {"AB": "01/02", "AC": "01/03"}
    empty = tmp_path / "empty.txt"
    empty.write_text("nothing here\n")
    with pytest.raises(MacError, match="holds no multiple-allele codes"):
        load_mac_file(empty)


def test_atlas_mac_dictionary_loads(atlas_macs):
    assert len(atlas_macs) == 12_527
    assert atlas_macs.codes["ABC"] == "01/02"
    assert parse_mac_lines(["Code,HLA,IsGeneric", "XY,01/02,true"]).codes == {"XY": "01/02"}


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="AB*:0123456789/+^~|XNGP", max_size=30))
def test_parser_never_fails_with_anything_but_a_typing_error(parser: TypingParser, text: str):
    try:
        parser.genotype(text)
    except TypingError as exc:
        assert exc.token is not None
