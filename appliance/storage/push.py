"""What the push worker reads and writes in the store, each step one short transaction.

* ``load``: a claimed job's event (type, data, version) -- and the event shows ``running``.
* ``complete``: the job's outcome (a ``Done | Mismatch | Waiting | RetryLater | Failed`` from
  ``storage.outcomes``), the event's status and the link to the QBO record, together,
  and only while the worker still holds the job (its fence): a worker that lost its lease writes
  nothing. A new or moved link gives the mirror row a new change number, so the pull API shows the
  JobRoutr id on the next pull. A ``Mismatch`` writes its link too (the record is in QuickBooks),
  and the event keeps both sides' figures in ``details``; QBO's figures go on the link.
* the operator's view of the events (``list_events``, ``get_event``, ``counts``); their hand on
  them (retry, skip, accept) is ``storage.review``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from appliance.core.kinds import BY_NAME
from appliance.core.states import UNFINISHED, EventStatus, JobState
from appliance.storage.db import read_session, session_scope
from appliance.storage.mirror import MODELS, WRITES, next_seqs, upsert_rows
from appliance.storage.models import Company, CompanySettings, Event, Job, Link
from appliance.storage.outcomes import (
    Done,
    Failed,
    JobOutcome,
    LinkWrite,
    Mismatch,
    RetryLater,
    Review,
    Waiting,
)
from appliance.storage.queue import Claim
from appliance.storage.types import utcnow


@dataclass(frozen=True)
class Work:
    """A claimed job with its event, as the worker needs it."""

    claim: Claim
    event_type: str
    data: dict[str, Any]
    occurred_at: datetime | None
    received_at: datetime
    realm_id: str | None
    generation: int
    waited: float = 0.0  # seconds spent waiting while the service ran (Job.waited_seconds)
    #: The operator's answer to the question the job was parked in review with
    #: (``core.review.Decision`` as builtins): link, create under a name, ...; None: none asked.
    decision: dict[str, Any] | None = None


@dataclass(frozen=True)
class LinkInfo:
    qbo_id: str
    source_timestamp: datetime | None
    #: What QBO held when last read (invoices: doc_number, total, tax, balance, state).
    figures: dict[str, Any] | None = None


def load(engine: Engine, claim: Claim) -> Work | None:
    """The event behind a claimed job (the claim already marked it running). None: the job has
    no event."""
    with read_session(engine) as session:
        event = session.get(Event, claim.event_id) if claim.event_id else None
        if event is None:
            return None
        data = event.payload.get("data")
        return Work(
            claim=claim,
            event_type=event.type,
            data=dict(data) if isinstance(data, dict) else {},
            occurred_at=event.occurred_at,
            received_at=event.received_at,
            realm_id=event.realm_id,
            generation=claim.generation,
            waited=claim.waited,
            decision=_decision(event.details),
        )


def _decision(details: dict[str, Any] | None) -> dict[str, Any] | None:
    found = (details or {}).get("decision")
    return dict(found) if isinstance(found, dict) else None


def upcoming(
    engine: Engine, realm_id: str, kind: str, *, after_job: int, limit: int
) -> list[dict[str, Any]]:
    """The data of the next jobs of ``kind`` (an event type) for the realm, queued or just taken
    by a worker, oldest first, after ``after_job``: what the workers will push soon. Jobs with no
    realm yet count (they go to the company connected now)."""
    with read_session(engine) as session:
        rows = session.exec(
            select(Event.payload)
            .join(Job, col(Job.event_id) == col(Event.id))
            .where(
                col(Job.state).in_((JobState.QUEUED, JobState.RUNNING)),
                col(Job.kind) == kind,
                col(Job.id) > after_job,
                or_(col(Job.realm_id) == realm_id, col(Job.realm_id).is_(None)),
            )
            .order_by(col(Job.id))
            .limit(limit)
        ).all()
    return [
        dict(p["data"]) for p in rows if isinstance(p, dict) and isinstance(p.get("data"), dict)
    ]


def link_of(engine: Engine, realm_id: str, kind: str, jobroutr_id: str) -> LinkInfo | None:
    with read_session(engine) as session:
        found = session.get(Link, (realm_id, kind, jobroutr_id))
        if found is None:
            return None
        figures = dict(found.figures) if found.figures else None
        return LinkInfo(found.qbo_id, found.source_timestamp, figures)


def ended_after(
    engine: Engine,
    realm_id: str,
    kind: str,
    jobroutr_id: str,
    *,
    after: datetime,
    types: tuple[str, ...],
) -> str | None:
    """The type of the newest event of ``types`` (a void, a delete) done for the record and
    newer than ``after``: what keeps an older version of a record that never reached QuickBooks
    from being written after JobRoutr ended it."""
    with read_session(engine) as session:
        return session.exec(
            select(Event.type)
            .where(
                col(Event.record_kind) == kind,
                col(Event.record_id) == jobroutr_id,
                col(Event.type).in_(types),
                col(Event.status) == EventStatus.DONE,
                col(Event.occurred_at) > after,
                or_(col(Event.realm_id) == realm_id, col(Event.realm_id).is_(None)),
            )
            .order_by(col(Event.occurred_at).desc())
        ).first()


def links_of(engine: Engine, realm_id: str, kind: str, jobroutr_ids: list[str]) -> dict[str, str]:
    with read_session(engine) as session:
        rows = session.exec(
            select(Link.jobroutr_id, Link.qbo_id).where(
                col(Link.realm_id) == realm_id,
                col(Link.kind) == kind,
                col(Link.jobroutr_id).in_(jobroutr_ids),
            )
        ).all()
        return dict(rows)


def archived_last(engine: Engine, realm_id: str, kind: str, jobroutr_id: str) -> bool:
    """Whether the version of the record the appliance last wrote was archived in JobRoutr
    (``active`` false): its inactivity in QuickBooks is then JobRoutr's own, not the bookkeeper's.
    False when that event is no longer kept."""
    with read_session(engine) as session:
        link = session.get(Link, (realm_id, kind, jobroutr_id))
        event = session.get(Event, link.source_event_id) if link and link.source_event_id else None
        data = (event.payload or {}).get("data") if event is not None else None
        return isinstance(data, dict) and data.get("active") is False


def linked_to(engine: Engine, realm_id: str, kind: str, qbo_id: str) -> str | None:
    """The JobRoutr id already linked to this QBO record, if any."""
    with read_session(engine) as session:
        return session.exec(
            select(Link.jobroutr_id).where(
                col(Link.realm_id) == realm_id, col(Link.kind) == kind, col(Link.qbo_id) == qbo_id
            )
        ).first()


def default_accounts(engine: Engine, realm_id: str) -> tuple[str | None, str | None]:
    with read_session(engine) as session:
        chosen = session.get(CompanySettings, realm_id)
        if chosen is None:
            return None, None
        return chosen.default_income_account_id, chosen.default_expense_account_id


def _touch_mirror(session: Session, realm_id: str, kind: str, qbo_id: str) -> None:
    """A link changed: the mirror row gets a new change number (the pull shows its JobRoutr id)."""
    record_kind = BY_NAME.get(kind)
    if record_kind is None or not record_kind.mirrored:
        return
    model = MODELS[record_kind.plural]
    row = session.get(model, (realm_id, qbo_id))
    if row is not None:
        row.change_seq = next_seqs(session, realm_id, record_kind.plural, 1)
        row.updated_at = utcnow()
        session.add(row)


def _write_link(
    session: Session,
    realm_id: str,
    link: LinkWrite,
    figures: dict[str, Any] | None = None,
    *,
    renumbered: str | None = None,
) -> None:
    """Write the link; a new or moved one renumbers the QBO record's mirror row, unless this
    transaction already did (``renumbered``: the QBO id of the row it upserted with a change)."""
    now = utcnow()
    row = session.get(Link, (realm_id, link.kind, link.jobroutr_id))
    moved = row is None or row.qbo_id != link.qbo_id
    if row is None:
        row = Link(realm_id=realm_id, kind=link.kind, jobroutr_id=link.jobroutr_id, qbo_id="")
    row.qbo_id = link.qbo_id
    if link.source_timestamp is not None and (
        row.source_timestamp is None or link.source_timestamp >= row.source_timestamp
    ):
        row.source_timestamp = link.source_timestamp
        row.source_event_id = link.source_event_id
    if figures is not None:
        row.figures = dict(figures)
    row.updated_at = now
    session.add(row)
    if moved:
        session.flush()
        if renumbered != link.qbo_id:
            _touch_mirror(session, realm_id, link.kind, link.qbo_id)


def _job_values(outcome: JobOutcome, now: datetime) -> dict[str, Any]:
    """The job row's columns for an outcome (the lease is let go in every case)."""
    failure = getattr(outcome, "failure", None)
    waiting = outcome if isinstance(outcome, Waiting) else None
    values: dict[str, Any] = {
        "state": outcome.state,
        "last_error": failure.message if failure else None,
        "waiting_for": waiting.waiting_for if waiting else None,
        "waits_on": f" {' '.join(waiting.waits_on)} " if waiting and waiting.waits_on else None,
        "lease_owner": None,
        "lease_expires_at": None,
        "updated_at": now,
    }
    if isinstance(outcome, (Waiting, RetryLater)):
        values["run_after"] = outcome.run_after
    if waiting is not None and waiting.waited_seconds is not None:
        values["waited_seconds"] = waiting.waited_seconds
    return values


