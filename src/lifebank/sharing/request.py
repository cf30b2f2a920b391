"""A Beacon v2 request, read from a GET query string or a POST body, checked before anything is looked up.

The framework's parameters: `requestedGranularity`, `filters` (ontology, alphanumeric or custom), paging
(`skip`, `limit`), `includeResultsetResponses`, `testMode`, and the genomic-variation parameters of the
default Model (`referenceName`, `start`, `end`, `referenceBases`, `alternateBases`, `variantType`, `geneId`,
`assemblyId`, `variantMinLength`/`variantMaxLength` are not supported and refused). Coordinates are 0-based
as the framework defines them (`start` is the 0-based position of the first base, `end` exclusive); the
variant store is 1-based like VCF, and `Coordinates.region` converts once, here.

Every mistake is a `BeaconRequestError` naming the parameter, so the caller reads why, in the framework's
error response. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lifebank.messages import Msg

GRANULARITIES = ("boolean", "count", "record")
INCLUDE = ("ALL", "HIT", "MISS", "NONE")
VARIANT_TYPES = ("SNP", "MNP", "INDEL", "DEL", "INS")
OPERATORS = ("=", "<", ">", "!", ">=", "<=")
MAX_LIMIT = 1000
DEFAULT_LIMIT = 10
_BASES = re.compile(r"^[ACGTUNRYSWKMBDHV.-]*$", re.IGNORECASE)
_CONTIG = re.compile(r"^(chr)?([0-9]{1,2}|X|Y|M|MT)$", re.IGNORECASE)
_GENE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
_VARIANT_PARAMS = ("referenceName", "start", "end", "referenceBases", "alternateBases", "variantType", "geneId",
                   "assemblyId")
_UNSUPPORTED = ("variantMinLength", "variantMaxLength", "mateName", "aminoacidChange", "genomicAlleleShortForm")
_KNOWN_GET = {"requestedGranularity", "filters", "skip", "limit", "includeResultsetResponses", "testMode",
              "datasets", "requestedSchema", *_VARIANT_PARAMS}


class BeaconRequestError(Exception):
    """A request the Beacon cannot answer; `code` is the framework's `errorCode` (an HTTP status)."""

    def __init__(self, message: Msg, code: int = 400) -> None:
        super().__init__(str(message))
        self.message = message
        self.code = code


@dataclass(frozen=True, slots=True)
class Filter:
    id: str
    operator: str | None = None  # alphanumeric filters only
    value: str | None = None
    scope: str | None = None
    include_descendants: bool = True

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"id": self.id}
        if self.operator is not None:
            out.update(operator=self.operator, value=self.value)
        if self.scope:
            out["scope"] = self.scope
        return out


