"""biobank: covering index for freezer searches, consent codes carry their participant and whether in force

Revision ID: biobank_0003
Revises: biobank_0002
Create Date: 2026-11-24 21:40:00

"Available plasma of participants consenting to DUO:0000042 in one freezer" with its exact total used to read
every specimen row of the freezer and probe two tables per tube. Now the count is answered from
ix_bb_specimen_container_type_status and one probe of ix_bb_consent_code_in_force per tube.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'biobank_0003'
down_revision: str | Sequence[str] | None = 'biobank_0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('bb_consent_code', schema=None) as batch_op:
        batch_op.add_column(sa.Column('participant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                                      nullable=True))
        batch_op.add_column(sa.Column('in_force', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.execute("UPDATE bb_consent_code SET "
               "participant_id = (SELECT c.participant_id FROM bb_consent c WHERE c.id = bb_consent_code.consent_id), "
               "in_force = (SELECT c.withdrawn_at IS NULL FROM bb_consent c WHERE c.id = bb_consent_code.consent_id)")
    with op.batch_alter_table('bb_consent_code', schema=None) as batch_op:
        batch_op.create_index('ix_bb_consent_code_in_force', ['participant_id', 'duo_code', 'in_force'], unique=False)
    with op.batch_alter_table('bb_specimen', schema=None) as batch_op:
        batch_op.create_index('ix_bb_specimen_container_type_status',
                              ['container_id', 'type', 'status', 'participant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('bb_specimen', schema=None) as batch_op:
        batch_op.drop_index('ix_bb_specimen_container_type_status')
    with op.batch_alter_table('bb_consent_code', schema=None) as batch_op:
        batch_op.drop_index('ix_bb_consent_code_in_force')
        batch_op.drop_column('in_force')
        batch_op.drop_column('participant_id')
