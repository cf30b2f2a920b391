"""Beacon-Friendly Format (BFF) import: a Beacon v2 data folder loaded into LifeBank's own domains.

The BFF files (`individuals.json`, `biosamples.json`, `genomicVariations.json`, optionally `datasets.json`) are
read and checked in full first; any bad record is reported by file, record number and field, and nothing is
written. Then, through the published functions of the other domains: the individuals become biobank
participants (with a consent), the biosamples their specimens, and the variants with their `caseLevelData`
a VCF imported as an omics dataset whose samples link to those participants and specimens. The Beacon then
answers over them like over any other data of the bank.

The three writes are three transactions (each domain owns its own); the checks before them (records,
participant codes and barcodes not taken yet, dataset name free) make a failure after the first write a
matter of the database going away, and a re-run then says which codes exist.
"""

from __future__ import annotations

import gzip
import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from lifebank import biobank
from lifebank.db.engine import Database
from lifebank.errors import Conflict, NotFound, RowError, RowsRejected
from lifebank.messages import Msg
from lifebank.sharing.terms import SEX_OF_TERM

ORIGIN_TYPES = {"UBERON:0000178": "BLD", "UBERON:0001969": "PL1", "UBERON:0001977": "SER",
                "UBERON:0001088": "URN", "UBERON:0001836": "SAL", "UBERON:0012168": "CRD"}
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_BASES = re.compile(r"^[ACGTN]+$")
_AGE = re.compile(r"^P(\d+)Y")
_GT = {"0/1": "0/1", "1/0": "0/1", "0|1": "0|1", "1|0": "1|0", "1/1": "1/1", "1|1": "1|1"}


@dataclass(slots=True)
class BffIndividual:
    id: str
    sex: str
    birth_year: int | None = None


@dataclass(slots=True)
class BffBiosample:
    id: str
    individual: str
    type: str
    collected: str | None


@dataclass(slots=True)
class BffVariant:
    chrom: str
    pos: int
    ref: str
    alt: str
    carriers: dict[str, str]  # biosample id -> VCF genotype


@dataclass(slots=True)
class BffFolder:
    individuals: list[BffIndividual]
    biosamples: list[BffBiosample]
    variants: list[BffVariant]
    duo: list[str]


def _load(folder: Path, name: str, errors: list[RowError], *, required: bool = True) -> list[dict[str, Any]]:
    path = folder / name
    if not path.is_file():
        if required:
            errors.append(RowError(0, name, Msg("file missing from the BFF folder")))
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        errors.append(RowError(0, name, Msg("not valid JSON: {reason}", reason=str(exc))))
        return []
    if not isinstance(data, list):
        errors.append(RowError(0, name, Msg("must be a JSON list of records")))
        return []
    return data


def _term(record: dict[str, Any], key: str) -> str | None:
    value = record.get(key)
    return value.get("id") if isinstance(value, dict) else None