@dataclass(frozen=True, slots=True)
class Coordinates:
    """The variant part of a request, as given (0-based) plus the 1-based region it covers."""

    reference_name: str
    start: tuple[int, ...]
    end: tuple[int, ...]
    reference_bases: str | None
    alternate_bases: str | None
    variant_type: str | None
    assembly_id: str | None

    @property
    def kind(self) -> str:
        """`sequence` (one position, with bases), `range` (start-end) or `bracket` (two starts, two ends)."""
        if len(self.start) == 2:
            return "bracket"
        return "range" if self.end else "sequence"

    @property
    def region(self) -> tuple[int, int]:
        """1-based inclusive positions to read from the store (a superset; `matches` refines)."""
        if self.kind == "sequence":
            return self.start[0] + 1, self.start[0] + 1
        if self.kind == "bracket":
            return self.start[0] + 1, self.end[1]
        return self.start[0] + 1, self.end[0]

    def matches(self, pos: int, ref: str, alt: str) -> bool:
        """Does a store record (1-based POS, REF, ALT) answer this request?"""
        from lifebank.sharing.terms import bases_match, type_matches

        begin, stop = pos - 1, pos - 1 + len(ref)  # the record in 0-based half-open coordinates
        if self.kind == "sequence" and begin != self.start[0]:
            return False
        if self.kind == "range" and not (begin < self.end[0] and stop > self.start[0]):
            return False
        if self.kind == "bracket" and not (self.start[0] <= begin <= self.start[1]
                                           and self.end[0] <= stop <= self.end[1]):
            return False
        if self.reference_bases and self.reference_bases != "N" and not bases_match(self.reference_bases, ref):
            return False
        if self.alternate_bases and self.alternate_bases != "N" and not bases_match(self.alternate_bases, alt):
            return False
        return not self.variant_type or type_matches(self.variant_type, ref, alt)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"referenceName": self.reference_name, "start": list(self.start)}
        if self.end:
            out["end"] = list(self.end)
        for key, value in (("referenceBases", self.reference_bases), ("alternateBases", self.alternate_bases),
                           ("variantType", self.variant_type), ("assemblyId", self.assembly_id)):
            if value:
                out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class BeaconRequest:
    granularity: str = "boolean"
    filters: tuple[Filter, ...] = ()
    skip: int = 0
    limit: int = DEFAULT_LIMIT
    include: str = "HIT"
    test_mode: bool = False
    datasets: tuple[str, ...] = ()
    coordinates: Coordinates | None = None
    gene_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_variant_query(self) -> bool:
        return self.coordinates is not None or self.gene_id is not None

    def parameters(self) -> dict[str, object]:
        """The request parameters as received-request summaries echo them (one object per entity)."""
        variant: dict[str, object] = dict(self.coordinates.as_dict()) if self.coordinates else {}
        if self.gene_id:
            variant["geneId"] = self.gene_id
        out: dict[str, object] = {}
        if variant:
            out["g_variant"] = variant
        if self.datasets:
            out["datasets"] = {"datasetIds": list(self.datasets)}
        return out

    def canonical(self) -> dict[str, object]:
        """The whole request as one JSON-able object (what the query log keeps)."""
        return {"granularity": self.granularity, "filters": [f.as_dict() for f in self.filters],
                "skip": self.skip, "limit": self.limit, "parameters": self.parameters()}


