"""Who may see how much: security levels, granularity by caller, the count threshold and the query budget.

The framework's security levels (beaconConfigurationSchema `securityLevels`):
- PUBLIC: anyone, without logging in;
- REGISTERED: any logged-in user (a bearer token or a session);
- CONTROLLED: only users granted access to the dataset (an approved access request or an admin's release).

What each caller gets from a dataset it may see: records only with a grant on that dataset; a registered
user counts; an anonymous caller booleans (counts when the bank sets the anonymous granularity to `count`).
A count below the threshold (default 5) is never shown as such to a caller without record access: the
answer falls back to a boolean, which says only that something exists. Variant queries draw on a budget per
caller (a user, or the client address for anonymous callers) per window: a genome's worth of allele queries
is exactly what the Shringarpure–Bustamante membership attack needs, and the budget ends it long before.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from lifebank.messages import Msg

LEVELS = ("PUBLIC", "REGISTERED", "CONTROLLED")
DEFAULT_LEVEL = "CONTROLLED"  # the framework's default: a dataset nobody configured is not open
_RANK = {"boolean": 0, "count": 1, "record": 2}


@dataclass(frozen=True, slots=True)
class BeaconSettings:
    threshold: int = 5
    budget: int = 200  # variant queries per caller per window
    window_hours: int = 24
    anonymous_granularity: str = "boolean"

    def as_dict(self) -> dict[str, object]:
        return {"threshold": self.threshold, "budget": self.budget, "window_hours": self.window_hours,
                "anonymous_granularity": self.anonymous_granularity}


@dataclass(frozen=True, slots=True)
class Caller:
    """The asking party: a user (None when anonymous), their client address, and their record grants."""

    username: str | None
    address: str
    granted: frozenset[str] = frozenset()  # dataset names with record access

    @property
    def key(self) -> str:
        return f"user:{self.username}" if self.username else f"ip:{self.address}"


def check_level(level: str) -> str:
    value = level.strip().upper()
    if value not in LEVELS:
        raise ValueError(value)
    return value


def visible(level: str, caller: Caller, dataset: str) -> bool:
    if level == "PUBLIC":
        return True
    if level == "REGISTERED":
        return caller.username is not None
    return dataset in caller.granted


def ceiling(level: str, caller: Caller, dataset: str, settings: BeaconSettings) -> str | None:
    """The most detailed granularity this caller may get from this dataset (None: not at all)."""
    if not visible(level, caller, dataset):
        return None
    if dataset in caller.granted:
        return "record"
    if caller.username is not None:
        return "count"
    return settings.anonymous_granularity


def lowest(granularities: list[str]) -> str:
    return min(granularities, key=_RANK.__getitem__) if granularities else "boolean"


def returned(requested: str, ceilings: list[str]) -> str:
    """What a query over datasets with these ceilings answers with: never above any of them."""
    return lowest([requested, *ceilings])


def shown_count(count: int, granularity: str, settings: BeaconSettings) -> int | None:
    """The count a caller may read, or None when it must fall back to a boolean (1 … threshold-1)."""
    if granularity == "record":
        return count
    if 0 < count < settings.threshold:
        return None
    return count


@dataclass(frozen=True, slots=True)
class BudgetDecision:
    allowed: bool
    used: int
    remaining: int
    reason: Msg | None = None


def budget_decision(used: int, settings: BeaconSettings, oldest: datetime | None, now: datetime) -> BudgetDecision:
    """May one more variant query run, given `used` queries in the window (the oldest of them at `oldest`)?"""
    if used < settings.budget:
        return BudgetDecision(True, used, settings.budget - used - 1)
    again = (oldest or now) + timedelta(hours=settings.window_hours)
    return BudgetDecision(False, used, 0, Msg(
        "query budget used up: {budget} variant queries per {hours} h for each user (each address when not "
        "logged in), as a defence against re-identification by repeated allele queries; the next query is "
        "possible after {time} UTC", budget=settings.budget, hours=settings.window_hours,
        time=again.strftime("%Y-%m-%d %H:%M")))
