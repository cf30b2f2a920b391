"""Demo organisations: the bank itself, a hospital, a university and the demo partner's company, with the demo
users of `lifebank.demo` placed in them (idempotent: a user who already has an organisation keeps it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lifebank.auth import organisations
from lifebank.auth.tokens import user_by_name
from lifebank.db.engine import Database
from lifebank.errors import NotFound

ACTOR = "demo"
ORGANISATIONS = [  # name, kind, country
    ("LifeBank Biobank", "bank", "CN"),
    ("Ruijin Hospital", "hospital", "CN"),
    ("Fudan University", "university", "CN"),
    ("Partner Pharma Ltd", "company", "CN"),
]
MEMBERS = {"admin": "LifeBank Biobank", "manager": "LifeBank Biobank", "tech": "LifeBank Biobank",
           "clinician": "Ruijin Hospital", "researcher": "Fudan University", "partner": "Partner Pharma Ltd"}


def load_demo(db: Database, progress_bar: Callable[..., Any] | None = None) -> None:
    known = {o.name for o in organisations.list_organisations(db)}
    for name, kind, country in ORGANISATIONS:
        if name not in known:
            organisations.create_organisation(db, name, kind=kind, country=country, actor=ACTOR)
    for username, organisation in MEMBERS.items():
        with db.session() as session:
            try:
                user = user_by_name(session, username)
            except NotFound:
                continue
            placed = user.organisation_id is not None
        if not placed:
            organisations.set_user_organisation(db, username, organisation, actor=ACTOR)
