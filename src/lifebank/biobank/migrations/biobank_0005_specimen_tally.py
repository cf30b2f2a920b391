"""biobank: specimen tallies per (box, type, status, consent code), kept by the database's own triggers

Revision ID: biobank_0005
Revises: biobank_0004
Create Date: 2026-11-30 05:30:00

Every specimen list asks for its exact total. Counting "available plasma of DUO:0000042 donors in one
freezer" means reading 50,000 index entries and probing the consent codes for each (80-140 ms at 10 M
specimens on a busy 2-core machine). `bb_specimen_tally` holds, per direct container (0: not stored), type
and status, the number of specimens (duo_code '') and the number whose participant has each DUO code in
force; a freezer's total is then the sum of ~1,000 box rows (~1 ms).

Triggers keep it, not the Python write paths: every write (registration, imports, moves, status changes,
consent withdrawal, deletes, even raw SQL) updates it in the writer's own transaction, and no future write
path can forget to. SQLite fires them per row, in statement order, so each trigger sees the rows before it;
PostgreSQL runs them per statement over the transition tables (a COPY of 500,000 specimens adds one grouped
upsert, not 500,000 function calls); on SQLite a bulk import drops the per-row insert trigger inside its
own transaction and adds the same counts grouped (lifebank.biobank.tally). A consent code changes a participant's tallies only when the code's
state for that participant flips (another consent version may carry the same code).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'biobank_0005'
down_revision: str | Sequence[str] | None = 'biobank_0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPSERT = ("ON CONFLICT (container_id, type, status, duo_code) "
          "DO UPDATE SET n = bb_specimen_tally.n + excluded.n")
COLUMNS = "bb_specimen_tally (container_id, type, status, duo_code, n)"


def _sqlite_specimen(row: str, sign: str) -> str:
    """One specimen row's contribution: its own tally and one per DUO code its participant has in force."""
    return (f"INSERT INTO {COLUMNS} VALUES (coalesce({row}.container_id, 0), {row}.type, {row}.status, '', "
            f"{sign}1) {UPSERT};\n"
            f"INSERT INTO {COLUMNS} SELECT DISTINCT coalesce({row}.container_id, 0), {row}.type, {row}.status, "
            f"duo_code, {sign}1 FROM bb_consent_code WHERE participant_id = {row}.participant_id AND in_force "
            f"{UPSERT};\n")


def _sqlite_participant(participant: str, code: str, sign: str) -> str:
    """A participant's specimens gain or lose one DUO code."""
    return (f"INSERT INTO {COLUMNS} SELECT coalesce(container_id, 0), type, status, {code}, {sign}count(*) "
            f"FROM bb_specimen WHERE participant_id = {participant} "
            f"GROUP BY coalesce(container_id, 0), type, status {UPSERT};\n")


def _others_in_force(participant: str, code: str, besides: str | None) -> str:
    other = f" AND o.consent_id <> {besides}" if besides else ""
    return (f"EXISTS (SELECT 1 FROM bb_consent_code o WHERE o.participant_id = {participant} "
            f"AND o.duo_code = {code} AND o.in_force{other})")


