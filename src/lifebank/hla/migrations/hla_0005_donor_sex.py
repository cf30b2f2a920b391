"""hla: a donor's sex (a coordinator weighs it: female donors with pregnancies carry HLA antibodies)

Revision ID: hla_0005
Revises: hla_0004
Create Date: 2026-11-30 08:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'hla_0005'
down_revision: str | Sequence[str] | None = 'hla_0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('hla_donor') as batch:
        batch.add_column(sa.Column('sex', sa.String(length=1), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('hla_donor') as batch:
        batch.drop_column('sex')
