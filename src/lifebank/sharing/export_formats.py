"""Writers of a de-identified export: CSV, Parquet, FHIR Bulk NDJSON and GA4GH Phenopackets v2.

Each writer takes the released rows (already pseudonymous and generalised, see `deid`) and the released
specimens, writes its files into one folder, and returns their names. The FHIR resources carry only the
generalised values (birth band and region as extensions, never a birth date or a site); the phenopackets are
built with the `phenopackets` package (GA4GH's own protobuf classes) and written with protobuf's JSON format.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lifebank.sharing.deid import Released
from lifebank.sharing.terms import origin_of

FORMATS = ("csv", "parquet", "fhir", "phenopackets")
COLUMNS = ("pseudonym", "sex", "birth_band", "region", "diagnosis", "specimen_types", "specimens_available")
EXT = "https://lifebank.example.org/fhir/StructureDefinition/"
_GENDER = {"F": "female", "M": "male", "O": "other", "U": "unknown"}
_PP_SEX = {"F": "FEMALE", "M": "MALE", "O": "OTHER_SEX", "U": "UNKNOWN_SEX"}


@dataclass(frozen=True, slots=True)
class ReleasedSpecimen:
    pseudonym: str
    owner: str  # the owner's pseudonym
    type: str
    collection_year: int | None
    available: bool


def _row(r: Released) -> dict[str, object]:
    extra = dict(r.extra)
    return {"pseudonym": r.pseudonym, "sex": r.sex, "birth_band": r.birth_band, "region": r.region,
            "diagnosis": r.diagnosis or "", "specimen_types": extra.get("specimen_types", ""),
            "specimens_available": int(extra.get("specimens_available", "0"))}


def write_csv(folder: Path, rows: list[Released], specimens: list[ReleasedSpecimen]) -> list[str]:
    with (folder / "participants.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(_row(r) for r in rows)
    with (folder / "specimens.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["pseudonym", "participant", "type", "collection_year", "available"])
        writer.writerows([s.pseudonym, s.owner, s.type, s.collection_year or "", s.available] for s in specimens)
    return ["participants.csv", "specimens.csv"]


def write_parquet(folder: Path, rows: list[Released], specimens: list[ReleasedSpecimen]) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist([_row(r) for r in rows], schema=pa.schema(
        [pa.field(c, pa.int32() if c == "specimens_available" else pa.string()) for c in COLUMNS]))
    pq.write_table(table, folder / "participants.parquet")
    tubes = pa.Table.from_pylist([{"pseudonym": s.pseudonym, "participant": s.owner, "type": s.type,
                                   "collection_year": s.collection_year, "available": s.available}
                                  for s in specimens], schema=pa.schema([
        pa.field("pseudonym", pa.string()), pa.field("participant", pa.string()), pa.field("type", pa.string()),
        pa.field("collection_year", pa.int32()), pa.field("available", pa.bool_())]))
    pq.write_table(tubes, folder / "specimens.parquet")
    return ["participants.parquet", "specimens.parquet"]


def fhir_patient(r: Released) -> dict[str, object]:
    patient: dict[str, object] = {
        "resourceType": "Patient", "id": r.pseudonym,
        "identifier": [{"system": EXT + "pseudonym", "value": r.pseudonym}],
        "gender": _GENDER.get(r.sex, "unknown"),
        "extension": [{"url": EXT + "birth-year-band", "valueString": r.birth_band},
                      {"url": EXT + "region", "valueString": r.region}]}
    return patient


def fhir_condition(r: Released) -> dict[str, object]:
    return {"resourceType": "Condition", "id": f"{r.pseudonym}-dx", "subject": {"reference": f"Patient/{r.pseudonym}"},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": r.diagnosis}]}}


def fhir_specimen(s: ReleasedSpecimen) -> dict[str, object]:
    origin = origin_of(s.type)
    specimen: dict[str, object] = {
        "resourceType": "Specimen", "id": s.pseudonym, "subject": {"reference": f"Patient/{s.owner}"},
        "status": "available" if s.available else "unavailable",
        "type": {"coding": [{"system": EXT + "sprec-sample-type", "code": s.type}], "text": origin["label"]}}
    if s.collection_year:
        specimen["collection"] = {"collectedDateTime": str(s.collection_year)}
    return specimen


def write_fhir(folder: Path, rows: list[Released], specimens: list[ReleasedSpecimen]) -> list[str]:
    """FHIR Bulk Data NDJSON: one resource per line, one file per resource type."""
    names = ["Patient.ndjson", "Specimen.ndjson"]
    with (folder / "Patient.ndjson").open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(fhir_patient(r), separators=(",", ":")) + "\n" for r in rows)
    with (folder / "Specimen.ndjson").open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(fhir_specimen(s), separators=(",", ":")) + "\n" for s in specimens)
    diagnosed = [r for r in rows if r.diagnosis]
    if diagnosed:
        with (folder / "Condition.ndjson").open("w", encoding="utf-8") as out:
            out.writelines(json.dumps(fhir_condition(r), separators=(",", ":")) + "\n" for r in diagnosed)
        names.append("Condition.ndjson")
    return names


def write_phenopackets(folder: Path, rows: list[Released], specimens: list[ReleasedSpecimen]) -> list[str]:
    """One GA4GH Phenopacket v2 JSON per participant, in `phenopackets/`."""
    from google.protobuf.json_format import MessageToJson
    from google.protobuf.timestamp_pb2 import Timestamp
    from phenopackets import (
        Biosample,
        Disease,
        Individual,
        MetaData,
        OntologyClass,
        Phenopacket,
        Resource,
        Sex,
    )

    target = folder / "phenopackets"
    target.mkdir()
    created = Timestamp()
    created.FromDatetime(datetime.now(UTC).replace(tzinfo=None))
    resources = [Resource(id="uberon", name="Uber-anatomy ontology", namespace_prefix="UBERON",
                          url="http://purl.obolibrary.org/obo/uberon.owl", version="2024-01-18",
                          iri_prefix="http://purl.obolibrary.org/obo/UBERON_")]
    by_owner: dict[str, list[ReleasedSpecimen]] = {}
    for s in specimens:
        by_owner.setdefault(s.owner, []).append(s)
    names = []
    for r in rows:
        packet = Phenopacket(
            id=r.pseudonym, subject=Individual(id=r.pseudonym, sex=Sex.Value(_PP_SEX.get(r.sex, "UNKNOWN_SEX"))),
            biosamples=[Biosample(id=s.pseudonym, individual_id=r.pseudonym,
                                  sampled_tissue=OntologyClass(**origin_of(s.type)))
                        for s in by_owner.get(r.pseudonym, [])],
            meta_data=MetaData(created=created, created_by="LifeBank", resources=resources,
                               phenopacket_schema_version="2.0"))
        if r.diagnosis:
            packet.diseases.append(Disease(term=OntologyClass(id=f"ICD10:{r.diagnosis}", label=r.diagnosis)))
        name = f"phenopackets/{r.pseudonym}.json"
        (folder / name).write_text(MessageToJson(packet), encoding="utf-8")
        names.append(name)
    return names


WRITERS = {"csv": write_csv, "parquet": write_parquet, "fhir": write_fhir, "phenopackets": write_phenopackets}
