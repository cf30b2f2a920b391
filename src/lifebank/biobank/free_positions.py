"""Find free positions of a temperature class: the boxes that still have room, where, and their first gaps.

What a technician asks before a move ("where can these −80 °C tubes go?") and what the move form links to.
Counting goes box by box through the (container_id, position) index, so the cost follows the boxes of that
class, never the size of the bank; only the boxes on the page have their free positions named.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from lifebank.biobank.models import Container, Specimen
from lifebank.biobank.storage import box_layout
from lifebank.biobank.storage_layout import TemperatureClass
from lifebank.db.engine import Database
from lifebank.errors import ValidationFailed

FIRST_FREE = 5  # free positions named per box


def find_free_positions(db: Database, temperature_class: str, *, limit: int = 50, offset: int = 0,
                        first: int = FIRST_FREE) -> dict[str, Any]:
    """Boxes of `temperature_class` with at least one free position, by path: how many are free, the first
    free position labels and the box path; with the number of such boxes and of free positions in all."""
    try:
        temp = TemperatureClass(temperature_class).value
    except ValueError:
        raise ValidationFailed("temperature class {value!r} is not one of {choices}", value=temperature_class,
                               choices=", ".join(t.value for t in TemperatureClass)) from None
    used = select(func.count()).where(Specimen.container_id == Container.id).scalar_subquery()
    with db.session() as session:
        boxes = [(bid, path, capacity - count) for bid, path, capacity, count in session.execute(
            select(Container.id, Container.name_path, Container.capacity, used)
            .where(Container.capacity > 0, Container.temperature_class == temp)
            .order_by(Container.name_path)) if capacity > count]
        page = boxes[offset:offset + limit]
        rows = []
        for bid, path, free in page:
            box = session.get(Container, bid)
            assert box is not None
            layout = box_layout(session, box)
            taken = set(session.scalars(select(Specimen.position).where(Specimen.container_id == bid)))
            gaps = [layout.label(i) for i in range(layout.capacity) if i not in taken][:first]
            rows.append({"path": path, "free": free, "capacity": box.capacity, "first_free": gaps})
    return {"temperature_class": temp, "boxes": len(boxes), "free": sum(b[2] for b in boxes), "items": rows,
            "limit": limit, "offset": offset}
