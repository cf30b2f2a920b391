"""The writers' turn on PostgreSQL: a pooled connection the server dropped is replaced, for writes and reads."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select, text

from lifebank.audit import service as ledger
from lifebank.audit.models import LedgerHead
from lifebank.db.engine import Database


def _drop_every_connection_of(db: Database) -> int:
    """What a server restart or an administrator does: terminate every backend serving this database."""
    admin = create_engine(db.engine.url, isolation_level="AUTOCOMMIT", poolclass=None)
    try:
        with admin.connect() as conn:
            return len(conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).all())
    finally:
        admin.dispose()


def test_a_write_and_a_read_recover_from_connections_the_server_dropped(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite has no server to drop a connection")
    with db.transaction() as session:  # pool one connection; it serves both reads and writes
        ledger.record(session, actor="t", action="test.before", entity_type="test", entity_id=1)
    with db.session() as session:
        before = session.scalar(select(LedgerHead.seq))
    assert _drop_every_connection_of(db) >= 1
    with db.transaction() as session:  # the pool skips its ping: the writers' lock meets the dead connection
        ledger.record(session, actor="t", action="test.after", entity_type="test", entity_id=1)
    with db.session() as session:
        assert session.scalar(select(LedgerHead.seq)) == before + 1
    assert _drop_every_connection_of(db) >= 1
    with db.session() as session:  # reads keep the pool's pre-ping
        assert session.scalar(select(LedgerHead.seq)) == before + 1
    assert ledger.verify(db).ok
