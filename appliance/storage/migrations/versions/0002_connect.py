"""connect: token refresh lease on company, oauth_start for single-use states

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import appliance.storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "company",
        sa.Column("refresh_lock_owner", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )
    op.add_column(
        "company",
        sa.Column(
            "refresh_lock_until", appliance.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
    )
    op.create_table(
        "oauth_start",
        sa.Column("state_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("environment", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("redirect_uri", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("allow_other_company", sa.Boolean(), nullable=False),
        sa.Column("created_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("result", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.PrimaryKeyConstraint("state_hash"),
    )


def downgrade() -> None:
    op.drop_table("oauth_start")
    with op.batch_alter_table("company") as batch:
        batch.drop_column("refresh_lock_until")
        batch.drop_column("refresh_lock_owner")
