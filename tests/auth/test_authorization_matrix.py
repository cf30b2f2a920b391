"""Every operation of the OpenAPI document × every role × (global grant, grant scoped to a site): the outcome
is the one `RULES` declares.

- allowed -> anything but 401/403 (the probe sends `{}` and unknown ids, so 404 and 422 are normal answers);
- forbidden -> 403, or 404 that says no more than an unknown id would (never 2xx, never 422: the check must
  come before the input is read, or a refusal would tell a stranger what input the route expects).

`RULES` is the table: (methods, path prefix, requirement), first match wins; a path ending in `$` matches
exactly. An operation no rule matches fails the test — a new endpoint must be declared here (see
docs/security.md, "Adding an endpoint"). One app, in-process, SQLite; a PostgreSQL smoke run walks the
biobank and auth operations.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lifebank.auth import service as auth
from lifebank.auth.permissions import ROLE_PERMISSIONS, Role, permissions_of
from lifebank.auth.scopes import SCOPABLE_PERMISSIONS
from lifebank.config import Settings
from lifebank.db.engine import Database
from lifebank.web.app import create_app

PASSWORD = "Correct-horse-battery-9"
SCOPE = "site:SH"


@dataclass(frozen=True)
class Needs:
    """What an operation requires: every one of `permissions` (globally, or through a scoped grant when
    `within`: the route filters by `Principal.scope_of`); `anyone` for any logged-in user; `public` for
    no login at all; `inside` when the handler decides per record (the reason says where that is tested)."""

    permissions: tuple[str, ...] = ()
    within: bool = False
    anyone: bool = False
    public: bool = False
    inside: str = ""


def perm(*permissions: str) -> Needs:
    return Needs(permissions=permissions)


def within(permission: str) -> Needs:
    return Needs(permissions=(permission,), within=True)


ANYONE = Needs(anyone=True)
PUBLIC = Needs(public=True)


def inside(reason: str) -> Needs:
    return Needs(inside=reason)


A = "/api/v1"
ACCESS_INSIDE = inside("access: a requester sees its own organisation's requests, the committee and staff all "
                       "(tests/access)")
# (methods, path prefix, requirement); first match wins; '$' at the end of a path: that path only.
RULES: list[tuple[str, str, Needs]] = [
    ("GET", f"{A}/health", PUBLIC),
    ("*", f"{A}/me", ANYONE),
    ("*", f"{A}/tokens", ANYONE),  # one's own; another user's token answers 404
    ("GET", f"{A}/organisations/", ANYONE),  # one's own organisation; another answers 404 like an unknown one
    ("*", f"{A}/organisations", perm("user.admin")),
    ("*", f"{A}/users", perm("user.admin")),
    ("GET", f"{A}/audit/", perm("audit.read")),
    # biobank
    ("GET", f"{A}/biobank/participants/{{code}}/withdrawal-preview$", perm("participant.read")),
    ("GET", f"{A}/biobank/participants", within("participant.read")),
    ("POST", f"{A}/biobank/participants/{{code}}/", perm("consent.write")),
    ("POST", f"{A}/biobank/participants$", perm("participant.write")),
    ("GET", f"{A}/biobank/container-types", perm("storage.read")),
    ("GET", f"{A}/biobank/containers", perm("storage.read")),
    ("GET", f"{A}/biobank/occupancy", perm("storage.read")),
    ("GET", f"{A}/biobank/box-map", perm("storage.read")),
    ("GET", f"{A}/biobank/free-positions", perm("storage.read")),
    ("*", f"{A}/biobank/container-types", perm("storage.write")),
    ("*", f"{A}/biobank/containers", perm("storage.write")),
    ("*", f"{A}/biobank/placements", perm("storage.write")),
    ("GET", f"{A}/biobank/specimens$", within("specimen.count")),  # counts only without specimen.read
    ("GET", f"{A}/biobank/specimens/{{barcode}}/label.png", perm("label.print")),
    ("GET", f"{A}/biobank/specimens", within("specimen.read")),
    ("POST", f"{A}/biobank/specimens/{{barcode}}/move", perm("storage.write")),
    ("*", f"{A}/biobank/specimens/{{barcode}}/reservation", perm("specimen.reserve")),
    ("*", f"{A}/biobank/reservations", perm("specimen.reserve")),
    ("POST", f"{A}/biobank/specimens/bulk", perm("specimen.read")),  # then the action's own permission
    ("*", f"{A}/biobank/specimens", perm("specimen.write")),
    ("GET", f"{A}/biobank/label-templates", perm("label.print")),
    ("PUT", f"{A}/biobank/label-templates", perm("label.design")),
    ("POST", f"{A}/biobank/labels.", perm("label.print")),
    ("POST", f"{A}/biobank/imports/", perm("import.run")),
    # HLA
    ("GET,POST", f"{A}/hla/search", perm("hla.search")),
    ("POST", f"{A}/hla/grade", perm("hla.search")),
    ("POST", f"{A}/hla/predict", perm("hla.search")),
    ("GET", f"{A}/hla/", perm("hla.read")),
    ("*", f"{A}/hla/", perm("hla.write")),
    # omics. What a cohort's members and a dataset's sample map show is the reader's own: participant codes
    # with participant.read, or under an approved data request on the cohort (its eligible members); counts
    # otherwise (lifebank.access.coverage; tests/access/test_coverage.py).
    ("GET", f"{A}/omics/datasets/{{name}}/samples", perm("omics.read")),
    ("GET", f"{A}/omics/cohorts/{{name}}", perm("cohort.read")),
    ("GET", f"{A}/omics/cohorts", perm("cohort.read")),
    ("POST", f"{A}/omics/cohorts/preview", perm("cohort.read")),
    ("*", f"{A}/omics/cohorts", perm("cohort.write")),
    ("POST", f"{A}/omics/datasets/", perm("omics.write")),
    ("*", f"{A}/omics/", perm("omics.read")),
    # access requests (the access domain)
    ("POST", f"{A}/access/requests/{{request_id}}/committee", perm("access.manage")),
    ("POST", f"{A}/access/requests/{{request_id}}/votes", perm("access.review")),
    ("POST", f"{A}/access/requests/{{request_id}}/agreement", perm("access.manage")),
    ("POST", f"{A}/access/requests/{{request_id}}/allocation", perm("access.manage")),
    ("*", f"{A}/access/requests/{{request_id}}/pick-list", perm("access.fulfil")),
    ("POST", f"{A}/access/requests/{{request_id}}/scan", perm("access.fulfil")),
    ("POST", f"{A}/access/requests/{{request_id}}/split", perm("access.manage")),
    ("POST", f"{A}/access/requests/{{request_id}}/hgr", perm("access.manage")),
    ("POST", f"{A}/access/requests/{{request_id}}/shipments", perm("access.manage")),
    ("POST", f"{A}/access/requests/{{request_id}}/returns", perm("access.manage")),
    ("POST", f"{A}/access/requests/{{request_id}}/close", perm("access.manage")),
    ("GET", f"{A}/access/hgr-report", perm("access.manage")),
    ("*", f"{A}/access/notifications", ANYONE),  # one's own
    ("*", f"{A}/access/requests", ACCESS_INSIDE),
    # cell therapy
    ("POST", f"{A}/celltherapy/orders/{{order}}/steps/", perm("celltherapy.record")),
    ("POST", f"{A}/celltherapy/orders/{{order}}/traces/", perm("celltherapy.record")),
    ("GET", f"{A}/celltherapy/orders/{{order}}/labels.", perm("celltherapy.record")),
    ("POST", f"{A}/celltherapy/orders", perm("celltherapy.order")),
    ("GET", f"{A}/celltherapy/", perm("celltherapy.read")),
    ("*", f"{A}/celltherapy/", perm("celltherapy.manage")),
    # precision oncology
    ("POST", f"{A}/precision/kb/load", perm("user.admin")),
    ("POST", f"{A}/precision/reports/{{report_no}}/sign", perm("precision.sign")),
    ("GET", f"{A}/precision/", perm("precision.read")),
    ("POST", f"{A}/precision/reports", perm("precision.write")),
    # clinical records
    ("POST", f"{A}/clinical/import", perm("import.run")),
    ("GET", f"{A}/clinical/", perm("participant.read")),
    # sharing: releases and exports (an export's files: its recipient only, others 404)
    ("GET", f"{A}/sharing/exports", perm("share.receive")),
    ("POST", f"{A}/sharing/", perm("share.export")),
]


def rule_for(method: str, path: str) -> Needs | None:
    for methods, prefix, needs in RULES:
        if methods != "*" and method not in methods.split(","):
            continue
        if prefix.endswith("$"):
            if path == prefix[:-1]:
                return needs
        elif path.startswith(prefix):
            return needs
    return None


def operations(app) -> list[tuple[str, str]]:
    paths = app.openapi()["paths"]
    return [(method.upper(), path) for path, item in paths.items() for method in item
            if method in {"get", "post", "put", "patch", "delete"}]


@dataclass(frozen=True)
class Actor:
    role: Role
    scoped: bool
    headers: dict[str, str]

    @property
    def name(self) -> str:
        return f"{self.role.value}{'@' + SCOPE if self.scoped else ''}"


def expected_allowed(actor: Actor, needs: Needs) -> bool:
    if needs.public or needs.anyone:
        return True
    role_permissions = permissions_of({actor.role.value})
    if not actor.scoped:
        return all(p in role_permissions for p in needs.permissions)
    return needs.within and all(p in role_permissions & SCOPABLE_PERMISSIONS for p in needs.permissions)


def scopable(role: Role) -> bool:
    return bool(ROLE_PERMISSIONS[role] & SCOPABLE_PERMISSIONS)


def _app(url: str, data_dir: Path) -> tuple[object, Database, list[Actor]]:
    db = Database(url)
    app = create_app(Settings(data_dir=data_dir, database_url=url, secret_key="matrix-secret-0123456789"), db)
    actors = []
    for role in Role:
        for scoped in (False, True):
            if scoped and not scopable(role):
                continue  # such a grant is refused (test_organisations.py)
            name = f"m{role.value.replace('_', '')}{'s' if scoped else ''}"
            auth.create_user(db, name, PASSWORD, [role.value], scopes=[SCOPE] if scoped else None)
            token = auth.create_token(db, name, "matrix").token
            actors.append(Actor(role, scoped, {"Authorization": f"Bearer {token}"}))
    return app, db, actors


@pytest.fixture(scope="module")
def matrix_app(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    folder = tmp_path_factory.mktemp("matrix")
    shutil.copyfile(sqlite_template, folder / "lifebank.db")
    app, db, actors = _app(f"sqlite:///{folder / 'lifebank.db'}", folder / "data")
    with TestClient(app, raise_server_exceptions=False) as client:
        yield app, client, actors
    db.dispose()


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _walk(app, client: TestClient, actors: list[Actor], only: str = "") -> tuple[int, list[str]]:
    wrong: list[str] = []
    checked = 0
    for method, path in operations(app):
        if not path.startswith(only):
            continue
        needs = rule_for(method, path)
        if needs is None:
            wrong.append(f"{method} {path}: no rule in RULES (declare who may call it)")
            continue
        for actor in actors:
            status = client.request(method, _concrete(path), json={}, headers=actor.headers).status_code
            checked += 1
            if status == 401 or status >= 500:
                wrong.append(f"{method} {path} as {actor.name}: {status}")
            elif needs.inside:
                continue
            elif expected_allowed(actor, needs):
                if status == 403:
                    wrong.append(f"{method} {path} as {actor.name}: 403, expected allowed")
            elif status not in (403, 404):
                wrong.append(f"{method} {path} as {actor.name}: {status}, expected 403/404")
    return checked, wrong


def test_every_operation_answers_every_role_and_scope_as_the_table_says(matrix_app) -> None:
    app, client, actors = matrix_app
    checked, wrong = _walk(app, client, actors)
    assert not wrong, f"{len(wrong)} unexpected outcomes:\n" + "\n".join(wrong[:60])
    assert checked >= 100 * len(actors)


def test_every_rule_still_matches_an_operation(matrix_app) -> None:
    """A rule whose endpoint went away is dead weight that could one day match something it should not."""
    app, _client, _actors = matrix_app
    ops = operations(app)
    dead = [f"{methods} {prefix}" for methods, prefix, _needs in RULES
            if not any(rule_for(m, p) is not None and _first_rule(m, p) == (methods, prefix) for m, p in ops)]
    assert not dead, f"rules that match no operation: {dead}"


def _first_rule(method: str, path: str) -> tuple[str, str] | None:
    for methods, prefix, _needs in RULES:
        if (methods == "*" or method in methods.split(",")) and \
                (path == prefix[:-1] if prefix.endswith("$") else path.startswith(prefix)):
            return methods, prefix
    return None


def test_the_leak_is_closed_a_partner_reads_nothing_of_the_bank_and_a_researcher_counts() -> None:
    """The rows of the table that issue 11 is about, stated plainly."""
    partner, researcher = permissions_of({"partner"}), permissions_of({"researcher"})
    bank = {"specimen.read", "specimen.count", "participant.read", "storage.read", "omics.read", "hla.read",
            "cohort.read"}
    assert not partner & bank
    assert "specimen.count" in researcher and not researcher & {"specimen.read", "participant.read", "storage.read"}


def test_an_undeclared_endpoint_is_named(matrix_app) -> None:
    assert rule_for("GET", f"{A}/brand-new/thing") is None
    assert rule_for("GET", f"{A}/biobank/specimens$".rstrip("$")) == within("specimen.count")
    assert rule_for("GET", f"{A}/biobank/specimens/export") == within("specimen.read")


@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgresql_smoke_biobank_and_accounts(db_url: str, tmp_path: Path) -> None:
    """The same walk on PostgreSQL for the operations whose checks touch the database (scopes, own records)."""
    app, db, actors = _app(db_url, tmp_path / "data")
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            wrong = []
            for prefix in (f"{A}/biobank/participants", f"{A}/biobank/specimens", f"{A}/organisations", f"{A}/me"):
                wrong += _walk(app, client, actors, only=prefix)[1]
        assert not wrong, "\n".join(wrong)
    finally:
        db.dispose()
