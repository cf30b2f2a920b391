"""The answer to one Beacon query over the datasets in scope, shaped at the granularity the caller may see.

`answer(...)` is what every entry endpoint calls: it logs the query (and checks the budget), counts per
dataset, applies the count threshold, and builds records only when the granularity is `record`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lifebank.db.engine import Database
from lifebank.messages import Msg
from lifebank.sharing import beacon, data, privacy, responses, snapshot
from lifebank.sharing.privacy import Caller
from lifebank.sharing.request import BeaconRequest, BeaconRequestError, Coordinates
from lifebank.sharing.terms import REFERENCE_SAMPLE, ZYGOSITY, hgvs_name, origin_of, sequence_id, sex_of, variant_type


@dataclass(slots=True)
class Restriction:
    """What a path narrows the query to: one entry id, a cohort's or a variant's individuals."""

    entry_id: str | None = None
    participants: set[str] | None = None
    variant: Coordinates | None = None
    owner: str | None = None  # biosamples of one individual
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DatasetAnswer:
    name: str
    count: int
    ids: list[str]  # sorted ids of the matches (records are built for one page of them only)


def _variant_request(request: BeaconRequest, restriction: Restriction) -> BeaconRequest:
    if restriction.variant is None:
        return request
    if request.is_variant_query:
        raise BeaconRequestError(Msg("this path names its variant; give no variant parameters"))
    from dataclasses import replace

    return replace(request, coordinates=restriction.variant)


def _other_build(request: BeaconRequest, ds: data.DatasetInfo) -> bool:
    """An `assemblyId` naming another build than the dataset's: its coordinates mean nothing there."""
    from lifebank.sharing.request import assembly_build

    asked = request.coordinates.assembly_id if request.coordinates else None
    return asked is not None and assembly_build(asked) != ds.genome_build


def _carrier_participants(db: Database, data_dir: Path, request: BeaconRequest, ds: data.DatasetInfo,
                          ) -> tuple[set[str], set[str]]:
    """Participants and specimen barcodes of the dataset's samples carrying a matching variant."""
    if _other_build(request, ds):
        return set(), set()
    hits = data.variants(db, data_dir, request, ds.name)
    links = {link.vcf_sample: link for link in data.sample_links(db, ds)}
    people: set[str] = set()
    specimens: set[str] = set()
    for found in data.carriers(db, data_dir, ds.name, hits).values():
        for sample, _zygosity in found:
            link = links.get(sample)
            if link and link.participant:
                people.add(link.participant)
            if link and link.specimen:
                specimens.add(link.specimen)
    return people, specimens


def _individuals(db: Database, data_dir: Path, request: BeaconRequest, ds: data.DatasetInfo,
                 restriction: Restriction) -> DatasetAnswer:
    if restriction.entry_id is None and restriction.participants is None and not request.is_variant_query:
        # Filters alone: the same few combinations again and again, kept until the bank changes (read-only).
        key = ("individuals", ds.name, tuple((f.id, f.include_descendants) for f in request.filters))
        return snapshot.kept(db, key, lambda: _individuals_now(db, data_dir, request, ds, restriction))
    return _individuals_now(db, data_dir, request, ds, restriction)


def _individuals_now(db: Database, data_dir: Path, request: BeaconRequest, ds: data.DatasetInfo,
                     restriction: Restriction) -> DatasetAnswer:
    selected = data.both(data.participants_filtered(db, request.filters), restriction.participants)
    if restriction.entry_id is not None:
        selected = data.both(selected, {restriction.entry_id})
    if request.is_variant_query:
        if ds.kind != "omics":
            return DatasetAnswer(ds.name, 0, [])
        people, _ = _carrier_participants(db, data_dir, request, ds)
        selected = data.both(selected, people)
    scope_members = data.members(db, ds)
    chosen = data.both(selected, scope_members)
    if chosen is None:  # the whole bank, unfiltered: a count needs no list
        return DatasetAnswer(ds.name, data.participant_count(db), [])
    if scope_members is None and (restriction.entry_id is not None or restriction.participants is not None):
        chosen = data.existing(db, chosen)  # ids from the path may name nobody; filter results always exist
    return DatasetAnswer(ds.name, len(chosen), sorted(chosen))


