"""Shared persistence infrastructure: engine, sessions, declarative base and migrations."""

from lifebank.db.base import Base, UTCDateTime, utcnow
from lifebank.db.engine import Database, is_postgresql

__all__ = ["Base", "Database", "UTCDateTime", "is_postgresql", "utcnow"]
