"""Use cases of saved patient searches: keep a search, list them, re-run one on demand, remove one.

The registry changes every day (imports, updates, new frequency sets) while the patient's typing does not, so a
coordinator keeps the search and re-runs it. Saving runs the search once (a typing that does not parse is
refused before anything is stored); every save, run and removal is a ledger event in the same transaction.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from lifebank.audit import service as ledger
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import NotFound, ValidationFailed
from lifebank.hla import service
from lifebank.hla.models import SavedSearch

PARAMETERS = ("max_mismatches", "loci", "donor_type", "min_probability", "frequencies")


def _as_dict(row: SavedSearch) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "patient": row.patient, "parameters": json.loads(row.parameters),
            "created_by": row.created_by, "created_at": row.created_at, "last_run_at": row.last_run_at,
            "last_total": row.last_total}


def _parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    unknown = set(parameters) - set(PARAMETERS)
    if unknown:
        raise ValidationFailed("unknown search parameter(s): {names}", names=", ".join(sorted(unknown)))
    return {k: v for k, v in parameters.items() if v not in (None, "")}


def save(db: Database, name: str, patient: str, parameters: dict[str, Any], *, actor: str) -> dict[str, Any]:
    name, patient = name.strip(), patient.strip()
    if not name or len(name) > 128:
        raise ValidationFailed("name: give a name of 1 to 128 characters")
    params = _parameters(parameters)
    result = service.search(db, patient, limit=1, **params)  # refuses a bad typing or parameter first
    with db.transaction() as session:
        row = SavedSearch(name=name, patient=patient, parameters=json.dumps(params, sort_keys=True),
                          created_by=actor, last_run_at=utcnow(), last_total=result["total"])
        session.add(row)
        session.flush()
        ledger.record(session, actor=actor, action="hla.search.save", entity_type="hla_saved_search",
                      entity_id=str(row.id), change={"name": name, "patient": patient, **params})
        return _as_dict(row)


def list_saved(db: Database) -> list[dict[str, Any]]:
    with db.session() as session:
        rows = session.execute(select(SavedSearch).order_by(SavedSearch.id.desc())).scalars().all()
        return [_as_dict(r) for r in rows]


def get_saved(db: Database, search_id: int) -> dict[str, Any]:
    with db.session() as session:
        row = session.get(SavedSearch, search_id)
        if row is None:
            raise NotFound("saved search {id} does not exist", id=search_id)
        return _as_dict(row)


def run(db: Database, search_id: int, *, actor: str, limit: int = 20, offset: int = 0) -> dict[str, Any]:
    """Run a saved search again against today's registry; records when and how many donors it found."""
    saved = get_saved(db, search_id)
    result = service.search(db, saved["patient"], limit=limit, offset=offset, **saved["parameters"])
    with db.transaction() as session:
        row = session.get(SavedSearch, search_id)
        if row is None:
            raise NotFound("saved search {id} does not exist", id=search_id)
        before = row.last_total
        row.last_run_at, row.last_total = utcnow(), result["total"]
        ledger.record(session, actor=actor, action="hla.search.run", entity_type="hla_saved_search",
                      entity_id=str(search_id), change={"total": result["total"], "previous_total": before})
    return {"search": get_saved(db, search_id), "previous_total": before, "result": result}


def delete(db: Database, search_id: int, *, actor: str) -> None:
    with db.transaction() as session:
        row = session.get(SavedSearch, search_id)
        if row is None:
            raise NotFound("saved search {id} does not exist", id=search_id)
        session.delete(row)
        ledger.record(session, actor=actor, action="hla.search.delete", entity_type="hla_saved_search",
                      entity_id=str(search_id), change={"name": row.name})
