"""Finding specimens: the search filter (type, status, participant, consent code, container subtree, barcode
prefix), a page of matches with their exact count, and the view of one specimen.

The queries are shaped so an index serves each filter on SQLite and PostgreSQL alike (see `_filtered` and
`_count`); `specimen_views` turns specimen rows into the dictionaries the API, CLI and pages show.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session

from lifebank.biobank._common import specimen_row
from lifebank.biobank.duo import duo_terms
from lifebank.biobank.models import ConsentCode, Container, ContainerType, Participant, Specimen
from lifebank.biobank.specimen_types import SPECIMEN_TYPES, SpecimenStatus
from lifebank.biobank.storage import containers_under, in_subtree, layout_of
from lifebank.biobank.storage_layout import GridLayout
from lifebank.biobank.tally import tally_table as _tally
from lifebank.db.engine import Database
from lifebank.errors import NotFound, ValidationFailed

# The list's sortable columns: a key from the page or API picks one of these, never raw SQL.
SORT_KEYS = ("barcode", "type", "status", "participant", "collected", "location")


@dataclass(frozen=True, slots=True)
class SpecimenFilter:
    type: str | None = None
    status: str | None = None
    participant: str | None = None
    consent: str | None = None  # DUO code the participant's consent in force carries
    container: str | None = None  # name path of any container; its whole subtree matches
    barcode_prefix: str | None = None
    # The reader's scope (lifebank.auth.Scope: sites, collections) when their grant is scoped; None: all.
    scope: Any = None


def checked_filter(session: Session, flt: SpecimenFilter) -> SpecimenFilter:
    """The filter as the database stores its values, or an error saying why it cannot match.

    An unknown type or status names the allowed values (a typo must not look like "no specimens"); a consent
    shorthand (GRU, HMB…) becomes its DUO id, as imports accept it; a container path may be typed as the UI
    shows it (spaces around '/', a trailing '/', even a tube position at the end) and a path that does not
    exist says so.
    """
    changes: dict[str, Any] = {}
    if flt.type:
        code = flt.type.strip().upper()
        if code not in SPECIMEN_TYPES:
            raise ValidationFailed("unknown specimen type {type}; allowed: {allowed}", type=flt.type,
                                   allowed=", ".join(SPECIMEN_TYPES))
        changes["type"] = code
    if flt.status:
        code = flt.status.strip().lower()
        if code not in {s.value for s in SpecimenStatus}:
            raise ValidationFailed("unknown status {status}; allowed: {allowed}", status=flt.status,
                                   allowed=", ".join(s.value for s in SpecimenStatus))
        changes["status"] = code
    if flt.consent:
        changes["consent"] = duo_code_of(flt.consent)
    if flt.container:
        changes["container"] = container_path_of(session, flt.container)
    if flt.participant:
        changes["participant"] = flt.participant.strip()
    return replace(flt, **changes)


def duo_code_of(text: str) -> str:
    """'GRU', 'gru', 'DUO:0000042' or '0000042' -> 'DUO:0000042'; anything else names a few known terms."""
    terms = duo_terms()
    item = text.strip().upper()
    by_shorthand = {t.shorthand.upper(): t.id for t in terms.values() if t.shorthand}
    code = by_shorthand.get(item) or (item if item.startswith("DUO:") else f"DUO:{item}")
    if code not in terms:
        raise ValidationFailed("{code} is not a DUO term; use an id such as DUO:0000042 or a shorthand: {allowed}",
                               code=text, allowed=", ".join(sorted(by_shorthand)))
    return code


def container_path_of(session: Session, text: str) -> str:
    """The stored name path of the container a user typed, or NotFound saying the path does not exist."""
    path = "/".join(part.strip() for part in text.strip().strip("/").split("/") if part.strip())
    candidates = [path]
    if "/" in path:
        candidates.append(path.rpartition("/")[0])  # 'FRZ-01/R01/BOX-1/A1': the box the tube sits in
    for candidate in candidates:
        if session.scalar(select(Container.id).where(Container.name_path == candidate)) is not None:
            return candidate
    raise NotFound("no storage unit has the path {path}; paths are written as in the storage page, e.g. {example}",
                   path=text, example=session.scalar(select(Container.name_path).order_by(Container.id).limit(1))
                   or "FRZ-01/R01")


def _filtered(session: Session, flt: SpecimenFilter, *, counting: bool = False) -> Any:
    query = select(Specimen)
    # With a freezer or a participant named, those indexes are the selective ones; SQLite's planner (no
    # statistics after bulk loads) could otherwise prefer (type, status), which matches millions of rows.
    # `type || ''` keeps the same meaning but takes that index out of the running. Counting within a
    # container is the exception: the covering (container_id, type, status, participant_id) index answers it
    # and wants plain columns (the first page instead walks (container_id, position) in storage order).
    narrowed = (bool(flt.participant) or (bool(flt.container) and not counting)) \
        and session.get_bind().dialect.name == "sqlite"
    type_col = Specimen.type.concat("") if narrowed else Specimen.type
    status_col = Specimen.status.concat("") if narrowed else Specimen.status
    if flt.type:
        query = query.where(type_col == flt.type.upper())
    if flt.status:
        query = query.where(status_col == flt.status)
    if flt.barcode_prefix:
        query = query.where(Specimen.barcode.startswith(flt.barcode_prefix))
    if flt.participant:
        pid = session.scalar(select(Participant.id).where(Participant.code == flt.participant))
        query = query.where(Specimen.participant_id == (pid if pid is not None else -1))
    if flt.consent:
        query = query.where(_consenting(Specimen.participant_id, flt.consent))
    if flt.container:
        root = session.scalars(select(Container).where(Container.name_path == flt.container)).one()
        query = query.where(Specimen.container_id.in_(select(Container.id).where(in_subtree(session, root.path))))
    if flt.scope is not None:
        query = query.where(in_scope(flt.scope))
    return query


def in_scope(scope: Any) -> Any:
    """SQL condition: a specimen of a participant collected at one of the scope's sites, or kept under one of
    its collections (storage paths). An empty scope matches nothing (deny by default)."""
    conditions = []
    if scope.sites:
        conditions.append(Specimen.participant_id.in_(select(Participant.id)
                                                      .where(Participant.site.in_(sorted(scope.sites)))))
    if scope.collections:
        conditions.append(Specimen.container_id.in_(containers_under(scope.collections)))
    return or_(*conditions) if conditions else false()


def _consenting(participant_id: Any, duo_code: str) -> Any:
    """Correlated EXISTS: one probe of ix_bb_consent_code_in_force per candidate, instead of materialising
    the set of every consenting participant (millions) for each search. It selects only indexed columns, so
    the probe never reads the table."""
    return select(ConsentCode.participant_id).where(ConsentCode.participant_id == participant_id,
                                                    ConsentCode.duo_code == duo_code,
                                                    ConsentCode.in_force.is_(True)).exists()


def _count(session: Session, flt: SpecimenFilter) -> int:
    """The exact number of matches.

    Type, status, consent code and container subtree (the filters of every list page) are answered from the
    tallies the database keeps per box (`bb_specimen_tally`): a freezer is the sum of its ~1,000 box rows
    (~1 ms), where counting its 50,000 plasma tubes and probing each donor's consent took 80-140 ms at 10 M
    specimens on a busy machine. The tallies are maintained by triggers in the writer's transaction, so no
    write path (import, move, status change, consent withdrawal, raw SQL) can leave them behind.
    A participant or a barcode prefix is a narrow filter the tallies do not split by; those are counted from
    their own index, as the first page is found."""
    if flt.participant or flt.barcode_prefix or flt.scope is not None:
        return session.scalar(select(func.count()).select_from(_filtered(session, flt, counting=True)
                                                                  .subquery())) or 0
    # Within a subtree: one primary-key probe per container, written out so the plan does not depend on the
    # planner's statistics (without them, PostgreSQL walked every box's row of the code). With type and status
    # given, (duo_code, type, status, container_id, n) answers each probe from the index alone; without them
    # that index cannot reach the container and SQLite read it whole per container, so `duo_code || ''`
    # takes it out of the running and the primary key (container_id, ...) serves.
    partial = bool(flt.container) and not (flt.type and flt.status)
    code = _tally.c.duo_code.concat("") if partial else _tally.c.duo_code
    rows = select(func.sum(_tally.c.n)).where(code == (flt.consent or ""))
    if flt.type:
        rows = rows.where(_tally.c.type == flt.type)
    if flt.status:
        rows = rows.where(_tally.c.status == flt.status)
    if not flt.container:
        return int(session.scalar(rows) or 0)
    root = session.scalars(select(Container).where(Container.name_path == flt.container)).one()
    per_container = rows.where(_tally.c.container_id == Container.id).scalar_subquery()
    return int(session.scalar(select(func.sum(per_container)).where(in_subtree(session, root.path))) or 0)


def search_specimens(db: Database, flt: SpecimenFilter, *, limit: int = 50, offset: int = 0,
                     with_total: bool = True, sort: str | None = None) -> tuple[int | None, list[dict[str, Any]]]:
    """A page of matching specimens, and the exact number of matches (None if not asked for; with the tallies
    of `_count` the total of a 100 k-tube freezer costs about a millisecond, so callers normally ask).

    `sort` is one of SORT_KEYS, '-' in front for descending; without it, id order (storage order within a
    container)."""
    with db.session() as session:
        flt = checked_filter(session, flt)
        query = _sorted(_filtered(session, flt), flt, sort)
        total = _count(session, flt) if with_total else None
        specimens = list(session.scalars(query.limit(limit).offset(offset)))
        items = specimen_views(session, specimens)
    return total, items


def iter_specimens(db: Database, flt: SpecimenFilter, *, sort: str | None = None,
                   batch: int = 2000) -> Iterator[dict[str, Any]]:
    """Every match of the filter, in the list's order, read in batches (what an export streams).

    The filter is checked before the first row, so a wrong filter is an error, not an empty file."""
    with db.session() as session:
        flt = checked_filter(session, flt)
    last = 0
    unsorted = not sort
    offset = 0
    while True:
        with db.session() as session:
            query = _filtered(session, flt)
            if unsorted:  # keyset paging on the id: constant cost per batch, however long the list
                rows = list(session.scalars(query.where(Specimen.id > last).order_by(Specimen.id).limit(batch)))
            else:
                rows = list(session.scalars(_sorted(query, flt, sort).limit(batch).offset(offset)))
            if not rows:
                return
            views = specimen_views(session, rows)
        yield from views
        last, offset = rows[-1].id, offset + len(rows)


def _sorted(query: Any, flt: SpecimenFilter, sort: str | None) -> Any:
    key = (sort or "").lstrip("-")
    if not key:
        # Within a container, storage order (box, position) is what people expect, and the (container_id,
        # position) index yields it directly, so the first page needs no sort of the whole freezer.
        order = (Specimen.container_id, Specimen.position, Specimen.id) if flt.container else (Specimen.id,)
        return query.order_by(*order)
    if key not in SORT_KEYS:
        raise ValidationFailed("cannot sort by {key}; sortable columns: {allowed}", key=key,
                               allowed=", ".join(SORT_KEYS))
    descending = (sort or "").startswith("-")
    if key == "participant":
        query = query.outerjoin(Participant, Participant.id == Specimen.participant_id)
        columns: list[Any] = [Participant.code]
    elif key == "location":
        query = query.outerjoin(Container, Container.id == Specimen.container_id)
        columns = [Container.name_path, Specimen.position]
    else:
        columns = [{"barcode": Specimen.barcode, "type": Specimen.type, "status": Specimen.status,
                    "collected": Specimen.collected_at}[key]]
    ordered = [(c.desc() if descending else c.asc()).nulls_last() for c in columns]
    return query.order_by(*ordered, Specimen.id.desc() if descending else Specimen.id)


def specimen_views(session: Session, specimens: Sequence[Specimen]) -> list[dict[str, Any]]:
    participant_ids = {s.participant_id for s in specimens if s.participant_id is not None}
    codes = dict(session.execute(select(Participant.id, Participant.code)
                                 .where(Participant.id.in_(participant_ids))).all()) if participant_ids else {}
    parent_ids = {s.parent_id for s in specimens if s.parent_id is not None}
    parents = dict(session.execute(select(Specimen.id, Specimen.barcode)
                                   .where(Specimen.id.in_(parent_ids))).all()) if parent_ids else {}
    box_ids = {s.container_id for s in specimens if s.container_id is not None}
    boxes: dict[int, tuple[str, GridLayout | None]] = {}
    if box_ids:
        for box, ctype in session.execute(select(Container, ContainerType)
                                          .join(ContainerType, Container.type_id == ContainerType.id)
                                          .where(Container.id.in_(box_ids))):
            boxes[box.id] = (box.name_path, layout_of(ctype))
    views = []
    for s in specimens:
        location = None
        if s.container_id is not None and s.position is not None:
            path, layout = boxes[s.container_id]
            location = f"{path}/{layout.label(s.position)}" if layout else path
        views.append({
            "barcode": s.barcode, "participant": codes.get(s.participant_id), "type": s.type,
            "quantity": s.quantity, "unit": s.unit,
            "collected_at": s.collected_at.isoformat() if s.collected_at else None,
            "status": s.status, "distributable": s.distributable, "lineage": s.lineage,
            "parent": parents.get(s.parent_id), "sprec": s.sprec, "freeze_thaw": s.freeze_thaw,
            "location": location, "notes": s.notes,
        })
    return views


def get_specimen(db: Database, barcode: str) -> dict[str, Any]:
    with db.session() as session:
        return specimen_views(session, [specimen_row(session, barcode)])[0]
