"""Signed anchors catch what the hash chain alone cannot: a chain rewritten and re-hashed by a database writer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from lifebank.audit import service as audit
from lifebank.audit.anchoring import anchor_head, check_anchors
from lifebank.audit.anchors import AnchorError, load_public_key, new_private_key_pem, public_key_pem, read_anchor
from lifebank.audit.chain import GENESIS_HASH, EventFields, event_hash
from lifebank.audit.models import LedgerEvent
from lifebank.db.engine import Database


def _append(db: Database, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        with db.transaction() as session:
            audit.record(session, actor="tester", action="thing.update", entity_type="thing", entity_id=i,
                         change={"value": i})


def _keys(tmp_path: Path) -> tuple[Path, Path]:
    private = tmp_path / "anchor.key"
    pem = new_private_key_pem()
    private.write_bytes(pem)
    public = tmp_path / "anchor.key.pub"
    public.write_bytes(public_key_pem(pem))
    return private, public


def _rewrite_whole_chain(db: Database, actor: str) -> None:
    """What an attacker with write access does: change history, then recompute every hash and the head."""
    with db.engine.begin() as conn:
        rows = conn.execute(text("SELECT seq, occurred_at_text, actor, action, entity_type, entity_id, "
                                 "change_digest FROM ledger_event ORDER BY seq")).all()
        prev = GENESIS_HASH
        for row in rows:
            fields = EventFields(row.seq, row.occurred_at_text, actor, row.action, row.entity_type, row.entity_id,
                                 row.change_digest, prev)
            digest = event_hash(fields)
            conn.execute(text("UPDATE ledger_event SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s"),
                         {"a": actor, "p": prev, "h": digest, "s": row.seq})
            prev = digest
        conn.execute(text("UPDATE ledger_head SET hash = :h WHERE id = 1"), {"h": prev})


def test_anchors_agree_with_an_untouched_growing_ledger(db: Database, tmp_path: Path) -> None:
    private, public = _keys(tmp_path)
    _append(db, 4)
    anchor, path = anchor_head(db, private, tmp_path / "anchors")
    assert anchor.seq == 4 and path.exists()
    _append(db, 3, start=4)
    anchor_head(db, private, tmp_path / "anchors")
    with db.session() as session:
        events = session.scalars(select(LedgerEvent.seq)).all()
    assert len(events) == 7  # anchoring appended no ledger event
    report = check_anchors(db, tmp_path / "anchors", public)
    assert report.ok and report.checked == 2 and report.newest_seq == 7


def test_a_consistently_rewritten_chain_passes_verify_but_not_its_anchors(db: Database, tmp_path: Path) -> None:
    private, public = _keys(tmp_path)
    _append(db, 6)
    anchor_head(db, private, tmp_path / "anchors")
    _rewrite_whole_chain(db, actor="mallory")
    assert audit.verify(db).ok  # the chain alone cannot tell
    report = check_anchors(db, tmp_path / "anchors", public)
    assert not report.ok
    assert "event #6 differs from its anchor" in str(report.problems[0].message)


def test_events_cut_off_after_an_anchor_are_caught(db: Database, tmp_path: Path) -> None:
    private, public = _keys(tmp_path)
    _append(db, 5)
    anchor_head(db, private, tmp_path / "anchors")
    with db.engine.begin() as conn:
        last_kept = conn.execute(text("SELECT hash FROM ledger_event WHERE seq = 3")).scalar_one()
        conn.execute(text("DELETE FROM ledger_event WHERE seq > 3"))
        conn.execute(text("UPDATE ledger_head SET seq = 3, hash = :h WHERE id = 1"), {"h": last_kept})
    assert audit.verify(db).ok
    report = check_anchors(db, tmp_path / "anchors", public)
    assert not report.ok and "no longer in the ledger" in str(report.problems[0].message)


def test_a_forged_anchor_or_the_wrong_key_is_refused(db: Database, tmp_path: Path) -> None:
    private, public = _keys(tmp_path)
    _append(db, 2)
    _, path = anchor_head(db, private, tmp_path / "anchors")
    document = json.loads(path.read_text())
    document["hash"] = "0" * 64
    path.write_text(json.dumps(document))
    report = check_anchors(db, tmp_path / "anchors", public)
    assert not report.ok and "forged or edited" in str(report.problems[0].message)

    other = tmp_path / "other"
    other.mkdir()
    _, other_public = _keys(other)
    anchor_head(db, private, tmp_path / "fresh")
    report = check_anchors(db, tmp_path / "fresh", other_public)
    assert not report.ok and "does not verify" in str(report.problems[0].message)


def test_an_empty_anchor_folder_never_passes(db: Database, tmp_path: Path) -> None:
    _, public = _keys(tmp_path)
    (tmp_path / "empty").mkdir()
    report = check_anchors(db, tmp_path / "empty", public)
    assert not report.ok and "no anchor file" in str(report.problems[0].message)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=300).map(str.encode))
def test_any_bytes_as_an_anchor_raise_only_anchor_error(document: bytes) -> None:
    public = load_public_key(public_key_pem(_FIXED_KEY))
    try:
        read_anchor(document, public)
    except AnchorError:
        pass


_FIXED_KEY = new_private_key_pem()


def test_cli_keygen_anchor_verify_round_trip(db: Database, db_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(tmp_path / "data")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lifebank", *args], env=env, capture_output=True, text=True,
                              timeout=120)

    _append(db, 3)
    key = tmp_path / "keys" / "ledger.key"
    key.parent.mkdir()
    assert cli("audit", "keygen", str(key)).returncode == 0
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert cli("audit", "keygen", str(key)).returncode == 1  # never overwritten
    done = cli("audit", "anchor", "--key", str(key), "--out", str(tmp_path / "anchors"), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["seq"] == 3
    ok = cli("audit", "verify", "--anchors", str(tmp_path / "anchors"), "--key", f"{key}.pub")
    assert ok.returncode == 0, ok.stderr
    assert "1 anchor agrees" in ok.stdout
    _rewrite_whole_chain(db, actor="mallory")
    caught = cli("audit", "verify", "--anchors", str(tmp_path / "anchors"), "--key", f"{key}.pub")
    assert caught.returncode == 1
    assert "ledger was rewritten" in caught.stderr
