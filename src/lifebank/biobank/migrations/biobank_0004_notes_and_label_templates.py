"""biobank: a specimen's notes; label templates chosen by the manager

Revision ID: biobank_0004
Revises: biobank_0003
Create Date: 2026-11-30 05:00:00

Technicians keep a line of free text with a tube (why it was re-labelled, a haemolysed sample); managers
choose the label stock and which fields print, once for the bank, instead of every technician each time.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lifebank.db.base import UTCDateTime

revision: str = 'biobank_0004'
down_revision: str | Sequence[str] | None = 'biobank_0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('bb_specimen', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notes', sa.Text(), nullable=True))
    op.create_table(
        'bb_label_template',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('stock', sa.String(length=16), nullable=False),
        sa.Column('symbology', sa.String(length=16), nullable=False),
        sa.Column('fields', sa.String(length=200), nullable=False),
        sa.Column('is_default', sa.Boolean(), nullable=False),
        sa.Column('updated_by', sa.String(length=100), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_bb_label_template')),
        sa.UniqueConstraint('name', name=op.f('uq_bb_label_template_name')),
    )


def downgrade() -> None:
    op.drop_table('bb_label_template')
    with op.batch_alter_table('bb_specimen', schema=None) as batch_op:
        batch_op.drop_column('notes')
