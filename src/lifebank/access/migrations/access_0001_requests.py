"""access: requests, committee and votes, documents, notifications, allocations and shipments

Revision ID: access_0001
Revises:
Create Date: 2026-11-30 07:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lifebank.db.base

revision: str = 'access_0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('access',)
depends_on: str | Sequence[str] | None = '0001_foundation'


def upgrade() -> None:
    op.create_table('ar_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('organisation_name', sa.String(length=200), nullable=False),
    sa.Column('for_profit', sa.Boolean(), nullable=False),
    sa.Column('recipient_country', sa.String(length=2), nullable=False),
    sa.Column('principal_investigator', sa.String(length=200), nullable=False),
    sa.Column('ethics_number', sa.String(length=100), nullable=True),
    sa.Column('ethics_date', sa.Date(), nullable=True),
    sa.Column('purposes', sa.String(length=200), nullable=False),
    sa.Column('disease', sa.String(length=64), nullable=True),
    sa.Column('commercial', sa.Boolean(), nullable=False),
    sa.Column('wants_material', sa.Boolean(), nullable=False),
    sa.Column('wants_data', sa.Boolean(), nullable=False),
    sa.Column('declarations', sa.Text(), nullable=False),
    sa.Column('cohort', sa.String(length=100), nullable=True),
    sa.Column('max_freeze_thaw', sa.Integer(), nullable=True),
    sa.Column('sprec_prefix', sa.String(length=40), nullable=True),
    sa.Column('allow_last_aliquot', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('conditions', sa.Text(), nullable=False),
    sa.Column('hgr_approval', sa.String(length=100), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ar_request'))
    )
    with op.batch_alter_table('ar_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ar_request_created_by'), ['created_by'], unique=False)
        batch_op.create_index('ix_ar_request_org_state', ['organisation_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_ar_request_state'), ['state'], unique=False)

    op.create_table('ar_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=100), nullable=False),
    sa.Column('uploaded_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['ar_request.id'], name=op.f('fk_ar_document_request_id_ar_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ar_document'))
    )
    with op.batch_alter_table('ar_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ar_document_request_id'), ['request_id'], unique=False)

    op.create_table('ar_notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('template', sa.Text(), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('created_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['ar_request.id'], name=op.f('fk_ar_notification_request_id_ar_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ar_notification'))
    )
    with op.batch_alter_table('ar_notification', schema=None) as batch_op:
        batch_op.create_index('ix_ar_notification_user', ['username', 'read_at'], unique=False)

    op.create_table('ar_request_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('specimen_type', sa.String(length=8), nullable=False),
    sa.Column('per_participant', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=True),
    sa.Column('min_volume', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['ar_request.id'], name=op.f('fk_ar_request_item_request_id_ar_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ar_request_item'))
    )
    with op.batch_alter_table('ar_request_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ar_request_item_request_id'), ['request_id'], unique=False)

    op.create_table('ar_review_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('author', sa.String(length=64), nullable=False),
    sa.Column('vote', sa.String(length=32), nullable=True),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['ar_request.id'], name=op.f('fk_ar_review_entry_request_id_ar_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ar_review_entry'))
    )
    with op.batch_alter_table('ar_review_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ar_review_entry_request_id'), ['request_id'], unique=False)

    op.create_table('ar_reviewer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['ar_request.id'], name=op.f('fk_ar_reviewer_request_id_ar_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ar_reviewer')),
    sa.UniqueConstraint('request_id', 'username', name='uq_ar_reviewer')
    )
    with op.batch_alter_table('ar_reviewer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ar_reviewer_request_id'), ['request_id'], unique=False)

    op.create_table('ar_shipment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('courier', sa.String(length=100), nullable=False),
    sa.Column('tracking_number', sa.String(length=100), nullable=False),
    sa.Column('temperature', sa.String(length=16), nullable=False),
    sa.Column('un3373', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('boxes', sa.Integer(), nullable=False),
    sa.Column('shipped_by', sa.String(length=100), nullable=False),
    sa.Column('shipped_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_by', sa.String(length=100), nullable=True),
    sa.Column('received_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('discrepancies', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['ar_request.id'], name=op.f('fk_ar_shipment_request_id_ar_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ar_shipment'))
    )
    with op.batch_alter_table('ar_shipment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ar_shipment_request_id'), ['request_id'], unique=False)

    op.create_table('ar_transition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('from_state', sa.String(length=32), nullable=True),
    sa.Column('to_state', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['ar_request.id'], name=op.f('fk_ar_transition_request_id_ar_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ar_transition'))
    )
    with op.batch_alter_table('ar_transition', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ar_transition_request_id'), ['request_id'], unique=False)

    op.create_table('ar_allocation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('barcode', sa.String(length=64), nullable=False),
    sa.Column('participant', sa.String(length=32), nullable=False),
    sa.Column('specimen_type', sa.String(length=8), nullable=False),
    sa.Column('source', sa.String(length=400), nullable=True),
    sa.Column('sort_key', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('picked_by', sa.String(length=100), nullable=True),
    sa.Column('picked_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('shipment_id', sa.Integer(), nullable=True),
    sa.Column('target_box', sa.String(length=64), nullable=True),
    sa.Column('target_position', sa.String(length=8), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['ar_request.id'], name=op.f('fk_ar_allocation_request_id_ar_request'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shipment_id'], ['ar_shipment.id'], name=op.f('fk_ar_allocation_shipment_id_ar_shipment')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ar_allocation'))
    )
    with op.batch_alter_table('ar_allocation', schema=None) as batch_op:
        batch_op.create_index('ix_ar_allocation_barcode', ['barcode'], unique=False)
        batch_op.create_index('ix_ar_allocation_request_state', ['request_id', 'state'], unique=False)


def downgrade() -> None:

    with op.batch_alter_table('ar_allocation', schema=None) as batch_op:
        batch_op.drop_index('ix_ar_allocation_request_state')
        batch_op.drop_index('ix_ar_allocation_barcode')

    op.drop_table('ar_allocation')
    with op.batch_alter_table('ar_transition', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ar_transition_request_id'))

    op.drop_table('ar_transition')
    with op.batch_alter_table('ar_shipment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ar_shipment_request_id'))

    op.drop_table('ar_shipment')
    with op.batch_alter_table('ar_reviewer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ar_reviewer_request_id'))

    op.drop_table('ar_reviewer')
    with op.batch_alter_table('ar_review_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ar_review_entry_request_id'))

    op.drop_table('ar_review_entry')
    with op.batch_alter_table('ar_request_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ar_request_item_request_id'))

    op.drop_table('ar_request_item')
    with op.batch_alter_table('ar_notification', schema=None) as batch_op:
        batch_op.drop_index('ix_ar_notification_user')

    op.drop_table('ar_notification')
    with op.batch_alter_table('ar_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ar_document_request_id'))

    op.drop_table('ar_document')
    with op.batch_alter_table('ar_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ar_request_state'))
        batch_op.drop_index('ix_ar_request_org_state')
        batch_op.drop_index(batch_op.f('ix_ar_request_created_by'))

    op.drop_table('ar_request')
