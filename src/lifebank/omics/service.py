"""Use cases of the variant store: import a VCF as a batch, query, count alleles, export, build cohorts.

Imports are all-or-nothing: the file is converted into a staging folder, fsynced, renamed into place,
and only then catalogued (dataset, batch, samples, file checksums, one ledger event) in one transaction.
If anything fails, the renamed folders are removed again and the catalogue is untouched.
"""

from __future__ import annotations

import io
import json
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from threading import Lock

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from lifebank.audit.service import record
from lifebank.db.engine import Database
from lifebank.errors import Conflict, NotFound, RowError, ValidationFailed
from lifebank.messages import Msg
from lifebank.omics import biobank_link, layout
from lifebank.omics.allele_counts import AlleleCounts
from lifebank.omics.genes import genes_named
from lifebank.omics.ingest import ProgressCallback, file_sha256, write_batch
from lifebank.omics.models import OmicsBatch, OmicsDataset, OmicsFile, OmicsSample
from lifebank.omics.queries import BatchRef, VariantStore, export_sites
from lifebank.omics.regions import Region, chrom_aliases, parse_region
from lifebank.omics.sample_map import SampleLink, SampleMapInvalid, parse_sample_map
from lifebank.omics.vcf_export import write_vcf

GENOME_BUILDS = ("GRCh37", "GRCh38")
_stores: dict[Path, VariantStore] = {}
_stores_lock = Lock()


def store_root(data_dir: Path) -> Path:
    return Path(data_dir) / "omics"


def variant_store(data_dir: Path) -> VariantStore:
    root = store_root(data_dir)
    with _stores_lock:
        if root not in _stores:
            _stores[root] = VariantStore(root)
        return _stores[root]


# --- import ------------------------------------------------------------------------------------------

@dataclass(slots=True)
class ImportResult:
    dataset: str
    batch: int
    source_sha256: str
    samples: int
    records: int
    sites: int
    genotype_rows: int
    chroms: list[str]
    mapped_samples: int
    unmapped_samples: list[str] = field(default_factory=list)
    map_rows_not_in_file: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _check_links(db: Database, links: list[SampleLink]) -> None:
    """Every participant and specimen named in the map must exist in the biobank, and agree with each other."""
    if not links:
        return
    errors: list[RowError] = []
    codes = {link.participant for link in links if link.participant}
    barcodes = {link.specimen_barcode for link in links if link.specimen_barcode}
    known = biobank_link.existing_participants(db, codes) if codes else set()
    owners = biobank_link.specimen_participants(db, barcodes) if barcodes else {}
    for link in links:
        if link.participant and link.participant not in known:
            errors.append(RowError(link.line, "participant", Msg("no participant {code!r} in the biobank",
                                                                 code=link.participant)))
        if link.specimen_barcode:
            owner = owners.get(link.specimen_barcode)
            if owner is None:
                errors.append(RowError(link.line, "specimen_barcode",
                                       Msg("no specimen {barcode!r} in the biobank", barcode=link.specimen_barcode)))
            elif link.participant and owner != link.participant:
                errors.append(RowError(link.line, "specimen_barcode",
                                       Msg("specimen {barcode!r} belongs to {owner}, not {participant}",
                                           barcode=link.specimen_barcode, owner=owner, participant=link.participant)))
    if errors:
        raise SampleMapInvalid(errors)


def _resolve_links(db: Database, links: list[SampleLink]) -> dict[str, tuple[str | None, str | None]]:
    _check_links(db, links)
    owners = biobank_link.specimen_participants(db, {lk.specimen_barcode for lk in links if lk.specimen_barcode}) \
        if any(lk.specimen_barcode for lk in links) else {}
    return {lk.vcf_sample: (lk.participant or owners.get(lk.specimen_barcode or ""), lk.specimen_barcode)
            for lk in links}