def _biosamples(db: Database, data_dir: Path, request: BeaconRequest, ds: data.DatasetInfo,
                restriction: Restriction, *, count_only: bool = False,
                ) -> tuple[DatasetAnswer, dict[str, dict[str, Any]]]:
    """The dataset's matching specimens; with `count_only` (a count or a boolean) and no variant or id to match
    barcodes against, their number from the biobank's grouped count per participant, without listing them."""
    owners = data.both(data.participants_filtered(db, data.participant_level(request.filters)),
                       restriction.participants)
    if restriction.owner is not None:
        owners = data.both(owners, {restriction.owner})
    barcodes: set[str] | None = None
    if request.is_variant_query:
        if ds.kind != "omics":
            return DatasetAnswer(ds.name, 0, []), {}
        people, barcodes = _carrier_participants(db, data_dir, request, ds)
        owners = data.both(owners, people)
    owners = data.both(owners, data.members(db, ds))
    specimen_filters = [f for f in request.filters if f not in data.participant_level(request.filters)]
    if owners is None and barcodes is None and restriction.entry_id is None and not specimen_filters:
        return DatasetAnswer(ds.name, data.specimen_count(db), []), {}
    if count_only and barcodes is None and restriction.entry_id is None:
        held = data.specimen_counts(db, specimen_filters)
        total = sum(held.values()) if owners is None else sum(held.get(code, 0) for code in owners)
        return DatasetAnswer(ds.name, total, []), {}
    rows = {}
    for row in data.specimens(db, specimen_filters):
        if owners is not None and row["participant"] not in owners:
            continue
        if barcodes is not None and row["barcode"] not in barcodes and row["participant"] not in (owners or set()):
            continue
        if restriction.entry_id is not None and row["barcode"] != restriction.entry_id:
            continue
        rows[row["barcode"]] = row
    return DatasetAnswer(ds.name, len(rows), sorted(rows)), rows


def _variants(db: Database, data_dir: Path, request: BeaconRequest, ds: data.DatasetInfo, *, records: bool,
              ids: bool) -> tuple[DatasetAnswer, dict[str, data.VariantHit]]:
    """The dataset's matching variants: from the in-memory presence index for a boolean or a count (with ids
    only when several datasets' matches must be united), from the store for records."""
    if _other_build(request, ds):
        return DatasetAnswer(ds.name, 0, []), {}
    if not records:
        if not ids:
            return DatasetAnswer(ds.name, data.variant_count(db, data_dir, request, ds), []), {}
        keys = [f"{c}-{p}-{r}-{a}" for c, p, r, a in data.variant_keys(db, data_dir, request, ds)]
        return DatasetAnswer(ds.name, len(keys), keys), {}
    hits = {variant_id(h): h for h in data.variants(db, data_dir, request, ds.name)}
    return DatasetAnswer(ds.name, len(hits), list(hits)), hits


def variant_id(hit: data.VariantHit) -> str:
    return f"{hit.chrom}-{hit.pos}-{hit.ref}-{hit.alt}"


def _samples(db: Database, ds: data.DatasetInfo, restriction: Restriction,
             prefix: str) -> tuple[DatasetAnswer, dict[str, data.SampleLink]]:
    links = {f"{prefix}-{ds.name}-{link.batch}-{link.vcf_sample}": link for link in data.sample_links(db, ds)}
    if restriction.entry_id is not None:
        links = {k: v for k, v in links.items() if k == restriction.entry_id}
    return DatasetAnswer(ds.name, len(links), sorted(links)), links


# --- records --------------------------------------------------------------------------------------------

def individual_record(view: dict[str, Any]) -> dict[str, Any]:
    in_force = [c for c in view["consents"] if not c["withdrawn_at"]]
    return {"id": view["code"], "sex": sex_of(view["sex"]),
            "info": {"lifebank": {"birthYear": view["birth_year"], "site": view["site"],
                                  "consentInForce": in_force[-1]["codes"] if in_force else [],
                                  "specimens": view["specimens"]}}}


