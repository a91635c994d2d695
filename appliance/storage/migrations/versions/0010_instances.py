"""instances: the shares of Intuit's limits each instance holds (qbo_grant), and which instance
runs an import (import_run.owner)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from appliance.storage.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qbo_grant",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("realm_id", sa.String(32), nullable=False),
        sa.Column("instance", sa.String(128), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("batch_calls", sa.Integer(), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("granted_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("open_until", UTCDateTime(timezone=True), nullable=False),
        sa.Column("counts_until", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_qbo_grant_realm_counts", "qbo_grant", ["realm_id", "counts_until"])
    op.add_column("import_run", sa.Column("owner", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_run") as batch_op:
        batch_op.drop_column("owner")
    op.drop_index("ix_qbo_grant_realm_counts", table_name="qbo_grant")
    op.drop_table("qbo_grant")
