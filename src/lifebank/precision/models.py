"""ORM tables of the precision domain (prefix `precision_`): report versions and their inputs; the
knowledge-base releases loaded and the pointer to the one in force per source (see kb_store.py).

A report is a number (`PR-000001`) with versions; each version keeps the inputs it was interpreted from
(gzip-compressed files), the report content (JSON), its SHA-256, and the knowledge-base versions used. A
signed (final) version is never updated again: a re-run makes a new version, and `changes` says what moved.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lifebank.db.base import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class ReportVersion(Base):
    __tablename__ = "precision_report"
    __table_args__ = (UniqueConstraint("report_no", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    report_no: Mapped[str] = mapped_column(String(16), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), index=True)  # draft | final
    participant: Mapped[str | None] = mapped_column(String(64), index=True)
    specimen: Mapped[str | None] = mapped_column(String(64))
    tumour_type: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(String(64))
    inputs: Mapped[bytes] = mapped_column(LargeBinary)  # gzip of a JSON {name: {filename, text}} + options
    changes: Mapped[str | None] = mapped_column(Text)  # JSON list of what changed from the previous version
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)
    signed_by: Mapped[str | None] = mapped_column(String(64))
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))
    signature_meaning: Mapped[str | None] = mapped_column(String(40))


class KbRelease(Base):
    """A knowledge-base release folder a committed load wrote (`precision/kb/releases/<folder>/`, immutable)."""

    __tablename__ = "precision_kb_release"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    folder: Mapped[str] = mapped_column(String(64), unique=True)
    file: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)


class KbPointer(Base):
    """The release in force for a source: switched in the transaction that ledgers the load; readers follow it."""

    __tablename__ = "precision_kb_pointer"

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    release_id: Mapped[int] = mapped_column(BigId, ForeignKey("precision_kb_release.id"))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)
    loaded_by: Mapped[str] = mapped_column(String(64))
