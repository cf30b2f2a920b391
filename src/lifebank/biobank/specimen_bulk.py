"""Bulk actions on a selection of tubes: move them into a box, change their status, print their labels.

Each action is planned first (what will happen to which tube, what is refused and why), shown to the user as a
preview, and then run in ONE transaction: the plan is made again inside it, and a single refusal stops the
whole run - all tubes or none, each change ledgered as the one-tube action would ledger it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifebank.biobank._common import _chunks
from lifebank.biobank.label_printing import PrintJob, print_labels
from lifebank.biobank.models import Specimen
from lifebank.biobank.specimen_types import FINAL_STATUSES
from lifebank.biobank.specimens import (
    free_positions,
    move_in_session,
    parse_status,
    status_in_session,
    status_refusal,
)
from lifebank.biobank.storage import Location, location_label
from lifebank.db.engine import Database
from lifebank.errors import Conflict, LifeBankError, ValidationFailed
from lifebank.messages import Msg

ACTIONS = ("move", "status", "labels")
MAX_SELECTION = 1000


@dataclass(frozen=True, slots=True)
class PlannedTube:
    barcode: str
    outcome: Msg | None = None  # what will happen
    refused: Msg | None = None  # why it cannot


@dataclass
class BulkPlan:
    action: str
    tubes: list[PlannedTube] = field(default_factory=list)
    problem: Msg | None = None  # a refusal of the whole action (a full box, a wrong status)

    @property
    def refused(self) -> list[PlannedTube]:
        return [t for t in self.tubes if t.refused is not None]

    @property
    def runnable(self) -> bool:
        return self.problem is None and not self.refused and bool(self.tubes)


def _selection(barcodes: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(b.strip() for b in barcodes if b and b.strip()))
    if not wanted:
        raise ValidationFailed("select at least one specimen")
    if len(wanted) > MAX_SELECTION:
        raise ValidationFailed("a bulk action takes at most {limit} specimens", limit=MAX_SELECTION)
    return wanted


def _rows(session: Session, barcodes: list[str], *, lock: bool) -> dict[str, Specimen]:
    found: dict[str, Specimen] = {}
    for chunk in _chunks(barcodes):
        query = select(Specimen).where(Specimen.barcode.in_(chunk)).order_by(Specimen.id)
        if lock:
            query = query.with_for_update()
        found.update((s.barcode, s) for s in session.scalars(query))
    return found


def _plan(session: Session, action: str, barcodes: list[str], params: dict[str, Any], *,
          lock: bool) -> tuple[BulkPlan, dict[str, Specimen], dict[str, Location]]:
    if action not in ACTIONS:
        raise ValidationFailed("unknown bulk action {action}; allowed: {allowed}", action=action,
                               allowed=", ".join(ACTIONS))
    rows = _rows(session, barcodes, lock=lock)
    plan = BulkPlan(action)
    targets: dict[str, Location] = {}
    unknown = {b: PlannedTube(b, refused=Msg("no specimen has this barcode")) for b in barcodes if b not in rows}
    if action == "move":
        box_path = (params.get("box") or "").strip()
        if not box_path:
            raise ValidationFailed("choose the box to move the tubes into")
        box, layout, free = free_positions(session, box_path)
        movable = [b for b in barcodes if b in rows and rows[b].status not in FINAL_STATUSES]
        run = _contiguous(free, len(movable))
        if run is None:
            plan.problem = Msg("{box} has no {count} free positions in a row ({free} free)", box=box.name_path,
                               count=len(movable), free=len(free))
        for barcode in barcodes:
            if barcode in unknown:
                plan.tubes.append(unknown[barcode])
            elif rows[barcode].status in FINAL_STATUSES:
                plan.tubes.append(PlannedTube(barcode, refused=Msg("it is {status} and no longer stored",
                                                                   status=_status(rows[barcode].status))))
            elif run is not None:
                index = run[movable.index(barcode)]
                targets[barcode] = Location(box, layout, index)
                plan.tubes.append(PlannedTube(barcode, outcome=Msg("moves to {location}",
                                                                   location=targets[barcode].label)))
            else:
                plan.tubes.append(PlannedTube(barcode))
    elif action == "status":
        target = parse_status(params.get("status") or "")
        note = (params.get("note") or "").strip()
        if target == "reserved":  # a reservation has a purpose and a holder: it is its own action
            plan.problem = Msg("reserving needs a purpose: use Reserve on the specimen's page or the API")
        for barcode in barcodes:
            if barcode in unknown:
                plan.tubes.append(unknown[barcode])
            elif (why := status_refusal(rows[barcode], target, note)) is not None:
                plan.tubes.append(PlannedTube(barcode, refused=why))
            else:
                plan.tubes.append(PlannedTube(barcode, outcome=Msg("{before} → {after}",
                                                                   before=_status(rows[barcode].status),
                                                                   after=_status(target))))
    else:
        for barcode in barcodes:
            plan.tubes.append(unknown.get(barcode) or PlannedTube(barcode, outcome=Msg("label printed")))
    return plan, rows, targets


def _status(code: str) -> Msg:
    from lifebank.biobank._common import status_text

    return status_text(code)


def _contiguous(free: list[int], count: int) -> list[int] | None:
    """The first run of `count` consecutive free positions (in the box's grid order), or None."""
    if count == 0:
        return []
    start = 0
    for i in range(1, len(free) + 1):
        if i == len(free) or free[i] != free[i - 1] + 1:
            if i - start >= count:
                return free[start:start + count]
            start = i
    return None


def preview(db: Database, action: str, barcodes: Sequence[str], params: dict[str, Any]) -> BulkPlan:
    """What `run` would do to each tube, and what it would refuse and why. Writes nothing."""
    wanted = _selection(barcodes)
    with db.session() as session:
        return _plan(session, action, wanted, params, lock=False)[0]


def run(db: Database, action: str, barcodes: Sequence[str], params: dict[str, Any], *,
        actor: str) -> BulkPlan | PrintJob:
    """Carry out a bulk action in one transaction: all tubes or none (any refusal raises Conflict)."""
    wanted = _selection(barcodes)
    if action == "labels":
        with db.session() as session:
            plan = _plan(session, action, wanted, params, lock=False)[0]
        _refuse_unless_runnable(plan)
        return print_labels(db, wanted, fmt=params.get("format") or "pdf", template=params.get("template"),
                            actor=actor)
    with db.transaction() as session:
        plan, rows, targets = _plan(session, action, wanted, params, lock=True)
        _refuse_unless_runnable(plan)
        if action == "move":
            # Clear the tubes' old positions first, so a reshuffle within one box cannot collide with itself.
            moving = [rows[b] for b in wanted]
            before = {s.barcode: location_label(session, s) for s in moving}
            for specimen in moving:
                specimen.container_id, specimen.position = None, None
            session.flush()
            for specimen in moving:
                move_in_session(session, specimen, targets[specimen.barcode], actor=actor,
                                before=before[specimen.barcode])
        else:
            target = parse_status(params.get("status") or "")
            for barcode in wanted:
                status_in_session(session, rows[barcode], target, actor=actor, note=(params.get("note") or ""))
    return plan


def _refuse_unless_runnable(plan: BulkPlan) -> None:
    if plan.problem is not None:
        raise Conflict(plan.problem)
    if plan.refused:
        first = plan.refused[:10]
        raise Conflict(Msg("{count} specimen refused, nothing was changed: {details}",
                           plural="{count} specimens refused, nothing was changed: {details}",
                           count=len(plan.refused),
                           details=[Msg("{barcode}: {reason}", barcode=t.barcode, reason=t.refused)
                                    for t in first]))


__all__ = ["ACTIONS", "BulkPlan", "LifeBankError", "PlannedTube", "preview", "run"]
