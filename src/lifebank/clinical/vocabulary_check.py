"""Flag record codes a loaded vocabulary does not know (never reject them: codes are kept as sent)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifebank.clinical._store import chunks
from lifebank.clinical.codes import SYSTEM_VOCABULARIES
from lifebank.clinical.models import ClinConcept

SHOWN = 20


def unknown_codes(session: Session, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Codes under a system whose vocabulary is loaded (any concept of it) but absent from it: a count and
    the first few (system, code, records). Systems with no loaded vocabulary are not judged."""
    wanted: Counter[tuple[str, str]] = Counter((r["system"], r["code"]) for r in rows
                                               if r["system"] in SYSTEM_VOCABULARIES and r["code"])
    if not wanted:
        return {"count": 0, "codes": []}
    unknown: list[tuple[str, str, int]] = []
    for system in {s for s, _c in wanted}:
        vocabulary = SYSTEM_VOCABULARIES[system]
        if session.scalar(select(ClinConcept.concept_id).where(ClinConcept.vocabulary_id == vocabulary)
                          .limit(1)) is None:
            continue
        codes = sorted({c for s, c in wanted if s == system})
        known: set[str] = set()
        for part in chunks(codes):
            known.update(session.scalars(select(ClinConcept.concept_code).where(
                ClinConcept.vocabulary_id == vocabulary, ClinConcept.concept_code.in_(part))))
        unknown += [(system, code, wanted[(system, code)]) for code in codes if code not in known]
    return {"count": len(unknown), "codes": [{"system": s, "code": c, "records": n} for s, c, n in unknown[:SHOWN]]}
