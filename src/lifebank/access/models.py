"""ORM tables of the access domain (prefix `ar_`): requests, their committee and votes, documents, in-app
notifications, allocations (the pick list) and shipments.

A request keeps the organisation's id and, as declared when the request was made, its name, for-profit flag
and the recipient country: the consent rules (NPU) and the HGR rules read them from the request, so a
decision can be re-checked later exactly as it was made. Specimens and participants are referred to by
barcode and code (the biobank's public identifiers), never by the biobank's row ids.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from lifebank.db.base import Base, UTCDateTime, utcnow


class AccessRequest(Base):
    __tablename__ = "ar_request"
    __table_args__ = (Index("ix_ar_request_org_state", "organisation_id", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    organisation_id: Mapped[int] = mapped_column(Integer)
    organisation_name: Mapped[str] = mapped_column(String(200))
    for_profit: Mapped[bool] = mapped_column(Boolean, default=False)
    recipient_country: Mapped[str] = mapped_column(String(2))
    principal_investigator: Mapped[str] = mapped_column(String(200), default="")
    ethics_number: Mapped[str | None] = mapped_column(String(100))
    ethics_date: Mapped[date | None] = mapped_column(Date)
    purposes: Mapped[str] = mapped_column(String(200))  # DUO ids, ';'-separated
    disease: Mapped[str | None] = mapped_column(String(64))
    commercial: Mapped[bool] = mapped_column(Boolean, default=False)
    wants_material: Mapped[bool] = mapped_column(Boolean, default=True)
    wants_data: Mapped[bool] = mapped_column(Boolean, default=False)
    declarations: Mapped[str] = mapped_column(Text, default="{}")  # JSON: publication, collaboration, ...
    cohort: Mapped[str | None] = mapped_column(String(100))
    max_freeze_thaw: Mapped[int | None] = mapped_column(Integer)
    sprec_prefix: Mapped[str | None] = mapped_column(String(40))
    allow_last_aliquot: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(32), default="submitted", index=True)
    conditions: Mapped[str] = mapped_column(Text, default="")
    hgr_approval: Mapped[str | None] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RequestItem(Base):
    """What material the request asks for: a specimen type, tubes per participant, an optional total and a
    minimum volume (in the type's unit)."""

    __tablename__ = "ar_request_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("ar_request.id", ondelete="CASCADE"), index=True)
    specimen_type: Mapped[str] = mapped_column(String(8))
    per_participant: Mapped[int] = mapped_column(Integer, default=1)
    total: Mapped[int | None] = mapped_column(Integer)
    min_volume: Mapped[float | None] = mapped_column(Float)


class Document(Base):
    """An uploaded document: ethics approval, MTA/DTA, HGR approval, destruction certificate."""

    __tablename__ = "ar_document"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("ar_request.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reviewer(Base):
    __tablename__ = "ar_reviewer"
    __table_args__ = (UniqueConstraint("request_id", "username", name="uq_ar_reviewer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("ar_request.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(64))


class ReviewEntry(Base):
    """A reviewer's vote (with its comment) or a comment alone (`vote` NULL); a new vote replaces the old."""

    __tablename__ = "ar_review_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("ar_request.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    vote: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Transition(Base):
    """The request's own history of states (the ledger proves it)."""

    __tablename__ = "ar_transition"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("ar_request.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    """An in-app notice for one user: a catalogue template and its parameters (rendered in their language)."""

    __tablename__ = "ar_notification"
    __table_args__ = (Index("ix_ar_notification_user", "username", "read_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[int] = mapped_column(ForeignKey("ar_request.id", ondelete="CASCADE"))
    template: Mapped[str] = mapped_column(Text)
    params: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Allocation(Base):
    """One tube allocated to a request: where to pick it, whether it was scanned, which box it ships in."""

    __tablename__ = "ar_allocation"
    __table_args__ = (Index("ix_ar_allocation_request_state", "request_id", "state"),
                      Index("ix_ar_allocation_barcode", "barcode"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("ar_request.id", ondelete="CASCADE"))
    barcode: Mapped[str] = mapped_column(String(64))
    participant: Mapped[str] = mapped_column(String(32))
    specimen_type: Mapped[str] = mapped_column(String(8))
    source: Mapped[str | None] = mapped_column(String(400))  # box path / position when allocated
    sort_key: Mapped[int] = mapped_column(Integer, default=0)  # pick order (storage path)
    state: Mapped[str] = mapped_column(String(16), default="allocated")  # allocated, picked, shipped, dropped...
    picked_by: Mapped[str | None] = mapped_column(String(100))
    picked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("ar_shipment.id"))
    target_box: Mapped[str | None] = mapped_column(String(64))
    target_position: Mapped[str | None] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(Text, default="")


class Shipment(Base):
    __tablename__ = "ar_shipment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("ar_request.id", ondelete="CASCADE"), index=True)
    courier: Mapped[str] = mapped_column(String(100))
    tracking_number: Mapped[str] = mapped_column(String(100))
    temperature: Mapped[str] = mapped_column(String(16))
    un3373: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="shipped")  # shipped, received
    boxes: Mapped[int] = mapped_column(Integer, default=1)
    shipped_by: Mapped[str] = mapped_column(String(100))
    shipped_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    received_by: Mapped[str | None] = mapped_column(String(100))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    discrepancies: Mapped[str] = mapped_column(Text, default="")
