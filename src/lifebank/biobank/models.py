"""ORM tables of the biobank domain (prefix `bb_`), indexed for 10 M specimens.

Index design, by query:
- barcode lookup: UNIQUE(barcode).
- box map: UNIQUE(container_id, position) - also the database's guarantee of one specimen per position,
  which holds under concurrency because the second writer's INSERT/UPDATE violates it.
- freezer occupancy: containers carry a materialised `path` ('/1/7/42/'); the subtree is one prefix range
  on ix_bb_container_path, and specimens are counted per container through the (container_id, position) index.
- status/type filters: (type, status); participant's specimens: participant_id; lineage: parent_id.
- search within a freezer: (container_id, type, status, participant_id), covering - the exact count of a
  freezer's matches never reads a specimen row.
- consent search: (participant_id, duo_code, in_force) on the code table (one probe per specimen), and
  (duo_code, consent_id) for "participants consenting to X".
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from lifebank.db.base import Base, UTCDateTime, utcnow

# 64-bit keys on PostgreSQL; on SQLite an INTEGER PRIMARY KEY is the rowid (fast, also 64-bit).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class ConsentSignature(Base):
    """One distinct consent in force as the consent rules read it (biobank_0006): its DUO codes (sorted, ';'-
    joined), scope text, and date only when a time limit (TS) needs it. Participants point at theirs, so an
    access request's million candidates are grouped by a column, not by reading every consent's codes."""

    __tablename__ = "bb_consent_signature"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of (codes, date, scope)
    codes: Mapped[str] = mapped_column(Text)
    consent_date: Mapped[date | None] = mapped_column(Date)
    scope: Mapped[str] = mapped_column(Text, default="")


class Participant(Base):
    __tablename__ = "bb_participant"
    # The consent in force by signature, participants in code order: a group's members are one index range.
    __table_args__ = (Index("ix_bb_participant_consent_signature", "consent_signature_id", "code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # pseudonymous; never a name
    sex: Mapped[str] = mapped_column(String(1))  # F, M, O (other), U (unknown)
    birth_year: Mapped[int | None] = mapped_column(Integer)
    site: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The signature of the consent in force (None: never given, or withdrawn), kept in the consent writer's
    # transaction (lifebank.biobank.consent_signatures). No foreign key: adding one would rebuild the table on
    # SQLite; signatures are never deleted.
    consent_signature_id: Mapped[int | None] = mapped_column(BigId)
    # The specimen types the participant holds an available tube of, sorted and ','-joined: kept by the
    # biobank_0007 triggers (never written by Python), read by the feasibility counts (`consent_holdings`).
    available_types: Mapped[str] = mapped_column(Text, default="", server_default="")


class Consent(Base):
    """One version of a participant's consent; a new version supersedes the older ones."""

    __tablename__ = "bb_consent"
    __table_args__ = (UniqueConstraint("participant_id", "version", name="uq_bb_consent_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("bb_participant.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    consent_date: Mapped[date] = mapped_column(Date)
    scope: Mapped[str] = mapped_column(Text, default="")
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)


class ConsentCode(Base):
    """A DUO term a consent grants or requires (DUO:0000042 general research use, ...)."""

    __tablename__ = "bb_consent_code"
    __table_args__ = (
        Index("ix_bb_consent_code_duo", "duo_code", "consent_id"),
        Index("ix_bb_consent_code_in_force", "participant_id", "duo_code", "in_force"),
    )

    consent_id: Mapped[int] = mapped_column(ForeignKey("bb_consent.id", ondelete="CASCADE"), primary_key=True)
    duo_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    # Copies of the consent's participant and of "not withdrawn", so that "does this participant consent to
    # DUO:x" is one probe of ix_bb_consent_code_in_force - a freezer search asks it for every tube. Written
    # with the consent, cleared by withdraw_consent in the same transaction.
    participant_id: Mapped[int | None] = mapped_column(BigId)
    in_force: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class ContainerType(Base):
    __tablename__ = "bb_container_type"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # storage_layout.ContainerKind
    rows: Mapped[int | None] = mapped_column(Integer)
    columns: Mapped[int | None] = mapped_column(Integer)
    scheme: Mapped[str | None] = mapped_column(String(16))  # storage_layout.LabelScheme, boxes only


class Container(Base):
    __tablename__ = "bb_container"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    type_id: Mapped[int] = mapped_column(ForeignKey("bb_container_type.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("bb_container.id"), index=True)
    # Materialised ancestor path of ids, '/1/7/42/': a subtree is one prefix range.
    path: Mapped[str] = mapped_column(String(400), index=True)
    # The human path of names, 'FRZ-01/R03/BOX-0012': what import files and the CLI use.
    name_path: Mapped[str] = mapped_column(String(400), unique=True)
    temperature_class: Mapped[str | None] = mapped_column(String(8), index=True)
    capacity: Mapped[int] = mapped_column(Integer, default=0)  # positions (boxes), 0 otherwise


class Specimen(Base):
    __tablename__ = "bb_specimen"
    __table_args__ = (
        UniqueConstraint("container_id", "position", name="uq_bb_specimen_position"),
        Index("ix_bb_specimen_type_status", "type", "status"),
        # A search within a freezer (type, status, consent) counts its matches from this index alone: one
        # range per box, the consent probed by participant_id (see service._filtered).
        Index("ix_bb_specimen_container_type_status", "container_id", "type", "status", "participant_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    barcode: Mapped[str] = mapped_column(String(64), unique=True)
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("bb_participant.id"), index=True)
    type: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))
    collected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="available")
    distributable: Mapped[bool] = mapped_column(Boolean, default=True)
    lineage: Mapped[str] = mapped_column(String(12), default="primary")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("bb_specimen.id"), index=True)
    sprec: Mapped[str | None] = mapped_column(String(40))
    freeze_thaw: Mapped[int] = mapped_column(Integer, default=0)
    container_id: Mapped[int | None] = mapped_column(ForeignKey("bb_container.id"))
    position: Mapped[int | None] = mapped_column(Integer)  # index into the box's grid
    notes: Mapped[str | None] = mapped_column(Text)  # free text a technician keeps with the tube (biobank_0004)


