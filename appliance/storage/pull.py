"""What the pull API answers (../shared/jobroutr/CONTRACT.md section 2), read from the store.

Each answer is a typed schema built here, in the only layer that opens a session, so the gateway's
handlers check parameters and return what they are given. Mirror rows are read after a change
number (the cursor's; the gateway encodes and decodes cursors, this module only sees numbers).
Field order is the order of the keys on the wire.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlmodel import Session, col, select

from appliance.core.accounts import ACCOUNT_KINDS
from appliance.core.admin import ConnectionInfo, OnboardingInfo, QueueInfo, SettingsInfo
from appliance.core.kinds import ACCOUNT, CUSTOMER, IMPORTED, INVOICE, PRODUCT
from appliance.core.left_out import left_out_sentence
from appliance.core.money import money_text
from appliance.core.review import ReviewCase
from appliance.core.states import EventStatus
from appliance.storage import credentials
from appliance.storage import imports as runs
from appliance.storage.books import get_books
from appliance.storage.changes import SEEN, snapshot
from appliance.storage.changes import page as found_changes
from appliance.storage.db import session_scope
from appliance.storage.mirror import WRITES, changed_since
from appliance.storage.models import Event, Link, QboAccount
from appliance.storage.store import Store
from appliance.storage.types import utcnow

#: The mirror lists the pull API pages through, and the link kind of each list's rows.
LINKED_KINDS = {kind.plural: kind.name for kind in (CUSTOMER, PRODUCT)}
#: The imports whose latest run the status shows.
IMPORT_KINDS = tuple(kind.plural for kind in IMPORTED)


class PullConnection(msgspec.Struct, kw_only=True):
    connected: bool
    state: str
    company_name: str | None
    realm_id: str
    environment: str
    refresh_token_expires_at: datetime | None

    @classmethod
    def of(cls, info: ConnectionInfo) -> PullConnection:
        return cls(
            connected=info.state == "connected",
            state=info.state,
            company_name=info.company_name,
            realm_id=info.realm_id,
            environment=info.environment,
            refresh_token_expires_at=info.refresh_token_expires_at,
        )


class PullQueue(msgspec.Struct, kw_only=True):
    depth: int
    oldest_queued_age_seconds: float | None
    failed: int

    @classmethod
    def of(cls, queue: QueueInfo) -> PullQueue:
        return cls(
            depth=queue.queued + queue.running + queue.waiting,
            oldest_queued_age_seconds=queue.oldest_queued_age_seconds,
            failed=queue.failed,
        )


class PullDefaultAccounts(msgspec.Struct, kw_only=True):
    income_account_id: str | None
    expense_account_id: str | None

    @classmethod
    def of(cls, chosen: SettingsInfo) -> PullDefaultAccounts:
        return cls(
            income_account_id=chosen.income_account.qbo_id if chosen.income_account else None,
            expense_account_id=chosen.expense_account.qbo_id if chosen.expense_account else None,
        )


class PullOnboarding(msgspec.Struct, kw_only=True):
    tasks: dict[str, bool]
    completed_at: datetime | None

    @classmethod
    def of(cls, progress: OnboardingInfo) -> PullOnboarding:
        return cls(
            tasks={t.task: t.done for t in progress.tasks}, completed_at=progress.completed_at
        )


class PullImport(msgspec.Struct, kw_only=True):
    state: str
    done: int
    skipped: int
    finished_at: datetime | None
    #: Not imported on purpose, counted in QuickBooks: {"inactive": 119, "categories": 113}.
    left_out: dict[str, int] | None = None
    #: The run in one line: "19,433 imported, 0 skipped. Active only; 119 inactive not imported."
    summary: str = ""


class PullBooks(msgspec.Struct, kw_only=True):
    """How the company keeps its books, as read at connect or the last accounts import."""

    country: str | None
    tax_model: str  # ast|us_manual|per_line|none (core.books.TaxModel)
    home_currency: str
    multicurrency: bool
    allow_discount: bool
    custom_txn_numbers: bool
    read_at: datetime | None


def books(store: Store, realm_id: str) -> PullBooks | None:
    """The company's books, or None when they have not been read yet."""
    found = get_books(store.engine, realm_id)
    if found is None:
        return None
    return PullBooks(
        country=found.country,
        tax_model=found.tax_model.value,
        home_currency=found.home_currency,
        multicurrency=found.multicurrency,
        allow_discount=found.allow_discount,
        custom_txn_numbers=found.custom_txn_numbers,
        read_at=found.read_at,
    )


