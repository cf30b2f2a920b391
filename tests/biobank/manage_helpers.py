"""Helpers of the manager-area page tests: a logged-in browser session over the test client, and its CSRF token."""

from __future__ import annotations

import re

from lifebank.auth import service as auth

PASSWORD = "Manager-horse-battery-7"


def log_in(client, db, role: str = "biobank_manager", username: str = "mara", locale: str | None = None) -> str:
    """Log `username` (created with `role`) in through the login form; return the page's CSRF token."""
    auth.create_user(db, username, PASSWORD, [role], locale=locale)
    token = csrf(client, "/login")
    answer = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text[:300]
    return csrf(client, "/dashboard")


def csrf(client, path: str) -> str:
    page = client.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:300]
    return found.group(1)


def ledger(db, action: str) -> list[tuple[str, str, dict]]:
    """The ledger's events of `action`, oldest first, as (actor, entity id, change)."""
    from lifebank.audit.service import EventFilter, event_detail, list_events

    _total, events = list_events(db, where=EventFilter(action=action), limit=1000)
    return [(e.actor, e.entity_id, event_detail(db, e.seq).change or {}) for e in reversed(events)]
