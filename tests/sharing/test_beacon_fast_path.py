"""The Beacon's fast path: answers from the in-memory carried-sites index equal the store's, kept values follow
every change of the bank at once, the query log is written in batches off the request path (and at
shutdown), and the budget is reconciled with what other workers wrote."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select, text

from lifebank.audit.models import LedgerChange, LedgerEvent
from lifebank.audit.service import verify
from lifebank.biobank import service as biobank
from lifebank.db.base import utcnow
from lifebank.omics import service as omics
from lifebank.omics.site_presence import _first_of_each
from lifebank.sharing import beacon, data, query_log, snapshot
from lifebank.sharing.models import BeaconQuery
from lifebank.sharing.request import from_query
from lifebank.web.app import create_app

B = "/api/beacon/v2"


def _store_answers(bank, query: dict[str, str]) -> list[tuple[str, int, str, str]]:
    """The same question answered the slow way: the store's region read, AC > 0, plain alleles, `matches`."""
    request = from_query(query)
    return [(h.chrom, h.pos, h.ref, h.alt) for h in data.variants(bank.db, bank.settings.data_dir, request, "kg")]


def _kg(bank) -> data.DatasetInfo:
    return next(d for d in data.datasets(bank.db) if d.name == "kg")


def test_presence_index_answers_as_the_store_does(bank) -> None:
    ds = _kg(bank)
    index = data.presence(bank.db, bank.settings.data_dir, ds)
    store = omics.variants_in_region(bank.db, bank.settings.data_dir, "chr22:1-50818468", dataset="kg")[1]
    counts = omics.allele_counts(bank.db, bank.settings.data_dir, "chr22:1-50818468", dataset="kg")
    carried = {(c.pos, c.ref, c.alt) for c in counts if c.ac > 0}
    plain = [(r["pos"], r["ref"], r["alt"]) for r in store if "*" not in str(r["alt"]) + str(r["ref"])
             and not str(r["alt"]).startswith("<")]
    assert 0 < len(index) == len({s for s in plain if s in carried}) < len(store) + 1
    assert len(carried) < len(store) or len(index) < len(store)  # some site is left out (AC = 0 or '*')
    positions = sorted(r["pos"] for r in store)
    low, high = positions[0], positions[-1]

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(start=st.integers(low - 50, high + 50), length=st.integers(1, 4000),
           bases=st.sampled_from(["", "A", "C", "G", "T", "N"]), contig=st.sampled_from(["22", "chr22"]))
    def same(start: int, length: int, bases: str, contig: str) -> None:
        query = {"referenceName": contig, "start": str(start), "end": str(start + length)}
        if bases:
            query["alternateBases"] = bases
        request = from_query(query)
        expected = _store_answers(bank, query)
        assert data.variant_keys(bank.db, bank.settings.data_dir, request, ds) == expected
        assert data.variant_count(bank.db, bank.settings.data_dir, request, ds) == len(expected)

    same()
    # sequence queries: every stored site by its own position and alleles, and a wrong allele
    for pos, ref, alt in plain[:40]:
        query = {"referenceName": "22", "start": str(int(pos) - 1), "referenceBases": str(ref),
                 "alternateBases": str(alt)}
        request = from_query(query)
        assert data.variant_keys(bank.db, bank.settings.data_dir, request, ds) == _store_answers(bank, query)
        wrong = query | {"alternateBases": "T" if alt != "T" else "C"}
        assert data.variant_count(bank.db, bank.settings.data_dir, from_query(wrong), ds) == \
            len(_store_answers(bank, wrong))


def test_kept_answers_follow_a_consent_withdrawal_at_once(client, bank, users) -> None:
    reader = users.headers("researcher", "reader")
    beacon.set_level(bank.db, "biobank", "REGISTERED", actor="test")
    url = f"{B}/individuals?filters=DUO:0000042,NCIT:C16576&requestedGranularity=count&datasets=biobank"

    def count() -> int:
        body = client.get(url, headers=reader).json()
        return body["responseSummary"]["numTotalResults"]

    before = count()
    assert before == count() > 5  # the second answer comes from the kept participant sets
    # P0002: female (2 % 3 != 0), GRU (even): withdrawing her consent takes her out of the very next answer
    biobank.withdraw_consent(bank.db, "P0002", reason="test", actor="test")
    assert count() == before - 1
    # a level change is seen at once too (anonymous callers lose the dataset)
    beacon.set_level(bank.db, "biobank", "CONTROLLED", actor="test")
    assert client.get(url, headers=reader).status_code == 403


def test_the_change_check_survives_a_dropped_connection(client, bank, users) -> None:
    """On PostgreSQL the change check runs over one kept autocommit connection: one statement a request, none of the
    pool's pre-ping, BEGIN and ROLLBACK. If the server drops it, the next request opens another and still sees a
    change made meanwhile."""
    if bank.db.dialect != "postgresql":
        pytest.skip("SQLite has no server to drop a connection")
    reader = users.headers("researcher", "reader")
    beacon.set_level(bank.db, "biobank", "REGISTERED", actor="test")
    url = f"{B}/individuals?filters=DUO:0000042,NCIT:C16576&requestedGranularity=count&datasets=biobank"

    def count() -> int:
        return client.get(url, headers=reader).json()["responseSummary"]["numTotalResults"]

    before = count()
    kept = snapshot._snapshot(client.app.state.db).conn
    assert kept is not None and kept.autocommit
    with bank.db.engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": kept.info.backend_pid})
    biobank.withdraw_consent(bank.db, "P0002", reason="test", actor="test")
    assert count() == before - 1
    assert snapshot._snapshot(client.app.state.db).conn is not kept


