"""Tables of the sharing domain: Beacon datasets and settings, the query log, record grants, recipient keys and
exports.

The sharing domain owns no participant, specimen or genotype: those stay in biobank and omics and are read
through their published functions. These rows only say how much of them each caller may see, what was asked,
and what left the bank.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lifebank.db.base import Base, UTCDateTime, utcnow


class BeaconDataset(Base):
    """A dataset's Beacon security level (PUBLIC, REGISTERED, CONTROLLED); a dataset without a row is CONTROLLED."""

    __tablename__ = "sh_beacon_dataset"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    security_level: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(500), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100))


class BeaconSetting(Base):
    """One Beacon setting (count threshold, query budget, window, anonymous granularity) as text."""

    __tablename__ = "sh_beacon_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class BeaconQuery(Base):
    """Every Beacon query: who (user or client address), what, and whether it was answered or refused."""

    __tablename__ = "sh_beacon_query"
    __table_args__ = (Index("ix_sh_beacon_query_caller", "caller", "variant", "occurred_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    caller: Mapped[str] = mapped_column(String(120))  # 'user:<name>' or 'ip:<address>'
    endpoint: Mapped[str] = mapped_column(String(64))
    variant: Mapped[bool] = mapped_column(Boolean, default=False)
    granularity: Mapped[str] = mapped_column(String(16))
    refused: Mapped[bool] = mapped_column(Boolean, default=False)
    query: Mapped[str] = mapped_column(Text)  # canonical JSON of the request


class RecordGrant(Base):
    """Record-level access of one user to one dataset: an approved access request or an admin's release."""

    __tablename__ = "sh_record_grant"
    __table_args__ = (UniqueConstraint("dataset", "username", name="uq_sh_record_grant_dataset_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(100), index=True)
    purposes: Mapped[str] = mapped_column(String(500))  # DUO ids of the use, ';'-separated
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(String(500), default="")
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    granted_by: Mapped[str] = mapped_column(String(100))


class RecipientKey(Base):
    """The secret pseudonym key of one recipient (HMAC-SHA-256): only the bank holds it."""

    __tablename__ = "sh_recipient_key"

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    key_hex: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ShareExport(Base):
    """One de-identified export written for a recipient, with its counts and file digests."""

    __tablename__ = "sh_export"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(100), index=True)
    grant_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dataset: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))
    rows: Mapped[int] = mapped_column(Integer)
    suppressed: Mapped[int] = mapped_column(Integer)
    report: Mapped[str] = mapped_column(Text)  # JSON: generalisations, suppressions, consent refusals
    files: Mapped[str] = mapped_column(Text)  # JSON list of {name, sha256, bytes}
    folder: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
