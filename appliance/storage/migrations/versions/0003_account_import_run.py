"""imports: accounts remember the run that last saw them, like customers and items

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("qbo_account", sa.Column("import_run_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("qbo_account") as batch:
        batch.drop_column("import_run_id")
