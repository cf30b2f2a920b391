"""What the Beacon reads, and only through the published functions of biobank and omics.

Datasets: every omics dataset is a Beacon dataset (its individuals are the participants its samples are
linked to, its biosamples their specimens, its variants the store's sites), and `biobank` is the whole
bank's participants and specimens (it has no variants). Nothing is copied: each answer reads the live bank,
so a specimen used up this morning is no longer "available", and a withdrawn consent drops out of a DUO
filter at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Any

from lifebank import biobank
from lifebank.biobank import service as bank
from lifebank.db.engine import Database
from lifebank.messages import Msg
from lifebank.omics import cohorts as omics_cohorts
from lifebank.omics import service as omics
from lifebank.omics import site_presence
from lifebank.omics.regions import Region
from lifebank.omics.site_presence import SitePresence
from lifebank.sharing import snapshot
from lifebank.sharing.request import BeaconRequest, BeaconRequestError, Coordinates, Filter
from lifebank.sharing.terms import AVAILABLE, SEX_OF_TERM, types_of_origin

BIOBANK = "biobank"
# Disease filters (CURIE prefix -> the clinical domain's code-system short name), answered from clinical data.
DISEASE_SYSTEMS = {"ICD10": "icd10", "ICD10CM": "icd10cm", "SNOMED": "snomed", "SCTID": "snomed",
                   "ICDO3": "icdo3", "ICD-O-3": "icdo3"}
_PLAIN_BASES = re.compile(r"^[ACGTUNRYSWKMBDHV]+$")
_DUO = "DUO:"


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    name: str
    kind: str  # 'omics' or 'biobank'
    genome_build: str | None
    created_at: str | None
    version: tuple[int, int] = (0, 0)  # (batches, samples): sample links change only when a batch is added


def current_datasets(db: Database) -> list[DatasetInfo]:
    """The datasets as kept until the bank changes (`snapshot`)."""
    return snapshot.kept(db, "datasets", lambda: datasets(db))


def datasets(db: Database) -> list[DatasetInfo]:
    found = [DatasetInfo(BIOBANK, "biobank", None, None)]
    for row in omics.list_datasets(db):
        found.append(DatasetInfo(str(row["name"]), "omics", str(row["genome_build"]), str(row["created_at"]),
                                 (int(row["batches"]), int(row["samples"]))))  # type: ignore[call-overload]
    return found


@dataclass(slots=True)
class SampleLink:
    vcf_sample: str
    participant: str | None
    specimen: str | None
    batch: int


_links: dict[tuple[str, str, tuple[int, int]], tuple[list[SampleLink], frozenset[str]]] = {}
_links_lock = Lock()


def _cached_links(db: Database, dataset: DatasetInfo) -> tuple[list[SampleLink], frozenset[str]]:
    """A dataset's sample links and participants, kept per (database, dataset, batches, samples): a new batch
    changes the key, and nothing else relinks samples, so a Beacon query does not re-read 2,504 rows."""
    key = (db.url, dataset.name, dataset.version)
    with _links_lock:
        found = _links.get(key)
    if found is None:
        links = [SampleLink(str(r["vcf_sample"]), r["participant"], r["specimen_barcode"],  # type: ignore[arg-type]
                            int(r["batch"])) for r in omics.list_samples(db, dataset.name)]  # type: ignore[call-overload]
        found = (links, frozenset(link.participant for link in links if link.participant))
        with _links_lock:
            if len(_links) > 64:
                _links.clear()
            _links[key] = found
    return found


def sample_links(db: Database, dataset: DatasetInfo) -> list[SampleLink]:
    return _cached_links(db, dataset)[0]


def members(db: Database, dataset: DatasetInfo) -> set[str] | None:
    """Participant codes of the dataset (None: every participant of the bank)."""
    if dataset.kind == "biobank":
        return None
    return set(_cached_links(db, dataset)[1])


# --- filters -----------------------------------------------------------------------------------------------

def check_filters(filters: Iterable[Filter], scope: str) -> None:
    """Unknown terms, and terms that do not apply to the entry type, are errors (never "0 results")."""
    for flt in filters:
        if flt.operator is not None:
            raise BeaconRequestError(Msg("filter {id}: alphanumeric filters are not supported; use the ontology "
                                         "terms listed at /api/beacon/v2/filtering_terms", id=flt.id))
        known = (flt.id in SEX_OF_TERM or flt.id == AVAILABLE or types_of_origin(flt.id)
                 or (flt.id.startswith(_DUO) and flt.id in _duo_ids()) or _disease(flt.id) is not None)
        if not known:
            raise BeaconRequestError(Msg("unknown filter {id}: see /api/beacon/v2/filtering_terms for the terms "
                                         "this Beacon knows", id=flt.id))
        if scope not in ("individual", "biosample"):
            raise BeaconRequestError(Msg("filter {id} does not apply to {entry}; it filters individuals and "
                                         "biosamples", id=flt.id, entry=scope))


def _disease(term: str) -> tuple[str, str] | None:
    """(code system, code) of a disease filter such as `ICD10:C61` or `SNOMED:399068003`, else None."""
    prefix, _, code = term.partition(":")
    system = DISEASE_SYSTEMS.get(prefix.upper())
    return (system, code.strip()) if system and code.strip() else None


def _duo_ids() -> set[str]:
    from lifebank.biobank.duo import duo_terms  # pure vocabulary module of biobank

    return set(duo_terms())


def participants_filtered(db: Database, filters: Iterable[Filter]) -> set[str] | None:
    """Participants matching every filter (None when no filter narrows them), kept until the bank changes.

    The set is shared by the process's requests: read it, never change it."""
    chosen = tuple(filters)
    if not chosen:
        return None
    key = ("participants", tuple((f.id, f.include_descendants) for f in chosen))
    return snapshot.kept(db, key, lambda: _participants_filtered(db, chosen))  # type: ignore[return-value]


