"""Use cases of precision oncology: interpret a tumour, keep the report as versions, sign it off, re-run it.

Every state change is ledgered in its own transaction: `precision.report.create`, `precision.report.sign`
(with the content's SHA-256 and the signature's meaning, 21 CFR Part 11 §11.50), `precision.report.rerun`,
`precision.kb.load`. A final (signed) version is never changed; a re-run makes a new draft version that
lists what changed since the previous one.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from lifebank import biobank
from lifebank.audit.service import record
from lifebank.config import Settings
from lifebank.db.engine import Database
from lifebank.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lifebank.messages import N_, register_labels
from lifebank.precision import kb_releases, kb_store
from lifebank.precision.changes import report_changes
from lifebank.precision.interpret import interpret
from lifebank.precision.models import ReportVersion
from lifebank.precision.run import KINDS, Options, tumour_inputs

SIGNATURE_MEANINGS = {"approval": N_("Approval: I reviewed this report and release it as final"),
                      "review": N_("Review: I reviewed this report and agree with its content"),
                      "responsibility": N_("Responsibility: I take clinical responsibility for this report")}
register_labels("precision_signature", SIGNATURE_MEANINGS)
register_labels("precision_status", {"draft": N_("Draft"), "final": N_("Final (signed)")})
register_labels("entity_type", {"precision_report": N_("Precision report"),
                                "precision_kb": N_("Oncology knowledge base")})
register_labels("ledger_action", {"precision.report.create": N_("Precision report created"),
                                  "precision.report.sign": N_("Precision report signed"),
                                  "precision.report.rerun": N_("Precision report re-run"),
                                  "precision.kb.load": N_("Oncology knowledge base loaded")})


def _pack(files: dict[str, bytes], options: Options) -> bytes:
    payload = {"files": {k: gzip.decompress(v).decode("utf-8", "replace") if v[:2] == b"\x1f\x8b"
                         else v.decode("utf-8", "replace") for k, v in files.items()},
               "options": options.as_dict()}
    return gzip.compress(json.dumps(payload).encode(), compresslevel=6, mtime=0)


def _unpack(blob: bytes) -> tuple[dict[str, bytes], Options]:
    payload = json.loads(gzip.decompress(blob))
    return {k: v.encode() for k, v in payload["files"].items()}, Options(**payload["options"])


def build_report(db: Database | None, data_dir: Path | None, files: dict[str, bytes],
                 options: Options) -> dict[str, Any]:
    """Interpret one tumour's files with the knowledge base in force (the database only names the releases)."""
    unknown = sorted(set(files) - set(KINDS))
    if unknown:
        raise ValidationFailed("unknown input {names}; inputs are vcf, maf, cna, fusions", names=", ".join(unknown))
    return interpret(tumour_inputs(files, options), kb_releases.knowledge_base(db, data_dir))


def _check_links(db: Database, participant: str | None, specimen: str | None) -> None:
    if participant and not biobank.existing_participants(db, [participant]):
        raise NotFound("participant {code} does not exist", code=participant)
    if specimen:
        owner = biobank.specimen_participants(db, [specimen]).get(specimen)
        if owner is None:
            raise NotFound("specimen {barcode} does not exist", barcode=specimen)
        if participant and owner != participant:
            raise ValidationFailed("specimen {barcode} belongs to participant {owner}, not {participant}",
                                   barcode=specimen, owner=owner, participant=participant)


def tumour_type_from_clinical(db: Database, data_dir: Path | None, participant: str) -> str | None:
    """The participant's tumour type from their clinical record (the clinical domain's published timeline):
    the most recent condition that names an OncoTree code, an NCI Thesaurus / UMLS concept OncoTree
    cross-references, or an OncoTree name. None when the clinical domain is absent or names none."""
    try:
        from lifebank.clinical import clinical_timeline
    except ImportError:
        return None
    oncotree = kb_releases.knowledge_base(db, data_dir).oncotree
    for row in reversed(clinical_timeline(db, participant)):
        if row.get("kind") == "condition":
            found = oncotree.code_for_diagnosis(row.get("system"), row.get("code"), row.get("display"))
            if found:
                return found
    return None


