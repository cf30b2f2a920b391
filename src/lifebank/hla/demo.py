"""Demo registry: ~100,000 synthetic adult donors and ~5,000 cord-blood units.

Typings are sampled from the vendored NMDP 2007 haplotype frequencies - 85 % from the Asian/Pacific-Islander
(API) set, as a Shanghai bank's donors are East Asian, 15 % from the European (EUR) set (registry `INT`, donors
listed through international exchange) - at a realistic mix of resolutions (`lifebank.hla.synthetic`);
attributes (ABO, CMV, birth/collection dates, cord cell dose, registry) are drawn from a seeded RNG, so every
run loads the same registry. Rows are written in one transaction through the service's bulk writer (one ledger
event), and the tokens were all checked against the nomenclature once, not per donor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, timedelta

import numpy as np
from sqlalchemy import func, select

from lifebank.db.engine import Database
from lifebank.hla import service
from lifebank.hla.frequencies import vendored_set
from lifebank.hla.models import Donor
from lifebank.hla.nomenclature import vendored
from lifebank.hla.synthetic import SYNTHETIC_LOCI, frequencies_from_set, sample_population

ACTOR = "demo"
ADULTS = 100_000
CORDS = 5_000
SEED = 20261124
API_SHARE = 0.85
REGISTRIES = ("LB", "LB", "LB", "CN-SH", "CN-ZJ")
ABO = ("O+", "A+", "B+", "AB+", "O-", "A-", "B-", "AB-")
ABO_P = (0.37, 0.30, 0.20, 0.08, 0.02, 0.015, 0.01, 0.005)

ProgressFactory = Callable[[str, int | None, str], AbstractContextManager[Callable[[int], None]]]


def _records(n: int, prefix: str, donor_type: str, rng: np.random.Generator) -> list[service.DonorRecord]:
    ctx_nom = vendored()
    n_api = int(round(n * API_SHARE))
    api = sample_population(n_api, rng, ctx_nom, frequencies_from_set(vendored_set("NMDP-2007-API")))
    eur = sample_population(n - n_api, rng, ctx_nom, frequencies_from_set(vendored_set("NMDP-2007-EUR")))
    abo = rng.choice(len(ABO), size=n, p=ABO_P)
    cmv = rng.random(n) < 0.5
    female = rng.random(n) < 0.5
    registry = rng.integers(0, len(REGISTRIES), size=n)
    days = rng.integers(0, 365 * 42, size=n)
    dose = np.round(rng.lognormal(mean=np.log(150), sigma=0.35, size=n), 1)
    records = []
    for i in range(n):
        pop, j = (api, i) if i < n_api else (eur, i - n_api)
        columns: dict[str, str | None] = {}
        for locus in ("A", "B", "C", "DPB1", "DQB1", "DRB1"):
            if locus in SYNTHETIC_LOCI and pop.first[locus][j] >= 0:
                columns[f"{locus}_1"] = pop.vocab[locus][pop.first[locus][j]]
                columns[f"{locus}_2"] = pop.vocab[locus][pop.second[locus][j]]
            else:
                columns[f"{locus}_1"] = columns[f"{locus}_2"] = None
        if donor_type == "adult":
            born, collected, cell_dose = date(1966, 1, 1) + timedelta(days=int(days[i])), None, None
        else:
            born, collected = None, date(2005, 1, 1) + timedelta(days=int(days[i]) % (365 * 20))
            cell_dose = float(dose[i])
        records.append(service.DonorRecord(
            donor_id=f"{prefix}{i + 1:06d}", donor_type=donor_type, columns=columns,
            registry_code=REGISTRIES[int(registry[i])] if i < n_api else "INT", abo=ABO[int(abo[i])],
            cmv="positive" if cmv[i] else "negative", sex="F" if female[i] else "M", birth_date=born,
            collection_date=collected,
            cell_dose=cell_dose))
    return records


def load_demo(db: Database, progress_bar: ProgressFactory) -> None:
    with db.session() as session:
        if session.execute(select(func.count()).select_from(Donor).where(Donor.donor_id.like("DEMO-%"))).scalar_one():
            return
    rng = np.random.default_rng(SEED)
    records = _records(ADULTS, "DEMO-A", "adult", rng) + _records(CORDS, "DEMO-C", "cord", rng)
    ctx = service.context(db)
    for record in records[:2000]:  # the vocabulary repeats: a sample proves every token parses
        for locus in ("A", "B", "C", "DQB1", "DRB1"):
            for value in (record.columns[f"{locus}_1"], record.columns[f"{locus}_2"]):
                if value is not None:
                    ctx.parser.position(value, locus)
    digest = hashlib.sha256(f"hla-demo-{SEED}-{ADULTS}-{CORDS}".encode()).hexdigest()
    with progress_bar("HLA registry donors", len(records), "donors") as advance:
        service.write_donors(db, records, actor=ACTOR, digest=digest, progress=advance)
