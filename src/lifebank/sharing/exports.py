"""De-identified exports for one recipient: from an approved access request, or an admin's explicit release.

The steps, each for a reason:
1. The source names the recipient, the purpose (DUO) and the participants: an access request's requester,
   purposes and cohort (`lifebank.access.service.request_view`), or a record grant's user, purposes and dataset.
2. Consent is re-checked *now*, per participant, against that purpose (`lifebank.access.consent_rules`): a
   consent withdrawn or narrowed since the request was approved drops the participant from the file.
3. Rows are pseudonymised with the recipient's own HMAC key, quasi-identifiers generalised and k-anonymity
   enforced (`deid`), and the chosen format written into the bank's export store.
4. One ledger event names recipient, request or release, row counts, suppression and every file's SHA-256,
   in the transaction that records the export. Only the recipient (and export managers) may download it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lifebank import biobank
from lifebank.access import consent_rules
from lifebank.audit.service import record
from lifebank.biobank import service as bank
from lifebank.db.engine import Database
from lifebank.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lifebank.sharing import data, deid
from lifebank.sharing.export_formats import FORMATS, WRITERS, ReleasedSpecimen
from lifebank.sharing.models import RecipientKey, RecordGrant, ShareExport

APPROVED = ("approved", "approved_with_conditions", "agreement_signed", "in_fulfilment", "shipped", "received")


@dataclass(frozen=True, slots=True)
class Source:
    recipient: str
    use: consent_rules.RequestedUse
    dataset: str
    participants: list[str] | None  # None: the dataset's members
    request_id: str | None = None
    grant_id: int | None = None


def from_request(db: Database, request_id: int, dataset: str = data.BIOBANK) -> Source:
    """An approved access request (issue 11) as an export source: its requester, purposes and cohort."""
    from lifebank.access import service as access

    view = access.request_view(db, request_id, None)
    if view["state"] not in APPROVED:
        raise Conflict("access request {ref} is {state}: only an approved request can be exported",
                       ref=view["ref"], state=view["state"])
    if not view["data"]:
        raise Conflict("access request {ref} asks for material only, not data", ref=view["ref"])
    use = consent_rules.RequestedUse(
        frozenset(view["purposes"]), diseases=frozenset({view["disease"]} if view["disease"] else ()),
        commercial=view["commercial"], for_profit=view["for_profit"], ethics_approval=view["ethics_approval"],
        publication_committed="publication" in view["declarations"],
        collaboration_agreed="collaboration" in view["declarations"],
        returns_derived_data="return_data" in view["declarations"],
        genetic_study="genetic_study" in view["declarations"], country=view["recipient_country"],
        use_date=date.today(), institution=view["organisation"])
    members = sorted(data.cohort_members(db, view["cohort"])) if view["cohort"] else None
    return Source(view["created_by"], use, dataset, members, request_id=view["ref"])


def from_release(db: Database, grant_id: int) -> Source:
    """An admin's explicit release (a record grant) as an export source."""
    with db.session() as session:
        grant = session.get(RecordGrant, grant_id)
        if grant is None:
            raise NotFound("no release {id}", id=grant_id)
        return Source(grant.username, consent_rules.RequestedUse(frozenset(grant.purposes.split(";")),
                                                                 use_date=date.today()),
                      grant.dataset, None, request_id=grant.request_id, grant_id=grant.id)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def recipient_key(db: Database, username: str) -> bytes:
    """The recipient's pseudonym key, made on first use (32 random bytes; only the bank holds it)."""
    with db.transaction() as session:
        row = session.get(RecipientKey, username)
        if row is None:
            row = RecipientKey(username=username, key_hex=secrets.token_hex(32))
            session.add(row)
            record(session, actor="system", action="share.key", entity_type="recipient_key", entity_id=username,
                   change={"created": True})
        return bytes.fromhex(row.key_hex)


def _participants(db: Database, source: Source) -> list[str]:
    datasets = {d.name: d for d in data.datasets(db)}
    if source.dataset not in datasets:
        raise NotFound("no dataset {name!r}", name=source.dataset)
    members = data.members(db, datasets[source.dataset])
    codes = set(source.participants) if source.participants is not None else members
    if codes is None:
        codes = data.all_participants(db)
    elif members is not None:
        codes &= members
    return sorted(codes)


def _consent_check(db: Database, codes: list[str], use: consent_rules.RequestedUse,
                   report: deid.Report) -> list[str]:
    consents = biobank.consents_in_force(db, participant_codes=codes)
    reasons: Counter[str] = Counter()
    permitted = []
    for code in codes:
        held = consents.get(code)
        consent = consent_rules.Consent(frozenset(held.codes), consent_date=held.consent_date) if held else None
        decision = consent_rules.evaluate(consent, use)
        if decision.permitted:
            permitted.append(code)
        else:
            reasons[str(decision.reasons[0]) if decision.reasons else "refused"] += 1
    report.consent_refused = len(codes) - len(permitted)
    report.consent_reasons = dict(reasons)
    return permitted


def _diagnoses(db: Database, codes: set[str]) -> dict[str, str]:
    """The first ICD-10 diagnosis of each participant with clinical data (the clinical domain's timeline)."""
    try:
        from lifebank.clinical import ClinicalCriteria, clinical_timeline, participants_with_clinical
    except ImportError:  # a deployment without the clinical domain
        return {}
    found: dict[str, str] = {}
    for code in sorted(participants_with_clinical(db, ClinicalCriteria()) & codes):
        for entry in clinical_timeline(db, code):
            if entry["kind"] == "condition" and "icd-10" in str(entry["system"] or "").lower() and entry["code"]:
                found[code] = str(entry["code"])
                break
    return found