def read_folder(folder: Path) -> BffFolder:
    """Every record checked; all problems raised together as `RowsRejected` (record numbers are 1-based)."""
    errors: list[RowError] = []
    if not folder.is_dir():
        raise NotFound("no folder {folder}", folder=str(folder))
    people_raw = _load(folder, "individuals.json", errors)
    samples_raw = _load(folder, "biosamples.json", errors)
    variants_raw = _load(folder, "genomicVariations.json", errors)
    datasets_raw = _load(folder, "datasets.json", errors, required=False)
    if errors:
        raise RowsRejected("BFF folder", errors)

    def bad(n: int, file: str, field: str, reason: Msg) -> None:
        errors.append(RowError(n, f"{file}:{field}", reason))

    people: dict[str, BffIndividual] = {}
    for n, rec in enumerate(people_raw, 1):
        code = rec.get("id") if isinstance(rec, dict) else None
        if not isinstance(code, str) or not _CODE.match(code):
            bad(n, "individuals", "id", Msg("{value!r} is not a participant code (1-32 letters, digits, - or _)",
                                            value=code))
            continue
        sex = _term(rec, "sex")
        if sex not in SEX_OF_TERM:
            bad(n, "individuals", "sex", Msg("sex {value!r} is not one of {allowed}", value=sex,
                                             allowed=", ".join(SEX_OF_TERM)))
            continue
        if code in people:
            bad(n, "individuals", "id", Msg("individual {code} appears twice", code=code))
        people[code] = BffIndividual(code, SEX_OF_TERM[sex])
    samples: dict[str, BffBiosample] = {}
    for n, rec in enumerate(samples_raw, 1):
        sid, owner = rec.get("id"), rec.get("individualId")
        if not isinstance(sid, str) or not _CODE.match(sid):
            bad(n, "biosamples", "id", Msg("{value!r} is not a barcode", value=sid))
            continue
        if owner not in people:
            bad(n, "biosamples", "individualId", Msg("no individual {value!r} in individuals.json", value=owner))
            continue
        origin = _term(rec, "sampleOriginType")
        if origin not in ORIGIN_TYPES:
            bad(n, "biosamples", "sampleOriginType", Msg("no LifeBank specimen type for sample origin {value!r}; "
                                                          "known: {allowed}", value=origin,
                                                          allowed=", ".join(ORIGIN_TYPES)))
            continue
        collected = rec.get("collectionDate")
        if collected is not None:
            try:
                day = date.fromisoformat(str(collected))
            except ValueError:
                bad(n, "biosamples", "collectionDate", Msg("{value!r} is not a date (YYYY-MM-DD)", value=collected))
                continue
            age = _AGE.match(str(rec.get("collectionMoment") or ""))
            if age and people[owner].birth_year is None:
                people[owner].birth_year = max(1900, day.year - int(age[1]))
        samples[sid] = BffBiosample(sid, owner, ORIGIN_TYPES[origin], collected)
    variants: list[BffVariant] = []
    for n, rec in enumerate(variants_raw, 1):
        variation = rec.get("variation") or {}
        ref, alt = variation.get("referenceBases"), variation.get("alternateBases")
        try:
            start = int(variation["location"]["interval"]["start"]["value"])
        except (KeyError, TypeError, ValueError):
            bad(n, "genomicVariations", "variation.location", Msg("no interval start"))
            continue
        chrom = str(rec.get("variantInternalId", "")).split("_")[0] or "chr?"
        if not re.match(r"^(chr)?[0-9XYM]{1,2}$", chrom):
            bad(n, "genomicVariations", "variantInternalId", Msg("no chromosome in {value!r}",
                                                                 value=rec.get("variantInternalId")))
            continue
        if not (isinstance(ref, str) and _BASES.match(ref) and isinstance(alt, str) and _BASES.match(alt)):
            bad(n, "genomicVariations", "variation", Msg("bases {ref!r}>{alt!r} are not A, C, G, T, N",
                                                         ref=ref, alt=alt))
            continue
        carriers: dict[str, str] = {}
        for case in rec.get("caseLevelData") or []:
            sid = case.get("biosampleId")
            if sid not in samples:
                bad(n, "genomicVariations", "caseLevelData", Msg("no biosample {value!r} in biosamples.json",
                                                                 value=sid))
                continue
            label = ((case.get("zygosity") or {}).get("label")) or "0/1"
            carriers[sid] = _GT.get(label, "0/1")
        variants.append(BffVariant(chrom, start + 1, ref, alt, carriers))
    duo: list[str] = []
    for rec in datasets_raw:
        for use in ((rec.get("dataUseConditions") or {}).get("duoDataUse") or []):
            for part in str(use.get("id", "")).split(","):
                match = re.match(r"^DUO:0*(\d{1,7})$", part.strip())
                if match:
                    duo.append(f"DUO:{int(match[1]):07d}")
    if errors:
        raise RowsRejected("BFF folder", errors, len(people_raw) + len(samples_raw) + len(variants_raw))
    return BffFolder(list(people.values()), list(samples.values()), variants, list(dict.fromkeys(duo)))


