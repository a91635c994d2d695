"""Tables. Everything that belongs to a QuickBooks company is keyed by its realm id.

One appliance usually serves one company, but a reconnect to another company, or a second one,
must never mix their records, so the realm is part of every key from the start. The states of a
job and an event are declared in ``appliance.core.states`` (``JobState``, ``EventStatus``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from appliance.core.states import EventStatus, JobState
from appliance.storage.types import UTCDateTime, utcnow


def _ts(*, nullable: bool = False, index: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)


class Company(SQLModel, table=True):
    """A QBO company (realm) this appliance has connected to, and the state of that connection."""

    __tablename__ = "company"

    realm_id: str = Field(primary_key=True, max_length=32)
    environment: str = Field(max_length=16)
    company_name: str | None = None
    state: str = Field(default="connected", max_length=24)  # connected|needs_reconnect|disconnected
    connected_at: datetime | None = _ts(nullable=True)
    disconnected_at: datetime | None = _ts(nullable=True)
    access_token_expires_at: datetime | None = _ts(nullable=True)
    refresh_token_expires_at: datetime | None = _ts(nullable=True)
    refresh_token_hard_expires_at: datetime | None = _ts(nullable=True)
    last_refresh_at: datetime | None = _ts(nullable=True)
    last_error: str | None = None
    # A lease, not a lock held open: who refreshes the tokens now, across processes (see tokens).
    refresh_lock_owner: str | None = Field(default=None, max_length=64)
    refresh_lock_until: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class OAuthStart(SQLModel, table=True):
    """A connection the operator started: its single-use, expiring OAuth ``state`` (hashed)."""

    __tablename__ = "oauth_start"

    state_hash: str = Field(primary_key=True, max_length=64)
    environment: str = Field(max_length=16)
    redirect_uri: str = Field(max_length=500)
    actor: str = Field(max_length=64)
    allow_other_company: bool = False
    created_at: datetime = _ts()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = _ts(nullable=True)
    result: str | None = Field(default=None, max_length=500)


class Secret(SQLModel, table=True):
    """A sealed secret. The ciphertext is bound to (scope, name): moved elsewhere, it won't open."""

    __tablename__ = "secret"

    scope: str = Field(primary_key=True, max_length=64)  # "realm:<id>", "jobroutr", "intuit"
    name: str = Field(primary_key=True, max_length=64)  # "refresh_token", "webhook_secret", ...
    key_version: int = Field(index=True)
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_at: datetime = _ts()


class ApiKey(SQLModel, table=True):
    """A JobRoutr API key. Only a hash is kept; the key itself is shown once when created."""

    __tablename__ = "api_key"

    id: str = Field(primary_key=True, max_length=32)
    key_hash: str = Field(unique=True, max_length=128)
    label: str = Field(default="jobroutr", max_length=64)
    created_at: datetime = _ts()
    last_used_at: datetime | None = _ts(nullable=True)
    revoked_at: datetime | None = _ts(nullable=True)


class CompanySettings(SQLModel, table=True):
    """What the operator chose for a company: default accounts and onboarding progress."""

    __tablename__ = "company_settings"

    realm_id: str = Field(primary_key=True, foreign_key="company.realm_id", max_length=32)
    default_income_account_id: str | None = Field(default=None, max_length=32)
    default_expense_account_id: str | None = Field(default=None, max_length=32)
    # The income account (discounts given) an invoice's discount line books to.
    default_discount_account_id: str | None = Field(default=None, max_length=32)
    # Outside the US every line needs a tax code: the code for lines JobRoutr did not tax.
    untaxed_tax_code_id: str | None = Field(default=None, max_length=32)
    # The Bank or Other Current Asset account payments are deposited to (None: Undeposited Funds).
    deposit_account_id: str | None = Field(default=None, max_length=32)
    onboarding: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    onboarding_completed_at: datetime | None = _ts(nullable=True)
    updated_at: datetime = _ts()


