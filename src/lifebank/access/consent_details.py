"""A consent in force, as the biobank keeps it, turned into the rule table's `Consent`. Pure.

The biobank stores a consent's DUO codes and a free-text scope. The details some DUO modifiers need are
written in that scope as `key=value` parts separated by ';' or new lines (other text is the consent's own
words and is left alone):

    disease=C50            DS: the disease(s) the consent allows (ICD-10, MONDO…; several: C50,C61)
    country=CN,DE          GS: the countries where use is allowed (ISO 3166)
    months=24              TS: months of use from the consent date
    moratorium=2027-01-01  MOR: no publication before that day
    users= / projects= / institutions=   US / PS / IS: the named ones

A part that says nothing parseable (a date that is not a date) is left out, and the rule that needs it then
refuses ("missing facts refuse, never guess").
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

from lifebank.access.consent_rules import TS, Consent

_PART = re.compile(r"^\s*([a-z_]+)\s*=\s*(.*?)\s*$", re.IGNORECASE)
_ALIASES = {"disease": "diseases", "diseases": "diseases", "country": "countries", "countries": "countries",
            "months": "time_limit_months", "moratorium": "moratorium_until", "users": "users",
            "projects": "projects", "institutions": "institutions"}


def scope_details(scope: str) -> dict[str, object]:
    """The rule details written in a consent's scope text (see the module docstring)."""
    details: dict[str, object] = {}
    for part in re.split(r"[;\n]", scope or ""):
        match = _PART.match(part)
        if not match or match.group(1).lower() not in _ALIASES:
            continue
        key, value = _ALIASES[match.group(1).lower()], match.group(2)
        if key == "time_limit_months":
            if value.isdigit():
                details[key] = int(value)
        elif key == "moratorium_until":
            try:
                details[key] = date.fromisoformat(value)
            except ValueError:
                continue
        else:
            details[key] = frozenset(v.strip() for v in value.split(",") if v.strip())
    return details


def consent_of(codes: tuple[str, ...], consent_date: date | None, scope: str) -> Consent:
    """The rule table's Consent for one stored consent; equal stored consents give the same object, so
    `evaluate_many` decides each pattern once. The date matters only to a time limit (TS), so it is kept
    only then: a million consents signed on a thousand days stay a handful of patterns."""
    return _consent(codes, consent_date if TS in codes else None, scope)


@lru_cache(maxsize=4096)
def _consent(codes: tuple[str, ...], consent_date: date | None, scope: str) -> Consent:
    return Consent(frozenset(codes), consent_date=consent_date, **scope_details(scope))  # type: ignore[arg-type]
