"""Storage: container types, containers (site > freezer/tank > rack > box), moving a rack or box, locations.

Holds the use cases that shape and read the storage tree (define a container type, create, list and move
containers, occupancy of a subtree, the grid of a box) and those that resolve or choose a position for a
tube (`resolve_location`, `location_label`, and `place_specimens`, which auto-places unstored specimens in
boxes of the right temperature class). Containers carry a materialised path, so a subtree is one index range.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from lifebank.audit import service as ledger
from lifebank.biobank import vocabulary as _vocabulary  # noqa: F401 - registers the temperature labels
from lifebank.biobank._common import _event, specimen_row
from lifebank.biobank.models import Container, ContainerType, Specimen
from lifebank.biobank.placement import BoxState, InsufficientSpace, Strategy, plan_placement
from lifebank.biobank.specimen_types import SPECIMEN_TYPES
from lifebank.biobank.storage_layout import (
    ContainerKind,
    GridLayout,
    LabelScheme,
    LayoutError,
    TemperatureClass,
    can_hold,
)
from lifebank.db.engine import Database
from lifebank.errors import Conflict, NotFound, ValidationFailed
from lifebank.messages import N_, Msg, labels_of, register_labels

# Container kinds as nouns inside a sentence ("a rack cannot hold a freezer"); pages use the capitalised
# labels of vocabulary.py.
_NOUNS = {"site": Msg("site"), "freezer": Msg("freezer"), "tank": Msg("liquid-nitrogen tank"),
          "automated_store": Msg("automated store"), "rack": Msg("rack"), "box": Msg("box")}


register_labels("label_scheme", {"letter-number": N_("Letter-number (A1…H12)"),
                                 "number-number": N_("Number-number (1-1…10-10)"),
                                 "sequential": N_("Sequential (1…81)")})


def kind_noun(kind: str) -> Msg | str:
    return _NOUNS.get(kind, kind)


def temperature_text(code: str | None) -> Msg:
    """A temperature class as users read it ("−80 °C"), in the reader's language."""
    return Msg(labels_of("temperature_class").get(code, code)) if code else Msg("no temperature class")


def define_container_type(db: Database, name: str, *, kind: str, rows: int | None = None,
                          columns: int | None = None, scheme: str | None = None, actor: str) -> ContainerType:
    try:
        kind_ = ContainerKind(kind)
        if kind_ is ContainerKind.BOX:
            if not rows or not columns:
                raise ValidationFailed("a box type needs rows and columns")
            GridLayout(rows, columns, LabelScheme(scheme or LabelScheme.LETTER_NUMBER))
    except LayoutError as exc:
        raise ValidationFailed(exc.message) from None
    except ValueError:
        raise ValidationFailed("container kind {kind!r} is not one of {choices}", kind=kind,
                               choices=", ".join(k.value for k in ContainerKind)) from None
    with db.transaction() as session:
        if session.scalar(select(ContainerType.id).where(ContainerType.name == name)) is not None:
            raise Conflict("container type {name!r} already exists", name=name)
        ctype = ContainerType(name=name, kind=kind_.value, rows=rows, columns=columns,
                              scheme=(scheme or LabelScheme.LETTER_NUMBER.value) if kind_ is ContainerKind.BOX
                              else None)
        session.add(ctype)
        session.flush()
        ledger.record(session, actor=actor, action="storage.type.define", entity_type="container_type",
                      entity_id=name, change={"kind": kind, "rows": rows, "columns": columns, "scheme": scheme})
    return ctype


def layout_of(ctype: ContainerType) -> GridLayout | None:
    if ctype.kind != ContainerKind.BOX or not ctype.rows or not ctype.columns:
        return None
    return GridLayout(ctype.rows, ctype.columns, LabelScheme(ctype.scheme or LabelScheme.LETTER_NUMBER))


def container_at(session: Session, name_path: str) -> Container:
    container = session.scalar(select(Container).where(Container.name_path == name_path.strip("/")))
    if container is None:
        raise NotFound("container {path!r} does not exist", path=name_path)
    return container


