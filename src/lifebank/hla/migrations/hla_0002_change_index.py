"""hla: index the change log by donor key (finds the last "re-resolve everything" marker cheaply)

Revision ID: hla_0002
Revises: hla_0001
Create Date: 2026-11-24 21:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'hla_0002'
down_revision: str | Sequence[str] | None = 'hla_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('hla_change', schema=None) as batch_op:
        batch_op.create_index('ix_hla_change_donor_key', ['donor_key', 'seq'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('hla_change', schema=None) as batch_op:
        batch_op.drop_index('ix_hla_change_donor_key')
