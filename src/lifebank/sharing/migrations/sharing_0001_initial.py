"""sharing: Beacon datasets, settings and query log; record grants, recipient keys and exports

Revision ID: sharing_0001
Revises:
Create Date: 2026-11-30 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lifebank.db.base

revision: str = 'sharing_0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('sharing',)
depends_on: str | Sequence[str] | None = '0001_foundation'


def upgrade() -> None:
    op.create_table('sh_beacon_dataset',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('security_level', sa.String(length=16), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('updated_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sh_beacon_dataset')),
    sa.UniqueConstraint('name', name=op.f('uq_sh_beacon_dataset_name'))
    )
    op.create_table('sh_beacon_setting',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_sh_beacon_setting'))
    )
    op.create_table('sh_beacon_query',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('caller', sa.String(length=120), nullable=False),
    sa.Column('endpoint', sa.String(length=64), nullable=False),
    sa.Column('variant', sa.Boolean(), nullable=False),
    sa.Column('granularity', sa.String(length=16), nullable=False),
    sa.Column('refused', sa.Boolean(), nullable=False),
    sa.Column('query', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sh_beacon_query'))
    )
    op.create_index('ix_sh_beacon_query_caller', 'sh_beacon_query', ['caller', 'variant', 'occurred_at'],
                    unique=False)
    op.create_table('sh_record_grant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('purposes', sa.String(length=500), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('granted_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('granted_by', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sh_record_grant')),
    sa.UniqueConstraint('dataset', 'username', name='uq_sh_record_grant_dataset_user')
    )
    op.create_index(op.f('ix_sh_record_grant_username'), 'sh_record_grant', ['username'], unique=False)
    op.create_table('sh_recipient_key',
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('key_hex', sa.String(length=64), nullable=False),
    sa.Column('created_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_sh_recipient_key'))
    )
    op.create_table('sh_export',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=100), nullable=False),
    sa.Column('grant_id', sa.Integer(), nullable=True),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('dataset', sa.String(length=64), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('suppressed', sa.Integer(), nullable=False),
    sa.Column('report', sa.Text(), nullable=False),
    sa.Column('files', sa.Text(), nullable=False),
    sa.Column('folder', sa.String(length=500), nullable=False),
    sa.Column('created_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sh_export'))
    )
    op.create_index(op.f('ix_sh_export_recipient'), 'sh_export', ['recipient'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_sh_export_recipient'), table_name='sh_export')
    op.drop_table('sh_export')
    op.drop_table('sh_recipient_key')
    op.drop_index(op.f('ix_sh_record_grant_username'), table_name='sh_record_grant')
    op.drop_table('sh_record_grant')
    op.drop_index('ix_sh_beacon_query_caller', table_name='sh_beacon_query')
    op.drop_table('sh_beacon_query')
    op.drop_table('sh_beacon_setting')
    op.drop_table('sh_beacon_dataset')
