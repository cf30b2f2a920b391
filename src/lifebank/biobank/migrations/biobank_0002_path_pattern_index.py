"""biobank: prefix-search index on container paths for PostgreSQL

Revision ID: biobank_0002
Revises: biobank_0001
Create Date: 2026-11-24 20:40:00

A subtree query is `path LIKE '/1/7/%'`. Under a non-C collation PostgreSQL can only serve that from an
index built with text_pattern_ops; SQLite uses a range on the existing index instead (see service.in_subtree).
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'biobank_0002'
down_revision: str | Sequence[str] | None = 'biobank_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_bb_container_path_pattern", "bb_container", ["path"],
                        postgresql_ops={"path": "text_pattern_ops"})


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_bb_container_path_pattern", table_name="bb_container")
