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


def test_consent_signatures_are_filled_from_the_consents_in_force(db: Database) -> None:
    """biobank_0006 points each participant at the signature of their newest consent not withdrawn (none when
    every consent is withdrawn or none was given); the date is kept for a time limit (TS) only, and a consent
    recorded afterwards with the same codes, date and scope finds the migration's signature (same digest)."""
    from datetime import date

    from lifebank.biobank import service as bb

    command.downgrade(migrate.alembic_config(db), "biobank@biobank_0005")
    with db.transaction() as session:
        people = ", ".join(f"({i}, 'P{i}', 'F', 1980, 'SH', '2024-01-01 00:00:00')" for i in range(1, 6))
        session.execute(text(f"INSERT INTO bb_participant (id, code, sex, birth_year, site, created_at) "
                             f"VALUES {people}"))
        session.execute(text("INSERT INTO bb_consent (id, participant_id, version, consent_date, scope, withdrawn_at) "
                             "VALUES (10, 1, 1, '2024-01-01', '', NULL), "
                             "(11, 1, 2, '2024-05-01', 'disease=C50', NULL), "
                             "(20, 2, 1, '2024-01-01', '', '2024-06-01 00:00:00'), "
                             "(30, 3, 1, '2024-02-02', 'months=12', NULL), (40, 4, 1, '2024-03-03', '', NULL)"))
        session.execute(text("INSERT INTO bb_consent_code (consent_id, duo_code, participant_id, in_force) VALUES "
                             "(10, 'DUO:0000042', 1, true), (11, 'DUO:0000007', 1, true), "
                             "(20, 'DUO:0000042', 2, false), (30, 'DUO:0000042', 3, true), "
                             "(30, 'DUO:0000025', 3, true), (40, 'DUO:0000042', 4, true), "
                             "(40, 'DUO:0000021', 4, true)"))
    migrate.upgrade(db)
    query = text("SELECT p.code, s.codes, s.consent_date, s.scope FROM bb_participant p LEFT JOIN "
                 "bb_consent_signature s ON s.id = p.consent_signature_id ORDER BY p.code")
    with db.session() as session:
        rows = [(code, codes, None if day is None else str(day)[:10], scope)
                for code, codes, day, scope in session.execute(query)]
        signatures = session.execute(text("SELECT count(*) FROM bb_consent_signature")).scalar()
    assert rows == [("P1", "DUO:0000007", None, "disease=C50"), ("P2", None, None, None),
                    ("P3", "DUO:0000025;DUO:0000042", "2024-02-02", "months=12"),
                    ("P4", "DUO:0000021;DUO:0000042", None, ""), ("P5", None, None, None)]
    assert signatures == 3
    bb.record_consent(db, "P5", duo_codes="DUO:0000042;DUO:0000021", consent_date=date(2025, 1, 1), actor="t")
    bb.record_consent(db, "P2", duo_codes="DUO:0000006", consent_date=date(2025, 1, 1), actor="t")
    with db.session() as session:
        ids = dict(session.execute(text("SELECT code, consent_signature_id FROM bb_participant")).all())
        assert session.execute(text("SELECT count(*) FROM bb_consent_signature")).scalar() == 4
    assert ids["P5"] == ids["P4"] and ids["P2"] not in (None, ids["P4"])
    bb.withdraw_consent(db, "P4", reason="asked", actor="t")
    with db.session() as session:
        assert session.execute(text("SELECT consent_signature_id FROM bb_participant WHERE code = 'P4'")).scalar() \
            is None
