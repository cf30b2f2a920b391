"""Small helpers shared by the biobank's use-case modules: fetching a specimen by barcode, appending a
specimen event, and chunking long lists for IN (...) lookups.

They sit below every use-case module (participants, storage, specimens, search, history), so those modules
import them one way only and no import cycle can form.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifebank.biobank.models import Specimen, SpecimenEvent
from lifebank.errors import NotFound


def specimen_row(session: Session, barcode: str, *, lock: bool = False) -> Specimen:
    query = select(Specimen).where(Specimen.barcode == barcode)
    if lock:
        query = query.with_for_update()
    specimen = session.scalar(query)
    if specimen is None:
        raise NotFound(f"specimen {barcode!r} does not exist")
    return specimen


def _event(session: Session, specimen_id: int, kind: str, detail: str, actor: str) -> None:
    session.add(SpecimenEvent(specimen_id=specimen_id, kind=kind, detail=detail, actor=actor))


def _chunks(items: list[str], size: int = 900) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
