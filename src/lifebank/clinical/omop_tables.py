"""How each OMOP CDM 5.4 clinical table maps onto a clinical record (pure): which columns hold the id, the
concepts, the source value, the times and the values, and the code system a source value is in by default
(Synthea's ETL: conditions and procedures in SNOMED CT, measurements in LOINC, drugs in RxNorm)."""

from __future__ import annotations

from dataclasses import dataclass

from lifebank.clinical.codes import LOINC, RXNORM, SNOMED


@dataclass(frozen=True, slots=True)
class OmopTable:
    name: str
    kind: str
    id: str
    concept: str
    source_concept: str
    source_value: str | None
    start: tuple[str, str]  # (datetime column, date column)
    end: tuple[str, str] | None
    default_system: str
    value_number: str | None = None
    value_string: str | None = None
    unit: str | None = None
    type_concept: str = ""


RECORD_TABLES: dict[str, OmopTable] = {t.name: t for t in (
    OmopTable("visit_occurrence", "encounter", "visit_occurrence_id", "visit_concept_id", "visit_source_concept_id",
              None, ("visit_start_datetime", "visit_start_date"), ("visit_end_datetime", "visit_end_date"), "",
              type_concept="visit_type_concept_id"),
    OmopTable("condition_occurrence", "condition", "condition_occurrence_id", "condition_concept_id",
              "condition_source_concept_id", "condition_source_value",
              ("condition_start_datetime", "condition_start_date"), ("condition_end_datetime", "condition_end_date"),
              SNOMED, type_concept="condition_type_concept_id"),
    OmopTable("measurement", "measurement", "measurement_id", "measurement_concept_id",
              "measurement_source_concept_id", "measurement_source_value", ("measurement_datetime", "measurement_date"),
              None, LOINC, value_number="value_as_number", unit="unit_source_value",
              type_concept="measurement_type_concept_id"),
    OmopTable("observation", "observation", "observation_id", "observation_concept_id",
              "observation_source_concept_id", "observation_source_value", ("observation_datetime", "observation_date"),
              None, LOINC, value_number="value_as_number", value_string="value_as_string", unit="unit_source_value",
              type_concept="observation_type_concept_id"),
    OmopTable("drug_exposure", "medication", "drug_exposure_id", "drug_concept_id", "drug_source_concept_id",
              "drug_source_value", ("drug_exposure_start_datetime", "drug_exposure_start_date"),
              ("drug_exposure_end_datetime", "drug_exposure_end_date"), RXNORM, type_concept="drug_type_concept_id"),
    OmopTable("procedure_occurrence", "procedure", "procedure_occurrence_id", "procedure_concept_id",
              "procedure_source_concept_id", "procedure_source_value", ("procedure_datetime", "procedure_date"),
              ("procedure_end_datetime", "procedure_end_date"), SNOMED, type_concept="procedure_type_concept_id"),
    OmopTable("death", "death", "person_id", "cause_concept_id", "cause_source_concept_id", "cause_source_value",
              ("death_datetime", "death_date"), None, SNOMED, type_concept="death_type_concept_id"),
)}
TABLE_OF_KIND = {t.kind: t for t in RECORD_TABLES.values()} | {"immunization": RECORD_TABLES["drug_exposure"]}
IMPORTED_TABLES = ("person", *RECORD_TABLES)
EHR_TYPE_CONCEPT = 32817  # "EHR": the provenance of every exported row
GENDER_CONCEPTS = {"male": 8507, "female": 8532}
CONCEPT_GENDERS = {8507: "male", 8532: "female"}
