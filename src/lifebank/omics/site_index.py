"""A warm process's index of one committed (batch, contig) file pair, and the reads it makes cheap.

Batch files never change once the catalogue lists them, so the small per-site columns (site, pos, end,
ploidy, phased_ref: 14 bytes a site, ~14 MB for a million sites) and both files' footers are read once
and kept. A region then becomes two binary searches over `pos` and the read of only the row groups that
hold its rows (pyarrow, no SQL planning): what costs a DuckDB statement ~6-15 ms of binding and planning
over a many-row-group file is a ~0.1 ms lookup. No decoded genotype or site data is cached; every query
decodes the row groups it needs, as a fresh process would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

GENOTYPE_COLUMNS = ("site", "sample", "a1", "a2")


def _row_offsets(meta: pq.FileMetaData) -> np.ndarray:
    """First row of every row group, plus the total row count at the end."""
    counts = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    return np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)


def _site_bounds(meta: pq.FileMetaData) -> tuple[np.ndarray, np.ndarray]:
    """Min and max `site` of every row group of a genotypes file, from the footer's statistics.

    A row group without statistics gets the widest bounds, so it is always read (never wrongly skipped).
    """
    column = meta.schema.to_arrow_schema().get_field_index("site")
    low = np.full(meta.num_row_groups, np.iinfo(np.int64).min, dtype=np.int64)
    high = np.full(meta.num_row_groups, np.iinfo(np.int64).max, dtype=np.int64)
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(column).statistics
        if stats is not None and stats.has_min_max:
            low[i], high[i] = int(stats.min), int(stats.max)
    return low, high


@dataclass(frozen=True, slots=True)
class ChromIndex:
    """Positions of every site of one batch's contig, and where its rows lie in the two Parquet files."""

    sites_path: Path
    genotypes_path: Path
    site: np.ndarray          # int64, batch-local site numbers in file order
    pos: np.ndarray           # int64
    end: np.ndarray           # int64
    ploidy: np.ndarray        # int8
    phased_ref: np.ndarray    # bool
    ordered: bool             # pos never decreases (a sorted VCF): regions are found by binary search
    max_span: int             # longest end - pos: how far left of a region a overlapping site can start
    sites_meta: pq.FileMetaData
    sites_offsets: np.ndarray
    genotypes_meta: pq.FileMetaData
    genotype_low: np.ndarray
    genotype_high: np.ndarray

    @classmethod
    def load(cls, sites_path: Path, genotypes_path: Path) -> ChromIndex:
        sites_meta = pq.read_metadata(sites_path)
        table = pq.ParquetFile(sites_path, metadata=sites_meta).read(
            columns=["site", "pos", "end", "ploidy", "phased_ref"], use_threads=False)
        pos = table["pos"].to_numpy().astype(np.int64)
        end = table["end"].to_numpy().astype(np.int64)
        genotypes_meta = pq.read_metadata(genotypes_path)
        low, high = _site_bounds(genotypes_meta)
        return cls(sites_path, genotypes_path, table["site"].to_numpy().astype(np.int64), pos, end,
                   table["ploidy"].to_numpy(), table["phased_ref"].to_numpy(zero_copy_only=False),
                   bool(np.all(pos[1:] >= pos[:-1])), int((end - pos).max()) if len(pos) else 0,
                   sites_meta, _row_offsets(sites_meta), genotypes_meta, low, high)

    def rows_in(self, start: int, end: int) -> np.ndarray:
        """Row numbers (file order) of the sites whose reference span POS..END overlaps start..end."""
        if self.ordered:
            first = int(np.searchsorted(self.pos, start - self.max_span, side="left"))
            last = int(np.searchsorted(self.pos, end, side="right"))
            rows = np.arange(first, last, dtype=np.int64)
            return rows[self.end[first:last] >= start]
        return np.flatnonzero((self.pos <= end) & (self.end >= start)).astype(np.int64)

    def read_sites(self, rows: np.ndarray, columns: list[str]) -> pa.Table:
        """The given columns of the given rows of the sites file, decoding only the row groups holding them."""
        if not len(rows):
            return pq.ParquetFile(self.sites_path, metadata=self.sites_meta).schema_arrow.empty_table().select(
                columns)
        first_group = int(np.searchsorted(self.sites_offsets, rows.min(), side="right")) - 1
        last_group = int(np.searchsorted(self.sites_offsets, rows.max(), side="right")) - 1
        table = pq.ParquetFile(self.sites_path, metadata=self.sites_meta).read_row_groups(
            list(range(first_group, last_group + 1)), columns=columns, use_threads=False)
        return table.take(pa.array(rows - self.sites_offsets[first_group]))

    def genotype_rows(self, low_site: int, high_site: int,
                      columns: tuple[str, ...] = GENOTYPE_COLUMNS) -> dict[str, np.ndarray]:
        """Columns of the sparse genotype rows with low_site <= site <= high_site, as NumPy arrays.

        Only row groups whose `site` statistics overlap the range are decoded (pyarrow decodes the
        columns on its thread pool); rows are sorted by site, so the range is cut out by binary search.
        """
        groups = np.flatnonzero((self.genotype_high >= low_site) & (self.genotype_low <= high_site)).tolist()
        wanted = list(dict.fromkeys(("site", *columns)))
        if not groups:
            schema = pq.ParquetFile(self.genotypes_path, metadata=self.genotypes_meta).schema_arrow
            return {name: np.empty(0, dtype=schema.field(name).type.to_pandas_dtype()) for name in wanted}
        table = pq.ParquetFile(self.genotypes_path, metadata=self.genotypes_meta, memory_map=True).read_row_groups(
            groups, columns=wanted, use_threads=True)
        site = table["site"].to_numpy()
        first = int(np.searchsorted(site, low_site, side="left"))
        last = int(np.searchsorted(site, high_site, side="right"))
        out = {"site": site[first:last]}
        for name in wanted:
            if name != "site":
                out[name] = table[name].slice(first, last - first).to_numpy(zero_copy_only=False)
        return out
