"""Read a FHIR R4 file (a Bundle, an NDJSON Bulk Data file, or one resource) into validated resources.

Pure: no database. Every resource is validated with `fhir.resources` R4B models (which accept R4 4.0.1 data;
the package's default R5 models reject most R4 resources), then against our required bindings
(`codes.REQUIRED_BINDINGS`). Every problem is collected, each naming where it is (NDJSON line or Bundle
entry), the FHIR path and the reason, so a user fixes a file in one round.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from lifebank.clinical.codes import binding_problems
from lifebank.errors import RowError
from lifebank.messages import Msg

# An NDJSON file of at least this many resources is validated by several processes (one per core, at most
# MAX_WORKERS); smaller files are not worth the start-up.
PARALLEL_MIN = 20_000
MAX_WORKERS = 4
# Resource types this domain stores (as clinical records or patients).
STORED_TYPES = frozenset({"Patient", "Condition", "Observation", "Procedure", "Encounter", "MedicationRequest",
                          "MedicationStatement", "MedicationAdministration", "Immunization"})
# Types that travel with clinical data (Synthea, Bulk Data exports): validated and counted, not stored, because
# they carry no fact about the participant (organisations, practitioners, billing, provenance) or could carry
# direct identifiers in free text (DocumentReference notes).
SKIPPED_TYPES = frozenset({"Organization", "Location", "Practitioner", "PractitionerRole", "Device", "Medication",
                           "AllergyIntolerance", "DiagnosticReport", "DocumentReference", "Claim",
                           "ExplanationOfBenefit", "Provenance", "CarePlan", "CareTeam", "ImagingStudy",
                           "SupplyDelivery", "Goal"})


@dataclass(frozen=True, slots=True)
class EntryError(RowError):
    """A bad entry of a Bundle: `line` holds the 1-based entry number, `column` the FHIR path."""

    def message(self) -> Msg:
        return Msg("entry {entry}, {path}: {reason}", entry=self.line, path=self.column, reason=self.reason)

    def as_dict(self, language: str | None = None) -> dict[str, object]:
        return {"entry": self.line, **RowError.as_dict(self, language)}


@dataclass(frozen=True, slots=True)
class LineError(RowError):
    """A bad line of an NDJSON file: `column` holds the FHIR path."""

    def message(self) -> Msg:
        return Msg("line {line}, {path}: {reason}", line=self.line, path=self.column, reason=self.reason)


@dataclass(slots=True)
class FhirFile:
    """The validated resources of one file, each with where it was (line or entry) and its Bundle fullUrl."""

    name: str
    fmt: str  # fhir-bundle | fhir-ndjson | fhir-resource
    resources: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    full_urls: dict[str, tuple[str, str]] = field(default_factory=dict)  # fullUrl -> (type, id)
    errors: list[RowError] = field(default_factory=list)

    def error(self, where: int, path: str, reason: Msg) -> None:
        cls = EntryError if self.fmt == "fhir-bundle" else LineError
        self.errors.append(cls(where, path, reason))


def _pydantic_path(rtype: str, loc: tuple[Any, ...]) -> str:
    path = rtype
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "__root__":
            path += f".{part}"
    return path


def check_resource(out: FhirFile, where: int, resource: Any) -> bool:
    """Validate one resource (structure, datatypes, required bindings); record its problems in `out`."""
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        out.error(where, "resourceType", Msg("not a FHIR resource (no resourceType)"))
        return False
    rtype = resource["resourceType"]
    if rtype not in STORED_TYPES and rtype not in SKIPPED_TYPES:
        out.error(where, rtype, Msg("resource type {type} is not supported; supported types: {types}",
                                    type=rtype, types=", ".join(sorted(STORED_TYPES))))
        return False
    try:
        get_fhir_model_class(rtype).model_validate(resource)
    except ValidationError as exc:
        for problem in exc.errors()[:5]:
            out.error(where, _pydantic_path(rtype, tuple(problem["loc"])),
                      Msg("invalid value: {detail}", detail=problem["msg"]))
        return False
    ok = True
    for path, value, allowed in binding_problems(resource):
        if path.endswith(".system"):
            out.error(where, path, Msg("code system {system} is not allowed here (required: {allowed})",
                                       system=value, allowed=allowed))
        else:
            out.error(where, path, Msg("code {code!r} is not in the required value set ({allowed})",
                                       code=value, allowed=allowed))
        ok = False
    if not resource.get("id") and rtype in STORED_TYPES:
        out.error(where, f"{rtype}.id", Msg("a resource needs an id (re-imports match resources by id)"))
        ok = False
    return ok


def _json_lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


def read_fhir_text(name: str, text: str) -> FhirFile:
    """Parse and validate a FHIR file's text: a Bundle or one resource (JSON), or NDJSON (one per line)."""
    stripped = text.lstrip()
    document: Any = None
    if stripped.startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            document = None  # may be NDJSON: one object per line
    if isinstance(document, dict):
        if document.get("resourceType") == "Bundle":
            return _read_bundle(name, document)
        out = FhirFile(name, "fhir-resource")
        if check_resource(out, 1, document):
            out.resources.append((1, document))
        return out
    out = FhirFile(name, "fhir-ndjson")
    lines = list(_json_lines(text))
    if len(lines) >= PARALLEL_MIN and (os.cpu_count() or 1) > 1:
        return _read_ndjson_in_parallel(out, lines)
    for number, line in lines:
        try:
            resource = json.loads(line)
        except json.JSONDecodeError as exc:
            out.error(number, "-", Msg("not JSON: {detail}", detail=exc.msg))
            continue
        if check_resource(out, number, resource):
            out.resources.append((number, resource))
    if not out.resources and not out.errors:
        out.error(1, "-", Msg("the file holds no FHIR resource"))
    return out


