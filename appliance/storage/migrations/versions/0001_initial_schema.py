"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25

The audit log is append-only in the database itself: triggers refuse UPDATE and DELETE.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import appliance.storage.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("key_hash", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "last_used_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("revoked_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", appliance.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("realm_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "change_counter",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "company",
        sa.Column("realm_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("environment", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("company_name", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column(
            "connected_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "disconnected_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "access_token_expires_at",
            appliance.storage.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "refresh_token_expires_at",
            appliance.storage.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "refresh_token_hard_expires_at",
            appliance.storage.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "last_refresh_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("realm_id"),
    )
    op.create_table(
        "event",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("realm_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("record_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("record_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("occurred_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "received_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("qbo_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("error_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("error_message", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("error_hint", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("first_response", sa.JSON(), nullable=False),
        sa.Column("updated_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_received_at"), ["received_at"], unique=False)
        batch_op.create_index("ix_event_record", ["record_kind", "record_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_status"), ["status"], unique=False)

    op.create_table(
        "secret",
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "name"),
    )
    with op.batch_alter_table("secret", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_secret_key_version"), ["key_version"], unique=False)

    op.create_table(
        "company_settings",
        sa.Column("realm_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column(
            "default_income_account_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True
        ),
        sa.Column(
            "default_expense_account_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True
        ),
        sa.Column("onboarding", sa.JSON(), nullable=False),
        sa.Column(
            "onboarding_completed_at",
            appliance.storage.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("updated_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["realm_id"],
            ["company.realm_id"],
        ),
        sa.PrimaryKeyConstraint("realm_id"),
    )
    op.create_table(
        "import_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("realm_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("qbo_calls", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("started_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "heartbeat_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("finished_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["realm_id"],
            ["company.realm_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("import_run", schema=None) as batch_op:
        batch_op.create_index("ix_import_run_realm_kind", ["realm_id", "kind", "id"], unique=False)

    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("realm_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("record_key", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("run_after", appliance.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column(
            "lease_expires_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("fence", sa.Integer(), nullable=False),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("waiting_for", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index("ix_job_ready", ["state", "run_after"], unique=False)
        batch_op.create_index("ix_job_record", ["record_key", "id"], unique=False)

    op.create_table(
        "link",
        sa.Column("realm_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("jobroutr_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("qbo_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("change_seq", sa.Integer(), nullable=False),
        sa.Column("created_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["realm_id"],
            ["company.realm_id"],
        ),
        sa.PrimaryKeyConstraint("realm_id", "kind", "jobroutr_id"),
        sa.UniqueConstraint("realm_id", "kind", "qbo_id", name="uq_link_qbo"),
    )
    with op.batch_alter_table("link", schema=None) as batch_op:
        batch_op.create_index("ix_link_realm_seq", ["realm_id", "change_seq"], unique=False)

    op.create_table(
        "qbo_account",
        sa.Column("realm_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("qbo_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column(
            "fully_qualified_name", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False
        ),
        sa.Column("classification", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column("account_type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("account_sub_type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("change_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["realm_id"],
            ["company.realm_id"],
        ),
        sa.PrimaryKeyConstraint("realm_id", "qbo_id"),
    )
    op.create_table(
        "qbo_customer",
        sa.Column("realm_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("qbo_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("parent_qbo_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("sync_token", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column(
            "qbo_updated_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("change_seq", sa.Integer(), nullable=False),
        sa.Column("import_run_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["realm_id"],
            ["company.realm_id"],
        ),
        sa.PrimaryKeyConstraint("realm_id", "qbo_id"),
    )
    with op.batch_alter_table("qbo_customer", schema=None) as batch_op:
        batch_op.create_index("ix_qbo_customer_realm_seq", ["realm_id", "change_seq"], unique=False)

    op.create_table(
        "qbo_item",
        sa.Column("realm_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("qbo_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("item_type", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("price", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("sync_token", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column(
            "qbo_updated_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("change_seq", sa.Integer(), nullable=False),
        sa.Column("import_run_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", appliance.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["realm_id"],
            ["company.realm_id"],
        ),
        sa.PrimaryKeyConstraint("realm_id", "qbo_id"),
    )
    with op.batch_alter_table("qbo_item", schema=None) as batch_op:
        batch_op.create_index("ix_qbo_item_realm_seq", ["realm_id", "change_seq"], unique=False)

    op.create_table(
        "import_skip",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("qbo_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["import_run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("import_skip", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_skip_run_id"), ["run_id"], unique=False)
    _make_audit_log_append_only()


def _make_audit_log_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"
        )
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
            )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )


def downgrade() -> None:
    on = " ON audit_log" if op.get_bind().dialect.name == "postgresql" else ""
    op.execute(f"DROP TRIGGER IF EXISTS audit_log_no_update{on}")
    op.execute(f"DROP TRIGGER IF EXISTS audit_log_no_delete{on}")
    with op.batch_alter_table("import_skip", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_skip_run_id"))

    op.drop_table("import_skip")
    with op.batch_alter_table("qbo_item", schema=None) as batch_op:
        batch_op.drop_index("ix_qbo_item_realm_seq")

    op.drop_table("qbo_item")
    with op.batch_alter_table("qbo_customer", schema=None) as batch_op:
        batch_op.drop_index("ix_qbo_customer_realm_seq")

    op.drop_table("qbo_customer")
    op.drop_table("qbo_account")
    with op.batch_alter_table("link", schema=None) as batch_op:
        batch_op.drop_index("ix_link_realm_seq")

    op.drop_table("link")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_record")
        batch_op.drop_index("ix_job_ready")

    op.drop_table("job")
    with op.batch_alter_table("import_run", schema=None) as batch_op:
        batch_op.drop_index("ix_import_run_realm_kind")

    op.drop_table("import_run")
    op.drop_table("company_settings")
    with op.batch_alter_table("secret", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_secret_key_version"))

    op.drop_table("secret")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_status"))
        batch_op.drop_index("ix_event_record")
        batch_op.drop_index(batch_op.f("ix_event_received_at"))

    op.drop_table("event")
    op.drop_table("company")
    op.drop_table("change_counter")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
    op.drop_table("api_key")
