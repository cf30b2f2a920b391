"""Access control of the HTTP API: nothing but the documented public routes is reachable without auth."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from lifebank.auth import service as auth
from lifebank.auth.models import ApiToken
from lifebank.db.base import utcnow
from lifebank.web.app import API_PREFIX, PUBLIC_API_PATHS


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _api_operations(app) -> list[tuple[str, str]]:
    """Every (method, path) of the API, from the OpenAPI document the app itself serves."""
    paths = app.openapi()["paths"]
    return [(method.upper(), path) for path, item in paths.items() for method in item
            if method in {"get", "post", "put", "patch", "delete"}]


def test_every_api_route_requires_auth_except_public_ones(app, client) -> None:
    checked = 0
    for method, path in _api_operations(app):
        assert path.startswith(API_PREFIX), f"{path} is outside {API_PREFIX}"
        if path in PUBLIC_API_PATHS:
            continue
        response = client.request(method, _concrete(path), json={})
        assert response.status_code == 401, f"{method} {path} answered {response.status_code}"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 401
        checked += 1
    assert checked >= 6


def test_public_routes_are_exactly_the_documented_ones(app) -> None:
    api_paths = {path for _, path in _api_operations(app)}
    assert PUBLIC_API_PATHS <= api_paths
    assert PUBLIC_API_PATHS == {f"{API_PREFIX}/health"}


def test_health_reports_version_and_database(client, backend: str) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"dialect": backend, "status": "ok"}
    assert body["version"]


def test_unauthenticated_forbidden_and_allowed(client, users) -> None:
    assert client.get("/api/v1/users").status_code == 401
    forbidden = client.get("/api/v1/users", headers=users.headers("researcher"))
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"].startswith("application/problem+json")
    assert "user.admin" in forbidden.json()["detail"]
    allowed = client.get("/api/v1/users", headers=users.headers("admin"))
    assert allowed.status_code == 200
    assert allowed.json()["total"] == 2
    assert set(allowed.json()) == {"total", "limit", "offset", "items"}


def test_audit_events_paginate_and_filter(client, users) -> None:
    headers = users.headers("admin", "auditor1")
    response = client.get("/api/v1/audit/events", params={"entity_type": "user", "entity_id": "auditor1",
                                                          "limit": 1}, headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 1 and body["limit"] == 1 and body["items"][0]["action"] == "user.create"
    assert client.get("/api/v1/audit/events", params={"limit": 0}, headers=headers).status_code == 422
    verdict = client.get("/api/v1/audit/verify", headers=headers).json()
    assert verdict["ok"] is True and verdict["checked"] == 2


def test_expired_revoked_and_malformed_tokens_are_refused(client, users, db) -> None:
    token = users("clinician", "doc1")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()["username"] == "doc1"
    prefix = token.split("_")[1]
    with db.transaction() as session:
        session.execute(update(ApiToken).where(ApiToken.prefix == prefix)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    fresh = auth.create_token(db, "doc1", "second").token
    auth.revoke_token(db, fresh.split("_")[1])
    revoked = client.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh}"})
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_create_user_via_api_validates(client, users) -> None:
    headers = users.headers("admin")
    weak = client.post("/api/v1/users", json={"username": "newbie", "password": "short", "roles": ["technician"]},
                       headers=headers)
    assert weak.status_code == 422 and "too weak" in weak.json()["detail"]
    ok = client.post("/api/v1/users", json={"username": "newbie", "password": "Long-enough-pass-42",
                                            "roles": ["technician"]}, headers=headers)
    assert ok.status_code == 201 and ok.json()["roles"] == ["technician"]
    dup = client.post("/api/v1/users", json={"username": "newbie", "password": "Long-enough-pass-42",
                                             "roles": ["technician"]}, headers=headers)
    assert dup.status_code == 409 and "already exists" in dup.json()["detail"]
    bad_role = client.post("/api/v1/users", json={"username": "other", "password": "Long-enough-pass-42",
                                                  "roles": ["wizard"]}, headers=headers)
    assert bad_role.status_code == 422 and "wizard" in bad_role.json()["detail"]
    missing = client.post("/api/v1/users", json={"username": "x"}, headers=headers)
    assert missing.status_code == 422
    assert {e["field"] for e in missing.json()["errors"]} == {"password", "roles"}


def test_own_token_lifecycle_over_api(client, users) -> None:
    headers = users.headers("partner")
    issued = client.post("/api/v1/tokens", json={"name": "pipeline", "days": 7}, headers=headers)
    assert issued.status_code == 201
    new = issued.json()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {new['token']}"}).status_code == 200
    assert client.delete(f"/api/v1/tokens/{new['prefix']}", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {new['token']}"}).status_code == 401
