"""Step 3 of the biobank imports: the rows that passed on their own, checked against the database in bulk.

Runs inside the write transaction, so nothing changes between the check and the write: participant codes
already taken; for specimens, barcodes already stored, unknown participants and participants whose consent was
withdrawn, unknown parents and impossible lineage (a parent of another participant), unknown boxes, positions
outside a box's grid and positions already occupied (in the bank or by an earlier line of the file). Each
problem is appended as a `RowError`; what the lookups found is handed on to the write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifebank.biobank.import_checks import _Row
from lifebank.biobank.import_sql import LOOKUP_CHUNK, _chunks, _lookup
from lifebank.biobank.models import Container, ContainerType, Participant
from lifebank.biobank.specimen_types import LineageError, LineageKind, lineage_kind
from lifebank.biobank.storage import layout_of
from lifebank.biobank.storage_layout import GridLayout, LayoutError
from lifebank.errors import RowError
from lifebank.messages import Msg


@dataclass(frozen=True, slots=True)
class _Box:
    id: int
    layout: GridLayout


@dataclass(frozen=True, slots=True)
class SpecimenLookups:
    """What the database (and the file itself) says about the rows of a specimen file, for the write."""

    people: dict[str, tuple[int, bool]]  # participant code -> (id, has a consent in force)
    in_file: dict[str, _Row]  # barcode -> its row in the file
    stored_parents: dict[str, tuple[int, str, int | None, bool]]  # barcode -> (id, type, owner, distributable)
    boxes: dict[str, _Box | None]  # box path -> the box, None when there is no such box
    index_cache: dict[tuple[int, str], int]  # (box id, position label) -> position index


def check_participants_against_db(session: Session, seen: dict[str, int], errors: list[RowError]) -> None:
    """A participant code of the file that the bank holds already."""
    for chunk in _chunks(list(seen), LOOKUP_CHUNK):
        for code in session.scalars(select(Participant.code).where(Participant.code.in_(chunk))):
            errors.append(RowError(seen[code], "participant", Msg("{code} already exists", code=code)))


def people_with_consent(session: Session, codes: Sequence[str]) -> dict[str, tuple[int, bool]]:
    """Participant code -> (id, whether a consent is in force), for the codes the bank holds."""
    people: dict[str, tuple[int, bool]] = {}
    for pid, code, ok in _lookup(session, "SELECT p.id, p.code, EXISTS (SELECT 1 FROM bb_consent c WHERE "
                                 "c.participant_id = p.id AND c.withdrawn_at IS NULL) FROM bb_participant p "
                                 "WHERE p.code IN ({})", codes):
        people[code] = (pid, bool(ok))
    return people


def check_specimens_against_db(session: Session, rows: list[_Row], line_of: dict[str, int],
                               errors: list[RowError]) -> SpecimenLookups:
    """Every good specimen row against the bank: barcodes, participants, parents, boxes and positions."""
    # barcodes already stored
    for (barcode,) in _lookup(session, "SELECT barcode FROM bb_specimen WHERE barcode IN ({})", list(line_of)):
        errors.append(RowError(line_of[barcode], "barcode", Msg("barcode {barcode} is already stored",
                                                                  barcode=barcode)))
    # participants and whether a consent is in force
    codes = list({r.participant for r in rows if r.participant})
    people = people_with_consent(session, codes)
    # parents stored before
    in_file = {r.barcode: r for r in rows}
    outside = list({p for r in rows for p in r.parents if p not in in_file and p not in line_of})
    stored_parents: dict[str, tuple[int, str, int | None, bool]] = {}
    for sid, bc, t_, pid, dist in _lookup(session, "SELECT id, barcode, type, participant_id, distributable "
                                          "FROM bb_specimen WHERE barcode IN ({})", outside):
        stored_parents[bc] = (sid, t_, pid, bool(dist))
    # boxes and their occupied positions
    boxes = _boxes(session, list({r.box_path for r in rows if r.box_path}))
    taken: dict[tuple[int, int], int] = {}
    box_ids = [b.id for b in boxes.values() if b is not None]
    for cid, pos in _lookup(session, "SELECT container_id, position FROM bb_specimen WHERE container_id IN ({})",
                            box_ids):
        taken[(cid, pos)] = 0
    label_tables: dict[GridLayout, dict[str, int]] = {}
    index_cache: dict[tuple[int, str], int] = {}
    for row in rows:
        if row.participant:
            person = people.get(row.participant)
            if person is None:
                errors.append(RowError(row.line, "participant", Msg("unknown participant {code}",
                                                                   code=row.participant)))
            elif not person[1]:
                errors.append(RowError(row.line, "participant",
                                       Msg("participant {code} has withdrawn consent", code=row.participant)))
        if row.parents:
            _check_lineage(row, people, in_file, stored_parents, errors)
        if row.box_path:
            _check_position(row, boxes, taken, label_tables, index_cache, errors)
    return SpecimenLookups(people, in_file, stored_parents, boxes, index_cache)


def _boxes(session: Session, box_paths: list[str]) -> dict[str, _Box | None]:
    """Box path -> the box with its grid; None for a path that names no box."""
    boxes: dict[str, _Box | None] = {path: None for path in box_paths}
    for chunk in _chunks(box_paths, LOOKUP_CHUNK):
        for box, ctype in session.execute(select(Container, ContainerType)
                                          .join(ContainerType, Container.type_id == ContainerType.id)
                                          .where(Container.name_path.in_(chunk))):
            layout = layout_of(ctype)
            if layout is not None:
                boxes[box.name_path] = _Box(box.id, layout)
    return boxes


def _check_lineage(row: _Row, people: dict[str, tuple[int, bool]], in_file: dict[str, _Row],
                   stored_parents: dict[str, tuple[int, str, int | None, bool]], errors: list[RowError]) -> None:
    """Parents known (in the file or the bank), a lineage the types allow, and no parent of another participant."""
    parent_types = []
    for parent in row.parents:
        if parent in in_file:
            parent_types.append(in_file[parent].type)
        elif parent in stored_parents:
            parent_types.append(stored_parents[parent][1])
        else:
            errors.append(RowError(row.line, "parent_barcode", Msg("unknown parent {parent}", parent=parent)))
    if len(parent_types) == len(row.parents):
        try:
            kind = lineage_kind(parent_types, row.type)
        except LineageError as exc:
            errors.append(RowError(row.line, "type", exc.message))
        else:
            if row.participant and kind is not LineageKind.POOL and row.participant in people:
                parent = row.parents[0]
                parent_owner = (people.get(in_file[parent].participant, (None,))[0]
                                if parent in in_file and in_file[parent].participant
                                else stored_parents[parent][2] if parent in stored_parents else None)
                if parent_owner is not None and parent_owner != people[row.participant][0]:
                    errors.append(RowError(row.line, "participant",
                                           Msg("parent {parent} belongs to another participant", parent=parent)))


def _check_position(row: _Row, boxes: dict[str, _Box | None], taken: dict[tuple[int, int], int],
                    label_tables: dict[GridLayout, dict[str, int]], index_cache: dict[tuple[int, str], int],
                    errors: list[RowError]) -> None:
    """A known box, a position on its grid, free in the bank and not claimed by an earlier line (which it
    then claims: `taken` maps a position to the line that took it, 0 for the bank)."""
    box = boxes[row.box_path]
    if box is None:
        errors.append(RowError(row.line, "location", Msg("no box {box!r}", box=row.box_path)))
        return
    labels = label_tables.get(box.layout)
    if labels is None:
        labels = label_tables[box.layout] = {label: i for i, label in enumerate(box.layout.labels())}
    index = labels.get(row.position)
    if index is None:
        try:
            index = box.layout.index_of(row.position)  # lower case, '03', ... or the reason why not
        except LayoutError as exc:
            errors.append(RowError(row.line, "location", exc.message))
            return
    index_cache[(box.id, row.position)] = index
    occupant = taken.get((box.id, index))
    if occupant is not None:
        reason = (Msg("position {location} is occupied by line {other}", location=f"{row.box_path}/{row.position}",
                      other=occupant) if occupant else
                  Msg("position {location} is occupied already", location=f"{row.box_path}/{row.position}"))
        errors.append(RowError(row.line, "location", reason))
    else:
        taken[(box.id, index)] = row.line