def _digest(content: dict[str, Any]) -> tuple[str, str]:
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return text, hashlib.sha256(text.encode()).hexdigest()


def summary(row: ReportVersion, *, with_content: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "report": row.report_no, "version": row.version, "status": row.status, "participant": row.participant,
        "specimen": row.specimen, "tumour_type": row.tumour_type, "label": row.label,
        "content_sha256": row.content_sha256, "created_by": row.created_by, "created_at": row.created_at,
        "signed_by": row.signed_by, "signed_at": row.signed_at, "signature_meaning": row.signature_meaning,
        "changes": json.loads(row.changes) if row.changes else None}
    if with_content:
        data["content"] = json.loads(row.content)
    return data


def create_report(db: Database, data_dir: Path | None, files: dict[str, bytes], options: Options, *,
                  actor: str, participant: str | None = None, specimen: str | None = None,
                  label: str | None = None) -> dict[str, Any]:
    """Interpret and keep a new report (version 1, draft), linked to a participant and specimen if given."""
    _check_links(db, participant, specimen)
    if not options.tumour_type.strip():
        found = tumour_type_from_clinical(db, data_dir, participant) if participant else None
        if found is None:
            raise ValidationFailed("give the tumour type (an OncoTree code): the participant's clinical record "
                                   "names none")
        options.tumour_type = found
    content = build_report(db, data_dir, files, options)
    text, digest = _digest(content)
    for attempt in range(3):  # two writers may take the same next number; the unique key makes one retry
        try:
            return _keep_new(db, content, text, digest, files, options, actor=actor, participant=participant,
                             specimen=specimen, label=label)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _keep_new(db: Database, content: dict[str, Any], text: str, digest: str, files: dict[str, bytes],
              options: Options, *, actor: str, participant: str | None, specimen: str | None,
              label: str | None) -> dict[str, Any]:
    with db.transaction() as session:
        count = session.scalar(select(func.count(func.distinct(ReportVersion.report_no)))) or 0
        number = f"PR-{count + 1:06d}"
        row = ReportVersion(report_no=number, version=1, status="draft", participant=participant, specimen=specimen,
                            tumour_type=content["tumour_type"],
                            label=(label or content["input"]["sample"] or number)[:200],
                            content=text, content_sha256=digest, inputs=_pack(files, options), created_by=actor)
        session.add(row)
        session.flush()
        record(session, actor=actor, action="precision.report.create", entity_type="precision_report",
               entity_id=f"{number}/1", change={"tumour_type": row.tumour_type, "participant": participant,
                                                "specimen": specimen, "content_sha256": digest,
                                                "knowledge_base": content["knowledge_base"]})
        return summary(row, with_content=True)


def _latest(session: Any, report_no: str) -> ReportVersion:
    row = session.scalar(select(ReportVersion).where(ReportVersion.report_no == report_no)
                         .order_by(ReportVersion.version.desc()).limit(1))
    if row is None:
        raise NotFound("report {report} does not exist", report=report_no)
    return row


def get_report(db: Database, report_no: str, version: int | None = None) -> dict[str, Any]:
    with db.session() as session:
        if version is None:
            return summary(_latest(session, report_no), with_content=True)
        row = session.scalar(select(ReportVersion).where(ReportVersion.report_no == report_no,
                                                         ReportVersion.version == version))
        if row is None:
            raise NotFound("report {report} has no version {version}", report=report_no, version=version)
        return summary(row, with_content=True)


def list_reports(db: Database, *, participant: str | None = None, limit: int = 50,
                 offset: int = 0) -> list[dict[str, Any]]:
    """The latest version of each report, newest first."""
    with db.session() as session:
        latest = select(ReportVersion.report_no, func.max(ReportVersion.version).label("v")) \
            .group_by(ReportVersion.report_no).subquery()
        query = select(ReportVersion).join(latest, (ReportVersion.report_no == latest.c.report_no)
                                           & (ReportVersion.version == latest.c.v))
        if participant:
            query = query.where(ReportVersion.participant == participant)
        rows = session.scalars(query.order_by(ReportVersion.report_no.desc()).limit(limit).offset(offset))
        return [summary(row) for row in rows]