def import_vcf(db: Database, data_dir: Path, path: Path, *, dataset: str, actor: str, genome_build: str = "GRCh38",
               sample_map: str | None = None, info_fields: Sequence[str] | None = None,
               on_progress: ProgressCallback | None = None) -> ImportResult:
    """Import one VCF/BCF as a new batch of `dataset` (created on first import)."""
    layout.check_name("dataset", dataset)
    if genome_build not in GENOME_BUILDS:
        raise ValidationFailed("genome build {build!r}: use one of {allowed}", build=genome_build,
                               allowed=", ".join(GENOME_BUILDS))
    path = Path(path)
    if not path.is_file():
        raise NotFound("no file {path}", path=str(path))
    links = parse_sample_map(sample_map) if sample_map is not None else []
    link_of = _resolve_links(db, links)
    source_sha = file_sha256(path)

    with db.session() as session:
        existing = session.scalar(select(OmicsDataset).where(OmicsDataset.name == dataset))
        if existing is not None:
            if existing.genome_build != genome_build:
                raise Conflict("dataset {dataset!r} is {build}, not {requested}", dataset=dataset,
                               build=existing.genome_build, requested=genome_build)
            if session.scalar(select(OmicsBatch.number).where(OmicsBatch.dataset_id == existing.id,
                                                               OmicsBatch.source_sha256 == source_sha)) is not None:
                raise Conflict("{file} (sha256 {sha}…) is already imported into {dataset!r}", file=path.name,
                               sha=source_sha[:12], dataset=dataset)
            keep = json.loads(existing.info_fields) if existing.info_fields else None
            if info_fields is not None:
                keep = list(info_fields)
            batch = (session.scalar(select(func.max(OmicsBatch.number)).where(OmicsBatch.dataset_id == existing.id))
                     or 0) + 1
            previous = set(session.scalars(select(OmicsSample.vcf_sample).join(OmicsBatch)
                                           .where(OmicsBatch.dataset_id == existing.id)))
        else:
            keep = list(info_fields) if info_fields is not None else None
            batch, previous = 1, set()

    root = store_root(data_dir)
    staging = root / ".staging" / uuid.uuid4().hex
    staging.mkdir(parents=True)
    moved: list[Path] = []
    try:
        summary = write_batch(path, staging, dataset=dataset, batch=batch, keep_info=keep, on_progress=on_progress)
        again = sorted(set(summary.samples) & previous)
        if again:
            raise Conflict("sample(s) {samples} are already in dataset {dataset!r}; a sample may appear in one "
                           "batch only", samples=", ".join(again[:10]), dataset=dataset)
        for table in layout.TABLES:
            source = layout.batch_folder(staging, table, dataset, batch)
            if not source.exists():
                continue
            target = layout.batch_folder(root, table, dataset, batch)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                raise Conflict("batch folder {folder} exists but is not catalogued: another import into "
                               "{dataset!r} is running, or a crash or an earlier database left it behind "
                               "(remove it when no import is running)", folder=str(target), dataset=dataset)
            source.rename(target)
            moved.append(target)
        in_file = set(summary.samples)
        result = ImportResult(
            dataset=dataset, batch=batch, source_sha256=source_sha, samples=len(summary.samples),
            records=summary.records, sites=summary.sites, genotype_rows=summary.genotype_rows,
            chroms=summary.chroms, mapped_samples=sum(1 for s in summary.samples if s in link_of),
            unmapped_samples=[s for s in summary.samples if s not in link_of],
            map_rows_not_in_file=sorted(set(link_of) - in_file),
        )
        with db.transaction() as session:
            ds = session.scalar(select(OmicsDataset).where(OmicsDataset.name == dataset))
            if ds is None:
                ds = OmicsDataset(name=dataset, genome_build=genome_build, created_by=actor,
                                  info_fields=json.dumps(keep) if keep is not None else None)
                session.add(ds)
                session.flush()
                record(session, actor=actor, action="omics.dataset.create", entity_type="omics_dataset",
                       entity_id=dataset, change={"genome_build": genome_build, "info_fields": keep})
            row = OmicsBatch(dataset_id=ds.id, number=batch, source_name=path.name, source_sha256=source_sha,
                             records=summary.records, sites=summary.sites, genotype_rows=summary.genotype_rows,
                             chroms=json.dumps(summary.chroms), imported_by=actor)
            session.add(row)
            session.flush()
            session.add_all(OmicsSample(batch_id=row.id, sample_index=i, vcf_sample=s,
                                        participant_code=link_of.get(s, (None, None))[0],
                                        specimen_barcode=link_of.get(s, (None, None))[1])
                            for i, s in enumerate(summary.samples))
            session.add_all(OmicsFile(batch_id=row.id, relpath=f.relpath, sha256=f.sha256, size_bytes=f.size_bytes,
                                      rows=f.rows) for f in summary.files)
            record(session, actor=actor, action="omics.import", entity_type="omics_batch",
                   entity_id=f"{dataset}/{batch}",
                   change={"source": path.name, "source_sha256": source_sha, "samples": len(summary.samples),
                           "records": summary.records, "sites": summary.sites,
                           "mapped_samples": result.mapped_samples, "unmapped": len(result.unmapped_samples),
                           "files": {f.relpath: f.sha256 for f in summary.files}})
        moved = []
        return result
    except IntegrityError:
        raise Conflict("another import into {dataset!r} committed batch {batch} first; run the import again",
                       dataset=dataset, batch=batch) from None
    finally:
        for folder in moved:
            shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)


