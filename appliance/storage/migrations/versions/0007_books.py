"""books: how the company does tax and currencies, its tax codes, JobRoutr's tax rates mapped to
them, the discount account, invoice figures on links, mismatch details on events

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from appliance.storage.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _realm() -> sa.Column:
    return sa.Column("realm_id", sa.String(32), sa.ForeignKey("company.realm_id"), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "company_books",
        _realm(),
        sa.Column("country", sa.String(8), nullable=True),
        sa.Column("tax_model", sa.String(16), nullable=False),
        sa.Column("home_currency", sa.String(3), nullable=False),
        sa.Column("multicurrency", sa.Boolean(), nullable=False),
        sa.Column("allow_discount", sa.Boolean(), nullable=False),
        sa.Column("custom_txn_numbers", sa.Boolean(), nullable=False),
        sa.Column("read_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "qbo_tax_code",
        _realm(),
        sa.Column("qbo_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.String(500), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("taxable", sa.Boolean(), nullable=True),
        sa.Column("tax_group", sa.Boolean(), nullable=False),
        sa.Column("rates", sa.JSON(), nullable=False),
        sa.Column("percent", sa.String(32), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("change_seq", sa.Integer(), nullable=False),
        sa.Column("import_run_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "tax_mapping",
        _realm(),
        sa.Column("jobroutr_rate_id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("percent", sa.String(32), nullable=False),
        sa.Column("qbo_tax_code_id", sa.String(32), nullable=True),
        sa.Column("suggested_qbo_id", sa.String(32), nullable=True),
        sa.Column("first_event_id", sa.String(128), nullable=True),
        sa.Column("mapped_by", sa.String(64), nullable=True),
        sa.Column("mapped_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.add_column(
        "company_settings",
        sa.Column("default_discount_account_id", sa.String(32), nullable=True),
    )
    op.add_column(
        "company_settings", sa.Column("untaxed_tax_code_id", sa.String(32), nullable=True)
    )
    op.add_column("link", sa.Column("figures", sa.JSON(), nullable=True))
    op.add_column("event", sa.Column("details", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("event") as batch_op:
        batch_op.drop_column("details")
    with op.batch_alter_table("link") as batch_op:
        batch_op.drop_column("figures")
    with op.batch_alter_table("company_settings") as batch_op:
        batch_op.drop_column("untaxed_tax_code_id")
        batch_op.drop_column("default_discount_account_id")
    op.drop_table("tax_mapping")
    op.drop_table("qbo_tax_code")
    op.drop_table("company_books")
