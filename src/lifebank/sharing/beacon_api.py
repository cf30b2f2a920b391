"""The Beacon v2 HTTP API under `/api/beacon/v2`, named as the framework names its endpoints.

Mounted at the site root by `lifebank.sharing.web` (not under `/api/v1`: the framework fixes the paths).
GET takes the framework's query parameters, POST its request body. Every error, including a bad bearer
token and an unknown path, is the framework's `beaconErrorResponse` with the reason in the caller's language
(Accept-Language), never an RFC 9457 problem document. Anonymous callers are allowed: what they may see is
decided per dataset by its security level (`lifebank.sharing.privacy`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from lifebank.errors import LifeBankError
from lifebank.messages import Msg
from lifebank.sharing import answers, beacon, responses
from lifebank.sharing.request import BeaconRequest, BeaconRequestError, from_body, from_query

PREFIX = "/api/beacon/v2"
ORGANISATION = "LifeBank"
ENTRIES = ("individuals", "biosamples", "g_variants", "analyses", "runs")
COLLECTIONS = ("datasets", "cohorts")
# Related endpoints: /{entry}/{id}/{related}
RELATED = {("individuals", "biosamples"), ("g_variants", "individuals"), ("g_variants", "biosamples"),
           ("cohorts", "individuals"), *(("datasets", e) for e in ENTRIES)}

router = APIRouter(prefix=PREFIX, tags=["beacon"])


def _flush_query_log() -> None:
    """The server is stopping: write the queries still queued (`query_log`; also run at interpreter exit)."""
    from lifebank.sharing import query_log

    query_log.flush_all()


router.on_shutdown.append(_flush_query_log)


def _language(request: Request) -> str | None:
    return getattr(request.state, "locale", None)


def _error(request: Request, code: int, message: Msg | str, entry: str | None = None) -> JSONResponse:
    text = message.render(_language(request)) if isinstance(message, Msg) else message
    body = responses.error_response(code, text, responses.BY_PATH.get(entry or ""))
    return JSONResponse(body, status_code=code)


TOKEN_SECONDS = 60.0  # how long a bearer token's owner is kept without asking auth again (see _username)


def _username(request: Request) -> str | None:
    """Who sends the request (None: anonymous). A bearer token already resolved is kept until the bank changes
    (`snapshot`: revoking a token or disabling a user is a ledgered write, seen at once) and at most
    TOKEN_SECONDS, so a token that reaches its expiry time is refused at most that much later; resolving it
    again for each of hundreds of queries a second cost more than the answer. Sessions (the UI) and anything
    refused go through `optional_principal` every time."""
    from lifebank.sharing import snapshot
    from lifebank.web.deps import optional_principal

    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    db = request.app.state.db
    key = ("bearer", hashlib.sha256(token.strip().encode()).hexdigest()) if scheme.lower() == "bearer" else None
    if key is not None:
        found = snapshot.peek(db, key)
        if found is not None and time.monotonic() - found[1] < TOKEN_SECONDS:
            return str(found[0])
    principal = optional_principal(request)
    if principal is None:
        return None
    if key is not None:
        snapshot.keep(db, key, (principal.username, time.monotonic()))
    return principal.username


def _caller(request: Request) -> beacon.Caller:
    from lifebank.sharing import snapshot

    db = request.app.state.db
    snapshot.refresh(db)
    address = request.client.host if request.client else "unknown"
    return beacon.caller_of(db, _username(request), address, refresh=False)


async def _parsed(request: Request) -> BeaconRequest:
    if request.method == "POST":
        raw = await request.body()
        if not raw.strip():
            return from_body(None)
        try:
            body = json.loads(raw)
        except ValueError:
            raise BeaconRequestError(Msg("the request body is not valid JSON")) from None
        return from_body(body)
    return from_query(dict(request.query_params))


async def _run(request: Request, entry: str | None, work: Callable[[beacon.Caller, BeaconRequest], dict[str, Any]],
               ) -> JSONResponse:
    from starlette.concurrency import run_in_threadpool

    def answer(parsed: BeaconRequest) -> dict[str, Any]:
        return work(_caller(request), parsed)

    try:
        parsed = await _parsed(request)
        body = await run_in_threadpool(answer, parsed)  # one hand-over to a thread, not two (~40 us CPU each)
    except BeaconRequestError as exc:
        return _error(request, exc.code, exc.message, entry)
    except LifeBankError as exc:
        return _error(request, exc.status if exc.status != 422 else 400, exc.message, entry)
    return JSONResponse(body)


@router.api_route("", methods=["GET", "POST"], summary="Beacon information (same as /info)")
@router.api_route("/", methods=["GET", "POST"], include_in_schema=False)
@router.api_route("/info", methods=["GET", "POST"], summary="Beacon information")
def info(request: Request) -> JSONResponse:
    return JSONResponse(responses.info_response(str(request.base_url), ORGANISATION))


@router.get("/service-info", summary="GA4GH service-info")
def service_info(request: Request) -> JSONResponse:
    return JSONResponse(responses.service_info(str(request.base_url), ORGANISATION))


@router.get("/configuration", summary="Beacon configuration")
def configuration(request: Request) -> JSONResponse:
    conf = beacon.settings(request.app.state.db)
    return JSONResponse(responses.configuration_response(conf.anonymous_granularity))


@router.get("/map", summary="Beacon map of endpoints")
def beacon_map(request: Request) -> JSONResponse:
    return JSONResponse(responses.map_response(str(request.base_url).rstrip("/") + PREFIX))


@router.get("/entry_types", summary="Entry types")
def entry_types() -> JSONResponse:
    return JSONResponse(responses.entry_types_response())


@router.get("/filtering_terms", summary="Filtering terms")
def filtering_terms(request: Request) -> JSONResponse:
    return JSONResponse(responses.filtering_terms_response(answers.filtering_terms(request.app.state.db)))


def _entry_work(request: Request, entry: str, entry_id: str | None = None, related: str | None = None,
                ) -> Callable[[beacon.Caller, BeaconRequest], dict[str, Any]]:
    db = request.app.state.db
    data_dir = request.app.state.settings.data_dir

    def work(caller: beacon.Caller, parsed: BeaconRequest) -> dict[str, Any]:
        if entry in COLLECTIONS and related is None:
            return answers.collections(db, caller, entry, parsed, entry_id)
        if related is None:
            return answers.answer(db, data_dir, caller, entry, parsed, answers.Restriction(entry_id=entry_id))
        assert entry_id is not None
        restriction = answers.Restriction()
        if entry == "datasets":
            from dataclasses import replace

            parsed = replace(parsed, datasets=(entry_id,))
        elif entry == "cohorts":
            answers.collections(db, caller, "cohorts", BeaconRequest(), entry_id)  # visible, else 404
            from lifebank.sharing import data

            restriction.participants = data.cohort_members(db, entry_id)
        elif entry == "g_variants":
            from lifebank.sharing import data

            restriction.variant = data.parse_variant_id(entry_id)
        elif entry == "individuals":
            restriction.owner = entry_id
        return answers.answer(db, data_dir, caller, related, parsed, restriction)

    return work


for _entry in (*ENTRIES, *COLLECTIONS):
    def _make(entry: str) -> None:
        async def entries(request: Request) -> JSONResponse:
            return await _run(request, entry, _entry_work(request, entry))

        async def one(request: Request, entry_id: str) -> JSONResponse:
            return await _run(request, entry, _entry_work(request, entry, entry_id))

        router.add_api_route(f"/{entry}", entries, methods=["GET", "POST"], summary=f"Beacon {entry}")
        router.add_api_route(f"/{entry}/{{entry_id}}", one, methods=["GET", "POST"], summary=f"One of {entry}")
        for parent, child in sorted(RELATED):
            if parent != entry:
                continue

            def _related(child: str = child) -> Callable[..., Any]:
                async def related(request: Request, entry_id: str) -> JSONResponse:
                    return await _run(request, child, _entry_work(request, entry, entry_id, child))

                return related

            router.add_api_route(f"/{entry}/{{entry_id}}/{child}", _related(), methods=["GET", "POST"],
                                 summary=f"{child} of one of {entry}")

    _make(_entry)


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
def unknown(request: Request, rest: str) -> JSONResponse:
    return _error(request, 404, Msg("no Beacon endpoint {path}; see {prefix}/map", path="/" + rest, prefix=PREFIX))
