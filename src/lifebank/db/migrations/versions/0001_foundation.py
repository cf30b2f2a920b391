"""foundation: users, roles, tokens, sessions, ledger

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-24 20:09:38.485068
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import lifebank.db.base

revision: str = '0001_foundation'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('foundation',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('auth_login_throttle',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_start', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_until', lifebank.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_auth_login_throttle'))
    )
    op.create_table('auth_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=True),
    sa.Column('created_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_user')),
    sa.UniqueConstraint('username', name=op.f('uq_auth_user_username'))
    )
    op.create_table('ledger_event',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('occurred_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('occurred_at_text', sa.String(length=40), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=100), nullable=False),
    sa.Column('entity_type', sa.String(length=60), nullable=False),
    sa.Column('entity_id', sa.String(length=200), nullable=False),
    sa.Column('change_digest', sa.String(length=64), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_ledger_event')),
    sa.UniqueConstraint('hash', name=op.f('uq_ledger_event_hash'))
    )
    with op.batch_alter_table('ledger_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_event_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_event_actor'), ['actor'], unique=False)
        batch_op.create_index('ix_ledger_event_entity', ['entity_type', 'entity_id'], unique=False)

    op.create_table('ledger_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_head'))
    )
    # The chain starts from the genesis hash; every append moves this single row.
    op.execute(sa.text("INSERT INTO ledger_head (id, seq, hash) VALUES (1, 0, :h)").bindparams(h="0" * 64))
    op.create_table('auth_api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['auth_user.id'], name=op.f('fk_auth_api_token_user_id_auth_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_api_token')),
    sa.UniqueConstraint('prefix', name=op.f('uq_auth_api_token_prefix'))
    )
    with op.batch_alter_table('auth_api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_api_token_user_id'), ['user_id'], unique=False)

    op.create_table('auth_role_grant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('scope_type', sa.String(length=32), nullable=True),
    sa.Column('scope_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['auth_user.id'], name=op.f('fk_auth_role_grant_user_id_auth_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_role_grant')),
    sa.UniqueConstraint('user_id', 'role', 'scope_type', 'scope_id', name='uq_auth_role_grant')
    )
    with op.batch_alter_table('auth_role_grant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_role_grant_user_id'), ['user_id'], unique=False)

    op.create_table('auth_web_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', lifebank.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['auth_user.id'], name=op.f('fk_auth_web_session_user_id_auth_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_web_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_auth_web_session_token_hash'))
    )
    with op.batch_alter_table('auth_web_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auth_web_session_user_id'), ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('auth_web_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_web_session_user_id'))

    op.drop_table('auth_web_session')
    with op.batch_alter_table('auth_role_grant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_role_grant_user_id'))

    op.drop_table('auth_role_grant')
    with op.batch_alter_table('auth_api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auth_api_token_user_id'))

    op.drop_table('auth_api_token')
    op.drop_table('ledger_head')
    with op.batch_alter_table('ledger_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_event_actor'))
        batch_op.drop_index(batch_op.f('ix_ledger_event_action'))

    op.drop_table('ledger_event')
    op.drop_table('auth_user')
    op.drop_table('auth_login_throttle')
