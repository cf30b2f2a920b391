"""precision: knowledge-base releases and the pointer to the one in force (a crash-consistent KB load)

Revision ID: precision_0002
Revises: precision_0001
Create Date: 2026-11-30 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lifebank.db.base

revision: str = 'precision_0002'
down_revision: str | Sequence[str] | None = 'precision_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('precision_kb_release',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('folder', sa.String(length=64), nullable=False),
    sa.Column('file', sa.String(length=255), nullable=False),
    sa.Column('version', sa.String(length=100), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_precision_kb_release')),
    sa.UniqueConstraint('folder', name=op.f('uq_precision_kb_release_folder'))
    )
    op.create_table('precision_kb_pointer',
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('release_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('loaded_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('loaded_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['release_id'], ['precision_kb_release.id'],
                            name=op.f('fk_precision_kb_pointer_release_id_precision_kb_release')),
    sa.PrimaryKeyConstraint('source', name=op.f('pk_precision_kb_pointer'))
    )


def downgrade() -> None:
    op.drop_table('precision_kb_pointer')
    op.drop_table('precision_kb_release')
