"""precision: tumour report versions with their inputs, content and sign-off

Revision ID: precision_0001
Revises:
Create Date: 2026-11-30 08:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lifebank.db.base

revision: str = 'precision_0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('precision',)
depends_on: str | Sequence[str] | None = '0001_foundation'


def upgrade() -> None:
    op.create_table('precision_report',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('report_no', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('participant', sa.String(length=64), nullable=True),
    sa.Column('specimen', sa.String(length=64), nullable=True),
    sa.Column('tumour_type', sa.String(length=32), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('inputs', sa.LargeBinary(), nullable=False),
    sa.Column('changes', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('signed_by', sa.String(length=64), nullable=True),
    sa.Column('signed_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('signature_meaning', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_precision_report')),
    sa.UniqueConstraint('report_no', 'version', name=op.f('uq_precision_report_report_no'))
    )
    with op.batch_alter_table('precision_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_precision_report_report_no'), ['report_no'], unique=False)
        batch_op.create_index(batch_op.f('ix_precision_report_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_precision_report_participant'), ['participant'], unique=False)


def downgrade() -> None:
    op.drop_table('precision_report')
