"""The biobank's use cases, one module per thing a user does; this module only re-exports them.

Every existing caller (`from lifebank.biobank import service`; `service.register_specimen(...)`) keeps working.
New code may import from the use-case module directly. Where each use case lives:

- `participants` - participants and consent: `register_participant`, `record_consent`, `withdraw_consent`,
  `participant_view`, `list_participants`, `participant_row`, `check_participant_fields`,
  `has_consent_in_force`, `SEXES`, and the cross-domain queries `existing_participants`,
  `participants_matching`, `participants_with_specimens`, `list_participant_codes`;
- `storage` - container types, containers and positions: `define_container_type`, `create_container`,
  `list_containers`, `container_info`, `move_container`, `occupancy`, `box_map`, `place_specimens`,
  `container_at`, `layout_of`, `box_layout`, `in_subtree`, `Location`, `resolve_location`, `location_label`;
- `specimens` - a specimen's life: `register_specimen` (`register_specimen_in` inside a caller's transaction),
  `split_specimen` (`split_in_session` inside a caller's transaction), `move_specimen`, `reserve_specimens`,
  `release_reservation`, `change_status`, `add_qc`,
  `record_label_print`, `specimen_participants`, `SCHEME`, `QC_KINDS`, `_next_barcodes`, `_TRANSITIONS`;
- `search` - finding specimens: `SpecimenFilter`, `search_specimens`, `get_specimen`, `specimen_views`,
  `_filtered`, `_consenting`, `_count`;
- `history` - lineage and history: `specimen_lineage`, `specimen_history`, `_lineage_tree`, `_ancestors`;
- `_common` - helpers shared by the modules above: `specimen_row`, `_event`, `_chunks`.

Every state change runs in one `db.transaction()` and appends its ledger event in that same transaction,
so the change and its proof commit or fail together.
"""

from __future__ import annotations

from lifebank.biobank._common import _chunks, _event, specimen_row
from lifebank.biobank.free_positions import find_free_positions
from lifebank.biobank.history import _ancestors, _lineage_tree, specimen_history, specimen_lineage
from lifebank.biobank.participants import (
    SEXES,
    ParticipantFilter,
    check_participant_fields,
    existing_participants,
    has_consent_in_force,
    iter_participants,
    list_participant_codes,
    list_participants,
    participant_row,
    participant_view,
    participants_matching,
    participants_with_specimens,
    record_consent,
    register_participant,
    register_participant_with_consent,
    withdraw_consent,
    withdrawal_preview,
)
from lifebank.biobank.search import (
    SORT_KEYS,
    SpecimenFilter,
    _consenting,
    _count,
    _filtered,
    checked_filter,
    get_specimen,
    iter_specimens,
    search_specimens,
    specimen_views,
)
from lifebank.biobank.specimens import (
    _TRANSITIONS,
    QC_KINDS,
    SCHEME,
    _next_barcodes,
    add_qc,
    change_status,
    check_in,
    check_out,
    discard_specimen,
    edit_specimen,
    free_positions,
    move_specimen,
    record_label_print,
    register_specimen,
    register_specimen_in,
    release_reservation,
    reserve_specimens,
    specimen_participants,
    split_in_session,
    split_specimen,
)
from lifebank.biobank.storage import (
    Location,
    box_layout,
    box_map,
    container_at,
    container_info,
    create_container,
    define_container_type,
    edit_container_type,
    in_subtree,
    layout_of,
    list_container_types,
    list_containers,
    location_label,
    move_container,
    occupancy,
    parent_choices,
    place_specimens,
    resolve_location,
)
from lifebank.db.base import utcnow
from lifebank.db.engine import Database

__all__ = [
    # participants
    "SEXES",
    "check_participant_fields",
    "existing_participants",
    "has_consent_in_force",
    "list_participant_codes",
    "list_participants",
    "participant_row",
    "participant_view",
    "participants_matching",
    "participants_with_specimens",
    "record_consent",
    "register_participant",
    "withdraw_consent",
    "ParticipantFilter",
    "iter_participants",
    "register_participant_with_consent",
    "withdrawal_preview",
    # storage
    "Location",
    "box_layout",
    "box_map",
    "container_at",
    "container_info",
    "create_container",
    "define_container_type",
    "in_subtree",
    "layout_of",
    "list_containers",
    "location_label",
    "move_container",
    "occupancy",
    "place_specimens",
    "resolve_location",
    "edit_container_type",
    "find_free_positions",
    "list_container_types",
    "parent_choices",
    # specimens
    "QC_KINDS",
    "SCHEME",
    "_TRANSITIONS",
    "_next_barcodes",
    "add_qc",
    "change_status",
    "check_in",
    "check_out",
    "discard_specimen",
    "edit_specimen",
    "free_positions",
    "move_specimen",
    "record_label_print",
    "register_specimen",
    "register_specimen_in",
    "release_reservation",
    "reserve_specimens",
    "specimen_participants",
    "split_in_session",
    "split_specimen",
    # search
    "SORT_KEYS",
    "SpecimenFilter",
    "checked_filter",
    "iter_specimens",
    "_consenting",
    "_count",
    "_filtered",
    "get_specimen",
    "search_specimens",
    "specimen_views",
    # history
    "_ancestors",
    "_lineage_tree",
    "specimen_history",
    "specimen_lineage",
    # shared helpers
    "_chunks",
    "_event",
    "specimen_row",
    # the clock, as tests read it through this module
    "utcnow",
]


def warm_up(db: Database) -> None:
    """Take the dashboard's first snapshot of the bank's figures as the server starts (seconds at 10 M)."""
    from lifebank.biobank import statistics

    statistics.refresh(db)
