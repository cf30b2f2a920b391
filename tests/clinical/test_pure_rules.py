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
    assert result.counts or result.errors
    for error in result.errors:
        assert error.message().render()


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["resourceType", "id", "gender", "status", "birthDate"]),
                       st.one_of(st.text(max_size=12), st.integers(), st.none()), max_size=5))
def test_any_json_object_is_validated_or_named(obj):
    result = read_fhir_text("fuzz.json", json.dumps(obj))
    assert bool(result.counts) != bool(result.errors)


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


def _shared_resources() -> list[dict]:
    from shared_data import SHARED_DATA

    folder = SHARED_DATA / "clinical" / "fhir_r4_bulk_ndjson_10pt"
    found = []
    for path in sorted(folder.glob("*.ndjson")):
        found += [json.loads(line) for line in path.read_text().splitlines()[:3] if line.strip()]
    return found


def _element_paths(node, path=()):
    """Paths of every dict element inside a resource (the elements the memo may answer)."""
    if isinstance(node, dict):
        if path:
            yield path
        for key, value in node.items():
            yield from _element_paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _element_paths(value, (*path, index))


SHARED = _shared_resources()
JUNK = st.one_of(st.none(), st.integers(-3, 3), st.floats(allow_nan=False), st.booleans(), st.text(max_size=8),
                 st.just("2015-02-30"), st.just([None]), st.just({}), st.just([{"system": 1}]))


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from(["replace", "add", "drop"]), JUNK)
def test_element_memo_gives_the_librarys_answer(pick, where, how, junk):
    """Mutate one element of a shared Synthea resource: validation with the element memo (warm with the
    unmutated resources) succeeds or fails exactly as fhir.resources alone does, with the same errors."""
    import copy

    from pydantic import ValidationError

    from lifebank.clinical import fhir_validate

    assert fhir_validate.MEMO_INSTALLED
    resource = copy.deepcopy(SHARED[pick % len(SHARED)])
    paths = list(_element_paths(resource))
    if paths:
        path = paths[where % len(paths)]
        parent = resource
        for step in path[:-1]:
            parent = parent[step]
        element = parent[path[-1]]
        if how == "replace":
            parent[path[-1]] = junk
        elif how == "add":
            element["unexpectedField" if where % 2 else next(iter(element), "x")] = junk
        elif element:
            element.pop(next(iter(element)))

    def answer() -> object:
        try:
            fhir_validate.validate(resource["resourceType"], copy.deepcopy(resource))
        except ValidationError as exc:
            return [(e["loc"], e["msg"]) for e in exc.errors()]
        return "valid"

    fhir_validate.set_memo(False)
    plain = answer()
    fhir_validate.set_memo(True)
    for other in SHARED:
        fhir_validate.validate(other["resourceType"], copy.deepcopy(other))
    assert answer() == plain
    assert answer() == plain  # and again, with whatever the first call remembered
