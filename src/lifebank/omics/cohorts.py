"""Cohorts: participants (and their VCF samples) chosen by consent, specimens and genotype, saved by name.

A cohort's members are fixed when it is saved (the criteria are kept so it can be re-run), so a cohort that
matched nobody is refused unless the user confirms it (`allow_empty`): an empty cohort saved by a typing
mistake silently yields empty AF queries later. Specimen type, status and sex are checked against the
biobank's vocabulary, so "BANANA" is named as a mistake instead of selecting nobody.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from lifebank.audit.service import record
from lifebank.db.engine import Database
from lifebank.errors import Conflict, NotFound, ValidationFailed
from lifebank.messages import N_, Msg, label, register_labels
from lifebank.omics import biobank_link
from lifebank.omics.carriers import carriers
from lifebank.omics.models import Cohort, CohortMember, OmicsBatch, OmicsDataset, OmicsSample
from lifebank.omics.regions import Region, parse_region
from lifebank.omics.service import (
    _dataset,
    batch_refs,
    check_gene_build,
    gene_regions,
    is_grch38,
    variant_store,
)

# The criteria as users read them (the keys stay the same in the API, the CLI and the saved definition).
CRITERIA_LABELS = {
    "consent_code": N_("Consent (DUO code)"),
    "sex": N_("Sex"),
    "site": N_("Collection site"),
    "specimen_type": N_("Specimen type"),
    "specimen_status": N_("Specimen status"),
    "min_quantity": N_("Minimum quantity"),
    "dataset": N_("Dataset"),
    "variant": N_("Carries a non-reference allele at"),
    "gene": N_("Carries a non-reference allele in gene"),
    "region": N_("Carries a non-reference allele in region"),
    "max_af": N_("Only variants with allele frequency below"),
    "diagnosis": N_("Diagnosis code"),
    "diagnosis_system": N_("Diagnosis code system"),
    "diagnosis_descendants": N_("Include descendant diagnoses"),
    "min_age_at_diagnosis": N_("Minimum age at diagnosis"),
    "max_age_at_diagnosis": N_("Maximum age at diagnosis"),
    "lab_code": N_("Lab test (LOINC)"),
    "lab_comparator": N_("Lab comparator"),
    "lab_value": N_("Lab value"),
    "medication": N_("Medication code"),
}
register_labels("cohort_criterion", CRITERIA_LABELS)
register_labels("entity_type", {"omics_dataset": N_("Variant dataset"), "omics_batch": N_("Variant batch"),
                                "omics_cohort": N_("Cohort")})
register_labels("ledger_action", {"omics.cohort.create": N_("Cohort saved"),
                                  "omics.cohort.delete": N_("Cohort deleted"),
                                  "omics.dataset.create": N_("Variant dataset created"),
                                  "omics.import": N_("Variants imported")})
CHOICE_FIELDS = {"specimen_type": "specimen_type", "specimen_status": "specimen_status", "sex": "sex"}


def _field(key: str) -> Msg:
    return Msg(CRITERIA_LABELS[key])


@dataclass(frozen=True, slots=True)
class CohortCriteria:
    """Participant filters, specimen availability and a genotype condition; every given part must hold."""

    consent_code: str | None = None
    sex: str | None = None
    site: str | None = None
    specimen_type: str | None = None
    specimen_status: str | None = None
    min_quantity: float | None = None
    dataset: str | None = None
    variant: str | None = None     # CHR:POS or CHR:POS:REF:ALT — carries a non-reference allele there
    gene: str | None = None        # carries a non-reference allele in the gene
    region: str | None = None      # ... or in the region
    max_af: float | None = None    # only variants with AF (whole dataset) below this count
    # Clinical criteria, answered by `lifebank.clinical.participants_with_clinical` (see ClinicalCriteria).
    diagnosis: str | None = None   # a condition code (SNOMED CT, ICD-10...) as stored
    diagnosis_system: str | None = None  # its system (URI or snomed/icd10/...), any when empty
    diagnosis_descendants: bool | None = None  # also its descendants in the loaded vocabulary
    min_age_at_diagnosis: int | None = None
    max_age_at_diagnosis: int | None = None
    lab_code: str | None = None    # a LOINC code; with lab_comparator (<, <=, =, >=, >) and lab_value
    lab_comparator: str | None = None
    lab_value: float | None = None
    medication: str | None = None  # a medication code (RxNorm)

    @property
    def has_participant_filter(self) -> bool:
        return any(v is not None for v in (self.consent_code, self.sex, self.site))

    @property
    def has_specimen_filter(self) -> bool:
        return any(v is not None for v in (self.specimen_type, self.specimen_status, self.min_quantity))

    @property
    def has_clinical_filter(self) -> bool:
        return any(v is not None for v in (self.diagnosis, self.min_age_at_diagnosis, self.max_age_at_diagnosis,
                                           self.lab_code, self.lab_comparator, self.lab_value, self.medication))

    def clinical(self) -> Any:
        """The clinical part as `lifebank.clinical.ClinicalCriteria` (which checks it)."""
        from lifebank.clinical import ClinicalCriteria

        return ClinicalCriteria(diagnosis=self.diagnosis, diagnosis_system=self.diagnosis_system,
                                descendants=bool(self.diagnosis_descendants), min_age=self.min_age_at_diagnosis,
                                max_age=self.max_age_at_diagnosis, lab_code=self.lab_code,
                                lab_comparator=self.lab_comparator, lab_value=self.lab_value,
                                medication=self.medication)

    @property
    def has_genotype_filter(self) -> bool:
        return any(v is not None for v in (self.variant, self.gene, self.region))

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> CohortCriteria:
        """Criteria from a form, JSON body or `--where` pairs; unknown keys, numbers and codes are refused."""
        unknown = sorted(k for k in data if k not in cls.__dataclass_fields__)
        if unknown:
            raise ValidationFailed("unknown criterion {keys}: use {allowed}", keys=", ".join(unknown),
                                   allowed=", ".join(CRITERIA_LABELS))
        known: dict[str, Any] = {k: (None if v is None or str(v).strip() == "" else v) for k, v in data.items()}
        for key in ("min_age_at_diagnosis", "max_age_at_diagnosis"):
            if known.get(key) is not None:
                try:
                    known[key] = int(str(known[key]).strip())
                except ValueError:
                    raise ValidationFailed("{field}: {value!r} is not a whole number", field=_field(key),
                                           value=known[key]) from None
        if known.get("diagnosis_descendants") is not None:
            known["diagnosis_descendants"] = str(known["diagnosis_descendants"]).strip().lower() in {
                "1", "true", "yes", "on"}
        for key in ("min_quantity", "max_af", "lab_value"):
            if known.get(key) is not None:
                try:
                    known[key] = float(known[key])
                except (TypeError, ValueError):
                    raise ValidationFailed("{field}: {value!r} is not a number", field=_field(key),
                                           value=known[key]) from None
        for key, kind in CHOICE_FIELDS.items():
            if known.get(key) is not None:
                known[key] = _known_code(key, kind, str(known[key]).strip())
        for key in ("consent_code", "site", "dataset", "variant", "gene", "region", "diagnosis", "diagnosis_system",
                    "lab_code", "lab_comparator", "medication"):
            if known.get(key) is not None:
                known[key] = str(known[key]).strip()
        return cls(**known)


def allowed_codes(kind: str) -> list[str]:
    """The codes a choice criterion accepts: the biobank's vocabulary (specimen types, statuses, sexes)."""
    return biobank_link.vocabulary(kind)


