"""Pure rules fuzzed: the FHIR reader never crashes on any text, OMOP field checks agree with Python's parsers,
the timeline always draws, required bindings name the path."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from lifebank.clinical.codes import binding_problems, system_uri
from lifebank.clinical.fhir_map import fhir_instant, reference_target
from lifebank.clinical.fhir_read import read_fhir_text
from lifebank.clinical.omop_spec import Field
from lifebank.clinical.timeline import Event, timeline_svg


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_read_or_named_never_crashes(text):
    result = read_fhir_text("fuzz.ndjson", text)
    assert result.resources or result.errors
    for error in result.errors:
        assert error.message().render()


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["resourceType", "id", "gender", "status", "birthDate"]),
                       st.one_of(st.text(max_size=12), st.integers(), st.none()), max_size=5))
def test_any_json_object_is_validated_or_named(obj):
    result = read_fhir_text("fuzz.json", json.dumps(obj))
    assert bool(result.resources) != bool(result.errors)


@given(st.integers(min_value=0, max_value=10**6), st.text(max_size=12))
def test_integer_field_accepts_exactly_integers(number, junk):
    field = Field("x", True, "integer", None)
    assert field.problem(str(number)) is None
    try:
        int(junk)
        ok = True
    except ValueError:
        ok = False
    assert (field.problem(junk) is None) == ok


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)))
def test_date_field_and_fhir_instant_agree(day):
    assert Field("d", True, "date", None).problem(day.isoformat()) is None
    assert fhir_instant(day.isoformat()) == datetime(day.year, day.month, day.day, tzinfo=UTC)
    assert Field("d", True, "date", None).problem(day.isoformat() + "x") is not None


def test_required_field_and_length():
    assert Field("v", True, "varchar", 3).problem("") is not None
    assert Field("v", False, "varchar", 3).problem("") is None
    assert Field("v", False, "varchar", 3).problem("abcd") is not None


@given(st.lists(st.tuples(st.sampled_from(["condition", "measurement", "procedure", "medication", "specimen"]),
                          st.datetimes(min_value=datetime(1950, 1, 1), max_value=datetime(2030, 1, 1))),
                max_size=30))
def test_timeline_always_draws_every_event_inside_the_plot(items):
    events = [Event(kind, moment.replace(tzinfo=UTC), None, "<x>") for kind, moment in items]
    svg = timeline_svg(events, {}, "t")
    assert svg.startswith("<svg") and svg.endswith("</svg>") and svg.count('class="mark"') == len(events)
    assert "<x>" not in svg


def test_bindings_and_references():
    problems = binding_problems({"resourceType": "Condition", "clinicalStatus": {"coding": [
        {"system": "http://example.org", "code": "active"}]}})
    assert problems == [("Condition.clinicalStatus.coding[0].system", "http://example.org",
                         "http://terminology.hl7.org/CodeSystem/condition-clinical")]
    assert reference_target("urn:uuid:1", {"urn:uuid:1": ("Patient", "1")}) == ("Patient", "1")
    assert reference_target("http://x.org/fhir/Patient/7", {}) == ("Patient", "7")
    assert reference_target("Organization?identifier=a|b", {}) is None
    assert system_uri("SNOMED") == "http://snomed.info/sct"
