"""Input files: every "bad input" of issue 13 names the record and the reason."""

from __future__ import annotations

import pytest

from lifebank.errors import RowsRejected, ValidationFailed
from lifebank.precision.cna_input import call, parse_segments
from lifebank.precision.fusion_input import parse_fusions
from lifebank.precision.maf_input import parse_maf
from lifebank.precision.vcf_input import parse_vcf, read_vcf

from .conftest import EXAMPLES, vep_vcf

BRAF = ("chr7", 140753336, "A", "T", "BRAF", "missense_variant", "ENSP00000288602.6:p.Val600Glu")
MAF_COLUMNS = ["Hugo_Symbol", "Chromosome", "Start_Position", "Reference_Allele", "Tumor_Seq_Allele2",
               "Variant_Classification", "Tumor_Sample_Barcode", "HGVSp_Short", "NCBI_Build"]


def test_vep_csq_gives_gene_and_protein_change(tmp_path):
    parsed = read_vcf(vep_vcf(tmp_path / "t.vcf", [BRAF]))
    variant = parsed.variants[0]
    assert (variant.chrom, variant.gene, variant.protein_change, variant.consequence) == (
        "7", "BRAF", "p.V600E", "missense_variant")
    assert parsed.annotation == "VEP CSQ" and parsed.warnings == []


def test_snpeff_ann_gives_protein_change():
    lines = ["##fileformat=VCFv4.2", "##reference=GRCh38",
             "##INFO=<ID=ANN,Number=.,Type=String,Description=\"Functional annotations: 'Allele | Annotation | "
             "Annotation_Impact | Gene_Name | Gene_ID | Feature_Type | Feature_ID | Transcript_BioType | Rank | "
             "HGVS.c | HGVS.p'\">",
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT",
             "12\t25245350\t.\tC\tA\t.\tPASS\tANN=A|missense_variant|MODERATE|KRAS|ENSG|transcript|ENST|"
             "protein_coding|2/6|c.34G>T|p.Gly12Cys\tGT\t0/1"]
    parsed = parse_vcf(lines)
    assert parsed.annotation == "SnpEff ANN"
    assert (parsed.variants[0].gene, parsed.variants[0].protein_change) == ("KRAS", "p.G12C")


def test_vcf_without_a_tumour_sample_column_is_refused(tmp_path):
    lines = ["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO", "7\t1\t.\tA\tT\t.\tPASS\t."]
    with pytest.raises(ValidationFailed, match="no sample column: a tumour sample column is required"):
        parse_vcf(lines)


def test_two_samples_need_the_tumour_named(tmp_path):
    path = vep_vcf(tmp_path / "t.vcf", [BRAF], samples=("S1", "S2"))
    with pytest.raises(ValidationFailed, match="2 samples and none is marked as the tumour"):
        read_vcf(path)
    assert read_vcf(path, sample="S2").sample == "S2"
    tagged = vep_vcf(tmp_path / "u.vcf", [BRAF], samples=("NORMAL", "TUMOR"))
    assert read_vcf(tagged).sample == "TUMOR"


def test_contig_names_chr7_and_7_are_the_same(tmp_path):
    with_chr = read_vcf(vep_vcf(tmp_path / "a.vcf", [BRAF]))
    without = read_vcf(vep_vcf(tmp_path / "b.vcf", [("7", *BRAF[1:])]))
    assert with_chr.variants[0].chrom == without.variants[0].chrom == "7"


def test_grch37_file_declared_as_grch38_is_detected_from_the_header(tmp_path):
    path = vep_vcf(tmp_path / "t.vcf", [BRAF], genome="GRCh37",
                   extra_header="##contig=<ID=1,length=249250621>")
    with pytest.raises(ValidationFailed, match="declared GRCh38 but its header says GRCh37"):
        read_vcf(path, declared_genome="GRCh38")
    assert read_vcf(path, declared_genome="GRCh37").genome == "GRCh37"


def test_undeclared_build_is_a_clear_warning():
    lines = ["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT",
             "7\t140753336\t.\tA\tT\t.\tPASS\t.\tGT\t0/1"]
    parsed = parse_vcf(lines)
    assert [str(w) for w in parsed.warnings] == [
        "the VCF header does not name its genome build; it was taken as GRCh38 as declared"]


