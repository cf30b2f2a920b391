"""Ledger tables: the events and a one-row head that every append locks and moves."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lifebank.db.base import Base, UTCDateTime


class LedgerEvent(Base):
    __tablename__ = "ledger_event"
    __table_args__ = (Index("ix_ledger_event_entity", "entity_type", "entity_id"),
                      Index("ix_ledger_event_occurred_at", "occurred_at"))

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    occurred_at_text: Mapped[str] = mapped_column(String(40), nullable=False)
    actor: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    action: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    entity_type: Mapped[str] = mapped_column(String(60), nullable=False)
    entity_id: Mapped[str] = mapped_column(String(200), nullable=False)
    change_digest: Mapped[str] = mapped_column(String(64), nullable=False)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)


class LedgerChange(Base):
    """What an event changed, as the canonical JSON its `change_digest` was computed from.

    Kept beside the chain, not in it: no foreign key, so erasing a person's data (or a tamper test deleting an
    event) never touches the chain, and the event page proves the text against the digest.
    """

    __tablename__ = "ledger_change"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    change_json: Mapped[str] = mapped_column(Text, nullable=False)


class LedgerHead(Base):
    """The single row (id = 1) that serialises appends: taking its row lock orders all writers."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
