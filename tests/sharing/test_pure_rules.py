"""The pure rules, fuzzed: Beacon request parsing (0-based coordinates), k-anonymity and pseudonyms."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from lifebank.sharing import deid, privacy
from lifebank.sharing.request import BeaconRequestError, from_body, from_query

texts = st.one_of(st.none(), st.text(max_size=12), st.integers(-5, 10**9).map(str))


@settings(max_examples=300, deadline=None)
@given(name=texts, start=texts, end=texts, alt=texts, granularity=texts)
def test_any_query_string_parses_or_names_its_mistake(name, start, end, alt, granularity) -> None:
    query = {k: v for k, v in {"referenceName": name, "start": start, "end": end, "alternateBases": alt,
                               "requestedGranularity": granularity}.items() if v is not None}
    try:
        request = from_query(query)
    except BeaconRequestError as exc:
        assert exc.code == 400 and str(exc)
        return
    if request.coordinates is not None:
        low, high = request.coordinates.region
        assert 1 <= low <= high
        assert request.coordinates.reference_name.startswith("chr")


@settings(max_examples=200, deadline=None)
@given(body=st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
                         lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                 st.dictionaries(st.sampled_from(
                                                     ["query", "requestParameters", "filters", "pagination",
                                                      "referenceName", "start", "end", "id", "limit", "skip",
                                                      "requestedGranularity", "datasets"]), inner, max_size=4)),
                         max_leaves=12))
def test_any_post_body_parses_or_names_its_mistake(body) -> None:
    try:
        from_body(body)
    except BeaconRequestError as exc:
        assert exc.code == 400


@given(pos=st.integers(1, 10**8))
def test_sequence_queries_are_zero_based(pos) -> None:
    coords = from_query({"referenceName": "22", "start": str(pos - 1), "alternateBases": "A"}).coordinates
    assert coords is not None and coords.region == (pos, pos)
    assert coords.matches(pos, "G", "A") and not coords.matches(pos + 1, "G", "A")


people = st.lists(st.builds(deid.Person, pseudonym=st.uuids().map(str), sex=st.sampled_from("FMU"),
                            birth_year=st.one_of(st.none(), st.integers(1930, 2010)),
                            region=st.sampled_from(["East China", "North China", "other"]),
                            diagnosis=st.one_of(st.none(), st.sampled_from(["C50.9", "C50.1", "C61", "E11.9",
                                                                            "I10"]))), max_size=200)


@settings(max_examples=200, deadline=None)
@given(people=people, k=st.integers(2, 12))
def test_released_rows_are_k_anonymous_and_nothing_is_lost_silently(people, k) -> None:
    released, report = deid.anonymise(people, k)
    assert report.released + report.suppressed == len(people) == report.records_in
    groups = Counter((r.sex, r.birth_band, r.region, r.diagnosis) for r in released)
    assert all(n >= k for n in groups.values())
    assert not released or deid.k_of(released) >= k


def test_rare_diagnoses_go_to_their_parent() -> None:
    crowd = [deid.Person(f"p{i}", "F", 1980, "East China", "C50.1" if i < 2 else "C50") for i in range(8)]
    released, report = deid.anonymise(crowd, 5)
    assert report.rare_diagnoses == 2 and {r.diagnosis for r in released} == {"C50"}
    assert len(released) == 8


@given(code=st.text(min_size=1, max_size=20))
def test_pseudonyms_are_per_recipient(code) -> None:
    one, two = b"k" * 32, b"j" * 32
    assert deid.pseudonym(one, "participant", code) == deid.pseudonym(one, "participant", code)
    assert deid.pseudonym(one, "participant", code) != deid.pseudonym(two, "participant", code)


def test_budget_and_threshold_rules() -> None:
    from datetime import UTC, datetime

    conf = privacy.BeaconSettings(threshold=5, budget=2, window_hours=24)
    now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert privacy.budget_decision(1, conf, now, now).allowed
    refused = privacy.budget_decision(2, conf, now, now)
    assert not refused.allowed and "2026-12-01 08:00" in str(refused.reason)
    assert [privacy.shown_count(n, "count", conf) for n in (0, 1, 4, 5)] == [0, None, None, 5]
    assert privacy.shown_count(1, "record", conf) == 1
    caller = privacy.Caller(None, "10.0.0.1")
    assert privacy.ceiling("CONTROLLED", caller, "x", conf) is None
    assert privacy.ceiling("PUBLIC", caller, "x", conf) == "boolean"
    assert privacy.ceiling("PUBLIC", privacy.Caller("a", "", frozenset({"x"})), "x", conf) == "record"


def test_assembly_names() -> None:
    from lifebank.sharing.request import assembly_build

    assert [assembly_build(a) for a in ("GRCh38", "hg38", "GRCh38.p13", "GCF_000001405.39", "hg19", "GRCh37.p13",
                                        "GCF_000001405.25", "T2T-CHM13")] == \
        ["GRCh38", "GRCh38", "GRCh38", "GRCh38", "GRCh37", "GRCh37", "GRCh37", None]
    try:
        from_query({"referenceName": "22", "start": "1", "alternateBases": "A", "assemblyId": "mm10"})
    except BeaconRequestError as exc:
        assert "assemblyId 'mm10'" in str(exc)
    else:
        raise AssertionError("mm10 accepted")
