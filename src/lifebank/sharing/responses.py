"""The Beacon v2 framework's response documents, built from plain values (pure: no I/O).

Every document here validates against the vendored framework schemas (`data/beacon-v2/`); the tests check
each endpoint at each granularity. Errors use the framework's `beaconErrorResponse` (errorCode = the HTTP
status, errorMessage in the caller's language), not the RFC 9457 problem documents of `/api/v1`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lifebank import __version__

API_VERSION = "v2.1.1"
BEACON_ID = "org.lifebank.beacon"
SPEC = "Beacon v2.0.0"
_SCHEMA_BASE = "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/models/json/beacon-v2-default-model"


@dataclass(frozen=True, slots=True)
class EntryType:
    path: str  # the endpoint, e.g. "individuals"
    id: str  # the entry type id, e.g. "individual"
    name: str
    model_folder: str
    term: tuple[str, str]
    collection: bool = False


ENTRY_TYPES: tuple[EntryType, ...] = (
    EntryType("individuals", "individual", "Individual", "individuals", ("NCIT:C25190", "Person")),
    EntryType("biosamples", "biosample", "Biological Sample", "biosamples", ("NCIT:C70699", "Biospecimen")),
    EntryType("g_variants", "genomicVariation", "Genomic Variants", "genomicVariations",
              ("SO:0001059", "sequence_alteration")),
    EntryType("analyses", "analysis", "Bioinformatics analysis", "analyses", ("EDAM:operation_2945", "Analysis")),
    EntryType("runs", "run", "Sequencing run", "runs", ("NCIT:C148088", "Sequencing run")),
    EntryType("datasets", "dataset", "Dataset", "datasets", ("NCIT:C47824", "Data set"), collection=True),
    EntryType("cohorts", "cohort", "Cohort", "cohorts", ("NCIT:C61512", "Cohort"), collection=True),
)
BY_PATH = {e.path: e for e in ENTRY_TYPES}


def schema_ref(entry: EntryType) -> dict[str, str]:
    return {"entityType": entry.id, "schema": f"beacon-v2-default-model:{entry.model_folder}:{API_VERSION}"}


def informational_meta(entry: EntryType | None = None) -> dict[str, Any]:
    return {"beaconId": BEACON_ID, "apiVersion": API_VERSION,
            "returnedSchemas": [schema_ref(entry)] if entry else []}


def info_results(base_url: str, organisation: str) -> dict[str, Any]:
    return {"id": BEACON_ID, "name": "LifeBank Beacon", "apiVersion": API_VERSION, "environment": "prod",
            "version": __version__, "welcomeUrl": base_url, "alternativeUrl": base_url + "beacon",
            "description": "Discovery over the live bank: participants, specimens still in store, consent in "
                           "force and the genotypes of the omics store, at the granularity each caller may see.",
            "organization": {"id": "lifebank", "name": organisation, "welcomeUrl": base_url}}


def info_response(base_url: str, organisation: str) -> dict[str, Any]:
    return {"meta": informational_meta(), "response": info_results(base_url, organisation)}


def service_info(base_url: str, organisation: str) -> dict[str, Any]:
    return {"id": BEACON_ID, "name": "LifeBank Beacon",
            "type": {"group": "org.ga4gh", "artifact": "beacon", "version": API_VERSION},
            "description": "GA4GH Beacon v2 over LifeBank", "organization": {"name": organisation, "url": base_url},
            "environment": "prod", "version": __version__}


def _entry_definition(entry: EntryType) -> dict[str, Any]:
    return {"id": entry.id, "name": entry.name, "ontologyTermForThisType": {"id": entry.term[0],
                                                                             "label": entry.term[1]},
            "partOfSpecification": SPEC,
            "defaultSchema": {"id": f"beacon-v2-default-model:{entry.model_folder}", "name": entry.name,
                              "referenceToSchemaDefinition": f"{_SCHEMA_BASE}/{entry.model_folder}/"
                                                             "defaultSchema.json",
                              "schemaVersion": API_VERSION},
            "nonFilteredQueriesAllowed": True}


def entry_types_response() -> dict[str, Any]:
    return {"meta": informational_meta(),
            "response": {"entryTypes": {e.id: _entry_definition(e) for e in ENTRY_TYPES}}}


def configuration_response(default_granularity: str) -> dict[str, Any]:
    return {"meta": informational_meta(), "response": {
        "$schema": "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/json/configuration/"
                   "beaconConfigurationSchema.json",
        "maturityAttributes": {"productionStatus": "PROD"},
        "securityAttributes": {"defaultGranularity": default_granularity,
                               "securityLevels": ["PUBLIC", "REGISTERED", "CONTROLLED"]},
        "entryTypes": {e.id: _entry_definition(e) for e in ENTRY_TYPES}}}


_RELATED = {"individuals": ("biosamples",), "g_variants": ("individuals", "biosamples"),
            "datasets": ("individuals", "biosamples", "g_variants", "analyses", "runs"), "cohorts": ("individuals",)}


def map_response(root: str) -> dict[str, Any]:
    sets: dict[str, Any] = {}
    for entry in ENTRY_TYPES:
        item: dict[str, Any] = {"entryType": entry.id, "rootUrl": f"{root}/{entry.path}",
                                "singleEntryUrl": f"{root}/{entry.path}/{{id}}"}
        related = _RELATED.get(entry.path, ())
        if related:
            item["endpoints"] = {BY_PATH[r].id: {"returnedEntryType": BY_PATH[r].id,
                                                 "url": f"{root}/{entry.path}/{{id}}/{r}"} for r in related}
        sets[entry.id] = item
    return {"meta": informational_meta(), "response": {
        "$schema": "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/json/configuration/"
                   "beaconMapSchema.json", "endpointSets": sets}}


def filtering_terms_response(terms: list[dict[str, Any]]) -> dict[str, Any]:
    return {"meta": informational_meta(), "response": {"filteringTerms": terms, "resources": [
        {"id": "NCIT", "name": "NCI Thesaurus", "nameSpacePrefix": "NCIT", "iriPrefix":
            "http://purl.obolibrary.org/obo/NCIT_"},
        {"id": "UBERON", "name": "Uber-anatomy ontology", "nameSpacePrefix": "UBERON",
         "iriPrefix": "http://purl.obolibrary.org/obo/UBERON_"},
        {"id": "DUO", "name": "Data Use Ontology", "nameSpacePrefix": "DUO",
         "iriPrefix": "http://purl.obolibrary.org/obo/DUO_"}]}}


def request_summary(requested: str, filters: list[str], skip: int, limit: int,
                    parameters: dict[str, Any], include: str = "HIT", test_mode: bool = False) -> dict[str, Any]:
    summary: dict[str, Any] = {"apiVersion": API_VERSION, "requestedSchemas": [], "filters": filters,
                               "pagination": {"skip": skip, "limit": limit}, "requestedGranularity": requested,
                               "includeResultsetResponses": include, "testMode": test_mode}
    if parameters:
        summary["requestParameters"] = parameters
    return summary


def response_meta(entry: EntryType | None, granularity: str, summary: dict[str, Any]) -> dict[str, Any]:
    return {"beaconId": BEACON_ID, "apiVersion": API_VERSION, "returnedSchemas": [schema_ref(entry)] if entry
            else [], "returnedGranularity": granularity, "receivedRequestSummary": summary}


def boolean_response(meta: dict[str, Any], exists: bool, info: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"meta": meta, "responseSummary": {"exists": exists}}
    if info:
        out["info"] = info
    return out


def count_response(meta: dict[str, Any], count: int, info: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"meta": meta, "responseSummary": {"exists": count > 0, "numTotalResults": count}}
    if info:
        out["info"] = info
    return out


def resultset(dataset: str, count: int, results: list[dict[str, Any]],
              info: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": dataset, "setType": "dataset", "exists": count > 0, "resultsCount": count,
                           "results": results}
    if info:
        out["info"] = info
    return out


def resultsets_response(meta: dict[str, Any], total: int, sets: list[dict[str, Any]]) -> dict[str, Any]:
    return {"meta": meta, "responseSummary": {"exists": total > 0, "numTotalResults": total},
            "response": {"resultSets": sets}}


def collections_response(meta: dict[str, Any], collections: list[dict[str, Any]]) -> dict[str, Any]:
    return {"meta": meta, "responseSummary": {"exists": bool(collections), "numTotalResults": len(collections)},
            "response": {"collections": collections}}


def error_response(code: int, message: str, entry: EntryType | None = None,
                   summary: dict[str, Any] | None = None) -> dict[str, Any]:
    summary = summary or request_summary("boolean", [], 0, 0, {})
    return {"meta": response_meta(entry, "boolean", summary), "error": {"errorCode": code, "errorMessage": message}}
