"""hla: haplotype frequency sets for match prediction

Revision ID: hla_0003
Revises: hla_0002
Create Date: 2026-11-30 07:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lifebank.db.base

revision: str = 'hla_0003'
down_revision: str | Sequence[str] | None = 'hla_0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('hla_frequency_set',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('population', sa.String(length=64), nullable=True),
    sa.Column('resolution', sa.String(length=16), nullable=False),
    sa.Column('loci', sa.String(length=64), nullable=False),
    sa.Column('registries', sa.Text(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('haplotype_count', sa.Integer(), nullable=False),
    sa.Column('total', sa.Float(), nullable=False),
    sa.Column('loaded_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hla_frequency_set')),
    sa.UniqueConstraint('name', name=op.f('uq_hla_frequency_set_name'))
    )
    op.create_table('hla_haplotype',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('set_id', sa.Integer(), nullable=False),
    sa.Column('haplotype', sa.Text(), nullable=False),
    sa.Column('frequency', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['set_id'], ['hla_frequency_set.id'], name=op.f('fk_hla_haplotype_set_id_hla_frequency_set'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hla_haplotype'))
    )
    with op.batch_alter_table('hla_haplotype', schema=None) as batch_op:
        batch_op.create_index('ix_hla_haplotype_set', ['set_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('hla_haplotype', schema=None) as batch_op:
        batch_op.drop_index('ix_hla_haplotype_set')
    op.drop_table('hla_haplotype')
    op.drop_table('hla_frequency_set')
