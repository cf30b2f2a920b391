"""A specimen's lineage and history: ancestors up to the primary specimen, descendants (aliquots, derivatives,
pools made from it), and the full story of moves, status events, reservations, QC and ledger events.

Read-only use cases; they build on `search.specimen_views` for the specimen itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifebank.audit import service as ledger
from lifebank.biobank._common import specimen_row
from lifebank.biobank.models import PoolMember, QcMeasurement, Reservation, Specimen, SpecimenEvent
from lifebank.biobank.search import specimen_views
from lifebank.db.engine import Database


def _lineage_tree(session: Session, root: Specimen, *, depth: int = 6) -> dict[str, Any]:
    node = {"barcode": root.barcode, "type": root.type, "lineage": root.lineage, "status": root.status,
            "children": []}
    if depth == 0:
        return node
    # Two indexed lookups rather than one OR, which PostgreSQL would answer with a scan of every specimen.
    children = list(session.scalars(select(Specimen).where(Specimen.parent_id == root.id)
                                    .order_by(Specimen.id).limit(500)))
    pool_ids = list(session.scalars(select(PoolMember.pool_id).where(PoolMember.parent_id == root.id).limit(500)))
    if pool_ids:
        children += list(session.scalars(select(Specimen).where(Specimen.id.in_(pool_ids))))
        children.sort(key=lambda child: child.id)
    node["children"] = [_lineage_tree(session, child, depth=depth - 1) for child in children]
    return node


def _ancestors(session: Session, specimen: Specimen) -> list[dict[str, Any]]:
    """Parents up to the primary specimen (pool parents listed at their level)."""
    chain: list[dict[str, Any]] = []
    frontier = [specimen]
    seen: set[int] = {specimen.id}
    while frontier:
        ids = [s.parent_id for s in frontier if s.parent_id is not None]
        pooled = [s.id for s in frontier if s.lineage == "pool"]
        if pooled:
            ids += list(session.scalars(select(PoolMember.parent_id).where(PoolMember.pool_id.in_(pooled))))
        if not ids:
            break
        frontier = [p for p in session.scalars(select(Specimen).where(Specimen.id.in_(ids)).order_by(Specimen.id))
                    if p.id not in seen]
        seen.update(p.id for p in frontier)
        chain.extend({"barcode": p.barcode, "type": p.type, "lineage": p.lineage, "status": p.status}
                     for p in frontier)
    return chain


def specimen_lineage(db: Database, barcode: str) -> dict[str, Any]:
    """Lineage up (to the primary specimen) and down (aliquots, derivatives, pools made from it)."""
    with db.session() as session:
        specimen = specimen_row(session, barcode)
        return {"barcode": barcode, "ancestors": _ancestors(session, specimen),
                "descendants": _lineage_tree(session, specimen)["children"]}


def specimen_history(db: Database, barcode: str) -> dict[str, Any]:
    """A specimen's full story: lineage up and down, moves and status events, reservations, QC, ledger events."""
    with db.session() as session:
        specimen = specimen_row(session, barcode)
        view = specimen_views(session, [specimen])[0]
        events = [{"at": e.occurred_at.isoformat(), "kind": e.kind, "detail": e.detail, "actor": e.actor}
                  for e in session.scalars(select(SpecimenEvent).where(SpecimenEvent.specimen_id == specimen.id)
                                           .order_by(SpecimenEvent.id))]
        reservations = [{"purpose": r.purpose, "by": r.reserved_by, "at": r.reserved_at.isoformat(),
                         "released_at": r.released_at.isoformat() if r.released_at else None}
                        for r in session.scalars(select(Reservation).where(Reservation.specimen_id == specimen.id)
                                                 .order_by(Reservation.id))]
        qc = [{"kind": q.kind, "value": q.value, "unit": q.unit, "method": q.method,
               "at": q.measured_at.isoformat()}
              for q in session.scalars(select(QcMeasurement).where(QcMeasurement.specimen_id == specimen.id)
                                       .order_by(QcMeasurement.id))]
        ancestors = _ancestors(session, specimen)
        descendants = _lineage_tree(session, specimen)["children"]
    _total, ledger_events = ledger.list_events(db, entity_type="specimen", entity_id=barcode, limit=200)
    return {"specimen": view, "ancestors": ancestors, "descendants": descendants, "events": events,
            "reservations": reservations, "qc": qc,
            "ledger": [ledger.event_view(e) for e in ledger_events]}
