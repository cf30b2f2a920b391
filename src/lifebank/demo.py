"""The demo data set `make demo` loads: demo users of every role, then each domain's `demo.load_demo`.

Loading is idempotent: a second `make demo` finds the data there and only serves.
"""

from __future__ import annotations

from dataclasses import dataclass

from lifebank.auth import service as auth
from lifebank.cli.progress import progress_bar
from lifebank.db.engine import Database
from lifebank.domains import domain_modules

DEMO_PASSWORD = "LifeBank-demo-2026"
DEMO_USERS: list[tuple[str, str, str, str | None]] = [
    ("admin", "Demo administrator", "admin", None),
    ("manager", "Li Wei (biobank manager)", "biobank_manager", "zh_Hans"),
    ("tech", "Zhang Min (technician)", "technician", "zh_Hans"),
    ("clinician", "Dr. Anna Keller (clinician)", "clinician", "en"),
    ("researcher", "Dr. Chen Jing (researcher)", "researcher", "zh_Hans"),
    ("partner", "Partner Pharma Ltd", "partner", "en"),
]


@dataclass(frozen=True, slots=True)
class DemoLogin:
    username: str
    password: str
    others: list[str]


def load(db: Database) -> DemoLogin:
    existing = {u.username for u in auth.list_users(db)}
    for username, name, role, locale in DEMO_USERS:
        if username not in existing:
            auth.create_user(db, username, DEMO_PASSWORD, [role], display_name=name, locale=locale, actor="demo")
    for module in domain_modules("demo"):
        module.load_demo(db, progress_bar)
    return DemoLogin("admin", DEMO_PASSWORD, [u[0] for u in DEMO_USERS[1:]])
