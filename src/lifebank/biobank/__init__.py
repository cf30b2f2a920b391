"""The biobank domain: participants and consent, specimens and lineage, storage, labels, bulk import.

What other domains may use (cross-domain needs go through these functions, never the `bb_` tables):
- `existing_participants(db, codes)` -> the subset of participant codes that exist.
- `specimen_participants(db, barcodes)` -> {barcode: participant code} for the barcodes that exist.
- `participants_matching(db, consent_code=, sex=, site=)` -> codes of participants whose consent *in force*
  (not withdrawn) carries that DUO code, with that sex ('F', 'M', 'O', 'U') and collection site.
- `participants_with_specimens(db, specimen_type=, status="available", min_quantity=)` -> codes of
  participants holding at least one such specimen (type is a SPREC sample-type code such as PL1, or DNA/RNA).
- `list_participant_codes(db, limit)` -> the first `limit` participant codes in code order.
- `specimen_counts_by_participant(db, specimen_types=, status=, distributable_only=)` -> {participant code:
  specimens held} from one grouped count (no specimen list).
- distribution for access requests (`lifebank.biobank.distribution`, named in `DISTRIBUTION`): candidates
  and their consents in force, allocatable specimens, storage places, reserve / distribute / return.
- `distribute_available(session, barcodes, ref=, entity_type=, actor=)` (`lifebank.biobank.dispatch`): available
  specimens leave the bank straight from storage in the caller's transaction (a cell-therapy bag shipped).

Imports are deferred so that importing a pure module of this package (`lifebank.biobank.sprec`) does not
pull in SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lifebank.db.engine import Database


def existing_participants(db: Database, codes: Iterable[str]) -> set[str]:
    """Which of these participant codes exist."""
    from lifebank.biobank import service

    return service.existing_participants(db, codes)


def specimen_participants(db: Database, barcodes: Iterable[str]) -> dict[str, str]:
    """Barcode -> participant code, for the barcodes that exist and belong to one participant."""
    from lifebank.biobank import service

    return service.specimen_participants(db, barcodes)


def participants_matching(db: Database, *, consent_code: str | None = None, sex: str | None = None,
                          site: str | None = None, among: Iterable[str] | None = None) -> set[str]:
    """Participant codes with an active (not withdrawn) consent carrying `consent_code` (a DUO id), etc.;
    only among the codes `among` when given (None: the whole bank)."""
    from lifebank.biobank import service

    return service.participants_matching(db, consent_code=consent_code, sex=sex, site=site, among=among)


def participants_with_specimens(db: Database, *, specimen_type: str | None = None,
                                status: str | None = "available", min_quantity: float | None = None,
                                among: Iterable[str] | None = None) -> set[str]:
    """Participant codes holding a specimen of that type/status with at least `min_quantity` (in its unit);
    only among the codes `among` when given (None: the whole bank)."""
    from lifebank.biobank import service

    return service.participants_with_specimens(db, specimen_type=specimen_type, status=status,
                                               min_quantity=min_quantity, among=among)


def specimen_counts_by_participant(db: Database, *, specimen_types: Iterable[str] | None = None,
                                   status: str | None = None, distributable_only: bool = False,
                                   ) -> dict[str | None, int]:
    """Participant code (None: specimens of no participant) -> how many specimens they hold of these types
    (None: any) with this status (None: any), only distributable ones when asked: one grouped count over the
    specimen indexes, never a list of specimens (the Beacon's biosample counts and booleans)."""
    from sqlalchemy import func, select

    from lifebank.biobank.models import Participant, Specimen

    query = (select(Participant.code, func.count()).select_from(Specimen)
             .outerjoin(Participant, Participant.id == Specimen.participant_id).group_by(Participant.code))
    if specimen_types is not None:
        query = query.where(Specimen.type.in_([t.upper() for t in specimen_types]))
    if status is not None:
        query = query.where(Specimen.status == status)
    if distributable_only:
        query = query.where(Specimen.distributable.is_(True))
    with db.session() as session:
        return {code: int(n) for code, n in session.execute(query)}


def list_participant_codes(db: Database, limit: int) -> list[str]:
    """The first `limit` participant codes in order (P000001, P000002, ...)."""
    from lifebank.biobank import service

    return service.list_participant_codes(db, limit)


def barcode_png(data: str, symbology: str = "code128") -> bytes:
    """One barcode symbol as PNG - bars only for Code 128, or a DataMatrix - as the biobank's labels draw it:
    for other domains' labels (the cell-therapy domain's ISBT 128 bag labels), so the symbols come from one
    place. Pure (python-barcode / pyStrich), no database."""
    from lifebank.biobank import labels

    return labels._code_image(data, symbology)


# The distribution functions (issue 11), loaded on first use like the rest.
DISTRIBUTION = ("ConsentInForce", "SpecimenCandidate", "StoragePlace", "allocatable_counts",
                "allocatable_specimens", "candidate_participants", "collected_by_type", "consents_in_force",
                "holdings_by_type", "mark_distributed", "not_distributable", "record_return", "release_for_request",
                "reserve_for_request", "specimen_types_of", "storage_places")

# Candidates grouped by consent in force, for consent matching at scale (`lifebank.biobank.grouped_consents`).
CONSENT_GROUPS = ("ConsentGroup", "TubeCriteria", "consent_groups", "consent_holdings", "consents_in_force_after")


def __getattr__(name: str) -> object:
    if name == "distribute_available":
        from lifebank.biobank import dispatch

        return dispatch.distribute_available
    if name in DISTRIBUTION:
        from lifebank.biobank import distribution

        return getattr(distribution, name)
    if name in CONSENT_GROUPS:
        from lifebank.biobank import grouped_consents

        return getattr(grouped_consents, name)
    raise AttributeError(name)


__all__ = ["DISTRIBUTION", "existing_participants", "list_participant_codes", "participants_matching",
           "participants_with_specimens", "specimen_participants"]