def create_container(db: Database, name: str, *, type_name: str, parent_path: str | None = None,
                     temperature_class: str | None = None, actor: str) -> Container:
    """Add a container under `parent_path` (None for a site); nesting rules and temperature class are checked.

    Storage units set the temperature class; racks and boxes inherit it from the unit they sit in.
    """
    if not name or "/" in name or len(name) > 64:
        raise ValidationFailed("container name {name!r} must be 1-64 characters without '/'", name=name)
    with db.transaction() as session:
        ctype = session.scalar(select(ContainerType).where(ContainerType.name == type_name))
        if ctype is None:
            raise NotFound("container type {name!r} does not exist", name=type_name)
        kind = ContainerKind(ctype.kind)
        parent = container_at(session, parent_path) if parent_path else None
        if parent is None and kind not in {ContainerKind.SITE, *(
                {ContainerKind.FREEZER, ContainerKind.TANK, ContainerKind.AUTOMATED_STORE})}:
            raise ValidationFailed("a {kind} must be placed inside another container", kind=kind_noun(kind))
        if parent is not None and not can_hold(ContainerKind(parent.kind), kind):
            raise ValidationFailed("a {parent} cannot hold a {child}", parent=kind_noun(parent.kind),
                                   child=kind_noun(kind))
        if kind in {ContainerKind.FREEZER, ContainerKind.TANK, ContainerKind.AUTOMATED_STORE}:
            try:
                temp = TemperatureClass(temperature_class or "").value
            except ValueError:
                raise ValidationFailed("a {kind} needs a temperature class ({choices})", kind=kind_noun(kind),
                                       choices=", ".join(t.value for t in TemperatureClass)) from None
        else:
            temp = parent.temperature_class if parent is not None else None
            if temperature_class and temp and temperature_class != temp:
                raise ValidationFailed("{name} inherits temperature class {temperature} from {parent}", name=name,
                                       temperature=temperature_text(temp), parent=parent.name_path)
        name_path = f"{parent.name_path}/{name}" if parent else name
        if session.scalar(select(Container.id).where(Container.name_path == name_path)) is not None:
            raise Conflict("container {path!r} already exists", path=name_path)
        layout = layout_of(ctype)
        container = Container(name=name, type_id=ctype.id, kind=kind.value, parent_id=parent.id if parent else None,
                              path="", name_path=name_path, temperature_class=temp,
                              capacity=layout.capacity if layout else 0)
        session.add(container)
        session.flush()
        container.path = f"{parent.path if parent else '/'}{container.id}/"
        ledger.record(session, actor=actor, action="storage.container.create", entity_type="container",
                      entity_id=name_path, change={"type": type_name, "temperature_class": temp})
    return container


def in_subtree(session: Session, path: str) -> Any:
    """SQL condition: a container lies in the subtree whose materialised path is `path` ('/1/7/').

    Written so an index serves it: on SQLite a range on the BINARY-collated index ('/' sorts just before
    '0', so every descendant path lies in [path, path[:-1] + '0')); on PostgreSQL a constant-prefix LIKE
    served by the text_pattern_ops index (paths hold only digits and '/', nothing to escape).
    """
    if session.get_bind().dialect.name == "sqlite":
        return and_(Container.path >= path, Container.path < path[:-1] + "0")
    return Container.path.like(path + "%")


def containers_under(name_paths: Iterable[str]) -> Any:
    """Subquery: ids of the containers in the subtrees of these name paths (a collection scope's storage units,
    `lifebank.auth.Scope.collections`); an unknown path selects nothing."""
    root = aliased(Container)
    return (select(Container.id).join(root, root.name_path.in_(sorted(name_paths)))
            .where(Container.path.startswith(root.path)))