def _known_code(key: str, kind: str, value: str) -> str:
    allowed = allowed_codes(kind)
    if not allowed:  # no biobank vocabulary to check against
        return value
    for code in allowed:
        if code.upper() == value.upper():
            return code
    raise ValidationFailed("{field} ({key}): {value!r} is not a known value; choose one of {allowed}",
                           field=_field(key), key=key, value=value, allowed=", ".join(allowed))


@dataclass(frozen=True, slots=True)
class CohortMemberView:
    participant: str | None
    vcf_samples: tuple[str, ...]


def _carriers(db: Database, data_dir: Path, criteria: CohortCriteria) -> frozenset[str]:
    store = variant_store(data_dir)
    refs = batch_refs(db, criteria.dataset)
    if criteria.max_af is not None and not 0 < criteria.max_af <= 1:
        raise ValidationFailed("{field}: {value} must be above 0 and at most 1", field=_field("max_af"),
                               value=criteria.max_af)
    found: set[str] = set()
    if criteria.variant is not None:
        parts = criteria.variant.strip().split(":")
        if len(parts) not in (2, 4) or not parts[1].replace(",", "").isdigit():
            raise ValidationFailed("variant {variant!r} is not CHR:POS or CHR:POS:REF:ALT", variant=criteria.variant)
        pos = int(parts[1].replace(",", ""))
        ref, alt = (parts[2], parts[3]) if len(parts) == 4 else (None, None)
        found |= carriers(store, refs, Region(parts[0], pos, pos), max_af=criteria.max_af, position=pos,
                          ref=ref, alt=alt)
    if criteria.gene is not None:
        check_gene_build(db, criteria.dataset)
        grch38 = [r for r in refs if is_grch38(db, r.dataset)]
        for reg in gene_regions(criteria.gene):
            found |= carriers(store, grch38, reg, max_af=criteria.max_af)
    if criteria.region is not None:
        found |= carriers(store, refs, parse_region(criteria.region), max_af=criteria.max_af)
    return frozenset(found)