def _participants_filtered(db: Database, filters: Iterable[Filter]) -> frozenset[str] | None:
    selected: set[str] | None = None

    def narrow(codes: set[str]) -> None:
        nonlocal selected
        selected = codes if selected is None else selected & codes

    for flt in filters:
        if flt.id in SEX_OF_TERM:
            narrow(biobank.participants_matching(db, sex=SEX_OF_TERM[flt.id]))
        elif flt.id.startswith(_DUO):
            narrow(biobank.participants_matching(db, consent_code=flt.id))
        elif flt.id == AVAILABLE:
            narrow(biobank.participants_with_specimens(db, status="available"))
        elif (disease := _disease(flt.id)) is not None:
            from lifebank.clinical import ClinicalCriteria, participants_with_clinical

            narrow(participants_with_clinical(db, ClinicalCriteria(diagnosis=disease[1], diagnosis_system=disease[0],
                                                                   descendants=flt.include_descendants)))
        else:
            found: set[str] = set()
            for code in types_of_origin(flt.id):
                found |= biobank.participants_with_specimens(db, specimen_type=code, status=None)
            narrow(found)
    return None if selected is None else frozenset(selected)


def both(a: set[str] | None, b: set[str] | None) -> set[str] | None:
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def existing(db: Database, codes: set[str]) -> set[str]:
    return biobank.existing_participants(db, codes) if codes else set()


def participant_count(db: Database) -> int:
    def read() -> int:
        total, _ = bank.list_participants(db, limit=0)
        return total

    return snapshot.kept(db, "participant_count", read)


def all_participants(db: Database) -> set[str]:
    return {row["code"] for row in bank.iter_participants(db, bank.ParticipantFilter())}


def participant_views(db: Database, codes: list[str]) -> list[dict[str, Any]]:
    return [bank.participant_view(db, code) for code in codes]


# --- specimens ---------------------------------------------------------------------------------------------

def _specimen_criteria(filters: Iterable[Filter]) -> tuple[list[str] | None, bool]:
    """(specimen types, None: any; available and distributable only) the specimen-level filters ask for."""
    types: list[str] | None = None
    available = False
    for flt in filters:
        if flt.id == AVAILABLE:
            available = True
        elif types_of_origin(flt.id):
            wanted = types_of_origin(flt.id)
            types = wanted if types is None else [t for t in types if t in wanted]
    return types, available


