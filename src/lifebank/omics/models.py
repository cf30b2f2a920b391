"""Catalogue of the variant store: what was imported, from which file, with which samples and links.

The genotypes themselves live in Parquet (see layout.py); these rows say which batch folders are
committed, their checksums, and how VCF sample IDs link to biobank participants and specimens (by
code and barcode as strings: the omics domain never reaches into biobank tables).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lifebank.db.base import Base, UTCDateTime, utcnow


class OmicsDataset(Base):
    __tablename__ = "omics_dataset"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    genome_build: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(500), default="")
    info_fields: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list, null = every declared field
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))

    batches: Mapped[list[OmicsBatch]] = relationship(back_populates="dataset", order_by="OmicsBatch.number")


class OmicsBatch(Base):
    __tablename__ = "omics_batch"
    __table_args__ = (UniqueConstraint("dataset_id", "number", name="uq_omics_batch_dataset_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("omics_dataset.id", ondelete="RESTRICT"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    source_name: Mapped[str] = mapped_column(String(500))
    source_sha256: Mapped[str] = mapped_column(String(64), index=True)
    records: Mapped[int] = mapped_column(BigInteger)
    sites: Mapped[int] = mapped_column(BigInteger)
    genotype_rows: Mapped[int] = mapped_column(BigInteger)
    chroms: Mapped[str] = mapped_column(Text)  # JSON list of contigs, in file order
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(100))

    dataset: Mapped[OmicsDataset] = relationship(back_populates="batches")
    files: Mapped[list[OmicsFile]] = relationship(back_populates="batch", order_by="OmicsFile.relpath")


class OmicsSample(Base):
    __tablename__ = "omics_sample"
    __table_args__ = (UniqueConstraint("batch_id", "vcf_sample", name="uq_omics_sample_batch_vcf_sample"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("omics_batch.id", ondelete="RESTRICT"), index=True)
    sample_index: Mapped[int] = mapped_column(Integer)
    vcf_sample: Mapped[str] = mapped_column(String(200), index=True)
    participant_code: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    specimen_barcode: Mapped[str | None] = mapped_column(String(64), nullable=True)


class OmicsFile(Base):
    __tablename__ = "omics_file"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("omics_batch.id", ondelete="RESTRICT"), index=True)
    relpath: Mapped[str] = mapped_column(String(500), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(BigInteger)

    batch: Mapped[OmicsBatch] = relationship(back_populates="files")


class Cohort(Base):
    __tablename__ = "omics_cohort"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    definition: Mapped[str] = mapped_column(Text)  # JSON of the criteria, so a cohort can be re-run
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))

    members: Mapped[list[CohortMember]] = relationship(back_populates="cohort", order_by="CohortMember.id",
                                                       cascade="all, delete-orphan")


class CohortMember(Base):
    __tablename__ = "omics_cohort_member"
    __table_args__ = (UniqueConstraint("cohort_id", "participant_code", "vcf_sample",
                                       name="uq_omics_cohort_member"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("omics_cohort.id", ondelete="CASCADE"), index=True)
    participant_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    vcf_sample: Mapped[str | None] = mapped_column(String(200), nullable=True)

    cohort: Mapped[Cohort] = relationship(back_populates="members")
