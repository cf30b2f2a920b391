"""Jinja2 rendering with one environment per language (thread-safe gettext) and a shared page context."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from lifebank.domains import DOMAINS, domain_modules
from lifebank.web.i18n import LANGUAGES, translations

_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class NavItem:
    """One entry of the main navigation; shown only to users holding `permission`."""

    label: str  # English msgid, translated when rendered
    path: str
    permission: str | None = None
    order: int = 50


def template_folders() -> list[Path]:
    folders = [_ROOT / "web" / "templates"] + [_ROOT / d / "templates" for d in DOMAINS]
    return [f for f in folders if f.is_dir()]


@cache
def environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader([str(f) for f in template_folders()]),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


CORE_NAV = [
    NavItem("Dashboard", "/dashboard", None, 0),
    NavItem("Users", "/admin/users", "user.admin", 90),
    NavItem("Audit log", "/audit", "audit.read", 95),
]


@lru_cache(maxsize=1)
def navigation() -> list[NavItem]:
    items = list(CORE_NAV)
    for module in domain_modules("web"):
        items.extend(getattr(module, "NAV", []))
    return sorted(items, key=lambda item: item.order)


def gettext_for(request: Request) -> Any:
    return translations(request.state.locale).gettext


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    nav = [item for item in navigation() if item.permission is None or (principal and principal.can(item.permission))]
    page = environment(request.state.locale).get_template(template).render(
        request=request,
        principal=principal,
        nav=nav if principal else [],
        csrf_token=request.state.csrf_token,
        locale=request.state.locale,
        languages=LANGUAGES,
        **context,
    )
    return HTMLResponse(page, status_code=status_code)