def specimen_counts(db: Database, filters: Iterable[Filter]) -> dict[str | None, int]:
    """Participant code (None: no participant) -> specimens matching the specimen-level filters they hold: one
    grouped count, kept until the bank changes (a count or a boolean needs no specimen list).

    Shared by the process's requests: read it, never change it."""
    types, available = _specimen_criteria(filters)
    key = ("specimen_counts", None if types is None else tuple(types), available)
    return snapshot.kept(db, key, lambda: biobank.specimen_counts_by_participant(  # type: ignore[no-any-return]
        db, specimen_types=types, status="available" if available else None, distributable_only=available))


def specimens(db: Database, filters: Iterable[Filter]) -> list[dict[str, Any]]:
    """Specimens matching the specimen-level filters (sample origin, available); the caller narrows by owner."""
    types, available = _specimen_criteria(filters)
    rows: list[dict[str, Any]] = []
    for code in types if types is not None else [None]:
        flt = bank.SpecimenFilter(type=code, status="available" if available else None)
        rows += [row for row in bank.iter_specimens(db, flt) if not available or row["distributable"]]
    return rows


def specimen_count(db: Database) -> int:
    def read() -> int:
        total, _ = bank.search_specimens(db, bank.SpecimenFilter(), limit=0)
        return int(total or 0)

    return snapshot.kept(db, "specimen_count", read)


def participant_level(filters: Iterable[Filter]) -> list[Filter]:
    """The filters that select owners (sex, consent) rather than specimens."""
    return [f for f in filters if f.id in SEX_OF_TERM or f.id.startswith(_DUO) or _disease(f.id) is not None]


# --- variants ----------------------------------------------------------------------------------------------

@dataclass(slots=True)
class VariantHit:
    dataset: str
    chrom: str
    pos: int
    ref: str
    alt: str
    vid: str | None
    info: dict[str, Any] | None


def variant_regions(db: Database, request: BeaconRequest, dataset: str) -> list[Region]:
    if request.gene_id is not None:
        try:
            return omics.gene_regions_in_data(db, request.gene_id, dataset)
        except Exception as exc:  # an unknown gene or a contig the data lacks: the reason, in Beacon's error
            message = getattr(exc, "message", None)
            if message is None:
                raise
            raise BeaconRequestError(message) from None
    coords = request.coordinates
    assert coords is not None
    start, end = coords.region
    return [Region(coords.reference_name, start, end)]


def _gene_match(request: BeaconRequest) -> Coordinates | None:
    return request.coordinates


def variants(db: Database, data_dir: Path, request: BeaconRequest, dataset: str) -> list[VariantHit]:
    """The store's records of one dataset that answer the request's variant parameters."""
    coords = _gene_match(request)
    hits: list[VariantHit] = []
    for region in variant_regions(db, request, dataset):
        _total, rows = omics.variants_in_region(db, data_dir, region, dataset=dataset)
        if not rows:
            continue
        # A site nobody in the dataset carries (AC = 0, as in a subset of a larger call set) is no answer.
        seen = {(c.pos, c.ref, c.alt) for c in omics.allele_counts(db, data_dir, region, dataset=dataset)
                if c.ac > 0}
        for row in rows:
            if (row["pos"], row["ref"], row["alt"]) not in seen:
                continue
            pos, ref, alt = int(row["pos"]), str(row["ref"]), str(row["alt"])  # type: ignore[call-overload]
            if not _PLAIN_BASES.match(alt) or not _PLAIN_BASES.match(ref):
                continue  # '*' (overlapping deletion) and symbolic alleles are not Beacon alleles
            if coords is not None and not coords.matches(pos, ref, alt):
                continue
            hits.append(VariantHit(dataset, str(row["chrom"]), pos, ref, alt,
                                   row.get("id"), row.get("info")))  # type: ignore[arg-type]
    return hits


_presence: dict[tuple[str, str, str, tuple[int, int]], SitePresence] = {}
_presence_locks: dict[tuple[str, str, str, tuple[int, int]], Lock] = {}


