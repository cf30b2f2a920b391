"""FastAPI dependencies of scoped access, for the routes that filter what they return by scope.

`lifebank.web.deps.require(p)` admits global holders of `p` only, so a route that knows nothing of scopes
never serves a scoped user (deny by default). A route that filters by `principal.scope_of(p)` declares so
with `require_within(p)`, which also admits holders of `p` through a site or collection grant.
"""

from __future__ import annotations

from collections.abc import Callable

from lifebank.auth.permissions import PERMISSIONS
from lifebank.auth.service import Principal
from lifebank.errors import PermissionDenied
from lifebank.web.deps import PrincipalDep


def require_within(permission: str) -> Callable[..., Principal]:
    """Dependency factory: the principal, provided it holds `permission` everywhere or in some scope."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}: add it to lifebank.auth.permissions first")

    def _check(principal: PrincipalDep) -> Principal:
        if not principal.can_within(permission):
            raise PermissionDenied("permission {permission!r} is required", permission=permission)
        return principal

    _check.__name__ = f"require_within_{permission.replace('.', '_')}"
    return _check

