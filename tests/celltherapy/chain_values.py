"""Valid values for every step of each product: what the tests and the benchmark record."""

from __future__ import annotations

CAR_T = {
    "collection": {"volume_ml": "250", "tnc_e9": "12.5", "cd3_e9": "4.2"},
    "packaging": {"bags": "1", "product_code": "X0001"},
    "shipment-to-manufacturing": {"courier": "ColdExpress", "logger_id": "LOG-1"},
    "receipt-at-manufacturing": {"condition": "intact"},
    "manufacturing": {"batch_record": "BR-1", "activation": "2026-01-02", "vector_lot": "LV-7",
                      "transduction": "2026-01-03", "expansion_days": "9"},
    "qc-release": {"sterility": "negative", "mycoplasma": "negative", "endotoxin": "0.5", "viability": "92",
                   "cd3_percent": "97", "car_percent": "41", "potency": "850"},
    "cryopreservation": {"bags": "2", "product_code": "X0002", "storage_location": "LN2-01/R1/BOX-1/A1",
                         "freezer_run": "CRF-1", "volume_ml": "68", "cells_e6": "250"},
    "shipment-to-centre": {"courier": "ColdExpress", "logger_id": "LOG-2"},
    "receipt-at-centre": {"condition": "intact"},
    "thaw": {"bag": "", "thaw_minutes": "3"},
    "bedside-verification": {"bag": "", "wristband_code": "", "wristband_dob": "1970-05-04"},
    "infusion": {"bag": "", "volume_ml": "68"},
}

HPC_CORD = dict(CAR_T, **{
    "collection": {"volume_ml": "110", "tnc_e9": "1.6"},
    "packaging": {"bags": "1", "product_code": "X0003"},
    "manufacturing": {"batch_record": "CB-1", "processing_method": "volume-reduction"},
    "qc-release": {"sterility": "negative", "mycoplasma": "negative", "endotoxin": "0.2", "viability": "88",
                   "cd34_e6": "4.1", "potency": "35"},
    "cryopreservation": {"bags": "1", "product_code": "X0004", "storage_location": "LN2-01/R1/BOX-2/A1",
                         "freezer_run": "CRF-2", "volume_ml": "25"},
})



def add_ln2_storage(db, actor: str = "t") -> None:
    """An LN2 tank with two 10 x 10 boxes (LN2-01/R1/BOX-1, BOX-2) and a -80 °C freezer box (FRZ-01/R1/BOX-1):
    where the cryopreservation step registers the product bags as biobank specimens."""
    from lifebank.biobank import service as biobank

    biobank.define_container_type(db, "LN2 tank", kind="tank", actor=actor)
    biobank.define_container_type(db, "Freezer -80", kind="freezer", actor=actor)
    biobank.define_container_type(db, "Rack", kind="rack", actor=actor)
    biobank.define_container_type(db, "Cryobox 10x10", kind="box", rows=10, columns=10, scheme="letter-number",
                                  actor=actor)
    for unit, kind, temperature in (("LN2-01", "LN2 tank", "LN2"), ("FRZ-01", "Freezer -80", "-80C")):
        biobank.create_container(db, unit, type_name=kind, temperature_class=temperature, actor=actor)
        biobank.create_container(db, "R1", type_name="Rack", parent_path=unit, actor=actor)
        for box in ("BOX-1", "BOX-2") if unit.startswith("LN2") else ("BOX-1",):
            biobank.create_container(db, box, type_name="Cryobox 10x10", parent_path=f"{unit}/R1", actor=actor)


PRODUCT_CODES_CSV = """code,description,product,shelf_life_hours
X0001,Demo apheresis starting material (not ICCBBA),car-t,48
X0002,Demo CAR-T cells cryopreserved (not ICCBBA),car-t,8760
X0003,Demo cord blood collected (not ICCBBA),hpc-cord,72
X0004,Demo HPC cord blood cryopreserved (not ICCBBA),hpc-cord,175200
"""