class PullStatus(msgspec.Struct, kw_only=True):
    """Before the first connection only ``connection`` (null) and ``queue``: the rest is absent."""

    connection: PullConnection | None
    queue: PullQueue
    default_accounts: PullDefaultAccounts | msgspec.UnsetType = msgspec.UNSET
    onboarding: PullOnboarding | msgspec.UnsetType = msgspec.UNSET
    last_imports: dict[str, PullImport | None] | msgspec.UnsetType = msgspec.UNSET
    books: PullBooks | msgspec.UnsetType | None = msgspec.UNSET


class PullAccount(msgspec.Struct, kw_only=True):
    qbo_id: str
    name: str
    fully_qualified_name: str
    account_type: str
    account_sub_type: str | None
    active: bool
    updated_at: datetime


class Changes(msgspec.Struct, kw_only=True):
    """A page of a mirror list, and the change number its next cursor holds (the one asked for
    when the page is empty: nothing changed since)."""

    #: Customers and products are QBO's own record with our ids added, so open-ended.
    items: list[dict[str, Any]] | list[PullAccount]
    last_seq: int


class PullPage(msgspec.Struct, kw_only=True):
    items: list[dict[str, Any]] | list[PullAccount]
    next_cursor: str


class PullLink(msgspec.Struct, kw_only=True):
    """For invoices also what QuickBooks holds: its number, total, tax, balance and state
    (``open``, ``paid``, ``voided``, ``deleted``), read at ``as_of`` (now, when QuickBooks
    answered the live read; else when they were last read). Other kinds: the ids only."""

    kind: str
    jobroutr_id: str
    qbo_id: str
    doc_number: str | msgspec.UnsetType | None = msgspec.UNSET
    total: str | msgspec.UnsetType | None = msgspec.UNSET
    tax: str | msgspec.UnsetType | None = msgspec.UNSET
    balance: str | msgspec.UnsetType | None = msgspec.UNSET
    state: str | msgspec.UnsetType | None = msgspec.UNSET
    as_of: datetime | msgspec.UnsetType | None = msgspec.UNSET


class PullChange(msgspec.Struct, kw_only=True):
    """A change made in QuickBooks to a record JobRoutr wrote or imported (docs/changes.md):
    ``kind`` invoice, payment or customer; ``jobroutr_id`` null for an imported customer JobRoutr
    never linked; ``change`` what happened; ``at`` when QuickBooks changed it; ``detail`` the
    figures before and after, the payment's id and amount, the names."""

    kind: str
    jobroutr_id: str | None
    qbo_id: str
    change: str
    at: datetime
    detail: dict[str, Any]


class PullChangePage(msgspec.Struct, kw_only=True):
    items: list[PullChange]
    next_cursor: str


class PullEventError(msgspec.Struct, kw_only=True):
    code: str | None
    message: str | None
    hint: str | None


class PullTotals(msgspec.Struct, kw_only=True):
    total: str | None
    tax: str | None


class PullMismatch(msgspec.Struct, kw_only=True):
    """QuickBooks' totals and JobRoutr's; ``accepted_at`` once the operator let QBO's stand."""

    qbo: PullTotals
    jobroutr: PullTotals
    accepted_at: datetime | None = None


class PullReview(msgspec.Struct, kw_only=True):
    """An event in ``review``: why the appliance asks the operator, and the QuickBooks record it
    might be (``qbo_id``, name and the fields compared), or null when there is none."""

    reason: str  # name | inactive | type
    message: str
    candidate: dict[str, str] | None
    create_as: str | None  # the name a new record would get, if the operator creates one


