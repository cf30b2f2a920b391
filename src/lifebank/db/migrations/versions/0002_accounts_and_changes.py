"""accounts and changes: users' last login and time zone; the ledger keeps what each event changed

Revision ID: 0002_accounts_and_changes
Revises: 0001_foundation
Create Date: 2026-11-30 04:40:00

The ledger's hash chain has always covered a digest of each change; the change itself now sits beside
it in `ledger_change` (one row per event, no foreign key, so tamper tests and erasure of personal data
never touch the chain). The event page shows it and checks it against the digest.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lifebank.db.base

revision: str = '0002_accounts_and_changes'
down_revision: str | Sequence[str] | None = '0001_foundation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('auth_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('last_login_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=True))
    op.create_table('ledger_change',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('change_json', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_ledger_change'))
    )
    with op.batch_alter_table('ledger_event', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_event_occurred_at', ['occurred_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ledger_event', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_event_occurred_at')
    op.drop_table('ledger_change')
    with op.batch_alter_table('auth_user', schema=None) as batch_op:
        batch_op.drop_column('last_login_at')
        batch_op.drop_column('time_zone')
