"""The clinical domain's tables: pseudonymous patients, their clinical records, imports and a loaded vocabulary.

A `clin_patient` row links one source patient (a FHIR Patient id or an OMOP person_id) to a biobank participant
*code* (a string: this domain never reads the biobank's tables). It holds no name, address, telecom or full
birth date: only the administrative gender, the birth year and a death date. Every clinical fact (condition,
measurement, observation, procedure, medication, encounter, death) is one `clin_record` row with its code kept
as sent, as (system, code, display), so that no licensed vocabulary is needed to store or show it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lifebank.db.base import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class ClinPatient(Base):
    __tablename__ = "clin_patient"
    __table_args__ = (UniqueConstraint("origin", "source_id", name="uq_clin_patient_origin_source"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    origin: Mapped[str] = mapped_column(String(8))  # fhir | omop
    source_id: Mapped[str] = mapped_column(String(128))  # Patient.id or person_id as sent
    participant_code: Mapped[str] = mapped_column(String(32), index=True)
    gender: Mapped[str | None] = mapped_column(String(16), nullable=True)  # FHIR administrative gender
    birth_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deceased_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ClinRecord(Base):
    __tablename__ = "clin_record"
    __table_args__ = (
        UniqueConstraint("origin", "source_type", "source_id", name="uq_clin_record_source"),
        Index("ix_clin_record_patient_kind_start", "patient_id", "kind", "start"),
        Index("ix_clin_record_kind_code", "kind", "code", "system"),
        Index("ix_clin_record_patient_code_system", "patient_id", "code", "system", "kind", "start"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("clin_patient.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # condition, measurement, observation, procedure, ...
    origin: Mapped[str] = mapped_column(String(8))  # fhir | omop
    source_type: Mapped[str] = mapped_column(String(40))  # FHIR resource type or OMOP table
    source_id: Mapped[str] = mapped_column(String(128))
    system: Mapped[str] = mapped_column(String(200), default="")
    code: Mapped[str] = mapped_column(String(64), default="")
    display: Mapped[str] = mapped_column(String(500), default="")
    concept_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # OMOP concept, when known
    start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    value_num: Mapped[float | None] = mapped_column(Float, nullable=True)
    unit: Mapped[str | None] = mapped_column(String(64), nullable=True)  # UCUM
    value_text: Mapped[str | None] = mapped_column(String(500), nullable=True)
    status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    stage: Mapped[str | None] = mapped_column(String(200), nullable=True)
    encounter_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class ClinImport(Base):
    """One imported file: what, when, by whom, and the counts per resource type or table (JSON)."""

    __tablename__ = "clin_import"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    fmt: Mapped[str] = mapped_column(String(16))  # fhir-bundle, fhir-ndjson, omop
    counts: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(100))


class ClinConcept(Base):
    """An OHDSI Athena CONCEPT row, as the user's own vocabulary download gives it."""

    __tablename__ = "clin_concept"
    __table_args__ = (Index("ix_clin_concept_vocabulary_code", "vocabulary_id", "concept_code"),)

    concept_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    concept_name: Mapped[str] = mapped_column(String(255))
    domain_id: Mapped[str] = mapped_column(String(20))
    vocabulary_id: Mapped[str] = mapped_column(String(20))
    concept_class_id: Mapped[str] = mapped_column(String(20))
    standard_concept: Mapped[str | None] = mapped_column(String(1), nullable=True)
    concept_code: Mapped[str] = mapped_column(String(50))
    invalid_reason: Mapped[str | None] = mapped_column(String(1), nullable=True)


class ClinConceptAncestor(Base):
    __tablename__ = "clin_concept_ancestor"

    ancestor_concept_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    descendant_concept_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False,
                                                       index=True)
    min_levels: Mapped[int] = mapped_column(Integer)
    max_levels: Mapped[int] = mapped_column(Integer)


class ClinConceptRelationship(Base):
    __tablename__ = "clin_concept_relationship"

    concept_id_1: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    concept_id_2: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    relationship_id: Mapped[str] = mapped_column(String(20), primary_key=True)


class ClinExport(Base):
    """A FHIR Bulk Data `$export` job for a Group: its state and, once done, the NDJSON files it wrote."""

    __tablename__ = "clin_export"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # running | done | failed
    request_url: Mapped[str] = mapped_column(String(1000))
    output: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of {type, file, count}
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
