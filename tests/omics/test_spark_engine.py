"""Scale-out on an existing engine: Apache Spark (local mode) reads the same Parquet layout and computes the
same AC/AN/AF as the embedded engine and as bcftools, over all samples and a subset, across two batches."""

from __future__ import annotations

import pytest

from lifebank.omics import service
from lifebank.omics.regions import parse_region
from lifebank.omics.spark_counts import allele_counts_spark

from .conftest import REAL_VCFS, bcftools, bcftools_pipeline

pytestmark = pytest.mark.slow
pytest.importorskip("pyspark", reason="the Spark engine is the optional extra lifebank[spark]; make test installs it")

CHR22 = next(v for v in REAL_VCFS if "chr22" in v.name)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_spark_counts_equal_the_embedded_engine_and_bcftools(db, tmp_path) -> None:
    samples = bcftools("query", "-l", str(CHR22)).split()
    first, second = tmp_path / "b1.vcf.gz", tmp_path / "b2.vcf.gz"
    bcftools("view", "-Oz", "-o", str(first), "-s", ",".join(samples[:50]), str(CHR22))
    bcftools("view", "-Oz", "-o", str(second), "-s", ",".join(samples[50:]), str(CHR22))
    data = tmp_path / "data"
    service.import_vcf(db, data, first, dataset="kg", actor="tester")
    service.import_vcf(db, data, second, dataset="kg", actor="tester")
    refs = service.batch_refs(db, "kg")
    region = parse_region("chr22:1-20000000")
    subset = samples[40:60]
    spark_subset = None
    for chosen in (None, subset):
        embedded = service.allele_counts(db, data, region, dataset="kg", samples=chosen)
        spark = allele_counts_spark(service.store_root(data), refs, region, chosen)
        assert [c.as_row() for c in spark] == [c.as_row() for c in embedded]
        assert len(spark) == len(embedded) > 100  # 100 records, multi-allelic ones split
        spark_subset = spark
    view = f"bcftools view -s {','.join(subset)} - |"
    expected = bcftools_pipeline(f"bcftools norm -m- {CHR22} 2>/dev/null | {view} bcftools +fill-tags -- -t AC,AN,AF "
                                 "2>/dev/null | bcftools query -f '%POS\\t%REF\\t%ALT\\t%AC\\t%AN\\t%AF\\n'")
    assert spark_subset is not None
    assert [f"{c.pos}\t{c.ref}\t{c.alt}\t{c.ac}\t{c.an}\t{c.af_text}" for c in spark_subset] == expected.splitlines()
