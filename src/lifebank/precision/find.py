"""Precision oncology's share of the header search: a report number (`PR-000001`, any case) opens its page,
for holders of `precision.read`. Goes through the service, never the table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lifebank.errors import LifeBankError
from lifebank.messages import N_, register_labels
from lifebank.precision import service
from lifebank.web.find import Hit

if TYPE_CHECKING:
    from lifebank.auth.service import Principal
    from lifebank.db.engine import Database

register_labels("find_kind", {"precision_report": N_("Tumour report")})


def find(db: Database, text: str, principal: Principal) -> list[Hit]:
    number = text.strip().upper()
    if not principal.can("precision.read") or not number.startswith("PR-"):
        return []
    try:
        report = service.get_report(db, number)
    except LifeBankError:
        return []
    return [Hit(report["report"], f"/precision/reports/{report['report']}", "precision_report")]