SQLITE_TRIGGERS = {
    # A bulk import drops this one inside its own transaction and adds the same counts grouped
    # (lifebank.biobank.tally.bulk_specimen_tallies): per row it would cost up to half the import rate.
    "bb_specimen_tally_insert": "AFTER INSERT ON bb_specimen FOR EACH ROW BEGIN\n"
                                + _sqlite_specimen("NEW", "") + "END",
    "bb_specimen_tally_delete": "AFTER DELETE ON bb_specimen FOR EACH ROW BEGIN\n"
                                + _sqlite_specimen("OLD", "-") + "END",
    "bb_specimen_tally_update": (
        "AFTER UPDATE OF container_id, type, status, participant_id ON bb_specimen FOR EACH ROW "
        "WHEN OLD.container_id IS NOT NEW.container_id OR OLD.type IS NOT NEW.type "
        "OR OLD.status IS NOT NEW.status OR OLD.participant_id IS NOT NEW.participant_id BEGIN\n"
        + _sqlite_specimen("OLD", "-") + _sqlite_specimen("NEW", "") + "END"),
    "bb_consent_code_tally_insert": (
        "AFTER INSERT ON bb_consent_code FOR EACH ROW WHEN NEW.in_force AND NEW.participant_id IS NOT NULL "
        f"AND NOT {_others_in_force('NEW.participant_id', 'NEW.duo_code', 'NEW.consent_id')} BEGIN\n"
        + _sqlite_participant("NEW.participant_id", "NEW.duo_code", "") + "END"),
    "bb_consent_code_tally_delete": (
        "AFTER DELETE ON bb_consent_code FOR EACH ROW WHEN OLD.in_force AND OLD.participant_id IS NOT NULL "
        f"AND NOT {_others_in_force('OLD.participant_id', 'OLD.duo_code', None)} BEGIN\n"
        + _sqlite_participant("OLD.participant_id", "OLD.duo_code", "-") + "END"),
    # An update is the old row leaving (if nothing else keeps its code in force now) and the new row
    # arriving (if nothing kept its code in force before, the old row included).
    "bb_consent_code_tally_update_old": (
        "AFTER UPDATE ON bb_consent_code FOR EACH ROW WHEN OLD.in_force AND OLD.participant_id IS NOT NULL "
        f"AND NOT {_others_in_force('OLD.participant_id', 'OLD.duo_code', None)} BEGIN\n"
        + _sqlite_participant("OLD.participant_id", "OLD.duo_code", "-") + "END"),
    "bb_consent_code_tally_update_new": (
        "AFTER UPDATE ON bb_consent_code FOR EACH ROW WHEN NEW.in_force AND NEW.participant_id IS NOT NULL "
        "AND NOT (OLD.in_force AND OLD.participant_id IS NEW.participant_id AND OLD.duo_code = NEW.duo_code) "
        f"AND NOT {_others_in_force('NEW.participant_id', 'NEW.duo_code', 'NEW.consent_id')} BEGIN\n"
        + _sqlite_participant("NEW.participant_id", "NEW.duo_code", "") + "END"),
}

_EMPTY_SPECIMENS = "(SELECT NULL::bigint AS container_id, NULL::text AS type, NULL::text AS status, " \
                   "NULL::bigint AS participant_id WHERE false) AS none_"
_EMPTY_CODES = "(SELECT NULL::bigint AS participant_id, NULL::text AS duo_code, NULL::boolean AS in_force " \
               "WHERE false) AS none_"


def _pg_specimens(new: str, old: str) -> str:
    """Rows leaving (old) and arriving (new) in one statement, grouped; unchanged rows of an UPDATE cancel."""
    return (f"INSERT INTO {COLUMNS} SELECT r.cid, r.type, r.status, k.duo_code, sum(r.d) FROM ("
            f"SELECT coalesce(container_id, 0) AS cid, type, status, participant_id, 1 AS d FROM {new} "
            f"UNION ALL SELECT coalesce(container_id, 0), type, status, participant_id, -1 FROM {old}) r "
            "CROSS JOIN LATERAL (SELECT ''::text AS duo_code UNION ALL SELECT DISTINCT c.duo_code::text "
            "FROM bb_consent_code c WHERE c.participant_id = r.participant_id AND c.in_force) k "
            f"GROUP BY r.cid, r.type, r.status, k.duo_code HAVING sum(r.d) <> 0 {UPSERT}")


def _pg_codes(new: str, old: str) -> str:
    """Codes whose in-force state flipped for a participant: rows in force now, against the count before
    (now minus the statement's arrivals plus its departures); their specimens gain or lose the code."""
    return (
        "WITH delta AS (SELECT participant_id, duo_code, sum(d) AS d FROM ("
        f"SELECT participant_id, duo_code::text AS duo_code, 1 AS d FROM {new} "
        "WHERE in_force AND participant_id IS NOT NULL "
        f"UNION ALL SELECT participant_id, duo_code::text, -1 FROM {old} "
        "WHERE in_force AND participant_id IS NOT NULL) x GROUP BY participant_id, duo_code HAVING sum(d) <> 0), "
        "states AS (SELECT delta.participant_id, delta.duo_code, delta.d, (SELECT count(*) FROM bb_consent_code c "
        "WHERE c.participant_id = delta.participant_id AND c.duo_code = delta.duo_code AND c.in_force) AS now "
        "FROM delta), "
        "flipped AS (SELECT participant_id, duo_code, CASE WHEN now > 0 THEN 1 ELSE -1 END AS sign FROM states "
        "WHERE (now > 0) <> (now - d > 0)) "
        f"INSERT INTO {COLUMNS} SELECT coalesce(s.container_id, 0), s.type, s.status, f.duo_code, sum(f.sign) "
        "FROM flipped f JOIN bb_specimen s ON s.participant_id = f.participant_id "
        f"GROUP BY coalesce(s.container_id, 0), s.type, s.status, f.duo_code HAVING sum(f.sign) <> 0 {UPSERT}")