def _show(session: Session, claim: Claim, outcome: JobOutcome, now: datetime) -> None:
    """The event shows the job's outcome: its status, attempts, QBO id, realm and error."""
    event = session.get(Event, claim.event_id) if claim.event_id else None
    if event is None:
        return
    failure = getattr(outcome, "failure", None)
    event.status = outcome.state
    event.attempts = claim.attempts
    if isinstance(outcome, (Done, Mismatch)) and outcome.qbo_id is not None:
        event.qbo_id = outcome.qbo_id
    event.details = _details(event.details, outcome)
    if outcome.realm_id is not None and event.realm_id is None:
        event.realm_id = outcome.realm_id
    event.error_code = failure.code[:32] if failure else None
    event.error_message = failure.message if failure else None
    event.error_hint = (failure.hint or None) if failure else None
    event.updated_at = now
    session.add(event)


def _details(kept: dict[str, Any] | None, outcome: JobOutcome) -> dict[str, Any] | None:
    """The event's details after an outcome: a mismatch's figures, or a review's case; the
    operator's decision on an earlier case stays (with that case) whatever came of it."""
    details: dict[str, Any] = {}
    if kept and isinstance(kept.get("decision"), dict):
        details = {k: kept[k] for k in ("review", "decision") if k in kept}
    if isinstance(outcome, Mismatch):
        details |= dict(outcome.details)
    elif isinstance(outcome, Review):
        details = {"review": dict(outcome.case)}  # asked again: an earlier decision is spent
    return details or None


