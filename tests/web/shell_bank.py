"""A small bank for the shell's tests, built through the domains' services: one site with a -80 °C freezer, a
rack and a 12-column box (the widest grid a phone must show), two participants, tubes with long barcodes,
a barcode that is also a participant code (two hits), and two HLA donors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from lifebank.biobank import service as biobank
from lifebank.db.engine import Database
from lifebank.hla import service as hla

ACTOR = "shell-test"
SITE, FREEZER, RACK, BOX = "Site A", "Freezer 1", "Rack 2", "Box 3"
BOX_PATH = f"{SITE}/{FREEZER}/{RACK}/{BOX}"
HLA_DONORS = "\n".join([
    "DonorId,DonorType,A_1,A_2,B_1,B_2,C_1,C_2,DPB1_1,DPB1_2,DQB1_1,DQB1_2,DRB1_1,DRB1_2",
    "D1,adult,*01:01,*02:01,*08:01,*07:02,*07:01,*07:02,NULL,NULL,*02:01,*06:02,*03:01,*15:01",
    "CORD-UNIT-0000000000000002,cord,*01:01,*03:01,*08:01,*07:02,NULL,NULL,NULL,NULL,NULL,NULL,*03:01,*15:01",
]) + "\n"
PATIENT = "A*01:01+A*02:01^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*03:01+DRB1*15:01^DQB1*02:01+DQB1*06:02"


@dataclass(frozen=True)
class ShellBank:
    tube: str  # stored in BOX_PATH at A1
    long_tube: str  # a 40-character barcode, to prove ids wrap on a phone
    participant: str
    twin: str  # both a participant code and a tube barcode


def build_shell_bank(db: Database) -> ShellBank:
    biobank.define_container_type(db, "Site", kind="site", actor=ACTOR)
    biobank.define_container_type(db, "Upright -80", kind="freezer", actor=ACTOR)
    biobank.define_container_type(db, "Rack", kind="rack", actor=ACTOR)
    biobank.define_container_type(db, "SBS 8x12", kind="box", rows=8, columns=12, scheme="letter-number",
                                  actor=ACTOR)
    biobank.create_container(db, SITE, type_name="Site", actor=ACTOR)
    biobank.create_container(db, FREEZER, type_name="Upright -80", parent_path=SITE, temperature_class="-80C",
                             actor=ACTOR)
    biobank.create_container(db, RACK, type_name="Rack", parent_path=f"{SITE}/{FREEZER}", actor=ACTOR)
    biobank.create_container(db, BOX, type_name="SBS 8x12", parent_path=f"{SITE}/{FREEZER}/{RACK}", actor=ACTOR)
    for code in ("P000001", "P000002"):
        biobank.register_participant(db, code, sex="F", birth_year=1980, site="Shanghai", actor=ACTOR)
        biobank.record_consent(db, code, duo_codes="DUO:0000042", consent_date=date(2024, 1, 2), actor=ACTOR)
    collected = datetime(2024, 3, 1, 8, tzinfo=UTC)
    tube = biobank.register_specimen(db, "LB000000001", participant="P000001", type="SER", quantity=0.5, unit="mL",
                                     collected_at=collected, location=f"{BOX_PATH}/A1", actor=ACTOR).barcode
    long_tube = biobank.register_specimen(db, "LB-2024-SHANGHAI-PLASMA-0000000000000012", participant="P000001",
                                          type="SER", quantity=0.5, unit="mL", collected_at=collected,
                                          location=f"{BOX_PATH}/H12", actor=ACTOR).barcode
    for position in ("A2", "A3", "B1", "C12"):
        biobank.register_specimen(db, None, participant="P000001", type="SER", quantity=0.5, unit="mL",
                                  collected_at=collected, location=f"{BOX_PATH}/{position}", actor=ACTOR)
    twin = biobank.register_specimen(db, "P000002", participant="P000002", type="SER", quantity=1.0, unit="mL",
                                     collected_at=collected, actor=ACTOR).barcode
    hla.import_donors(db, HLA_DONORS, actor=ACTOR)
    return ShellBank(tube=tube, long_tube=long_tube, participant="P000001", twin=twin)
