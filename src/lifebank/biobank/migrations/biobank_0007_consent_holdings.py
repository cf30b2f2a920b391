"""biobank: what each consent's participants hold, kept by triggers, so feasibility counts need no scan

Revision ID: biobank_0007
Revises: biobank_0006
Create Date: 2026-11-30 16:10:00

An access request's feasibility (issue 11) asks: of the participants holding an available tube of the
requested types, how many does each consent in force let in, and how many distributable tubes do they hold?
Answered from the specimens it reads a million tubes (~1 s at 1 M participants); asked on every edit of a
request form, it must answer in milliseconds. So the bank keeps the answer's parts:

- `bb_participant.available_types`: the specimen types a participant holds at least one available tube of,
  sorted and ','-joined ('' for none);
- `bb_consent_holding`: participants per (consent signature, available types) - the union of any set of
  types is then a sum over the few rows whose types meet it;
- `bb_consent_type_tally`: available, distributable tubes per (consent signature, type).

Signature 0 stands for "no consent in force". As with `bb_specimen_tally` (biobank_0005), database triggers
keep them in the writer's transaction, whatever writes: SQLite per row, PostgreSQL once per statement over
the transition tables; a SQLite bulk specimen import takes its insert trigger out and adds the same, grouped
(lifebank.biobank.tally).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "biobank_0007"
down_revision: str | Sequence[str] | None = "biobank_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOLDING = "bb_consent_holding (signature_id, types, n)"
HOLDING_UPSERT = "ON CONFLICT (signature_id, types) DO UPDATE SET n = bb_consent_holding.n + excluded.n"
TYPES = "bb_consent_type_tally (signature_id, type, n)"
TYPES_UPSERT = "ON CONFLICT (signature_id, type) DO UPDATE SET n = bb_consent_type_tally.n + excluded.n"


# --- SQLite: per row -----------------------------------------------------------------------------------------

def _types_of(participant: str) -> str:
    """The sorted, ','-joined types `participant` holds an available tube of. SQLite keeps the subquery's
    order for group_concat (an aggregate over an ordered subquery is not flattened)."""
    return ("(SELECT coalesce(group_concat(type, ','), '') FROM (SELECT DISTINCT type FROM bb_specimen "
            f"WHERE participant_id = {participant} AND status = 'available' ORDER BY type))")


def _sqlite_tube(row: str, sign: str) -> str:
    """One specimen row's available, distributable tube counted for its participant's consent."""
    return (f"INSERT INTO {TYPES} SELECT coalesce(p.consent_signature_id, 0), {row}.type, {sign}1 "
            f"FROM bb_participant p WHERE p.id = {row}.participant_id AND {row}.status = 'available' "
            f"AND {row}.distributable {TYPES_UPSERT};\n")


def _sqlite_holding(participant: str) -> str:
    """The participant's available types again (an UPDATE only when they changed, which moves the holding)."""
    return (f"UPDATE bb_participant SET available_types = {_types_of(participant)} WHERE id = {participant} "
            f"AND available_types IS NOT {_types_of(participant)};\n")


def _sqlite_move(row: str, sign: str) -> str:
    """A participant's holding, and (when its consent changed) its tubes, leaving or joining a consent."""
    return (f"INSERT INTO {HOLDING} SELECT coalesce({row}.consent_signature_id, 0), {row}.available_types, {sign}1 "
            f"WHERE {row}.available_types <> '' {HOLDING_UPSERT};\n"
            f"INSERT INTO {TYPES} SELECT coalesce({row}.consent_signature_id, 0), type, {sign}count(*) "
            f"FROM bb_specimen WHERE participant_id = {row}.id AND status = 'available' AND distributable "
            "AND OLD.consent_signature_id IS NOT NEW.consent_signature_id "
            f"GROUP BY type {TYPES_UPSERT};\n")


