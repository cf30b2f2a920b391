"""Users, organisations, roles and scoped grants, sessions and API tokens: who may do what.

What other domains may use (never the `auth_` tables):
- `Principal` (from `lifebank.auth.service`): `user_id`, `username`, `roles` (global), `permissions`,
  `organisation_id` (None: none recorded), `scopes` and `scope_of(permission)` -> None (everywhere) or a
  `Scope(sites=…, collections=…)` the permission is limited to, `scoped_grants` ('technician@site:X').
- `organisation_by_name(session, name)` -> `OrganisationView(id, name, country, kind, for_profit)` or NotFound;
  `organisation_by_id(session, id)`, `organisation_of_user(session, user_id)` -> the view or None;
  `organisation_members(session, organisation_id)` -> usernames; `get_organisation(db, name)`,
  `list_organisations(db)`, `create_organisation(db, name, country=, kind=, for_profit=, actor=)`.
- `scope_of(principal, permission)` -> None or the `Scope` (what list and search functions filter by).

Imports are deferred so that importing a pure module of this package (`lifebank.auth.scopes`) does not pull
in SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lifebank.auth.scopes import OrganisationKind, Scope, ScopeRef, ScopeType, parse_scope

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from lifebank.auth.organisations import OrganisationView
    from lifebank.auth.service import Principal
    from lifebank.db.engine import Database


def __getattr__(name: str) -> object:
    """`from lifebank.auth import Principal` without importing SQLAlchemy until it is asked for."""
    if name == "Principal":
        from lifebank.auth.service import Principal

        return Principal
    raise AttributeError(f"module 'lifebank.auth' has no attribute {name!r}")


def organisation_by_name(session: Session, name: str) -> OrganisationView:
    """The organisation of that name (case and spacing ignored), or NotFound naming it."""
    from lifebank.auth import organisations

    return organisations.organisation_by_name(session, name)


def organisation_by_id(session: Session, organisation_id: int) -> OrganisationView | None:
    from lifebank.auth import organisations

    return organisations.organisation_by_id(session, organisation_id)


def organisation_of_user(session: Session, user_id: int) -> OrganisationView | None:
    """The organisation a user works for, or None."""
    from lifebank.auth import organisations

    return organisations.organisation_of_user(session, user_id)


def organisation_members(session: Session, organisation_id: int) -> list[str]:
    from lifebank.auth import organisations

    return organisations.organisation_members(session, organisation_id)


def get_organisation(db: Database, name: str) -> OrganisationView:
    from lifebank.auth import organisations

    return organisations.get_organisation(db, name)


def list_organisations(db: Database) -> list[OrganisationView]:
    from lifebank.auth import organisations

    return organisations.list_organisations(db)


def create_organisation(db: Database, name: str, *, country: str | None = None, kind: str = "company",
                        for_profit: bool | None = None, actor: str = "system") -> OrganisationView:
    """Register an organisation (ledgered); a company is for-profit unless `for_profit=False`."""
    from lifebank.auth import organisations

    return organisations.create_organisation(db, name, country=country, kind=kind, for_profit=for_profit,
                                             actor=actor)


def scope_of(principal: Principal, permission: str) -> Scope | None:
    """None: the principal holds `permission` everywhere; else the sites and collections it is limited to."""
    return principal.scope_of(permission)


__all__ = ["OrganisationKind", "Principal", "Scope", "ScopeRef", "ScopeType", "create_organisation", "get_organisation",
           "list_organisations", "organisation_by_id", "organisation_by_name", "organisation_members",
           "organisation_of_user", "parse_scope", "scope_of"]
