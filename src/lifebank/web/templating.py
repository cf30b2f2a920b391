"""Jinja2 rendering with one environment per language (thread-safe gettext) and a shared page context."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from lifebank.domains import DOMAINS, domain_modules
from lifebank.errors import LifeBankError
from lifebank.messages import N_, Msg, label
from lifebank.web.i18n import LANGUAGES, translations

_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class NavItem:
    """One entry of the main navigation; shown only to users holding `permission`."""

    label: str  # English msgid, translated when rendered
    path: str
    permission: str | None = None
    order: int = 50
    # The area (an English msgid) the item is listed under; None: the area of the domain that declares it
    # (`AREAS`), "" for a top-level link (the dashboard). Optional so a domain's NAV need not change.
    group: str | None = None
    # The page filters by the reader's scope (`page_requires_within`): a site or collection grant shows it too.
    within: bool = False


@dataclass(frozen=True, slots=True)
class NavGroup:
    """One area of the main navigation as one user sees it: a dropdown on a wide screen, a section of the
    menu on a phone; an area with one item (or the top-level one, label "") is shown as a plain link."""

    label: str
    items: tuple[NavItem, ...]
    current: bool  # the page shown belongs to this area


# Areas by domain: twenty-odd links for an administrator do not fit a header, five areas do. A domain not
# listed here (a new one) gets "More" until its NAV items name a group or a line is added here.
AREAS: dict[str, str] = {
    "biobank": N_("Biobank"), "clinical": N_("Biobank"),
    "hla": N_("Registry"), "celltherapy": N_("Registry"),
    "omics": N_("Genome data"), "precision": N_("Genome data"),
    "access": N_("Sharing"), "sharing": N_("Sharing"),
    "auth": N_("Administration"), "audit": N_("Administration"),
}
OTHER_AREA = N_("More")
AREA_ORDER = ("", N_("Biobank"), N_("Registry"), N_("Genome data"), N_("Sharing"))  # then others; admin last


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
    env.filters["label"] = lambda code, kind: label(kind, code, language)
    env.filters["msg"] = lambda message: _message_text(message, language)
    env.filters["number"] = _number
    return env


def _message_text(message: Msg | LifeBankError | str | None, language: str) -> str:
    if message is None:
        return ""
    if isinstance(message, LifeBankError):
        return message.render(language)
    if isinstance(message, Msg):
        return message.render(language)
    return str(message)


def _number(value: float | int | None) -> str:
    """Thousands separated, as both languages write them in tables (12,345)."""
    if value is None:
        return ""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def time_zone_of(request: Request) -> ZoneInfo:
    """The reader's time zone: the user's own setting, else the site's (LIFEBANK_TIME_ZONE)."""
    principal = getattr(request.state, "principal", None)
    name = getattr(principal, "time_zone", None) or request.app.state.settings.time_zone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(value: datetime | date | str | None, zone: ZoneInfo, *, seconds: bool = False) -> str:
    """A stored time (UTC; naive values are UTC too) as the reader's wall-clock time: 2026-11-30 12:26."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return value.isoformat()
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def message_text(request: Request, message: Msg | LifeBankError | str | None) -> str:
    """A catalogue message (or a domain error) in the reader's language, for a page or a fragment."""
    return _message_text(message, request.state.locale)


CORE_NAV = [
    NavItem("Dashboard", "/dashboard", None, 0, group=""),
    NavItem("Users", "/admin/users", "user.admin", 90, group=N_("Administration")),
    NavItem("Audit log", "/audit", "audit.read", 95, group=N_("Administration")),
]


@lru_cache(maxsize=1)
def navigation() -> list[NavItem]:
    """Every NAV item of the shell and the domains, each with its area filled in, in `order`."""
    items = list(CORE_NAV)
    for module in domain_modules("web"):
        domain = module.__name__.split(".")[1]
        items.extend(item if item.group is not None else replace(item, group=AREAS.get(domain, OTHER_AREA))
                     for item in getattr(module, "NAV", []))
    return sorted(items, key=lambda item: item.order)


def current_item(items: list[NavItem], path: str) -> NavItem | None:
    """The item the page at `path` belongs to: the longest item path that is `path` or a folder of it
    (/hla/searches/3 is "Saved searches", not "Donor search" whose path is a prefix of the text)."""
    matching = [item for item in items if path == item.path or path.startswith(item.path.rstrip("/") + "/")]
    return max(matching, key=lambda item: len(item.path), default=None)


def nav_groups(items: list[NavItem], current: NavItem | None) -> list[NavGroup]:
    """The items a user may open, by area: the known areas in `AREA_ORDER`, other areas next, then
    Administration (least used, so last)."""
    areas: dict[str, list[NavItem]] = {}
    for item in items:
        areas.setdefault(item.group or "", []).append(item)

    def rank(area: str) -> tuple[int, int]:
        if area in AREA_ORDER:
            return (AREA_ORDER.index(area), 0)
        return (len(AREA_ORDER) + (area == "Administration"), min(item.order for item in areas[area]))

    return [NavGroup(area, tuple(areas[area]), current is not None and current in areas[area])
            for area in sorted(areas, key=rank)]


def gettext_for(request: Request) -> Any:
    return translations(request.state.locale).gettext


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    nav = [item for item in navigation() if item.permission is None or (principal and (
        principal.can(item.permission) or (item.within and principal.can_within(item.permission))))]
    nav = nav if principal else []
    current = current_item(nav, request.url.path)
    zone = time_zone_of(request)
    page = environment(request.state.locale).get_template(template).render(
        request=request,
        localtime=lambda value, seconds=False: local_time(value, zone, seconds=seconds),
        time_zone=zone.key,
        principal=principal,
        nav=nav,
        nav_groups=nav_groups(nav, current),
        nav_current=current.path if current else None,
        csrf_token=request.state.csrf_token,
        locale=request.state.locale,
        languages=LANGUAGES,
        **context,
    )
    return HTMLResponse(page, status_code=status_code)
