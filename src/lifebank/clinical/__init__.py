"""The clinical domain: diagnoses, labs, procedures, medications, encounters and deaths of biobank participants,
in from FHIR R4 and OMOP CDM 5.4, out as OMOP and a read-only FHIR API.

What other domains may use (never the `clin_` tables):
- `participants_with_clinical(db, criteria, among=None)` -> the participant codes meeting every clinical criterion
  (`ClinicalCriteria`: a diagnosis code with or without its descendants, age at diagnosis, a lab value range,
  a medication); the cohort builder combines it with consent, specimen and genotype criteria.
- `clinical_timeline(db, participant_code)` -> the participant's records on one time axis (for pages).

Imports are deferred so that importing a pure module of this package does not pull in SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from lifebank.clinical.criteria import ClinicalCriteria

if TYPE_CHECKING:
    from lifebank.db.engine import Database


def participants_with_clinical(db: Database, criteria: ClinicalCriteria,
                               among: Collection[str] | None = None) -> set[str]:
    """Codes of participants meeting every criterion set in `criteria` (an empty one: every linked participant);
    with `among`, only those of these codes (a cohort's candidates: the query then reads only their rows)."""
    from lifebank.clinical import queries

    return queries.participants_with_clinical(db, criteria, among)


def clinical_timeline(db: Database, participant_code: str) -> list[dict[str, Any]]:
    """Every record of the participant, oldest first: kind, code, display, start, end, value, unit."""
    from lifebank.clinical import queries

    return queries.clinical_timeline(db, participant_code)


__all__ = ["ClinicalCriteria", "clinical_timeline", "participants_with_clinical"]
