"""Validate Beacon responses against the vendored Beacon v2 schemas (jsonschema, draft 2020-12), offline.

Every vendored file is registered under the address the schemas use for each other
(`https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/{framework,models}/json/...`), so relative and
absolute `$ref`s resolve to the vendored copies; nothing is fetched. The VRS 1.3 definitions the
genomicVariations model names are resolved to `vrs_1_3_location_subset.json` (our own stand-in, see there).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7, DRAFT202012

import lifebank.sharing

VENDORED = Path(lifebank.sharing.__file__).parent / "data" / "beacon-v2"
UPSTREAM = "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main"
VRS = "https://w3id.org/ga4gh/schema/vrs/1.3/vrs.json"
MODEL = "models/json/beacon-v2-default-model"

RESPONSE_SCHEMAS = {
    "info": "framework/json/responses/beaconInfoResponse.json",
    "service-info": "framework/json/responses/ga4gh-service-info-1-0-0-schema.json",
    "configuration": "framework/json/responses/beaconConfigurationResponse.json",
    "map": "framework/json/responses/beaconMapResponse.json",
    "entry_types": "framework/json/responses/beaconEntryTypesResponse.json",
    "filtering_terms": "framework/json/responses/beaconFilteringTermsResponse.json",
    "boolean": "framework/json/responses/beaconBooleanResponse.json",
    "count": "framework/json/responses/beaconCountResponse.json",
    "record": "framework/json/responses/beaconResultsetsResponse.json",
    "collections": "framework/json/responses/beaconCollectionsResponse.json",
    "error": "framework/json/responses/beaconErrorResponse.json",
}
MODEL_SCHEMAS = {"individuals": "individuals", "biosamples": "biosamples", "g_variants": "genomicVariations",
                 "analyses": "analyses", "runs": "runs", "datasets": "datasets", "cohorts": "cohorts"}


@cache
def registry() -> Registry:
    resources = []
    for path in VENDORED.rglob("*.json"):
        relative = path.relative_to(VENDORED).as_posix()
        top, rest = relative.split("/", 1)
        uri = f"{UPSTREAM}/{top}/json/{rest}"
        resources.append((uri, Resource.from_contents(json.loads(path.read_text()),
                                                      default_specification=DRAFT202012)))
    # The Model's datasets/individuals/... schemas name `../common/info.json`, a file the upstream Model folder
    # lacks (the framework has it: `{"type": "object"}`); point that address at the framework's copy.
    info = json.loads((VENDORED / "framework" / "common" / "info.json").read_text())
    resources.append((f"{UPSTREAM}/{MODEL}/common/info.json",
                      Resource.from_contents(info, default_specification=DRAFT202012)))
    vrs = json.loads((Path(__file__).parent / "vrs_1_3_location_subset.json").read_text())
    resources.append((VRS, Resource.from_contents(vrs, default_specification=DRAFT7)))
    return Registry().with_resources(resources)


@cache
def _validator(uri: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": uri}, registry=registry())


def errors(document: Any, kind: str) -> list[str]:
    """Schema violations of a response of `kind` (a key of RESPONSE_SCHEMAS), as readable lines."""
    found = _validator(f"{UPSTREAM}/{RESPONSE_SCHEMAS[kind]}").iter_errors(document)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in found]


def record_errors(document: Any, entry: str) -> list[str]:
    """Violations of each record against the entry type's default Model schema."""
    validator = _validator(f"{UPSTREAM}/{MODEL}/{MODEL_SCHEMAS[entry]}/defaultSchema.json")
    records = ([r for s in document["response"]["resultSets"] for r in s["results"]]
               if "resultSets" in document.get("response", {}) else document.get("response", {}).get("collections",
                                                                                                  []))
    return [f"{i}/{'/'.join(map(str, e.absolute_path))}: {e.message}" for i, rec in enumerate(records)
            for e in validator.iter_errors(rec)]


def assert_valid(document: Any, kind: str, entry: str | None = None) -> None:
    problems = errors(document, kind) + (record_errors(document, entry) if entry and kind in ("record",
                                                                                                 "collections")
                                         else [])
    assert not problems, "\n".join(problems[:20])


def kind_of(document: dict[str, Any]) -> str:
    """The response kind a Beacon entry answer claims to be."""
    if "error" in document:
        return "error"
    if "collections" in document.get("response", {}):
        return "collections"
    if "resultSets" in document.get("response", {}):
        return "record"
    return "count" if "numTotalResults" in document["responseSummary"] else "boolean"