def test_bad_vcf_records_are_named_and_nothing_is_kept():
    lines = ["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT",
             "7\tabc\t.\tA\tT\t.\tPASS\t.\tGT\t0/1", "7\t5\t.\tQ\tT\t.\tPASS\t.\tGT\t0/1",
             "7\t6\t.\tA\tT\t.\tPASS\t.\tGT\t0/1"]
    with pytest.raises(RowsRejected) as caught:
        parse_vcf(lines)
    assert [(e.line, e.column) for e in caught.value.errors] == [(3, "POS"), (4, "REF")]


def test_pcgr_example_vcf_reads_as_grch38():
    parsed = read_vcf(EXAMPLES / "T001-COAD.grch38.vcf.gz")
    assert len(parsed.variants) == 3313 and parsed.genome == "GRCh38" and parsed.warnings == []
    assert parsed.sample.startswith("TCGA-")


def test_maf_missing_required_columns_are_named():
    with pytest.raises(RowsRejected) as caught:
        parse_maf(["Hugo_Symbol\tChromosome\tStart_Position\n", "BRAF\t7\t1\n"])
    assert {e.column for e in caught.value.errors} == {"Reference_Allele", "Tumor_Seq_Allele2",
                                                       "Variant_Classification", "Tumor_Sample_Barcode"}
    assert all(e.line == 1 for e in caught.value.errors)


def test_maf_with_several_tumours_needs_a_sample_and_reads_hgvsp_short():
    rows = ["\t".join(MAF_COLUMNS),
            "BRAF\t7\t140453136\tA\tT\tMissense_Mutation\tS1\tp.V600E\tGRCh37",
            "KRAS\t12\t25398285\tC\tA\tMissense_Mutation\tS2\tp.G12C\tGRCh37"]
    with pytest.raises(ValidationFailed, match="2 tumours"):
        parse_maf(rows)
    parsed = parse_maf(rows, sample="S2")
    assert parsed.genome == "GRCh37" and [v.protein_change for v in parsed.variants] == ["p.G12C"]
    with pytest.raises(ValidationFailed, match="declared GRCh38 but its NCBI_Build column says GRCh37"):
        parse_maf(rows, sample="S2", declared_genome="GRCh38")


def test_cna_calls_and_thresholds():
    assert [call(cn) for cn in (0, 1, 2, 3, 5, 9)] == ["deletion", "loss", "neutral", "gain", "amplification",
                                                      "amplification"]
    assert call(5, ploidy=4) == "gain"  # a tetraploid tumour needs 7 copies
    segments = parse_segments(["Chromosome\tStart\tEnd\tnMajor\tnMinor\n", "17\t1\t100\t6\t3\n"])
    assert segments[0].copy_number == 9
    seg = parse_segments(["ID\tchrom\tloc.start\tloc.end\tnum.mark\tseg.mean\n", "S\tchr17\t1\t100\t5\t1.0\n"])
    assert (seg[0].chrom, seg[0].copy_number) == ("17", 4.0)
    with pytest.raises(RowsRejected) as caught:
        parse_segments(["Chromosome\tStart\tEnd\tnMajor\n"])
    assert [e.column for e in caught.value.errors] == ["nMinor"]
    with pytest.raises(RowsRejected) as caught:
        parse_segments(["Chromosome\tStart\tEnd\tnMajor\tnMinor\n", "1\t9\t5\t1\t1\n"])
    assert caught.value.errors[0].line == 2


def test_fusion_layouts_and_bad_row():
    pcgr = parse_fusions((EXAMPLES / "T001-BRCA.grch38.fusions.tsv").read_text().splitlines(keepends=True))
    assert (pcgr[1].gene5, pcgr[1].gene3, pcgr[1].reads) == ("EML4", "ALK", 100)
    with pytest.raises(RowsRejected) as caught:
        parse_fusions(["FusionGene\tSplitReads\n", "EML4ALK\t3\n"])
    assert caught.value.errors[0].line == 2 and caught.value.errors[0].column == "FusionGene"