def biosample_record(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row["barcode"], "biosampleStatus": REFERENCE_SAMPLE,
                           "sampleOriginType": origin_of(row["type"]),
                           "info": {"availability": {"status": row["status"], "available": row["status"] ==
                                                     "available" and bool(row["distributable"]),
                                                     "quantity": row["quantity"], "unit": row["unit"]},
                                    "specimenType": row["type"]}}
    if row["participant"]:
        out["individualId"] = row["participant"]
    if row["collected_at"]:
        out["collectionDate"] = str(row["collected_at"])[:10]
    return out


def variant_record(hit: data.VariantHit, build: str, cases: list[dict[str, Any]] | None) -> dict[str, Any]:
    start = hit.pos - 1
    out: dict[str, Any] = {
        "variantInternalId": variant_id(hit),
        "variation": {"variantType": variant_type(hit.ref, hit.alt), "referenceBases": hit.ref,
                      "alternateBases": hit.alt,
                      "location": {"type": "SequenceLocation", "sequence_id": sequence_id(hit.chrom, build),
                                   "interval": {"type": "SequenceInterval",
                                                "start": {"type": "Number", "value": start},
                                                "end": {"type": "Number", "value": start + len(hit.ref)}}}},
        "identifiers": {"genomicHGVSId": hgvs_name(hit.chrom, build, hit.pos, hit.ref, hit.alt)},
    }
    if hit.vid:
        out["identifiers"]["variantAlternativeIds"] = [{"id": f"dbSNP:{v}"} if v.startswith("rs") else {"id": v}
                                                       for v in hit.vid.split(";")]
    if cases is not None:
        out["caseLevelData"] = cases
    return out


def _sample_record(key: str, link: data.SampleLink, ds: data.DatasetInfo, kind: str) -> dict[str, Any]:
    day = (ds.created_at or "1970-01-01")[:10]
    out: dict[str, Any] = {"id": key, "biosampleId": link.specimen or link.vcf_sample}
    if link.participant:
        out["individualId"] = link.participant
    if kind == "analyses":
        out.update(analysisDate=day, pipelineName="LifeBank VCF import", runId=key.replace("analysis-", "run-", 1),
                   info={"dataset": ds.name, "batch": link.batch, "vcfSample": link.vcf_sample})
    else:
        out.update(runDate=day, info={"dataset": ds.name, "batch": link.batch, "vcfSample": link.vcf_sample})
    return out


# --- the answer --------------------------------------------------------------------------------------------

