"""Shared helpers of the omics tests: the real VCFs, bcftools as the reference implementation."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from shared_data import SHARED_DATA

VCF_DIR = SHARED_DATA / "omics" / "vcf"
REAL_VCFS = sorted(VCF_DIR.glob("*.vcf.gz"))
SITES_ONLY_BCF = VCF_DIR / "1kg_2020_chr20_annotations.bcf"

# A small hand-written VCF exercising what the real files lack: a 3-ALT record, haploid calls in a diploid
# record, partial no-calls, phased and unphased calls, Number=A/R/G INFO.
EDGE_VCF = """##fileformat=VCFv4.2
##contig=<ID=1,length=1000>
##contig=<ID=2,length=1000>
##INFO=<ID=XA,Number=A,Type=Integer,Description="per ALT">
##INFO=<ID=XR,Number=R,Type=Integer,Description="per allele">
##INFO=<ID=XG,Number=G,Type=Integer,Description="per genotype">
##INFO=<ID=X1,Number=1,Type=String,Description="one">
##FILTER=<ID=q10,Description="low quality">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">
#CHROM	POS	ID	REF	ALT	QUAL	FILTER	INFO	FORMAT	s1	s2	s3	s4	s5	s6
1	10	rs1	CT	C,CTT,G	50	PASS	XA=1,2,3;XR=0,1,2,3;XG=0,1,2,3,4,5,6,7,8,9;X1=a	GT:DP:GQ	0/1:3:4	1|2:5:6	2/3:.:.	./1:7:8	3:9:10	.|2:.:.
1	20	.	A	G	.	q10	.	GT	0/0	1	.	./.	0|1	1/.
1	30	rs3	G	T	12.5	PASS	X1=b	GT	0|0	0|0	0/0	0|1	1|1	0|0
2	5	.	C	A,T	.	.	.	GT	0/0	0/0	./.	0/2	0/0	0/0
"""  # noqa: E501


def bcftools(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(["bcftools", *args], input=stdin, capture_output=True, text=True, check=True).stdout


def bcftools_pipeline(command: str) -> str:
    return subprocess.run(command, shell=True, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="session", autouse=True)
def _require_bcftools() -> None:
    if shutil.which("bcftools") is None:
        pytest.fail("bcftools is missing: run `make system-deps` (Debian package bcftools)")


@pytest.fixture
def edge_vcf(tmp_path: Path) -> Path:
    path = tmp_path / "edge.vcf"
    path.write_text(EDGE_VCF)
    return path
