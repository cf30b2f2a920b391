"""Small helpers shared by the biobank's use-case modules: fetching a specimen by barcode, appending a
specimen event, and chunking long lists for IN (...) lookups.

They sit below every use-case module (participants, storage, specimens, search, history), so those modules
import them one way only and no import cycle can form.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from lifebank.biobank import specimen_events as _specimen_events  # noqa: F401 - registers event/action labels
from lifebank.biobank import vocabulary as _vocabulary  # noqa: F401 - registers the status labels used here
from lifebank.biobank.models import Specimen, SpecimenEvent
from lifebank.errors import NotFound
from lifebank.messages import Msg, labels_of


def specimen_row(session: Session, barcode: str, *, lock: bool = False) -> Specimen:
    query = select(Specimen).where(Specimen.barcode == barcode)
    if lock:
        query = query.with_for_update()
    specimen = session.scalar(query)
    if specimen is None:
        raise NotFound("specimen {barcode} does not exist", barcode=barcode)
    return specimen


def missing_specimens(wanted: Sequence[str], found: Collection[str]) -> None:
    """Refuse a list of barcodes naming EVERY unknown one (a scanner run of 49 typos is fixed in one go)."""
    missing = list(dict.fromkeys(b for b in wanted if b not in found))
    if missing:
        raise NotFound(Msg("{count} specimen does not exist: {barcodes}",
                           plural="{count} specimens do not exist: {barcodes}", count=len(missing),
                           barcodes=", ".join(missing)))


def status_text(code: str) -> Msg:
    """A specimen status as its label (translated where the message is rendered): "Checked out", not in_use."""
    return Msg(labels_of("specimen_status").get(code, code))


def _event(session: Session, specimen_id: int, kind: str, detail: str, actor: str) -> None:
    session.add(SpecimenEvent(specimen_id=specimen_id, kind=kind, detail=detail, actor=actor))


def _chunks(items: list[str], size: int = 900) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