def _pg_function(name: str, body: str) -> str:
    return (f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body}; RETURN NULL; "
            "END $$")


PG_TRIGGERS = [  # (trigger, event, table, transition tables, statement)
    ("bb_specimen_tally_insert", "INSERT", "bb_specimen", "NEW TABLE AS new_rows",
     _pg_specimens("new_rows", _EMPTY_SPECIMENS)),
    ("bb_specimen_tally_delete", "DELETE", "bb_specimen", "OLD TABLE AS old_rows",
     _pg_specimens(_EMPTY_SPECIMENS, "old_rows")),
    ("bb_specimen_tally_update", "UPDATE", "bb_specimen", "OLD TABLE AS old_rows NEW TABLE AS new_rows",
     _pg_specimens("new_rows", "old_rows")),
    ("bb_consent_code_tally_insert", "INSERT", "bb_consent_code", "NEW TABLE AS new_rows",
     _pg_codes("new_rows", _EMPTY_CODES)),
    ("bb_consent_code_tally_delete", "DELETE", "bb_consent_code", "OLD TABLE AS old_rows",
     _pg_codes(_EMPTY_CODES, "old_rows")),
    ("bb_consent_code_tally_update", "UPDATE", "bb_consent_code", "OLD TABLE AS old_rows NEW TABLE AS new_rows",
     _pg_codes("new_rows", "old_rows")),
]

BACKFILL = [
    f"INSERT INTO {COLUMNS} SELECT coalesce(container_id, 0), type, status, '', count(*) FROM bb_specimen "
    "GROUP BY coalesce(container_id, 0), type, status",
    f"INSERT INTO {COLUMNS} SELECT coalesce(s.container_id, 0), s.type, s.status, k.duo_code, count(*) "
    "FROM (SELECT DISTINCT participant_id, duo_code FROM bb_consent_code "
    "WHERE in_force AND participant_id IS NOT NULL) k JOIN bb_specimen s ON s.participant_id = k.participant_id "
    "GROUP BY coalesce(s.container_id, 0), s.type, s.status, k.duo_code",
]


def upgrade() -> None:
    op.create_table(
        'bb_specimen_tally',
        sa.Column('container_id', sa.BigInteger(), nullable=False),  # the direct container; 0: not stored
        sa.Column('type', sa.String(length=8), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('duo_code', sa.String(length=16), nullable=False),  # '': every specimen
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('container_id', 'type', 'status', 'duo_code', name=op.f('pk_bb_specimen_tally')),
        sqlite_with_rowid=False,
    )
    # A search without a container sums one (code, type, status) range over every box.
    op.create_index('ix_bb_specimen_tally_dimension', 'bb_specimen_tally',
                    ['duo_code', 'type', 'status', 'container_id', 'n'])
    for statement in BACKFILL:
        op.execute(statement)
    if op.get_bind().dialect.name == "postgresql":
        for trigger, event, table, transitions, statement in PG_TRIGGERS:
            op.execute(_pg_function(trigger, statement))
            op.execute(f"CREATE TRIGGER {trigger} AFTER {event} ON {table} REFERENCING {transitions} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION {trigger}()")
    else:
        for trigger, definition in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {trigger} {definition}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for trigger, _event, table, _transitions, _statement in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {trigger}()")
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.drop_index('ix_bb_specimen_tally_dimension', table_name='bb_specimen_tally')
    op.drop_table('bb_specimen_tally')
