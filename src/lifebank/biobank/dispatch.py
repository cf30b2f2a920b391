"""Specimens that leave the bank straight from storage, without a reservation, in the caller's transaction.

The access workflow reserves tubes first and distributes them later (`distribution.mark_distributed`). A
cell-therapy product bag has no reservation: it is the patient's own product, and the chain of custody ships it
from its LN2 position to the treatment centre (issue 15). The chain calls `distribute_available` inside the
shipment step's transaction, so the bag's specimen leaves its box (status `distributed`, position freed, the
reference in its history, one ledger event) exactly when the step commits - or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from lifebank.audit import service as ledger
from lifebank.biobank.distribution import _events, _flip, _refuse_missing
from lifebank.biobank.specimen_types import SpecimenStatus
from lifebank.messages import N_, Msg


def distribute_available(session: Session, barcodes: Sequence[str], *, ref: str, entity_type: str,
                         actor: str) -> list[str]:
    """Available, distributable specimens leave the bank for `ref` (e.g. a therapy order's COI), all or none.

    Each goes to `distributed` and out of its box, gets a `distributed` event with `ref`, and one ledger event
    (`specimen.distribute`, on `entity_type`/`ref`) records the batch. A tube that is not available (checked
    out, reserved, already gone) or whose participant withdrew consent refuses the whole call, naming it
    (`Conflict`), and the caller's transaction rolls back."""
    barcodes = list(dict.fromkeys(barcodes))
    if not barcodes:
        return []
    flipped = _flip(session, barcodes, SpecimenStatus.AVAILABLE.value, SpecimenStatus.DISTRIBUTED.value,
                    distributable_only=True)
    _refuse_missing(session, barcodes, flipped, Msg(N_("distributed (not available, or consent withdrawn)")))
    _events(session, flipped.values(), "distributed", ref, actor)
    ledger.record(session, actor=actor, action="specimen.distribute", entity_type=entity_type, entity_id=ref,
                  change={"count": len(barcodes), "barcodes": barcodes[:1000]})
    return barcodes
