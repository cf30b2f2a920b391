"""Beacon use cases: settings and security levels, who the caller is, the query ledger and budget, answers.

Every query is queued for the query log and the tamper-evident ledger before it is answered, and written
in batches off the request's path (`query_log`), after the caller's variant-query budget allowed it. A
refusal is logged too: a budget exhausted by an attack is itself evidence. What answers rest on (settings,
levels, grants, datasets) is kept per process until the bank changes (`snapshot`). `answer` then reads the
live bank through `lifebank.sharing.data` and shapes the framework's response at the granularity `privacy`
allows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from lifebank.audit.service import record
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import Conflict, NotFound, ValidationFailed
from lifebank.messages import Msg
from lifebank.sharing import data, privacy, snapshot
from lifebank.sharing.models import BeaconDataset, BeaconQuery, BeaconSetting, RecordGrant
from lifebank.sharing.privacy import BeaconSettings, Caller
from lifebank.sharing.request import BeaconRequest, BeaconRequestError

_SETTING_TYPES = {"threshold": int, "budget": int, "window_hours": int, "anonymous_granularity": str}


# --- settings and security levels --------------------------------------------------------------------------

def settings(db: Database) -> BeaconSettings:
    with db.session() as session:
        stored = dict(session.execute(select(BeaconSetting.key, BeaconSetting.value)).all())
    values: dict[str, Any] = {k: _SETTING_TYPES[k](v) for k, v in stored.items() if k in _SETTING_TYPES}
    return BeaconSettings(**values)


def change_settings(db: Database, *, actor: str, threshold: int | None = None, budget: int | None = None,
                    window_hours: int | None = None, anonymous_granularity: str | None = None) -> BeaconSettings:
    """Change the Beacon's privacy settings (ledgered); a threshold below 2 or a zero budget is refused."""
    changes = {k: v for k, v in {"threshold": threshold, "budget": budget, "window_hours": window_hours,
                                 "anonymous_granularity": anonymous_granularity}.items() if v is not None}
    if threshold is not None and threshold < 2:
        raise ValidationFailed("the count threshold must be at least 2, not {value}", value=threshold)
    if budget is not None and budget < 1:
        raise ValidationFailed("the query budget must be at least 1, not {value}", value=budget)
    if window_hours is not None and not 1 <= window_hours <= 24 * 366:
        raise ValidationFailed("the budget window must be 1 to 8784 hours, not {value}", value=window_hours)
    if anonymous_granularity is not None and anonymous_granularity not in ("boolean", "count"):
        raise ValidationFailed("anonymous callers get boolean or count answers, not {value!r}",
                               value=anonymous_granularity)
    with db.transaction() as session:
        for key, value in changes.items():
            row = session.get(BeaconSetting, key)
            if row is None:
                session.add(BeaconSetting(key=key, value=str(value)))
            else:
                row.value = str(value)
        record(session, actor=actor, action="beacon.settings", entity_type="beacon", entity_id="settings",
               change=changes)
    return settings(db)


def levels(db: Database, known: list[data.DatasetInfo] | None = None) -> dict[str, str]:
    """Security level of every dataset the Beacon knows (CONTROLLED where none was set)."""
    with db.session() as session:
        stored = dict(session.execute(select(BeaconDataset.name, BeaconDataset.security_level)).all())
    return {d.name: stored.get(d.name, privacy.DEFAULT_LEVEL) for d in (known or data.datasets(db))}


def set_level(db: Database, name: str, level: str, *, actor: str, description: str | None = None) -> dict[str, str]:
    try:
        value = privacy.check_level(level)
    except ValueError:
        raise ValidationFailed("security level {level!r} is not one of {allowed}", level=level,
                               allowed=", ".join(privacy.LEVELS)) from None
    if name not in {d.name for d in data.datasets(db)}:
        raise NotFound("no dataset {name!r}: the Beacon's datasets are {names}", name=name,
                       names=", ".join(d.name for d in data.datasets(db)))
    with db.transaction() as session:
        row = session.scalar(select(BeaconDataset).where(BeaconDataset.name == name))
        before = row.security_level if row else privacy.DEFAULT_LEVEL
        if row is None:
            row = BeaconDataset(name=name, security_level=value, description=description or "", updated_by=actor)
            session.add(row)
        row.security_level, row.updated_by, row.updated_at = value, actor, utcnow()
        if description is not None:
            row.description = description
        record(session, actor=actor, action="beacon.dataset.level", entity_type="beacon_dataset", entity_id=name,
               change={"security_level": [before, value]})
    return {"dataset": name, "security_level": value}


def dataset_descriptions(db: Database) -> dict[str, str]:
    with db.session() as session:
        return dict(session.execute(select(BeaconDataset.name, BeaconDataset.description)).all())


# --- record grants -----------------------------------------------------------------------------------------

def grant_records(db: Database, dataset: str, username: str, *, purposes: str, actor: str, reason: str = "",
                  request_id: str | None = None) -> int:
    """Record-level access of `username` to `dataset` (an admin's explicit release, or an approved request)."""
    from lifebank.biobank.duo import UnknownDuoTerm, parse_duo_codes

    if dataset not in {d.name for d in data.datasets(db)}:
        raise NotFound("no dataset {name!r}", name=dataset)
    try:
        codes = parse_duo_codes(purposes)
    except UnknownDuoTerm as exc:
        raise ValidationFailed(exc.message) from None
    if not codes:
        raise ValidationFailed("a release names its purpose as DUO terms (e.g. HMB)")
    from lifebank.auth import service as auth

    auth.get_user(db, username)  # an unknown user is NotFound
    if request_id is not None and request_id.isdigit():
        _check_request(db, int(request_id), username)
    with db.transaction() as session:
        row = session.scalar(select(RecordGrant).where(RecordGrant.dataset == dataset,
                                                       RecordGrant.username == username))
        if row is None:
            row = RecordGrant(dataset=dataset, username=username, granted_by=actor)
            session.add(row)
        row.purposes, row.reason, row.request_id, row.granted_at = ";".join(codes), reason, request_id, utcnow()
        session.flush()
        record(session, actor=actor, action="beacon.grant", entity_type="record_grant", entity_id=row.id,
               change={"dataset": dataset, "user": username, "purposes": codes, "request": request_id,
                       "reason": reason})
        return row.id


