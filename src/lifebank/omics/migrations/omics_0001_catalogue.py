"""omics: variant store catalogue and cohorts

Revision ID: omics_0001
Revises:
Create Date: 2026-11-24 20:19:43.857042
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lifebank.db.base

revision: str = 'omics_0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('omics',)
depends_on: str | Sequence[str] | None = '0001_foundation'

def upgrade() -> None:
    op.create_table('omics_cohort',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_omics_cohort')),
    sa.UniqueConstraint('name', name=op.f('uq_omics_cohort_name'))
    )
    op.create_table('omics_dataset',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('genome_build', sa.String(length=16), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('info_fields', sa.Text(), nullable=True),
    sa.Column('created_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_omics_dataset')),
    sa.UniqueConstraint('name', name=op.f('uq_omics_dataset_name'))
    )
    op.create_table('omics_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('source_name', sa.String(length=500), nullable=False),
    sa.Column('source_sha256', sa.String(length=64), nullable=False),
    sa.Column('records', sa.BigInteger(), nullable=False),
    sa.Column('sites', sa.BigInteger(), nullable=False),
    sa.Column('genotype_rows', sa.BigInteger(), nullable=False),
    sa.Column('chroms', sa.Text(), nullable=False),
    sa.Column('imported_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['omics_dataset.id'], name=op.f('fk_omics_batch_dataset_id_omics_dataset'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_omics_batch')),
    sa.UniqueConstraint('dataset_id', 'number', name='uq_omics_batch_dataset_number')
    )
    with op.batch_alter_table('omics_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_omics_batch_dataset_id'), ['dataset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_omics_batch_source_sha256'), ['source_sha256'], unique=False)

    op.create_table('omics_cohort_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cohort_id', sa.Integer(), nullable=False),
    sa.Column('participant_code', sa.String(length=64), nullable=True),
    sa.Column('vcf_sample', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['cohort_id'], ['omics_cohort.id'], name=op.f('fk_omics_cohort_member_cohort_id_omics_cohort'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_omics_cohort_member')),
    sa.UniqueConstraint('cohort_id', 'participant_code', 'vcf_sample', name='uq_omics_cohort_member')
    )
    with op.batch_alter_table('omics_cohort_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_omics_cohort_member_cohort_id'), ['cohort_id'], unique=False)

    op.create_table('omics_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('relpath', sa.String(length=500), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('rows', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['omics_batch.id'], name=op.f('fk_omics_file_batch_id_omics_batch'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_omics_file')),
    sa.UniqueConstraint('relpath', name=op.f('uq_omics_file_relpath'))
    )
    with op.batch_alter_table('omics_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_omics_file_batch_id'), ['batch_id'], unique=False)

    op.create_table('omics_sample',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('sample_index', sa.Integer(), nullable=False),
    sa.Column('vcf_sample', sa.String(length=200), nullable=False),
    sa.Column('participant_code', sa.String(length=64), nullable=True),
    sa.Column('specimen_barcode', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['omics_batch.id'], name=op.f('fk_omics_sample_batch_id_omics_batch'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_omics_sample')),
    sa.UniqueConstraint('batch_id', 'vcf_sample', name='uq_omics_sample_batch_vcf_sample')
    )
    with op.batch_alter_table('omics_sample', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_omics_sample_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_omics_sample_participant_code'), ['participant_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_omics_sample_vcf_sample'), ['vcf_sample'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('omics_sample', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_omics_sample_vcf_sample'))
        batch_op.drop_index(batch_op.f('ix_omics_sample_participant_code'))
        batch_op.drop_index(batch_op.f('ix_omics_sample_batch_id'))

    op.drop_table('omics_sample')
    with op.batch_alter_table('omics_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_omics_file_batch_id'))

    op.drop_table('omics_file')
    with op.batch_alter_table('omics_cohort_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_omics_cohort_member_cohort_id'))

    op.drop_table('omics_cohort_member')
    with op.batch_alter_table('omics_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_omics_batch_source_sha256'))
        batch_op.drop_index(batch_op.f('ix_omics_batch_dataset_id'))

    op.drop_table('omics_batch')
    op.drop_table('omics_dataset')
    op.drop_table('omics_cohort')
