"""Two processes appending to the ledger at once never fork the chain."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from lifebank.audit import service as audit
from lifebank.db.engine import Database

WRITER = textwrap.dedent("""
    import sys
    from lifebank.audit import service as audit
    from lifebank.db.engine import Database
    db = Database(sys.argv[1])
    for i in range(int(sys.argv[3])):
        with db.transaction() as session:
            audit.record(session, actor=sys.argv[2], action="thing.update", entity_type="thing", entity_id=i)
""")


def test_concurrent_processes_keep_one_chain(db: Database, db_url: str) -> None:
    per_writer = 60
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, db_url, f"writer{n}", str(per_writer)])
               for n in range(3)]
    assert [w.wait(timeout=300) for w in writers] == [0, 0, 0]
    result = audit.verify(db)
    assert result.ok, result.broken
    assert result.checked == 3 * per_writer
    for n in range(3):
        assert audit.list_events(db, actor=f"writer{n}")[0] == per_writer