def test_biosample_counts_from_the_grouped_count_equal_the_listing(client, bank, users) -> None:
    """A biosample count or boolean comes from the biobank's count per participant, never a specimen list: it
    equals the listing (what records are built from) for specimen-level, participant-level and mixed filters,
    and follows a change of the bank at once."""
    reader = users.headers("researcher", "reader")
    beacon.set_level(bank.db, "biobank", "REGISTERED", actor="test")
    queries = ["UBERON:0000178", "UBERON:0001969", "UBERON:0000178,NCIT:C16576", "lifebank:available,NCIT:C20197",
               "lifebank:available,DUO:0000042,NCIT:C16576", "lifebank:available,NCIT:C16576", "NCIT:C16576"]

    def listed(filters: str) -> int:
        parsed = from_query({"filters": filters}).filters
        people = data.participant_level(parsed)
        owners = data.participants_filtered(bank.db, people)
        rows = data.specimens(bank.db, [f for f in parsed if f not in people])
        return sum(1 for row in rows if owners is None or row["participant"] in owners)

    def counted(filters: str, granularity: str = "count") -> dict:
        url = f"{B}/biosamples?filters={filters}&requestedGranularity={granularity}&datasets=biobank"
        return client.get(url, headers=reader).json()["responseSummary"]

    expected = {q: listed(q) for q in queries}
    assert expected["UBERON:0000178"] == 100 and expected["UBERON:0001969"] == 25  # blood tubes, plasma aliquots
    for q in queries:
        assert counted(q)["numTotalResults"] == expected[q] >= 5, q
        assert counted(q, "boolean")["exists"] is True
    # P0002: female, GRU; her consent withdrawn, her tubes are no longer distributable (nor she a GRU match)
    biobank.withdraw_consent(bank.db, "P0002", reason="test", actor="test")
    for q in queries:
        assert counted(q)["numTotalResults"] == listed(q), q
    for q in ("lifebank:available,DUO:0000042,NCIT:C16576", "lifebank:available,NCIT:C16576"):
        assert listed(q) < expected[q], q  # she left the consent filter; her tubes left "available"


def test_query_log_is_written_in_batches_and_at_shutdown(bank, settings, monkeypatch) -> None:
    beacon.set_level(bank.db, "kg", "PUBLIC", actor="test")
    monkeypatch.setattr(query_log, "FLUSH_SECONDS", 600.0)  # the background writer stays asleep: shutdown writes
    query_log.flush(bank.db)
    with bank.db.session() as session:
        before = session.scalar(select(func.count()).select_from(BeaconQuery))
        events_before = session.scalar(select(func.count()).where(LedgerEvent.action == "beacon.query"))
    app = create_app(settings, bank.db)
    with TestClient(app) as client:
        for start in range(10510000, 10510000 + 20 * 500, 500):
            response = client.get(f"{B}/g_variants?referenceName=22&start={start}&end={start + 500}"
                                  "&requestedGranularity=boolean")
            assert response.status_code == 200
    # the server stopped: its shutdown wrote the queue (no read of the log in between)
    with bank.db.session() as session:
        assert session.scalar(select(func.count()).select_from(BeaconQuery)) == before + 20
        changes = session.scalars(select(LedgerChange.change_json).join(
            LedgerEvent, LedgerEvent.seq == LedgerChange.seq).where(LedgerEvent.action == "beacon.query")
            .order_by(LedgerEvent.seq)).all()[events_before:]
    query_log._flusher.wakeup.set()  # back to its usual pace for the next tests
    listed = [q for change in changes for q in json.loads(change)["queries"]]
    assert len(listed) == 20 and len(changes) == 1  # one transaction, one ledger event for the batch
    assert [q["query"]["parameters"]["g_variant"]["start"][0] for q in listed] == \
        list(range(10510000, 10510000 + 20 * 500, 500))  # in order, each with its request
    assert verify(bank.db).ok


def test_budget_counts_queries_other_workers_wrote(client, bank, monkeypatch) -> None:
    beacon.set_level(bank.db, "kg", "PUBLIC", actor="test")
    beacon.change_settings(bank.db, actor="test", budget=5, window_hours=24)
    url = f"{B}/g_variants?referenceName=22&start=10510000&end=10520000&requestedGranularity=boolean"
    for _ in range(3):
        assert client.get(url).status_code == 200
    # another worker answered two more for the same address and wrote them (its flush)
    now = utcnow()
    with bank.db.transaction() as session:
        session.execute(insert(BeaconQuery), [
            {"occurred_at": now - timedelta(seconds=1), "caller": "ip:testclient", "endpoint": "g_variants",
             "variant": True, "granularity": "boolean", "refused": False, "query": "{}"} for _ in range(2)])
    monkeypatch.setattr(query_log, "RECONCILE_SECONDS", 0.0)  # the next check reads the database again
    response = client.get(url)
    assert response.status_code == 429
    assert "5 variant queries per 24 h" in response.json()["error"]["errorMessage"]
    # a query older than the window no longer counts: the budget frees up as the window slides
    with bank.db.transaction() as session:
        session.execute(BeaconQuery.__table__.update().values(occurred_at=now - timedelta(hours=25)))
    assert client.get(url).status_code == 200


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 6), st.sampled_from("ACG"), st.sampled_from("CGT")), max_size=30))
def test_a_site_listed_twice_is_kept_once(sites: list[tuple[int, str, str]]) -> None:
    """Two records of one file (or two batches) with the same POS, REF and ALT are one Beacon variant."""
    sites.sort(key=lambda s: s[0])
    pos = np.array([s[0] for s in sites], np.int64)
    refs = np.array([s[1] for s in sites], object)
    alts = np.array([s[2] for s in sites], object)
    keep = _first_of_each(pos, refs, alts)
    kept = sites if keep is None else [sites[i] for i in keep.tolist()]
    assert kept == list(dict.fromkeys(sites))
