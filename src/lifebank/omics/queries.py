"""Read-side of the store over the Parquet files of the batches the catalogue lists.

Region sites, allele counts and genotype matrices go through the in-memory site index (`site_index`,
`region_reads`: pyarrow and NumPy, no SQL planning); variant-ID search, the sparse genotype listing and the
VCF export use DuckDB SQL. Queries take explicit file lists (never a bare glob), so a batch that is still
being renamed into place, or was left behind by a crash, is invisible until the catalogue commits it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lifebank.errors import ValidationFailed
from lifebank.omics import layout
from lifebank.omics.allele_counts import AlleleCounts, merge_batch_counts
from lifebank.omics.planes_read import AllelePlanes, PlaneFileError, plane_counts
from lifebank.omics.refs import BatchRef
from lifebank.omics.region_reads import GenotypeMatrix, count_alleles, dense_genotypes
from lifebank.omics.regions import Region, chrom_aliases
from lifebank.omics.site_index import ChromIndex
from lifebank.omics.vcf_export import ExportSite, genotype_text

if TYPE_CHECKING:
    import duckdb

HIVE_TYPES = "{'dataset': VARCHAR, 'batch': INTEGER, 'chrom': VARCHAR}"
SAMPLE_HIVE_TYPES = "{'dataset': VARCHAR, 'batch': INTEGER}"


class VariantStore:
    """Queries over `<data_dir>/omics`: site indexes kept per batch contig, and one in-memory DuckDB connection
    (a cursor per query) for the SQL paths. Thread-safe."""

    def __init__(self, root: Path, *, use_planes: bool = True) -> None:
        self.root = root
        self.use_planes = use_planes  # False: count from the sparse genotype rows even where planes exist
        self._con: duckdb.DuckDBPyConnection | None = None  # opened on first SQL use (region reads need none)
        self._lock = threading.Lock()
        self._sample_index: dict[tuple[str, int], dict[str, int]] = {}
        self._spans: dict[str, int] = {}
        self._indexes: dict[tuple[str, int, str], ChromIndex] = {}
        self._planes: dict[tuple[str, int, str], AllelePlanes | None] = {}
        # the last regions' merged sites: a page and its total (`count_sites_in_region`) are one lookup
        self._recent: dict[tuple[tuple[BatchRef, ...], Region], list[dict[str, object]]] = {}

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._con is None:
                import duckdb  # ~0.2 s to import: only the SQL paths (ID search, genotypes, export) pay it

                con = duckdb.connect(":memory:", config={"threads": 2})
                # Parquet footers are parsed once per file: batch files never change after they are committed.
                con.execute("SET parquet_metadata_cache = true")
                self._con = con
            return self._con.cursor()

    # --- file lists ------------------------------------------------------------------------------------

    def _files(self, table: str, batches: Iterable[BatchRef], chrom: str | None) -> list[str]:
        files = []
        for ref in batches:
            if table == "samples":
                files.append(str(layout.samples_file(self.root, ref.dataset, ref.batch)))
                continue
            for name in ref.chroms:
                if chrom is None or name in chrom_aliases(chrom):
                    files.append(str(layout.chrom_file(self.root, table, ref.dataset, ref.batch, name)))
        return files

    @staticmethod
    def _scan(files: list[str]) -> str:
        quoted = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        types = SAMPLE_HIVE_TYPES if files and "/samples/" in files[0] else HIVE_TYPES
        return f"read_parquet([{quoted}], hive_partitioning=true, hive_types={types})"

    # --- sites -----------------------------------------------------------------------------------------

    def chrom_index(self, ref: BatchRef, chrom: str) -> ChromIndex:
        """The in-memory index of one batch's contig (loaded once: committed files never change)."""
        key = (ref.dataset, ref.batch, chrom)
        index = self._indexes.get(key)
        if index is None:
            index = self._indexes[key] = ChromIndex.load(
                layout.chrom_file(self.root, "sites", ref.dataset, ref.batch, chrom),
                layout.chrom_file(self.root, "genotypes", ref.dataset, ref.batch, chrom))
        return index

    def planes(self, ref: BatchRef, chrom: str) -> AllelePlanes | None:
        """The allele-plane file of one batch's contig, opened once; None for a store written before it existed
        (or a file this version cannot read): counts then come from the sparse genotype rows."""
        key = (ref.dataset, ref.batch, chrom)
        if not self.use_planes:
            return None
        if key not in self._planes:
            try:
                found: AllelePlanes | None = AllelePlanes.open(layout.planes_file(self.root, ref.dataset, ref.batch,
                                                                                  chrom))
            except (FileNotFoundError, PlaneFileError):
                found = None
            with self._lock:
                self._planes.setdefault(key, found)
        return self._planes[key]

    def warm(self, batches: Sequence[BatchRef]) -> int:
        """Load the site index of every batch's contigs now, as a server does at start-up (else on first use).

        Returns the bytes of decoded site text kept in memory."""
        kept = 0
        for ref in batches:
            for chrom in ref.chroms:
                kept = self.chrom_index(ref, chrom).warm()
        return kept

    def _parts(self, batches: Sequence[BatchRef], region: Region) -> list[tuple[BatchRef, str, ChromIndex]]:
        aliases = chrom_aliases(region.chrom)
        return [(ref, chrom, self.chrom_index(ref, chrom)) for ref in batches for chrom in ref.chroms
                if chrom in aliases]

    def _region_sites(self, batches: Sequence[BatchRef], region: Region) -> list[dict[str, object]]:
        """Distinct (dataset, chrom, pos, ref, alt) sites overlapping the region, ordered by dataset, chrom,
        pos, first batch and first site number (what the SQL `GROUP BY ... ORDER BY` of a scan gave)."""
        key = (tuple(batches), region)
        cached = self._recent.get(key)
        if cached is not None:
            return cached
        merged: dict[tuple[str, str, int, str, str], list] = {}
        for ref, chrom, index in self._parts(batches, region):
            rows = index.rows_in(region.start, region.end)
            if not len(rows):
                continue
            table = index.read_sites(rows, ["id", "ref", "alt", "qual", "filter", "info"])
            columns = [table[name].to_pylist() for name in ("id", "ref", "alt", "qual", "filter", "info")]
            for pos, site, vid, ref_allele, alt, qual, filt, info in zip(
                    rows.pos.tolist(), rows.site.tolist(), *columns, strict=True):
                found = merged.get((ref.dataset, chrom, pos, ref_allele, alt))
                if found is None:
                    merged[(ref.dataset, chrom, pos, ref_allele, alt)] = [ref.batch, site, {
                        "dataset": ref.dataset, "chrom": chrom, "pos": pos, "id": vid, "ref": ref_allele,
                        "alt": alt, "qual": qual, "filter": filt, "info": info}]
                else:  # the same site in another batch (or repeated): the first batch's values stand
                    found[0], found[1] = min(found[0], ref.batch), min(found[1], site)
        ordered = sorted(merged.items(), key=lambda item: (item[0][0], item[0][1], item[0][2], item[1][0],
                                                           item[1][1]))
        result = [entry[2] for _, entry in ordered]
        with self._lock:
            if len(self._recent) >= 8:
                self._recent.pop(next(iter(self._recent)), None)
            self._recent[key] = result
        return result

    def sites_in_region(self, batches: Sequence[BatchRef], region: Region, *, limit: int | None = None,
                        offset: int = 0) -> list[dict[str, object]]:
        """Biallelic sites overlapping the region (like `bcftools view -r`: POS..END overlaps), in order."""
        found = self._region_sites(batches, region)
        page = found[offset:] if limit is None else found[offset:offset + limit]
        return [dict(row) for row in page]

    def count_sites_in_region(self, batches: Sequence[BatchRef], region: Region) -> int:
        return len(self._region_sites(batches, region))

    def sites_by_id(self, batches: Sequence[BatchRef], variant_id: str) -> list[dict[str, object]]:
        files = self._files("sites", batches, None)
        if not files:
            return []
        sql = f"""
            SELECT dataset, chrom, pos, any_value(id) AS id, ref, alt, any_value(qual) AS qual,
                   any_value("filter") AS "filter", any_value(info) AS info
            FROM {self._scan(files)}
            WHERE list_contains(string_split(id, ';'), ?)
            GROUP BY dataset, chrom, pos, ref, alt ORDER BY dataset, chrom, pos, ref, alt"""
        return self._dicts(sql, [variant_id])

    # --- allele counts ---------------------------------------------------------------------------------

    def sample_index(self, ref: BatchRef) -> dict[str, int]:
        """VCF sample ID -> sample number of one batch (files never change, so this is cached)."""
        key = (ref.dataset, ref.batch)
        cached = self._sample_index.get(key)
        if cached is None:
            # ParquetFile, not pq.read_table: that goes through pyarrow.dataset and imports pyarrow.compute
            # (~0.1 s of a one-shot `omics af`)
            table = pq.ParquetFile(layout.samples_file(self.root, ref.dataset, ref.batch)).read(
                columns=["sample_id", "sample"])
            cached = self._sample_index[key] = dict(zip(table["sample_id"].to_pylist(), table["sample"].to_pylist(),
                                                        strict=True))
        return cached

    def allele_counts(self, batches: Sequence[BatchRef], region: Region,
                      samples: Sequence[str] | None = None) -> AlleleCounts:
        """AC/AN/AF per biallelic site over all samples, or over the VCF sample IDs given (across batches).

        Per batch contig: popcounts over its allele planes (`planes_read`), or for a store without them a
        bincount over the sparse genotype rows (`region_reads.count_alleles`); several batches are then summed
        per (chrom, pos, ref, alt) in site order.
        """
        wanted = set(samples) if samples is not None else None
        parts: list[tuple[str, str, dict[str, np.ndarray]]] = []
        for ref in batches:
            for chrom in ref.chroms:
                if chrom not in chrom_aliases(region.chrom):
                    continue
                index = self.sample_index(ref)
                members = list(index.values()) if wanted is None else [i for s, i in index.items() if s in wanted]
                columns = self._batch_counts(ref, chrom, region, members, len(index))
                if len(columns["pos"]):
                    parts.append((ref.dataset, chrom, columns))
        return merge_batch_counts(parts)

    def _max_span(self, sites_file: str) -> int:
        """Longest REF span in a sites file (cached: files never change); bounds a region's genotype scan."""
        cached = self._spans.get(sites_file)
        if cached is None:
            value = self._cursor().execute(f"""SELECT coalesce(max("end" - pos), 0)
                                               FROM read_parquet('{sites_file}')""").fetchall()[0][0]
            cached = self._spans[sites_file] = int(value)
        return cached

    def _batch_counts(self, ref: BatchRef, chrom: str, region: Region, members: list[int],
                      n_samples: int) -> dict[str, np.ndarray]:
        """Columns pos, ref, alt, ac, an of one batch's sites in the region, in site order.

        The region's rows come from the in-memory site index; AC/AN from one bincount over the sparse genotype
        rows of their site-number range (`region_reads.count_alleles`); REF/ALT from the sites' row groups.
        """
        member = None
        if len(members) < n_samples:
            member = np.zeros(n_samples, bool)
            member[np.asarray(members, dtype=np.int64)] = True
        planes = self.planes(ref, chrom)
        if planes is not None and planes.n_samples == n_samples:
            return plane_counts(planes, region, member)
        index = self.chrom_index(ref, chrom)
        rows = index.rows_in(region.start, region.end)
        ac, an = count_alleles(index, rows, member, len(members))
        table = index.read_sites(rows, ["ref", "alt"])
        return {"pos": rows.pos, "ref": table["ref"].to_pylist(), "alt": table["alt"].to_pylist(), "ac": ac,
                "an": an}

    def genotype_matrix(self, batches: Sequence[BatchRef], region: Region) -> GenotypeMatrix:
        """Every sample's GT at every site of the region (one batch: its samples; several: their union, a
        batch lacking a site gives its samples no-calls there, as `bcftools merge` would)."""
        parts = [(ref, chrom, index, index.rows_in(region.start, region.end))
                 for ref, chrom, index in self._parts(batches, region)]
        samples: list[str] = []
        offsets: dict[tuple[str, int], int] = {}
        for ref in batches:
            if (ref.dataset, ref.batch) not in offsets:
                offsets[(ref.dataset, ref.batch)] = len(samples)
                samples += sorted(self.sample_index(ref), key=self.sample_index(ref).__getitem__)
        keys: dict[tuple[str, str, int, str, str], int] = {}
        pieces = []
        for ref, chrom, index, rows in parts:
            table = index.read_sites(rows, ["ref", "alt"])
            line = [keys.setdefault((ref.dataset, chrom, pos, r, a), len(keys)) for pos, r, a in zip(
                rows.pos.tolist(), table["ref"].to_pylist(), table["alt"].to_pylist(), strict=True)]
            pieces.append((ref, index, rows, np.asarray(line, dtype=np.int64)))
        order = sorted(keys, key=lambda k: (k[0], k[1], k[2]))
        slot = np.empty(len(keys), np.int64)
        slot[[keys[k] for k in order]] = np.arange(len(order))
        if len(pieces) == 1 and len(keys) == len(pieces[0][2]) and offsets[(pieces[0][0].dataset,
                                                                             pieces[0][0].batch)] == 0:
            ref, index, rows, line = pieces[0]
            a1, a2, phased = dense_genotypes(index, rows, len(samples))
            target = slot[line]
            if not np.array_equal(target, np.arange(len(target))):  # rows out of position order
                a1[target], a2[target], phased[target] = a1.copy(), a2.copy(), phased.copy()
        else:
            a1 = np.full((len(order), len(samples)), -1, np.int8)
            a2 = np.full((len(order), len(samples)), -1, np.int8)
            phased = np.zeros((len(order), len(samples)), bool)
            for ref, index, rows, line in pieces:
                first = offsets[(ref.dataset, ref.batch)]
                width = len(self.sample_index(ref))
                b1, b2, bp = dense_genotypes(index, rows, width)
                a1[slot[line], first:first + width] = b1
                a2[slot[line], first:first + width] = b2
                phased[slot[line], first:first + width] = bp
        return GenotypeMatrix(samples, [k[1] for k in order], np.array([k[2] for k in order], np.int64),
                              [k[3] for k in order], [k[4] for k in order], a1, a2, phased)

    # --- genotypes -------------------------------------------------------------------------------------

    def genotypes(self, batches: Sequence[BatchRef], region: Region,
                  samples: Sequence[str] | None = None) -> list[dict[str, object]]:
        """Sparse calls (non-reference and no-calls) of the given samples in the region, with sample IDs."""
        site_files = self._files("sites", batches, region.chrom)
        if not site_files:
            return []
        cur = self._cursor()
        geno_files = self._files("genotypes", batches, region.chrom)
        sample_files = self._files("samples", batches, None)
        subset_filter = ""
        if samples is not None:
            cur.register("subset_ids", pa.table({"sample_id": pa.array(list(dict.fromkeys(samples)), pa.string())}))
            subset_filter = "WHERE sample_id IN (SELECT sample_id FROM subset_ids)"
        sql = f"""
            WITH sub AS (SELECT dataset, batch, sample, sample_id FROM {self._scan(sample_files)} {subset_filter}),
            s AS (SELECT dataset, batch, chrom, site, pos, ref, alt FROM {self._scan(site_files)}
                  WHERE pos <= ? AND "end" >= ?)
            SELECT s.dataset, s.chrom, s.pos, s.ref, s.alt, sub.sample_id, g.a1, g.a2, g.phased, g.dp, g.gq
            FROM s JOIN {self._scan(geno_files)} g ON g.dataset = s.dataset AND g.batch = s.batch AND g.site = s.site
            JOIN sub ON sub.dataset = g.dataset AND sub.batch = g.batch AND sub.sample = g.sample
            WHERE g.pos BETWEEN ? AND ?
            ORDER BY s.dataset, s.pos, s.batch, s.site, g.sample"""
        low = max(1, region.start - max(self._max_span(f.replace("'", "''")) for f in site_files))
        return self._dicts(sql, [region.end, region.start, low, region.end])

    def carriers(self, batches: Sequence[BatchRef], region: Region, *, max_af: float | None = None,
                 position: int | None = None, ref: str | None = None, alt: str | None = None) -> set[str]:
        """VCF sample IDs carrying at least one ALT allele at a qualifying site of the region.

        `max_af`: only sites whose whole-dataset AF is strictly below it (rare variants) qualify.
        """
        if max_af is not None:
            counts = self.allele_counts(batches, region)
            keep = {(c.pos, c.ref, c.alt) for c in counts if c.an > 0 and c.ac / c.an < max_af}
        else:
            keep = None
        found: set[str] = set()
        for row in self.genotypes(batches, region):
            if row["a1"] != 1 and row["a2"] != 1:
                continue
            key = (row["pos"], row["ref"], row["alt"])
            if position is not None and row["pos"] != position:
                continue
            if (ref is not None and row["ref"] != ref) or (alt is not None and row["alt"] != alt):
                continue
            if keep is not None and key not in keep:
                continue
            found.add(str(row["sample_id"]))
        return found

    def _dicts(self, sql: str, params: list[object], drop: tuple[str, ...] = ()) -> list[dict[str, object]]:
        cur = self._cursor()
        result = cur.execute(sql, params)
        names = [d[0] for d in result.description]
        return [{k: v for k, v in zip(names, row, strict=True) if k not in drop} for row in result.fetchall()]