def export(db: Database, data_dir: Path, source: Source, fmt: str, *, actor: str, out: Path | None = None,
           k: int = 5) -> dict[str, Any]:
    """Write one export for `source.recipient` (see the module text); refuse when nothing can be released."""
    if fmt not in FORMATS:
        raise ValidationFailed("format {fmt!r} is not one of {allowed}", fmt=fmt, allowed=", ".join(FORMATS))
    if k < 2:
        raise ValidationFailed("k must be at least 2, not {k}", k=k)
    codes = _participants(db, source)
    report = deid.Report(k=k)
    permitted = set(_consent_check(db, codes, source.use, report))
    key = recipient_key(db, source.recipient)
    tubes: dict[str, list[dict[str, Any]]] = {}
    for row in bank.iter_specimens(db, bank.SpecimenFilter()):
        if row["participant"] in permitted:
            tubes.setdefault(row["participant"], []).append(row)
    diagnoses = _diagnoses(db, permitted)
    people = []
    for row in bank.iter_participants(db, bank.ParticipantFilter()):
        if row["code"] not in permitted:
            continue
        held = tubes.get(row["code"], [])
        people.append(deid.Person(
            deid.pseudonym(key, "participant", row["code"]), row["sex"], row["birth_year"], deid.region_of(row["site"]),
            diagnoses.get(row["code"]), (("specimen_types", ";".join(sorted({t["type"] for t in held}))),
                   ("specimens_available", str(sum(1 for t in held if t["status"] == "available"))))))
    released, anon = deid.anonymise(people, k)
    anon.consent_refused, anon.consent_reasons = report.consent_refused, report.consent_reasons
    anon.records_in = len(codes)
    if not released:
        common = max(anon.consent_reasons.items(), key=lambda item: item[1])[0] if anon.consent_reasons else "-"
        raise Conflict("nothing to export: of {total} participants, {refused} are excluded by their consent (most "
                       "often: {reason}) and {suppressed} would not reach k = {k}", total=len(codes),
                       refused=anon.consent_refused, reason=common, suppressed=anon.suppressed, k=k)
    kept = {p.pseudonym for p in released}
    code_of = {deid.pseudonym(key, "participant", c): c for c in permitted}
    specimens = [ReleasedSpecimen(deid.pseudonym(key, "specimen", t["barcode"]), p, t["type"],
                                  int(str(t["collected_at"])[:4]) if t["collected_at"] else None,
                                  t["status"] == "available" and bool(t["distributable"]))
                 for p in sorted(kept) for t in tubes.get(code_of[p], [])]
    store = Path(data_dir) / "sharing" / "exports"
    store.mkdir(parents=True, exist_ok=True)
    with db.transaction() as session:
        row = ShareExport(recipient=source.recipient, grant_id=source.grant_id, request_id=source.request_id,
                          dataset=source.dataset, format=fmt, rows=len(released), suppressed=anon.suppressed,
                          report="{}", files="[]", folder="", created_by=actor)
        session.add(row)
        session.flush()
        folder = store / f"export-{row.id}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        try:
            names = WRITERS[fmt](folder, released, specimens)
            (folder / "report.json").write_text(json.dumps(anon.as_dict(), indent=2, ensure_ascii=False),
                                                encoding="utf-8")
            names.append("report.json")
            files = [{"name": n, "sha256": sha256_file(folder / n), "bytes": (folder / n).stat().st_size}
                     for n in names]
            row.report, row.files, row.folder = json.dumps(anon.as_dict()), json.dumps(files), str(folder)
            record(session, actor=actor, action="share.export", entity_type="share_export", entity_id=row.id,
                   change={"recipient": source.recipient, "request": source.request_id, "release": source.grant_id,
                           "dataset": source.dataset, "format": fmt, "rows": len(released),
                           "specimens": len(specimens), "suppressed": anon.suppressed,
                           "consent_refused": anon.consent_refused, "files": files})
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        export_id = row.id
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        for f in files:
            (out / f["name"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / f["name"], out / f["name"])
    return {"id": export_id, "recipient": source.recipient, "request": source.request_id,
            "release": source.grant_id, "format": fmt, "rows": len(released), "specimens": len(specimens),
            "report": anon.as_dict(), "files": files}


def _view(e: ShareExport) -> dict[str, Any]:
    return {"id": e.id, "recipient": e.recipient, "request": e.request_id, "release": e.grant_id,
            "dataset": e.dataset, "format": e.format, "rows": e.rows, "suppressed": e.suppressed,
            "report": json.loads(e.report), "files": json.loads(e.files), "created_at": e.created_at.isoformat(),
            "created_by": e.created_by}


def list_exports(db: Database, *, recipient: str | None = None) -> list[dict[str, Any]]:
    with db.session() as session:
        query = select(ShareExport).order_by(ShareExport.id.desc())
        if recipient is not None:
            query = query.where(ShareExport.recipient == recipient)
        return [_view(e) for e in session.scalars(query)]


def export_file(db: Database, export_id: int, name: str, *, username: str, manager: bool) -> tuple[Path, str]:
    """The path of one file of an export, for its recipient (or an export manager) only."""
    with db.session() as session:
        e = session.get(ShareExport, export_id)
        if e is None:
            raise NotFound("no export {id}", id=export_id)
        if e.recipient != username and not manager:
            raise PermissionDenied("export {id} was made for another recipient", id=export_id)
        files = {f["name"]: f["sha256"] for f in json.loads(e.files)}
        if name not in files:
            raise NotFound("export {id} has no file {name}", id=export_id, name=name)
        return Path(e.folder) / name, files[name]
