"""job: index jobs by state in id order, so a claim reads the oldest few instead of sorting them all

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job") as batch_op:
        batch_op.drop_index("ix_job_ready")
        batch_op.create_index("ix_job_state", ["state", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job") as batch_op:
        batch_op.drop_index("ix_job_state")
        batch_op.create_index("ix_job_ready", ["state", "run_after"], unique=False)
