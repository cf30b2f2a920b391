"""Code systems and the required code bindings FHIR R4 sets but `fhir.resources` does not enforce.

`fhir.resources` checks structure and datatypes only: it accepts `Patient.gender = "banana"`. The FHIR R4
specification binds some elements *required*ly to a value set (a code outside it makes the resource invalid);
`REQUIRED_BINDINGS` is our table of those this domain reads, checked on import. Clinical codes (Condition.code,
Observation.code) are *example/extensible* bindings: they are kept as sent, with no syntax check (Synthea's HIV
bundles carry placeholder codes under the LOINC system), and flagged when a loaded vocabulary does not know them.
"""

from __future__ import annotations

from dataclasses import dataclass

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICDO3 = "http://terminology.hl7.org/CodeSystem/icd-o-3"
CVX = "http://hl7.org/fhir/sid/cvx"
DUO = "http://purl.obolibrary.org/obo/duo"
# The identifier system whose value is a biobank participant code (a Patient carrying it links to that code).
PARTICIPANT_SYSTEM = "urn:lifebank:participant"

# OHDSI vocabulary_id -> FHIR code system URI (codes keep their own spelling in both).
VOCABULARY_SYSTEMS: dict[str, str] = {
    "SNOMED": SNOMED, "LOINC": LOINC, "RxNorm": RXNORM, "RxNorm Extension": RXNORM, "UCUM": UCUM,
    "ICD10": ICD10, "ICD10CM": ICD10CM, "ICDO3": ICDO3, "CVX": CVX,
}
SYSTEM_VOCABULARIES: dict[str, str] = {uri: vid for vid, uri in VOCABULARY_SYSTEMS.items()
                                       if vid != "RxNorm Extension"}

# Short names a user may type instead of a URI (CLI, cohort form).
SYSTEM_ALIASES: dict[str, str] = {
    "snomed": SNOMED, "sct": SNOMED, "loinc": LOINC, "rxnorm": RXNORM, "ucum": UCUM, "icd10": ICD10,
    "icd-10": ICD10, "icd10cm": ICD10CM, "icd-10-cm": ICD10CM, "icdo3": ICDO3, "icd-o-3": ICDO3, "cvx": CVX,
}


def system_uri(text: str) -> str:
    """A code system from its URI or a short name (`snomed`, `loinc`, `icd10`); unknown text is kept as is."""
    cleaned = text.strip()
    return SYSTEM_ALIASES.get(cleaned.lower(), cleaned)


@dataclass(frozen=True, slots=True)
class Binding:
    """A required binding: the element (a FHIR path under the resource) and its allowed codes.

    `system` is set for a CodeableConcept binding (the coding must use that system); None for a plain `code`.
    """

    element: str
    codes: frozenset[str]
    system: str | None = None


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

REQUIRED_BINDINGS: dict[str, tuple[Binding, ...]] = {
    "Patient": (Binding("gender", _codes("male female other unknown")),),
    "Specimen": (Binding("status", _codes("available unavailable unsatisfactory entered-in-error")),),
    "Condition": (
        Binding("clinicalStatus", _codes("active recurrence relapse inactive remission resolved"), _CLINICAL),
        Binding("verificationStatus",
                _codes("unconfirmed provisional differential confirmed refuted entered-in-error"), _VERIFICATION),
    ),
    "Observation": (Binding("status", _codes(
        "registered preliminary final amended corrected cancelled entered-in-error unknown")),),
    "Procedure": (Binding("status", _codes(
        "preparation in-progress not-done on-hold stopped completed entered-in-error unknown")),),
    "Encounter": (Binding("status", _codes(
        "planned arrived triaged in-progress onleave finished cancelled entered-in-error unknown")),),
    "MedicationRequest": (
        Binding("status", _codes("active on-hold cancelled completed entered-in-error stopped draft unknown")),
        Binding("intent", _codes(
            "proposal plan order original-order reflex-order filler-order instance-order option")),
    ),
    "MedicationStatement": (Binding("status", _codes(
        "active completed entered-in-error intended stopped on-hold unknown not-taken")),),
    "MedicationAdministration": (Binding("status", _codes(
        "in-progress not-done on-hold completed entered-in-error stopped unknown")),),
    "Consent": (Binding("status", _codes("draft proposed active rejected inactive entered-in-error")),),
}


def binding_problems(resource: dict[str, object]) -> list[tuple[str, str, str]]:
    """Every required-binding violation of one resource: (FHIR path, offending value, allowed list/system).

    For a CodeableConcept binding, a coding under another system is a violation ("unknown code system"), and
    so is a code outside the value set; a concept with no coding under the system is a violation too.
    """
    rtype = str(resource.get("resourceType", ""))
    problems: list[tuple[str, str, str]] = []
    for binding in REQUIRED_BINDINGS.get(rtype, ()):
        value = resource.get(binding.element)
        if value is None:
            continue
        path = f"{rtype}.{binding.element}"
        if binding.system is None:
            if value not in binding.codes:
                problems.append((path, str(value), ", ".join(sorted(binding.codes))))
            continue
        codings = value.get("coding", []) if isinstance(value, dict) else []
        for index, coding in enumerate(codings):
            system, code = coding.get("system"), coding.get("code")
            if system != binding.system:
                problems.append((f"{path}.coding[{index}].system", str(system), binding.system))
            elif code not in binding.codes:
                problems.append((f"{path}.coding[{index}].code", str(code), ", ".join(sorted(binding.codes))))
    return problems