def export_sites(store: VariantStore, batches: Sequence[BatchRef], region: Region,
                 samples: Sequence[str]) -> tuple[list[str], list[ExportSite]]:
    """Sites of the region with GT of `samples` (VCF IDs across batches), ready for `write_vcf`.

    A sample of a batch lacking a site gets a no-call there, as `bcftools merge` would write it.
    """
    site_files = store._files("sites", batches, region.chrom)
    if not site_files:
        return list(samples), []
    cur = store._cursor()
    sample_files = store._files("samples", batches, None)
    cur.register("subset_ids", pa.table({"sample_id": pa.array(list(dict.fromkeys(samples)), pa.string())}))
    members = cur.execute(f"""SELECT dataset, batch, sample, sample_id FROM {store._scan(sample_files)}
                              WHERE sample_id IN (SELECT sample_id FROM subset_ids)""").fetchall()
    column_of = {sample_id: i for i, sample_id in enumerate(dict.fromkeys(samples))}
    unknown = set(column_of) - {m[3] for m in members}
    if unknown:
        raise ValidationFailed("unknown sample(s): {samples}", samples=", ".join(sorted(unknown)[:10]))
    by_batch: dict[tuple[str, int], dict[int, int]] = {}
    for dataset, batch, sample, sample_id in members:
        by_batch.setdefault((dataset, batch), {})[sample] = column_of[sample_id]
    sites = cur.execute(f"""SELECT dataset, batch, chrom, site, pos, id, ref, alt, qual, "filter", ploidy, phased_ref
                            FROM {store._scan(site_files)} WHERE pos <= ? AND "end" >= ?
                            ORDER BY dataset, chrom, pos, batch, site""", [region.end, region.start]).fetchall()
    calls: dict[tuple[str, int, int], list[tuple[int, int, int, bool]]] = {}
    if sites:
        geno_files = store._files("genotypes", batches, region.chrom)
        low, high = min(s[4] for s in sites), max(s[4] for s in sites)
        rows = cur.execute(f"""SELECT dataset, batch, site, sample, a1, a2, phased FROM {store._scan(geno_files)}
                               WHERE pos BETWEEN ? AND ?""", [low, high]).fetchall()
        for dataset, batch, site, sample, a1, a2, phased in rows:
            calls.setdefault((dataset, batch, site), []).append((sample, a1, a2, phased))
    merged: dict[tuple[str, str, int, str, str], dict[str, object]] = {}
    for dataset, batch, chrom, site, pos, vid, ref, alt, qual, filt, ploidy, phased_ref in sites:
        key = (dataset, chrom, pos, ref, alt)
        entry = merged.get(key)
        if entry is None:
            entry = merged[key] = {"id": vid, "qual": qual, "filter": filt, "ploidy": ploidy,
                                   "gts": [None] * len(column_of)}
        default = genotype_text(0, 0 if ploidy == 2 else -2, phased_ref)
        columns = by_batch.get((dataset, batch), {})
        gts: list[str | None] = entry["gts"]  # type: ignore[assignment]
        for column in columns.values():
            gts[column] = default
        for sample, a1, a2, phased in calls.get((dataset, batch, site), []):
            if sample in columns:
                gts[columns[sample]] = genotype_text(a1, a2, phased)
    out = []
    for (_dataset, chrom, pos, ref, alt), entry in merged.items():
        missing = "./." if entry["ploidy"] == 2 else "."
        gts = [g if g is not None else missing for g in entry["gts"]]  # type: ignore[union-attr]
        out.append(ExportSite(chrom, pos, entry["id"], ref, alt, entry["qual"], entry["filter"], gts))  # type: ignore[arg-type]
    return list(column_of), out
