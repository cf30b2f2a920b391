"""Two administrators demoting each other at the same moment cannot leave the platform without one."""

from __future__ import annotations

import threading

from lifebank.auth import service as auth
from lifebank.errors import Conflict

PASSWORD = "Correct-horse-battery-9"


def test_concurrent_demotions_leave_an_active_admin(db) -> None:
    for round_ in range(5):
        a, b = f"ann{round_}", f"bob{round_}"
        auth.create_user(db, a, PASSWORD, ["admin"])
        auth.create_user(db, b, PASSWORD, ["admin"])
        for user in auth.list_users(db):  # earlier rounds' admins step aside
            if user.username not in {a, b} and "admin" in user.roles:
                auth.set_roles(db, user.username, ["researcher"], actor="test")
        start = threading.Barrier(2)
        outcomes: dict[str, str] = {}

        def demote(name: str, start: threading.Barrier = start, outcomes: dict[str, str] = outcomes) -> None:
            start.wait()
            try:
                auth.set_roles(db, name, ["technician"], actor=name)
                outcomes[name] = "demoted"
            except Conflict:
                outcomes[name] = "refused"

        threads = [threading.Thread(target=demote, args=(name,)) for name in (a, b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes.values()) == ["demoted", "refused"], outcomes
        admins = [u.username for u in auth.list_users(db) if "admin" in u.roles and u.is_active]
        assert len(admins) == 1
