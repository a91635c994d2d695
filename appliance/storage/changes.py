"""The change feed in the store: how far QuickBooks' Change Data Capture has been read
(``ChangeFeed``), what it found (``QboChange``, numbered per company for ``/api/v1/changes``), and
what the feed needs to know to judge an answer (links, mirrored customers, the appliance's own
undoing and writing).

A change is kept once: the same record, change and time found again (windows overlap, a poll is
repeated after a crash) is not a new change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from appliance.core.changes import FeedInfo
from appliance.core.kinds import CUSTOMER, INVOICE, PAYMENT
from appliance.core.states import JobState
from appliance.storage.db import session_scope
from appliance.storage.mirror import WRITES, MirrorRow, next_seqs, upsert_rows
from appliance.storage.models import ChangeFeed, Event, Job, Link, QboChange, QboCustomer
from appliance.storage.types import utcnow

#: The counter behind ``QboChange.seq`` (mirror.next_seqs names it per realm).
COUNTER = "qbo_changes"
#: The key on ``Link.figures`` of what the appliance last wrote or the feed last saw of an invoice.
SEEN = "seen"
SEEN_KEYS = ("doc_number", "total", "tax", "balance", "state", "sync_token")
#: Events by which JobRoutr itself undid a record: their effect in QuickBooks is no news.
UNDOING = ("invoice.voided", "invoice.deleted", "payment.voided", "payment.deleted")


def snapshot(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures the feed compares the next answer with."""
    return {name: figures.get(name) for name in SEEN_KEYS}


@dataclass(frozen=True)
class FeedState:
    read_until: datetime | None
    last_polled_at: datetime | None
    last_error: str | None
    gap_at: datetime | None


def feed_state(engine: Engine, realm_id: str) -> FeedState | None:
    with Session(engine) as session:
        row = session.get(ChangeFeed, realm_id)
        if row is None:
            return None
        return FeedState(row.read_until, row.last_polled_at, row.last_error, row.gap_at)


def save_progress(
    engine: Engine,
    realm_id: str,
    *,
    polled_at: datetime,
    read_until: datetime | None = None,
    error: str | None = None,
    gap_at: datetime | None = None,
) -> None:
    """A poll ended: when, how far it read (unchanged when None), its error (None: it worked)."""
    with WRITES, session_scope(engine) as session:
        row = session.get(ChangeFeed, realm_id) or ChangeFeed(realm_id=realm_id)
        row.last_polled_at = polled_at
        row.last_error = error
        if read_until is not None:
            row.read_until = read_until
        if gap_at is not None:
            row.gap_at = gap_at
        row.updated_at = utcnow()
        session.add(row)


def set_read_until(engine: Engine, realm_id: str, read_until: datetime) -> None:
    """Move the feed's mark (tests that play an appliance switched off for weeks)."""
    with WRITES, session_scope(engine) as session:
        row = session.get(ChangeFeed, realm_id) or ChangeFeed(realm_id=realm_id)
        row.read_until = read_until
        session.add(row)


def _links(session: Session, realm_id: str, kind: str, qbo_ids: Iterable[str]) -> list[Link]:
    ids = sorted(set(qbo_ids))
    if not ids:
        return []
    return list(
        session.exec(
            select(Link).where(
                col(Link.realm_id) == realm_id, col(Link.kind) == kind, col(Link.qbo_id).in_(ids)
            )
        ).all()
    )


@dataclass(frozen=True)
class Held:
    """What the store holds of the records an answer names."""

    invoices: dict[str, tuple[str, dict[str, Any]]]  # qbo id: (jobroutr id, figures)
    payments: dict[str, tuple[str, dict[str, Any]]]
    customers: dict[str, tuple[str | None, str | None, bool]]  # qbo id: (jobroutr id, name, active)
    seen_payments: dict[str, list[tuple[str, str]]]  # payment qbo id: [(jobroutr id, invoice id)]
    undone: set[str]  # "kind:jobroutr_id"
    busy: set[str]  # "kind:jobroutr_id", and "payment" while any payment is being written