def move_container(db: Database, name_path: str, new_parent_path: str, *, actor: str) -> str:
    """Move a rack or box with all its contents: the specimens keep their container, so they follow."""
    with db.transaction() as session:
        container = container_at(session, name_path)
        target = container_at(session, new_parent_path)
        if not can_hold(ContainerKind(target.kind), ContainerKind(container.kind)):
            raise ValidationFailed("a {parent} cannot hold a {child}", parent=kind_noun(target.kind),
                                   child=kind_noun(container.kind))
        if target.path.startswith(container.path):
            raise ValidationFailed("{path} cannot be moved into itself", path=name_path)
        if target.temperature_class != container.temperature_class:
            raise ValidationFailed("{path} is kept at {temperature}; {target} is {target_temperature}",
                                   path=name_path, temperature=temperature_text(container.temperature_class),
                                   target=target.name_path,
                                   target_temperature=temperature_text(target.temperature_class))
        old_path, old_names = container.path, container.name_path
        new_path = f"{target.path}{container.id}/"
        new_names = f"{target.name_path}/{container.name}"
        if session.scalar(select(Container.id).where(Container.name_path == new_names)) is not None:
            raise Conflict("{path} already exists", path=new_names)
        subtree = list(session.scalars(select(Container).where(in_subtree(session, old_path))))
        for node in subtree:
            node.path = new_path + node.path[len(old_path):]
            node.name_path = new_names + node.name_path[len(old_names):]
        container.parent_id = target.id
        ledger.record(session, actor=actor, action="storage.container.move", entity_type="container",
                      entity_id=str(container.id), change={"from": old_names, "to": new_names})
    return new_names


@dataclass(frozen=True, slots=True)
class Location:
    container: Container
    layout: GridLayout
    index: int

    @property
    def label(self) -> str:
        return f"{self.container.name_path}/{self.layout.label(self.index)}"


def resolve_location(session: Session, location: str) -> Location:
    """'FRZ-01/R03/BOX-0012/A1' -> the box and the position index (checked against the box's grid)."""
    box_path, _, position = location.strip().strip("/").rpartition("/")
    if not box_path or not position:
        raise ValidationFailed("location {location!r} must be a box path and a position, e.g. FRZ-01/R03/BOX-1/A1",
                               location=location)
    box = session.scalar(select(Container).where(Container.name_path == box_path))
    if box is None:
        raise NotFound("box {path!r} does not exist", path=box_path)
    layout = box_layout(session, box)
    try:
        index = layout.index_of(position)
    except LayoutError as exc:
        raise ValidationFailed(exc.message) from None
    return Location(box, layout, index)


def box_layout(session: Session, box: Container) -> GridLayout:
    ctype = session.get(ContainerType, box.type_id)
    layout = layout_of(ctype) if ctype else None
    if layout is None:
        raise ValidationFailed("{path} is a {kind}, not a box with positions", path=box.name_path,
                               kind=kind_noun(box.kind))
    return layout


def list_containers(db: Database, parent_path: str | None = None) -> list[dict[str, Any]]:
    with db.session() as session:
        query = select(Container, ContainerType.name).join(ContainerType, Container.type_id == ContainerType.id)
        if parent_path:
            query = query.where(Container.parent_id == container_at(session, parent_path).id)
        else:
            query = query.where(Container.parent_id.is_(None))
        return [{"name": c.name, "path": c.name_path, "kind": c.kind, "type": tname,
                 "temperature_class": c.temperature_class, "capacity": c.capacity}
                for c, tname in session.execute(query.order_by(Container.name))]


def container_info(db: Database, name_path: str) -> dict[str, Any]:
    with db.session() as session:
        c = container_at(session, name_path)
        return {"path": c.name_path, "kind": c.kind, "temperature_class": c.temperature_class,
                "capacity": c.capacity}


def occupancy(db: Database, name_path: str) -> dict[str, Any]:
    """Used and total positions of a container's subtree, and of each direct child.

    One range scan on the materialised path finds the boxes; specimens are counted by box through the
    (container_id, position) index, so a freezer of 100 k tubes costs one indexed aggregate.
    """
    with db.session() as session:
        root = container_at(session, name_path)
        # One count per box through the (container_id, position) index: cost follows the tubes in this
        # subtree, never the size of the bank (a hash join would tempt PostgreSQL into a full scan).
        used = select(func.count()).where(Specimen.container_id == Container.id).scalar_subquery()
        boxes = session.execute(
            select(Container.id, Container.path, Container.capacity, used)
            .where(in_subtree(session, root.path), Container.capacity > 0)
        ).all()
        used_by_box = {bid: count for bid, _path, _cap, count in boxes}
        children = session.execute(select(Container.id, Container.name, Container.kind)
                                   .where(Container.parent_id == root.id).order_by(Container.name)).all()
    # Each box counts towards the direct child of the root on its path: '/root/child/.../box/'.
    per_child: dict[int, list[int]] = {}
    offset = len(root.path)
    for bid, bpath, cap, _count in boxes:
        head = bpath[offset:].split("/", 1)[0]
        if head:
            tally = per_child.setdefault(int(head), [0, 0])
            tally[0] += used_by_box.get(bid, 0)
            tally[1] += cap
    child_rows = [{"name": name, "kind": kind, "path": f"{root.name_path}/{name}",
                   "used": per_child.get(cid, [0, 0])[0], "capacity": per_child.get(cid, [0, 0])[1]}
                  for cid, name, kind in children]
    total_capacity = sum(box[2] for box in boxes)
    total_used = sum(used_by_box.values())
    return {"path": root.name_path, "kind": root.kind, "temperature_class": root.temperature_class,
            "used": total_used, "capacity": total_capacity, "boxes": len(boxes), "children": child_rows}