def sign_report(db: Database, settings: Settings, report_no: str, *, username: str, password: str,
                meaning: str, version: int | None = None) -> dict[str, Any]:
    """Sign the draft: the signer re-enters their password (a fresh authentication, throttled like a login),
    must hold precision.sign, and states the signature's meaning. The version becomes final and immutable."""
    from lifebank.auth.service import authenticate

    if meaning not in SIGNATURE_MEANINGS:
        raise ValidationFailed("signature meaning {meaning!r} is not one of {meanings}", meaning=meaning,
                               meanings=", ".join(SIGNATURE_MEANINGS))
    principal = authenticate(db, settings, username, password)
    if not principal.can("precision.sign"):
        raise PermissionDenied("{username} may not sign precision reports", username=principal.username)
    with db.transaction() as session:
        row = _latest(session, report_no)
        if version is not None and row.version != version:
            raise Conflict("version {version} of {report} is not the latest ({latest})", version=version,
                           report=report_no, latest=row.version)
        if row.status == "final":
            raise Conflict("{report} version {version} is already signed and final", report=report_no,
                           version=row.version)
        from lifebank.db.base import utcnow

        row.status, row.signed_by, row.signed_at, row.signature_meaning = "final", principal.username, utcnow(), meaning
        record(session, actor=principal.username, action="precision.report.sign", entity_type="precision_report",
               entity_id=f"{report_no}/{row.version}",
               change={"meaning": meaning, "statement": SIGNATURE_MEANINGS[meaning],
                       "content_sha256": row.content_sha256})
        return summary(row)


def rerun_report(db: Database, data_dir: Path | None, report_no: str, *, actor: str) -> dict[str, Any]:
    """Interpret the latest version's inputs again with the knowledge base in force: a new draft version,
    with what changed since the previous one (a final version stays as it was signed)."""
    with db.session() as session:
        previous = _latest(session, report_no)
        files, options = _unpack(previous.inputs)
        before = json.loads(previous.content)
        meta = (previous.version, previous.participant, previous.specimen, previous.label, previous.inputs)
    content = build_report(db, data_dir, files, options)
    changes = report_changes(before, content)
    text, digest = _digest(content)
    with db.transaction() as session:
        if _latest(session, report_no).version != meta[0]:
            raise Conflict("{report} changed while it was re-run; try again", report=report_no)
        row = ReportVersion(report_no=report_no, version=meta[0] + 1, status="draft", participant=meta[1],
                            specimen=meta[2], tumour_type=content["tumour_type"], label=meta[3], content=text,
                            content_sha256=digest, inputs=meta[4], changes=json.dumps(changes), created_by=actor)
        session.add(row)
        session.flush()
        record(session, actor=actor, action="precision.report.rerun", entity_type="precision_report",
               entity_id=f"{report_no}/{row.version}", change={"changes": len(changes), "content_sha256": digest})
        return summary(row, with_content=True)


def kb_status(db: Database | None, data_dir: Path | None) -> list[dict[str, Any]]:
    files = kb_releases.current_files(db, data_dir)
    versions = kb_store.knowledge_base(files).versions()
    rows = []
    for source, found in files.items():
        name = {"moalmanac": "MOAlmanac", "civic": "CIViC", "hotspots": "hotspots", "oncotree": "OncoTree"}[source]
        info = versions.get(name, {})
        rows.append({"source": source, "origin": found.origin, "file": found.path.name,
                     "version": found.version or info.get("version", ""), "sha256": found.sha256,
                     "evidence": info.get("evidence", info.get("residues", info.get("nodes", ""))),
                     "loaded_at": found.loaded_at, "loaded_by": found.loaded_by})
    return rows


def kb_load(db: Database, data_dir: Path, folder: Path, *, actor: str) -> list[dict[str, Any]]:
    """Load a release folder (validated in full first), switch to it and ledger it in one transaction."""
    return kb_releases.load(db, data_dir, folder, actor=actor)
