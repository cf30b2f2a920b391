"""clinical records: (patient, code, system, kind, start) index for FHIR search by subject and code

The FHIR search `Observation?subject=…&code=…` filtered by patient, code and system; with only
(patient_id, code) and (kind, code, system) to choose from, SQLite's planner took the latter and walked every
record of that code (all patients) for one patient's answer: 200-600 ms at 20,000 patients. This index answers
it from the patient's own rows, already in code/system order; it supersedes (patient_id, code).

Revision ID: clinical_0002
Revises: clinical_0001
Create Date: 2026-11-30 10:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'clinical_0002'
down_revision: str | Sequence[str] | None = 'clinical_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_clin_record_patient_code_system', 'clin_record',
                    ['patient_id', 'code', 'system', 'kind', 'start'], unique=False)
    op.drop_index('ix_clin_record_patient_code', table_name='clin_record')


def downgrade() -> None:
    op.create_index('ix_clin_record_patient_code', 'clin_record', ['patient_id', 'code'], unique=False)
    op.drop_index('ix_clin_record_patient_code_system', table_name='clin_record')
