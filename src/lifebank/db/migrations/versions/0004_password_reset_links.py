"""password reset links: one-time, expiring links an administrator gives a user

Revision ID: 0004_password_reset_links
Revises: 0003_organisations
Create Date: 2026-11-30 08:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lifebank.db.base

revision: str = '0004_password_reset_links'
down_revision: str | Sequence[str] | None = '0003_organisations'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('auth_password_reset',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['auth_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index('ix_auth_password_reset_user_id', 'auth_password_reset', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_auth_password_reset_user_id', table_name='auth_password_reset')
    op.drop_table('auth_password_reset')
