"""Allele planes for batches imported before the planes existed (`lifebank omics rebuild-planes`).

Why: a batch contig without its `.lbplanes` file still answers every query, but a subset's allele counts then
decode the sparse genotype rows (about 3x the bcftools pipeline instead of 17x at 1,000 of 2,504 samples; see
docs/performance.md). Nothing else in an upgraded store changes, so the planes are derived from what the store
already holds rather than by importing the VCF again: the sites table (positions, REF/ALT, ploidy) and the
genotype rows, which list every call that is not an implied homozygous REF. Each site's calls are expanded into
the same allele-code matrix the import builds and encoded by the same `PlaneWriter`, so a rebuilt file is byte
for byte the file the import would have written (a test holds that).

The file is written under a temporary name beside its final place, fsynced and renamed, then catalogued with
its SHA-256 and ledgered in one transaction: a crash leaves either no planes (the sparse path still answers) or
complete ones. A planes file that is catalogued and present is left alone; one that is catalogued but missing
is rebuilt and must come out with the catalogued checksum, or the command refuses (the store's rows changed).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from lifebank.audit.service import record
from lifebank.db.engine import Database
from lifebank.errors import Conflict, NotFound
from lifebank.omics import layout
from lifebank.omics.ingest import file_sha256
from lifebank.omics.models import OmicsBatch, OmicsDataset, OmicsFile, OmicsSample
from lifebank.omics.planes_write import NO_ALLELES, PlaneWriter, SiteAlleles
from lifebank.omics.service import store_root

GENOTYPE_READ_ROWS = 1 << 20  # genotype rows read at a time
# sites encoded at a time: at 2,504 samples a common site has ~1,000 stored calls, and a chunk's calls are held
# several times over while its exceptions are counted (65,536 sites, the import's chunk, peaked at 1.6 GB here)
CHUNK_SITES = 8_192


@dataclass(frozen=True)
class PlanesOutcome:
    """One batch contig: `built` (written now) or `present` (already catalogued and on disk)."""

    dataset: str
    batch: int
    chrom: str
    status: str
    sites: int
    path: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class _Target:
    dataset: str
    batch_id: int
    batch: int
    chrom: str
    n_samples: int
    catalogued: tuple[str, int] | None  # (sha256, rows) of the planes file in the catalogue


def _genotype_chunks(path: Path) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """The genotype rows (site, sample, a1, a2) in file order, a bounded batch at a time."""
    if not path.exists():
        return
    for part in pq.ParquetFile(path).iter_batches(batch_size=GENOTYPE_READ_ROWS,
                                                  columns=["site", "sample", "a1", "a2"]):
        yield tuple(part.column(i).to_numpy(zero_copy_only=False) for i in range(4))  # type: ignore[misc]


class _RowsBySite:
    """Hands out the genotype rows of consecutive site ranges from the streamed file (rows are in site order)."""

    def __init__(self, path: Path) -> None:
        self.chunks = _genotype_chunks(path)
        self.buffer = [np.empty(0, np.int32), np.empty(0, np.int32), np.empty(0, np.int8), np.empty(0, np.int8)]
        self.done = False

    def below(self, stop: int) -> list[np.ndarray]:
        """The rows of sites < `stop` not handed out yet."""
        while not self.done and (not len(self.buffer[0]) or int(self.buffer[0][-1]) < stop):
            try:
                more = next(self.chunks)
            except StopIteration:
                self.done = True
                break
            self.buffer = [np.concatenate([old, new]) for old, new in zip(self.buffer, more, strict=True)]
        cut = int(np.searchsorted(self.buffer[0], stop, side="left"))
        taken = [column[:cut] for column in self.buffer]
        self.buffer = [column[cut:] for column in self.buffer]
        return taken


def _site_alleles(writer: PlaneWriter, n_samples: int, ploidy: np.ndarray, starts: np.ndarray, sample: np.ndarray,
                  a1: np.ndarray, a2: np.ndarray) -> list[SiteAlleles]:
    """Each site's ALT haplotypes, from its stored calls with every other sample homozygous REF (as imported)."""
    if not n_samples:
        return [NO_ALLELES] * len(ploidy)
    codes = np.zeros((n_samples, 2), np.int8)
    out: list[SiteAlleles] = []
    for i, site_ploidy in enumerate(ploidy.tolist()):
        rows = slice(int(starts[i]), int(starts[i + 1]))
        who = sample[rows]
        codes[who, 0] = a1[rows]
        if site_ploidy == 2:
            codes[who, 1] = a2[rows]
            out.append(writer.site_alleles(codes))
        else:
            out.append(writer.site_alleles(codes[:, :1]))
        codes[who] = 0
    return out


