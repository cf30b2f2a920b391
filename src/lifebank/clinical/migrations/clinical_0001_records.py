"""clinical records: pseudonymous patients, records, imports, vocabulary, bulk exports

Revision ID: clinical_0001
Revises:
Create Date: 2026-11-30 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lifebank.db.base

revision: str = 'clinical_0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('clinical',)
depends_on: str | Sequence[str] | None = '0001_foundation'


def upgrade() -> None:
    op.create_table('clin_concept',
    sa.Column('concept_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('concept_name', sa.String(length=255), nullable=False),
    sa.Column('domain_id', sa.String(length=20), nullable=False),
    sa.Column('vocabulary_id', sa.String(length=20), nullable=False),
    sa.Column('concept_class_id', sa.String(length=20), nullable=False),
    sa.Column('standard_concept', sa.String(length=1), nullable=True),
    sa.Column('concept_code', sa.String(length=50), nullable=False),
    sa.Column('invalid_reason', sa.String(length=1), nullable=True),
    sa.PrimaryKeyConstraint('concept_id', name=op.f('pk_clin_concept'))
    )
    op.create_index('ix_clin_concept_vocabulary_code', 'clin_concept', ['vocabulary_id', 'concept_code'], unique=False)
    op.create_table('clin_concept_ancestor',
    sa.Column('ancestor_concept_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('descendant_concept_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('min_levels', sa.Integer(), nullable=False),
    sa.Column('max_levels', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('ancestor_concept_id', 'descendant_concept_id', name=op.f('pk_clin_concept_ancestor'))
    )
    op.create_index(op.f('ix_clin_concept_ancestor_descendant_concept_id'), 'clin_concept_ancestor', ['descendant_concept_id'], unique=False)
    op.create_table('clin_concept_relationship',
    sa.Column('concept_id_1', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('concept_id_2', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('relationship_id', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('concept_id_1', 'concept_id_2', 'relationship_id', name=op.f('pk_clin_concept_relationship'))
    )
    op.create_table('clin_export',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('request_url', sa.String(length=1000), nullable=False),
    sa.Column('output', sa.Text(), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('requested_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clin_export'))
    )
    op.create_table('clin_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=500), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('fmt', sa.String(length=16), nullable=False),
    sa.Column('counts', sa.Text(), nullable=False),
    sa.Column('imported_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clin_import'))
    )
    op.create_index(op.f('ix_clin_import_sha256'), 'clin_import', ['sha256'], unique=False)
    op.create_table('clin_patient',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('origin', sa.String(length=8), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=False),
    sa.Column('participant_code', sa.String(length=32), nullable=False),
    sa.Column('gender', sa.String(length=16), nullable=True),
    sa.Column('birth_year', sa.Integer(), nullable=True),
    sa.Column('deceased_on', sa.Date(), nullable=True),
    sa.Column('updated_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clin_patient')),
    sa.UniqueConstraint('origin', 'source_id', name='uq_clin_patient_origin_source')
    )
    op.create_index(op.f('ix_clin_patient_participant_code'), 'clin_patient', ['participant_code'], unique=False)
    op.create_table('clin_record',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('patient_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('origin', sa.String(length=8), nullable=False),
    sa.Column('source_type', sa.String(length=40), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=False),
    sa.Column('system', sa.String(length=200), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('display', sa.String(length=500), nullable=False),
    sa.Column('concept_id', sa.BigInteger(), nullable=True),
    sa.Column('start', lifebank.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end', lifebank.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('value_num', sa.Float(), nullable=True),
    sa.Column('unit', sa.String(length=64), nullable=True),
    sa.Column('value_text', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=True),
    sa.Column('stage', sa.String(length=200), nullable=True),
    sa.Column('encounter_ref', sa.String(length=128), nullable=True),
    sa.Column('updated_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['clin_patient.id'], name=op.f('fk_clin_record_patient_id_clin_patient'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clin_record')),
    sa.UniqueConstraint('origin', 'source_type', 'source_id', name='uq_clin_record_source')
    )
    op.create_index('ix_clin_record_kind_code', 'clin_record', ['kind', 'code', 'system'], unique=False)
    op.create_index('ix_clin_record_patient_code', 'clin_record', ['patient_id', 'code'], unique=False)
    op.create_index('ix_clin_record_patient_kind_start', 'clin_record', ['patient_id', 'kind', 'start'], unique=False)
    op.create_index(op.f('ix_clin_record_updated_at'), 'clin_record', ['updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_clin_record_updated_at'), table_name='clin_record')
    op.drop_index('ix_clin_record_patient_kind_start', table_name='clin_record')
    op.drop_index('ix_clin_record_patient_code', table_name='clin_record')
    op.drop_index('ix_clin_record_kind_code', table_name='clin_record')
    op.drop_table('clin_record')
    op.drop_index(op.f('ix_clin_patient_participant_code'), table_name='clin_patient')
    op.drop_table('clin_patient')
    op.drop_index(op.f('ix_clin_import_sha256'), table_name='clin_import')
    op.drop_table('clin_import')
    op.drop_table('clin_export')
    op.drop_table('clin_concept_relationship')
    op.drop_index(op.f('ix_clin_concept_ancestor_descendant_concept_id'), table_name='clin_concept_ancestor')
    op.drop_table('clin_concept_ancestor')
    op.drop_index('ix_clin_concept_vocabulary_code', table_name='clin_concept')
    op.drop_table('clin_concept')
