"""ORM tables of the HLA registry (prefix `hla_`).

A donor row carries its typing as the 12 position columns registries exchange (A_1 ... DRB1_2), as typed:
the search index is built from these, and re-parsing them under a newer IMGT release or MAC dictionary
re-resolves every donor without a migration. `revision` counts updates, so the in-process index can tell
whether it is current.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lifebank.db.base import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")

HLA_COLUMNS: tuple[str, ...] = tuple(f"{locus}_{i}" for locus in ("A", "B", "C", "DPB1", "DQB1", "DRB1")
                                     for i in (1, 2))


class Donor(Base):
    """An adult donor or a cord-blood unit (CBU) listed by a registry."""

    __tablename__ = "hla_donor"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    donor_id: Mapped[str] = mapped_column(String(64), unique=True)
    donor_type: Mapped[str] = mapped_column(String(8), index=True)  # "adult" | "cord"
    registry_code: Mapped[str | None] = mapped_column("registry", String(32))
    abo: Mapped[str | None] = mapped_column(String(4))  # A, B, AB, O with optional +/-
    sex: Mapped[str | None] = mapped_column(String(1))  # F, M or U (unknown)
    cmv: Mapped[str | None] = mapped_column(String(10))  # positive | negative
    birth_date: Mapped[date | None] = mapped_column(Date)  # adults: age at search time
    collection_date: Mapped[date | None] = mapped_column(Date)  # cords
    cell_dose: Mapped[float | None] = mapped_column(Float)  # cords: total nucleated cells, x 10^7
    a_1: Mapped[str | None] = mapped_column(Text)
    a_2: Mapped[str | None] = mapped_column(Text)
    b_1: Mapped[str | None] = mapped_column(Text)
    b_2: Mapped[str | None] = mapped_column(Text)
    c_1: Mapped[str | None] = mapped_column(Text)
    c_2: Mapped[str | None] = mapped_column(Text)
    dpb1_1: Mapped[str | None] = mapped_column(Text)
    dpb1_2: Mapped[str | None] = mapped_column(Text)
    dqb1_1: Mapped[str | None] = mapped_column(Text)
    dqb1_2: Mapped[str | None] = mapped_column(Text)
    drb1_1: Mapped[str | None] = mapped_column(Text)
    drb1_2: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)


class MacCode(Base):
    """The loaded NMDP multiple-allele-code dictionary (replaced as a whole by `lifebank hla macs load`)."""

    __tablename__ = "hla_mac"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    expansion: Mapped[str] = mapped_column(Text)


class NomenclatureRelease(Base):
    """The IPD-IMGT/HLA release in use when it is not the vendored one (one row, id 1)."""

    __tablename__ = "hla_release"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    folder: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)


class Change(Base):
    """Donor writes, in order: search indexes in other processes catch up from here.

    donor_key -1 = MACs or a release loaded (re-resolve typings), -2 = bulk write (rebuild from the donor table).
    """

    __tablename__ = "hla_change"
    __table_args__ = (Index("ix_hla_change_donor_key", "donor_key", "seq"),)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    donor_key: Mapped[int] = mapped_column(BigInteger)


class FrequencySetRow(Base):
    """A loaded haplotype frequency set (the vendored NMDP 2007 API and EUR sets are built in, not stored)."""

    __tablename__ = "hla_frequency_set"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    population: Mapped[str | None] = mapped_column(String(64))
    resolution: Mapped[str] = mapped_column(String(16))
    loci: Mapped[str] = mapped_column(String(64))  # "A~C~B~DRB1~DQB1", the haplotypes' locus order
    registries: Mapped[str] = mapped_column(Text, default="")  # comma-separated registry codes it is chosen for
    source: Mapped[str] = mapped_column(Text, default="")  # file name as loaded
    sha256: Mapped[str] = mapped_column(String(64))
    haplotype_count: Mapped[int] = mapped_column(Integer)
    total: Mapped[float] = mapped_column(Float)  # sum of the frequencies as published
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)


class HaplotypeRow(Base):
    """One haplotype of a loaded set, as published (`A*02:07g~C*01:02~...`)."""

    __tablename__ = "hla_haplotype"
    __table_args__ = (Index("ix_hla_haplotype_set", "set_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    set_id: Mapped[int] = mapped_column(Integer, ForeignKey("hla_frequency_set.id", ondelete="CASCADE"))
    haplotype: Mapped[str] = mapped_column(Text)
    frequency: Mapped[float] = mapped_column(Float)


class SavedSearch(Base):
    """A patient search a coordinator keeps and re-runs on demand (the registry changes; the patient does not)."""

    __tablename__ = "hla_saved_search"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    patient: Mapped[str] = mapped_column(Text)  # the patient's GL string
    parameters: Mapped[str] = mapped_column(Text)  # JSON: max_mismatches, loci, donor_type, min_probability, ...
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))
    last_total: Mapped[int | None] = mapped_column(Integer)