def complete(engine: Engine, claim: Claim, outcome: JobOutcome) -> bool:
    """Record a job's outcome, its event's status, its link and the QBO record as written (the
    mirror the pull API reads) in one transaction, fenced. A new link wakes the waiting jobs
    (an invoice may wait for it).

    Returns False when the job was taken over meanwhile: then nothing was written.
    """
    if not isinstance(outcome, (Done, Mismatch, Review, Waiting, RetryLater, Failed)):
        raise TypeError(f"not a job outcome: {outcome!r}")
    now = utcnow()
    with _writes(engine), session_scope(engine) as session:
        result = session.exec(
            update(Job)
            .where(
                col(Job.id) == claim.job_id,
                col(Job.fence) == claim.fence,
                col(Job.state) == JobState.RUNNING,
            )
            .values(**_job_values(outcome, now))
        )
        if result.rowcount != 1:
            session.rollback()
            return False
        _show(session, claim, outcome, now)  # first: the rows the others share come last
        if isinstance(outcome, (Done, Mismatch)):
            _written(session, claim, outcome, now)
        elif isinstance(outcome, Waiting) and _linked_meanwhile(session, claim, outcome):
            session.exec(update(Job).where(col(Job.id) == claim.job_id).values(run_after=now))
    return True


def _plural_of(kind: str) -> str | None:
    return BY_NAME[kind].plural if kind in BY_NAME else None


def _writes(engine: Engine) -> AbstractContextManager[object]:
    """SQLite (one writer): this process's outcomes one at a time. A server takes them together,
    each waiting only for the rows it shares (its kind's change counter, written last)."""
    return WRITES if engine.dialect.name == "sqlite" else nullcontext()


def _written(session: Session, claim: Claim, outcome: Done | Mismatch, now: datetime) -> None:
    """What a write leaves: the mirror row, the link (with QBO's figures), the jobs it wakes.
    Figures with no link to write (an update of a linked record) go on the record's link."""
    realm_id = outcome.realm_id
    if realm_id is None:
        return
    renumbered = None
    if outcome.mirror is not None:
        plural, mirrored = outcome.mirror
        if upsert_rows(session, realm_id, plural, [mirrored], None):
            renumbered = mirrored.qbo_id  # new or changed: it has a new change number already
    if outcome.link is not None:
        if outcome.mirror is None or _plural_of(outcome.link.kind) != outcome.mirror[0]:
            renumbered = None
        _write_link(session, realm_id, outcome.link, outcome.figures, renumbered=renumbered)
        _wake(session, f"{outcome.link.kind}:{outcome.link.jobroutr_id}", now)
    elif outcome.figures is not None and claim.event_id is not None:
        event = session.get(Event, claim.event_id)
        if event is not None and event.record_kind and event.record_id:
            row = session.get(Link, (realm_id, event.record_kind, event.record_id))
            if row is not None and row.qbo_id == outcome.qbo_id:
                row.figures = dict(outcome.figures)
                row.updated_at = now
                session.add(row)
                # A payment may wait for this invoice to owe what it applies.
                _wake(session, f"{event.record_kind}:{event.record_id}", now)


