"""Scoped role grants and organisations' reference codes: pure rules, no I/O.

A role grant is global (it applies everywhere) or scoped to a **site** (the participants collected there, as
`bb_participant.site` names them, and their specimens) or a **collection** (the specimens kept under one
storage unit of the bank's tree, by its path such as `ZJ/FRZ-01`, and their participants). A scoped grant
confers only the permissions of its role that the data layer can filter by scope (`SCOPABLE_PERMISSIONS`): a
technician scoped to Hangzhou reads Hangzhou's specimens and nothing else, and writes nothing — a write that
could not be confined to the scope would otherwise leak through it. Deny by default, as everywhere.

Countries are ISO 3166-1 alpha-2 codes as the Unicode CLDR (through Babel, already a dependency for dates
and plurals) lists them, minus CLDR's extra regions (EU, UN, XK, ZZ, …), which ISO does not assign.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from lifebank.errors import ValidationFailed
from lifebank.messages import N_, register_labels


class ScopeType(StrEnum):
    SITE = "site"
    COLLECTION = "collection"


class OrganisationKind(StrEnum):
    BANK = "bank"
    HOSPITAL = "hospital"
    COMPANY = "company"
    UNIVERSITY = "university"


register_labels("scope_type", {ScopeType.SITE.value: N_("Site"), ScopeType.COLLECTION.value: N_("Collection")})
register_labels("organisation_kind", {
    OrganisationKind.BANK.value: N_("Biobank"),
    OrganisationKind.HOSPITAL.value: N_("Hospital"),
    OrganisationKind.COMPANY.value: N_("Company"),
    OrganisationKind.UNIVERSITY.value: N_("University"),
})

# Permissions a scoped grant may confer: the reads the biobank filters by site and collection.
SCOPABLE_PERMISSIONS: frozenset[str] = frozenset({"participant.read", "specimen.read", "specimen.count"})

# CLDR territories that are not ISO 3166-1 alpha-2 country codes (exceptionally reserved or user-assigned).
_NOT_ISO = frozenset({"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "XK", "ZZ"})


def iso_countries() -> frozenset[str]:
    """The ISO 3166-1 alpha-2 codes (249 of them)."""
    from babel import Locale

    return frozenset(code for code in Locale("en").territories
                     if len(code) == 2 and code.isalpha() and code not in _NOT_ISO)


def parse_country(value: str) -> str:
    """'cn' -> 'CN'; anything that is not an ISO 3166-1 alpha-2 code is a user error."""
    code = value.strip().upper()
    if code not in iso_countries():
        raise ValidationFailed("{country!r} is not an ISO 3166-1 alpha-2 country code (e.g. CN, DE, US)",
                               country=value)
    return code


def parse_kind(value: str) -> OrganisationKind:
    try:
        return OrganisationKind(value.strip().lower())
    except ValueError:
        raise ValidationFailed("unknown organisation kind {kind!r}; kinds are {kinds}", kind=value,
                               kinds=", ".join(k.value for k in OrganisationKind)) from None


def default_for_profit(kind: OrganisationKind) -> bool:
    """A company is for-profit unless told otherwise; banks, hospitals and universities are not."""
    return kind is OrganisationKind.COMPANY


@dataclass(frozen=True, slots=True)
class ScopeRef:
    """One scope a grant names: `site:Hangzhou` or `collection:ZJ/FRZ-01`."""

    type: ScopeType
    name: str

    def __str__(self) -> str:
        return f"{self.type.value}:{self.name}"


def parse_scope(text: str) -> ScopeRef:
    """'site:NAME' or 'collection:NAME' (a storage path); anything else names the accepted forms."""
    kind, sep, name = text.strip().partition(":")
    name = "/".join(part.strip() for part in name.strip().strip("/").split("/") if part.strip())
    try:
        scope_type = ScopeType(kind.strip().lower())
    except ValueError:
        scope_type = None
    if not sep or scope_type is None or not name or len(name) > 64:
        raise ValidationFailed("scope {scope!r} is not valid: write site:NAME or collection:STORAGE/PATH "
                               "(up to 64 characters)", scope=text)
    return ScopeRef(scope_type, name)


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a permission held only through scoped grants applies: these sites and these collections."""

    sites: frozenset[str] = frozenset()
    collections: frozenset[str] = frozenset()

    def allows_site(self, site: str | None) -> bool:
        return site is not None and site in self.sites

    def __bool__(self) -> bool:
        return bool(self.sites or self.collections)


def scoped_permissions(grants: Iterable[tuple[str, ScopeRef]],
                       role_permissions: dict[str, frozenset[str]],
                       global_permissions: frozenset[str]) -> dict[str, Scope]:
    """permission -> the scope it is limited to, for each permission held through scoped grants only.

    A permission also held globally is unrestricted and absent here; a permission outside
    SCOPABLE_PERMISSIONS is never conferred by a scoped grant."""
    sites: dict[str, set[str]] = {}
    collections: dict[str, set[str]] = {}
    for role, ref in grants:
        for permission in role_permissions.get(role, frozenset()) & SCOPABLE_PERMISSIONS:
            if permission in global_permissions:
                continue
            target = sites if ref.type is ScopeType.SITE else collections
            target.setdefault(permission, set()).add(ref.name)
            (collections if target is sites else sites).setdefault(permission, set())
    return {p: Scope(frozenset(sites.get(p, ())), frozenset(collections.get(p, ()))) for p in sites | collections}