class CompanyBooks(SQLModel, table=True):
    """How the company keeps its books, read from ``CompanyInfo`` and ``Preferences`` at connect
    and on every accounts import: what an invoice must look like to be written right."""

    __tablename__ = "company_books"

    realm_id: str = Field(primary_key=True, foreign_key="company.realm_id", max_length=32)
    country: str | None = Field(default=None, max_length=8)
    # core.books.TaxModel: "ast", "us_manual", "per_line" or "none" (no sales tax set up)
    tax_model: str = Field(max_length=16)
    home_currency: str = Field(default="USD", max_length=3)
    multicurrency: bool = False
    allow_discount: bool = True
    custom_txn_numbers: bool = True
    read_at: datetime = _ts()


class QboTaxCode(SQLModel, table=True):
    """A QBO ``TaxCode`` with its sales rates (``TaxRate``), as imported (read-only in QBO)."""

    __tablename__ = "qbo_tax_code"

    realm_id: str = Field(primary_key=True, foreign_key="company.realm_id", max_length=32)
    qbo_id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=100)
    description: str | None = Field(default=None, max_length=500)
    active: bool = True
    taxable: bool | None = None
    tax_group: bool = False
    # The sales rates: [{"qbo_id", "name", "percent"}], percent as Decimal text.
    rates: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # The sum of the sales rates' percents (Decimal text); None when the code has no sales rate.
    percent: str | None = Field(default=None, max_length=32)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    change_seq: int = Field(default=0)
    import_run_id: int | None = None
    updated_at: datetime = _ts()


class TaxMapping(SQLModel, table=True):
    """A JobRoutr tax rate, learned from the first invoice that used it, and the QBO tax code the
    operator mapped it to (None until then; ``suggested_qbo_id`` is the appliance's guess)."""

    __tablename__ = "tax_mapping"

    realm_id: str = Field(primary_key=True, foreign_key="company.realm_id", max_length=32)
    jobroutr_rate_id: str = Field(primary_key=True, max_length=128)
    name: str = Field(max_length=100)
    percent: str = Field(max_length=32)
    qbo_tax_code_id: str | None = Field(default=None, max_length=32)
    suggested_qbo_id: str | None = Field(default=None, max_length=32)
    first_event_id: str | None = Field(default=None, max_length=128)
    mapped_by: str | None = Field(default=None, max_length=64)
    mapped_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class QboCustomer(SQLModel, table=True):
    """Mirror of a QBO customer (or sub-customer), as last imported or written by us."""

    __tablename__ = "qbo_customer"
    __table_args__ = (Index("ix_qbo_customer_realm_seq", "realm_id", "change_seq"),)

    realm_id: str = Field(primary_key=True, foreign_key="company.realm_id", max_length=32)
    qbo_id: str = Field(primary_key=True, max_length=32)
    display_name: str = Field(max_length=500)
    active: bool = True
    parent_qbo_id: str | None = Field(default=None, max_length=32)
    sync_token: str | None = Field(default=None, max_length=16)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    qbo_updated_at: datetime | None = _ts(nullable=True)
    change_seq: int = Field(default=0)
    import_run_id: int | None = None
    updated_at: datetime = _ts()


class QboItem(SQLModel, table=True):
    """Mirror of a QBO item (product or service)."""

    __tablename__ = "qbo_item"
    __table_args__ = (Index("ix_qbo_item_realm_seq", "realm_id", "change_seq"),)

    realm_id: str = Field(primary_key=True, foreign_key="company.realm_id", max_length=32)
    qbo_id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=100)
    item_type: str = Field(max_length=24)
    active: bool = True
    price: str | None = Field(default=None, max_length=32)  # Decimal as text: exact, never float
    sync_token: str | None = Field(default=None, max_length=16)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    qbo_updated_at: datetime | None = _ts(nullable=True)
    change_seq: int = Field(default=0)
    import_run_id: int | None = None
    updated_at: datetime = _ts()


class QboAccount(SQLModel, table=True):
    """Mirror of a chart-of-accounts entry."""

    __tablename__ = "qbo_account"

    realm_id: str = Field(primary_key=True, foreign_key="company.realm_id", max_length=32)
    qbo_id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=100)
    fully_qualified_name: str = Field(max_length=500)
    classification: str | None = Field(default=None, max_length=24)
    account_type: str = Field(max_length=40)
    account_sub_type: str | None = Field(default=None, max_length=64)
    active: bool = True
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    change_seq: int = Field(default=0)
    import_run_id: int | None = None
    updated_at: datetime = _ts()


