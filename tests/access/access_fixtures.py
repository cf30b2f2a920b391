"""Access test fixtures: a small bank (a freezer with two boxes), participants with different consents,
serum tubes stored in boxes, organisations (the bank, a hospital, a company abroad) and their users."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from lifebank import auth as auth_domain
from lifebank.access import service
from lifebank.auth import service as auth
from lifebank.biobank import imports
from lifebank.biobank import service as bb
from lifebank.db.engine import Database

ACTOR = "tester"
PASSWORD = "Correct-horse-battery-9"  # tests/conftest.py TEST_PASSWORD: the live server logs in with it

# participant -> DUO codes of their consent (GRU, HMB, DS with scope, NPU, IRB)
CONSENTS = {
    "P000001": ("DUO:0000042", ""),                       # GRU
    "P000002": ("DUO:0000006", ""),                       # HMB only
    "P000003": ("DUO:0000007", "disease=C50"),            # DS breast cancer
    "P000004": ("DUO:0000042;DUO:0000045", ""),           # GRU + NPU
    "P000005": ("DUO:0000042;DUO:0000021", ""),           # GRU + IRB
    "P000006": ("DUO:0000042", ""),                       # GRU, withdrawn later in some tests
}


@dataclass
class Bank:
    db: Database

    def principal(self, username: str) -> auth.Principal:
        return auth.principal_of(auth.get_user(self.db, username))

    def draft(self, **changes: object) -> service.RequestDraft:
        values: dict[str, object] = {"title": "Serum proteomics", "organisation": "Hospital A",
                                     "purposes": ["HMB"], "items": [service.Item("SER", 1)]}
        values.update(changes)
        return service.RequestDraft(**values)  # type: ignore[arg-type]


def build_bank(db: Database) -> Bank:
    bb.define_container_type(db, "Upright -80", kind="freezer", actor=ACTOR)
    bb.define_container_type(db, "Rack", kind="rack", actor=ACTOR)
    bb.define_container_type(db, "Box 9x9", kind="box", rows=9, columns=9, scheme="letter-number", actor=ACTOR)
    bb.create_container(db, "FRZ-02", type_name="Upright -80", temperature_class="-80C", actor=ACTOR)
    bb.create_container(db, "FRZ-01", type_name="Upright -80", temperature_class="-80C", actor=ACTOR)
    for freezer in ("FRZ-01", "FRZ-02"):
        bb.create_container(db, "R01", type_name="Rack", parent_path=freezer, actor=ACTOR)
        for box in ("BOX-2", "BOX-10"):
            bb.create_container(db, box, type_name="Box 9x9", parent_path=f"{freezer}/R01", actor=ACTOR)
    places = ["FRZ-02/R01/BOX-10/A1", "FRZ-01/R01/BOX-10/B2", "FRZ-01/R01/BOX-2/C3", "FRZ-02/R01/BOX-2/A1",
              "FRZ-01/R01/BOX-2/A1", "FRZ-01/R01/BOX-10/A1"]
    people = ["participant,sex,birth_year,site,consent_codes,consent_date,consent_scope\n"]
    tubes = ["barcode,participant,type,quantity,unit,collected_at,parent_barcode,sprec,location\n"]
    n = 0
    for code, (codes, scope) in CONSENTS.items():
        people.append(f"{code},F,1970,SH,{codes},2024-01-02,{scope}\n")
        for tube in range(2):  # two serum tubes each: the last one is kept unless allowed
            location = places[n % len(places)].rsplit("/", 1)[0] + f"/{'ABCDEFGHI'[n // 9]}{n % 9 + 1}"
            tubes.append(f"S{code[1:]}-{tube},{code},SER,1.0,mL,2024-03-01T08:00:00Z,,SER-SST-A-D-N-B-A,{location}\n")
            n += 1
    imports.import_participants(db, "".join(people).encode(), actor=ACTOR)
    imports.import_specimens(db, "".join(tubes).encode(), actor=ACTOR)
    auth_domain.create_organisation(db, "LifeBank", country="CN", kind="bank", actor=ACTOR)
    auth_domain.create_organisation(db, "Hospital A", country="CN", kind="hospital", actor=ACTOR)
    auth_domain.create_organisation(db, "Pharma GmbH", country="DE", kind="company", actor=ACTOR)
    auth_domain.create_organisation(db, "Other Hospital", country="CN", kind="hospital", actor=ACTOR)
    auth.create_user(db, "manager", PASSWORD, ["biobank_manager"], organisation="LifeBank")
    auth.create_user(db, "tech", PASSWORD, ["technician"], organisation="LifeBank")
    auth.create_user(db, "rev1", PASSWORD, ["researcher"], organisation="LifeBank")
    auth.create_user(db, "rev2", PASSWORD, ["biobank_manager"], organisation="LifeBank")
    auth.create_user(db, "alice", PASSWORD, ["researcher"], organisation="Hospital A")
    auth.create_user(db, "pharma", PASSWORD, ["partner"], organisation="Pharma GmbH")
    auth.create_user(db, "other", PASSWORD, ["partner"], organisation="Other Hospital")
    return Bank(db)


_HASHES: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _one_argon2_hash_per_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture makes seven users with one password: each Argon2id hash costs ~0.1-0.8 s of CPU, so the
    first real hash of a password is kept and reused (it is a valid hash of that password, with its salt)."""
    from lifebank.auth import passwords

    def cached(password: str) -> str:
        if password not in _HASHES:
            _HASHES[password] = passwords.hash_password(password)
        return _HASHES[password]

    monkeypatch.setattr(auth, "hash_password", cached)


@pytest.fixture
def bank(db: Database) -> Bank:
    return build_bank(db)
