"""FHIR views of other domains' records (specimens, consents, cohorts) and the Group Bulk Data `$export`.

Specimens and consents come from the biobank's service functions, cohorts from the omics cohort builder's;
this module only turns them into FHIR. A `$export` job is a row (`clin_export`) and, once run, one NDJSON
file per resource type in the data folder (`clinical/exports/<job>/`); only the user who started it may poll
it and fetch its files.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from lifebank.audit import service as ledger
from lifebank.clinical import fhir_out, fhir_search
from lifebank.clinical.models import ClinExport
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import NotFound, ValidationFailed

EXPORT_TYPES = ("Patient", "Condition", "Observation", "Procedure", "MedicationStatement", "Specimen", "Consent")


def _bank() -> Any:
    from lifebank.biobank import service as bank

    return bank


def specimen_resources(db: Database, views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with db.session() as session:
        shown = fhir_search.patient_ids(session, {v["participant"] for v in views if v["participant"]})
    return [fhir_out.specimen(v, shown.get(v["participant"] or "")) for v in views]


def search_specimens(db: Database, params: dict[str, list[str]], *, limit: int,
                     offset: int) -> tuple[int, list[dict[str, Any]]]:
    bank = _bank()
    subjects = params.get("subject", []) + params.get("patient", [])
    participant = fhir_search.participant_of(db, subjects[0]) if subjects else None
    total, views = bank.search_specimens(db, bank.SpecimenFilter(participant=participant), limit=limit,
                                         offset=offset)
    return total or 0, specimen_resources(db, views)


def read_specimen(db: Database, barcode: str) -> dict[str, Any]:
    try:
        view = _bank().get_specimen(db, barcode)
    except NotFound:
        raise NotFound("Specimen/{id} does not exist", id=barcode) from None
    return specimen_resources(db, [view])[0]


def consents_of(db: Database, code: str) -> list[dict[str, Any]]:
    view = _bank().participant_view(db, code)
    with db.session() as session:
        shown = fhir_search.patient_ids(session, {code})[code]
    return [fhir_out.consent(code, shown, item) for item in view["consents"]]


def search_consents(db: Database, params: dict[str, list[str]], *, limit: int,
                    offset: int) -> tuple[int, list[dict[str, Any]]]:
    subjects = params.get("patient", []) + params.get("subject", [])
    if not subjects:
        raise ValidationFailed("a Consent search needs patient=")
    found = consents_of(db, fhir_search.participant_of(db, subjects[0]))
    return len(found), found[offset:offset + limit]


def read_consent(db: Database, cid: str) -> dict[str, Any]:
    code, _, version = cid.rpartition("-")
    if code and version.isdigit():
        try:
            for consent in consents_of(db, code):
                if consent["id"] == cid:
                    return consent
        except NotFound:
            pass
    raise NotFound("Consent/{id} does not exist", id=cid)


def _cohorts() -> Any:
    from lifebank.omics import cohorts

    return cohorts


def group_id(name: str) -> str:
    import hashlib

    return hashlib.sha256(name.encode()).hexdigest()[:16]


def _group(db: Database, name: str) -> dict[str, Any]:
    cohort = _cohorts().get_cohort(db, name)
    codes = sorted({m["participant"] for m in cohort["members"] if m["participant"]})
    with db.session() as session:
        shown = fhir_search.patient_ids(session, set(codes))
    return fhir_out.group(group_id(name), name, [shown[c] for c in codes]) | {"_codes": codes}


def all_groups(db: Database) -> list[dict[str, Any]]:
    return [_public(_group(db, str(c["name"]))) for c in _cohorts().list_cohorts(db)]


def _public(group: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in group.items() if not k.startswith("_")}


def read_group(db: Database, gid: str, *, with_codes: bool = False) -> dict[str, Any]:
    for cohort in _cohorts().list_cohorts(db):
        if group_id(str(cohort["name"])) == gid:
            group = _group(db, str(cohort["name"]))
            return group if with_codes else _public(group)
    raise NotFound("Group/{id} does not exist", id=gid)


def start_export(db: Database, group: dict[str, Any], request_url: str, *, actor: str) -> str:
    job = secrets.token_hex(12)
    with db.transaction() as session:
        session.add(ClinExport(id=job, group_id=group["id"], status="running", request_url=request_url[:1000],
                               requested_by=actor))
        ledger.record(session, actor=actor, action="clinical.export", entity_type="fhir_group",
                      entity_id=group["id"], change={"job": job})
    return job


def _group_resources(db: Database, codes: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {t: [] for t in EXPORT_TYPES}
    bank = _bank()
    with db.session() as session:
        shown = fhir_search.patient_ids(session, set(codes))
    for code in codes:
        out["Patient"].append(fhir_search.read_patient(db, shown[code]))
        for rtype in ("Condition", "Observation", "Procedure", "MedicationStatement"):
            offset = 0
            while True:
                total, page = fhir_search.search_records(db, rtype, {"subject": [shown[code]]}, limit=1000,
                                                         offset=offset)
                out[rtype] += page
                offset += len(page)
                if not page or offset >= total:
                    break
        views = list(bank.iter_specimens(db, bank.SpecimenFilter(participant=code)))
        out["Specimen"] += specimen_resources(db, views)
        out["Consent"] += consents_of(db, code)
    return out


def run_export(db: Database, data_dir: Path, job: str, group: dict[str, Any]) -> None:
    """Write the group's NDJSON files and mark the job done (or failed: the status answer says so)."""
    folder = Path(data_dir) / "clinical" / "exports" / job
    folder.mkdir(parents=True, exist_ok=True)
    output = []
    try:
        codes = read_group(db, group["id"], with_codes=True)["_codes"]
        for rtype, resources in _group_resources(db, codes).items():
            if resources:
                with (folder / f"{rtype}.ndjson").open("w", encoding="utf-8") as handle:
                    handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in resources)
                output.append({"type": rtype, "count": len(resources)})
        status = "done"
    except Exception:  # the status answer reports the failure; the log keeps the traceback
        status = "failed"
        raise
    finally:
        with db.transaction() as session:
            row = session.get(ClinExport, job)
            if row is not None:
                row.status = status
                row.output = json.dumps(output)


def export_state(db: Database, job: str, username: str) -> dict[str, Any]:
    with db.session() as session:
        row = session.get(ClinExport, job)
        if row is None or row.requested_by != username:
            raise NotFound("export {job} does not exist", job=job)
        if row.status == "failed":
            raise ValidationFailed("export {job} failed", job=job)
        return {"status": row.status, "request": row.request_url, "output": json.loads(row.output),
                "transaction_time": fhir_out.instant(row.requested_at or utcnow())}


def export_file(db: Database, data_dir: Path, job: str, name: str, username: str) -> Path:
    state = export_state(db, job, username)
    if state["status"] != "done" or name.removesuffix(".ndjson") not in {o["type"] for o in state["output"]}:
        raise NotFound("export file {name} does not exist", name=name)
    return Path(data_dir) / "clinical" / "exports" / job / name