def _write_planes(root: Path, target: _Target, final: Path) -> tuple[Path, int]:
    """Write the contig's planes under a temporary name next to `final`; returns (that path, sites)."""
    sites_file = pq.ParquetFile(layout.chrom_file(root, "sites", target.dataset, target.batch, target.chrom))
    rows = _RowsBySite(layout.chrom_file(root, "genotypes", target.dataset, target.batch, target.chrom))
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}.{uuid.uuid4().hex}")
    writer = PlaneWriter(temporary, target.n_samples)
    sites = 0
    try:
        for part in sites_file.iter_batches(batch_size=CHUNK_SITES,
                                            columns=["site", "pos", "end", "ref", "alt", "ploidy"]):
            site = part.column(0).to_numpy()
            if not len(site):
                continue
            first, stop = int(site[0]), int(site[-1]) + 1
            g_site, sample, a1, a2 = rows.below(stop)
            row = (g_site - first).astype(np.int32)
            starts = np.searchsorted(g_site, np.arange(first, stop + 1), side="left")
            ploidy = part.column(5).to_numpy().astype(np.int8)
            alleles = _site_alleles(writer, target.n_samples, ploidy, starts, sample, a1, a2)
            writer.add_chunk(ploidy, part.column(1).to_numpy().astype(np.int64),
                             part.column(2).to_numpy().astype(np.int64), part.column(3).to_pylist(),
                             part.column(4).to_pylist(), alleles, row, sample, a1, a2)
            sites += len(site)
        writer.close()
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
    except BaseException:
        writer.discard()
        temporary.unlink(missing_ok=True)
        for side in writer.sides.values():
            side.unlink(missing_ok=True)
        raise
    return temporary, sites


def _targets(db: Database, dataset: str | None) -> list[_Target]:
    with db.session() as session:
        query = select(OmicsDataset.name, OmicsBatch.id, OmicsBatch.number, OmicsBatch.chroms) \
            .join(OmicsBatch, OmicsBatch.dataset_id == OmicsDataset.id).order_by(OmicsDataset.name, OmicsBatch.number)
        if dataset is not None:
            if session.scalar(select(OmicsDataset.id).where(OmicsDataset.name == dataset)) is None:
                raise NotFound("no omics dataset {name!r}", name=dataset)
            query = query.where(OmicsDataset.name == dataset)
        batches = session.execute(query).all()
        samples = dict(session.execute(select(OmicsSample.batch_id, func.count(OmicsSample.id))
                                       .group_by(OmicsSample.batch_id)).all())
        catalogued = {(batch_id, relpath): (sha, rows) for batch_id, relpath, sha, rows in session.execute(
            select(OmicsFile.batch_id, OmicsFile.relpath, OmicsFile.sha256, OmicsFile.rows)
            .where(OmicsFile.relpath.like("planes/%")))}
    out = []
    for name, batch_id, number, chroms_json in batches:
        for chrom in json.loads(chroms_json):
            relpath = layout.planes_file(Path(), name, number, chrom).as_posix()
            out.append(_Target(name, batch_id, number, chrom, samples.get(batch_id, 0),
                               catalogued.get((batch_id, relpath))))
    return out


def rebuild_planes(db: Database, data_dir: Path, *, actor: str, dataset: str | None = None) -> list[PlanesOutcome]:
    """Write, catalogue and ledger the allele planes of every batch contig (of `dataset`) that has none."""
    root = store_root(data_dir)
    outcomes = []
    for target in _targets(db, dataset):
        final = layout.planes_file(root, target.dataset, target.batch, target.chrom)
        relpath = final.relative_to(root).as_posix()
        if target.catalogued is not None and final.is_file():
            outcomes.append(PlanesOutcome(target.dataset, target.batch, target.chrom, "present",
                                          target.catalogued[1], relpath))
            continue
        temporary, sites = _write_planes(root, target, final)
        try:
            sha = file_sha256(temporary)
            if target.catalogued is not None and sha != target.catalogued[0]:
                raise Conflict("{path}: the rebuilt allele planes (sha256 {sha}…) differ from the catalogued file "
                               "({expected}…): the batch's Parquet files changed since the import", path=relpath,
                               sha=sha[:12], expected=target.catalogued[0][:12])
            try:
                with db.transaction() as session:
                    if target.catalogued is None:
                        session.add(OmicsFile(batch_id=target.batch_id, relpath=relpath, sha256=sha,
                                              size_bytes=temporary.stat().st_size, rows=sites))
                    record(session, actor=actor, action="omics.planes.rebuild", entity_type="omics_batch",
                           entity_id=f"{target.dataset}/{target.batch}",
                           change={"chrom": target.chrom, "file": relpath, "sha256": sha, "sites": sites,
                                   "restored": target.catalogued is not None})
            except IntegrityError:
                raise Conflict("{path}: another rebuild catalogued these allele planes first; run the command "
                               "again", path=relpath) from None
            # catalogued first, then in place: a crash between the two leaves a catalogued file that is missing,
            # which the next run restores (and checks against the catalogued checksum)
            os.replace(temporary, final)
        finally:
            temporary.unlink(missing_ok=True)
        outcomes.append(PlanesOutcome(target.dataset, target.batch, target.chrom, "built", sites, relpath))
    return outcomes
