"""AC/AN/AF over a region and a sample subset computed by Apache Spark, over the same Parquet layout.

Past one machine the omics store is read by an existing engine, never by a LifeBank cluster of its own: the
files are plain Hive-partitioned Parquet (docs/omics-storage.md), so Spark reads them where they are (a
shared filesystem, HDFS or object storage mounted at the same path). This module is the proof and the
adapter: it runs the counting rule of the layout document ("AN counts called alleles; a subset sample absent
from `genotypes` contributes `ploidy` REF alleles") as Spark SQL and returns the same `AlleleCounts` the
embedded engine returns, so `lifebank omics af --engine spark` prints byte-identical output.

Only the batches the catalogue lists are read (their folders, never a bare glob), as the embedded engine does.
`LIFEBANK_SPARK_MASTER` names the cluster (`spark://host:7077`, `yarn`, `k8s://…`); the default is
`local[2]`, two threads in this process's JVM. pyspark is an optional dependency (`pip install
'lifebank[spark]'`) and needs a Java 17+ runtime.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lifebank.errors import ConfigError
from lifebank.omics import layout
from lifebank.omics.allele_counts import AlleleCount, AlleleCounts
from lifebank.omics.queries import BatchRef
from lifebank.omics.regions import Region, chrom_aliases

DEFAULT_MASTER = "local[2]"


def spark_session(master: str | None = None) -> Any:
    """A Spark session (created once per process, reused after): `master`, else LIFEBANK_SPARK_MASTER."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("the Spark engine needs pyspark and Java 17+: pip install 'lifebank[spark]'") from None
    chosen = master or os.environ.get("LIFEBANK_SPARK_MASTER") or DEFAULT_MASTER
    return (SparkSession.builder.master(chosen).appName("lifebank-omics")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate())


def allele_counts_spark(root: Path, batches: Sequence[BatchRef], region: Region,
                        samples: Sequence[str] | None = None, *, master: str | None = None) -> AlleleCounts:
    """AC/AN per biallelic site of `region`, over every sample or the VCF sample IDs given, summed across the
    batches per (dataset, chrom, pos, ref, alt) and ordered by position: the embedded engine's result."""
    from pyspark.sql import functions as F

    spark = spark_session(master)
    wanted = sorted(set(samples)) if samples is not None else None
    parts = []
    for ref in batches:
        for chrom in ref.chroms:
            if chrom not in chrom_aliases(region.chrom):
                continue
            sites_dir = layout.chrom_file(root, "sites", ref.dataset, ref.batch, chrom).parent
            genotypes_dir = layout.chrom_file(root, "genotypes", ref.dataset, ref.batch, chrom).parent
            sample_table = spark.read.parquet(str(layout.samples_file(root, ref.dataset, ref.batch)))
            if wanted is not None:
                sample_table = sample_table.where(F.col("sample_id").isin(wanted))
            members = sample_table.select("sample")
            n_members = members.count()
            sites = (spark.read.parquet(str(sites_dir))
                     .where((F.col("pos") <= region.end) & (F.col("end") >= region.start))
                     .select("site", "pos", "ref", "alt", "ploidy"))
            calls = (spark.read.parquet(str(genotypes_dir))
                     .where((F.col("pos") <= region.end) & (F.col("pos") >= region.start - _max_span(spark, sites_dir)))
                     .join(members, "sample", "left_semi")
                     .groupBy("site")
                     .agg(F.sum((F.col("a1") == 1).cast("int") + (F.col("a2") == 1).cast("int")).alias("ac"),
                          F.sum((F.col("a1") >= 0).cast("int") + (F.col("a2") >= 0).cast("int")).alias("called"),
                          F.count(F.lit(1)).alias("k")))
            counted = (sites.join(calls, "site", "left")
                       .select(F.lit(ref.dataset).alias("dataset"), F.lit(chrom).alias("chrom"), "pos", "ref", "alt",
                               F.struct(F.lit(ref.batch).alias("batch"), F.col("site")).alias("first"),
                               F.coalesce("ac", F.lit(0)).alias("ac"),
                               ((F.lit(n_members) - F.coalesce("k", F.lit(0))) * F.col("ploidy")
                                + F.coalesce("called", F.lit(0))).alias("an")))
            parts.append(counted)
    if not parts:
        return AlleleCounts([], np.empty(0, np.int64), [], [], np.empty(0, np.int64), np.empty(0, np.int64))
    union = parts[0]
    for part in parts[1:]:
        union = union.unionByName(part)
    rows = (union.groupBy("dataset", "chrom", "pos", "ref", "alt")
            .agg(F.sum("ac").alias("ac"), F.sum("an").alias("an"), F.min("first").alias("first"))
            .orderBy("dataset", "chrom", "pos", "first")
            .collect())
    return AlleleCounts.from_counts(AlleleCount(r["chrom"], int(r["pos"]), r["ref"], r["alt"], int(r["ac"]),
                                                int(r["an"])) for r in rows)


def _max_span(spark: Any, sites_dir: Path) -> int:
    """The longest REF span of a batch contig: genotype rows of sites starting that far before the region can
    still overlap it (the genotype table carries POS only)."""
    from pyspark.sql import functions as F

    value = spark.read.parquet(str(sites_dir)).agg(F.max(F.col("end") - F.col("pos"))).collect()[0][0]
    return int(value or 0)
