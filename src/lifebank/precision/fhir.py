"""A final report as FHIR R4 following the HL7 Genomics Reporting IG (STU2 shapes): a Bundle with one
DiagnosticReport (LOINC 81247-9, "Master HL7 genetic variant reporting panel"), a `variant` Observation per
Tier I-II variant (LOINC 69548-6 with gene 48018-6, p.HGVS 48005-3, chromosome 48001-2, reference/alternate
allele 69547-8/69551-0, exact start 81254-5, allelic frequency 81258-6), a copy-number / fusion variant
Observation per Tier I-II event, and a `therapeutic-implication` Observation per therapy (medication assessed
51963-7, predicted implication 51961-1, level of evidence 93044-6) derived from its variant.

Pure: dictionaries only. `validate(bundle)` parses the bundle with fhir.resources' R4B models, which check
structure and datatypes (it is not a profile validator; the profile URLs are declared in `meta.profile`).
"""

from __future__ import annotations

import uuid
from typing import Any

LOINC = "http://loinc.org"
IG = "http://hl7.org/fhir/uv/genomics-reporting"
TBD = IG + "/CodeSystem/tbd-codes-cs"
NAMESPACE = uuid.UUID("6f1d0c1e-9c1b-4c4c-8a52-0d3a1c2f5e13")


def _id(*parts: object) -> str:
    return "urn:uuid:" + str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def _component(code: str, display: str, **value: Any) -> dict[str, Any]:
    return {"code": _concept(LOINC, code, display), **value}


def _variant_observation(ref: str, subject: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    studied = item.get("gene") or item.get("fusion") or "unknown"
    components = [_component("48018-6", "Gene studied [ID]", valueCodeableConcept={"text": studied})]
    if item.get("protein_change"):
        components.append(_component("48005-3", "Amino acid change (pHGVS)",
                                     valueCodeableConcept={"text": item["protein_change"]}))
    if "pos" in item:
        components += [
            _component("48001-2", "Cytogenetic (chromosome) location", valueCodeableConcept={"text": item["chrom"]}),
            _component("81254-5", "Genomic allele start-end", valueRange={"low": {"value": item["pos"]}}),
            _component("69547-8", "Genomic ref allele [ID]", valueString=item["ref"]),
            _component("69551-0", "Genomic alt allele [ID]", valueString=item["alt"]),
            _component("62374-4", "Human reference sequence assembly version",
                       valueCodeableConcept=_concept(LOINC, "LA26806-2", "GRCh38"))]
        if item.get("vaf") is not None:
            components.append(_component("81258-6", "Sample variant allelic frequency [NFr]",
                                         valueQuantity={"value": round(float(item["vaf"]), 4)}))
    elif "call" in item:
        components.append(_component("48019-4", "DNA change type",
                                     valueCodeableConcept={"text": item["call"]}))
        components.append(_component("82155-3", "Genomic structural variant copy number",
                                     valueQuantity={"value": item["copy_number"]}))
    else:
        components.append(_component("48019-4", "DNA change type", valueCodeableConcept={"text": "fusion"}))
    components.append(_component("53037-8", "Genetic variation clinical significance",
                                 valueCodeableConcept={"text": "AMP/ASCO/CAP Tier " + item["tier"]}))
    return {"resourceType": "Observation", "id": ref.rsplit(":", 1)[1],
            "meta": {"profile": [IG + "/StructureDefinition/variant"]}, "status": "final",
            "category": [_concept("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory",
                                  "Laboratory")],
            "code": _concept(LOINC, "69548-6", "Genetic variant assessment"), "subject": subject,
            "valueCodeableConcept": _concept(LOINC, "LA9633-4", "Present"), "component": components}


def _implication(ref: str, variant_ref: str, subject: dict[str, Any], therapy: dict[str, Any]) -> dict[str, Any]:
    direction = "Responsive" if therapy["direction"] == "sensitivity" else "Resistant"
    return {"resourceType": "Observation", "id": ref.rsplit(":", 1)[1],
            "meta": {"profile": [IG + "/StructureDefinition/therapeutic-implication"]}, "status": "final",
            "code": _concept(TBD, "therapeutic-implication", "Therapeutic Implication"), "subject": subject,
            "derivedFrom": [{"reference": variant_ref}],
            "component": [
                _component("51963-7", "Medication assessed [ID]", valueCodeableConcept={"text": therapy["therapy"]}),
                _component("51961-1", "Genetic variation's effect on drug efficacy",
                           valueCodeableConcept={"text": direction}),
                _component("93044-6", "Level of evidence",
                           valueCodeableConcept={"text": "AMP level " + therapy["amp_level"] + " ("
                                                 + therapy["source"] + " " + therapy["evidence"] + ")"}),
                {"code": {"text": "conditions"}, "valueCodeableConcept": {"text": therapy["disease"] or "any"}},
            ]}


def report_bundle(report: dict[str, Any]) -> dict[str, Any]:
    """The Bundle of one final report version (`service.get_report` shape)."""
    content = report["content"]
    key = (report["report"], report["version"])
    subject = {"identifier": {"system": "urn:lifebank:participant", "value": report["participant"]}} \
        if report.get("participant") else {"display": content["input"].get("sample") or report["label"]}
    entries: list[dict[str, Any]] = []
    results = []
    actionable = [i for i in content["variants"] + content["cna"] + content["fusions"] if i["tier"] in ("I", "II")]
    for n, item in enumerate(actionable):
        variant_ref = _id(*key, "variant", n)
        observation = _variant_observation(variant_ref, subject, item)
        if "fusion" in item:
            observation["component"][0]["valueCodeableConcept"] = {"text": item["fusion"]}
        entries.append({"fullUrl": variant_ref, "resource": observation})
        results.append({"reference": variant_ref})
        for m, therapy in enumerate(item["therapies"]):
            ref = _id(*key, "implication", n, m)
            entries.append({"fullUrl": ref, "resource": _implication(ref, variant_ref, subject, therapy)})
            results.append({"reference": ref})
    report_ref = _id(*key, "report")
    diagnostic = {
        "resourceType": "DiagnosticReport", "id": report_ref.rsplit(":", 1)[1],
        "meta": {"profile": [IG + "/StructureDefinition/genomics-report"]},
        "identifier": [{"system": "urn:lifebank:precision-report", "value": f"{key[0]}/{key[1]}"}],
        "status": "final" if report["status"] == "final" else "preliminary",
        "category": [_concept("http://terminology.hl7.org/CodeSystem/v2-0074", "GE", "Genetics")],
        "code": _concept(LOINC, "81247-9", "Master HL7 genetic variant reporting panel"), "subject": subject,
        "issued": report["signed_at"].isoformat() if report.get("signed_at") else None,
        "resultsInterpreter": [{"display": report["signed_by"]}] if report.get("signed_by") else None,
        "result": results,
        "conclusion": "Tumour type " + content["tumour_type"] + "; TMB "
                      + (str(content["tmb"]["value"]) + " mutations/Mb" if content.get("tmb") else "not measured"),
    }
    diagnostic = {k: v for k, v in diagnostic.items() if v is not None}
    return {"resourceType": "Bundle", "type": "collection", "identifier": diagnostic["identifier"][0],
            "entry": [{"fullUrl": report_ref, "resource": diagnostic}, *entries]}


def validate(bundle: dict[str, Any]) -> None:
    """Parse with fhir.resources R4B (raises pydantic's ValidationError naming the bad element)."""
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(bundle)