class PullEvent(msgspec.Struct, kw_only=True):
    event_id: str
    status: str
    attempts: int
    qbo_id: str | None
    error: PullEventError | None
    #: A ``mismatch`` (or one accepted, then ``done``): both sides' totals; else null.
    mismatch: PullMismatch | None = None
    #: ``review`` (a question for the operator, nothing written yet): the QBO record it might be.
    review: PullReview | None = None


def api_key_valid(store: Store, presented: str) -> bool:
    """Whether ``presented`` is an active API key (its use is noted when it is)."""
    with store.session() as session:
        found = credentials.verify_api_key(session, presented)
        session.commit()
    return found is not None


def last_imports(store: Store, realm_id: str) -> dict[str, PullImport | None]:
    summaries: dict[str, PullImport | None] = {}
    for kind in IMPORT_KINDS:
        run = runs.latest_run(store.engine, realm_id, kind)
        summaries[kind] = (
            None
            if run is None
            else PullImport(
                state=run.state,
                done=run.done,
                skipped=run.skipped,
                finished_at=run.finished_at,
                left_out=run.left_out,
                summary=" ".join(
                    filter(
                        None,
                        (
                            f"{run.done:,} imported, {run.skipped:,} skipped.",
                            left_out_sentence(run.left_out),
                        ),
                    )
                ),
            )
        )
    return summaries


def changes(
    store: Store, realm_id: str, kind: str, *, after: int, limit: int, account_kind: str | None
) -> Changes:
    """Up to ``limit`` rows of a mirror list (``customers``, ``products``, ``accounts``) changed
    after the change number ``after``, oldest change first; accounts of ``account_kind`` only."""
    filters = []
    if kind == ACCOUNT.plural and account_kind is not None:
        filters.append(col(QboAccount.account_type).in_(ACCOUNT_KINDS[account_kind]))
    with store.session() as session:
        rows = changed_since(session, realm_id, kind, after, limit, filters=filters)
        if kind not in LINKED_KINDS:
            return Changes(items=[_account(row) for row in rows], last_seq=_last(rows, after))
        qbo_ids = [row.qbo_id for row in rows]
        linked = _jobroutr_ids(session, realm_id, LINKED_KINDS[kind], qbo_ids) if rows else {}
    items = [
        {
            **row.data,
            **_money(row.data),
            "qbo_id": row.qbo_id,
            "jobroutr_id": linked.get(row.qbo_id),
            "updated_at": row.updated_at,
        }
        for row in rows
    ]
    return Changes(items=items, last_seq=_last(rows, after))


#: The mirror's money fields: rows imported before issue 22 keep QuickBooks' "75" or "0".
MONEY_FIELDS = ("price", "balance")


def _money(data: dict[str, Any]) -> dict[str, Any]:
    """A row's money written one way ("75.00"), whenever it was imported."""
    return {k: money_text(data[k]) for k in MONEY_FIELDS if data.get(k) is not None}


def qbo_changes(
    store: Store, realm_id: str, *, after: int, limit: int
) -> tuple[list[PullChange], int]:
    """Up to ``limit`` changes found in QuickBooks after the change number ``after``, oldest
    first, and the number the next cursor holds."""
    rows = found_changes(store.engine, realm_id, after=after, limit=limit)
    items = [
        PullChange(
            kind=row.kind,
            jobroutr_id=row.jobroutr_id,
            qbo_id=row.qbo_id,
            change=row.change,
            at=row.at,
            detail=dict(row.detail),
        )
        for row in rows
    ]
    return items, (rows[-1].seq if rows else after)


def _last(rows: list[Any], after: int) -> int:
    return int(rows[-1].change_seq) if rows else after


def _account(row: QboAccount) -> PullAccount:
    return PullAccount(
        qbo_id=row.qbo_id,
        name=row.name,
        fully_qualified_name=row.fully_qualified_name,
        account_type=row.account_type,
        account_sub_type=row.account_sub_type,
        active=row.active,
        updated_at=row.updated_at,
    )