def held(
    engine: Engine,
    realm_id: str,
    *,
    invoices: Iterable[str],
    payments: Iterable[str],
    customers: Iterable[str],
) -> Held:
    payment_ids = sorted(set(payments))
    with Session(engine) as session:
        # Which records are being written, read FIRST: a job that ends between this read and the
        # links' read has its outcome (figures, sync token) in them. Read the other way round (on
        # SQLite each SELECT is its own snapshot), a job ending between the two reads left the
        # old figures and no running job: the appliance's own write looked like the bookkeeper's.
        running = _running(session, realm_id)
        linked_invoices = _links(session, realm_id, INVOICE.name, invoices)
        linked_payments = _links(session, realm_id, PAYMENT.name, payment_ids)
        found_customers = _customers(session, realm_id, customers)
        keys = [f"{INVOICE.name}:{link.jobroutr_id}" for link in linked_invoices]
        keys += [f"{PAYMENT.name}:{link.jobroutr_id}" for link in linked_payments]
        keys += [f"{CUSTOMER.name}:{jid}" for jid, _, _ in found_customers.values() if jid]
        return Held(
            invoices={k.qbo_id: (k.jobroutr_id, dict(k.figures or {})) for k in linked_invoices},
            payments={k.qbo_id: (k.jobroutr_id, dict(k.figures or {})) for k in linked_payments},
            customers=found_customers,
            seen_payments=_seen_payments(session, realm_id, payment_ids),
            undone=_undone(session, keys),
            busy=_busy(running, keys),
        )


def _customers(
    session: Session, realm_id: str, qbo_ids: Iterable[str]
) -> dict[str, tuple[str | None, str | None, bool]]:
    ids = sorted(set(qbo_ids))
    if not ids:
        return {}
    linked = {link.qbo_id: link.jobroutr_id for link in _links(session, realm_id, "customer", ids)}
    rows = session.exec(
        select(QboCustomer).where(
            col(QboCustomer.realm_id) == realm_id, col(QboCustomer.qbo_id).in_(ids)
        )
    ).all()
    found: dict[str, tuple[str | None, str | None, bool]] = {
        row.qbo_id: (linked.get(row.qbo_id), row.display_name, row.active) for row in rows
    }
    for qbo_id, jobroutr_id in linked.items():
        found.setdefault(qbo_id, (jobroutr_id, None, True))
    return found


def _seen_payments(
    session: Session, realm_id: str, payment_ids: Sequence[str]
) -> dict[str, list[tuple[str, str]]]:
    if not payment_ids:
        return {}
    rows = session.exec(
        select(QboChange).where(
            col(QboChange.realm_id) == realm_id,
            col(QboChange.kind) == INVOICE.name,
            col(QboChange.change) == "payment_received",
        )
    ).all()
    wanted = set(payment_ids)
    found: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        payment_id = str(row.detail.get("payment_qbo_id", ""))
        if payment_id in wanted and row.jobroutr_id is not None:
            found.setdefault(payment_id, []).append((row.jobroutr_id, row.qbo_id))
    return found


