"""Biobank test fixtures: a small bank (one site, a -80 °C freezer with a rack of two 9x9 boxes, an LN2 tank)."""

from __future__ import annotations

from datetime import date

import pytest

from lifebank.biobank import service
from lifebank.db.engine import Database

ACTOR = "tester"


def build_storage(db: Database) -> None:
    service.define_container_type(db, "Site", kind="site", actor=ACTOR)
    service.define_container_type(db, "Upright -80", kind="freezer", actor=ACTOR)
    service.define_container_type(db, "LN2 tank", kind="tank", actor=ACTOR)
    service.define_container_type(db, "Rack", kind="rack", actor=ACTOR)
    service.define_container_type(db, "Box 9x9", kind="box", rows=9, columns=9, scheme="letter-number", actor=ACTOR)
    service.define_container_type(db, "Box 10x10", kind="box", rows=10, columns=10, scheme="sequential",
                                  actor=ACTOR)
    service.create_container(db, "FRZ-01", type_name="Upright -80", temperature_class="-80C", actor=ACTOR)
    service.create_container(db, "R01", type_name="Rack", parent_path="FRZ-01", actor=ACTOR)
    service.create_container(db, "BOX-1", type_name="Box 9x9", parent_path="FRZ-01/R01", actor=ACTOR)
    service.create_container(db, "BOX-2", type_name="Box 9x9", parent_path="FRZ-01/R01", actor=ACTOR)
    service.create_container(db, "TANK-01", type_name="LN2 tank", temperature_class="LN2", actor=ACTOR)
    service.create_container(db, "RL1", type_name="Rack", parent_path="TANK-01", actor=ACTOR)
    service.create_container(db, "CB-1", type_name="Box 10x10", parent_path="TANK-01/RL1", actor=ACTOR)


def add_participant(db: Database, code: str, codes: str = "DUO:0000042", sex: str = "F", site: str = "SH") -> None:
    service.register_participant(db, code, sex=sex, birth_year=1980, site=site, actor=ACTOR)
    service.record_consent(db, code, duo_codes=codes, consent_date=date(2024, 1, 2), actor=ACTOR)


@pytest.fixture
def bank(db: Database) -> Database:
    build_storage(db)
    add_participant(db, "P000001")
    add_participant(db, "P000002", codes="DUO:0000006;DUO:0000021", sex="M", site="BJ")
    return db


PARTICIPANT_HEADER = "participant,sex,birth_year,site,consent_codes,consent_date\n"
SPECIMEN_HEADER = "barcode,participant,type,quantity,unit,collected_at,parent_barcode,sprec,location\n"


def participants_csv(count: int, start: int = 1) -> bytes:
    lines = [f"P{start + i:06d},{'FM'[i % 2]},{1950 + i % 50},SH,DUO:0000042;DUO:0000021,2024-01-0{1 + i % 9}\n"
             for i in range(count)]
    return (PARTICIPANT_HEADER + "".join(lines)).encode()


def specimens_csv(count: int, participants: int) -> bytes:
    """`count` serum tubes, not stored, each of participant i % participants."""
    lines = [f"T{i:08d},P{1 + i % participants:06d},SER,1.0,mL,2024-03-01T08:00:00Z,,SER-SST-A-D-N-B-A,\n"
             for i in range(count)]
    return (SPECIMEN_HEADER + "".join(lines)).encode()


# Two more participants of different consents, and 24 tubes of them and P000001 in boxes, a tank and nowhere
# (those consumed): a small import that touches every tally.
MIXED_PARTICIPANTS = (b"participant,sex,birth_year,site,consent_codes,consent_date\n"
                      b"P000010,F,1970,SH,DUO:0000042;DUO:0000021,2024-01-02\n"
                      b"P000011,M,1971,SH,DUO:0000006,2024-01-02\n")


def mixed_specimen_lines() -> list[str]:
    lines = ["barcode,participant,type,quantity,unit,collected_at,parent_barcode,sprec,location,status"]
    for i in range(24):
        who = ("P000010", "P000011", "P000001")[i % 3]
        box = ("FRZ-01/R01/BOX-1", "FRZ-01/R01/BOX-2", "TANK-01/RL1/CB-1", "")[i % 4]
        where = f"{box}/{chr(65 + i // 9)}{1 + i % 9}" if "BOX" in box else f"{box}/{1 + i}" if box else ""
        lines.append(f"B{i:03d},{who},{('SER', 'PL1')[i % 2]},1,mL,2024-03-01T08:00:00Z,,,{where},"
                     f"{'' if box else 'consumed'}")
    return lines