def _linked_meanwhile(session: Session, claim: Claim, outcome: Waiting) -> bool:
    """Whether a record the job now waits for (``customer:<id>``, ``invoice:<id>``...) was linked
    or written again while the job ran: its wake came while the job was not waiting yet, so the
    job looks again at once rather than at its next recheck."""
    if claim.claimed_at is None or outcome.realm_id is None:
        return False
    for token in outcome.waits_on:
        kind, _, record_id = token.partition(":")
        if kind not in BY_NAME or not record_id:
            continue
        row = session.get(Link, (outcome.realm_id, kind, record_id))
        if row is not None and row.updated_at >= claim.claimed_at:
            return True
    return False


def _like_token(token: str) -> str:
    escaped = token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"% {escaped} %"


def _wake(session: Session, token: str | None, now: datetime) -> int:
    query = update(Job).where(col(Job.state) == JobState.WAITING, col(Job.run_after) > now)
    if token is not None:
        query = query.where(col(Job.waits_on).like(_like_token(token), escape="\\"))
    return int(session.exec(query.values(run_after=now)).rowcount or 0)


def wake_waiting(engine: Engine, token: str | None = None) -> int:
    """What waiting jobs need has changed: the ones waiting on ``token`` (``customer:<id>``,
    ``settings:accounts``, ``connection``), or all of them, look again now."""
    with session_scope(engine) as session:
        return _wake(session, token, utcnow())


def park_unconnected(engine: Engine, *, waiting_for: str, until: datetime) -> int:
    """While no company was ever connected, every due job of no company waits for one, in one
    statement (not one claim each: thousands may arrive before `appliance connect`). Returns
    how many. A connect commits before it wakes the jobs waiting on ``connection``, and this
    changes nothing once a company exists, so no job can be parked past a connect."""
    now = utcnow()
    due = and_(
        col(Job.state).in_((JobState.QUEUED, JobState.WAITING)),
        col(Job.run_after) <= now,
        col(Job.realm_id).is_(None),
        ~exists(select(Company.realm_id)),
    )
    with session_scope(engine) as session:
        # Only events not shown as waiting yet: rewriting the others (the payload is most of a
        # row) changed nothing but held the write lock, a stall for intake's commits.
        session.exec(
            update(Event)
            .where(
                col(Event.id).in_(select(Job.event_id).where(due)),
                col(Event.status) != EventStatus.WAITING,
            )
            .values(status=EventStatus.WAITING, updated_at=now)
        )
        parked = session.exec(
            update(Job)
            .where(due)
            .values(
                state=JobState.WAITING,
                waiting_for=waiting_for,
                waits_on=" connection ",
                run_after=until,
                updated_at=now,
            )
        )
        return int(parked.rowcount or 0)


# The operator's view and actions ---------------------------------------------------------------


@dataclass(frozen=True)
class EventRow:
    event: Event
    job: Job | None


def list_events(
    engine: Engine, *, status: str | None = None, limit: int = 50, before: str | None = None
) -> list[EventRow]:
    """Newest first. ``before``: an event id from an earlier page."""
    with Session(engine, expire_on_commit=False) as session:
        query = select(Event, Job).join(Job, col(Job.event_id) == col(Event.id), isouter=True)
        if status is not None:
            query = query.where(col(Event.status) == status)
        if before is not None:
            anchor = session.get(Event, before)
            if anchor is not None:
                query = query.where(
                    (col(Event.received_at) < anchor.received_at)
                    | ((col(Event.received_at) == anchor.received_at) & (col(Event.id) < before))
                )
        rows = session.exec(
            query.order_by(col(Event.received_at).desc(), col(Event.id).desc()).limit(limit)
        ).all()
        return [EventRow(event, job) for event, job in rows]


def get_event(engine: Engine, event_id: str) -> EventRow | None:
    with Session(engine, expire_on_commit=False) as session:
        event = session.get(Event, event_id)
        if event is None:
            return None
        job = session.exec(select(Job).where(col(Job.event_id) == event_id)).first()
        return EventRow(event, job)


def counts(engine: Engine) -> dict[str, int]:
    with read_session(engine) as session:
        return dict(
            session.exec(select(Event.status, func.count()).group_by(col(Event.status))).all()
        )


def unfinished(engine: Engine, record_keys: list[str], *, before_job: int) -> list[str]:
    """The record keys (``invoice:<id>``) among ``record_keys`` with a job older than
    ``before_job`` still to finish (queued, running or waiting): what a payment waits for."""
    with read_session(engine) as session:
        rows = session.exec(
            select(Job.record_key)
            .where(
                col(Job.record_key).in_(record_keys),
                col(Job.id) < before_job,
                col(Job.state).in_(UNFINISHED),
            )
            .distinct()
        ).all()
    return sorted(rows)


def deposit_account(engine: Engine, realm_id: str) -> str | None:
    """The account payments are deposited to (None: QuickBooks' Undeposited Funds)."""
    with read_session(engine) as session:
        chosen = session.get(CompanySettings, realm_id)
        return chosen.deposit_account_id if chosen is not None else None