def box_map(db: Database, name_path: str) -> dict[str, Any]:
    """The grid of a box: every position with the specimen in it (barcode, type, status) or None."""
    with db.session() as session:
        box = container_at(session, name_path)
        layout = box_layout(session, box)
        rows = session.execute(
            select(Specimen.position, Specimen.barcode, Specimen.type, Specimen.status, Specimen.distributable)
            .where(Specimen.container_id == box.id)
        ).all()
    by_index = {pos: {"barcode": bc, "type": t, "status": st, "distributable": d} for pos, bc, t, st, d in rows}
    cells = [{"index": i, "label": layout.label(i), "specimen": by_index.get(i)} for i in range(layout.capacity)]
    return {"path": box.name_path, "rows": layout.rows, "columns": layout.columns, "scheme": layout.scheme.value,
            "temperature_class": box.temperature_class, "used": len(rows), "capacity": layout.capacity,
            "cells": cells}


def location_label(session: Session, specimen: Specimen) -> str | None:
    if specimen.container_id is None or specimen.position is None:
        return None
    box = session.get(Container, specimen.container_id)
    assert box is not None
    return f"{box.name_path}/{box_layout(session, box).label(specimen.position)}"


def place_specimens(db: Database, barcodes: Sequence[str], *, temperature_class: str | None = None,
                    within: str | None = None, strategy: str = "first", actor: str) -> dict[str, str]:
    """Auto-place unstored specimens in boxes of the right temperature class (default: their type's band),
    first or least-used boxes first, contiguously when one box can take them all."""
    try:
        strategy_ = Strategy(strategy)
    except ValueError:
        raise ValidationFailed("strategy must be one of {choices}",
                               choices=", ".join(s.value for s in Strategy)) from None
    with db.transaction() as session:
        specimens = [specimen_row(session, b, lock=True) for b in barcodes]
        if len({s.barcode for s in specimens}) != len(specimens):
            raise ValidationFailed("a barcode is listed twice")
        for specimen in specimens:
            if specimen.container_id is not None:
                raise Conflict("{barcode} is already stored; move it instead", barcode=specimen.barcode)
        temps = {temperature_class or SPECIMEN_TYPES[s.type].default_temperature for s in specimens}
        if len(temps) != 1:
            raise ValidationFailed("these specimens belong to several temperature classes {classes}; "
                                   "place them separately or name one", classes=sorted(temps))
        temp = temps.pop()
        query = select(Container).where(Container.capacity > 0, Container.temperature_class == temp)
        if within:
            query = query.where(in_subtree(session, container_at(session, within).path))
        boxes = list(session.scalars(query.order_by(Container.name_path)))
        occupied: dict[int, set[int]] = {b.id: set() for b in boxes}
        if boxes:
            for cid, pos in session.execute(select(Specimen.container_id, Specimen.position)
                                            .where(Specimen.container_id.in_([b.id for b in boxes]))):
                occupied[cid].add(pos)
        states = [BoxState(b.id, b.temperature_class or "", b.capacity, frozenset(occupied[b.id])) for b in boxes]
        try:
            slots = plan_placement(states, len(specimens), temp, strategy_)
        except InsufficientSpace as exc:
            raise Conflict(exc.message) from None
        by_id = {b.id: b for b in boxes}
        placed: dict[str, str] = {}
        for specimen, slot in zip(specimens, slots, strict=True):
            box = by_id[slot.box_id]
            specimen.container_id, specimen.position = box.id, slot.index
            placed[specimen.barcode] = f"{box.name_path}/{box_layout(session, box).label(slot.index)}"
            _event(session, specimen.id, "placed", placed[specimen.barcode], actor)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict("a chosen position was taken meanwhile; try again") from None
        ledger.record(session, actor=actor, action="specimen.place", entity_type="specimen",
                      entity_id=specimens[0].barcode if len(specimens) == 1 else f"{len(specimens)} specimens",
                      change=placed)
    return placed


