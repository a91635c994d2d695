"""Schemas of the admin API (Unix socket): what the service answers and the console reads."""

from __future__ import annotations

from datetime import datetime

import msgspec

from appliance.core.books import Books
from appliance.core.changes import FeedInfo
from appliance.core.review import Decision, ReviewCase


class ConnectionInfo(msgspec.Struct, kw_only=True):
    realm_id: str
    company_name: str | None
    environment: str
    state: str
    connected_at: datetime | None = None
    access_token_expires_at: datetime | None = None
    refresh_token_expires_at: datetime | None = None
    refresh_token_hard_expires_at: datetime | None = None
    last_error: str | None = None
    warnings: list[str] = msgspec.field(default_factory=list)
    disconnected_at: datetime | None = None


class ConnectStartRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    allow_other_company: bool = False


class ConnectStartReport(msgspec.Struct, kw_only=True):
    authorization_url: str
    redirect_uri: str
    environment: str
    expires_at: datetime
    attempt: str = ""  # follow it: GET /v1/connect/attempts/{attempt} (ConnectAttempt)


#: How an attempt to connect stands: the browser has not come back yet (``open``), the code is
#: being exchanged (``finishing``), or it ended: ``connected``, ``failed`` or ``expired``.
ATTEMPT_OPEN, ATTEMPT_FINISHING = "open", "finishing"
ATTEMPT_CONNECTED, ATTEMPT_FAILED, ATTEMPT_EXPIRED = "connected", "failed", "expired"


class ConnectAttempt(msgspec.Struct, kw_only=True):
    """One started connection, as the browser's page would tell it: the sentence and the hint
    once it ended (the company once connected)."""

    attempt: str
    state: str
    started_at: datetime
    expires_at: datetime
    finished_at: datetime | None = None
    message: str = ""
    hint: str = ""
    connection: ConnectionInfo | None = None


class ConnectFinishRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    redirect_url: str


class DisconnectReport(msgspec.Struct, kw_only=True):
    realm_id: str
    company_name: str | None
    revoked_at_intuit: bool
    note: str = ""


class QueueInfo(msgspec.Struct, kw_only=True):
    queued: int = 0
    running: int = 0
    waiting: int = 0
    failed: int = 0
    mismatch: int = 0  # written, but QuickBooks' totals differ from the bill: see the events
    review: int = 0  # questions for the operator (`appliance events review`): nothing written
    oldest_queued_age_seconds: float | None = None
    #: Running jobs by the instance that holds them (several instances on one database).
    running_by_instance: dict[str, int] = msgspec.field(default_factory=dict)


class StoreInfo(msgspec.Struct, kw_only=True):
    backend: str
    location: str
    schema_revision: str | None
    schema_current: bool
    key_version: int
    key_rotation_pending: bool


class ActivityInfo(msgspec.Struct, kw_only=True):
    """What this service process did lately (counted in memory: a restart starts from zero)."""

    window_seconds: int  # how much of the last hour the counts cover (less just after a start)
    pushes_per_minute: float  # events written to QuickBooks, over the last five minutes
    pushed: int  # events written in the window
    push_failed: int  # events that failed for good in the window
    push_retried: int  # attempts that will be tried again (transient trouble)
    qbo_calls: int  # requests to QuickBooks in the window, every retry included
    qbo_throttled: int  # of those, answered 429 (too many requests)
    qbo_failed: int  # answered with another error, or not at all


class ReadinessCheck(msgspec.Struct, kw_only=True):
    """One production-readiness check: clock, disk, certificate, quickbooks."""

    name: str
    state: str  # ok|warn|fail|unknown
    detail: str
    hint: str | None = None


class BooksInfo(msgspec.Struct, kw_only=True):
    """How the company keeps its books (``core.books``), as last read from QuickBooks."""

    country: str | None
    tax_model: str  # core.books.TaxModel: ast|us_manual|per_line|none
    tax_model_name: str  # core.books.TAX_MODEL_NAMES, in words
    home_currency: str
    multicurrency: bool
    allow_discount: bool
    custom_txn_numbers: bool
    read_at: datetime | None = None

    @classmethod
    def of(cls, books: Books) -> BooksInfo:
        return cls(
            country=books.country,
            tax_model=books.tax_model.value,
            tax_model_name=books.tax_model.describe,
            home_currency=books.home_currency,
            multicurrency=books.multicurrency,
            allow_discount=books.allow_discount,
            custom_txn_numbers=books.custom_txn_numbers,
            read_at=books.read_at,
        )


