"""Consent matching: does a participant's consent in force permit the use a request asks for? (GA4GH DUO)

A consent carries DUO terms: data use *permissions* (what kind of use) and *modifiers* (conditions that
narrow a permission). A request names its purposes as DUO permissions and declares the facts the modifiers
ask about (commercial use, for-profit organisation, ethics approval number, country, date of use…).
`evaluate(consent, request)` applies every rule and returns a `Decision`: permitted or not, every reason
(catalogue messages, so a committee reads them in its language), and the conditions the requester takes on
when it is permitted (they go into the material or data transfer agreement).

The rules, in DUO's words (docs/access.md has the table with the DUO ids):
- Permissions nest: NRES ⊃ GRU ⊃ HMB ⊃ DS-x, and GRU ⊃ POA. A request purpose is covered when some
  permission of the consent contains it, so a GRU consent covers an HMB or DS request, but an HMB-only
  consent does not cover a GRU request. DS-x covers only disease x and its subtypes (`is_subtype` is
  injected; the default knows equal codes and ICD-10 prefixes). HMB "does not include the study of
  population origins or ancestry": such research needs NRES, GRU or POA.
- Restricting modifiers refuse what they forbid (NCU, NPU, NPUNCU, NPOA, NMDS, GSO, GS, TS, US, PS, IS, RS)
  or require what the request must declare (IRB, PUB, COL, RTN); met requirements become conditions.
- CC widens: clinical care is not research, so a clinical-care request needs NRES or CC.
- No consent in force (never given, or withdrawn), a consent without a permission, or a term LifeBank does
  not know (it may be a restriction) → not permitted, with the reason. Missing facts refuse, never guess.

Pure: no I/O. Participants share a handful of consent patterns, so `evaluate_many` decides each distinct
consent once (1,000,000 participants in a fraction of a second, see docs/access.md).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cache

from lifebank.biobank.duo import duo_terms
from lifebank.errors import ValidationFailed
from lifebank.messages import N_, Msg

# Permissions (DUO:0000001's children).
NRES, GRU, HMB, DS, POA = "DUO:0000004", "DUO:0000042", "DUO:0000006", "DUO:0000007", "DUO:0000011"
# Modifiers (DUO:0000017's children).
RS, NMDS, GSO, NPUNCU, PUB, COL, IRB, GS = ("DUO:0000012", "DUO:0000015", "DUO:0000016", "DUO:0000018",
                                            "DUO:0000019", "DUO:0000020", "DUO:0000021", "DUO:0000022")
MOR, TS, US, PS, IS, RTN, CC = ("DUO:0000024", "DUO:0000025", "DUO:0000026", "DUO:0000027", "DUO:0000028",
                                "DUO:0000029", "DUO:0000043")
NPOA, NPU, NCU = "DUO:0000044", "DUO:0000045", "DUO:0000046"

PERMISSIONS = (NRES, GRU, HMB, DS, POA)
# Modifiers that only ever narrow what a consent allows (CC widens; the abstract parents say nothing).
RESTRICTING_MODIFIERS = (RS, NMDS, GSO, NPUNCU, PUB, COL, IRB, GS, MOR, TS, US, PS, IS, RTN, NPOA, NPU, NCU)
_ABSTRACT = frozenset({"DUO:0000001", "DUO:0000017"})

# Which request purposes each consent permission contains (DS is further limited to its diseases).
_COVERS: dict[str, frozenset[str]] = {
    NRES: frozenset({NRES, GRU, HMB, DS, POA}),
    GRU: frozenset({GRU, HMB, DS, POA}),
    HMB: frozenset({HMB, DS}),
    DS: frozenset({DS}),
    POA: frozenset({POA}),
}
# DUO: GRU includes "the study of population origins or ancestry"; HMB (and so DS) excludes it.
_ALLOWS_POPULATION_ORIGINS = frozenset({NRES, GRU, POA})

_SCOPES: dict[str, str] = {
    NRES: N_("any use (NRES)"),
    GRU: N_("general research use (GRU)"),
    HMB: N_("health, medical or biomedical research (HMB)"),
    DS: N_("disease-specific research (DS)"),
    POA: N_("population origins or ancestry research (POA)"),
}

SubtypeTest = Callable[[str, str], bool]


_ICD10 = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")


def _is_icd10(code: str) -> bool:
    return _ICD10.match(code) is not None


def icd10_or_same(child: str, parent: str) -> bool:
    """The default disease hierarchy: equal codes, or an ICD-10 code under its category (C50.1 under C50,
    C50.12 under C50.1). Other vocabularies (MONDO, DOID) need their ontology injected as `is_subtype`."""
    child, parent = child.strip().upper(), parent.strip().upper()
    if child == parent:
        return True
    if not (_is_icd10(child) and _is_icd10(parent)):
        return False
    return child.startswith(parent + ".") if "." not in parent else child.startswith(parent)


def _ids(codes: Iterable[str]) -> frozenset[str]:
    """DUO ids from ids or shorthands ('GRU' -> 'DUO:0000042'); anything else is kept as written."""
    by_shorthand = _shorthands()
    return frozenset(by_shorthand.get(c.strip().upper(), c.strip().upper()) for c in codes if c.strip())


@cache
def _shorthands() -> dict[str, str]:
    return {t.shorthand.upper(): t.id for t in duo_terms().values() if t.shorthand}


_EMPTY: frozenset[str] = frozenset()


def _upper(values: Iterable[str]) -> frozenset[str]:
    if not values:
        return _EMPTY
    return frozenset(v.strip().upper() for v in values if v.strip())


def _clean(values: Iterable[str]) -> frozenset[str]:
    if not values:
        return _EMPTY
    return frozenset(v.strip() for v in values if v.strip())


@dataclass(frozen=True, slots=True, eq=False)
class Consent:
    """A participant's consent in force: its DUO terms and the details some terms need.

    `diseases` for DS (MONDO, ICD-10…), `consent_date` + `time_limit_months` for TS, `countries` (ISO 3166
    codes) for GS, `moratorium_until` for MOR, and the approved `users`, `projects`, `institutions` for
    US/PS/IS. Hashable, with the hash computed once: `evaluate_many` keys its cache on it.
    """

    codes: frozenset[str]
    diseases: frozenset[str] = frozenset()
    consent_date: date | None = None
    time_limit_months: int | None = None
    countries: frozenset[str] = frozenset()
    moratorium_until: date | None = None
    users: frozenset[str] = frozenset()
    projects: frozenset[str] = frozenset()
    institutions: frozenset[str] = frozenset()
    _key: tuple = field(init=False, repr=False)
    _hash: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name, value in (("codes", _ids(self.codes)), ("diseases", _clean(self.diseases)),
                            ("countries", _upper(self.countries)), ("users", _clean(self.users)),
                            ("projects", _clean(self.projects)), ("institutions", _clean(self.institutions))):
            object.__setattr__(self, name, value)
        key = (self.codes, self.diseases, self.consent_date, self.time_limit_months, self.countries,
               self.moratorium_until, self.users, self.projects, self.institutions)
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_hash", hash(key))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Consent):
            return NotImplemented
        return self._hash == other._hash and self._key == other._key

    @classmethod
    def of(cls, *codes: str, **details: object) -> Consent:
        """`Consent.of("GRU", "NCU", countries={"CN"})`: terms by id or shorthand, details by name."""
        return cls(frozenset(codes), **details)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class RequestedUse:
    """What an access request asks for, as the consent rules read it.

    `purposes` are DUO permissions (ids or shorthands); DS needs `diseases`. The flags are the request's
    declarations: `ethics_approval` is the approval number IRB asks for (`--ethics-approval NUMBER`),
    `use_date` the day the use is checked for (TS), `country` where the use happens (GS).
    """

    purposes: frozenset[str]
    diseases: frozenset[str] = frozenset()
    commercial: bool = False
    for_profit: bool = False
    ethics_approval: str | None = None
    publication_committed: bool = False
    collaboration_agreed: bool = False
    returns_derived_data: bool = False
    country: str | None = None
    use_date: date | None = None
    genetic_study: bool = False
    methods_development: bool = False
    population_origins: bool = False
    clinical_care: bool = False
    user: str | None = None
    project: str | None = None
    institution: str | None = None

    def __post_init__(self) -> None:
        purposes = _ids(self.purposes)
        if not purposes:
            raise ValidationFailed("a request needs at least one purpose (a DUO data use permission)")
        if others := sorted(purposes - set(PERMISSIONS)):
            raise ValidationFailed("{code} is not a DUO data use permission (NRES, GRU, HMB, DS or POA)",
                                   code=others[0])
        diseases = _clean(self.diseases)
        if DS in purposes and not diseases:
            raise ValidationFailed("disease-specific research (DS) needs a disease code")
        if diseases and DS not in purposes:
            raise ValidationFailed("a disease code is given only with disease-specific research (DS)")
        object.__setattr__(self, "purposes", purposes)
        object.__setattr__(self, "diseases", diseases)
        object.__setattr__(self, "ethics_approval", (self.ethics_approval or "").strip() or None)
        object.__setattr__(self, "country", (self.country or "").strip().upper() or None)

    @property
    def involves_population_origins(self) -> bool:
        return self.population_origins or POA in self.purposes


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one consent: `reasons` say why (every failed rule when refused, what covers each
    purpose when permitted); `conditions` are what the requester takes on (empty when refused)."""

    permitted: bool
    reasons: tuple[Msg, ...]
    conditions: tuple[Msg, ...] = ()


