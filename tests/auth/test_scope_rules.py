"""The pure rules of scoped grants and organisations' codes (lifebank.auth.scopes), with hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lifebank.auth.permissions import ROLE_PERMISSIONS, Role
from lifebank.auth.scopes import (
    SCOPABLE_PERMISSIONS,
    OrganisationKind,
    Scope,
    ScopeRef,
    ScopeType,
    default_for_profit,
    iso_countries,
    parse_country,
    parse_scope,
    scoped_permissions,
)
from lifebank.errors import ValidationFailed

NAMES = st.text(alphabet=st.characters(whitelist_categories=("L", "N"), whitelist_characters="-_ ."),
                min_size=1, max_size=20).filter(lambda s: s.strip())
ROLES = st.sampled_from([r.value for r in Role])
REFS = st.builds(ScopeRef, st.sampled_from(list(ScopeType)), NAMES.map(str.strip))
GRANTS = st.lists(st.tuples(ROLES, REFS), max_size=6)


def test_scopes_read_as_typed_and_bad_ones_are_named() -> None:
    assert parse_scope("site:Hangzhou") == ScopeRef(ScopeType.SITE, "Hangzhou")
    assert parse_scope(" Collection: ZJ / FRZ-01 /") == ScopeRef(ScopeType.COLLECTION, "ZJ/FRZ-01")
    for bad in ("Hangzhou", "freezer:1", "site:", "site: / ", "site:" + "x" * 65):
        with pytest.raises(ValidationFailed, match="is not valid"):
            parse_scope(bad)


@given(REFS)
def test_a_scope_written_out_reads_back_the_same(ref: ScopeRef) -> None:
    assert parse_scope(str(ref)) == ref


def test_countries_are_iso_3166_alpha_2() -> None:
    countries = iso_countries()
    assert len(countries) == 249 and {"CN", "DE", "US", "HK", "TW"} <= countries
    assert not countries & {"EU", "UN", "XK", "ZZ", "QO"}
    assert parse_country(" de ") == "DE"
    with pytest.raises(ValidationFailed, match="'EU' is not an ISO 3166-1 alpha-2"):
        parse_country("EU")


def test_only_a_company_is_for_profit_by_default() -> None:
    assert [k.value for k in OrganisationKind if default_for_profit(k)] == ["company"]


@given(GRANTS, st.sets(ROLES, max_size=3))
def test_a_scoped_grant_never_confers_more_than_the_scopable_reads_of_its_role(grants, global_roles) -> None:
    global_permissions = frozenset().union(*(ROLE_PERMISSIONS[Role(r)] for r in global_roles))
    scopes = scoped_permissions(grants, ROLE_PERMISSIONS, global_permissions)  # type: ignore[arg-type]
    for permission, scope in scopes.items():
        assert permission in SCOPABLE_PERMISSIONS and permission not in global_permissions
        holders = [ref for role, ref in grants if permission in ROLE_PERMISSIONS[Role(role)]]
        assert scope == Scope(frozenset(r.name for r in holders if r.type is ScopeType.SITE),
                              frozenset(r.name for r in holders if r.type is ScopeType.COLLECTION))
        assert scope  # never an empty scope for a permission held through a grant


def test_the_empty_scope_matches_nothing() -> None:
    assert not Scope() and not Scope().allows_site("Hangzhou")
    assert Scope(frozenset({"Hangzhou"})).allows_site("Hangzhou")
