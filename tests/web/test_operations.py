"""Operating the server: request ids, JSON access logs without raw paths, metrics, probes, several workers."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from lifebank.db.engine import Database
from lifebank.web.app import create_app
from lifebank.web.operations import JsonFormatter


def test_every_response_carries_a_request_id_and_echoes_a_plain_one(client) -> None:
    fresh = client.get("/livez")
    assert fresh.status_code == 200 and len(fresh.headers["x-request-id"]) == 32
    echoed = client.get("/livez", headers={"X-Request-ID": "lb-trace-42"})
    assert echoed.headers["x-request-id"] == "lb-trace-42"
    hostile = client.get("/livez", headers={"X-Request-ID": "a\u00e9\"{}<script>".encode()})
    assert hostile.headers["x-request-id"].isalnum()


def test_access_log_names_the_route_template_never_the_path(client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="lifebank.access"):
        client.get("/api/v1/biobank/participants/P123456?q=secret-term")
    records = [r for r in caplog.records if r.name == "lifebank.access"]
    assert records, "no access log line"
    line = JsonFormatter().format(records[-1])
    entry = json.loads(line)
    assert entry["status"] in (401, 403, 404) and entry["request_id"]
    assert "P123456" not in line and "secret-term" not in line


def test_readiness_checks_the_database_and_liveness_does_not(client, settings) -> None:
    assert client.get("/readyz").json() == {"status": "ready"}
    unreachable = Database("postgresql+psycopg://postgres@127.0.0.1:9/nowhere")  # nothing listens on port 9
    with TestClient(create_app(settings, unreachable, check_schema=False)) as cut_off:
        gone = cut_off.get("/readyz")
        assert gone.status_code == 503 and gone.json()["status"] == "not ready"
        assert cut_off.get("/livez").status_code == 200
    unreachable.dispose()


def test_metrics_count_requests_by_route_for_loopback_callers_only(client) -> None:
    client.get("/livez")
    page = client.get("/metrics")
    assert page.status_code == 200
    assert 'lifebank_http_requests_total{method="GET",route="/livez",status="200"}' in page.text
    with TestClient(client.app, client=("203.0.113.9", 5555)) as remote:
        refused = remote.get("/metrics", headers={"Accept-Language": "zh-CN"})
    assert refused.status_code == 403 and "LIFEBANK_METRICS_TOKEN" in refused.text and "指标" in refused.text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"])
def test_serve_with_two_workers_answers_logs_json_and_sums_metrics(db_url: str, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(tmp_path / "data"),
           "LIFEBANK_SECRET_KEY": "k" * 40}
    server = subprocess.Popen([sys.executable, "-m", "lifebank", "serve", "--workers", "2", "--port", str(port)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "server did not become ready"
            time.sleep(0.3)
        pids = {httpx.get(f"http://127.0.0.1:{port}/livez", timeout=5).json()["pid"] for _ in range(40)}
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        total = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                    if line.startswith('lifebank_http_requests_total{method="GET",route="/livez",status="200"}'))
        assert total == 40  # counted across both workers
        assert len(pids) >= 1
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(e.get("logger") == "lifebank.access" and e.get("route") == "/livez" for e in lines), stderr[-2000:]


def test_numbers_no_column_can_hold_are_the_callers_mistake_not_a_server_error(client, users) -> None:
    """Found by the API fuzzer: an id of 10**23 reached the database driver and answered 500 (SQLite's
    OverflowError, PostgreSQL's numeric-out-of-range); a NUL byte in a folder name did the same."""
    headers = users.headers("admin")
    for path in ("/api/v1/biobank/participants?offset=99999999999999999999999",
                 "/api/v1/biobank/specimens?limit=50&offset=99999999999999999999999"):
        answer = client.get(path, headers={**headers, "Accept-Language": "zh-CN"})
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["detail"] == "请求中的某个数字超出范围"
    assert client.get("/api/v1/precision/reports?offset=-1", headers=headers).status_code == 422  # was a 500 on PG
    nul = client.put("/api/v1/hla/nomenclature", json={"folder": "a\x00b"}, headers=headers)
    assert nul.status_code == 422 and "null byte" in nul.json()["detail"]