def _check_lines(lines: list[tuple[int, str]]) -> list[RowError]:
    """The problems of a slice of NDJSON lines (run in a worker process: only the errors travel back)."""
    out = FhirFile("", "fhir-ndjson")
    for number, line in lines:
        try:
            resource = json.loads(line)
        except json.JSONDecodeError as exc:
            out.error(number, "-", Msg("not JSON: {detail}", detail=exc.msg))
            continue
        check_resource(out, number, resource)
    return out.errors


def _read_ndjson_in_parallel(out: FhirFile, lines: list[tuple[int, str]]) -> FhirFile:
    """Validation is most of an import's work (pydantic models of every element): a large NDJSON file is
    validated by one process per core, slices in order, while this process parses the lines for the rows."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    workers = min(os.cpu_count() or 1, MAX_WORKERS)
    size = max(1000, len(lines) // (workers * 4))
    slices = [lines[start:start + size] for start in range(0, len(lines), size)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
        for errors in pool.map(_check_lines, slices):
            out.errors.extend(errors)
    if not out.errors:
        out.resources = [(number, json.loads(line)) for number, line in lines]
    return out


def _read_bundle(name: str, bundle: dict[str, Any]) -> FhirFile:
    out = FhirFile(name, "fhir-bundle")
    if bundle.get("type") not in {"transaction", "batch", "collection", "searchset", "message", "document"}:
        out.error(0, "Bundle.type", Msg("Bundle type {type!r} cannot be imported", type=bundle.get("type")))
        return out
    for index, entry in enumerate(bundle.get("entry") or [], start=1):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if resource is None:
            out.error(index, "Bundle.entry.resource", Msg("the entry holds no resource"))
            continue
        if not check_resource(out, index, resource):
            continue
        out.resources.append((index, resource))
        if full_url := entry.get("fullUrl"):
            out.full_urls[full_url] = (resource["resourceType"], str(resource.get("id", "")))
    return out


def read_fhir_file(path: Path) -> FhirFile:
    """`read_fhir_text` of a file; a file that is not UTF-8 text is one error naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        out = FhirFile(path.name, "fhir-ndjson")
        out.error(1, "-", Msg("not JSON: the file is not UTF-8 text"))
        return out
    return read_fhir_text(path.name, text)
