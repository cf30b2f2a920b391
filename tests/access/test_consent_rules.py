"""Consent matching (issue 11, item 3): one test per DUO term, the important combinations, the readings the
issue fixes, and properties of the rule table (monotonicity, determinism, every reason translated)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifebank.access.consent_rules import (
    CC,
    DS,
    GRU,
    HMB,
    NO_CONSENT,
    NRES,
    PERMISSIONS,
    POA,
    RESTRICTING_MODIFIERS,
    Consent,
    Decision,
    RequestedUse,
    evaluate,
    evaluate_many,
    icd10_or_same,
    use_ends,
)
from lifebank.biobank.duo import duo_terms
from lifebank.errors import ValidationFailed

USE_DAY = date(2026, 3, 1)


def req(*purposes: str, **declared: object) -> RequestedUse:
    """A non-commercial, not-for-profit request with nothing else declared, used on USE_DAY."""
    declared.setdefault("use_date", USE_DAY)
    return RequestedUse(frozenset(purposes), **declared)  # type: ignore[arg-type]


def templates(messages: tuple) -> list[str]:
    return [m.template for m in messages]


CONSENT_IS_HMB = "the consent limits use to {scope}; the request is for {purpose}"
COVERS = "{scope} in the consent covers {purpose}"

# (case id, consent, request, permitted, a reason template expected when refused / condition when permitted)
TABLE = [
    # --- permissions and the hierarchy NRES ⊃ GRU ⊃ HMB ⊃ DS, GRU ⊃ POA ---
    ("NRES covers NRES", Consent.of("NRES"), req("NRES"), True, None),
    ("NRES covers clinical care", Consent.of("NRES"), req("HMB", clinical_care=True), True, None),
    ("GRU covers GRU", Consent.of("GRU"), req("GRU"), True, None),
    ("GRU covers HMB", Consent.of("GRU"), req("HMB"), True, None),
    ("GRU covers DS", Consent.of("GRU"), req("DS", diseases={"C50"}), True, None),
    ("GRU covers POA", Consent.of("GRU"), req("POA"), True, None),
    ("GRU covers population origins work", Consent.of("GRU"), req("GRU", population_origins=True), True, None),
    ("GRU does not cover NRES", Consent.of("GRU"), req("NRES"), False, CONSENT_IS_HMB),
    ("HMB covers HMB", Consent.of("HMB"), req("HMB"), True, None),
    ("HMB covers DS", Consent.of("HMB"), req("DS", diseases={"MONDO:0004992"}), True, None),
    ("HMB does not cover GRU", Consent.of("HMB"), req("GRU"), False, CONSENT_IS_HMB),
    ("HMB does not cover POA", Consent.of("HMB"), req("POA"), False, CONSENT_IS_HMB),
    ("HMB excludes population origins", Consent.of("HMB"), req("HMB", population_origins=True), False,
     "the consent limits use to {scope}, which excludes population origins or ancestry research; the request "
     "includes it"),
    ("DS-x covers x", Consent.of("DS", diseases={"C50"}), req("DS", diseases={"C50"}), True, None),
    ("DS-x covers a subtype of x", Consent.of("DS", diseases={"C50"}), req("DS", diseases={"C50.9"}), True, None),
    ("DS-x refuses another disease", Consent.of("DS", diseases={"C50"}), req("DS", diseases={"C34"}), False,
     CONSENT_IS_HMB),
    ("DS-x refuses a parent of x", Consent.of("DS", diseases={"C50.1"}), req("DS", diseases={"C50"}), False,
     CONSENT_IS_HMB),
    ("DS-x refuses x plus another", Consent.of("DS", diseases={"C50"}), req("DS", diseases={"C50", "E11"}),
     False, CONSENT_IS_HMB),
    ("DS-x refuses HMB", Consent.of("DS", diseases={"C50"}), req("HMB"), False, CONSENT_IS_HMB),
    ("DS without a disease", Consent.of("DS"), req("DS", diseases={"C50"}), False,
     "the consent allows disease-specific research (DS) but names no disease"),
    ("DS with two diseases covers either", Consent.of("DS", diseases={"C50", "E11"}),
     req("DS", diseases={"E11.9"}), True, None),
    ("POA covers POA", Consent.of("POA"), req("POA"), True, None),
    ("POA does not cover HMB", Consent.of("POA"), req("HMB"), False, CONSENT_IS_HMB),
    ("HMB and POA cover both", Consent.of("HMB", "POA"), req("HMB", "POA"), True, None),
    ("no permission", Consent.of("NCU", "IRB"), req("HMB"), False,
     "the consent grants no data use permission (NRES, GRU, HMB, DS or POA)"),
    ("unknown term", Consent.of("GRU", "DUO:0009999"), req("HMB"), False,
     "the consent term {code} is not a DUO term LifeBank knows, so it cannot be honoured"),
    ("abstract parent terms say nothing", Consent.of("GRU", "DUO:0000001", "DUO:0000017"), req("HMB"), True, None),
    # --- restricting modifiers ---
    ("NCU refuses commercial", Consent.of("GRU", "NCU"), req("HMB", commercial=True), False,
     "the consent excludes commercial use ({code}); the request is commercial"),
    ("NCU allows non-commercial by a company", Consent.of("GRU", "NCU"), req("HMB", for_profit=True), True, None),
    ("NPU refuses for-profit", Consent.of("GRU", "NPU"), req("HMB", for_profit=True), False,
     "the consent limits use to not-for-profit organisations ({code}); the requesting organisation is "
     "for-profit"),
    ("NPU allows commercial use by a not-for-profit", Consent.of("GRU", "NPU"), req("HMB", commercial=True), True,
     None),
    ("NPUNCU refuses commercial", Consent.of("GRU", "NPUNCU"), req("HMB", commercial=True), False,
     "the consent excludes commercial use ({code}); the request is commercial"),
    ("NPUNCU refuses for-profit", Consent.of("GRU", "NPUNCU"), req("HMB", for_profit=True), False,
     "the consent limits use to not-for-profit organisations ({code}); the requesting organisation is "
     "for-profit"),
    ("NPUNCU allows a not-for-profit's research", Consent.of("GRU", "NPUNCU"), req("HMB"), True, None),
    ("NPOA refuses POA", Consent.of("GRU", "NPOA"), req("POA"), False,
     "the consent excludes population origins or ancestry research (NPOA); the request includes it"),
    ("NPOA refuses declared ancestry work", Consent.of("GRU", "NPOA"), req("GRU", population_origins=True), False,
     "the consent excludes population origins or ancestry research (NPOA); the request includes it"),
    ("NPOA allows other research", Consent.of("GRU", "NPOA"), req("GRU"), True, None),
    ("NMDS refuses methods development", Consent.of("HMB", "NMDS"), req("HMB", methods_development=True), False,
     "the consent excludes methods development (NMDS); the request develops methods"),
    ("NMDS allows other research", Consent.of("HMB", "NMDS"), req("HMB"), True, None),
    ("GSO refuses a non-genetic study", Consent.of("GRU", "GSO"), req("HMB"), False,
     "the consent limits use to genetic studies (GSO); the request is not a genetic study"),
    ("GSO allows a genetic study", Consent.of("GRU", "GSO"), req("HMB", genetic_study=True), True, None),
    ("RS needs the committee", Consent.of("GRU", "RS"), req("HMB"), False,
     "the consent limits use to a research type (RS) that only the access committee can judge"),
    ("clinical care needs CC", Consent.of("GRU"), req("HMB", clinical_care=True), False,
     "the request is for clinical care, which the consent does not allow (CC)"),
    ("CC allows clinical care", Consent.of("HMB", "CC"), req("HMB", clinical_care=True), True, None),
    ("GS allows a listed country", Consent.of("GRU", "GS", countries={"cn"}), req("HMB", country="CN"), True, None),
    ("GS refuses another country", Consent.of("GRU", "GS", countries={"CN"}), req("HMB", country="US"), False,
     "the consent limits use to {countries} (GS); the use is in {country}"),
    ("GS refuses an unnamed country", Consent.of("GRU", "GS", countries={"CN"}), req("HMB"), False,
     "the consent limits use to {countries} (GS); the request names no country"),
    ("GS without countries", Consent.of("GRU", "GS"), req("HMB", country="CN"), False,
     "the consent sets a geographical restriction (GS) without naming a country"),
    ("TS within the months", Consent.of("GRU", "TS", consent_date=date(2025, 6, 1), time_limit_months=12),
     req("HMB"), True, "finish the use before {ends} (TS)"),
    ("TS after the months", Consent.of("GRU", "TS", consent_date=date(2024, 6, 1), time_limit_months=12),
     req("HMB"), False,
     "the consent allowed use for {count} month from {consent_date} (TS), until {ends}; the use is on {use_date}"),
    ("TS on the day it ends", Consent.of("GRU", "TS", consent_date=date(2025, 3, 1), time_limit_months=12),
     req("HMB"), False,
     "the consent allowed use for {count} month from {consent_date} (TS), until {ends}; the use is on {use_date}"),
    ("TS without months", Consent.of("GRU", "TS", consent_date=date(2025, 6, 1)), req("HMB"), False,
     "the consent sets a time limit (TS) but records no consent date or number of months"),
    ("TS without a date of use", Consent.of("GRU", "TS", consent_date=date(2025, 6, 1), time_limit_months=12),
     req("HMB", use_date=None), False, "the consent sets a time limit (TS); the request gives no date of use"),
    ("US allows a named user", Consent.of("GRU", "US", users={"dr.li"}), req("HMB", user="dr.li"), True, None),
    ("US refuses another user", Consent.of("GRU", "US", users={"dr.li"}), req("HMB", user="dr.wu"), False,
     "the consent limits use to named {kind} ({code}); {name} is not one of them"),
    ("US refuses a request naming nobody", Consent.of("GRU", "US", users={"dr.li"}), req("HMB"), False,
     "the consent limits use to named {kind} ({code}); the request names none"),
    ("US without names is the committee's", Consent.of("GRU", "US"), req("HMB"), True,
     "only those the access committee approves may use it ({code})"),
    ("PS allows a named project", Consent.of("GRU", "PS", projects={"BC-2026"}), req("HMB", project="BC-2026"),
     True, None),
    ("PS refuses another project", Consent.of("GRU", "PS", projects={"BC-2026"}), req("HMB", project="X"), False,
     "the consent limits use to named {kind} ({code}); {name} is not one of them"),
    ("IS allows a named institution", Consent.of("GRU", "IS", institutions={"SYSU"}),
     req("HMB", institution="SYSU"), True, None),
    ("IS refuses another institution", Consent.of("GRU", "IS", institutions={"SYSU"}),
     req("HMB", institution="Acme"), False,
     "the consent limits use to named {kind} ({code}); {name} is not one of them"),
    # --- requiring modifiers: refused until declared, then a condition ---
    ("IRB without an approval number", Consent.of("GRU", "IRB"), req("HMB"), False,
     "the consent requires an ethics approval (IRB); the request gives no ethics approval number"),
    ("IRB with an approval number", Consent.of("GRU", "IRB"), req("HMB", ethics_approval="EC-2026-017"), True,
     "keep ethics approval {number} valid for this use (IRB)"),
    ("IRB with a blank approval number", Consent.of("GRU", "IRB"), req("HMB", ethics_approval="  "), False,
     "the consent requires an ethics approval (IRB); the request gives no ethics approval number"),
    ("PUB without a commitment", Consent.of("GRU", "PUB"), req("HMB"), False,
     "the consent requires the results to be published (PUB); the request makes no publication commitment"),
    ("PUB with a commitment", Consent.of("GRU", "PUB"), req("HMB", publication_committed=True), True,
     "make the results available to the scientific community (PUB)"),
    ("COL without agreement", Consent.of("GRU", "COL"), req("HMB"), False,
     "the consent requires collaboration with the study's investigators (COL); the request does not agree to it"),
    ("COL agreed", Consent.of("GRU", "COL"), req("HMB", collaboration_agreed=True), True,
     "collaborate with the study's principal investigators (COL)"),
    ("RTN without agreement", Consent.of("GRU", "RTN"), req("HMB"), False,
     "the consent requires derived data to be returned (RTN); the request does not agree to return it"),
    ("RTN agreed", Consent.of("GRU", "RTN"), req("HMB", returns_derived_data=True), True,
     "return derived or enriched data to the biobank (RTN)"),
    ("MOR before its date", Consent.of("GRU", "MOR", moratorium_until=date(2027, 1, 1)), req("HMB"), True,
     "publish no results before {day} (MOR)"),
    ("MOR without a date", Consent.of("GRU", "MOR"), req("HMB"), False,
     "the consent sets a publication moratorium (MOR) without a date"),
    # --- combinations ---
    ("GRU NCU IRB: a non-commercial approved study", Consent.of("GRU", "NCU", "IRB"),
     req("DS", diseases={"C50"}, ethics_approval="EC-1"), True,
     "keep ethics approval {number} valid for this use (IRB)"),
    ("GRU NCU IRB: commercial", Consent.of("GRU", "NCU", "IRB"), req("HMB", commercial=True, ethics_approval="EC-1"),
     False, "the consent excludes commercial use ({code}); the request is commercial"),
    ("HMB NPU: a hospital's commercial trial", Consent.of("HMB", "NPU"), req("HMB", commercial=True), True, None),
    ("HMB NPU: a company", Consent.of("HMB", "NPU"), req("DS", diseases={"C50"}, for_profit=True), False,
     "the consent limits use to not-for-profit organisations ({code}); the requesting organisation is "
     "for-profit"),
    ("DS GS TS: all met", Consent.of("DS", "GS", "TS", diseases={"C50"}, countries={"CN"},
                                     consent_date=date(2025, 1, 1), time_limit_months=24),
     req("DS", diseases={"C50.4"}, country="CN"), True, "finish the use before {ends} (TS)"),
    ("DS GS TS: abroad", Consent.of("DS", "GS", "TS", diseases={"C50"}, countries={"CN"},
                                    consent_date=date(2025, 1, 1), time_limit_months=24),
     req("DS", diseases={"C50.4"}, country="DE"), False,
     "the consent limits use to {countries} (GS); the use is in {country}"),
    ("GRU GSO NPOA: a GWAS of ancestry", Consent.of("GRU", "GSO", "NPOA"),
     req("GRU", genetic_study=True, population_origins=True), False,
     "the consent excludes population origins or ancestry research (NPOA); the request includes it"),
    ("HMB IRB PUB COL RTN all declared", Consent.of("HMB", "IRB", "PUB", "COL", "RTN"),
     req("HMB", ethics_approval="EC-9", publication_committed=True, collaboration_agreed=True,
         returns_derived_data=True), True, "return derived or enriched data to the biobank (RTN)"),
]


@pytest.mark.parametrize(("consent", "request_", "permitted", "expected"),
                         [case[1:] for case in TABLE], ids=[case[0] for case in TABLE])
def test_rule_table(consent: Consent, request_: RequestedUse, permitted: bool, expected: str | None) -> None:
    decision = evaluate(consent, request_)
    assert decision.permitted is permitted, [str(m) for m in decision.reasons]
    if permitted:
        assert templates(decision.reasons) == [COVERS] * len(request_.purposes)
        if expected is not None:
            assert expected in templates(decision.conditions)
    else:
        assert expected in templates(decision.reasons)
        assert COVERS not in templates(decision.reasons)
        assert decision.conditions == ()


def test_every_duo_term_lifebank_ships_has_a_row_in_the_table() -> None:
    named = {code for case in TABLE for code in case[1].codes}
    concrete = {t.id for t in duo_terms().values() if t.shorthand}
    assert concrete <= named, sorted(concrete - named)


# --- the three readings issue 11 fixes ---------------------------------------------------------------------

def test_an_hmb_only_consent_does_not_cover_a_general_research_request() -> None:
    decision = evaluate(Consent.of("HMB"), req("GRU"))
    assert not decision.permitted
    assert [str(m) for m in decision.reasons] == [
        "the consent limits use to health, medical or biomedical research (HMB); the request is for general "
        "research use (GRU)"]


def test_npu_refuses_a_request_from_a_for_profit_organisation() -> None:
    decision = evaluate(Consent.of("GRU", "NPU"), req("GRU", for_profit=True))
    assert not decision.permitted
    assert [str(m) for m in decision.reasons] == [
        "the consent limits use to not-for-profit organisations (NPU); the requesting organisation is for-profit"]
    assert evaluate(Consent.of("GRU", "NPU"), req("GRU", for_profit=False)).permitted


def test_the_ethics_approval_number_is_what_irb_asks_for() -> None:
    consent = Consent.of("HMB", "IRB")
    assert not evaluate(consent, req("HMB")).permitted
    approved = evaluate(consent, req("HMB", ethics_approval=" SYSU-EC-2026-031 "))
    assert approved.permitted
    assert [str(m) for m in approved.conditions] == ["keep ethics approval SYSU-EC-2026-031 valid for this use (IRB)"]


# --- edges of single rules -----------------------------------------------------------------------------------

def test_no_consent_in_force_is_refused_with_its_reason() -> None:
    decision = evaluate(None, req("GRU"))
    assert decision is NO_CONSENT
    assert not decision.permitted
    assert [str(m) for m in decision.reasons] == ["no consent in force (never given or withdrawn)"]


def test_every_failed_rule_is_reported_not_only_the_first() -> None:
    consent = Consent.of("HMB", "NCU", "NPU", "IRB", "GS", countries={"CN"})
    decision = evaluate(consent, req("GRU", commercial=True, for_profit=True, country="US"))
    assert len(decision.reasons) == 5
    assert not decision.permitted


def test_an_injected_disease_ontology_decides_ds_subtypes() -> None:
    cancer, breast_cancer = "MONDO:0004992", "MONDO:0007254"
    consent = Consent.of("DS", diseases={cancer})
    request = req("DS", diseases={breast_cancer})
    assert not evaluate(consent, request).permitted  # the default knows only equal codes outside ICD-10

    def mondo(child: str, parent: str) -> bool:
        return child == parent or (child, parent) == (breast_cancer, cancer)

    assert evaluate(consent, request, is_subtype=mondo).permitted
    assert not evaluate(Consent.of("DS", diseases={breast_cancer}), req("DS", diseases={cancer}),
                        is_subtype=mondo).permitted


@pytest.mark.parametrize(("child", "parent", "expected"), [
    ("C50", "C50", True), ("C50.1", "C50", True), ("c50.1", "C50", True), ("C50.12", "C50.1", True),
    ("C50", "C50.1", False), ("C501", "C50", False), ("C51", "C50", False), ("C50.2", "C50.1", False),
    ("MONDO:0004992", "MONDO:0004992", True), ("MONDO:00049921", "MONDO:0004992", False),
    ("E11.9", "E1", False),
])
def test_default_disease_hierarchy_is_icd10_categories(child: str, parent: str, expected: bool) -> None:
    assert icd10_or_same(child, parent) is expected


@pytest.mark.parametrize(("start", "months", "ends"), [
    (date(2024, 1, 31), 1, date(2024, 2, 29)), (date(2025, 1, 31), 1, date(2025, 2, 28)),
    (date(2025, 11, 15), 2, date(2026, 1, 15)), (date(2025, 6, 1), 0, date(2025, 6, 1)),
    (date(2025, 6, 1), 120, date(2035, 6, 1)),
])
def test_time_limit_ends_months_after_the_consent_date(start: date, months: int, ends: date) -> None:
    assert use_ends(Consent.of("GRU", "TS", consent_date=start, time_limit_months=months)) == ends


def test_a_publication_moratorium_past_the_date_of_use_is_no_condition() -> None:
    decision = evaluate(Consent.of("GRU", "MOR", moratorium_until=date(2025, 1, 1)), req("HMB"))
    assert decision.permitted and decision.conditions == ()


def test_consents_are_normalised_and_equal_by_value() -> None:
    by_shorthand = Consent.of("gru", " NCU ", countries={" cn "})
    by_id = Consent(frozenset({"DUO:0000042", "DUO:0000046"}), countries=frozenset({"CN"}))
    assert by_shorthand == by_id and hash(by_shorthand) == hash(by_id)
    assert by_shorthand != Consent.of("GRU")


@pytest.mark.parametrize(("purposes", "diseases", "message"), [
    ((), (), "a request needs at least one purpose (a DUO data use permission)"),
    (("NCU",), (), "DUO:0000046 is not a DUO data use permission (NRES, GRU, HMB, DS or POA)"),
    (("DS",), (), "disease-specific research (DS) needs a disease code"),
    (("HMB",), ("C50",), "a disease code is given only with disease-specific research (DS)"),
])
def test_an_ill_formed_request_is_refused_at_once(purposes: tuple, diseases: tuple, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        RequestedUse(frozenset(purposes), diseases=frozenset(diseases))
    assert caught.value.detail == message
    assert caught.value.render("zh_Hans") != message


# --- evaluate_many --------------------------------------------------------------------------------------------

def test_evaluate_many_decides_each_distinct_consent_once_and_keeps_order() -> None:
    consents = [Consent.of("GRU"), Consent.of("HMB"), None, Consent.of("GRU"), Consent.of("HMB"), None]
    decisions = evaluate_many(consents, req("GRU"))
    assert [d.permitted for d in decisions] == [True, False, False, True, False, False]
    assert decisions[0] is decisions[3]  # equal consents, distinct objects: one evaluation, one decision
    assert decisions[1] is decisions[4]
    assert decisions == [evaluate(c, req("GRU")) for c in consents]


def test_evaluate_many_uses_the_injected_disease_ontology() -> None:
    def everything(child: str, parent: str) -> bool:
        return True

    consents = [Consent.of("DS", diseases={"MONDO:1"})] * 3
    assert all(d.permitted for d in evaluate_many(consents, req("DS", diseases={"MONDO:2"}), everything))
    assert not any(d.permitted for d in evaluate_many(consents, req("DS", diseases={"MONDO:2"})))


def test_evaluate_many_of_nothing_is_nothing() -> None:
    assert evaluate_many([], req("GRU")) == []


# --- properties -----------------------------------------------------------------------------------------------

COUNTRIES = ("CN", "US", "DE")
ICD10 = ("C50", "C50.1", "C50.12", "C34", "E11", "E11.9")
KNOWN_TERMS = sorted(t.id for t in duo_terms().values() if t.shorthand)

details = {
    "diseases": st.frozensets(st.sampled_from(ICD10), max_size=2),
    "consent_date": st.none() | st.dates(date(2020, 1, 1), date(2027, 1, 1)),
    "time_limit_months": st.none() | st.integers(0, 72),
    "countries": st.frozensets(st.sampled_from(COUNTRIES), max_size=2),
    "moratorium_until": st.none() | st.dates(date(2024, 1, 1), date(2028, 1, 1)),
    "users": st.frozensets(st.sampled_from(("dr.li", "dr.wu")), max_size=1),
    "projects": st.frozensets(st.sampled_from(("P1", "P2")), max_size=1),
    "institutions": st.frozensets(st.sampled_from(("SYSU", "Acme")), max_size=1),
}
consents = st.builds(Consent, st.frozensets(st.sampled_from([*KNOWN_TERMS, "DUO:0009999"]), max_size=6),
                     **details)


@st.composite
def requests(draw: st.DrawFn, purposes: st.SearchStrategy | None = None) -> RequestedUse:
    if purposes is None:
        purposes = st.frozensets(st.sampled_from(PERMISSIONS), min_size=1, max_size=2)
    chosen = draw(purposes)
    diseases = draw(st.frozensets(st.sampled_from(ICD10), min_size=1, max_size=2)) if DS in chosen else frozenset()
    return RequestedUse(
        chosen, diseases=diseases, commercial=draw(st.booleans()), for_profit=draw(st.booleans()),
        ethics_approval=draw(st.none() | st.just("EC-2026-1")), publication_committed=draw(st.booleans()),
        collaboration_agreed=draw(st.booleans()), returns_derived_data=draw(st.booleans()),
        country=draw(st.none() | st.sampled_from(COUNTRIES)),
        use_date=draw(st.none() | st.dates(date(2020, 1, 1), date(2030, 1, 1))),
        genetic_study=draw(st.booleans()), methods_development=draw(st.booleans()),
        population_origins=draw(st.booleans()), clinical_care=draw(st.booleans()),
        user=draw(st.none() | st.sampled_from(("dr.li", "dr.wu"))),
        project=draw(st.none() | st.sampled_from(("P1", "P2"))),
        institution=draw(st.none() | st.sampled_from(("SYSU", "Acme"))))


def _with(consent: Consent, *codes: str) -> Consent:
    return Consent(consent.codes | set(codes), consent.diseases, consent.consent_date, consent.time_limit_months,
                   consent.countries, consent.moratorium_until, consent.users, consent.projects,
                   consent.institutions)


@settings(max_examples=400)
@given(consents, requests(), st.sampled_from(RESTRICTING_MODIFIERS))
def test_a_restricting_modifier_never_turns_a_refusal_into_a_permission(consent: Consent, request_: RequestedUse,
                                                                         modifier: str) -> None:
    if evaluate(_with(consent, modifier), request_).permitted:
        assert evaluate(consent, request_).permitted


def _narrower(request_: RequestedUse, purposes: frozenset[str], diseases: frozenset[str]) -> RequestedUse:
    fields = {name: getattr(request_, name) for name in RequestedUse.__dataclass_fields__}
    return RequestedUse(**{**fields, "purposes": purposes, "diseases": diseases})


@settings(max_examples=400)
@given(st.sampled_from((GRU, HMB, DS)), consents, requests(st.just(frozenset({GRU}))),
       st.sampled_from(("C50", "E11")), st.sampled_from((".1", ".9")))
def test_a_narrower_request_keeps_the_permission_of_a_broader_one(permission: str, consent: Consent,
                                                                  request_: RequestedUse, disease: str,
                                                                  sub: str) -> None:
    modifiers = {c for c in consent.codes if c not in PERMISSIONS}
    consent = Consent(frozenset({permission} | modifiers), frozenset({disease}), consent.consent_date,
                      consent.time_limit_months, consent.countries, consent.moratorium_until, consent.users,
                      consent.projects, consent.institutions)
    chain = [request_, _narrower(request_, frozenset({HMB}), frozenset()),
             _narrower(request_, frozenset({DS}), frozenset({disease})),
             _narrower(request_, frozenset({DS}), frozenset({disease + sub}))]
    outcomes = [evaluate(consent, r).permitted for r in chain]
    for broader, narrower in zip(outcomes, outcomes[1:], strict=False):
        assert narrower or not broader, outcomes


@given(consents, requests())
def test_decisions_are_deterministic(consent: Consent, request_: RequestedUse) -> None:
    first = evaluate(consent, request_)
    again = evaluate(Consent(*(getattr(consent, f) for f in ("codes", "diseases", "consent_date",
                                                            "time_limit_months", "countries", "moratorium_until",
                                                            "users", "projects", "institutions"))), request_)
    assert first == again
    assert evaluate_many([consent, None, consent], request_) == [first, NO_CONSENT, first]


@given(consents, requests())
def test_a_decision_has_reasons_and_conditions_only_when_permitted(consent: Consent, request_: RequestedUse) -> None:
    decision = evaluate(consent, request_)
    assert isinstance(decision, Decision) and decision.reasons
    if not decision.permitted:
        assert decision.conditions == ()
    else:
        assert len(decision.reasons) == len(request_.purposes)


CJK = re.compile(r"[\u4e00-\u9fff]")


@settings(max_examples=300)
@given(consents | st.none(), requests())
def test_every_reason_and_condition_renders_in_english_and_chinese(consent: Consent | None,
                                                                   request_: RequestedUse) -> None:
    decision = evaluate(consent, request_)
    for message in decision.reasons + decision.conditions:
        english, chinese = message.render("en"), message.render("zh_Hans")
        assert "{" not in english and "{" not in chinese
        assert chinese != english and CJK.search(chinese), (english, chinese)


def test_every_message_of_the_rule_table_renders_in_chinese() -> None:
    messages = [m for case in TABLE for d in [evaluate(case[1], case[2])] for m in d.reasons + d.conditions]
    assert len({m.template for m in messages}) >= 30
    for message in messages:
        chinese = message.render("zh_Hans")
        assert "{" not in chinese and CJK.search(chinese) and chinese != str(message), chinese


def test_the_english_reason_names_the_values() -> None:
    consent = Consent.of("GRU", "TS", consent_date=date(2024, 1, 31), time_limit_months=1)
    decision = evaluate(consent, req("HMB", use_date=date(2024, 2, 29)))
    assert [str(m) for m in decision.reasons] == [
        "the consent allowed use for 1 month from 2024-01-31 (TS), until 2024-02-29; the use is on 2024-02-29"]
    assert "2024-02-29" in decision.reasons[0].render("zh_Hans")
    assert evaluate(consent, req("HMB", use_date=date(2024, 2, 29) - timedelta(days=1))).permitted


def test_permission_constants_are_the_duo_ids() -> None:
    terms = duo_terms()
    assert [terms[c].shorthand for c in (NRES, GRU, HMB, DS, POA, CC)] == ["NRES", "GRU", "HMB", "DS", "POA", "CC"]
