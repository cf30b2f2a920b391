"""hla: saved patient searches

Revision ID: hla_0004
Revises: hla_0003
Create Date: 2026-11-30 07:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lifebank.db.base

revision: str = 'hla_0004'
down_revision: str | Sequence[str] | None = 'hla_0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('hla_saved_search',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('patient', sa.Text(), nullable=False),
    sa.Column('parameters', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_run_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_total', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hla_saved_search'))
    )


def downgrade() -> None:
    op.drop_table('hla_saved_search')
