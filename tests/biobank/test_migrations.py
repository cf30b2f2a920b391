"""biobank_0003 fills the consent codes' copies of participant and in-force flag from the consents."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from lifebank.db import migrate
from lifebank.db.engine import Database


def test_consent_codes_learn_their_participant_and_withdrawal(db: Database) -> None:
    command.downgrade(migrate.alembic_config(db), "biobank@biobank_0002")
    with db.transaction() as session:
        session.execute(text("INSERT INTO bb_participant (id, code, sex, birth_year, site, created_at) VALUES "
                             "(1, 'P1', 'F', 1980, 'SH', '2024-01-01 00:00:00'), "
                             "(2, 'P2', 'M', 1980, 'SH', '2024-01-01 00:00:00')"))
        session.execute(text("INSERT INTO bb_consent (id, participant_id, version, consent_date, scope, withdrawn_at) "
                             "VALUES (10, 1, 1, '2024-01-01', '', NULL), "
                             "(20, 2, 1, '2024-01-01', '', '2024-06-01 00:00:00')"))
        session.execute(text("INSERT INTO bb_consent_code (consent_id, duo_code) VALUES "
                             "(10, 'DUO:0000042'), (10, 'DUO:0000021'), (20, 'DUO:0000042')"))
    migrate.upgrade(db)
    with db.session() as session:
        rows = session.execute(text("SELECT consent_id, duo_code, participant_id, in_force FROM bb_consent_code "
                                    "ORDER BY consent_id, duo_code")).all()
    assert [tuple(r) for r in rows] == [(10, "DUO:0000021", 1, True), (10, "DUO:0000042", 1, True),
                                        (20, "DUO:0000042", 2, False)]
