"""`make demo`'s command end to end: it loads the demo set, serves, and its printed login works in Chromium."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_serves_and_its_login_works(tmp_path: Path, page) -> None:
    port = _free_port()
    env = {**os.environ, "LIFEBANK_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "100"}
    env.pop("LIFEBANK_DATABASE_URL", None)
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "lifebank", "demo", "--port", str(port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 600
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        output = log.read_text()
        assert health is not None, f"demo did not serve:\n{output[-3000:]}"
        assert health.status_code == 200 and health.json()["database"]["dialect"] == "sqlite"
        assert f"http://127.0.0.1:{port}/" in output
        match = re.search(r"Log in as (\S+) with password (\S+)", output)
        assert match, output[-3000:]
        username, password = match.groups()
        assert (tmp_path / "data" / "lifebank.db").exists()

        page.goto(f"http://127.0.0.1:{port}/login")
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_url(f"http://127.0.0.1:{port}/dashboard")
        assert page.locator(".who").inner_text() == username
    finally:
        proc.terminate()
        proc.wait(timeout=30)