# --- catalogue ---------------------------------------------------------------------------------------

def list_datasets(db: Database) -> list[dict[str, object]]:
    with db.session() as session:
        datasets = session.scalars(select(OmicsDataset).options(selectinload(OmicsDataset.batches))
                                   .order_by(OmicsDataset.name)).all()
        counts = dict(session.execute(select(OmicsBatch.dataset_id, func.count(OmicsSample.id)).join(OmicsSample)
                                      .group_by(OmicsBatch.dataset_id)).all())
        return [{"name": d.name, "genome_build": d.genome_build, "batches": len(d.batches),
                 "samples": counts.get(d.id, 0), "sites": sum(b.sites for b in d.batches),
                 "created_at": d.created_at.isoformat()} for d in datasets]


def dataset_detail(db: Database, name: str) -> dict[str, object]:
    with db.session() as session:
        ds = _dataset(session, name)
        batches = []
        for b in ds.batches:
            files = session.scalars(select(OmicsFile).where(OmicsFile.batch_id == b.id).order_by(OmicsFile.relpath))
            batches.append({"batch": b.number, "source_name": b.source_name, "source_sha256": b.source_sha256,
                            "records": b.records, "sites": b.sites, "genotype_rows": b.genotype_rows,
                            "chroms": json.loads(b.chroms), "imported_at": b.imported_at.isoformat(),
                            "imported_by": b.imported_by,
                            "files": [{"path": f.relpath, "sha256": f.sha256, "size_bytes": f.size_bytes,
                                       "rows": f.rows} for f in files]})
        return {"name": ds.name, "genome_build": ds.genome_build,
                "info_fields": json.loads(ds.info_fields) if ds.info_fields else None, "batches": batches}


def list_samples(db: Database, dataset: str) -> list[dict[str, object]]:
    with db.session() as session:
        ds = _dataset(session, dataset)
        rows = session.execute(select(OmicsBatch.number, OmicsSample).join(OmicsSample)
                               .where(OmicsBatch.dataset_id == ds.id)
                               .order_by(OmicsBatch.number, OmicsSample.sample_index)).all()
        return [{"batch": number, "vcf_sample": s.vcf_sample, "participant": s.participant_code,
                 "specimen_barcode": s.specimen_barcode} for number, s in rows]


def _dataset(session: Session, name: str) -> OmicsDataset:
    ds = session.scalar(select(OmicsDataset).where(OmicsDataset.name == name))
    if ds is None:
        raise NotFound("no omics dataset {name!r}", name=name)
    return ds


