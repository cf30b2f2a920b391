"""Tamper evidence of the ledger, on SQLite and PostgreSQL, through the real CLI command."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select, text

from lifebank.audit import service as audit
from lifebank.db.engine import Database


def _append(db: Database, n: int) -> None:
    for i in range(n):
        with db.transaction() as session:
            audit.record(session, actor="tester", action="thing.update", entity_type="thing", entity_id=i,
                         change={"value": i})


def _cli_verify(db_url: str, tmp_path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run([sys.executable, "-m", "lifebank", "audit", "verify"], env=env, capture_output=True,
                          text=True, timeout=120)


def test_untouched_chain_verifies(db: Database, db_url: str, tmp_path) -> None:
    _append(db, 5)
    result = audit.verify(db)
    assert result.ok and result.checked == 5
    proc = _cli_verify(db_url, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "5 events verified" in proc.stdout


@pytest.mark.parametrize(
    ("tamper", "seq", "reason"),
    [
        ("UPDATE ledger_event SET actor = 'mallory' WHERE seq = 3", 3, "row edited"),
        ("DELETE FROM ledger_event WHERE seq = 3", 3, "row deleted"),
        ("DELETE FROM ledger_event WHERE seq = 5", 5, "missing"),
        # swap two rows' positions
        ("UPDATE ledger_event SET seq = -1 WHERE seq = 2; UPDATE ledger_event SET seq = 2 WHERE seq = 4; "
         "UPDATE ledger_event SET seq = 4 WHERE seq = -1", 2, None),
        ("UPDATE ledger_event SET change_digest = 'ff' || substr(change_digest, 3) WHERE seq = 4", 4, "row edited"),
        ("UPDATE ledger_head SET seq = 4", 5, "head"),
    ],
)
def test_tampering_is_detected_and_named(db: Database, db_url: str, tmp_path, tamper: str, seq: int,
                                         reason: str | None) -> None:
    _append(db, 5)
    with db.engine.begin() as conn:
        for statement in tamper.split("; "):
            conn.execute(text(statement))
    result = audit.verify(db)
    assert not result.ok
    assert result.broken is not None and result.broken.seq == seq
    if reason:
        assert reason in result.broken.reason
    proc = _cli_verify(db_url, tmp_path)
    assert proc.returncode == 1
    assert f"event #{seq}" in proc.stderr


def test_inserted_row_is_detected(db: Database) -> None:
    _append(db, 3)
    with db.engine.begin() as conn:
        row = conn.execute(text("SELECT * FROM ledger_event WHERE seq = 3")).mappings().one()
        conn.execute(text("UPDATE ledger_event SET seq = 4 WHERE seq = 3"))
        forged = dict(row)
        forged["hash"] = "f" * 64
        conn.execute(text(
            "INSERT INTO ledger_event (seq, occurred_at, occurred_at_text, actor, action, entity_type, entity_id, "
            "change_digest, prev_hash, hash) VALUES (:seq, :occurred_at, :occurred_at_text, :actor, :action, "
            ":entity_type, :entity_id, :change_digest, :prev_hash, :hash)"), forged)
    result = audit.verify(db)
    assert not result.ok and result.broken is not None and result.broken.seq == 3


def test_failed_transaction_leaves_no_event(db: Database) -> None:
    _append(db, 2)
    with pytest.raises(RuntimeError), db.transaction() as session:
        audit.record(session, actor="t", action="x", entity_type="thing", entity_id=1)
        raise RuntimeError("boom")
    total, _ = audit.list_events(db)
    assert total == 2
    assert audit.verify(db).ok


def test_an_append_to_a_head_that_moved_meanwhile_is_refused_and_nothing_written(db: Database) -> None:
    """`record(head=..., statement=append_with(...))` (PostgreSQL's one-round-trip append for a head the caller
    moved in its own statement): a head that is not where the caller left it must not get the event."""
    if db.dialect != "postgresql":
        pytest.skip("append_with is PostgreSQL's data-modifying-CTE append")
    _append(db, 2)
    with db.session() as session:
        seq, head_hash = session.execute(text("SELECT seq, hash FROM ledger_head WHERE id = 1")).one()
    with pytest.raises(RuntimeError, match="moved meanwhile"), db.transaction() as session:
        audit.record(session, actor="tester", action="thing.update", entity_type="thing", entity_id="x",
                     head=(seq + 1, head_hash), statement=audit.append_with())  # the head was never moved
    with db.transaction() as session:  # the same API with a head really moved: appended, chain intact
        moved = session.connection().execute(select(audit.moved_head())).one()
        assert tuple(moved) == (seq + 1, head_hash)
        audit.record(session, actor="tester", action="thing.update", entity_type="thing", entity_id="y",
                     head=(moved.seq, moved.hash), statement=audit.append_with())
    assert audit.verify(db).ok and audit.verify(db).checked == seq + 1
    with db.session() as session:
        assert session.execute(text("SELECT count(*) FROM ledger_event WHERE entity_id = 'x'")).scalar() == 0
