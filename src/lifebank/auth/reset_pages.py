"""Pages of the one-time password reset link: the administrator issues it, the user opens it and sets a
password (no login needed: the link is the credential, once). The token travels only in the path, which the
access log records as its route template and the Referrer-Policy keeps on this site."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from lifebank.auth import reset_links
from lifebank.errors import LifeBankError
from lifebank.web.csrf import check_csrf
from lifebank.web.deps import DbDep
from lifebank.web.templating import render
from lifebank.web.ui import PagePrincipal, page_requires

router = APIRouter(include_in_schema=False)
UserAdmin = Annotated[PagePrincipal, Depends(page_requires("user.admin"))]


@router.post("/admin/users/{username}/reset-link", response_class=HTMLResponse)
def issue(request: Request, username: str, db: DbDep, principal: UserAdmin,
          hours: Annotated[int, Form()] = 24, csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    token, expires = reset_links.issue_reset_link(db, username, actor=principal.username, hours=hours)
    link = str(request.base_url).rstrip("/") + reset_links.RESET_PATH + token
    return render(request, "auth/reset_link_issued.html", username=username, link=link, expires=expires)


@router.get("/reset/{token}", response_class=HTMLResponse)
def form(request: Request, token: str, db: DbDep) -> Response:
    try:
        username = reset_links.link_user(db, token)
    except LifeBankError as exc:
        return render(request, "auth/reset_password.html", status_code=exc.status, error=exc, token=None)
    return render(request, "auth/reset_password.html", username=username, token=token, error=None)


@router.post("/reset/{token}", response_class=HTMLResponse)
def submit(request: Request, token: str, db: DbDep, password: Annotated[str, Form()] = "",
           repeated: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form()] = "") -> Response:
    check_csrf(request, csrf_token)
    try:
        username = reset_links.reset_with_link(db, token, password, repeated)
    except LifeBankError as exc:
        try:
            username = reset_links.link_user(db, token)
        except LifeBankError:
            return render(request, "auth/reset_password.html", status_code=exc.status, error=exc, token=None)
        return render(request, "auth/reset_password.html", status_code=exc.status, error=exc, token=token,
                      username=username)
    return render(request, "auth/reset_password.html", done=True, username=username, token=None, error=None)