def answer(db: Database, data_dir: Path, caller: Caller, endpoint: str, request: BeaconRequest,
           restriction: Restriction | None = None) -> dict[str, Any]:
    entry = responses.BY_PATH[endpoint]
    restriction = restriction or Restriction()
    if endpoint == "g_variants" and restriction.entry_id is not None:  # /g_variants/{id}: the id is the query
        restriction.variant = data.parse_variant_id(restriction.entry_id)
    request = _variant_request(request, restriction)
    conf = beacon.current_settings(db)
    scope_of = {"individual": "individual", "biosample": "biosample"}.get(entry.id, entry.path)
    data.check_filters(request.filters, scope_of)
    if request.is_variant_query and endpoint not in ("individuals", "biosamples", "g_variants"):
        raise BeaconRequestError(Msg("variant parameters do not apply to {entry}", entry=endpoint))
    if endpoint == "g_variants" and not request.is_variant_query and restriction.entry_id is None:
        raise BeaconRequestError(Msg("a g_variants query needs referenceName with start (and alternateBases or an "
                                     "end), or a geneId"))
    needs_omics = endpoint in ("g_variants", "analyses", "runs") or request.is_variant_query
    scoped = beacon.scope(db, caller, request, conf, omics_only=needs_omics)
    granularity = scoped.granularity
    budgeted = (endpoint == "g_variants" or request.is_variant_query) and granularity != "record"
    summary = responses.request_summary(request.granularity, [f.id for f in request.filters], request.skip,
                                        request.limit, request.parameters(), request.include, request.test_mode)
    beacon.log_query(db, caller, endpoint, request, granularity, conf, budgeted=budgeted)

    # A biosample count or boolean counts without listing specimens when the union over the datasets needs no
    # ids: one dataset, or the whole-bank `biobank` dataset among them, whose matches hold every other's
    # (`_union_total` then takes the largest count).
    count_only = granularity != "record" and (len(scoped.datasets) == 1
                                              or any(d.kind == "biobank" for d in scoped.datasets))
    per_dataset: list[DatasetAnswer] = []
    extra: dict[str, Any] = {}
    for ds in scoped.datasets:
        if endpoint == "individuals":
            per_dataset.append(_individuals(db, data_dir, request, ds, restriction))
        elif endpoint == "biosamples":
            found, rows = _biosamples(db, data_dir, request, ds, restriction, count_only=count_only)
            per_dataset.append(found)
            extra[ds.name] = rows
        elif endpoint == "g_variants":
            found, hits = _variants(db, data_dir, request, ds, records=granularity == "record",
                                    ids=len(scoped.datasets) > 1)
            per_dataset.append(found)
            extra[ds.name] = hits
        else:
            found, links = _samples(db, ds, restriction, "analysis" if endpoint == "analyses" else "run")
            per_dataset.append(found)
            extra[ds.name] = links
    total = _union_total(per_dataset)
    meta = responses.response_meta(entry, granularity, summary)
    if restriction.entry_id is not None and total == 0 and granularity == "record":
        raise BeaconRequestError(Msg("no {entry} {id} in the datasets open to you", entry=entry.id,
                                     id=restriction.entry_id), code=404)
    if granularity == "boolean":
        return responses.boolean_response(meta, total > 0)
    if granularity == "count":
        shown = privacy.shown_count(total, granularity, conf)
        if shown is None:
            meta["returnedGranularity"] = "boolean"
            return responses.boolean_response(meta, True, {"note": str(Msg(
                "fewer than {threshold} results: the count is not shown", threshold=conf.threshold))})
        return responses.count_response(meta, shown)
    sets = []
    for found in per_dataset:
        if (request.include == "HIT" and found.count == 0) or (request.include == "MISS" and found.count > 0) \
                or request.include == "NONE":
            continue
        page = found.ids[request.skip:request.skip + request.limit]
        ds = next(d for d in scoped.datasets if d.name == found.name)
        sets.append(responses.resultset(found.name, found.count,
                                        _records(db, data_dir, endpoint, ds, page, extra.get(found.name))))
    return responses.resultsets_response(meta, total, sets)


def _union_total(per_dataset: list[DatasetAnswer]) -> int:
    """Distinct matches over the datasets. A count taken without a list (the whole bank, unfiltered) is of the
    `biobank` dataset, which holds every participant and specimen: the union is then that count."""
    if any(a.count and not a.ids for a in per_dataset):
        return max(a.count for a in per_dataset)
    return len({i for a in per_dataset for i in a.ids})


def _records(db: Database, data_dir: Path, endpoint: str, ds: data.DatasetInfo, page: list[str],
             extra: Any) -> list[dict[str, Any]]:
    if endpoint == "individuals":
        return [individual_record(v) for v in data.participant_views(db, page)]
    if endpoint == "biosamples":
        return [biosample_record(extra[b]) for b in page]
    if endpoint == "g_variants":
        hits = [extra[i] for i in page]
        links = {link.vcf_sample: link for link in data.sample_links(db, ds)}
        found = data.carriers(db, data_dir, ds.name, hits) if hits else {}
        out = []
        for hit in hits:
            cases = [{"biosampleId": (links[s].specimen or s) if s in links else s, "zygosity": ZYGOSITY[z],
                      **({"individualId": links[s].participant} if s in links and links[s].participant else {})}
                     for s, z in found.get((hit.chrom, hit.pos, hit.ref, hit.alt), [])]
            out.append(variant_record(hit, ds.genome_build or "GRCh38", cases))
        return out
    return [_sample_record(k, extra[k], ds, endpoint) for k in page]