def _check_request(db: Database, request_id: int, username: str) -> None:
    """A release for an access request: the request must be approved, ask for data, and be the user's."""
    from lifebank.access import service as access
    from lifebank.sharing.exports import APPROVED

    view = access.request_view(db, request_id, None)
    if view["state"] not in APPROVED or not view["data"]:
        raise Conflict("access request {ref} is {state} or asks for no data: it cannot release records",
                       ref=view["ref"], state=view["state"])
    if view["created_by"] != username:
        raise Conflict("access request {ref} was made by {requester}, not {username}", ref=view["ref"],
                       requester=view["created_by"], username=username)


def revoke_records(db: Database, dataset: str, username: str, *, actor: str) -> None:
    with db.transaction() as session:
        row = session.scalar(select(RecordGrant).where(RecordGrant.dataset == dataset,
                                                       RecordGrant.username == username))
        if row is None:
            raise NotFound("{username} holds no record access to {dataset}", username=username, dataset=dataset)
        record(session, actor=actor, action="beacon.revoke", entity_type="record_grant", entity_id=row.id,
               change={"dataset": dataset, "user": username})
        session.delete(row)


def grants(db: Database, username: str | None = None) -> list[dict[str, Any]]:
    with db.session() as session:
        query = select(RecordGrant).order_by(RecordGrant.dataset, RecordGrant.username)
        if username is not None:
            query = query.where(RecordGrant.username == username)
        return [{"id": g.id, "dataset": g.dataset, "user": g.username, "purposes": g.purposes.split(";"),
                 "request": g.request_id, "reason": g.reason, "granted_at": g.granted_at.isoformat(),
                 "granted_by": g.granted_by} for g in session.scalars(query)]


def caller_of(db: Database, username: str | None, address: str, *, refresh: bool = True) -> Caller:
    """Who asks, with their record grants. Every Beacon request starts here, so this is where the process
    looks whether the bank changed since its last request (`snapshot.refresh`; `refresh=False` when the
    caller just did)."""
    if refresh:
        snapshot.refresh(db)
    if username is None:
        return Caller(None, address)

    def read() -> frozenset[str]:
        with db.session() as session:
            return frozenset(session.scalars(select(RecordGrant.dataset).where(RecordGrant.username == username)))

    return Caller(username, address, snapshot.kept(db, ("grants", username), read))


def current_settings(db: Database) -> BeaconSettings:
    """The settings as kept until the bank changes (`snapshot`)."""
    return snapshot.kept(db, "settings", lambda: settings(db))


# --- the query log and the budget ---------------------------------------------------------------------------

def log_query(db: Database, caller: Caller, endpoint: str, request: BeaconRequest, granularity: str,
              conf: BeaconSettings, *, budgeted: bool) -> None:
    """Queue the query for the log and the ledger (written in batches, `query_log`); refuse it (429, logged)
    when the caller's variant-query budget is spent."""
    from lifebank.sharing import query_log

    query_log.log_query(db, caller, endpoint, request, granularity, conf, budgeted=budgeted)


def query_log(db: Database, *, caller: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    from lifebank.sharing import query_log as queue

    queue.flush(db)  # this process's queries still waiting in the queue first
    with db.session() as session:
        query = select(BeaconQuery).order_by(BeaconQuery.id.desc()).limit(limit)
        if caller:
            query = query.where(BeaconQuery.caller == caller)
        return [{"id": q.id, "at": q.occurred_at.isoformat(), "caller": q.caller, "endpoint": q.endpoint,
                 "variant": q.variant, "granularity": q.granularity, "refused": q.refused,
                 "query": json.loads(q.query)} for q in session.scalars(query)]


@dataclass(frozen=True, slots=True)
class Scope:
    """The datasets a query runs over, each with its ceiling, and the granularity the answer takes."""

    datasets: list[data.DatasetInfo]
    granularity: str


def scope(db: Database, caller: Caller, request: BeaconRequest, conf: BeaconSettings, *,
          omics_only: bool = False) -> Scope:
    known = data.current_datasets(db)
    names = {d.name for d in known}
    for name in request.datasets:
        if name not in names:
            raise BeaconRequestError(Msg("unknown dataset {name!r}", name=name), code=404)
    level_of = snapshot.kept(db, "levels", lambda: levels(db, known))
    chosen: list[data.DatasetInfo] = []
    ceilings: list[str] = []
    for ds in known:
        if request.datasets and ds.name not in request.datasets:
            continue
        if omics_only and ds.kind != "omics":
            continue
        top = privacy.ceiling(level_of[ds.name], caller, ds.name, conf)
        if top is None:
            if request.datasets:
                raise BeaconRequestError(Msg("dataset {name} is not open to you: it needs {level} access",
                                             name=ds.name, level=level_of[ds.name]),
                                         code=401 if caller.username is None else 403)
            continue
        chosen.append(ds)
        ceilings.append(top)
    if not chosen:
        if caller.username is None:
            raise BeaconRequestError(Msg("no dataset is open without logging in; send a bearer token"), code=401)
        raise BeaconRequestError(Msg("no dataset is open to you"), code=403)
    return Scope(chosen, privacy.returned(request.granularity, ceilings))