class InstanceInfo(msgspec.Struct, kw_only=True):
    """A live instance of the cluster on this store (storage/instances.py)."""

    name: str
    started_at: datetime
    last_seen: datetime
    key_versions: list[int]  # the versions in its key file (fingerprints stay in the store)


class StatusReport(msgspec.Struct, kw_only=True):
    version: str
    started_at: datetime
    qbo_environment: str
    public_url: str
    store: StoreInfo
    connection: ConnectionInfo | None
    queue: QueueInfo
    api_keys: int
    webhook_secret_set: bool
    activity: ActivityInfo | None = None
    checks: list[ReadinessCheck] = msgspec.field(default_factory=list)
    books: BooksInfo | None = None  # None until read (at connect, or an accounts import)
    feed: FeedInfo | None = None  # the change feed, once connected (core.changes)
    instance: str | None = None  # which instance answered (Settings.instance())
    instances: list[InstanceInfo] = msgspec.field(default_factory=list)  # live, on PostgreSQL


class KeyRotationReport(msgspec.Struct, kw_only=True):
    old_key_versions: list[int]
    new_key_version: int
    resealed: int
    resumed: bool


class ImportSkipInfo(msgspec.Struct, kw_only=True):
    qbo_id: str
    name: str | None
    reason: str


class ImportReport(msgspec.Struct, kw_only=True):
    run_id: int
    kind: str
    realm_id: str
    state: str  # running|done|failed|cancelled
    total: int | None
    done: int
    skipped: int
    qbo_calls: int
    started_at: datetime
    finished_at: datetime | None = None
    rate_per_second: float | None = None
    eta_seconds: float | None = None
    error: str | None = None
    skips: list[ImportSkipInfo] = msgspec.field(default_factory=list)
    #: What it left out on purpose, counted in QuickBooks ({"inactive": 119, "categories": 113});
    #: None for tax codes (all imported) and runs before these were counted.
    left_out: dict[str, int] | None = None


class AccountInfo(msgspec.Struct, kw_only=True):
    qbo_id: str
    name: str
    fully_qualified_name: str
    account_type: str
    account_sub_type: str | None


class SettingsInfo(msgspec.Struct, kw_only=True):
    realm_id: str
    income_account: AccountInfo | None
    expense_account: AccountInfo | None
    #: Where payments are deposited; None: QuickBooks' Undeposited Funds (the default).
    deposit_account: AccountInfo | None = None


class OnboardingTask(msgspec.Struct, kw_only=True):
    task: str
    name: str
    done: bool


class OnboardingInfo(msgspec.Struct, kw_only=True):
    realm_id: str
    tasks: list[OnboardingTask]
    completed_at: datetime | None = None
    skipped: list[str] = msgspec.field(default_factory=list)


class SettingsChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    income_account_id: str | None = None
    expense_account_id: str | None = None
    #: A Bank or Other Current Asset account; "" goes back to Undeposited Funds.
    deposit_account_id: str | None = None


class TaxCodeRateInfo(msgspec.Struct, kw_only=True):
    qbo_id: str
    name: str
    percent: str


class TaxCodeView(msgspec.Struct, kw_only=True):
    """A QuickBooks tax code, as imported: ``percent`` is the sum of its sales rates."""

    qbo_id: str
    name: str
    description: str | None = None
    active: bool = True
    tax_group: bool = False
    percent: str | None = None
    rates: list[TaxCodeRateInfo] = msgspec.field(default_factory=list)


class TaxRateView(msgspec.Struct, kw_only=True):
    """A JobRoutr tax rate, learned from the first invoice that used it, and its QBO code."""

    jobroutr_rate_id: str
    name: str
    percent: str
    mapped: TaxCodeView | None = None
    suggested: TaxCodeView | None = None
    first_event_id: str | None = None
    mapped_by: str | None = None
    mapped_at: datetime | None = None