NO_CONSENT = Decision(False, (Msg("no consent in force (never given or withdrawn)"),))


def evaluate(consent: Consent | None, request: RequestedUse,
             is_subtype: SubtypeTest = icd10_or_same) -> Decision:
    """Apply every DUO rule of `consent` to `request`; None means no consent in force."""
    if consent is None:
        return NO_CONSENT
    refusals: list[Msg] = []
    conditions: list[Msg] = []
    codes = consent.codes
    known = duo_terms()
    for code in sorted(c for c in codes if c not in known):
        refusals.append(Msg("the consent term {code} is not a DUO term LifeBank knows, so it cannot be "
                            "honoured", code=code))
    permissions = [p for p in PERMISSIONS if p in codes]
    covered = _purposes(consent, permissions, request, is_subtype, refusals)
    _restrictions(consent, permissions, request, refusals)
    _requirements(consent, request, refusals, conditions)
    if refusals:
        return Decision(False, tuple(refusals))
    return Decision(True, tuple(covered), tuple(conditions))


def evaluate_many(consents: Iterable[Consent | None], request: RequestedUse,
                  is_subtype: SubtypeTest = icd10_or_same) -> list[Decision]:
    """One decision per consent, in order; each distinct consent is evaluated once and its (immutable)
    decision shared, since a bank's participants share a handful of consent patterns."""
    cache: dict[Consent | None, Decision] = {}
    get = cache.get
    decisions: list[Decision] = []
    append = decisions.append
    for consent in consents:
        decision = get(consent)
        if decision is None:
            decision = cache[consent] = evaluate(consent, request, is_subtype)
        append(decision)
    return decisions


