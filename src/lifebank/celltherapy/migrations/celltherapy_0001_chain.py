"""celltherapy: orders, chain steps, e-signatures, containers, logger traces, slots, product codes

Revision ID: celltherapy_0001
Revises:
Create Date: 2026-11-30 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lifebank.db.base

revision: str = 'celltherapy_0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('celltherapy',)
depends_on: str | Sequence[str] | None = '0001_foundation'

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
When = lifebank.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('ct_product_code',
    sa.Column('code', sa.String(length=5), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('product', sa.String(length=16), nullable=False),
    sa.Column('shelf_life_hours', sa.Float(), nullable=False),
    sa.Column('loaded_by', sa.String(length=64), nullable=False),
    sa.Column('loaded_at', When, nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_ct_product_code'))
    )
    op.create_table('ct_slot',
    sa.Column('id', BigId, nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ct_slot')),
    sa.UniqueConstraint('site', 'day', name=op.f('uq_ct_slot_site'))
    )
    op.create_table('ct_order',
    sa.Column('id', BigId, nullable=False),
    sa.Column('coi', sa.String(length=40), nullable=False),
    sa.Column('participant', sa.String(length=64), nullable=False),
    sa.Column('product', sa.String(length=16), nullable=False),
    sa.Column('centre', sa.String(length=200), nullable=False),
    sa.Column('cord_unit', sa.String(length=64), nullable=True),
    sa.Column('identity_kind', sa.String(length=8), nullable=False),
    sa.Column('identity', sa.Text(), nullable=False),
    sa.Column('steps_done', sa.Integer(), nullable=False),
    sa.Column('slot_id', BigId, nullable=True),
    sa.Column('apheresis_date', sa.Date(), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', When, nullable=False),
    sa.ForeignKeyConstraint(['slot_id'], ['ct_slot.id'], name=op.f('fk_ct_order_slot_id_ct_slot')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ct_order')),
    sa.UniqueConstraint('coi', name=op.f('uq_ct_order_coi'))
    )
    op.create_index(op.f('ix_ct_order_participant'), 'ct_order', ['participant'], unique=False)
    op.create_table('ct_step',
    sa.Column('id', BigId, nullable=False),
    sa.Column('order_id', BigId, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=40), nullable=False),
    sa.Column('values_json', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', When, nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['ct_order.id'], name=op.f('fk_ct_step_order_id_ct_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ct_step')),
    sa.UniqueConstraint('order_id', 'seq', name=op.f('uq_ct_step_order_id'))
    )
    op.create_index(op.f('ix_ct_step_order_id'), 'ct_step', ['order_id'], unique=False)
    op.create_table('ct_signature',
    sa.Column('id', BigId, nullable=False),
    sa.Column('step_id', BigId, nullable=False),
    sa.Column('signer', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('meaning', sa.String(length=40), nullable=False),
    sa.Column('signed_at', When, nullable=False),
    sa.ForeignKeyConstraint(['step_id'], ['ct_step.id'], name=op.f('fk_ct_signature_step_id_ct_step')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ct_signature'))
    )
    op.create_index(op.f('ix_ct_signature_step_id'), 'ct_signature', ['step_id'], unique=False)
    op.create_table('ct_container',
    sa.Column('id', BigId, nullable=False),
    sa.Column('order_id', BigId, nullable=False),
    sa.Column('din', sa.String(length=13), nullable=False),
    sa.Column('product_code', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=True),
    sa.Column('created_at', When, nullable=False),
    sa.Column('expires_at', When, nullable=True),
    sa.Column('thawed_at', When, nullable=True),
    sa.Column('infused_at', When, nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['ct_order.id'], name=op.f('fk_ct_container_order_id_ct_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ct_container')),
    sa.UniqueConstraint('din', 'product_code', name=op.f('uq_ct_container_din'))
    )
    op.create_index(op.f('ix_ct_container_order_id'), 'ct_container', ['order_id'], unique=False)
    op.create_index(op.f('ix_ct_container_din'), 'ct_container', ['din'], unique=False)
    op.create_table('ct_trace',
    sa.Column('id', BigId, nullable=False),
    sa.Column('order_id', BigId, nullable=False),
    sa.Column('leg', sa.String(length=20), nullable=False),
    sa.Column('low_c', sa.Float(), nullable=False),
    sa.Column('high_c', sa.Float(), nullable=False),
    sa.Column('readings', sa.Integer(), nullable=False),
    sa.Column('first_at', When, nullable=False),
    sa.Column('last_at', When, nullable=False),
    sa.Column('min_c', sa.Float(), nullable=False),
    sa.Column('max_c', sa.Float(), nullable=False),
    sa.Column('excursions_json', sa.Text(), nullable=False),
    sa.Column('series_json', sa.Text(), nullable=False),
    sa.Column('imported_by', sa.String(length=64), nullable=False),
    sa.Column('imported_at', When, nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['ct_order.id'], name=op.f('fk_ct_trace_order_id_ct_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ct_trace')),
    sa.UniqueConstraint('order_id', 'leg', name=op.f('uq_ct_trace_order_id'))
    )
    op.create_index(op.f('ix_ct_trace_order_id'), 'ct_trace', ['order_id'], unique=False)


def downgrade() -> None:
    for table in ('ct_trace', 'ct_container', 'ct_signature', 'ct_step', 'ct_order', 'ct_slot', 'ct_product_code'):
        op.drop_table(table)
