"""push: links remember which JobRoutr version they carry; jobs count operator retries and
say what they wait on

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from appliance.storage.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("link", sa.Column("source_timestamp", UTCDateTime(timezone=True), nullable=True))
    op.add_column("link", sa.Column("source_event_id", sa.String(length=128), nullable=True))
    op.add_column("job", sa.Column("generation", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("job", sa.Column("waits_on", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job") as batch:
        batch.drop_column("waits_on")
        batch.drop_column("generation")
    with op.batch_alter_table("link") as batch:
        batch.drop_column("source_event_id")
        batch.drop_column("source_timestamp")
