"""Use case: load (replace) the site's own OHDSI vocabulary from an Athena download folder."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from lifebank.audit import service as ledger
from lifebank.clinical import vocabulary
from lifebank.clinical.models import ClinConcept, ClinConceptAncestor, ClinConceptRelationship
from lifebank.db.engine import Database

BATCH = 10_000


def _batches(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH)):
        yield batch


def _insert(session: Session, table: Any, rows: Iterable[dict[str, Any]], seen: set[tuple[Any, ...]] | None = None,
            key: tuple[str, ...] = ()) -> int:
    count = 0
    for batch in _batches(rows):
        if seen is not None:
            fresh = []
            for row in batch:
                k = tuple(row[c] for c in key)
                if k not in seen:
                    seen.add(k)
                    fresh.append(row)
            batch = fresh
        if batch:
            session.execute(insert(table), batch)
            count += len(batch)
    return count


def load_vocabulary(db: Database, folder: Path, *, actor: str) -> dict[str, int]:
    """Replace the loaded vocabulary with the folder's CONCEPT, CONCEPT_ANCESTOR and CONCEPT_RELATIONSHIP.

    Every file's columns are checked before anything is deleted; a bad row rolls the whole load back."""
    for name, columns in vocabulary.FILES.items():
        vocabulary.check_columns(folder / name, columns)
    with db.transaction() as session:
        for table in (ClinConceptAncestor, ClinConceptRelationship, ClinConcept):
            session.execute(delete(table))
        concepts = _insert(session, ClinConcept, vocabulary.concepts(folder / "CONCEPT.csv"), set(), ("concept_id",))
        relationships = _insert(session, ClinConceptRelationship,
                                vocabulary.relationships(folder / "CONCEPT_RELATIONSHIP.csv"), set(),
                                ("concept_id_1", "concept_id_2", "relationship_id"))
        ancestors = _insert(session, ClinConceptAncestor, vocabulary.ancestors(folder / "CONCEPT_ANCESTOR.csv"),
                            set(), ("ancestor_concept_id", "descendant_concept_id"))
        derived = 0
        if ancestors == 0:
            ids = set(session.scalars(select(ClinConcept.concept_id)))
            rel = ClinConceptRelationship
            is_a = list(session.execute(select(rel.concept_id_1, rel.concept_id_2)
                                        .where(rel.relationship_id == "Is a")))
            derived = _insert(session, ClinConceptAncestor, vocabulary.ancestry_from_is_a(ids, is_a))
        result = {"concepts": concepts, "relationships": relationships, "ancestors": ancestors,
                  "ancestors_derived": derived}
        ledger.record(session, actor=actor, action="clinical.vocabulary.load", entity_type="vocabulary",
                      entity_id=folder.name[:200], change=result)
    return result


def vocabulary_summary(db: Database) -> dict[str, int]:
    """Concepts per vocabulary_id in the loaded vocabulary."""
    with db.session() as session:
        return dict(session.execute(select(ClinConcept.vocabulary_id, func.count())
                                    .group_by(ClinConcept.vocabulary_id)).all())