def _disease_scope(diseases: Iterable[str]) -> Msg:
    return Msg("research on {diseases} (DS)", diseases=", ".join(sorted(diseases)) or "—")


def _scope(consent: Consent, permissions: list[str]) -> Msg:
    """What the consent's permissions allow, in words: 'A', 'A and B', 'A and B and C'."""
    first = _disease_scope(consent.diseases) if permissions[0] == DS else Msg(_SCOPES[permissions[0]])
    if len(permissions) == 1:
        return first
    return Msg("{first} and {second}", first=first, second=_scope(consent, permissions[1:]))


def _purposes(consent: Consent, permissions: list[str], request: RequestedUse, is_subtype: SubtypeTest,
              refusals: list[Msg]) -> list[Msg]:
    """Each purpose must be contained in some permission of the consent (the DUO hierarchy)."""
    if not permissions:
        refusals.append(Msg("the consent grants no data use permission (NRES, GRU, HMB, DS or POA)"))
        return []
    covered: list[Msg] = []
    scope = _scope(consent, permissions)
    for purpose in (p for p in PERMISSIONS if p in request.purposes):
        wanted = _disease_scope(request.diseases) if purpose == DS else Msg(_SCOPES[purpose])
        holder = next((p for p in permissions if purpose in _COVERS[p] and p != DS), None)
        if holder is None and purpose == DS and DS in permissions:
            if not consent.diseases:
                refusals.append(Msg("the consent allows disease-specific research (DS) but names no disease"))
                continue
            if all(any(is_subtype(asked, given) for given in consent.diseases) for asked in request.diseases):
                holder = DS
            else:
                refusals.append(Msg("the consent limits use to {scope}; the request is for {purpose}",
                                    scope=_disease_scope(consent.diseases), purpose=wanted))
                continue
        if holder is None:
            refusals.append(Msg("the consent limits use to {scope}; the request is for {purpose}",
                                scope=scope, purpose=wanted))
            continue
        covered.append(Msg("{scope} in the consent covers {purpose}", scope=_scope(consent, [holder]),
                           purpose=wanted))
    if request.involves_population_origins and not any(p in _ALLOWS_POPULATION_ORIGINS for p in permissions):
        refusals.append(Msg("the consent limits use to {scope}, which excludes population origins or ancestry "
                            "research; the request includes it", scope=scope))
    return covered


