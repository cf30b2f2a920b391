"""A process's index of one committed (batch, contig) file pair, and the reads it makes cheap.

Batch files never change once the catalogue lists them, so both files' footers are parsed once, and the
small per-site columns (site, pos, end, ploidy, phased_ref: 14 bytes a site) of a sites row group are
decoded the first time a region touches it and then kept. A region becomes a test of each row group's
`pos`/`end` statistics, a mask over the kept columns of the few groups that can overlap, and the read of
only those row groups' other columns (pyarrow, no SQL planning: a DuckDB statement spent ~6-15 ms binding
and planning over a many-row-group file). A one-shot process decodes only the groups its region touches.
No genotype data and no site text columns are cached: every query decodes the row groups it needs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

GENOTYPE_COLUMNS = ("site", "sample", "a1", "a2")
KEY_COLUMNS = ("site", "pos", "end", "ploidy", "phased_ref")


def _row_offsets(meta: pq.FileMetaData) -> np.ndarray:
    """First row of every row group, plus the total row count at the end."""
    counts = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    return np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)


def _bounds(meta: pq.FileMetaData, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of one column in every row group, from the footer's statistics.

    A row group without statistics gets the widest bounds, so it is always read (never wrongly skipped).
    """
    column = meta.schema.to_arrow_schema().get_field_index(name)
    low = np.full(meta.num_row_groups, np.iinfo(np.int64).min, dtype=np.int64)
    high = np.full(meta.num_row_groups, np.iinfo(np.int64).max, dtype=np.int64)
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(column).statistics
        if stats is not None and stats.has_min_max:
            low[i], high[i] = int(stats.min), int(stats.max)
    return low, high


@dataclass(frozen=True, slots=True)
class SiteRows:
    """Sites of one batch's contig that a region overlaps, in file order: row numbers and their key columns."""

    rows: np.ndarray         # int64 row numbers in the sites file
    site: np.ndarray         # int64 batch-local site numbers
    pos: np.ndarray          # int64
    ploidy: np.ndarray       # int8
    phased_ref: np.ndarray   # bool

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(slots=True)
class ChromIndex:
    """Footers and row-group bounds of one batch's contig files, and the key columns of the groups read so far."""

    sites_path: Path
    genotypes_path: Path
    sites_meta: pq.FileMetaData
    sites_offsets: np.ndarray
    pos_low: np.ndarray       # per sites row group: min pos
    end_high: np.ndarray      # per sites row group: max end
    genotypes_meta: pq.FileMetaData
    genotype_low: np.ndarray  # per genotypes row group: min and max site
    genotype_high: np.ndarray
    groups: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, sites_path: Path, genotypes_path: Path) -> ChromIndex:
        sites_meta = pq.read_metadata(sites_path)
        genotypes_meta = pq.read_metadata(genotypes_path)
        pos_low, _ = _bounds(sites_meta, "pos")
        _, end_high = _bounds(sites_meta, "end")
        genotype_low, genotype_high = _bounds(genotypes_meta, "site")
        return cls(sites_path, genotypes_path, sites_meta, _row_offsets(sites_meta), pos_low, end_high,
                   genotypes_meta, genotype_low, genotype_high)

    def _group(self, number: int) -> dict[str, np.ndarray]:
        cached = self.groups.get(number)
        if cached is None:
            table = pq.ParquetFile(self.sites_path, metadata=self.sites_meta).read_row_group(
                number, columns=list(KEY_COLUMNS), use_threads=False)
            cached = {name: table[name].to_numpy(zero_copy_only=False) for name in KEY_COLUMNS}
            for name in ("site", "pos", "end"):
                cached[name] = cached[name].astype(np.int64)
            with self.lock:
                self.groups[number] = cached
        return cached

    def rows_in(self, start: int, end: int) -> SiteRows:
        """The sites whose reference span POS..END overlaps start..end, in file order."""
        parts = []
        for number in np.flatnonzero((self.pos_low <= end) & (self.end_high >= start)).tolist():
            group = self._group(number)
            hit = np.flatnonzero((group["pos"] <= end) & (group["end"] >= start))
            if len(hit):
                parts.append((hit + self.sites_offsets[number], {k: v[hit] for k, v in group.items()}))
        if not parts:
            return SiteRows(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64),
                            np.empty(0, np.int8), np.empty(0, bool))
        if len(parts) == 1:
            rows, cols = parts[0]
        else:
            rows = np.concatenate([p[0] for p in parts])
            cols = {k: np.concatenate([p[1][k] for p in parts]) for k in KEY_COLUMNS}
        return SiteRows(rows, cols["site"], cols["pos"], cols["ploidy"], cols["phased_ref"])

    def read_sites(self, found: SiteRows, columns: list[str]) -> pa.Table:
        """The given columns of the found rows of the sites file, decoding only the row groups holding them."""
        if not len(found):
            return pq.ParquetFile(self.sites_path, metadata=self.sites_meta).schema_arrow.empty_table().select(
                columns)
        groups = np.unique(np.searchsorted(self.sites_offsets, found.rows, side="right") - 1)
        table = pq.ParquetFile(self.sites_path, metadata=self.sites_meta).read_row_groups(
            groups.tolist(), columns=columns, use_threads=False)
        # row numbers within the concatenation of the groups read
        starts = np.concatenate([[0], np.cumsum(np.diff(self.sites_offsets)[groups])])
        group_of = np.searchsorted(self.sites_offsets, found.rows, side="right") - 1
        local = found.rows - self.sites_offsets[group_of] + starts[np.searchsorted(groups, group_of)]
        return table.take(pa.array(local))

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
