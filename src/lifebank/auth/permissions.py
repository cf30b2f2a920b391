"""Roles and the named capabilities they grant: the one place access rules live. Deny by default.

A grant is global or scoped to a site or a collection (`lifebank.auth.scopes`): a scoped grant confers only
the role's reads the biobank can filter by scope, limited to it (`Principal.scope_of`).

Who sees what of the bank (issue 11): staff (manager, technician) read it whole; a clinician reads
participants and specimens; a researcher outside an approved request sees **counts only**
(`specimen.count`: the search total, never a row, a participant code or a storage place); a partner sees
nothing of the bank — only its own organisation's requests, shipments and exports (the access domain).
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
    "specimen.read", "specimen.count", "specimen.write",
    "specimen.reserve", "specimen.distribute",
    "storage.read", "storage.write",
    "import.run",
    "label.print", "label.design",
    "hla.read", "hla.search", "hla.write",
    "omics.read", "omics.write",
    "cohort.read", "cohort.write",
})

_READ_BANK = {"participant.read", "specimen.read", "specimen.count", "storage.read"}

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.ADMIN: PERMISSIONS,
    Role.BIOBANK_MANAGER: frozenset(_READ_BANK | {
        "participant.write", "consent.write", "specimen.write", "specimen.reserve", "specimen.distribute",
        "storage.write", "import.run", "label.print", "label.design", "audit.read", "cohort.read", "cohort.write",
        "omics.read", "hla.read",
    }),
    Role.TECHNICIAN: frozenset(_READ_BANK | {"specimen.write", "storage.write", "label.print", "import.run"}),
    Role.CLINICIAN: frozenset({"participant.read", "specimen.read", "specimen.count", "hla.read", "hla.search",
                               "omics.read"}),
    Role.RESEARCHER: frozenset({"specimen.count", "omics.read", "cohort.read", "cohort.write", "hla.read"}),
    Role.PARTNER: frozenset(),
}

# Access requests (issue 11, the access domain): request (researchers, partners, clinicians for their
# organisation), read all requests (bank staff), review (committee members), manage (committee, HGR,
# shipment), fulfil (allocation, pick list, scan).
ACCESS_PERMISSIONS = frozenset({"access.request", "access.read", "access.review", "access.manage", "access.fulfil"})
_ACCESS_GRANTS: dict[Role, frozenset[str]] = {
    Role.ADMIN: ACCESS_PERMISSIONS,
    Role.BIOBANK_MANAGER: frozenset({"access.request", "access.read", "access.review", "access.manage",
                                     "access.fulfil"}),
    Role.TECHNICIAN: frozenset({"access.read", "access.fulfil"}),
    Role.CLINICIAN: frozenset({"access.request", "access.review"}),
    Role.RESEARCHER: frozenset({"access.request", "access.review"}),
    Role.PARTNER: frozenset({"access.request"}),
}
PERMISSIONS = PERMISSIONS | ACCESS_PERMISSIONS
ROLE_PERMISSIONS = {role: granted | _ACCESS_GRANTS.get(role, frozenset()) for role, granted in ROLE_PERMISSIONS.items()}



# Cell therapy (issue 15): read an order's chain, record steps and sign custody transfers, order a therapy,
# manage the product-code table and manufacturing slots.
CELLTHERAPY_PERMISSIONS = frozenset({"celltherapy.read", "celltherapy.record", "celltherapy.order",
                                     "celltherapy.manage"})
_CELLTHERAPY_GRANTS: dict[Role, frozenset[str]] = {
    Role.ADMIN: CELLTHERAPY_PERMISSIONS,
    Role.BIOBANK_MANAGER: CELLTHERAPY_PERMISSIONS,
    Role.TECHNICIAN: frozenset({"celltherapy.read", "celltherapy.record"}),
    Role.CLINICIAN: frozenset({"celltherapy.read", "celltherapy.record", "celltherapy.order"}),
}
PERMISSIONS = PERMISSIONS | CELLTHERAPY_PERMISSIONS
ROLE_PERMISSIONS = {role: granted | _CELLTHERAPY_GRANTS.get(role, frozenset())
                    for role, granted in ROLE_PERMISSIONS.items()}


# Data sharing (issue 14): write de-identified exports and release records (managers); receive one's own exports.
SHARING_PERMISSIONS = frozenset({"share.export", "share.receive"})
_SHARING_GRANTS: dict[Role, frozenset[str]] = {
    Role.ADMIN: SHARING_PERMISSIONS,
    Role.BIOBANK_MANAGER: SHARING_PERMISSIONS,
    Role.RESEARCHER: frozenset({"share.receive"}),
    Role.PARTNER: frozenset({"share.receive"}),
}
PERMISSIONS = PERMISSIONS | SHARING_PERMISSIONS
ROLE_PERMISSIONS = {role: granted | _SHARING_GRANTS.get(role, frozenset())
                    for role, granted in ROLE_PERMISSIONS.items()}


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


# Precision oncology (issue 13): read reports, create and re-run them, sign them off (clinicians).
PRECISION_PERMISSIONS = frozenset({"precision.read", "precision.write", "precision.sign"})
_PRECISION_GRANTS: dict[Role, frozenset[str]] = {
    Role.ADMIN: PRECISION_PERMISSIONS,
    Role.CLINICIAN: PRECISION_PERMISSIONS,
    Role.BIOBANK_MANAGER: frozenset({"precision.read"}),
}
PERMISSIONS = PERMISSIONS | PRECISION_PERMISSIONS
ROLE_PERMISSIONS = {role: granted | _PRECISION_GRANTS.get(role, frozenset())
                    for role, granted in ROLE_PERMISSIONS.items()}