class TaxesInfo(msgspec.Struct, kw_only=True):
    """The tax step: JobRoutr's rates and their codes, the code for untaxed lines (outside the
    US), the discount account, and what is still missing for invoices to be written."""

    realm_id: str
    tax_model: str | None  # core.books.TaxModel; None until the company's books were read
    tax_model_name: str
    needs_mapping: bool  # us_manual and per_line companies map their rates
    needs_untaxed_code: bool  # per_line companies: every line needs a code
    codes_imported: int
    rates: list[TaxRateView]
    untaxed_tax_code: TaxCodeView | None = None
    suggested_untaxed_tax_code: TaxCodeView | None = None
    discount_account: AccountInfo | None = None
    suggested_discount_account: AccountInfo | None = None
    missing: list[str] = msgspec.field(default_factory=list)  # sentences, empty when all set


class TaxMapRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    qbo_tax_code_id: str
    force: bool = False  # map to a code of another percent anyway (audited)


class TaxSuggestedRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Accept the suggestions of these rates; empty: of every unmapped rate that has one."""

    rate_ids: list[str] = msgspec.field(default_factory=list)


class InvoiceSettingsChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    discount_account_id: str | None = None
    untaxed_tax_code_id: str | None = None


#: Every status an event can have, in the order an event goes through them.
EVENT_STATUSES = (
    "queued",
    "running",
    "waiting",
    "review",
    "done",
    "mismatch",
    "failed",
    "ignored",
)
EVENTS_MAX_LIMIT = 500


class EventError(msgspec.Struct, kw_only=True):
    code: str
    message: str
    hint: str | None = None


class Totals(msgspec.Struct, kw_only=True):
    """An invoice's total and tax, as decimal strings."""

    total: str | None = None
    tax: str | None = None


class EventMismatch(msgspec.Struct, kw_only=True):
    """Written, but QuickBooks' totals are not the bill's: both, and what to do. Kept once the
    operator accepted it (the event is then ``done``), with who accepted it and when."""

    qbo: Totals
    jobroutr: Totals
    hint: str
    accepted_by: str | None = None
    accepted_at: datetime | None = None


class EventInfo(msgspec.Struct, kw_only=True):
    """An event received from JobRoutr and what became of it."""

    event_id: str
    type: str
    record_kind: str | None
    record_id: str | None
    status: str  # queued|running|waiting|review|done|mismatch|failed|ignored
    attempts: int
    qbo_id: str | None
    received_at: datetime
    occurred_at: datetime | None = None
    updated_at: datetime
    waiting_for: str | None = None  # a waiting event: what it waits for
    next_attempt_at: datetime | None = None  # a queued or waiting event: when it is looked at
    error: EventError | None = None  # a failed event, or one an operator skipped
    last_error: str | None = None  # a queued event: the transient error of its last attempt
    mismatch: EventMismatch | None = None  # a mismatch (or one accepted): both sides' totals
    #: An event in review (or one decided): the JobRoutr record, the QuickBooks candidate, why
    #: it asks and the choices (``core.review``).
    review: ReviewCase | None = None
    decision: Decision | None = None  # the operator's answer to ``review``, once given


class EventList(msgspec.Struct, kw_only=True):
    items: list[EventInfo]
    counts: dict[str, int]  # of all events, by status
    next_before: str | None = None  # pass as ``before`` for the next (older) page


class EventActionRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Exactly one of: ``event_ids`` (not empty), or ``all_failed`` true."""

    event_ids: list[str] = msgspec.field(default_factory=list)
    all_failed: bool = False


class EventAcceptRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The mismatches to accept, by id (not empty)."""

    event_ids: list[str]


class EventDecideRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The operator's answer to an event in review: ``link`` (to the candidate shown, or to
    ``qbo_id``), ``create`` (a new record under the name shown) or ``skip``."""

    action: str
    qbo_id: str | None = None


class EventActionReport(msgspec.Struct, kw_only=True):
    action: str  # retry|skip|accept
    event_ids: list[str]
    count: int
