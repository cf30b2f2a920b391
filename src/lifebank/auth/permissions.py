"""Roles and the named capabilities they grant: the one place access rules live. Deny by default.

A grant may later carry a scope (a site or a collection); `RoleGrant.scope_type/scope_id` exist for that,
and a global grant (no scope) is what every check honours today.
"""

from __future__ import annotations

from enum import StrEnum

from lifebank.errors import ValidationFailed
from lifebank.messages import N_, register_labels


class Role(StrEnum):
    ADMIN = "admin"
    BIOBANK_MANAGER = "biobank_manager"
    TECHNICIAN = "technician"
    CLINICIAN = "clinician"
    RESEARCHER = "researcher"
    PARTNER = "partner"


register_labels("role", {
    Role.ADMIN.value: N_("Administrator"),
    Role.BIOBANK_MANAGER.value: N_("Biobank manager"),
    Role.TECHNICIAN.value: N_("Technician"),
    Role.CLINICIAN.value: N_("Clinician"),
    Role.RESEARCHER.value: N_("Researcher"),
    Role.PARTNER.value: N_("Partner"),
})


# Every capability the platform checks. A route or service that needs one not listed here is a bug.
PERMISSIONS: frozenset[str] = frozenset({
    "user.admin",
    "audit.read",
    "participant.read", "participant.write",
    "consent.write",
    "specimen.read", "specimen.write",
    "specimen.reserve", "specimen.distribute",
    "storage.read", "storage.write",
    "import.run",
    "label.print", "label.design",
    "hla.read", "hla.search", "hla.write",
    "omics.read", "omics.write",
    "cohort.read", "cohort.write",
})

_READ_BANK = {"participant.read", "specimen.read", "storage.read"}

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.ADMIN: PERMISSIONS,
    Role.BIOBANK_MANAGER: frozenset(_READ_BANK | {
        "participant.write", "consent.write", "specimen.write", "specimen.reserve", "specimen.distribute",
        "storage.write", "import.run", "label.print", "label.design", "audit.read", "cohort.read", "cohort.write",
        "omics.read", "hla.read",
    }),
    Role.TECHNICIAN: frozenset(_READ_BANK | {"specimen.write", "storage.write", "label.print", "import.run"}),
    Role.CLINICIAN: frozenset({"participant.read", "specimen.read", "hla.read", "hla.search", "omics.read"}),
    Role.RESEARCHER: frozenset({"specimen.read", "omics.read", "cohort.read", "cohort.write", "hla.read"}),
    Role.PARTNER: frozenset({"specimen.read"}),
}


def permissions_of(roles: set[str] | frozenset[str]) -> frozenset[str]:
    granted: set[str] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(Role(role), frozenset())
    return frozenset(granted)


def parse_role(value: str) -> Role:
    """A role from its code; an unknown one is a user error naming the roles there are."""
    try:
        return Role(value.strip())
    except ValueError:
        raise ValidationFailed("unknown role {role!r}; roles are {roles}", role=value,
                               roles=", ".join(r.value for r in Role)) from None