def preview_cohort(db: Database, data_dir: Path, criteria: CohortCriteria) -> list[CohortMemberView]:
    """Members meeting every criterion: participants (with their linked VCF samples), or VCF samples alone
    when only a genotype condition is given (samples not linked to a participant are kept, never dropped).

    The genotype condition is answered first (a set of samples, cached per batch list and region by
    `omics.carriers`): its carriers' participants are the only candidates the clinical criteria are then
    checked for, and when none carries, the other criteria are not asked at all."""
    if not (criteria.has_participant_filter or criteria.has_specimen_filter or criteria.has_genotype_filter
            or criteria.has_clinical_filter):
        raise ValidationFailed("give at least one criterion")
    with db.session() as session:
        query = select(OmicsSample.vcf_sample, OmicsSample.participant_code).join(OmicsBatch).join(OmicsDataset)
        if criteria.dataset is not None:
            _dataset(session, criteria.dataset)
            query = query.where(OmicsDataset.name == criteria.dataset)
        sample_rows = session.execute(query).all()
    samples_of: dict[str, list[str]] = {}
    for vcf_sample, participant in sample_rows:
        if participant:
            samples_of.setdefault(participant, []).append(vcf_sample)
    carriers: frozenset[str] | None = None
    candidates: set[str] | None = None
    if criteria.has_genotype_filter:
        carriers = _carriers(db, data_dir, criteria)
        if not (criteria.has_participant_filter or criteria.has_specimen_filter or criteria.has_clinical_filter):
            owner = dict(sample_rows)
            by_member: dict[str | None, list[str]] = {}
            members = []
            for sample in sorted(carriers):
                if owner.get(sample):
                    by_member.setdefault(owner[sample], []).append(sample)
                else:
                    members.append(CohortMemberView(None, (sample,)))
            members += [CohortMemberView(p, tuple(s)) for p, s in by_member.items()]
            return sorted(members, key=lambda m: (m.participant or "", m.vcf_samples))
        candidates = {p for p, samples in samples_of.items() if not carriers.isdisjoint(samples)}
        if not candidates:
            return []
    participants: set[str] | None = candidates
    if criteria.has_clinical_filter:
        from lifebank.clinical import participants_with_clinical

        participants = participants_with_clinical(db, criteria.clinical(), among=candidates)
    if criteria.has_participant_filter and participants != set():
        matching = biobank_link.participants_matching(db, consent_code=criteria.consent_code, sex=criteria.sex,
                                                      site=criteria.site, among=participants)
        participants = matching if participants is None else participants & matching
    if criteria.has_specimen_filter and participants != set():
        with_specimens = biobank_link.participants_with_specimens(
            db, specimen_type=criteria.specimen_type, status=criteria.specimen_status or "available",
            min_quantity=criteria.min_quantity, among=participants)
        participants = with_specimens if participants is None else participants & with_specimens
    assert participants is not None
    if carriers is not None:
        return [CohortMemberView(p, tuple(sorted(set(samples_of[p]) & carriers))) for p in sorted(participants)]
    return [CohortMemberView(p, tuple(sorted(samples_of.get(p, ())))) for p in sorted(participants)]


EMPTY_COHORT = Msg("no participant or sample meets these criteria, so the cohort would have no members; "
                   "a cohort's members are fixed when it is saved, so check the criteria, or confirm that "
                   "you want to save it empty")