class Link(SQLModel, table=True):
    """A JobRoutr record and the QBO record it is written to."""

    __tablename__ = "link"
    __table_args__ = (
        UniqueConstraint("realm_id", "kind", "qbo_id", name="uq_link_qbo"),
        Index("ix_link_realm_seq", "realm_id", "change_seq"),
    )

    realm_id: str = Field(primary_key=True, foreign_key="company.realm_id", max_length=32)
    kind: str = Field(primary_key=True, max_length=16)  # a RecordKind.name (core.kinds)
    jobroutr_id: str = Field(primary_key=True, max_length=128)
    qbo_id: str = Field(max_length=32)
    change_seq: int = Field(default=0)
    # The JobRoutr version written last (its event's timestamp): an older event changes nothing.
    source_timestamp: datetime | None = _ts(nullable=True)
    source_event_id: str | None = Field(default=None, max_length=128)
    # What QBO holds, as last read back (invoices: doc_number, total, tax, balance, state, read_at).
    figures: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ChangeFeed(SQLModel, table=True):
    """Where the company's change feed (QuickBooks' Change Data Capture) has got to."""

    __tablename__ = "change_feed"

    realm_id: str = Field(primary_key=True, foreign_key="company.realm_id", max_length=32)
    # The changedSince of the next poll: everything QBO changed before it has been read.
    read_until: datetime | None = _ts(nullable=True)
    last_polled_at: datetime | None = _ts(nullable=True)
    last_error: str | None = None
    # When the feed found a gap longer than CDC's 30 days (and re-read the linked records).
    gap_at: datetime | None = _ts(nullable=True)
    updated_at: datetime = _ts()


