"""organisations: users belong to an organisation (the bank, a hospital, a company, a university)

Revision ID: 0003_organisations
Revises: 0002_accounts_and_changes
Create Date: 2026-11-30 07:00:00

Issue 11: a partner sees only its own organisation's requests; role grants may be scoped to a site or a
collection (the grant table has carried `scope_type`/`scope_id` since 0001, so only the organisation is new).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lifebank.db.base

revision: str = '0003_organisations'
down_revision: str | Sequence[str] | None = '0002_accounts_and_changes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('auth_organisation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('for_profit', sa.Boolean(), nullable=False),
    sa.Column('created_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_organisation')),
    sa.UniqueConstraint('name', name=op.f('uq_auth_organisation_name'))
    )
    with op.batch_alter_table('auth_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('organisation_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_auth_user_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_auth_user_organisation_id_auth_organisation'),
                                    'auth_organisation', ['organisation_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('auth_user', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_auth_user_organisation_id_auth_organisation'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_auth_user_organisation_id'))
        batch_op.drop_column('organisation_id')
    op.drop_table('auth_organisation')
