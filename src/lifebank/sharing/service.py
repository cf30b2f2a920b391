"""Start-up work of data sharing: the Beacon's in-memory indexes, built before the first query needs them."""

from __future__ import annotations

from lifebank.db.engine import Database


def warm_up(db: Database) -> None:
    """Build the carried-sites index of every omics dataset (seconds at a million sites), and read what the
    answers rest on, as the server starts (`lifebank.domains.warm_up`); requests would otherwise build them."""
    from lifebank.config import get_settings
    from lifebank.sharing import beacon, data, snapshot

    snapshot.refresh(db)
    beacon.current_settings(db)
    data_dir = get_settings().data_dir
    for dataset in data.current_datasets(db):
        if dataset.kind == "omics":
            data.presence(db, data_dir, dataset)