def save_cohort(db: Database, data_dir: Path, name: str, criteria: CohortCriteria, *, actor: str,
                allow_empty: bool = False) -> tuple[int, list[CohortMemberView]]:
    """Save the members the criteria select now; an empty result is refused unless `allow_empty`."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed("cohort name: 1 to 100 characters")
    members = preview_cohort(db, data_dir, criteria)
    if not members and not allow_empty:
        raise ValidationFailed(EMPTY_COHORT)
    with db.transaction() as session:
        if session.scalar(select(Cohort.id).where(Cohort.name == name)) is not None:
            raise Conflict("a cohort named {name!r} already exists", name=name)
        cohort = Cohort(name=name, definition=json.dumps(criteria.as_dict(), sort_keys=True), size=len(members),
                        created_by=actor)
        rows = [CohortMember(participant_code=m.participant, vcf_sample=s) for m in members
                for s in (m.vcf_samples or (None,))]
        cohort.members = rows
        session.add(cohort)
        session.flush()
        record(session, actor=actor, action="omics.cohort.create", entity_type="omics_cohort", entity_id=name,
               change={"criteria": criteria.as_dict(), "size": len(members),
                       "members_sha256": _members_digest((r.participant_code, r.vcf_sample) for r in rows)})
        return cohort.id, members


def _members_digest(rows: Iterator[tuple[str | None, str | None]] | list[tuple[str | None, str | None]]) -> str:
    return hashlib.sha256("\n".join(f"{p}\t{s}" for p, s in rows).encode()).hexdigest()


def delete_cohort(db: Database, name: str, *, actor: str) -> dict[str, object]:
    """Remove a saved cohort and its member list; the ledger keeps its criteria, size and members' digest."""
    with db.transaction() as session:
        cohort = session.scalar(select(Cohort).options(selectinload(Cohort.members)).where(Cohort.name == name))
        if cohort is None:
            raise NotFound("no cohort {name!r}", name=name)
        gone = {"criteria": json.loads(cohort.definition), "size": cohort.size,
                "members_sha256": _members_digest([(m.participant_code, m.vcf_sample) for m in cohort.members])}
        session.execute(delete(CohortMember).where(CohortMember.cohort_id == cohort.id))
        session.execute(delete(Cohort).where(Cohort.id == cohort.id))
        record(session, actor=actor, action="omics.cohort.delete", entity_type="omics_cohort", entity_id=name,
               change=gone)
    return {"name": name, **gone}


def list_cohorts(db: Database) -> list[dict[str, object]]:
    with db.session() as session:
        return [{"name": c.name, "size": c.size, "criteria": json.loads(c.definition),
                 "created_at": c.created_at.isoformat(), "created_by": c.created_by}
                for c in session.scalars(select(Cohort).order_by(Cohort.name))]


def get_cohort(db: Database, name: str) -> dict[str, object]:
    with db.session() as session:
        cohort = session.scalar(select(Cohort).options(selectinload(Cohort.members)).where(Cohort.name == name))
        if cohort is None:
            raise NotFound("no cohort {name!r}", name=name)
        grouped: dict[str, list[str]] = {}
        for m in cohort.members:
            key = m.participant_code or f"\x00{m.vcf_sample}"
            grouped.setdefault(key, [])
            if m.vcf_sample:
                grouped[key].append(m.vcf_sample)
        members = [{"participant": None if k.startswith("\x00") else k, "vcf_samples": v} for k, v in grouped.items()]
        return {"name": cohort.name, "size": cohort.size, "criteria": json.loads(cohort.definition),
                "created_at": cohort.created_at.isoformat(), "created_by": cohort.created_by, "members": members}


def cohort_samples(db: Database, name: str) -> list[str]:
    """The VCF samples of a saved cohort's members: the sample subset of an AF query."""
    with db.session() as session:
        cohort_id = session.scalar(select(Cohort.id).where(Cohort.name == name))
        if cohort_id is None:
            raise NotFound("no cohort {name!r}", name=name)
        samples = session.scalars(select(CohortMember.vcf_sample).where(CohortMember.cohort_id == cohort_id,
                                                                        CohortMember.vcf_sample.is_not(None))
                                  .order_by(CohortMember.id)).all()
    return list(dict.fromkeys(s for s in samples if s))


def criteria_text(criteria: dict[str, object], language: str | None = None) -> str:
    """The criteria as a reader sees them: `Specimen type = DNA; Sex = Female` (labels, in `language`)."""
    shown = []
    for key, value in criteria.items():
        kind = CHOICE_FIELDS.get(key)
        text = label(kind, value, language) if kind else str(value)
        shown.append(f"{label('cohort_criterion', key, language)} = {text}")
    return "; ".join(shown)


MEMBER_COLUMNS = ("participant", "vcf_samples")