# --- collections: datasets and cohorts ------------------------------------------------------------------------

def collections(db: Database, caller: Caller, endpoint: str, request: BeaconRequest,
                entry_id: str | None = None) -> dict[str, Any]:
    """Datasets and saved cohorts the caller may see. Their descriptions are about collections, not people, so
    any caller who may see the collection reads them; a cohort's size is a count of people and follows the
    count threshold unless the caller has record access to the cohort's dataset."""
    entry = responses.BY_PATH[endpoint]
    if request.filters:
        data.check_filters(request.filters, endpoint)
    if request.is_variant_query:
        raise BeaconRequestError(Msg("variant parameters do not apply to {entry}", entry=endpoint))
    conf = beacon.current_settings(db)
    level_of = snapshot.kept(db, "levels", lambda: beacon.levels(db, data.current_datasets(db)))
    summary = responses.request_summary(request.granularity, [], request.skip, request.limit,
                                        request.parameters(), request.include, request.test_mode)
    beacon.log_query(db, caller, endpoint, request, request.granularity, conf, budgeted=False)
    items: list[dict[str, Any]] = []
    if endpoint == "datasets":
        notes = beacon.dataset_descriptions(db)
        for ds in data.current_datasets(db):
            if privacy.visible(level_of[ds.name], caller, ds.name):
                item: dict[str, Any] = {"id": ds.name, "name": ds.name,
                                        "description": notes.get(ds.name) or (
                                            "Every participant and specimen of the bank" if ds.kind == "biobank"
                                            else "Variants of the omics store"),
                                        "info": {"securityLevel": level_of[ds.name], "kind": ds.kind}}
                if ds.created_at:
                    item["createDateTime"] = ds.created_at
                items.append(item)
    else:
        for cohort in data.cohorts(db):
            home = str((cohort.get("criteria") or {}).get("dataset") or data.BIOBANK)
            level = level_of.get(home, privacy.DEFAULT_LEVEL)
            if not privacy.visible(level, caller, home):
                continue
            item = {"id": cohort["name"], "name": cohort["name"], "cohortType": "user-defined",
                    "info": {"dataset": home, "createdAt": cohort["created_at"]}}
            size = privacy.shown_count(int(cohort["size"]), "record" if home in caller.granted else "count", conf)
            if size is not None:
                item["cohortSize"] = size
            items.append(item)
    if entry_id is not None:
        items = [i for i in items if i["id"] == entry_id]
        if not items:
            raise BeaconRequestError(Msg("no {entry} {id} open to you", entry=entry.id, id=entry_id), code=404)
    meta = responses.response_meta(entry, request.granularity, summary)
    if request.granularity == "boolean":
        return responses.boolean_response(meta, bool(items))
    if request.granularity == "count":
        return responses.count_response(meta, len(items))
    return responses.collections_response(meta, items[request.skip:request.skip + request.limit])


def filtering_terms(db: Database) -> list[dict[str, Any]]:
    from lifebank.biobank.duo import duo_terms
    from lifebank.sharing.terms import AVAILABLE, ORIGIN_TERMS, SEX_TERMS

    terms: list[dict[str, Any]] = [{"type": "ontology", "id": term, "label": label, "scopes": ["individual",
                                                                                            "biosample"]}
                                   for term, label in SEX_TERMS.values()]
    origins = {term: label for term, label in ORIGIN_TERMS.values()}
    terms += [{"type": "ontology", "id": t, "label": label, "scopes": ["individual", "biosample"]}
              for t, label in sorted(origins.items())]
    terms += [{"type": "ontology", "id": t.id, "label": t.label, "scopes": ["individual", "biosample"]}
              for t in duo_terms().values()]
    terms.append({"type": "custom", "id": AVAILABLE, "label": "specimen available for distribution",
                  "scopes": ["individual", "biosample"]})
    return terms
