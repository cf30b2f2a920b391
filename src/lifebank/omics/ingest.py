"""Reading a VCF/BCF with htslib (cyvcf2) into the store's Parquet tables, in a staging folder.

The writer never touches the live store: it fills `staging/` and returns what it wrote (files,
checksums, counts). The service then renames the staging folders into place and catalogues them in one
database transaction, so a file is imported entirely or not at all.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from cyvcf2 import VCF

from lifebank.errors import ValidationFailed
from lifebank.messages import Msg
from lifebank.omics import layout
from lifebank.omics.normalise import VECTOR_END, split_alleles, split_info
from lifebank.omics.planes_write import NO_ALLELES, PlaneWriter, SiteAlleles

ProgressCallback = Callable[[int], None]
INT32_MISSING = np.iinfo(np.int32).min
SITE_ROW_GROUP = 65_536
_PER_CALL = ("sample", "a1", "a2", "phased", "dp", "gq")  # genotypes columns kept per call until a flush
GENOTYPE_ROW_GROUP = 262_144
PLANE_CHUNK_SITES = 65_536  # sites per allele-plane chunk at most (a chunk ends at a genotype flush)
FORMAT_VALUES_PER_GROUP = 4_000_000  # DP/GQ values per row group of the dense formats table
PROGRESS_EVERY = 1_000


@dataclass(frozen=True, slots=True)
class WrittenFile:
    relpath: str
    sha256: str
    size_bytes: int
    rows: int


@dataclass(slots=True)
class BatchSummary:
    samples: list[str]
    records: int = 0
    sites: int = 0
    genotype_rows: int = 0
    chroms: list[str] = field(default_factory=list)
    files: list[WrittenFile] = field(default_factory=list)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_vcf(path: Path, *, threads: int | None = None) -> VCF:
    """Open with htslib; `threads` adds BGZF decompression threads (ingest uses 2 on a 2-core machine)."""
    try:
        if threads:
            return VCF(str(path), gts012=False, strict_gt=False, lazy=True, threads=threads)
        return VCF(str(path), gts012=False, strict_gt=False, lazy=True)
    except (OSError, Exception) as exc:  # cyvcf2 raises a bare Exception for unreadable headers
        raise ValidationFailed("{file}: not a readable VCF/BCF ({reason})", file=path.name, reason=str(exc)) from None


def _locate_parse_error(path: Path) -> tuple[int, str | Msg]:
    """Re-read without read-ahead threads to find the first record htslib cannot parse: (good records, last site).

    Decompression threads read ahead, so the error they hit surfaces before the records preceding it are
    returned; this slower single-threaded pass (on the error path only) names the right record.
    """
    good = 0
    last: str | Msg = Msg("the header")
    try:
        for variant in open_vcf(path):
            good += 1
            last = f"{variant.CHROM}:{variant.POS}"
    except Exception:
        pass
    return good, last


def record_count_hint(path: Path) -> int | None:
    """Records in the file when an index says so (for the progress bar), else None."""
    try:
        return int(open_vcf(path).num_records)
    except Exception:
        return None


class _ChromWriter:
    """Buffers one contig's rows and appends them to its Parquet files (sites, genotypes, formats) in row groups."""

    def __init__(self, root: Path, dataset: str, batch: int, chrom: str, pool: ThreadPoolExecutor,
                 *, n_samples: int, with_formats: bool) -> None:
        self.pool = pool
        self.pending: list[Future[None]] = []
        tables = ("sites", "genotypes", "formats") if with_formats else ("sites", "genotypes")
        self.paths = {t: layout.chrom_file(root, t, dataset, batch, chrom) for t in tables}
        self.paths["planes"] = layout.planes_file(root, dataset, batch, chrom)
        for path in self.paths.values():
            path.parent.mkdir(parents=True, exist_ok=True)
        options = {"compression": "zstd", "compression_level": 6, "write_statistics": True}
        self.sites = pq.ParquetWriter(self.paths["sites"], layout.SITES_SCHEMA, **options)
        self.genotypes = pq.ParquetWriter(
            self.paths["genotypes"], layout.GENOTYPES_SCHEMA,
            use_dictionary=["a1", "a2", "phased", "dp", "gq"],
            column_encoding={"site": "DELTA_BINARY_PACKED", "pos": "DELTA_BINARY_PACKED",
                             "sample": "DELTA_BINARY_PACKED"},
            **options)
        self.site_rows: dict[str, list] = {name: [] for name in layout.SITES_SCHEMA.names}
        # per site with stored calls: its number, position and row count (expanded with np.repeat at flush),
        # and its per-call columns; DP/GQ None when the file has none (filled as missing at flush)
        self.geno_keys: list[tuple[int, int, int]] = []
        self.geno_parts: dict[str, list[np.ndarray | None]] = {name: [] for name in _PER_CALL}
        self.buffered_sites = 0
        self.buffered_genotypes = 0
        self.rows = {"sites": 0, "genotypes": 0, "formats": 0, "planes": 0}
        # the allele planes (`planes_write`): sites since the last genotype flush, built on the writer thread
        self.planes = PlaneWriter(self.paths["planes"], n_samples)
        self.plane_sites: dict[str, list] = {"ploidy": [], "pos": [], "end": [], "ref": [], "alt": [], "alleles": []}
        self.plane_first = -1  # site number of the first pending plane site
        # FORMAT/DP and GQ of every call, dense (one list per site), only when the file declares them
        self.formats = pq.ParquetWriter(self.paths["formats"], layout.FORMATS_SCHEMA,
                                        column_encoding={"site": "DELTA_BINARY_PACKED", "pos": "DELTA_BINARY_PACKED"},
                                        use_dictionary=False, **options) if with_formats else None
        self.format_rows: list[tuple[int, int, np.ndarray, np.ndarray]] = []
        self.format_flush = max(1, FORMAT_VALUES_PER_GROUP // max(n_samples, 1))

    def add_site(self, values: Sequence[object], alleles: SiteAlleles = NO_ALLELES) -> None:
        """One biallelic site's `sites` row, and its ALT haplotypes (`PlaneWriter.site_alleles`)."""
        if len(self.plane_sites["pos"]) >= PLANE_CHUNK_SITES:
            self.flush_genotypes()  # every pending site's calls are buffered: a plane chunk can end here
        for name, value in zip(layout.SITES_SCHEMA.names, values, strict=True):
            self.site_rows[name].append(value)
        if self.plane_first < 0:
            self.plane_first = values[0]  # type: ignore[assignment]
        planes = self.plane_sites
        planes["pos"].append(values[1])
        planes["end"].append(values[2])
        planes["ref"].append(values[4])
        planes["alt"].append(values[5])
        planes["ploidy"].append(values[11])
        planes["alleles"].append(alleles)
        self.buffered_sites += 1
        if self.buffered_sites >= SITE_ROW_GROUP:
            self.flush_sites()

    def add_genotypes(self, site: int, pos: int, columns: dict[str, np.ndarray | None]) -> None:
        """The stored calls of one site: `columns` of `_PER_CALL` (dp, gq None: the file has none)."""
        count = len(columns["sample"])  # type: ignore[arg-type]
        self.geno_keys.append((site, pos, count))
        for name, array in columns.items():
            self.geno_parts[name].append(array)
        self.buffered_genotypes += count
        if self.buffered_genotypes >= GENOTYPE_ROW_GROUP:
            self.flush_genotypes()

    def flush_sites(self) -> None:
        if not self.buffered_sites:
            return
        table = pa.Table.from_pydict(self.site_rows, schema=layout.SITES_SCHEMA)
        # one flush = one row group (a smaller row_group_size would split off a tiny remainder group)
        self.pending.append(self.pool.submit(self.sites.write_table, table, row_group_size=table.num_rows))
        self.rows["sites"] += self.buffered_sites
        self.site_rows = {name: [] for name in layout.SITES_SCHEMA.names}
        self.buffered_sites = 0

    def flush_genotypes(self) -> None:
        """Hand the buffered calls (one genotypes row group) and the pending sites' allele-plane chunk to the writer.

        The parsing thread only hands over its lists: concatenating them, building the Arrow arrays and the
        planes' chunk run on the writer thread, where NumPy's copies and Parquet's encoding release the GIL
        while the next records are parsed (on the parsing thread they were ~15 % of its time)."""
        planes = self._take_planes()
        if not self.buffered_genotypes:
            if planes is not None:
                self.pending.append(self.pool.submit(self._write_chunk, [], {}, planes))
            return
        self.pending.append(self.pool.submit(self._write_chunk, self.geno_keys, self.geno_parts, planes))
        self.rows["genotypes"] += self.buffered_genotypes
        self.geno_keys = []
        self.geno_parts = {name: [] for name in _PER_CALL}
        self.buffered_genotypes = 0
        self._collect_finished()

    def _take_planes(self) -> tuple[dict[str, list], int] | None:
        """The sites pending for the planes since the last flush, and the first one's site number (None: none)."""
        pending = self.plane_sites
        if not pending["pos"]:
            return None
        taken = (pending, self.plane_first)
        self.rows["planes"] += len(pending["pos"])
        self.plane_sites = {name: [] for name in pending}
        self.plane_first = -1
        return taken

    def _write_chunk(self, keys: list[tuple[int, int, int]], parts: dict[str, list[np.ndarray | None]],
                     planes: tuple[dict[str, list], int] | None) -> None:
        """On the writer thread: the planes' chunk of the sites handed over, then their calls' row group."""
        empty = np.empty(0, np.int32)
        expanded: dict[str, np.ndarray] = {}
        if keys:
            key_array = np.array(keys, dtype=np.int64).reshape(-1, 3)
            counts = key_array[:, 2]
            expanded = {"site": np.repeat(key_array[:, 0].astype(np.int32), counts),
                        "pos": np.repeat(key_array[:, 1].astype(np.int32), counts)}
            for name in ("sample", "a1", "a2"):
                expanded[name] = np.concatenate(parts[name])  # type: ignore[arg-type]
        if planes is not None:
            sites, first = planes
            row = expanded["site"] - first if expanded else empty
            self.planes.add_chunk(np.array(sites["ploidy"], np.int8), np.array(sites["pos"], np.int64),
                                  np.array(sites["end"], np.int64), sites["ref"], sites["alt"], sites["alleles"], row,
                                  expanded.get("sample", empty), expanded.get("a1", empty.astype(np.int8)),
                                  expanded.get("a2", empty.astype(np.int8)))
        if not keys:
            return
        arrays = []
        for name, type_ in zip(layout.GENOTYPES_SCHEMA.names, layout.GENOTYPES_SCHEMA.types, strict=True):
            if name in expanded:
                data = expanded[name]
            else:
                column = parts[name]
                # DP/GQ are None for every call or for none (the file declares them or not)
                if column[0] is None:
                    arrays.append(pa.nulls(len(expanded["site"]), type=type_))
                    continue
                data = np.concatenate(column)  # type: ignore[arg-type]
            if name in {"dp", "gq"}:
                arrays.append(pa.array(data, type=type_, mask=data == INT32_MISSING))
            else:
                arrays.append(pa.array(data, type=type_))
        table = pa.Table.from_arrays(arrays, schema=layout.GENOTYPES_SCHEMA)
        self.genotypes.write_table(table, row_group_size=table.num_rows)

    def add_formats(self, site: int, pos: int, dp: np.ndarray, gq: np.ndarray) -> None:
        assert self.formats is not None
        self.format_rows.append((site, pos, dp, gq))
        if len(self.format_rows) >= self.format_flush:
            self.flush_formats()

    def flush_formats(self) -> None:
        if self.formats is None or not self.format_rows:
            return
        n = len(self.format_rows)
        width = len(self.format_rows[0][2])
        offsets = pa.array(np.arange(0, (n + 1) * width, width, dtype=np.int32))
        columns = []
        for k in (2, 3):
            flat = np.concatenate([row[k] for row in self.format_rows])
            columns.append(pa.ListArray.from_arrays(offsets, pa.array(flat, pa.int32(), mask=flat == INT32_MISSING)))
        table = pa.Table.from_arrays([pa.array([r[0] for r in self.format_rows], pa.int32()),
                                      pa.array([r[1] for r in self.format_rows], pa.int32()), *columns],
                                     schema=layout.FORMATS_SCHEMA)
        self.pending.append(self.pool.submit(self.formats.write_table, table, row_group_size=table.num_rows))
        self.rows["formats"] += n
        self.format_rows = []
        self._collect_finished()

    def _collect_finished(self) -> None:
        """Drop finished writes, re-raising the first failure so a full disk stops the import early."""
        still = []
        for future in self.pending:
            if future.done():
                future.result()
            else:
                still.append(future)
        self.pending = still

    def close(self) -> None:
        try:
            self.flush_sites()
            self.flush_genotypes()
            self.flush_formats()
            for future in self.pending:
                future.result()
            self.planes.close()
        finally:
            for future in self.pending:
                future.cancel()
            wait(self.pending)
            self.planes.discard()
            self.sites.close()
            self.genotypes.close()
            if self.formats is not None:
                self.formats.close()


def _format_int(variant: object, tag: str, n_samples: int, present: bool, missing: np.ndarray) -> np.ndarray:
    """The FORMAT integer `tag` of every sample; `missing` (all INT32_MISSING, shared, never written to) when the
    file or the record has none."""
    if present:
        values = variant.format(tag)  # type: ignore[attr-defined]
        if values is not None:
            column = values[:, 0]
            if column.dtype.kind == "f":
                column = np.where(np.isnan(column), INT32_MISSING, np.rint(column)).astype(np.int32)
            return column.astype(np.int32, copy=False)
    return missing


def _json_value(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def _where(number: int, header_lines: int | None, chrom: str, pos: int) -> Msg:
    """A record's place for an error message (built only when there is an error: two messages a record cost
    ~3 µs of ~150)."""
    return Msg("{record} {chrom}:{pos}", record=_record_label(number, header_lines), chrom=chrom, pos=pos)


def _record_label(number: int, header_lines: int | None) -> Msg:
    """Where a record is: its number, and its line for text VCFs (a BCF has no lines)."""
    if header_lines is None:
        return Msg("record {number}", number=number)
    return Msg("record {number} (line {line})", number=number, line=header_lines + number)


def write_batch(vcf_path: Path, root: Path, *, dataset: str, batch: int, keep_info: Sequence[str] | None,
                on_progress: ProgressCallback | None = None) -> BatchSummary:
    """Read the whole file into Parquet under `root` (a staging folder); raise ValidationFailed on any bad record."""
    vcf = open_vcf(vcf_path, threads=2)
    samples = list(vcf.samples)
    n_samples = len(samples)
    if len(set(samples)) != n_samples:
        raise ValidationFailed("{file}: duplicate sample IDs in the header", file=vcf_path.name)
    info_numbers = {h["ID"]: h["Number"] for h in (x.info() for x in vcf.header_iter())
                    if h.get("HeaderType") == "INFO"}
    format_ids = {h["ID"] for h in (x.info() for x in vcf.header_iter()) if h.get("HeaderType") == "FORMAT"}
    has_dp, has_gq = "DP" in format_ids, "GQ" in format_ids
    with_formats = n_samples > 0 and (has_dp or has_gq)
    keep = list(keep_info) if keep_info is not None else None
    if keep is not None:
        unknown = sorted(set(keep) - set(info_numbers))
        if unknown:
            raise ValidationFailed("{file}: INFO field(s) {fields} are not declared in the header",
                                   file=vcf_path.name, fields=", ".join(unknown))

    summary = BatchSummary(samples=samples)
    no_values = np.full(n_samples, INT32_MISSING, dtype=np.int32)  # DP/GQ of a record without them
    is_bcf = vcf_path.suffix.lower() == ".bcf"
    header_lines = None if is_bcf else vcf.raw_header.count("\n")
    writers: dict[str, _ChromWriter] = {}
    done_chroms: set[str] = set()
    current: _ChromWriter | None = None
    current_chrom: str | None = None
    site = 0
    last: str | Msg = Msg("the header")
    pending = 0
    iterator = iter(vcf)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-writer")
    try:
        while True:
            try:
                variant = next(iterator)
            except StopIteration:
                break
            except Exception as exc:
                good, last = _locate_parse_error(vcf_path)
                raise ValidationFailed(
                    "{file}: {record}, after {last}, is truncated or malformed: htslib could not parse it ({reason})",
                    file=vcf_path.name, record=_record_label(good + 1, header_lines), last=last,
                    reason=str(exc)) from None
            summary.records += 1
            chrom = variant.CHROM
            if chrom != current_chrom:
                if chrom in done_chroms:
                    raise ValidationFailed("{file}: {where}: contig {chrom} appears again after another contig; "
                                           "sort the file (bcftools sort)", file=vcf_path.name,
                                           where=_where(summary.records, header_lines, chrom, variant.POS),
                                           chrom=chrom)
                if current_chrom is not None:
                    done_chroms.add(current_chrom)
                layout.check_contig(chrom)
                current = writers[chrom] = _ChromWriter(root, dataset, batch, chrom, pool, n_samples=n_samples,
                                                        with_formats=with_formats)
                summary.chroms.append(chrom)
                current_chrom = chrom
            assert current is not None
            alts = variant.ALT
            n_alts = len(alts)
            end = int(variant.end)
            filters = variant.FILTERS
            filter_text = ";".join(filters) if filters else None
            qual = variant.QUAL
            info_all = dict(variant.INFO) if keep is None or keep else {}
            if n_samples:
                try:
                    gt = variant.genotype.array()
                except Exception:  # a record whose FORMAT lacks GT: every call is a no-call (AN 0, like bcftools)
                    gt = np.zeros((n_samples, 3), dtype=np.int16)
                    gt[:, :2] = -1
                alleles = gt[:, :-1]
                phased = gt[:, -1].astype(bool)
                ploidy = alleles.shape[1]
                if ploidy > 2:
                    raise ValidationFailed("{file}: {where}: ploidy {ploidy} is not supported (max 2)",
                                           file=vcf_path.name, ploidy=ploidy,
                                           where=_where(summary.records, header_lines, chrom, variant.POS))
                # With an ALT, the phase column (0 or 1) cannot raise the maximum above a valid allele, so the
                # max of the whole contiguous array serves (the strided max of the allele columns alone took
                # ~26 µs of a record's ~225 µs at 2,504 samples).
                top = int(gt.max(initial=0)) if n_alts else int(alleles.max(initial=0))
                if top > n_alts:
                    raise ValidationFailed("{file}: {where}: GT allele {top} but only {count} ALT allele",
                                           plural="{file}: {where}: GT allele {top} but only {count} ALT alleles",
                                           file=vcf_path.name, top=top, count=n_alts,
                                           where=_where(summary.records, header_lines, chrom, variant.POS))
                dp = _format_int(variant, "DP", n_samples, has_dp, no_values)
                gq = _format_int(variant, "GQ", n_samples, has_gq, no_values)
            else:
                ploidy = 2
            if n_alts == 0:
                # A monomorphic reference record (ALT '.'): kept as a site with no ALT? bcftools norm -m- keeps it
                # as is; the store holds variant sites only, so it is skipped and counted.
                last = f"{chrom}:{variant.POS}"
                continue
            for alt_index, alt in enumerate(alts, start=1):
                info = split_info(info_all, info_numbers, alt_index, n_alts, keep) if info_all else {}
                info_json = json.dumps({k: _json_value(v) for k, v in info.items()}, separators=(",", ":"),
                                       default=str) if info else None
                phased_ref = False
                if n_samples:
                    codes = split_alleles(alleles, alt_index, top)
                    if ploidy == 1:
                        sparse = codes[:, 0] != 0
                    else:
                        # Homozygous-REF diploid calls are implied; their phasing is the site's majority
                        # (`phased_ref`), and the few REF calls phased the other way are stored explicitly.
                        # A row's two int8 codes read as one int16 are 0 only when both are REF.
                        sparse = codes.view(np.int16)[:, 0] != 0
                        ref_calls = ~sparse
                        n_ref = int(np.count_nonzero(ref_calls))
                        phased_ref = int(np.count_nonzero(phased & ref_calls)) * 2 > n_ref
                        sparse |= ref_calls & (phased != phased_ref)
                    idx = np.flatnonzero(sparse).astype(np.int32)
                current.add_site((site, variant.POS, end, variant.ID, variant.REF, alt, alt_index, n_alts,
                                  None if qual is None else float(qual), filter_text, info_json, ploidy, phased_ref),
                                 current.planes.site_alleles(codes) if n_samples else NO_ALLELES)
                if n_samples:
                    if idx.size:
                        current.add_genotypes(site, variant.POS, {
                            "sample": idx,
                            "a1": codes[idx, 0],
                            "a2": codes[idx, 1] if ploidy == 2 else np.full(idx.size, VECTOR_END, dtype=np.int8),
                            "phased": phased[idx],
                            "dp": dp[idx] if has_dp else None,
                            "gq": gq[idx] if has_gq else None,
                        })
                        summary.genotype_rows += int(idx.size)
                    if with_formats:
                        current.add_formats(site, variant.POS, dp, gq)
                site += 1
            last = f"{chrom}:{variant.POS}"
            pending += 1
            if on_progress is not None and pending >= PROGRESS_EVERY:
                on_progress(pending)
                pending = 0
    finally:
        try:
            for writer in writers.values():
                writer.close()
        finally:
            pool.shutdown(wait=True)
    if on_progress is not None and pending:
        on_progress(pending)
    summary.sites = site

    samples_path = layout.samples_file(root, dataset, batch)
    samples_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pydict({"sample": list(range(n_samples)), "sample_id": samples},
                                        schema=layout.SAMPLES_SCHEMA), samples_path, compression="zstd")
    written = [(samples_path, n_samples)]
    for writer in writers.values():
        written += [(path, writer.rows[table]) for table, path in writer.paths.items()]
    for path, rows in written:
        _fsync(path)
        summary.files.append(WrittenFile(path.relative_to(root).as_posix(), file_sha256(path), path.stat().st_size,
                                         rows))
    return summary