def presence(db: Database, data_dir: Path, dataset: DatasetInfo) -> SitePresence:
    """The carried-sites index of an omics dataset (`lifebank.omics.site_presence`), built once per process
    and per (database, store, dataset, batches): committed batch files never change, a new batch is a new key."""
    key = (db.url, str(data_dir), dataset.name, dataset.version)
    found = _presence.get(key)
    if found is not None:
        return found
    with _links_lock:
        lock = _presence_locks.setdefault(key, Lock())
    with lock:  # one build per key; the others wait for it
        found = _presence.get(key)
        if found is None:
            found = site_presence.build(omics.variant_store(data_dir), omics.batch_refs(db, dataset.name))
            with _links_lock:
                for old in [k for k in _presence if k[:3] == key[:3]]:  # an earlier version of the dataset
                    del _presence[old]
                _presence[key] = found
    return found


def _plain_range(request: BeaconRequest) -> bool:
    """A range query without bases or type: every carried site overlapping the range answers it."""
    coords = request.coordinates
    return (coords is not None and coords.kind == "range" and not coords.reference_bases
            and not coords.alternate_bases and not coords.variant_type)


def variant_keys(db: Database, data_dir: Path, request: BeaconRequest,
                 dataset: DatasetInfo) -> list[tuple[str, int, str, str]]:
    """(contig, POS, REF, ALT) of the dataset's carried sites answering the request, from the presence index
    (the same answers as `variants`, without reading the store's files)."""
    index = presence(db, data_dir, dataset)
    coords = request.coordinates
    found: list[tuple[str, int, str, str]] = []
    for region in variant_regions(db, request, dataset.name):
        sites = index.sites(region.chrom, region.start, region.end)
        if coords is not None and not _plain_range(request):
            sites = [s for s in sites if coords.matches(s[1], s[2], s[3])]
        found += sites
    return list(dict.fromkeys(found))


def variant_count(db: Database, data_dir: Path, request: BeaconRequest, dataset: DatasetInfo) -> int:
    """How many of the dataset's carried sites answer the request (a plain range: counted without a list)."""
    if _plain_range(request):
        coords = request.coordinates
        assert coords is not None
        start, end = coords.region
        return presence(db, data_dir, dataset).count(coords.reference_name, start, end)
    return len(variant_keys(db, data_dir, request, dataset))


def carriers(db: Database, data_dir: Path, dataset: str, hits: list[VariantHit]) -> dict[tuple[str, int, str, str],
                                                                                          list[tuple[str, str]]]:
    """For each hit (chrom, pos, ref, alt): the VCF samples carrying its ALT, with zygosity (het/hom/hemi)."""
    wanted = {(h.chrom, h.pos, h.ref, h.alt) for h in hits}
    found: dict[tuple[str, int, str, str], list[tuple[str, str]]] = {key: [] for key in wanted}
    for chrom in {h.chrom for h in hits}:
        positions = [h.pos for h in hits if h.chrom == chrom]
        region = Region(chrom, min(positions), max(positions))
        for row in omics.genotypes(db, data_dir, region, dataset=dataset):
            key = (str(row["chrom"]), int(row["pos"]), str(row["ref"]), str(row["alt"]))  # type: ignore[call-overload]
            if key not in found:
                continue
            a1, a2 = row["a1"], row["a2"]
            if a1 != 1 and a2 != 1:
                continue
            zygosity = "hemi" if a2 == -2 else "hom" if a1 == 1 and a2 == 1 else "het"
            found[key].append((str(row["sample_id"]), zygosity))
    return found


def parse_variant_id(text: str) -> Coordinates:
    """`chr22-16050075-G-A` (1-based POS, as `variantInternalId` shows it) as a sequence query."""
    parts = text.split("-")
    if len(parts) != 4 or not parts[1].isdigit():
        raise BeaconRequestError(Msg("variant id {id!r} is not CHROM-POS-REF-ALT", id=text), code=404)
    from lifebank.sharing.request import from_query

    request = from_query({"referenceName": parts[0], "start": str(int(parts[1]) - 1), "referenceBases": parts[2],
                          "alternateBases": parts[3]})
    assert request.coordinates is not None
    return request.coordinates


# --- cohorts -----------------------------------------------------------------------------------------------

def cohorts(db: Database) -> list[dict[str, Any]]:
    return omics_cohorts.list_cohorts(db)


def cohort_members(db: Database, name: str) -> set[str]:
    cohort = omics_cohorts.get_cohort(db, name)
    return {m["participant"] for m in cohort["members"] if m["participant"]}  # type: ignore[union-attr, index]