def batch_refs(db: Database, dataset: str | None = None) -> list[BatchRef]:
    with db.session() as session:
        query = select(OmicsDataset.name, OmicsBatch.number, OmicsBatch.chroms).join(OmicsBatch)
        if dataset is not None:
            _dataset(session, dataset)
            query = query.where(OmicsDataset.name == dataset)
        rows = session.execute(query.order_by(OmicsDataset.name, OmicsBatch.number)).all()
    return [BatchRef(name, number, tuple(json.loads(chroms))) for name, number, chroms in rows]


# --- queries -----------------------------------------------------------------------------------------

def _sites_view(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    for row in rows:
        info = row.get("info")
        row["info"] = json.loads(info) if isinstance(info, str) else None
    return rows


def variants_in_region(db: Database, data_dir: Path, region: str | Region, *, dataset: str | None = None,
                       limit: int | None = None, offset: int = 0) -> tuple[int, list[dict[str, object]]]:
    reg = parse_region(region) if isinstance(region, str) else region
    refs = batch_refs(db, dataset)
    store = variant_store(data_dir)
    total = store.count_sites_in_region(refs, reg)
    return total, _sites_view(store.sites_in_region(refs, reg, limit=limit, offset=offset))


def variants_by_id(db: Database, data_dir: Path, variant_id: str, *, dataset: str | None = None,
                   ) -> list[dict[str, object]]:
    return _sites_view(variant_store(data_dir).sites_by_id(batch_refs(db, dataset), variant_id.strip()))


def gene_regions(symbol: str) -> list[Region]:
    return [gene.region() for gene in genes_named(symbol)]


def in_contig_style(region: Region, contigs: set[str]) -> Region:
    """The region named as the data names its contig (`chr13` when the dataset says `chr22`, `13` when `22`)."""
    for alias in chrom_aliases(region.chrom):
        if alias in contigs:
            return Region(alias, region.start, region.end)
    if contigs and all(c.startswith("chr") for c in contigs) and not region.chrom.startswith("chr"):
        return Region(f"chr{region.chrom}", region.start, region.end)
    return region


def gene_regions_in_data(db: Database, symbol: str, dataset: str | None = None) -> list[Region]:
    """The gene's GRCh38 region(s) named in the data's contig style; a gene on a contig the data lacks is an
    error that says so (instead of "0 variants in 13:…", which reads as "no variant in the gene")."""
    check_gene_build(db, dataset)
    regions = gene_regions(symbol)
    refs = [r for r in batch_refs(db, dataset) if is_grch38(db, r.dataset)]
    contigs = {c for r in refs for c in r.chroms}
    styled = [in_contig_style(reg, contigs) for reg in regions]
    if not refs:
        return styled
    inside = [reg for reg in styled if reg.chrom in contigs]
    if inside:
        return inside
    shown = ", ".join(sorted(contigs)[:10]) + (" …" if len(contigs) > 10 else "")
    where = " / ".join(dict.fromkeys(reg.chrom for reg in styled))
    gene = symbol.strip().upper()
    if dataset is not None:
        raise ValidationFailed("gene {gene} lies on {contig}, a contig dataset {dataset} does not have "
                               "(its contigs: {contigs}); no variant of this dataset can lie in the gene",
                               gene=gene, contig=where, dataset=dataset, contigs=shown)
    raise ValidationFailed("gene {gene} lies on {contig}, a contig none of the datasets has "
                           "(their contigs: {contigs}); no imported variant can lie in the gene",
                           gene=gene, contig=where, contigs=shown)


def check_gene_build(db: Database, dataset: str | None) -> None:
    """Genes have GRCh38 coordinates only: a GRCh37 dataset asked for by name is refused."""
    with db.session() as session:
        query = select(OmicsDataset.name).where(OmicsDataset.genome_build != "GRCh38")
        if dataset is not None:
            query = query.where(OmicsDataset.name == dataset)
        other = session.scalars(query).all()
    if dataset is not None and other:
        raise ValidationFailed("dataset {dataset!r} is not GRCh38: the gene table has GRCh38 coordinates only",
                               dataset=dataset)


def variants_in_gene(db: Database, data_dir: Path, symbol: str, *, dataset: str | None = None,
                     ) -> tuple[list[Region], list[dict[str, object]]]:
    regions = gene_regions_in_data(db, symbol, dataset)
    refs = [r for r in batch_refs(db, dataset) if is_grch38(db, r.dataset)]
    rows: list[dict[str, object]] = []
    for reg in regions:
        rows += variant_store(data_dir).sites_in_region(refs, reg)
    return regions, _sites_view(rows)


def is_grch38(db: Database, dataset: str) -> bool:
    with db.session() as session:
        return session.scalar(select(OmicsDataset.genome_build).where(OmicsDataset.name == dataset)) == "GRCh38"


def allele_counts(db: Database, data_dir: Path, region: str | Region, *, dataset: str | None = None,
                  samples: Sequence[str] | None = None, cohort: str | None = None) -> AlleleCounts:
    """AC/AN/AF per biallelic site, over every sample or a subset (VCF IDs, or a saved cohort's samples)."""
    reg = parse_region(region) if isinstance(region, str) else region
    if cohort is not None:
        if samples is not None:
            raise ValidationFailed("give either samples or a cohort, not both")
        from lifebank.omics.cohorts import cohort_samples

        samples = cohort_samples(db, cohort)
    refs = batch_refs(db, dataset)
    if samples is not None:
        check_known_samples(db, samples, dataset)
    return variant_store(data_dir).allele_counts(refs, reg, samples)


def check_known_samples(db: Database, samples: Sequence[str], dataset: str | None) -> None:
    """Refuse VCF sample IDs no batch (of `dataset`) holds, naming up to ten of them."""
    with db.session() as session:
        query = select(OmicsSample.vcf_sample).where(OmicsSample.vcf_sample.in_(set(samples)))
        if dataset is not None:
            query = query.join(OmicsBatch).join(OmicsDataset).where(OmicsDataset.name == dataset)
        known = set(session.scalars(query))
    unknown = sorted(set(samples) - known)
    if unknown:
        more = Msg(" (and {n} more)", n=len(unknown) - 10) if len(unknown) > 10 else ""
        raise ValidationFailed("unknown VCF sample(s): {samples}{more}", samples=", ".join(unknown[:10]), more=more)


def genotypes(db: Database, data_dir: Path, region: str | Region, *, dataset: str | None = None,
              samples: Sequence[str] | None = None) -> list[dict[str, object]]:
    reg = parse_region(region) if isinstance(region, str) else region
    if samples is not None:
        check_known_samples(db, samples, dataset)
    return variant_store(data_dir).genotypes(batch_refs(db, dataset), reg, samples)


def export_vcf(db: Database, data_dir: Path, region: str | Region, *, dataset: str,
               samples: Sequence[str] | None = None) -> str:
    """The region of one dataset, for the given samples (default all), as VCF text."""
    reg = parse_region(region) if isinstance(region, str) else region
    refs = batch_refs(db, dataset)
    if samples is None:
        samples = [row["vcf_sample"] for row in list_samples(db, dataset)]  # type: ignore[misc]
    else:
        check_known_samples(db, samples, dataset)
    columns, sites = export_sites(variant_store(data_dir), refs, reg, samples)
    with db.session() as session:
        build = _dataset(session, dataset).genome_build
    contigs = list(dict.fromkeys(c for r in refs for c in r.chroms))
    out = io.StringIO()
    write_vcf(out, samples=columns, contigs=contigs, genome_build=build, source=f"LifeBank omics {dataset}",
              filters={f for s in sites if s.filter for f in s.filter.split(";")}, sites=sites)
    return out.getvalue()


_COHORT_NAMES = frozenset({"CohortCriteria", "CohortMemberView", "preview_cohort", "save_cohort", "delete_cohort",
                           "list_cohorts", "get_cohort", "cohort_samples"})


def __getattr__(name: str) -> object:
    """Cohort use cases moved to `lifebank.omics.cohorts`; older callers still find them here (lazily, because
    cohorts imports this module)."""
    if name in _COHORT_NAMES:
        from lifebank.omics import cohorts

        return getattr(cohorts, name)
    raise AttributeError(name)
