"""Demo bank: ~2,000 participants with consent, ~48,000 specimens with lineage in freezers, LN2 tanks and an
automated store. Deterministic (seeded RNG) and loaded through the bulk-import path, so it takes seconds.

Per participant, as a population biobank collects them: an EDTA blood tube (BLD) from which plasma (PL1,
derivative) is spun and split into 0.5 mL aliquots, buffy coat (BUF) and DNA; a serum tube (SER) split into
aliquots; for some, viable PBMC (CEL) for LN2, RNA, urine; for a few, tumour tissue (fresh-frozen and FFPE)
or cord blood. Processed parent tubes are recorded as consumed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from lifebank.biobank import imports, service
from lifebank.biobank.models import Participant
from lifebank.biobank.storage_layout import GridLayout, LabelScheme
from lifebank.db.engine import Database

ACTOR = "demo"
PARTICIPANTS = 2000
SEED = 20261124
SITES = ("Shanghai", "Hangzhou", "Suzhou")

ProgressFactory = Callable[[str, int | None, str], AbstractContextManager[Callable[[int], None]]]

# (unit name, type name, temperature, racks, boxes per rack, box type)
STORAGE = [
    ("FRZ-01", "Upright freezer -80", "-80C", 5, 25, "SBS 8x12"),
    ("FRZ-02", "Upright freezer -80", "-80C", 5, 25, "SBS 8x12"),
    ("FRZ-03", "Upright freezer -80", "-80C", 5, 25, "SBS 8x12"),
    ("FRZ-04", "Upright freezer -80", "-80C", 5, 25, "SBS 8x12"),
    ("LN2-01", "LN2 vapour tank", "LN2", 2, 6, "Cryobox 10x10"),
    ("LN2-02", "LN2 vapour tank", "LN2", 2, 6, "Cryobox 10x10"),
    ("AS-01", "Automated store -20", "-20C", 3, 10, "SBS 8x12"),
]
BOX_TYPES = {"SBS 8x12": (8, 12, "letter-number"), "Cryobox 10x10": (10, 10, "sequential"),
             "Cryobox 9x9": (9, 9, "letter-number")}
UNIT_TYPES = {"Upright freezer -80": "freezer", "LN2 vapour tank": "tank", "Automated store -20": "automated_store"}

SPREC = {"BLD": "BLD-PED-A-N-N-N-A", "PL1": "PL1-PED-A-D-N-B-A", "SER": "SER-SST-A-D-N-B-A",
         "CEL": "CEL-CPT-A-M-N-B-E", "CRD": "CRD-CPD-C-N-N-N-Q", "TIS": "TIS-SRG-B-C-SNP-A-C",
         "FFPE": "TIS-BPS-N-B-NBF-E-P"}


@dataclass
class _Shelf:
    """Free positions of one temperature class, handed out box after box (what auto-placement does)."""

    slots: Iterator[str]

    def next(self) -> str:
        return next(self.slots)


def _slots(boxes: list[tuple[str, GridLayout]]) -> Iterator[str]:
    for path, layout in boxes:
        for label in layout.labels():
            yield f"{path}/{label}"


@dataclass
class _Writer:
    rows: list[str] = field(default_factory=list)
    sequence: int = 0

    def add(self, participant: str, type_: str, quantity: float | None, unit: str, collected: datetime,
            parent: str = "", sprec: str = "", location: str = "", status: str = "") -> str:
        self.sequence += 1
        barcode = service.SCHEME.barcode(self.sequence)
        qty = "" if quantity is None else f"{quantity:g}"
        self.rows.append(f"{barcode},{participant},{type_},{qty},{unit},{collected.isoformat()},{parent},{sprec},"
                         f"{location},{status}\n")
        return barcode


def _build_storage(db: Database) -> dict[str, _Shelf]:
    service.define_container_type(db, "Biobank site", kind="site", actor=ACTOR)
    for name, kind in UNIT_TYPES.items():
        service.define_container_type(db, name, kind=kind, actor=ACTOR)
    service.define_container_type(db, "Rack", kind="rack", actor=ACTOR)
    for name, (rows, columns, scheme) in BOX_TYPES.items():
        service.define_container_type(db, name, kind="box", rows=rows, columns=columns, scheme=scheme, actor=ACTOR)
    service.create_container(db, "ZJ", type_name="Biobank site", actor=ACTOR)
    by_class: dict[str, list[tuple[str, GridLayout]]] = {}
    for unit, unit_type, temp, racks, boxes, box_type in STORAGE:
        service.create_container(db, unit, type_name=unit_type, parent_path="ZJ", temperature_class=temp,
                                 actor=ACTOR)
        rows, columns, scheme = BOX_TYPES[box_type]
        for r in range(1, racks + 1):
            rack = f"ZJ/{unit}/R{r:02d}"
            service.create_container(db, f"R{r:02d}", type_name="Rack", parent_path=f"ZJ/{unit}", actor=ACTOR)
            for b in range(1, boxes + 1):
                box_name = f"{unit}-R{r:02d}-B{b:02d}"
                service.create_container(db, box_name, type_name=box_type, parent_path=rack, actor=ACTOR)
                by_class.setdefault(temp, []).append((f"{rack}/{box_name}",
                                                      GridLayout(rows, columns, LabelScheme(scheme))))
    return {temp: _Shelf(_slots(boxes)) for temp, boxes in by_class.items()}


# Six years of collections ending late in 2026, so the dashboard's last 24 months show a working bank.
DEMO_START = datetime(2020, 12, 1, 8, tzinfo=UTC)


def _participants_csv(rng: random.Random) -> bytes:
    lines = ["participant,sex,birth_year,site,consent_codes,consent_date,consent_scope\n"]
    for i in range(1, PARTICIPANTS + 1):
        primary = rng.choices(["DUO:0000042", "DUO:0000006", "DUO:0000007"], weights=[70, 20, 10])[0]
        modifiers = [m for m, p in (("DUO:0000021", 0.3), ("DUO:0000019", 0.2), ("DUO:0000046", 0.15))
                     if rng.random() < p]
        consent_date = DEMO_START.date() + timedelta(days=rng.randrange(6 * 365))
        birth = rng.randrange(1935, 2006) if i % 40 else rng.randrange(2019, 2025)  # a few newborns (cord blood)
        lines.append(f"P{i:06d},{rng.choice('FFMM' if i % 97 else 'U')},{birth},{rng.choice(SITES)},"
                     f"{';'.join([primary, *modifiers])},{consent_date.isoformat()},biobank general consent v2\n")
    return "".join(lines).encode()


def _specimens_csv(rng: random.Random, shelves: dict[str, _Shelf]) -> bytes:
    writer = _Writer()
    minus80, ln2, minus20 = shelves["-80C"], shelves["LN2"], shelves["-20C"]
    start = DEMO_START
    for i in range(1, PARTICIPANTS + 1):
        code = f"P{i:06d}"
        drawn = start + timedelta(days=rng.randrange(6 * 365), minutes=rng.randrange(600))
        if i % 40 == 0:  # a newborn: cord blood for the stem-cell registry
            crd = writer.add(code, "CRD", 80.0, "mL", drawn, sprec=SPREC["CRD"], status="consumed")
            for _ in range(2):
                writer.add("", "CEL", 50.0, "10^6 cells", drawn, parent=crd, location=ln2.next())
            continue
        blood = writer.add(code, "BLD", 9.0, "mL", drawn, sprec=SPREC["BLD"], status="consumed")
        plasma = writer.add("", "PL1", 4.5, "mL", drawn, parent=blood, sprec=SPREC["PL1"], status="consumed")
        for _ in range(rng.randint(10, 12)):
            writer.add("", "PL1", 0.5, "mL", drawn, parent=plasma, sprec=SPREC["PL1"], location=minus80.next())
        buffy = writer.add("", "BUF", 0.5, "mL", drawn, parent=blood, status="consumed")
        writer.add("", "DNA", round(rng.uniform(15, 60), 1), "µg", drawn, parent=buffy, location=minus20.next())
        serum = writer.add(code, "SER", 5.0, "mL", drawn, sprec=SPREC["SER"], status="consumed")
        for _ in range(rng.randint(6, 8)):
            writer.add("", "SER", 0.5, "mL", drawn, parent=serum, sprec=SPREC["SER"], location=minus80.next())
        if rng.random() < 0.3:
            for _ in range(2):
                writer.add("", "CEL", 5.0, "10^6 cells", drawn, parent=blood, sprec=SPREC["CEL"],
                           location=ln2.next())
        if rng.random() < 0.2:
            writer.add("", "RNA", round(rng.uniform(2, 12), 1), "µg", drawn, parent=blood, location=minus80.next())
        if rng.random() < 0.3:
            urine = writer.add(code, "URN", 20.0, "mL", drawn, status="consumed")
            for _ in range(2):
                writer.add("", "URN", 1.0, "mL", drawn, parent=urine, location=minus80.next())
        if rng.random() < 0.04:
            writer.add(code, "TIS", 40.0, "mg", drawn, sprec=SPREC["TIS"], location=ln2.next())
            writer.add(code, "TIS", 120.0, "mg", drawn, sprec=SPREC["FFPE"])  # FFPE block, kept at room temperature
    header = "barcode,participant,type,quantity,unit,collected_at,parent_barcode,sprec,location,status\n"
    return (header + "".join(writer.rows)).encode()


def _activity(db: Database, rng: random.Random) -> None:
    """A little life after collection: reservations, distributions, check-outs, QC, a few withdrawals."""
    _total, dna = service.search_specimens(db, service.SpecimenFilter(type="DNA"), limit=60)
    for item in dna[:40]:
        service.add_qc(db, item["barcode"], kind="DIN", value=round(rng.uniform(6.5, 9.8), 1), method="TapeStation",
                       actor=ACTOR)
    _total, plasma = service.search_specimens(db, service.SpecimenFilter(type="PL1", status="available"),
                                              limit=300)
    picked = plasma[::10]
    service.reserve_specimens(db, [p["barcode"] for p in picked[:12]], purpose="Proteomics pilot (study SH-2026-07)",
                              actor="manager")
    for item in picked[12:20]:
        service.change_status(db, item["barcode"], "distributed", note="MTA-2026-031", actor="manager")
    for item in picked[20:26]:
        service.change_status(db, item["barcode"], "in_use", actor="tech")
        service.change_status(db, item["barcode"], "available", actor="tech")
    for code in ("P001234", "P001777", "P001999"):
        service.withdraw_consent(db, code, reason="participant request", actor="manager")


def load_demo(db: Database, progress_bar: ProgressFactory) -> None:
    """Idempotent: does nothing when the demo participants are already there."""
    with db.session() as session:
        if (session.scalar(select(func.count()).select_from(Participant)) or 0) > 0:
            return
    rng = random.Random(SEED)
    shelves = _build_storage(db)
    imports.import_participants(db, _participants_csv(rng), actor=ACTOR, progress=progress_bar)
    imports.import_specimens(db, _specimens_csv(rng, shelves), actor=ACTOR, progress=progress_bar)
    _activity(db, rng)