class PoolMember(Base):
    """The parents of a pooled specimen (a pool has several; aliquots and derivatives use parent_id)."""

    __tablename__ = "bb_pool_member"

    pool_id: Mapped[int] = mapped_column(ForeignKey("bb_specimen.id", ondelete="CASCADE"), primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("bb_specimen.id"), primary_key=True, index=True)


class QcMeasurement(Base):
    """A typed quality-control result: DIN, RIN, concentration, viability, A260/280 ..."""

    __tablename__ = "bb_qc_measurement"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    specimen_id: Mapped[int] = mapped_column(ForeignKey("bb_specimen.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16), default="")
    method: Mapped[str] = mapped_column(String(100), default="")
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))


class Reservation(Base):
    __tablename__ = "bb_reservation"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    specimen_id: Mapped[int] = mapped_column(ForeignKey("bb_specimen.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(200))
    reserved_by: Mapped[str] = mapped_column(String(100))
    reserved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SpecimenEvent(Base):
    """The specimen's own history: moves, check-out/in, reservations, status changes (the ledger proves them)."""

    __tablename__ = "bb_specimen_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    specimen_id: Mapped[int] = mapped_column(ForeignKey("bb_specimen.id", ondelete="CASCADE"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(100))


class LabelTemplate(Base):
    """A label layout a manager chose: stock size, symbology and which fields print (biobank_0004)."""

    __tablename__ = "bb_label_template"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    stock: Mapped[str] = mapped_column(String(16))  # labels.STOCKS key: cryo-33x13, a4-3x10, ...
    symbology: Mapped[str] = mapped_column(String(16), default="code128")
    fields: Mapped[str] = mapped_column(String(200), default="")  # comma-separated labels.FIELDS
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportRun(Base):
    """One bulk import: what, how many rows, the file's digest (the ledger event references it)."""

    __tablename__ = "bb_import_run"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    rows: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(100))
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