SQLITE_TRIGGERS = {
    # A bulk import drops this one inside its own transaction and adds the same, grouped
    # (lifebank.biobank.tally.bulk_specimen_tallies).
    "bb_specimen_holding_insert": (
        "AFTER INSERT ON bb_specimen FOR EACH ROW WHEN NEW.status = 'available' AND NEW.participant_id IS NOT NULL "
        "BEGIN\n" + _sqlite_tube("NEW", "") + _sqlite_holding("NEW.participant_id") + "END"),
    "bb_specimen_holding_delete": (
        "AFTER DELETE ON bb_specimen FOR EACH ROW WHEN OLD.status = 'available' AND OLD.participant_id IS NOT NULL "
        "BEGIN\n" + _sqlite_tube("OLD", "-") + _sqlite_holding("OLD.participant_id") + "END"),
    "bb_specimen_holding_update": (
        "AFTER UPDATE OF status, type, participant_id, distributable ON bb_specimen FOR EACH ROW "
        "WHEN (OLD.status = 'available' OR NEW.status = 'available') AND (OLD.status IS NOT NEW.status "
        "OR OLD.type IS NOT NEW.type OR OLD.participant_id IS NOT NEW.participant_id "
        "OR OLD.distributable IS NOT NEW.distributable) BEGIN\n"
        + _sqlite_tube("OLD", "-") + _sqlite_tube("NEW", "")
        + _sqlite_holding("OLD.participant_id") + _sqlite_holding("NEW.participant_id") + "END"),
    "bb_participant_holding_insert": (
        "AFTER INSERT ON bb_participant FOR EACH ROW WHEN NEW.available_types <> '' BEGIN\n"
        f"INSERT INTO {HOLDING} VALUES (coalesce(NEW.consent_signature_id, 0), NEW.available_types, 1) "
        f"{HOLDING_UPSERT};\nEND"),
    "bb_participant_holding_delete": (
        "AFTER DELETE ON bb_participant FOR EACH ROW WHEN OLD.available_types <> '' BEGIN\n"
        f"INSERT INTO {HOLDING} VALUES (coalesce(OLD.consent_signature_id, 0), OLD.available_types, -1) "
        f"{HOLDING_UPSERT};\nEND"),
    "bb_participant_holding_update": (
        "AFTER UPDATE OF consent_signature_id, available_types ON bb_participant FOR EACH ROW "
        "WHEN OLD.consent_signature_id IS NOT NEW.consent_signature_id "
        "OR OLD.available_types IS NOT NEW.available_types BEGIN\n"
        + _sqlite_move("OLD", "-") + _sqlite_move("NEW", "") + "END"),
}


# --- PostgreSQL: per statement -------------------------------------------------------------------------------
# The statements that read the bank's tables run through EXECUTE, planned at each firing: PL/pgSQL keeps a
# static statement's plan for the session, and a plan made while bb_specimen held a handful of rows (a scan
# per participant) turned a later 100,000-tube import into minutes. Each function first asks its transition
# tables alone (no bank table, so any plan is right) whether the statement changed anything it counts.

_NO_PARTICIPANTS = ("(SELECT NULL::bigint AS id, NULL::bigint AS consent_signature_id, "
                    "NULL::text AS available_types WHERE false)")
_SPECIMEN_COLUMNS = "id, participant_id, type, status, distributable"


def _pg_specimen_rows(new: str | None, old: str | None) -> str:
    """The statement's specimen rows that count, each +1 (arriving) or -1 (leaving); an UPDATE's rows that
    kept participant, type, status and the distributable flag do not count. An UPDATE's changes are set
    differences of its transition tables (hashed, linear): a join of the two was planned as a nested loop that
    read one table once per row of the other."""
    if new and old:
        arriving = f"SELECT {_SPECIMEN_COLUMNS} FROM {new} EXCEPT ALL SELECT {_SPECIMEN_COLUMNS} FROM {old}"
        leaving = f"SELECT {_SPECIMEN_COLUMNS} FROM {old} EXCEPT ALL SELECT {_SPECIMEN_COLUMNS} FROM {new}"
        return (f"SELECT participant_id, type::text AS type, status::text AS status, distributable, 1 AS d "
                f"FROM ({arriving}) n UNION ALL SELECT participant_id, type::text, status::text, distributable, -1 "
                f"FROM ({leaving}) o")
    table, sign = (new, 1) if new else (old, -1)
    return (f"SELECT participant_id, type::text AS type, status::text AS status, distributable, {sign} AS d "
            f"FROM {table}")


