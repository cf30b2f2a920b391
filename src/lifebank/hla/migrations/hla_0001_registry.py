"""hla registry: donors and cord units, MAC dictionary, nomenclature release

Revision ID: hla_0001
Revises:
Create Date: 2026-11-24 20:28:36.528929
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lifebank.db.base

revision: str = 'hla_0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('hla',)
depends_on: str | Sequence[str] | None = '0001_foundation'


def upgrade() -> None:
    op.create_table('hla_donor',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('donor_id', sa.String(length=64), nullable=False),
    sa.Column('donor_type', sa.String(length=8), nullable=False),
    sa.Column('registry', sa.String(length=32), nullable=True),
    sa.Column('abo', sa.String(length=4), nullable=True),
    sa.Column('cmv', sa.String(length=10), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('collection_date', sa.Date(), nullable=True),
    sa.Column('cell_dose', sa.Float(), nullable=True),
    sa.Column('a_1', sa.Text(), nullable=True),
    sa.Column('a_2', sa.Text(), nullable=True),
    sa.Column('b_1', sa.Text(), nullable=True),
    sa.Column('b_2', sa.Text(), nullable=True),
    sa.Column('c_1', sa.Text(), nullable=True),
    sa.Column('c_2', sa.Text(), nullable=True),
    sa.Column('dpb1_1', sa.Text(), nullable=True),
    sa.Column('dpb1_2', sa.Text(), nullable=True),
    sa.Column('dqb1_1', sa.Text(), nullable=True),
    sa.Column('dqb1_2', sa.Text(), nullable=True),
    sa.Column('drb1_1', sa.Text(), nullable=True),
    sa.Column('drb1_2', sa.Text(), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('created_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hla_donor')),
    sa.UniqueConstraint('donor_id', name=op.f('uq_hla_donor_donor_id'))
    )
    with op.batch_alter_table('hla_donor', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hla_donor_donor_type'), ['donor_type'], unique=False)

    op.create_table('hla_mac',
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('expansion', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_hla_mac'))
    )
    op.create_table('hla_release',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('folder', sa.Text(), nullable=False),
    sa.Column('loaded_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hla_release'))
    )
    op.create_table('hla_change',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('donor_key', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_hla_change'))
    )


def downgrade() -> None:
    op.drop_table('hla_change')
    op.drop_table('hla_release')
    op.drop_table('hla_mac')
    with op.batch_alter_table('hla_donor', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hla_donor_donor_type'))
    op.drop_table('hla_donor')
