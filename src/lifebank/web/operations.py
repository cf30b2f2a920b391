"""What an operator needs from a running server: request ids, JSON logs, metrics, liveness and readiness.

- Every request gets an id (the caller's `X-Request-ID` when it is a plain token, else a new one), echoed in
  the response and in the one JSON log line written per request, so a user's error report leads to the log.
- Log lines and metrics name the route *template* (`/biobank/participants/{code}`), never the path as sent:
  a path or a query string carries participant codes and search terms, which must not reach the logs.
- `/metrics` is Prometheus text (prometheus-client). With several worker processes each keeps its own
  counters; `lifebank serve --workers N` points them at one multiprocess folder so a scrape sums them all.
  It answers loopback callers, or callers presenting `LIFEBANK_METRICS_TOKEN`.
- `/livez` says the process answers (no database: a slow database must not get healthy workers killed);
  `/readyz` says it can serve: the database answers and its schema is current (load balancers use this).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lifebank.db.engine import Database
from lifebank.errors import LifeBankError
from lifebank.messages import Msg

REQUEST_ID_HEADER = "x-request-id"
_PLAIN_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_LOOPBACK = {"127.0.0.1", "::1", "localhost", "testclient"}
access_log = logging.getLogger("lifebank.access")


# --- metrics ------------------------------------------------------------------------------------------

class _Metrics:
    """The server's Prometheus metrics, created once per process (the client's registry is global)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.requests = Counter("lifebank_http_requests_total", "HTTP requests answered",
                                ["method", "route", "status"])
        self.duration = Histogram("lifebank_http_request_duration_seconds", "Time to answer an HTTP request",
                                  ["method", "route"],
                                  buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))


_metrics: _Metrics | None = None


def metrics() -> _Metrics:
    global _metrics
    if _metrics is None:
        _metrics = _Metrics()
    return _metrics


def metrics_text() -> tuple[bytes, str]:
    """The exposition text: this process's registry, or every worker's when serving with several."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


# --- request telemetry --------------------------------------------------------------------------------

def route_template(scope: Scope) -> str:
    route = scope.get("route")
    template = getattr(route, "path", None)
    if template:
        return str(template) if not str(template).startswith("/static") else "/static"
    return "(unmatched)"


class RequestTelemetry:
    """Pure ASGI middleware (no per-request task or body buffering, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.metrics = metrics()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = incoming if _PLAIN_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            method = scope.get("method", "GET")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.duration.labels(method, route).observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info("request", extra={"request_id": request_id, "method": method, "route": route,
                                                  "status": status, "duration_ms": round(elapsed * 1000, 2)})


# --- JSON logs ----------------------------------------------------------------------------------------

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def log_config(level: str = "info") -> dict[str, Any]:
    """`logging.dictConfig` for `lifebank serve`: LifeBank's and uvicorn's loggers as JSON lines on stderr;
    uvicorn's own access log is off (RequestTelemetry writes a better one, without raw paths)."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    loggers = {name: {"handlers": ["json"], "level": level.upper(), "propagate": False}
               for name in ("lifebank", "uvicorn", "uvicorn.error")}
    loggers["uvicorn.access"] = {"handlers": [], "level": "WARNING", "propagate": False}
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"json": {"()": "lifebank.web.operations.JsonFormatter"}},
            "handlers": {"json": handler}, "loggers": loggers}


# --- probes and the metrics page ----------------------------------------------------------------------

def _database_ready(db: Database, state: Any) -> str | None:
    """None when the database answers and its schema is current; else why not (the schema check runs once)."""
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return str(exc).splitlines()[0]
    if not getattr(state, "schema_checked", False):
        from lifebank.db import migrate

        try:
            migrate.ensure_current(db)
        except LifeBankError as exc:
            return exc.detail
        state.schema_checked = True
    return None


def probes_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/livez")
    def livez() -> JSONResponse:
        return JSONResponse({"status": "alive", "pid": os.getpid()}, headers={"Cache-Control": "no-store"})

    @router.get("/readyz")
    def readyz(request: Request) -> JSONResponse:
        problem = _database_ready(request.app.state.db, request.app.state)
        body = {"status": "ready"} if problem is None else {"status": "not ready", "database": problem}
        return JSONResponse(body, status_code=200 if problem is None else 503, headers={"Cache-Control": "no-store"})

    @router.get("/metrics")
    def metrics_page(request: Request) -> Response:
        token = request.app.state.settings.metrics_token
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        client = request.client.host if request.client else ""
        if not (client in _LOOPBACK or (token and given and secrets.compare_digest(given, token))):
            refusal = Msg("metrics are served to loopback callers, or to callers sending LIFEBANK_METRICS_TOKEN")
            return PlainTextResponse(refusal.render(getattr(request.state, "locale", None)) + "\n", status_code=403)
        body, content_type = metrics_text()
        return Response(body, media_type=content_type)

    return router


def install(app: FastAPI) -> None:
    """Add the probes, `/metrics` and the request telemetry to the app (called by `create_app`)."""
    app.include_router(probes_router())
    app.add_middleware(RequestTelemetry)


def worker_app() -> FastAPI:
    """The app factory each `lifebank serve --workers N` process calls: settings from the environment, and
    its own warm-up of in-memory indexes (each process answers from its own copy; nothing is shared)."""
    from lifebank.config import get_settings
    from lifebank.domains import warm_up
    from lifebank.web.app import create_app

    app = create_app(get_settings())
    warm_up(app.state.db)
    return app
