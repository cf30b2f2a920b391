"""Use cases of organisations and scoped grants: who a user works for, and where their scoped roles apply.

Other domains read organisations through the `OrganisationView` these functions return (never the
`auth_organisation` table): the access workflow asks `organisation_of_user` who a requester works for and
whether it is for-profit (DUO NPU) or abroad (HGR). Every change is ledgered in its transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lifebank.audit.service import SYSTEM_ACTOR, record, serialise_writers
from lifebank.auth.models import Organisation, RoleGrant, User
from lifebank.auth.permissions import ROLE_PERMISSIONS, parse_role
from lifebank.auth.scopes import (
    SCOPABLE_PERMISSIONS,
    ScopeRef,
    default_for_profit,
    parse_country,
    parse_kind,
    parse_scope,
)
from lifebank.auth.tokens import user_by_name
from lifebank.db.engine import Database
from lifebank.errors import Conflict, NotFound, ValidationFailed
from lifebank.messages import N_, register_labels

register_labels("ledger_action", {
    "organisation.create": N_("Organisation created"),
    "user.organisation": N_("Organisation chosen"),
    "user.scope_grant": N_("Scoped role granted"),
    "user.scope_revoke": N_("Scoped role taken away"),
})
register_labels("entity_type", {"organisation": N_("Organisation")})

DEFAULT_COUNTRY = "CN"


@dataclass(frozen=True, slots=True)
class OrganisationView:
    """An organisation as other domains see it (a value, detached from any session)."""

    id: int
    name: str
    country: str
    kind: str
    for_profit: bool


def _view(org: Organisation) -> OrganisationView:
    return OrganisationView(org.id, org.name, org.country, org.kind, org.for_profit)


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > 200:
        raise ValidationFailed("an organisation needs a name of 1-200 characters")
    return cleaned


def create_organisation(db: Database, name: str, *, country: str | None = None, kind: str = "company",
                        for_profit: bool | None = None, actor: str = SYSTEM_ACTOR) -> OrganisationView:
    """Register an organisation. Without `for_profit`, a company is for-profit and the other kinds are not
    (the conservative reading for consent: NPU data never goes to a company nobody said was not-for-profit)."""
    name = _clean_name(name)
    code = parse_country(country) if country else DEFAULT_COUNTRY
    parsed = parse_kind(kind)
    profit = default_for_profit(parsed) if for_profit is None else for_profit
    try:
        with db.transaction() as session:
            # The name's uniqueness ignores case, which the column's UNIQUE does not: take the ledger head's
            # lock first, so two administrators creating 'Acme' and 'ACME' at once cannot both pass the check.
            serialise_writers(session)
            if _find(session, name) is not None:
                raise Conflict("organisation {name!r} already exists", name=name)
            org = Organisation(name=name, country=code, kind=parsed.value, for_profit=profit)
            session.add(org)
            session.flush()
            record(session, actor=actor, action="organisation.create", entity_type="organisation", entity_id=name,
                   change={"country": code, "kind": parsed.value, "for_profit": profit})
            return _view(org)
    except IntegrityError:
        raise Conflict("organisation {name!r} already exists", name=name) from None


def _find(session: Session, name: str) -> Organisation | None:
    """Names are unique regardless of case and spacing: 'Acme  Pharma' is 'acme pharma'."""
    return session.scalar(select(Organisation).where(func.lower(Organisation.name) == _clean_name(name).lower()))


def organisation_by_name(session: Session, name: str) -> OrganisationView:
    """The organisation of that name, or NotFound naming it."""
    org = _find(session, name)
    if org is None:
        raise NotFound("organisation {name!r} does not exist", name=name)
    return _view(org)


def organisation_by_id(session: Session, organisation_id: int) -> OrganisationView | None:
    org = session.get(Organisation, organisation_id)
    return _view(org) if org is not None else None


def organisation_of_user(session: Session, user_id: int) -> OrganisationView | None:
    """The organisation a user works for (None: none recorded)."""
    org_id = session.scalar(select(User.organisation_id).where(User.id == user_id))
    return organisation_by_id(session, org_id) if org_id is not None else None


def get_organisation(db: Database, name: str) -> OrganisationView:
    with db.session() as session:
        return organisation_by_name(session, name)


def list_organisations(db: Database) -> list[OrganisationView]:
    with db.session() as session:
        return [_view(o) for o in session.scalars(select(Organisation).order_by(Organisation.name))]


def organisation_members(session: Session, organisation_id: int) -> list[str]:
    """Usernames of an organisation's users."""
    return list(session.scalars(select(User.username).where(User.organisation_id == organisation_id)
                                .order_by(User.username)))