def list_container_types(db: Database) -> list[dict[str, Any]]:
    """Every container type with how many containers use it (a used type's grid cannot change)."""
    with db.session() as session:
        used = dict(session.execute(select(Container.type_id, func.count()).group_by(Container.type_id)).all())
        return [{"name": t.name, "kind": t.kind, "rows": t.rows, "columns": t.columns, "scheme": t.scheme,
                 "containers": used.get(t.id, 0)}
                for t in session.scalars(select(ContainerType).order_by(ContainerType.kind, ContainerType.name))]


def edit_container_type(db: Database, name: str, *, new_name: str | None = None, rows: int | None = None,
                        columns: int | None = None, scheme: str | None = None, actor: str) -> ContainerType:
    """Rename a container type, or change its grid while no container uses it.

    A box's capacity and every stored position index follow its type's grid, so reshaping a type in use
    would silently move tubes to other positions: that is refused, naming how many containers use it.
    """
    with db.transaction() as session:
        ctype = session.scalar(select(ContainerType).where(ContainerType.name == name))
        if ctype is None:
            raise NotFound("container type {name!r} does not exist", name=name)
        before = {"name": ctype.name, "rows": ctype.rows, "columns": ctype.columns, "scheme": ctype.scheme}
        new_name = (new_name or name).strip()
        if not new_name or len(new_name) > 64:
            raise ValidationFailed("container type name {name!r} must be 1-64 characters", name=new_name)
        if new_name != name and session.scalar(select(ContainerType.id)
                                               .where(ContainerType.name == new_name)) is not None:
            raise Conflict("container type {name!r} already exists", name=new_name)
        grid = (rows or ctype.rows, columns or ctype.columns, scheme or ctype.scheme)
        if ctype.kind == ContainerKind.BOX and grid != (ctype.rows, ctype.columns, ctype.scheme):
            users = session.scalar(select(func.count()).where(Container.type_id == ctype.id)) or 0
            if users:
                raise Conflict("container type {name!r} is used by {count} container; its grid cannot change",
                               plural="container type {name!r} is used by {count} containers; its grid cannot "
                                      "change", count=users, name=name)
            try:
                GridLayout(grid[0] or 0, grid[1] or 0, LabelScheme(grid[2] or LabelScheme.LETTER_NUMBER))
            except LayoutError as exc:
                raise ValidationFailed(exc.message) from None
            except ValueError:
                raise ValidationFailed("label scheme {scheme!r} is not one of {choices}", scheme=grid[2],
                                       choices=", ".join(s.value for s in LabelScheme)) from None
            ctype.rows, ctype.columns, ctype.scheme = grid
        ctype.name = new_name
        after = {"name": ctype.name, "rows": ctype.rows, "columns": ctype.columns, "scheme": ctype.scheme}
        ledger.record(session, actor=actor, action="storage.type.edit", entity_type="container_type",
                      entity_id=name, change={k: [before[k], after[k]] for k in after if before[k] != after[k]})
    return ctype


def parent_choices(db: Database, limit: int = 500) -> list[dict[str, Any]]:
    """Containers that can hold others (sites, storage units, racks), by path: the choices of the create
    and move forms (boxes hold tubes only)."""
    with db.session() as session:
        return [{"path": path, "kind": kind, "temperature_class": temp} for path, kind, temp in session.execute(
            select(Container.name_path, Container.kind, Container.temperature_class)
            .where(Container.kind != ContainerKind.BOX.value).order_by(Container.name_path).limit(limit))]
