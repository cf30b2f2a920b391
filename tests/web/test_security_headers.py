"""Web security headers: a Content-Security-Policy with no inline script, framing refused, HSTS behind HTTPS."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from lifebank.biobank import service as biobank
from lifebank.config import Settings
from lifebank.web.app import create_app

SRC = Path(__file__).parents[2] / "src" / "lifebank"
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def test_every_response_carries_the_policy(client) -> None:
    for path in ("/login", "/api/v1/health", "/api/docs", "/static/lifebank.css", "/no-such-page"):
        headers = client.get(path).headers
        policy = headers["content-security-policy"]
        assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy, path
        assert "unsafe-eval" not in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in headers  # plain HTTP on loopback: HSTS would be a lie


def test_hsts_when_served_over_https(settings: Settings, db) -> None:
    from fastapi.testclient import TestClient

    secure = settings.model_copy(update={"cookie_secure": True})
    with TestClient(create_app(secure, db), base_url="https://lifebank.example") as client:
        assert client.get("/login").headers["strict-transport-security"].startswith("max-age=31536000")


def test_no_template_holds_inline_script_or_event_handlers() -> None:
    """The policy would block them: behaviour lives in /static/*.js (data- attributes say what to do)."""
    offenders = []
    for template in sorted(SRC.rglob("templates/**/*.html")):
        text = template.read_text(encoding="utf-8")
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER):
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{template.relative_to(SRC)}:{line}: {match.group(0).strip()}")
    assert not offenders, offenders


@pytest.mark.browser
def test_pages_run_under_the_policy_without_violations(live_server, page) -> None:
    """Chromium enforces the header: the select-all box (lifebank.js) still works, nothing is refused."""
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    biobank.register_participant(live_server.db, "P000001", sex="F", birth_year=1980, site="SH", actor="t")
    biobank.record_consent(live_server.db, "P000001", duo_codes="DUO:0000042", consent_date=date(2024, 1, 2),
                           actor="t")
    for i in range(3):
        biobank.register_specimen(live_server.db, f"CSP{i:05d}", participant="P000001", type="SER", quantity=1.0,
                                  unit="mL", actor="t")
    live_server.create_user("biobank_manager", "cspmanager")
    live_server.login(page, "cspmanager")
    page.goto(f"{live_server.url}/biobank/specimens")
    page.check("#select-page")
    boxes = page.locator("#specimen-table tbody input[name=barcodes]")
    assert boxes.count() == 3 and all(boxes.nth(i).is_checked() for i in range(3))
    page.goto(f"{live_server.url}/api/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=20000)
    assert violations == []