def _pg_specimens(new: str | None, old: str | None) -> str:
    rows = _pg_specimen_rows(new, old)
    # Per (participant, type) first: a bulk COPY's half-million tubes are a fifth as many pairs.
    pairs = (f"SELECT participant_id, type, sum(d) AS d FROM ({rows}) r WHERE status = 'available' "
             "AND distributable AND participant_id IS NOT NULL GROUP BY 1, 2 HAVING sum(d) <> 0")
    tubes = (f"INSERT INTO {TYPES} SELECT coalesce(p.consent_signature_id, 0), r.type, sum(r.d) FROM ({pairs}) r "
             f"JOIN bb_participant p ON p.id = r.participant_id GROUP BY 1, 2 HAVING sum(r.d) <> 0 {TYPES_UPSERT}")
    if new and not old:
        # New tubes only add: a participant's types become theirs plus the new ones (no bank table read
        # but the participants').
        holdings = (
            "UPDATE bb_participant p SET available_types = array_to_string(ARRAY(SELECT DISTINCT x FROM "
            "unnest(string_to_array(nullif(p.available_types, ''), ',') || a.types) x ORDER BY x), ',') "
            "FROM (SELECT participant_id, array_agg(DISTINCT type::text) AS types FROM new_rows "
            "WHERE status = 'available' AND participant_id IS NOT NULL GROUP BY 1) a "
            "WHERE p.id = a.participant_id AND NOT string_to_array(p.available_types, ',') @> a.types")
    else:
        # Tubes leaving may take a type away: the touched participants' types read again, once each (a
        # materialised list joined to the tubes, so no plan can read the tubes once per participant).
        holdings = (
            f"WITH touched AS MATERIALIZED (SELECT DISTINCT participant_id AS id FROM ({rows}) r "
            "WHERE status = 'available' AND participant_id IS NOT NULL), "
            "now_ AS MATERIALIZED (SELECT t.id, coalesce(string_agg(DISTINCT s.type::text, ',' "
            "ORDER BY s.type::text), '') AS types FROM touched t LEFT JOIN bb_specimen s "
            "ON s.participant_id = t.id AND s.status = 'available' GROUP BY t.id) "
            "UPDATE bb_participant p SET available_types = now_.types FROM now_ WHERE p.id = now_.id "
            "AND p.available_types IS DISTINCT FROM now_.types")
    return (f"IF NOT EXISTS (SELECT 1 FROM ({rows}) r WHERE r.status = 'available' AND r.participant_id IS NOT NULL) "
            f"THEN RETURN NULL; END IF;\nEXECUTE $q${tubes}$q$;\nEXECUTE $q${holdings}$q$")


def _pg_participants(new: str | None, old: str | None) -> str:
    new_rows, old_rows = new or _NO_PARTICIPANTS, old or _NO_PARTICIPANTS
    holding = (  # transition tables only: a static statement
        f"INSERT INTO {HOLDING} SELECT sig, types, sum(d) FROM ("
        f"SELECT coalesce(consent_signature_id, 0) AS sig, available_types::text AS types, 1 AS d FROM {new_rows} n "
        "WHERE available_types <> '' UNION ALL SELECT coalesce(consent_signature_id, 0), available_types::text, -1 "
        f"FROM {old_rows} o WHERE available_types <> '') h GROUP BY 1, 2 HAVING sum(d) <> 0 {HOLDING_UPSERT}")
    if not (new and old):  # a new participant holds no tube yet; one deleted held none any more
        return holding
    # the participants whose consent changed, as set differences (see _pg_specimen_rows): now and before
    signed = "SELECT id, consent_signature_id FROM {0} EXCEPT SELECT id, consent_signature_id FROM {1}"
    moved_to, moved_from = signed.format(new, old), signed.format(old, new)
    tubes = (f"INSERT INTO {TYPES} SELECT m.sig, s.type, sum(m.d) FROM ("
             f"SELECT id, coalesce(consent_signature_id, 0) AS sig, 1 AS d FROM ({moved_to}) n "
             f"UNION ALL SELECT id, coalesce(consent_signature_id, 0), -1 FROM ({moved_from}) o) m "
             "JOIN bb_specimen s ON s.participant_id = m.id AND s.status = 'available' AND s.distributable "
             f"GROUP BY 1, 2 HAVING sum(m.d) <> 0 {TYPES_UPSERT}")
    return f"{holding};\nIF EXISTS ({moved_to}) THEN EXECUTE $q${tubes}$q$; END IF"


