"""biobank: participants, consent, specimens, storage

Revision ID: biobank_0001
Revises:
Create Date: 2026-11-24 20:18:12.345199
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lifebank.db.base

revision: str = 'biobank_0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('biobank',)
depends_on: str | Sequence[str] | None = '0001_foundation'


def upgrade() -> None:
    op.create_table('bb_container_type',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=True),
    sa.Column('columns', sa.Integer(), nullable=True),
    sa.Column('scheme', sa.String(length=16), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bb_container_type')),
    sa.UniqueConstraint('name', name=op.f('uq_bb_container_type_name'))
    )
    op.create_table('bb_import_run',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('finished_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bb_import_run'))
    )
    op.create_table('bb_participant',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('sex', sa.String(length=1), nullable=False),
    sa.Column('birth_year', sa.Integer(), nullable=True),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('created_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bb_participant')),
    sa.UniqueConstraint('code', name=op.f('uq_bb_participant_code'))
    )
    with op.batch_alter_table('bb_participant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bb_participant_site'), ['site'], unique=False)

    op.create_table('bb_consent',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('participant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('consent_date', sa.Date(), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('withdrawn_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('withdrawal_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['participant_id'], ['bb_participant.id'], name=op.f('fk_bb_consent_participant_id_bb_participant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bb_consent')),
    sa.UniqueConstraint('participant_id', 'version', name='uq_bb_consent_version')
    )
    with op.batch_alter_table('bb_consent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bb_consent_participant_id'), ['participant_id'], unique=False)

    op.create_table('bb_container',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('type_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('parent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('path', sa.String(length=400), nullable=False),
    sa.Column('name_path', sa.String(length=400), nullable=False),
    sa.Column('temperature_class', sa.String(length=8), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['bb_container.id'], name=op.f('fk_bb_container_parent_id_bb_container')),
    sa.ForeignKeyConstraint(['type_id'], ['bb_container_type.id'], name=op.f('fk_bb_container_type_id_bb_container_type')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bb_container')),
    sa.UniqueConstraint('name_path', name=op.f('uq_bb_container_name_path'))
    )
    with op.batch_alter_table('bb_container', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bb_container_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bb_container_path'), ['path'], unique=False)
        batch_op.create_index(batch_op.f('ix_bb_container_temperature_class'), ['temperature_class'], unique=False)
        batch_op.create_index(batch_op.f('ix_bb_container_type_id'), ['type_id'], unique=False)

    op.create_table('bb_consent_code',
    sa.Column('consent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('duo_code', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['consent_id'], ['bb_consent.id'], name=op.f('fk_bb_consent_code_consent_id_bb_consent'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('consent_id', 'duo_code', name=op.f('pk_bb_consent_code'))
    )
    with op.batch_alter_table('bb_consent_code', schema=None) as batch_op:
        batch_op.create_index('ix_bb_consent_code_duo', ['duo_code', 'consent_id'], unique=False)

    op.create_table('bb_specimen',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('barcode', sa.String(length=64), nullable=False),
    sa.Column('participant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('type', sa.String(length=8), nullable=False),
    sa.Column('quantity', sa.Float(), nullable=True),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('collected_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('distributable', sa.Boolean(), nullable=False),
    sa.Column('lineage', sa.String(length=12), nullable=False),
    sa.Column('parent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('sprec', sa.String(length=40), nullable=True),
    sa.Column('freeze_thaw', sa.Integer(), nullable=False),
    sa.Column('container_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('position', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['container_id'], ['bb_container.id'], name=op.f('fk_bb_specimen_container_id_bb_container')),
    sa.ForeignKeyConstraint(['parent_id'], ['bb_specimen.id'], name=op.f('fk_bb_specimen_parent_id_bb_specimen')),
    sa.ForeignKeyConstraint(['participant_id'], ['bb_participant.id'], name=op.f('fk_bb_specimen_participant_id_bb_participant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bb_specimen')),
    sa.UniqueConstraint('barcode', name=op.f('uq_bb_specimen_barcode')),
    sa.UniqueConstraint('container_id', 'position', name='uq_bb_specimen_position')
    )
    with op.batch_alter_table('bb_specimen', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bb_specimen_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bb_specimen_participant_id'), ['participant_id'], unique=False)
        batch_op.create_index('ix_bb_specimen_type_status', ['type', 'status'], unique=False)

    op.create_table('bb_pool_member',
    sa.Column('pool_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('parent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['bb_specimen.id'], name=op.f('fk_bb_pool_member_parent_id_bb_specimen')),
    sa.ForeignKeyConstraint(['pool_id'], ['bb_specimen.id'], name=op.f('fk_bb_pool_member_pool_id_bb_specimen'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pool_id', 'parent_id', name=op.f('pk_bb_pool_member'))
    )
    with op.batch_alter_table('bb_pool_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bb_pool_member_parent_id'), ['parent_id'], unique=False)

    op.create_table('bb_qc_measurement',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('specimen_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=100), nullable=False),
    sa.Column('measured_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['specimen_id'], ['bb_specimen.id'], name=op.f('fk_bb_qc_measurement_specimen_id_bb_specimen'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bb_qc_measurement'))
    )
    with op.batch_alter_table('bb_qc_measurement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bb_qc_measurement_specimen_id'), ['specimen_id'], unique=False)

    op.create_table('bb_reservation',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('specimen_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('purpose', sa.String(length=200), nullable=False),
    sa.Column('reserved_by', sa.String(length=100), nullable=False),
    sa.Column('reserved_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('released_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['specimen_id'], ['bb_specimen.id'], name=op.f('fk_bb_reservation_specimen_id_bb_specimen'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bb_reservation'))
    )
    with op.batch_alter_table('bb_reservation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bb_reservation_specimen_id'), ['specimen_id'], unique=False)

    op.create_table('bb_specimen_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('specimen_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('occurred_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['specimen_id'], ['bb_specimen.id'], name=op.f('fk_bb_specimen_event_specimen_id_bb_specimen'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bb_specimen_event'))
    )
    with op.batch_alter_table('bb_specimen_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bb_specimen_event_specimen_id'), ['specimen_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('bb_specimen_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bb_specimen_event_specimen_id'))

    op.drop_table('bb_specimen_event')
    with op.batch_alter_table('bb_reservation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bb_reservation_specimen_id'))

    op.drop_table('bb_reservation')
    with op.batch_alter_table('bb_qc_measurement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bb_qc_measurement_specimen_id'))

    op.drop_table('bb_qc_measurement')
    with op.batch_alter_table('bb_pool_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bb_pool_member_parent_id'))

    op.drop_table('bb_pool_member')
    with op.batch_alter_table('bb_specimen', schema=None) as batch_op:
        batch_op.drop_index('ix_bb_specimen_type_status')
        batch_op.drop_index(batch_op.f('ix_bb_specimen_participant_id'))
        batch_op.drop_index(batch_op.f('ix_bb_specimen_parent_id'))

    op.drop_table('bb_specimen')
    with op.batch_alter_table('bb_consent_code', schema=None) as batch_op:
        batch_op.drop_index('ix_bb_consent_code_duo')

    op.drop_table('bb_consent_code')
    with op.batch_alter_table('bb_container', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bb_container_type_id'))
        batch_op.drop_index(batch_op.f('ix_bb_container_temperature_class'))
        batch_op.drop_index(batch_op.f('ix_bb_container_path'))
        batch_op.drop_index(batch_op.f('ix_bb_container_parent_id'))

    op.drop_table('bb_container')
    with op.batch_alter_table('bb_consent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bb_consent_participant_id'))

    op.drop_table('bb_consent')
    with op.batch_alter_table('bb_participant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bb_participant_site'))

    op.drop_table('bb_participant')
    op.drop_table('bb_import_run')
    op.drop_table('bb_container_type')
