"""Where the Parquet files of the store live and what their columns are (documented in docs/omics-storage.md).

Table-first, Hive-style partitions, so DuckDB, Spark or Polars read the whole store with one glob:

    <data_dir>/omics/samples/dataset=<name>/batch=<n>/part-0.parquet
    <data_dir>/omics/sites/dataset=<name>/batch=<n>/chrom=<contig>/part-0.parquet
    <data_dir>/omics/genotypes/dataset=<name>/batch=<n>/chrom=<contig>/part-0.parquet
    <data_dir>/omics/formats/dataset=<name>/batch=<n>/chrom=<contig>/part-0.parquet   (when DP/GQ are declared)
    <data_dir>/omics/planes/dataset=<name>/batch=<n>/chrom=<contig>/part-0.lbplanes   (allele planes, `planes_read`)

A batch (one imported file) only ever adds new `batch=<n>` folders: files of earlier batches are never
opened for writing again, which is what lets backups and other engines trust them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from lifebank.errors import ValidationFailed
from lifebank.omics.planes_read import planes_path

TABLES = ("samples", "sites", "genotypes", "formats", "planes")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CONTIG_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")

SAMPLES_SCHEMA = pa.schema([
    pa.field("sample", pa.int32(), nullable=False),
    pa.field("sample_id", pa.string(), nullable=False),
])

SITES_SCHEMA = pa.schema([
    pa.field("site", pa.int32(), nullable=False),       # batch-local site number, in file order
    pa.field("pos", pa.int32(), nullable=False),        # 1-based POS
    pa.field("end", pa.int32(), nullable=False),        # last reference base covered (POS + rlen - 1)
    pa.field("id", pa.string()),                        # VCF ID (rsID) or null
    pa.field("ref", pa.string(), nullable=False),
    pa.field("alt", pa.string(), nullable=False),       # exactly one ALT: records are split biallelic
    pa.field("alt_index", pa.int8(), nullable=False),   # which ALT of the original record (1-based)
    pa.field("n_alts", pa.int8(), nullable=False),      # ALT count of the original record
    pa.field("qual", pa.float32()),
    pa.field("filter", pa.string()),                    # 'PASS', 'q10;s50', or null for '.'
    pa.field("info", pa.string()),                      # kept INFO fields as a JSON object, split per ALT
    pa.field("ploidy", pa.int8(), nullable=False),      # ploidy of every sample absent from genotypes
    pa.field("phased_ref", pa.bool_(), nullable=False),  # phasing of every sample absent from genotypes
])

GENOTYPES_SCHEMA = pa.schema([
    pa.field("site", pa.int32(), nullable=False),
    pa.field("pos", pa.int32(), nullable=False),        # copy of sites.pos so region filters prune row groups
    pa.field("sample", pa.int32(), nullable=False),     # samples.sample of the same batch
    pa.field("a1", pa.int8(), nullable=False),          # 0 REF, 1 ALT, -1 no-call
    pa.field("a2", pa.int8(), nullable=False),          # same, or -2 when the call is haploid
    pa.field("phased", pa.bool_(), nullable=False),
    pa.field("dp", pa.int32()),
    pa.field("gq", pa.int32()),
])


FORMATS_SCHEMA = pa.schema([
    pa.field("site", pa.int32(), nullable=False),
    pa.field("pos", pa.int32(), nullable=False),
    pa.field("dp", pa.list_(pa.int32())),               # FORMAT/DP of every sample, in sample order
    pa.field("gq", pa.list_(pa.int32())),               # FORMAT/GQ of every sample, in sample order
])


def check_name(kind: str, value: str) -> str:
    if not NAME_PATTERN.match(value):
        raise ValidationFailed("{kind} name {value!r}: use letters, digits, '_', '.', '-' (at most 64)", kind=kind,
                               value=value)
    return value


def check_contig(value: str) -> str:
    if not CONTIG_PATTERN.match(value):
        raise ValidationFailed("contig {value!r} cannot name a partition folder (letters, digits, '_', '.', '-')",
                               value=value)
    return value


def batch_folder(root: Path, table: str, dataset: str, batch: int) -> Path:
    return root / table / f"dataset={dataset}" / f"batch={batch}"


def chrom_file(root: Path, table: str, dataset: str, batch: int, chrom: str) -> Path:
    return batch_folder(root, table, dataset, batch) / f"chrom={chrom}" / "part-0.parquet"


def planes_file(root: Path, dataset: str, batch: int, chrom: str) -> Path:
    """The allele-plane file of one batch contig (not Parquet: see `planes_read`; absent in older stores)."""
    return planes_path(root, dataset, batch, chrom)


def samples_file(root: Path, dataset: str, batch: int) -> Path:
    return batch_folder(root, "samples", dataset, batch) / "part-0.parquet"


def table_glob(root: Path, table: str) -> str:
    """The glob that reads every batch of one table (DuckDB: `read_parquet(glob, hive_partitioning=true)`)."""
    depth = "*/*/*.parquet" if table == "samples" else "*/*/*/*.parquet"
    return str(root / table / depth)
