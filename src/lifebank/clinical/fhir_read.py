"""Read a FHIR R4 file (a Bundle, an NDJSON Bulk Data file, or one resource) into validated resources.

Pure: no database. Every resource is validated with `fhir.resources` R4B models (which accept R4 4.0.1 data;
the package's default R5 models reject most R4 resources), then against our required bindings
(`codes.REQUIRED_BINDINGS`). Every problem is collected, each naming where it is (NDJSON line or Bundle
entry), the FHIR path and the reason, so a user fixes a file in one round.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lifebank.clinical.codes import binding_problems
from lifebank.clinical.fhir_map import patient_row, record_row, subject_of
from lifebank.clinical.fhir_validate import validate
from lifebank.errors import RowError
from lifebank.messages import Msg

# An NDJSON file of at least this many resources is validated by several processes (one per idle core, at most
# MAX_WORKERS; see `validation_workers`); smaller files are not worth the start-up.
PARALLEL_MIN = 20_000
MAX_WORKERS = 4
SLICE_MIN = 1000  # lines a worker gets at least at a time
# Resource types this domain stores (as clinical records or patients).
STORED_TYPES = frozenset(
    {
        "Patient",
        "Condition",
        "Observation",
        "Procedure",
        "Encounter",
        "MedicationRequest",
        "MedicationStatement",
        "MedicationAdministration",
        "Immunization",
    }
)
# Types that travel with clinical data (Synthea, Bulk Data exports): validated and counted, not stored, because
# they carry no fact about the participant (organisations, practitioners, billing, provenance) or could carry
# direct identifiers in free text (DocumentReference notes).
SKIPPED_TYPES = frozenset(
    {
        "Organization",
        "Location",
        "Practitioner",
        "PractitionerRole",
        "Device",
        "Medication",
        "AllergyIntolerance",
        "DiagnosticReport",
        "DocumentReference",
        "Claim",
        "ExplanationOfBenefit",
        "Provenance",
        "CarePlan",
        "CareTeam",
        "ImagingStudy",
        "SupplyDelivery",
        "Goal",
    }
)


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


# One stored resource of a file, already mapped to this domain's row (`fhir_map`): where it was (line or entry),
# its type, the row (a patient or a clinical record), and its subject and encounter references as sent.
Entry = tuple[int, str, dict[str, Any], str | None, str | None]


@dataclass(slots=True)
class FhirFile:
    """The validated resources of one file: the stored ones as rows (`entries`), every type counted, Bundle
    fullUrls, and every problem found. The parsed resources themselves are not kept (a large file's dicts
    would be most of an import's memory)."""

    name: str
    fmt: str  # fhir-bundle | fhir-ndjson | fhir-resource
    entries: list[Entry] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    full_urls: dict[str, tuple[str, str]] = field(default_factory=dict)  # fullUrl -> (type, id)
    errors: list[RowError] = field(default_factory=list)

    def error(self, where: int, path: str, reason: Msg) -> None:
        cls = EntryError if self.fmt == "fhir-bundle" else LineError
        self.errors.append(cls(where, path, reason))

    def add(self, where: int, resource: dict[str, Any]) -> None:
        """Count a validated resource and keep its row if this domain stores its type."""
        rtype = resource["resourceType"]
        self.counts[rtype] += 1
        if rtype == "Patient":
            self.entries.append((where, rtype, patient_row(resource), None, None))
        elif rtype in STORED_TYPES:
            encounter = (
                None
                if rtype == "Encounter"
                else (resource.get("encounter") or resource.get("context") or {}).get("reference")
            )
            self.entries.append((where, rtype, record_row(resource), subject_of(resource), encounter))


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
        out.error(
            where,
            rtype,
            Msg(
                "resource type {type} is not supported; supported types: {types}",
                type=rtype,
                types=", ".join(sorted(STORED_TYPES)),
            ),
        )
        return False
    try:
        validate(rtype, resource)
    except ValidationError as exc:
        for problem in exc.errors()[:5]:
            out.error(
                where,
                _pydantic_path(rtype, tuple(problem["loc"])),
                Msg("invalid value: {detail}", detail=problem["msg"]),
            )
        return False
    ok = True
    for path, value, allowed in binding_problems(resource):
        if path.endswith(".system"):
            out.error(
                where,
                path,
                Msg("code system {system} is not allowed here (required: {allowed})", system=value, allowed=allowed),
            )
        else:
            out.error(
                where,
                path,
                Msg("code {code!r} is not in the required value set ({allowed})", code=value, allowed=allowed),
            )
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
    return start_reading(name, text).result()


class Reading:
    """A FHIR file being read: `result()` gives its `FhirFile`. A large NDJSON file is already being validated
    by the worker processes (see `start_reading`); anything else is validated when `result()` is called."""

    def __init__(
        self,
        name: str,
        document: dict[str, Any] | None = None,
        lines: list[tuple[int, str]] | None = None,
        slices: _Slices | None = None,
    ) -> None:
        self.name, self._document, self._lines, self._slices = name, document, lines, slices

    def result(self) -> FhirFile:
        document = self._document
        if document is not None:
            if document.get("resourceType") == "Bundle":
                return _read_bundle(self.name, document)
            out = FhirFile(self.name, "fhir-resource")
            if check_resource(out, 1, document):
                out.add(1, document)
            return out
        out = FhirFile(self.name, "fhir-ndjson")
        if self._slices is not None:
            self._slices.into(out)
        else:
            _check_lines(out, self._lines or [])
        return _finish_ndjson(out)


def start_reading(name: str, text: str, pool: ValidationPool | None = None) -> Reading:
    """Start reading a FHIR file: a large NDJSON file's slices go to the validation processes (`pool`'s, or a
    pool of its own) at once, so they validate while the caller does something else (`import_fhir_path`
    writes the previous file meanwhile: a file's validation is pure, and its references are resolved against
    the database only after the previous file is written). `read_fhir_text` is `start_reading(...).result()`."""
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            document = None  # may be NDJSON: one object per line
        if isinstance(document, dict):
            return Reading(name, document=document)
    lines = list(_json_lines(text))
    if len(lines) >= PARALLEL_MIN:
        if pool is not None:
            if pool.executor() is not None:
                return Reading(name, slices=_start_parallel(lines, pool.workers, pool))
        elif (workers := validation_workers()) > 1:
            return Reading(name, slices=_start_parallel(lines, workers))
    return Reading(name, lines=lines)


def _finish_ndjson(out: FhirFile) -> FhirFile:
    if not out.counts and not out.errors:
        out.error(1, "-", Msg("the file holds no FHIR resource"))
    if out.errors:  # rejected whole: no row of it is kept
        out.entries.clear()
    return out


def _check_lines(out: FhirFile, lines: Sequence[tuple[int, str]]) -> FhirFile:
    """Parse, validate and map NDJSON lines into `out` (each line parsed once; a bad one named)."""
    for number, line in lines:
        try:
            resource = json.loads(line)
        except json.JSONDecodeError as exc:
            out.error(number, "-", Msg("not JSON: {detail}", detail=exc.msg))
            continue
        if check_resource(out, number, resource):
            out.add(number, resource)
    return out


def _check_slice(lines: list[tuple[int, str]]) -> tuple[list[RowError], list[Entry], Counter[str]]:
    """Worker: the problems, rows and type counts of one slice of lines (rows only while it has no problem: a
    file with one is rejected whole, so its rows would travel back for nothing)."""
    out = _check_lines(FhirFile("", "fhir-ndjson"), lines)
    return out.errors, [] if out.errors else out.entries, out.counts


def validation_workers(cpus: int | None = None, load: float | None = None) -> int:
    """Processes to validate a large NDJSON file with: this one plus one per core the machine leaves idle (by
    the 1-minute load average), at most MAX_WORKERS. The pool costs about 9 % more CPU (forks, rows pickled
    back), so on a busy machine it only takes cores from the others: at 100,000 resources on 2 cores under load
    6-8, serial validation used 14,300 resources per CPU-second against 13,000 with the pool, and no less wall
    time (docs/performance.md)."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if load is None:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(1, min(cpus, MAX_WORKERS, 1 + int(max(0.0, cpus - load))))


def _executor(workers: int) -> Any:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork"))


class ValidationPool:
    """Validation processes shared by the files of a folder import: forked once, at its first large NDJSON
    file (their number chosen then by `validation_workers`), so the next file's slices queue behind the
    current one's and the workers go from file to file without a pause or a new fork. A context manager: on
    leaving, slices not started are dropped (a rejected file stops the run)."""

    def __init__(self) -> None:
        self.workers = 0  # not chosen yet
        self._executor: Any = None

    def executor(self) -> Any:
        """The executor, or None when the machine has no idle core for a pool."""
        if self.workers == 0:
            self.workers = validation_workers()
            if self.workers > 1:
                self._executor = _executor(self.workers)
        return self._executor

    def __enter__(self) -> ValidationPool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


class _Slices:
    """A large NDJSON file's slices queued to validation processes (parse, validate, map to rows); each slice
    carries its lines (pickling them costs about 1 % of their validation)."""

    def __init__(self, executor: Any, lines: list[tuple[int, str]], workers: int, owned: bool) -> None:
        self._executor, self._owned = executor, owned
        size = max(SLICE_MIN, len(lines) // (workers * 8))
        try:
            self._futures = [
                executor.submit(_check_slice, lines[start : start + size]) for start in range(0, len(lines), size)
            ]
        except BaseException:
            self._done()
            raise

    def into(self, out: FhirFile) -> None:
        """Gather the slices' problems, rows and counts into `out`, in line order."""
        try:
            for future in self._futures:
                errors, entries, counts = future.result()
                out.errors.extend(errors)
                if not out.errors:
                    out.entries.extend(entries)
                out.counts.update(counts)
        finally:
            self._done()

    def _done(self) -> None:
        if self._owned:
            self._executor.shutdown(wait=True, cancel_futures=True)


def _start_parallel(lines: list[tuple[int, str]], workers: int, pool: ValidationPool | None = None) -> _Slices:
    """Validation is most of an import's work (pydantic models of every element): a large NDJSON file is
    parsed, validated and mapped to rows by `workers` forked processes (the folder's `pool`, or a pool of its
    own), slice by slice, gathered in line order."""
    if pool is not None:
        return _Slices(pool.executor(), lines, workers, owned=False)
    return _Slices(_executor(workers), lines, workers, owned=True)


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
        out.add(index, resource)
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
