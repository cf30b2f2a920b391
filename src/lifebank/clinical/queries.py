"""Read use cases: the cohort builder's clinical criteria and a participant's timeline."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import and_, extract, intersect, select

from lifebank.clinical import _store
from lifebank.clinical.codes import SYSTEM_VOCABULARIES, VOCABULARY_SYSTEMS, system_uri
from lifebank.clinical.criteria import ClinicalCriteria
from lifebank.clinical.models import ClinConcept, ClinConceptAncestor, ClinPatient, ClinRecord
from lifebank.db.engine import Database

_OPS = {"<": "__lt__", "<=": "__le__", "=": "__eq__", ">=": "__ge__", ">": "__gt__"}


def descendant_codes(session: Any, system: str | None, code: str) -> set[tuple[str, str]]:
    """(system, code) of the code and every descendant in the loaded vocabulary (just the code if none)."""
    found = {(system or "", code)}
    vocabularies = ([SYSTEM_VOCABULARIES[system]] if system in SYSTEM_VOCABULARIES
                    else list(SYSTEM_VOCABULARIES.values()))
    ancestor = ClinConcept.__table__.alias("a")
    rows = session.execute(
        select(ClinConcept.vocabulary_id, ClinConcept.concept_code)
        .join(ClinConceptAncestor, ClinConceptAncestor.descendant_concept_id == ClinConcept.concept_id)
        .join(ancestor, ancestor.c.concept_id == ClinConceptAncestor.ancestor_concept_id)
        .where(ancestor.c.concept_code == code, ancestor.c.vocabulary_id.in_(vocabularies)))
    found |= {(VOCABULARY_SYSTEMS.get(v, ""), c) for v, c in rows}
    return found


def participants_with_clinical(db: Database, criteria: ClinicalCriteria,
                               among: Collection[str] | None = None) -> set[str]:
    """Codes of participants meeting every criterion (only those in `among` when given).

    One statement: each criterion is a query of participant codes and the database intersects them
    (`INTERSECT`), so only the answer travels back, not every participant with a common lab test."""
    with db.session() as session:
        base = select(ClinPatient.participant_code).join(ClinRecord, ClinRecord.patient_id == ClinPatient.id)
        parts: list[Any] = []
        if criteria.diagnosis:
            system = system_uri(criteria.diagnosis_system) if criteria.diagnosis_system else None
            if criteria.descendants:
                pairs = descendant_codes(session, system, criteria.diagnosis.strip())
                codes = sorted({c for _s, c in pairs})
            else:
                codes = [criteria.diagnosis.strip()]
            query = base.where(ClinRecord.kind == "condition", ClinRecord.code.in_(codes))
            if system:
                query = query.where(ClinRecord.system == system)
            if criteria.min_age is not None or criteria.max_age is not None:
                age = extract("year", ClinRecord.start) - ClinPatient.birth_year
                if criteria.min_age is not None:
                    query = query.where(age >= criteria.min_age)
                if criteria.max_age is not None:
                    query = query.where(age <= criteria.max_age)
            parts.append(query)
        if criteria.lab_code:
            op = getattr(ClinRecord.value_num, _OPS[criteria.lab_comparator or "="])
            parts.append(base.where(ClinRecord.kind == "measurement", ClinRecord.code == criteria.lab_code.strip(),
                                    and_(ClinRecord.value_num.is_not(None), op(criteria.lab_value))))
        if criteria.medication:
            parts.append(base.where(ClinRecord.kind.in_(("medication", "immunization")),
                                    ClinRecord.code == criteria.medication.strip()))
        if not parts:
            parts.append(select(ClinPatient.participant_code))
        wanted = sorted(set(among)) if among is not None else None
        if wanted is not None and not wanted:
            return set()
        found: set[str] = set()
        # a cohort's candidates (carriers of a variant) are few; a long list is checked in chunks
        for chunk in ([None] if wanted is None else _store.chunks(wanted)):
            queries = [q if chunk is None else q.where(ClinPatient.participant_code.in_(chunk)) for q in parts]
            statement = queries[0].distinct() if len(queries) == 1 else intersect(*queries)
            found.update(session.scalars(statement))
        return found


def clinical_timeline(db: Database, participant_code: str) -> list[dict[str, Any]]:
    with db.session() as session:
        rows = session.execute(
            select(ClinRecord.kind, ClinRecord.system, ClinRecord.code, ClinRecord.display, ClinRecord.start,
                   ClinRecord.end, ClinRecord.value_num, ClinRecord.unit, ClinRecord.value_text,
                   ClinRecord.source_type, ClinRecord.source_id)
            .join(ClinPatient, ClinPatient.id == ClinRecord.patient_id)
            .where(ClinPatient.participant_code == participant_code)
            .order_by(ClinRecord.start, ClinRecord.id)).mappings().all()
        return [dict(r) for r in rows]