def _vcf(bff: BffFolder, path: Path) -> None:
    """The variants as a VCF with one column per biosample (non-carriers 0/0), positions sorted."""
    columns = [s.id for s in bff.biosamples]
    index = {sid: i for i, sid in enumerate(columns)}
    contigs = list(dict.fromkeys(v.chrom for v in bff.variants))
    with gzip.open(path, "wt", encoding="ascii", compresslevel=1) as out:
        out.write("##fileformat=VCFv4.2\n##source=LifeBank BFF import\n")
        out.writelines(f"##contig=<ID={c}>\n" for c in contigs)
        out.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(columns) + "\n")
        for v in sorted(bff.variants, key=lambda v: (contigs.index(v.chrom), v.pos, v.ref, v.alt)):
            calls = ["0/0"] * len(columns)
            for sid, gt in v.carriers.items():
                calls[index[sid]] = gt
            out.write(f"{v.chrom}\t{v.pos}\t.\t{v.ref}\t{v.alt}\t.\tPASS\t.\tGT\t" + "\t".join(calls) + "\n")


@dataclass(frozen=True, slots=True)
class BffResult:
    dataset: str
    individuals: int
    biosamples: int
    variants: int

    def as_dict(self) -> dict[str, object]:
        return {"dataset": self.dataset, "individuals": self.individuals, "biosamples": self.biosamples,
                "variants": self.variants}


def import_bff(db: Database, data_dir: Path, folder: Path, *, dataset: str, actor: str, site: str | None = None,
               consent: str = "GRU", consent_date: date | None = None,
               progress: Callable[[str], None] | None = None) -> BffResult:
    """Load a BFF folder as participants, specimens and the omics dataset `dataset` (see the module text)."""
    from lifebank.biobank import imports
    from lifebank.omics import service as omics

    bff = read_folder(Path(folder))
    if dataset in {str(d["name"]) for d in omics.list_datasets(db)}:
        raise Conflict("dataset {dataset!r} exists already; import a BFF folder into a new dataset",
                       dataset=dataset)
    taken = biobank.existing_participants(db, [p.id for p in bff.individuals])
    if taken:
        raise Conflict("{count} individuals of the folder are participants already (e.g. {codes})",
                       count=len(taken), codes=", ".join(sorted(taken)[:5]))
    held = biobank.specimen_participants(db, [s.id for s in bff.biosamples])
    if held:
        raise Conflict("{count} biosample ids are specimen barcodes already (e.g. {codes})", count=len(held),
                       codes=", ".join(sorted(held)[:5]))
    codes = ";".join([consent, *bff.duo])
    signed = (consent_date or date.today()).isoformat()
    where = (site or dataset)[:64]
    people = "participant,sex,birth_year,site,consent_codes,consent_date,consent_scope\n" + "".join(
        f"{p.id},{p.sex},{p.birth_year or ''},{where},{codes},{signed},BFF dataset {dataset}\n"
        for p in bff.individuals)
    if progress:
        progress("participants")
    imports.import_participants(db, people.encode(), actor=actor)
    tubes = "barcode,participant,type,quantity,unit,collected_at,parent_barcode,sprec,location\n" + "".join(
        f"{s.id},{s.individual},{s.type},,,{(s.collected + 'T00:00:00Z') if s.collected else ''},,,\n"
        for s in bff.biosamples)
    if progress:
        progress("specimens")
    imports.import_specimens(db, tubes.encode(), actor=actor)
    if progress:
        progress("variants")
    with tempfile.TemporaryDirectory(prefix="lifebank-bff-") as tmp:
        vcf = Path(tmp) / f"{dataset}.vcf.gz"
        _vcf(bff, vcf)
        sample_map = "vcf_sample,participant,specimen_barcode\n" + "".join(
            f"{s.id},{s.individual},{s.id}\n" for s in bff.biosamples)
        omics.import_vcf(db, data_dir, vcf, dataset=dataset, actor=actor, genome_build="GRCh38",
                         sample_map=sample_map)
    return BffResult(dataset, len(bff.individuals), len(bff.biosamples), len(bff.variants))