def _undone(session: Session, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    ids = [key.partition(":")[2] for key in keys]
    rows = session.exec(
        select(Event.record_kind, Event.record_id).where(
            col(Event.type).in_(UNDOING), col(Event.record_id).in_(ids)
        )
    ).all()
    return {f"{kind}:{record_id}" for kind, record_id in rows} & set(keys)


def _running(session: Session, realm_id: str) -> list[tuple[str, str]]:
    """(record_key, kind) of the jobs being written now for the realm."""
    rows = session.exec(
        select(Job.record_key, Job.kind).where(
            col(Job.state) == JobState.RUNNING,
            (col(Job.realm_id) == realm_id) | col(Job.realm_id).is_(None),
        )
    ).all()
    return [(str(key), str(kind)) for key, kind in rows]


def _busy(running: list[tuple[str, str]], keys: list[str]) -> set[str]:
    busy = {key for key, _ in running} & set(keys)
    if any(kind.startswith(f"{PAYMENT.name}.") for _, kind in running):
        busy.add(PAYMENT.name)
    return busy


def linked_ids(engine: Engine, realm_id: str, kind: str) -> list[str]:
    """The QBO ids of every record of ``kind`` linked to JobRoutr (for the re-read after a gap)."""
    with Session(engine) as session:
        rows = session.exec(
            select(Link.qbo_id).where(col(Link.realm_id) == realm_id, col(Link.kind) == kind)
        ).all()
    return sorted(set(rows))


@dataclass(frozen=True)
class NewChange:
    kind: str
    jobroutr_id: str | None
    qbo_id: str
    change: str
    at: datetime
    detail: dict[str, Any]


def record(
    engine: Engine,
    realm_id: str,
    changes: Sequence[NewChange],
    *,
    figures: dict[str, tuple[str, dict[str, Any]]],
    customers: Sequence[MirrorRow],
) -> int:
    """In one transaction: the changes not kept yet (numbered in order), the invoices' figures
    merged onto their links, the customers' mirror rows. Returns how many changes were new."""
    now = utcnow()
    with WRITES, session_scope(engine) as session:
        fresh = [c for c in changes if not _kept(session, realm_id, c)]
        seq = next_seqs(session, realm_id, COUNTER, len(fresh)) if fresh else 0
        for n, change in enumerate(fresh):
            session.add(
                QboChange(
                    realm_id=realm_id,
                    seq=seq + n,
                    kind=change.kind,
                    jobroutr_id=change.jobroutr_id,
                    qbo_id=change.qbo_id,
                    change=change.change,
                    at=change.at,
                    detail=change.detail,
                    created_at=now,
                )
            )
        for jobroutr_id, (qbo_id, found) in figures.items():
            row = session.get(Link, (realm_id, INVOICE.name, jobroutr_id))
            if row is not None and row.qbo_id == qbo_id:
                row.figures = {**(row.figures or {}), **found}
                row.updated_at = now
                session.add(row)
        if customers:
            upsert_rows(session, realm_id, CUSTOMER.plural, customers, None)
        return len(fresh)


def _kept(session: Session, realm_id: str, change: NewChange) -> bool:
    return (
        session.exec(
            select(QboChange.id).where(
                col(QboChange.realm_id) == realm_id,
                col(QboChange.kind) == change.kind,
                col(QboChange.qbo_id) == change.qbo_id,
                col(QboChange.jobroutr_id).is_(None)
                if change.jobroutr_id is None
                else col(QboChange.jobroutr_id) == change.jobroutr_id,
                col(QboChange.change) == change.change,
                col(QboChange.at) == change.at,
            )
        ).first()
        is not None
    )


def page(engine: Engine, realm_id: str, *, after: int, limit: int) -> list[QboChange]:
    """Up to ``limit`` changes numbered after ``after``, in order."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(QboChange)
                .where(col(QboChange.realm_id) == realm_id, col(QboChange.seq) > after)
                .order_by(col(QboChange.seq))
                .limit(limit)
            ).all()
        )


def feed_info(engine: Engine, realm_id: str, now: datetime) -> FeedInfo:
    """The feed for the status: its progress and what changed in the last day."""
    state = feed_state(engine, realm_id)
    return FeedInfo(
        last_polled_at=state.last_polled_at if state else None,
        read_until=state.read_until if state else None,
        last_error=state.last_error if state else None,
        gap_at=state.gap_at if state else None,
        changed_last_day=counts_since(engine, realm_id, now - timedelta(days=1)),
    )


def counts_since(engine: Engine, realm_id: str, since: datetime) -> dict[str, int]:
    """How many records of each kind changed in QuickBooks since ``since`` (found since then)."""
    with Session(engine) as session:
        rows = session.exec(
            select(QboChange.kind, func.count(func.distinct(QboChange.qbo_id)))
            .where(col(QboChange.realm_id) == realm_id, col(QboChange.created_at) >= since)
            .group_by(col(QboChange.kind))
        ).all()
    return {kind: int(count) for kind, count in rows}
