"""import_run: what an import left out on purpose (inactive records, categories), counted

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("import_run", sa.Column("left_out", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_run") as batch_op:
        batch_op.drop_column("left_out")
