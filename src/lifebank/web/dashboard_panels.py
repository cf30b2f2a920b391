"""What a domain hands the dashboard: panels, each a small template with its context.

A domain plugs in by convention with `<domain>/dashboard.py` providing
`panels(db, principal, language, gettext) -> list[Panel]`, returning only what that principal may see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Panel:
    key: str  # stable id (the HTML id of the panel, tests find it by this)
    order: int  # panels are shown in this order across domains
    title: str  # English msgid, translated when rendered
    template: str  # fragment rendered with `context` (and the page's usual variables)
    context: dict[str, Any] = field(default_factory=dict)
    wide: bool = False


__all__ = ["Panel"]
