"""ORM tables of the cell-therapy domain (prefix `ct_`): orders and their chain, containers, signatures,
logger traces, manufacturing slots and the customer's ISBT 128 product-code table.

The patient's second identifier (date of birth or hospital MRN) lives only here, in `ct_order.identity`,
encrypted (AES-GCM, see `identity.py`); the pseudonymous participant code is the biobank's.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lifebank.db.base import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class ProductCodeEntry(Base):
    """One row of the customer's ISBT 128 product-code table (LifeBank ships none: ICCBBA's is licensed)."""

    __tablename__ = "ct_product_code"

    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    description: Mapped[str] = mapped_column(String(200))
    product: Mapped[str] = mapped_column(String(16))
    shelf_life_hours: Mapped[float] = mapped_column(Float)
    loaded_by: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)


class Slot(Base):
    """A manufacturing slot: a day at a site with a capacity; apheresis dates are booked against it."""

    __tablename__ = "ct_slot"
    __table_args__ = (UniqueConstraint("site", "day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)


class Order(Base):
    """A therapy order for one patient: its COI identifier (an ISBT 128 DIN) and how far its chain has come."""

    __tablename__ = "ct_order"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coi: Mapped[str] = mapped_column(String(40), unique=True)
    participant: Mapped[str] = mapped_column(String(64), index=True)
    product: Mapped[str] = mapped_column(String(16))
    centre: Mapped[str] = mapped_column(String(200))
    cord_unit: Mapped[str | None] = mapped_column(String(64))
    identity_kind: Mapped[str] = mapped_column(String(8))  # dob | mrn
    identity: Mapped[str] = mapped_column(Text)  # AES-GCM ciphertext, bound to the COI
    steps_done: Mapped[int] = mapped_column(Integer, default=0)
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("ct_slot.id"))
    apheresis_date: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)


class Step(Base):
    """One recorded step of an order's chain; (order, seq) is unique, so one of two racing writers wins."""

    __tablename__ = "ct_step"
    __table_args__ = (UniqueConstraint("order_id", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("ct_order.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(40))
    values_json: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)


class Signature(Base):
    """An electronic signature: who, when, what it means (21 CFR 11.50), after re-entering the password."""

    __tablename__ = "ct_signature"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("ct_step.id"), index=True)
    signer: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200))
    meaning: Mapped[str] = mapped_column(String(40))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))


class Container(Base):
    """A bag carrying the order's COI: DIN + product code with its division (starting material or product)."""

    __tablename__ = "ct_container"
    __table_args__ = (UniqueConstraint("din", "product_code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("ct_order.id"), index=True)
    din: Mapped[str] = mapped_column(String(13), index=True)
    product_code: Mapped[str] = mapped_column(String(8))  # description code + donation type + division
    kind: Mapped[str] = mapped_column(String(16))  # starting | product
    status: Mapped[str] = mapped_column(String(16))  # packed | consumed | stored | thawed | infused
    location: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))
    thawed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))
    infused_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))


class Trace(Base):
    """A shipment's data-logger trace and the excursions found in it against the product's range."""

    __tablename__ = "ct_trace"
    __table_args__ = (UniqueConstraint("order_id", "leg"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("ct_order.id"), index=True)
    leg: Mapped[str] = mapped_column(String(20))  # to-manufacturing | to-centre
    low_c: Mapped[float] = mapped_column(Float)
    high_c: Mapped[float] = mapped_column(Float)
    readings: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    last_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    min_c: Mapped[float] = mapped_column(Float)
    max_c: Mapped[float] = mapped_column(Float)
    excursions_json: Mapped[str] = mapped_column(Text)
    series_json: Mapped[str] = mapped_column(Text)  # [[minutes since first, °C], …] thinned for the plot
    imported_by: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)
