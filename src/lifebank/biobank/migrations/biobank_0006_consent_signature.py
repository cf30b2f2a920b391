"""biobank: each participant's consent in force as a stored signature (codes, scope, date when TS needs it)

Revision ID: biobank_0006
Revises: biobank_0005
Create Date: 2026-11-30 13:30:00

Consent matching of an access request (issue 11) decides per distinct consent in force, but finding each
candidate's consent meant reading their newest consent and its code rows: ~3 s of CPU per million candidates
on SQLite, the floor of that schema. `bb_consent_signature` keeps each distinct consent (DUO codes sorted and
';'-joined, scope text, the date only when a time limit DUO:0000025 makes it matter) once, keyed by a SHA-256
digest, and `bb_participant.consent_signature_id` points at the participant's (NULL: no consent in force),
indexed with the participant code so a group's members are one index range in code order. The consent writes
and the participant import keep it in their transaction (lifebank.biobank.consent_signatures); this migration
fills it for the participants already in the bank.
"""

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = "biobank_0006"
down_revision: str | Sequence[str] | None = "biobank_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME_LIMIT = "DUO:0000025"
CHUNK = 5000


def _digest(codes: str, day: date | None, scope: str) -> str:  # as lifebank.biobank.consent_signatures.digest
    return hashlib.sha256(f"{codes}\x1f{day.isoformat() if day else ''}\x1f{scope}".encode()).hexdigest()


def _backfill(connection: sa.engine.Connection) -> None:
    """The newest consent not withdrawn of each participant, its codes read in order, grouped by signature."""
    in_force: dict[int, tuple[int, list[str], object, str]] = {}
    rows = connection.execute(  # streamed: the options on the statement, not on the migration's connection
        sa.text(
            "SELECT c.participant_id, c.id, c.consent_date, c.scope, cc.duo_code FROM bb_consent c "
            "JOIN bb_consent_code cc ON cc.consent_id = c.id WHERE c.withdrawn_at IS NULL"
        ).execution_options(stream_results=True, yield_per=50_000)
    )
    for participant, consent, day, scope, code in rows:
        known = in_force.get(participant)
        if known is None or known[0] < consent:
            in_force[participant] = (consent, [code], day, scope)
        elif known[0] == consent:
            known[1].append(code)
    members: dict[tuple[str, date | None, str], list[int]] = defaultdict(list)
    for participant, (_consent, codes, day, scope) in in_force.items():
        ordered = sorted(set(codes))
        when = None
        if TIME_LIMIT in ordered and day is not None:
            when = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
        members[(";".join(ordered), when, scope or "")].append(participant)
    signature = sa.table(
        "bb_consent_signature",
        sa.column("id"),
        sa.column("digest"),
        sa.column("codes"),
        sa.column("consent_date", sa.Date),
        sa.column("scope"),
    )
    update = sa.text("UPDATE bb_participant SET consent_signature_id = :signature WHERE id IN :ids").bindparams(
        sa.bindparam("ids", expanding=True)
    )
    for number, ((codes, day, scope), ids) in enumerate(members.items(), start=1):
        connection.execute(
            signature.insert().values(
                id=number, digest=_digest(codes, day, scope), codes=codes, consent_date=day, scope=scope
            )
        )
        ids.sort()
        for start in range(0, len(ids), CHUNK):
            connection.execute(update, {"signature": number, "ids": ids[start : start + CHUNK]})
    if connection.dialect.name == "postgresql" and members:  # explicit ids: move the sequence past them
        connection.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('bb_consent_signature', 'id'), :last)"),
            {"last": len(members)},
        )


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "bb_consent_signature",
        sa.Column("id", big_id, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("codes", sa.Text(), nullable=False),
        sa.Column("consent_date", sa.Date(), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bb_consent_signature")),
        sa.UniqueConstraint("digest", name=op.f("uq_bb_consent_signature_digest")),
    )
    # ADD COLUMN without a foreign key: SQLite adds it in place (a constraint would rebuild the table).
    op.add_column("bb_participant", sa.Column("consent_signature_id", big_id, nullable=True))
    _backfill(op.get_bind())
    op.create_index("ix_bb_participant_consent_signature", "bb_participant", ["consent_signature_id", "code"])


def downgrade() -> None:
    op.drop_index("ix_bb_participant_consent_signature", table_name="bb_participant")
    with op.batch_alter_table("bb_participant", schema=None) as batch_op:
        batch_op.drop_column("consent_signature_id")
    op.drop_table("bb_consent_signature")