class QboChange(SQLModel, table=True):
    """A change made in QuickBooks to a record JobRoutr wrote or imported, for ``/api/v1/changes``
    (``seq`` orders them per realm: the cursor)."""

    __tablename__ = "qbo_change"
    __table_args__ = (Index("ix_qbo_change_realm_seq", "realm_id", "seq", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    realm_id: str = Field(foreign_key="company.realm_id", max_length=32)
    seq: int
    kind: str = Field(max_length=16)  # a RecordKind.name
    jobroutr_id: str | None = Field(default=None, max_length=128)
    qbo_id: str = Field(max_length=32)
    change: str = Field(max_length=24)  # "voided", "deleted", "changed", "paid", "renamed", ...
    at: datetime = _ts()  # when QuickBooks changed it (its LastUpdatedTime)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts()


class ChangeCounter(SQLModel, table=True):
    """Monotonic counters behind the pull API's cursors (one per realm and kind of record)."""

    __tablename__ = "change_counter"

    name: str = Field(primary_key=True, max_length=64)
    value: int = 0


class Event(SQLModel, table=True):
    """A signed event received from JobRoutr, kept as received, with its outcome."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_record", "record_kind", "record_id"),)

    id: str = Field(primary_key=True, max_length=128)  # webhook-id
    type: str = Field(max_length=64)
    realm_id: str | None = Field(default=None, max_length=32)
    record_kind: str | None = Field(default=None, max_length=16)
    record_id: str | None = Field(default=None, max_length=128)
    occurred_at: datetime | None = _ts(nullable=True)
    received_at: datetime = _ts(index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=EventStatus.QUEUED, max_length=16, index=True)  # EventStatus
    attempts: int = 0
    qbo_id: str | None = Field(default=None, max_length=32)
    error_code: str | None = Field(default=None, max_length=32)
    error_message: str | None = None
    error_hint: str | None = None
    # A ``mismatch``: {"qbo": {...}, "jobroutr": {...}} figures; who accepted it, when.
    details: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    first_response: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    updated_at: datetime = _ts()


class Job(SQLModel, table=True):
    """Work for the queue: leased, heartbeated and fenced so no job runs twice at once."""

    __tablename__ = "job"
    __table_args__ = (
        # By state in id order: the claim walks each state's jobs oldest first and stops at the
        # first few runnable ones, however long the queue (no sort of the whole backlog).
        Index("ix_job_state", "state", "id"),
        Index("ix_job_record", "record_key", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str | None = Field(default=None, foreign_key="event.id", max_length=128)
    realm_id: str | None = Field(default=None, max_length=32)
    kind: str = Field(max_length=32)
    record_key: str = Field(max_length=160)
    state: str = Field(default=JobState.QUEUED, max_length=16)  # JobState
    run_after: datetime = _ts()
    attempts: int = 0
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_expires_at: datetime | None = _ts(nullable=True)
    fence: int = 0
    # The requestid of the write in flight (stored before it is sent, reused on every retry);
    # ``generation`` counts operator retries after a definite refusal, which need a new one.
    request_id: str | None = Field(default=None, max_length=50)
    generation: int = 0
    waiting_for: str | None = None
    # What a waiting job waits on, as space-separated tokens (" customer:c1 product:p2 "), so
    # the one change it needs wakes it, not every change.
    waits_on: str | None = None
    # How long it has waited for what waits_on names, while the service ran (timed by the
    # monotonic clock, so a wall-clock jump neither adds nor removes waiting time).
    waited_seconds: float = 0.0
    last_error: str | None = None
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ImportRun(SQLModel, table=True):
    """One import of customers, products or accounts, with its progress and summary."""

    __tablename__ = "import_run"
    __table_args__ = (Index("ix_import_run_realm_kind", "realm_id", "kind", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    realm_id: str = Field(foreign_key="company.realm_id", max_length=32)
    kind: str = Field(max_length=16)  # customers|products|accounts
    state: str = Field(default="running", max_length=16)  # running|done|failed|cancelled
    total: int | None = None
    done: int = 0
    skipped: int = 0
    qbo_calls: int = 0
    cancel_requested: bool = False
    error: str | None = None
    started_at: datetime = _ts()
    heartbeat_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)
    #: Counted in QuickBooks, not imported on purpose: {"inactive": 119, "categories": 113}.
    left_out: dict[str, int] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    #: The instance running it (``Settings.instance()``); its heartbeat is its lease.
    owner: str | None = Field(default=None, max_length=128)


class ImportSkip(SQLModel, table=True):
    """A record an import did not bring in, and why."""

    __tablename__ = "import_skip"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="import_run.id", index=True)
    qbo_id: str = Field(max_length=32)
    name: str | None = None
    reason: str


class AuditEntry(SQLModel, table=True):
    """An operator action. Append-only: the database refuses updates and deletes of these rows."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(index=True)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=64)
    realm_id: str | None = Field(default=None, max_length=32)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class QboGrant(SQLModel, table=True):
    """A share of Intuit's per-company limits held by one instance (storage/limits.py): calls and
    slots it may use, counted against the company until ``counts_until``."""

    __tablename__ = "qbo_grant"
    __table_args__ = (Index("ix_qbo_grant_realm_counts", "realm_id", "counts_until"),)

    id: int | None = Field(default=None, primary_key=True)
    realm_id: str = Field(max_length=32)
    instance: str = Field(max_length=128)
    calls: int
    batch_calls: int
    slots: int
    granted_at: datetime = _ts()
    open_until: datetime = _ts()
    counts_until: datetime = _ts()


class ApplianceInstance(SQLModel, table=True):
    """An instance serving this store, as it last said (storage/instances.py): gone when its
    ``last_seen`` is older than the lease. ``key_fingerprints`` are hashes, never keys."""

    __tablename__ = "appliance_instance"

    name: str = Field(primary_key=True, max_length=128)
    started_at: datetime = _ts()
    last_seen: datetime = _ts()
    key_fingerprints: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )


class DataKey(SQLModel, table=True):
    """The store's current data key (one row): the version every instance seals with, and its
    fingerprint so an instance can tell it holds that very key."""

    __tablename__ = "data_key"

    id: int = Field(default=1, primary_key=True)
    version: int
    fingerprint: str = Field(max_length=64)
    changed_at: datetime = _ts()