def members_by_organisation(db: Database) -> dict[int, list[str]]:
    """organisation id -> usernames of its users (the organisations page)."""
    found: dict[int, list[str]] = {}
    with db.session() as session:
        for org_id, username in session.execute(select(User.organisation_id, User.username)
                                                .where(User.organisation_id.is_not(None)).order_by(User.username)):
            found.setdefault(org_id, []).append(username)
    return found


def set_user_organisation(db: Database, username: str, organisation: str | None, *, actor: str) -> User:
    """Say which organisation a user works for (None or '': none)."""
    with db.transaction() as session:
        user = user_by_name(session, username)
        org = organisation_by_name(session, organisation) if organisation and organisation.strip() else None
        before = user.organisation.name if user.organisation is not None else None
        user.organisation_id = org.id if org is not None else None
        session.flush()
        session.refresh(user)
        record(session, actor=actor, action="user.organisation", entity_type="user", entity_id=user.username,
               change={"before": before, "organisation": org.name if org else None})
    return user


def scoped_grants_for(roles: list[str], scopes: list[str]) -> list[RoleGrant]:
    """A grant per (role, scope), each role checked to hold a permission a scope can limit."""
    refs = [parse_scope(s) for s in scopes]
    grants = []
    for role in sorted({parse_role(r).value for r in roles}):
        _check_scopable(role)
        grants += [RoleGrant(role=role, scope_type=ref.type.value, scope_id=ref.name) for ref in refs]
    return grants


def _check_scopable(role: str) -> None:
    if not ROLE_PERMISSIONS.get(parse_role(role), frozenset()) & SCOPABLE_PERMISSIONS:
        raise ValidationFailed("role {role} holds no permission a site or collection can limit; grant it "
                               "without a scope", role=role)


def grant_scoped_role(db: Database, username: str, role: str, scope: str, *, actor: str) -> User:
    """Grant `role` limited to one site or collection (`site:NAME`, `collection:STORAGE/PATH`)."""
    code = parse_role(role).value
    ref: ScopeRef = parse_scope(scope)
    _check_scopable(code)
    with db.transaction() as session:
        user = user_by_name(session, username)
        if any(g.role == code and g.scope_type == ref.type.value and g.scope_id == ref.name for g in user.grants):
            raise Conflict("{username} already holds {role} in {scope}", username=user.username, role=code,
                           scope=str(ref))
        user.grants.append(RoleGrant(role=code, scope_type=ref.type.value, scope_id=ref.name))
        session.flush()
        record(session, actor=actor, action="user.scope_grant", entity_type="user", entity_id=user.username,
               change={"role": code, "scope": str(ref)})
    return user


def revoke_scoped_role(db: Database, username: str, role: str, scope: str, *, actor: str) -> User:
    code = parse_role(role).value
    ref = parse_scope(scope)
    with db.transaction() as session:
        user = user_by_name(session, username)
        kept = [g for g in user.grants
                if not (g.role == code and g.scope_type == ref.type.value and g.scope_id == ref.name)]
        if len(kept) == len(user.grants):
            raise NotFound("{username} holds no {role} grant in {scope}", username=user.username, role=code,
                           scope=str(ref))
        user.grants = kept
        session.flush()
        record(session, actor=actor, action="user.scope_revoke", entity_type="user", entity_id=user.username,
               change={"role": code, "scope": str(ref)})
    return user