def _int(name: str, value: object, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BeaconRequestError(Msg("{name} must be a whole number, not {value!r}", name=name, value=value))
    try:
        number = int(value)
    except ValueError:
        raise BeaconRequestError(Msg("{name} must be a whole number, not {value!r}", name=name,
                                     value=value)) from None
    if number < minimum:
        raise BeaconRequestError(Msg("{name} must be at least {minimum}, not {value}", name=name, minimum=minimum,
                                     value=number))
    return number


def _positions(name: str, value: object) -> tuple[int, ...]:
    if value is None or value == "" or value == []:
        return ()
    items = value if isinstance(value, list) else str(value).split(",")
    numbers = tuple(_int(name, item) for item in items)
    if len(numbers) > 2:
        raise BeaconRequestError(Msg("{name} takes one position, or two for a bracket query", name=name))
    return numbers


def _text(name: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str):
        raise BeaconRequestError(Msg("{name} must be text, not {value!r}", name=name, value=value))
    return value.strip()


def _coordinates(params: Mapping[str, Any]) -> tuple[Coordinates | None, str | None]:
    for name in _UNSUPPORTED:
        if name in params:
            raise BeaconRequestError(Msg("request parameter {name} is not supported by this Beacon", name=name))
    gene = _text("geneId", params.get("geneId"))
    if gene is not None and not _GENE.match(gene):
        raise BeaconRequestError(Msg("geneId {gene!r} is not a gene symbol", gene=gene))
    name = _text("referenceName", params.get("referenceName"))
    start = _positions("start", params.get("start"))
    end = _positions("end", params.get("end"))
    ref = _text("referenceBases", params.get("referenceBases"))
    alt = _text("alternateBases", params.get("alternateBases"))
    vtype = _text("variantType", params.get("variantType"))
    assembly = _text("assemblyId", params.get("assemblyId"))
    for label, bases in (("referenceBases", ref), ("alternateBases", alt)):
        if bases is not None and not _BASES.match(bases):
            raise BeaconRequestError(Msg("{name} {bases!r} is not a sequence of bases (A, C, G, T, N…)",
                                         name=label, bases=bases))
    if vtype is not None and vtype.upper() not in VARIANT_TYPES:
        raise BeaconRequestError(Msg("variantType {value!r} is not one of {allowed}", value=vtype,
                                     allowed=", ".join(VARIANT_TYPES)))
    if name is None:
        if start or end or ref or alt or vtype:
            raise BeaconRequestError(Msg("referenceName is required with start, end, bases or variantType"))
        return None, gene
    if gene is not None:
        raise BeaconRequestError(Msg("give either geneId or referenceName with positions, not both"))
    if not _CONTIG.match(name):
        raise BeaconRequestError(Msg("referenceName {name!r} is not a chromosome (1-22, X, Y, MT, with or "
                                     "without chr)", name=name))
    if not start:
        raise BeaconRequestError(Msg("start is required with referenceName"))
    if len(start) != max(len(end), 1) and not (len(start) == 1 and not end):
        raise BeaconRequestError(Msg("a bracket query needs two starts and two ends"))
    if len(start) == 2 and (start[0] > start[1] or end[0] > end[1]):
        raise BeaconRequestError(Msg("bracket bounds must be ordered: start {start}, end {end}",
                                     start=list(start), end=list(end)))
    if len(start) == 1 and end and end[0] <= start[0]:
        raise BeaconRequestError(Msg("end {end} must be greater than start {start} (0-based, end exclusive)",
                                     end=end[0], start=start[0]))
    if len(start) == 1 and not end and alt is None:
        raise BeaconRequestError(Msg("a query at one position needs alternateBases (or give an end for a range)"))
    if assembly is not None and assembly_build(assembly) is None:
        raise BeaconRequestError(Msg("assemblyId {value!r} is not GRCh37 or GRCh38 (hg19, hg38, GRCh38.p13…)",
                                     value=assembly))
    contig = "chr" + _CONTIG.match(name)[2].upper()  # type: ignore[index]
    if contig == "chrMT":
        contig = "chrM"
    return Coordinates(contig, start, end, ref.upper() if ref else None, alt.upper() if alt else None,
                       vtype.upper() if vtype else None, assembly), None


_ASSEMBLIES = {"grch38": "GRCh38", "hg38": "GRCh38", "gcf_000001405": "GRCh38", "grch37": "GRCh37",
               "hg19": "GRCh37", "b37": "GRCh37", "gcf_000001405.25": "GRCh37"}


def assembly_build(text: str) -> str | None:
    """The genome build an `assemblyId` names (`GRCh38.p13`, `hg38`, `GCF_000001405.39` → GRCh38), or None."""
    value = text.strip().lower()
    if value in _ASSEMBLIES:
        return _ASSEMBLIES[value]
    if value.startswith("gcf_000001405."):
        version = value.rsplit(".", 1)[1]
        return "GRCh38" if version.isdigit() and int(version) >= 26 else "GRCh37" if version.isdigit() else None
    return _ASSEMBLIES.get(value.split(".", 1)[0])


def _filters(raw: object) -> tuple[Filter, ...]:
    if raw is None or raw == "" or raw == []:
        return ()
    if isinstance(raw, str):
        return tuple(Filter(part.strip()) for part in raw.split(",") if part.strip())
    if not isinstance(raw, list):
        raise BeaconRequestError(Msg("filters must be a list"))
    out = []
    for item in raw:
        if isinstance(item, str):
            out.append(Filter(item.strip()))
            continue
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"].strip():
            raise BeaconRequestError(Msg("each filter needs an id, as in {example}", example='{"id": "NCIT:C16576"}'))
        operator = item.get("operator")
        if operator is not None and operator not in OPERATORS:
            raise BeaconRequestError(Msg("filter operator {op!r} is not one of {allowed}", op=operator,
                                         allowed=" ".join(OPERATORS)))
        if operator is not None and item.get("value") is None:
            raise BeaconRequestError(Msg("filter {id} has an operator but no value", id=item["id"]))
        out.append(Filter(item["id"].strip(), operator, None if item.get("value") is None else str(item["value"]),
                          item.get("scope"), bool(item.get("includeDescendantTerms", True))))
    return tuple(out)


def _granularity(value: object) -> str:
    if value is None or value == "":
        return "boolean"
    if value not in GRANULARITIES:
        raise BeaconRequestError(Msg("requestedGranularity {value!r} is not one of {allowed}", value=value,
                                     allowed=", ".join(GRANULARITIES)))
    return str(value)


def _build(params: Mapping[str, Any], *, granularity: object, filters: object, skip: object, limit: object,
           include: object, test_mode: object, datasets: object) -> BeaconRequest:
    include_text = "HIT" if include in (None, "") else str(include)
    if include_text not in INCLUDE:
        raise BeaconRequestError(Msg("includeResultsetResponses {value!r} is not one of {allowed}",
                                     value=include_text, allowed=", ".join(INCLUDE)))
    limit_value = DEFAULT_LIMIT if limit in (None, "") else _int("limit", limit)
    if limit_value > MAX_LIMIT:
        raise BeaconRequestError(Msg("limit {limit} is above the maximum of {maximum}", limit=limit_value,
                                     maximum=MAX_LIMIT))
    if isinstance(datasets, str):
        names = tuple(d.strip() for d in datasets.split(",") if d.strip())
    elif isinstance(datasets, list) and all(isinstance(d, str) for d in datasets):
        names = tuple(datasets)
    elif datasets in (None, ""):
        names = ()
    else:
        raise BeaconRequestError(Msg("datasets must be a list of dataset ids"))
    coordinates, gene = _coordinates(params)
    return BeaconRequest(granularity=_granularity(granularity), filters=_filters(filters),
                         skip=0 if skip in (None, "") else _int("skip", skip), limit=limit_value,
                         include=include_text, test_mode=str(test_mode).lower() == "true", datasets=names,
                         coordinates=coordinates, gene_id=gene)


def from_query(query: Mapping[str, str]) -> BeaconRequest:
    """A GET request: every parameter in the query string (`filters` comma-separated)."""
    unknown = sorted(set(query) - _KNOWN_GET - set(_UNSUPPORTED))
    if unknown:
        raise BeaconRequestError(Msg("unknown request parameter(s): {names}", names=", ".join(unknown)))
    return _build(query, granularity=query.get("requestedGranularity"), filters=query.get("filters"),
                  skip=query.get("skip"), limit=query.get("limit"), include=query.get("includeResultsetResponses"),
                  test_mode=query.get("testMode"), datasets=query.get("datasets"))


def from_body(body: object) -> BeaconRequest:
    """A POST request: the framework's request body (`meta`, `query` with `requestParameters`, `filters`…)."""
    if body is None:
        return BeaconRequest()
    if not isinstance(body, dict):
        raise BeaconRequestError(Msg("the request body must be a JSON object with meta and query"))
    query = body.get("query") or {}
    if not isinstance(query, dict):
        raise BeaconRequestError(Msg("query must be a JSON object"))
    params = query.get("requestParameters") or {}
    if not isinstance(params, dict):
        raise BeaconRequestError(Msg("requestParameters must be a JSON object"))
    unknown = sorted(set(params) - set(_VARIANT_PARAMS) - {"datasets", "$schema"} - set(_UNSUPPORTED))
    if unknown:
        raise BeaconRequestError(Msg("unknown request parameter(s): {names}", names=", ".join(unknown)))
    pagination = query.get("pagination") or {}
    if not isinstance(pagination, dict):
        raise BeaconRequestError(Msg("pagination must be a JSON object with skip and limit"))
    datasets = params.get("datasets")
    if isinstance(datasets, dict):
        datasets = datasets.get("datasetIds")
    return _build(params, granularity=query.get("requestedGranularity"), filters=query.get("filters"),
                  skip=pagination.get("skip"), limit=pagination.get("limit"),
                  include=query.get("includeResultsetResponses"), test_mode=query.get("testMode"),
                  datasets=datasets)