def _pg_function(name: str, body: str) -> str:
    return f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body}; RETURN NULL; END $$"


PG_TRIGGERS = [  # (trigger, event, table, transition tables, statement)
    ("bb_specimen_holding_insert", "INSERT", "bb_specimen", "NEW TABLE AS new_rows",
     _pg_specimens("new_rows", None)),
    ("bb_specimen_holding_delete", "DELETE", "bb_specimen", "OLD TABLE AS old_rows",
     _pg_specimens(None, "old_rows")),
    ("bb_specimen_holding_update", "UPDATE", "bb_specimen", "OLD TABLE AS old_rows NEW TABLE AS new_rows",
     _pg_specimens("new_rows", "old_rows")),
    ("bb_participant_holding_insert", "INSERT", "bb_participant", "NEW TABLE AS new_rows",
     _pg_participants("new_rows", None)),
    ("bb_participant_holding_delete", "DELETE", "bb_participant", "OLD TABLE AS old_rows",
     _pg_participants(None, "old_rows")),
    ("bb_participant_holding_update", "UPDATE", "bb_participant", "OLD TABLE AS old_rows NEW TABLE AS new_rows",
     _pg_participants("new_rows", "old_rows")),
]


def _backfill(connection: sa.engine.Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text(
            "UPDATE bb_participant p SET available_types = x.types FROM (SELECT participant_id, "
            "string_agg(type, ',' ORDER BY type) AS types FROM (SELECT DISTINCT participant_id, type::text AS type "
            "FROM bb_specimen WHERE status = 'available' AND participant_id IS NOT NULL) d GROUP BY participant_id) x "
            "WHERE p.id = x.participant_id"))
    else:  # the triggers' own expression, so that a later change finds the very same text
        connection.execute(sa.text(
            f"UPDATE bb_participant SET available_types = {_types_of('bb_participant.id')} "
            "WHERE id IN (SELECT participant_id FROM bb_specimen WHERE status = 'available')"))
    connection.execute(sa.text(
        f"INSERT INTO {HOLDING} SELECT coalesce(consent_signature_id, 0), available_types, count(*) "
        "FROM bb_participant WHERE available_types <> '' GROUP BY 1, 2"))
    connection.execute(sa.text(
        f"INSERT INTO {TYPES} SELECT coalesce(p.consent_signature_id, 0), s.type, count(*) FROM bb_specimen s "
        "JOIN bb_participant p ON p.id = s.participant_id WHERE s.status = 'available' AND s.distributable "
        "GROUP BY 1, 2"))


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.add_column("bb_participant", sa.Column("available_types", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "bb_consent_holding",
        sa.Column("signature_id", big_id, nullable=False),  # 0: no consent in force
        sa.Column("types", sa.Text(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("signature_id", "types", name=op.f("pk_bb_consent_holding")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "bb_consent_type_tally",
        sa.Column("signature_id", big_id, nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("signature_id", "type", name=op.f("pk_bb_consent_type_tally")),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    _backfill(bind)
    if bind.dialect.name == "postgresql":
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
    op.drop_table("bb_consent_type_tally")
    op.drop_table("bb_consent_holding")
    op.drop_column("bb_participant", "available_types")  # SQLite >= 3.35 drops it in place
