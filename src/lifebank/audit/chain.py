"""Pure hash-chain rules of the tamper-evident ledger (no I/O).

Each event's hash is SHA-256 over a canonical JSON encoding of its fields and the previous event's
hash. Editing a field breaks that event's hash; deleting, inserting or reordering rows breaks the
sequence numbers or the previous-hash links; deleting events at the end is caught by the head record
that is updated in the same transaction as every append.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lifebank.messages import Msg

GENESIS_HASH = "0" * 64


def _default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"cannot encode {type(value).__name__} in a ledger digest")


def canonical_json(value: object) -> bytes:
    """One byte string per value: sorted keys, no whitespace, UTF-8 (stable across Python versions)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default).encode()


def change_digest(change: Mapping[str, Any]) -> str:
    """Digest of what changed: proves the content later without storing personal data in the ledger."""
    return hashlib.sha256(canonical_json(change)).hexdigest()


@dataclass(frozen=True, slots=True)
class EventFields:
    seq: int
    occurred_at: str
    actor: str
    action: str
    entity_type: str
    entity_id: str
    change_digest: str
    prev_hash: str
    hash: str = ""


def event_hash(event: EventFields) -> str:
    payload = [
        event.seq,
        event.occurred_at,
        event.actor,
        event.action,
        event.entity_type,
        event.entity_id,
        event.change_digest,
        event.prev_hash,
    ]
    return hashlib.sha256(canonical_json(payload)).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first event where the chain fails, and why (a catalogue message: the CLI and pages translate it)."""

    seq: int
    message: Msg

    @property
    def reason(self) -> str:
        return str(self.message)

    def describe(self) -> Msg:
        return Msg("event #{seq}: {reason}", seq=self.seq, reason=self.message)

    def __str__(self) -> str:
        return str(self.describe())


def first_break(
    events: Iterable[EventFields], head_seq: int | None, head_hash: str | None
) -> tuple[int, ChainBreak | None]:
    """Walk events in ascending `seq` order; return how many were checked and the first break, if any."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    for event in events:
        if event.seq != expected_seq:
            if event.seq > expected_seq:
                return checked, ChainBreak(expected_seq, Msg("missing (next stored event is #{next}): row deleted",
                                                          next=event.seq))
            return checked, ChainBreak(event.seq, Msg("out of order or duplicated (expected #{expected})",
                                                      expected=expected_seq))
        if event.prev_hash != prev_hash:
            return checked, ChainBreak(event.seq, Msg("previous-hash link broken: rows inserted, deleted or reordered"))
        if event_hash(event) != event.hash:
            return checked, ChainBreak(event.seq, Msg("content does not match its hash: row edited"))
        prev_hash = event.hash
        expected_seq += 1
        checked += 1
    last_seq = expected_seq - 1
    if (head_seq or 0) != last_seq or (head_hash or GENESIS_HASH) != prev_hash:
        if (head_seq or 0) > last_seq:
            return checked, ChainBreak(last_seq + 1, Msg("missing: the head records {recorded} events, found {found}",
                                                        recorded=head_seq, found=last_seq))
        return checked, ChainBreak(last_seq, Msg("the ledger head does not match the last event: head record altered"))
    return checked, None
