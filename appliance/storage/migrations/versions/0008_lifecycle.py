"""lifecycle: the account payments are deposited to, the change feed's progress and the changes
it found in QuickBooks

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from appliance.storage.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("company_settings", sa.Column("deposit_account_id", sa.String(32), nullable=True))
    op.create_table(
        "change_feed",
        sa.Column("realm_id", sa.String(32), sa.ForeignKey("company.realm_id"), primary_key=True),
        sa.Column("read_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_polled_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("gap_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "qbo_change",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("realm_id", sa.String(32), sa.ForeignKey("company.realm_id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("jobroutr_id", sa.String(128), nullable=True),
        sa.Column("qbo_id", sa.String(32), nullable=False),
        sa.Column("change", sa.String(24), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_qbo_change_realm_seq", "qbo_change", ["realm_id", "seq"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_qbo_change_realm_seq", table_name="qbo_change")
    op.drop_table("qbo_change")
    op.drop_table("change_feed")
    with op.batch_alter_table("company_settings") as batch_op:
        batch_op.drop_column("deposit_account_id")
