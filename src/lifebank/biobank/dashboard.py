"""The biobank's panels on the dashboard: specimens by status and type, collections per month, storage
fill, consent status, open reservations — each shown only to roles that may read that part of the bank.

The figures come from one snapshot (`statistics.bank_statistics`), so the dashboard answers in
milliseconds at 10 M specimens; each panel says when its snapshot was taken. The snapshot is bank-wide, so it
is shown only to global grants; a reader whose grants are scoped to sites or collections gets one panel counted
within the scope on request instead (`scoped_panels`, see docs/security.md).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from lifebank.auth.service import Principal
from lifebank.biobank import service, statistics
from lifebank.biobank import vocabulary as _vocabulary  # noqa: F401 - registers the labels used below
from lifebank.biobank.participants import CONSENT_STATUSES
from lifebank.biobank.specimen_types import SpecimenStatus
from lifebank.db.engine import Database
from lifebank.messages import label
from lifebank.web.charts import Bar, bar_chart, column_chart
from lifebank.web.dashboard_panels import Panel

FULL = 0.90  # a storage unit this full is shown as a warning (ISBER: plan capacity before it runs out)
TOP_TYPES = 8


def _list_link(**filters: str) -> str:
    return "/biobank/specimens?" + urlencode(filters)


def panels(db: Database, principal: Principal, language: str, gettext: Callable[[str], str]) -> list[Panel]:
    _ = gettext  # the reader's catalogue: chart titles are drawn in their language
    wanted = [p for p in ("specimen.read", "storage.read", "participant.read") if principal.can(p)]
    if not wanted:
        return scoped_panels(db, principal, language, gettext)
    snapshot = statistics.bank_statistics(db)
    if snapshot is None:
        return [Panel("biobank-pending", 10, "The bank's figures", "biobank/_dashboard_pending.html", {})]
    found: list[Panel] = []
    if principal.can("specimen.read"):
        by_status = snapshot.by_status()
        status_bars = [Bar(label("specimen_status", s, language), n, href=_list_link(status=s))
                       for s, n in by_status.items()]
        type_bars = [Bar(f"{t} · {label('specimen_type', t, language)}", n, href=_list_link(type=t))
                     for t, n in list(snapshot.by_type().items())[:TOP_TYPES]]
        found.append(Panel("specimens", 10, "Specimens", "biobank/_dashboard_specimens.html", {
            "snapshot": snapshot, "reserved": by_status.get("reserved", 0),
            "status_chart": bar_chart(_("Specimens by status"), status_bars),
            "type_chart": bar_chart(_("Specimens by type"), type_bars),
        }))
        months = [(m, n) for m, n in snapshot.collections_by_month]
        found.append(Panel("collections", 20, "Collections per month", "biobank/_dashboard_chart.html", {
            "snapshot": snapshot,
            "chart": column_chart(_("Collections per month"), months,
                                  y_title=_("Specimens collected")),
        }))
    if principal.can("storage.read") and snapshot.storage:
        units = sorted(snapshot.storage, key=lambda u: -u.share)
        bars = [Bar(f"{u.path} ({label('temperature_class', u.temperature_class, language)})", u.used,
                    total=u.capacity or 1, warn=u.share >= FULL,
                    href="/biobank/storage?" + urlencode({"path": u.path})) for u in units]
        found.append(Panel("storage", 30, "Storage fill", "biobank/_dashboard_storage.html", {
            "snapshot": snapshot, "full": [u for u in units if u.share >= FULL], "threshold": int(FULL * 100),
            "units": snapshot.storage,
            "chart": bar_chart(_("Storage fill"), bars, percent=True),
        }))
    if principal.can("participant.read"):
        consent = snapshot.consent
        bars = [Bar(_("Consent in force"), consent.get("in_force", 0)),
                Bar(_("Consent withdrawn"), consent.get("withdrawn", 0)),
                Bar(_("No consent recorded"), consent.get("none", 0))]
        found.append(Panel("consent", 40, "Participants and consent", "biobank/_dashboard_consent.html", {
            "snapshot": snapshot, "chart": bar_chart(_("Consent status"), bars),
        }))
    return found


def scoped_panels(db: Database, principal: Principal, language: str,
                  gettext: Callable[[str], str]) -> list[Panel]:
    """A reader holding the bank's reads through site or collection grants only: specimens by status and
    participants by consent status within the scope, counted now with the list pages' own filters (the
    bank-wide snapshot and its per-box tallies do not split by site, so no bank-wide figure is shown)."""
    _ = gettext
    specimen_scope = principal.scope_of("specimen.read") if principal.can_within("specimen.read") else None
    participant_scope = principal.scope_of("participant.read") if principal.can_within("participant.read") else None
    if specimen_scope is None and participant_scope is None:
        return []
    context: dict[str, object] = {"scopes": principal.scoped_grants}
    if specimen_scope is not None:
        counts = {s.value: service.search_specimens(db, service.SpecimenFilter(status=s.value, scope=specimen_scope),
                                                    limit=0)[0] or 0 for s in SpecimenStatus}
        context["specimens"] = sum(counts.values())
        context["status_chart"] = bar_chart(_("Specimens by status"), [
            Bar(label("specimen_status", s, language), n, href=_list_link(status=s)) for s, n in counts.items()])
    if participant_scope is not None:
        consent = {s: service.list_participants(db, service.ParticipantFilter(consent_status=s,
                                                                              scope=participant_scope),
                                                limit=0)[0] for s in CONSENT_STATUSES}
        context["participants"] = sum(consent.values())
        context["consent_chart"] = bar_chart(_("Consent status"), [
            Bar(label("consent_status", s, language), n, href="/biobank/participants?consent_status=" + s)
            for s, n in consent.items()])
    return [Panel("scoped", 10, "Your scope of the bank", "biobank/_dashboard_scoped.html", context)]