def _restrictions(consent: Consent, permissions: list[str], request: RequestedUse, refusals: list[Msg]) -> None:
    """Modifiers that forbid: each one is checked against what the request declares."""
    codes = consent.codes
    for code, shorthand in ((NCU, "NCU"), (NPUNCU, "NPUNCU")):
        if code in codes and request.commercial:
            refusals.append(Msg("the consent excludes commercial use ({code}); the request is commercial",
                                code=shorthand))
    for code, shorthand in ((NPU, "NPU"), (NPUNCU, "NPUNCU")):
        if code in codes and request.for_profit:
            refusals.append(Msg("the consent limits use to not-for-profit organisations ({code}); the "
                                "requesting organisation is for-profit", code=shorthand))
    if NPOA in codes and request.involves_population_origins:
        refusals.append(Msg("the consent excludes population origins or ancestry research (NPOA); the "
                            "request includes it"))
    if NMDS in codes and request.methods_development:
        refusals.append(Msg("the consent excludes methods development (NMDS); the request develops methods"))
    if GSO in codes and not request.genetic_study:
        refusals.append(Msg("the consent limits use to genetic studies (GSO); the request is not a genetic "
                            "study"))
    if RS in codes:
        refusals.append(Msg("the consent limits use to a research type (RS) that only the access committee "
                            "can judge"))
    if request.clinical_care and NRES not in permissions and CC not in codes:
        refusals.append(Msg("the request is for clinical care, which the consent does not allow (CC)"))
    if GS in codes:
        _geography(consent, request, refusals)
    if TS in codes:
        _time_limit(consent, request, refusals)


def _geography(consent: Consent, request: RequestedUse, refusals: list[Msg]) -> None:
    allowed = ", ".join(sorted(consent.countries))
    if not consent.countries:
        refusals.append(Msg("the consent sets a geographical restriction (GS) without naming a country"))
    elif request.country is None:
        refusals.append(Msg("the consent limits use to {countries} (GS); the request names no country",
                            countries=allowed))
    elif request.country not in consent.countries:
        refusals.append(Msg("the consent limits use to {countries} (GS); the use is in {country}",
                            countries=allowed, country=request.country))