def _jobroutr_ids(session: Session, realm_id: str, kind: str, qbo_ids: list[str]) -> dict[str, str]:
    rows = session.exec(
        select(Link.qbo_id, Link.jobroutr_id).where(
            col(Link.realm_id) == realm_id, col(Link.kind) == kind, col(Link.qbo_id).in_(qbo_ids)
        )
    ).all()
    return dict(rows)


def link(store: Store, realm_id: str, kind: str, jobroutr_id: str) -> PullLink | None:
    """The QBO id a JobRoutr record of ``kind`` is linked to, or None; an invoice's with the
    figures last read (``as_of`` None: never read)."""
    with store.session() as session:
        found = session.get(Link, (realm_id, kind, jobroutr_id))
    if found is None:
        return None
    if kind != INVOICE.name:
        return PullLink(kind=kind, jobroutr_id=jobroutr_id, qbo_id=found.qbo_id)
    return with_figures(
        PullLink(kind=kind, jobroutr_id=jobroutr_id, qbo_id=found.qbo_id), found.figures
    )


def with_figures(found: PullLink, figures: dict[str, Any] | None) -> PullLink:
    """The link with an invoice's figures (``read_at`` becomes ``as_of``)."""
    figures = figures or {}
    read_at = figures.get("read_at")
    return msgspec.structs.replace(
        found,
        doc_number=_text(figures.get("doc_number")),
        total=_text(figures.get("total")),
        tax=_text(figures.get("tax")),
        balance=_text(figures.get("balance")),
        state=_text(figures.get("state")),
        as_of=datetime.fromisoformat(read_at) if isinstance(read_at, str) else None,
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def save_figures(
    store: Store,
    realm_id: str,
    kind: str,
    jobroutr_id: str,
    *,
    qbo_id: str,
    figures: dict[str, Any],
) -> dict[str, Any] | None:
    """Keep what QuickBooks holds on the link, if it still points at ``qbo_id``: merged with what
    was there (a deleted invoice keeps its last figures). Returns the figures kept, or None."""
    with WRITES, session_scope(store.engine) as session:
        row = session.get(Link, (realm_id, kind, jobroutr_id))
        if row is None or row.qbo_id != qbo_id:
            return None
        before = row.figures or {}
        row.figures = {**before, **figures}
        if before and SEEN not in before:
            # What the appliance wrote, kept for the change feed to compare QuickBooks' with:
            # a read here is no change of JobRoutr's (changes.SEEN).
            row.figures[SEEN] = snapshot(before)
        row.updated_at = utcnow()
        session.add(row)
        return dict(row.figures)


def event(store: Store, event_id: str) -> PullEvent | None:
    """What became of an event; its error only while it is failed."""
    with store.session() as session:
        found = session.get(Event, event_id)
    if found is None:
        return None
    error = None
    if found.status == EventStatus.FAILED:
        error = PullEventError(
            code=found.error_code, message=found.error_message, hint=found.error_hint
        )
    return PullEvent(
        event_id=found.id,
        status=found.status,
        attempts=found.attempts,
        qbo_id=found.qbo_id,
        error=error,
        mismatch=_mismatch(found.status, found.details),
        review=_review(found.status, found.details),
    )


def _review(status: str, details: dict[str, Any] | None) -> PullReview | None:
    case = ReviewCase.from_details(details) if status == EventStatus.REVIEW else None
    if case is None:
        return None
    return PullReview(
        reason=case.reason,
        message=case.message,
        candidate=case.candidate,
        create_as=case.create_as,
    )


def _totals(side: Any) -> PullTotals:
    side = side if isinstance(side, dict) else {}
    return PullTotals(total=_text(side.get("total")), tax=_text(side.get("tax")))


def _mismatch(status: str, details: dict[str, Any] | None) -> PullMismatch | None:
    if not details or "qbo" not in details:
        return None
    accepted = details.get("accepted")
    at = accepted.get("at") if isinstance(accepted, dict) else None
    if status != EventStatus.MISMATCH and at is None:
        return None
    return PullMismatch(
        qbo=_totals(details.get("qbo")),
        jobroutr=_totals(details.get("jobroutr")),
        accepted_at=datetime.fromisoformat(at) if isinstance(at, str) else None,
    )