def use_ends(consent: Consent) -> date | None:
    """The first day a TS consent no longer allows use: consent date + months (end of a shorter month
    clamps: 31 January + 1 month -> 28/29 February)."""
    if consent.consent_date is None or consent.time_limit_months is None or consent.time_limit_months < 0:
        return None
    start, months = consent.consent_date, consent.time_limit_months
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    if year > date.max.year:
        return date.max
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _time_limit(consent: Consent, request: RequestedUse, refusals: list[Msg]) -> None:
    ends = use_ends(consent)
    if ends is None:
        refusals.append(Msg("the consent sets a time limit (TS) but records no consent date or number of "
                            "months"))
    elif request.use_date is None:
        refusals.append(Msg("the consent sets a time limit (TS); the request gives no date of use"))
    elif request.use_date >= ends:
        refusals.append(Msg("the consent allowed use for {count} month from {consent_date} (TS), until "
                            "{ends}; the use is on {use_date}",
                            plural="the consent allowed use for {count} months from {consent_date} (TS), "
                                   "until {ends}; the use is on {use_date}",
                            count=consent.time_limit_months, consent_date=consent.consent_date, ends=ends,
                            use_date=request.use_date))


def _requirements(consent: Consent, request: RequestedUse, refusals: list[Msg], conditions: list[Msg]) -> None:
    """Modifiers that require: refused while the request does not declare it, a condition once it does."""
    codes = consent.codes
    if IRB in codes:
        if request.ethics_approval is None:
            refusals.append(Msg("the consent requires an ethics approval (IRB); the request gives no ethics "
                                "approval number"))
        else:
            conditions.append(Msg("keep ethics approval {number} valid for this use (IRB)",
                                  number=request.ethics_approval))
    for code, met, refusal, condition in (
            (PUB, request.publication_committed,
             Msg("the consent requires the results to be published (PUB); the request makes no publication "
                 "commitment"),
             Msg("make the results available to the scientific community (PUB)")),
            (COL, request.collaboration_agreed,
             Msg("the consent requires collaboration with the study's investigators (COL); the request "
                 "does not agree to it"),
             Msg("collaborate with the study's principal investigators (COL)")),
            (RTN, request.returns_derived_data,
             Msg("the consent requires derived data to be returned (RTN); the request does not agree to "
                 "return it"),
             Msg("return derived or enriched data to the biobank (RTN)"))):
        if code in codes:
            (conditions if met else refusals).append(condition if met else refusal)
    if MOR in codes:
        if consent.moratorium_until is None:
            refusals.append(Msg("the consent sets a publication moratorium (MOR) without a date"))
        elif request.use_date is None or request.use_date < consent.moratorium_until:
            conditions.append(Msg("publish no results before {day} (MOR)", day=consent.moratorium_until))
    if TS in codes and (ends := use_ends(consent)) is not None:
        conditions.append(Msg("finish the use before {ends} (TS)", ends=ends))
    for code, named, asked, shorthand in ((US, consent.users, request.user, "US"),
                                          (PS, consent.projects, request.project, "PS"),
                                          (IS, consent.institutions, request.institution, "IS")):
        if code not in codes:
            continue
        if not named:
            conditions.append(Msg("only those the access committee approves may use it ({code})", code=shorthand))
        elif asked is None:
            refusals.append(Msg("the consent limits use to named {kind} ({code}); the request names none",
                                kind=Msg(_NAMED[code]), code=shorthand))
        elif asked not in named:
            refusals.append(Msg("the consent limits use to named {kind} ({code}); {name} is not one of them",
                                kind=Msg(_NAMED[code]), code=shorthand, name=asked))


_NAMED = {US: N_("users"), PS: N_("projects"), IS: N_("institutions")}
