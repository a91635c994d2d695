"""The operator's hand on events that need them, each action one audited transaction.

* ``retry``: failed, waiting, mismatched or in-review events are queued again (a mismatched
  invoice is then updated in QuickBooks, not written a second time: its link stays; an event in
  review is looked at afresh, and asks again if it still must);
* ``skip``: failed, waiting or in-review events end ``ignored`` and are never written to
  QuickBooks (not a mismatch: that one is in QuickBooks already, so it is accepted or retried);
* ``decide``: the operator's answer to an event in review (``core.review``): link it to the
  QuickBooks record shown, create a new record under the name shown, or skip it; the decision is
  kept in the event's ``details["decision"]`` and the audit log, and the job is queued again to
  carry it out (a skip ends it ``ignored`` at once);
* ``accept``: a mismatch ends ``done``, QuickBooks' figures standing; who accepted it and when is
  kept in the event's ``details["accepted"]`` and in the audit log.

All three are all-or-nothing: one event that may not be touched raises ``NotRetryableError`` and
nothing changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from appliance.core import review as cases
from appliance.core.states import EventStatus, JobState
from appliance.storage import audit
from appliance.storage.db import session_scope
from appliance.storage.models import Event, Job
from appliance.storage.outcomes import Failure
from appliance.storage.types import utcnow

#: Failures after which a new attempt must not reuse the requestid: QuickBooks refused for sure
#: (a replay would only repeat the refusal). After "gave-up" the outcome is uncertain: reuse it.
UNCERTAIN_CODES = ("gave-up",)
#: What each action may be done to.
RETRYABLE = (EventStatus.FAILED, EventStatus.WAITING, EventStatus.MISMATCH, EventStatus.REVIEW)
SKIPPABLE = (EventStatus.FAILED, EventStatus.WAITING, EventStatus.REVIEW)
DECIDABLE = (EventStatus.REVIEW,)
ACCEPTABLE = (EventStatus.MISMATCH,)
SKIPPED = Failure("skipped", "An operator chose not to write this event to QuickBooks.")


class UndecidableError(Exception):
    """A decision the case does not offer (create when no name is shown, link with no candidate,
    an unknown action): ``message`` says which, nothing changed."""

    def __init__(self, event_id: str, message: str) -> None:
        super().__init__(message)
        self.event_id = event_id
        self.message = message


class NotRetryableError(Exception):
    """An event the action may not be done to: unknown (``status`` None), or in another state."""

    def __init__(self, event_id: str, status: str | None) -> None:
        super().__init__(event_id, status)
        self.event_id = event_id
        self.status = status


def _job(session: Session, event_id: str) -> Job | None:
    return session.exec(select(Job).where(col(Job.event_id) == event_id)).first()


def _named(
    session: Session, event_ids: Sequence[str], allowed: tuple[EventStatus, ...], *, job: bool
) -> list[tuple[Event, Job | None]]:
    """The events named, each once, with their jobs; raises for one that is unknown, not in an
    ``allowed`` status, has no job (when ``job``), or is being pushed right now."""
    found: list[tuple[Event, Job | None]] = []
    for event_id in dict.fromkeys(event_ids):  # each once, whatever the caller sent
        event = session.get(Event, event_id)
        held = _job(session, event_id) if event is not None else None
        if event is None or event.status not in allowed or (job and held is None):
            raise NotRetryableError(event_id, event.status if event else None)
        if held is not None and held.state == JobState.RUNNING:
            raise NotRetryableError(event_id, JobState.RUNNING)
        found.append((event, held))
    return found


def _all_failed(session: Session) -> list[tuple[Event, Job | None]]:
    rows = session.exec(
        select(Event, Job)
        .join(Job, col(Job.event_id) == col(Event.id), isouter=True)
        .where(col(Event.status) == EventStatus.FAILED)
        .order_by(col(Job.id))
    ).all()
    return [(event, job) for event, job in rows]


def _requeue(session: Session, event: Event, job: Job, now: datetime) -> None:
    if event.error_code not in UNCERTAIN_CODES:
        # QuickBooks refused definitely (or never got the write), or wrote it with other totals:
        # a new requestid, or the retry would only be answered with the stored first answer.
        job.generation += 1
        job.request_id = None
    job.state = JobState.QUEUED
    job.run_after = now
    job.attempts = 0
    job.waited_seconds = 0.0  # an operator's retry gives a waiting invoice a fresh wait
    job.last_error = None
    job.waiting_for = None
    job.waits_on = None
    job.updated_at = now
    event.status = EventStatus.QUEUED
    event.error_code = event.error_message = event.error_hint = None
    event.details = None  # a mismatch's figures: the next attempt says again
    event.updated_at = now
    session.add(job)
    session.add(event)


def _audited(session: Session, actor: str, action: str, done: list[str], **detail: Any) -> None:
    if done:
        audit.record(session, actor=actor, action=action, events=done[:100], count=len(done),
                     **detail)  # fmt: skip


def retry(engine: Engine, event_ids: list[str] | None, *, actor: str) -> list[str]:
    """Queue failed, waiting or mismatched events again, in their original order. ``None``:
    every failed one. Unknown ids or events in another state raise ``NotRetryableError`` and
    change nothing."""
    now = utcnow()
    with session_scope(engine) as session:
        named = (
            _all_failed(session)
            if event_ids is None
            else _named(session, event_ids, RETRYABLE, job=True)
        )
        pairs = [(event, job) for event, job in named if job is not None]
        for event, job in pairs:
            _requeue(session, event, job, now)
        done = [event.id for event, _ in pairs]
        _audited(session, actor, "events.retry", done)
        return done


def skip(engine: Engine, event_ids: list[str] | None, *, actor: str) -> list[str]:
    """Give up on failed (or waiting) events for good: they end ``ignored`` (code ``skipped``),
    nothing is written to QuickBooks. ``None``: every failed one."""
    now = utcnow()
    with session_scope(engine) as session:
        pairs = (
            _all_failed(session)
            if event_ids is None
            else _named(session, event_ids, SKIPPABLE, job=False)
        )
        for event, job in pairs:
            if job is not None:
                job.state = JobState.DONE
                job.lease_owner = None
                job.lease_expires_at = None
                job.updated_at = now
                session.add(job)
            event.status = EventStatus.IGNORED
            event.error_code = SKIPPED.code
            event.error_message = SKIPPED.message
            event.error_hint = None
            event.updated_at = now
            session.add(event)
        done = [event.id for event, _ in pairs]
        _audited(session, actor, "events.skip", done)
        return done


def accept(engine: Engine, event_ids: list[str], *, actor: str) -> list[str]:
    """Accept mismatches: QuickBooks' figures stand. Each event ends ``done`` with
    ``details["accepted"] = {"by", "at"}`` beside both sides' figures; the audit entry keeps the
    figures accepted. Anything but a mismatch raises ``NotRetryableError``, nothing changed."""
    now = utcnow()
    with session_scope(engine) as session:
        pairs = _named(session, event_ids, ACCEPTABLE, job=False)
        figures: dict[str, Any] = {}
        for event, job in pairs:
            if job is not None:
                job.state = JobState.DONE
                job.updated_at = now
                session.add(job)
            details = dict(event.details or {})
            figures[event.id] = {k: details.get(k) for k in ("qbo", "jobroutr")}
            details["accepted"] = {"by": actor, "at": now.isoformat()}
            event.details = details
            event.status = EventStatus.DONE
            event.updated_at = now
            session.add(event)
        done = [event.id for event, _ in pairs]
        _audited(session, actor, "events.accept", done,
                 figures={k: figures[k] for k in done[:100]})  # fmt: skip
        return done


def decide(
    engine: Engine, event_id: str, action: str, *, actor: str, qbo_id: str | None = None
) -> cases.Decision:
    """The operator's answer to an event in review: ``link`` (to the case's candidate, or to
    ``qbo_id`` when given), ``create`` (under the case's ``create_as``) or ``skip``. The job is
    queued again to carry it out, with the same requestid base (a decision's writes have their
    own step codes); a skip ends the event ``ignored`` at once. Raises ``NotRetryableError``
    for an event not in review, ``UndecidableError`` for a choice the case does not offer."""
    now = utcnow()
    with session_scope(engine) as session:
        ((event, job),) = _named(session, [event_id], DECIDABLE, job=True)
        assert job is not None
        case = cases.ReviewCase.from_details(event.details)
        if action not in cases.ACTIONS or case is None or action not in case.choices:
            offered = ", ".join(case.choices) if case else "none"
            raise UndecidableError(
                event_id, f"{action!r} is not one of the choices for event {event_id} ({offered})."
            )
        target = qbo_id or case.candidate_id
        if action == cases.LINK and not target:
            raise UndecidableError(event_id, f"Event {event_id} has no QuickBooks record to link.")
        decision = cases.Decision(
            action=action,
            by=actor,
            at=now,
            qbo_id=target if action == cases.LINK else None,
            name=case.create_as if action == cases.CREATE else None,
        )
        details = dict(event.details or {}) | {"decision": decision.to_builtins()}
        audit.record(
            session,
            actor=actor,
            action="events.decide",
            events=[event_id],
            count=1,
            decision=action,
            reason=case.reason,
            kind=case.kind,
            candidate=case.candidate_id,
            qbo_id=decision.qbo_id,
            name=decision.name,
        )
        if action == cases.SKIP:
            job.state = JobState.DONE
            event.status = EventStatus.IGNORED
            event.error_code = SKIPPED.code
            event.error_message = SKIPPED.message
            event.error_hint = None
        else:
            job.state = JobState.QUEUED
            job.run_after = now
            job.attempts = 0
            job.last_error = job.waiting_for = job.waits_on = None
            event.status = EventStatus.QUEUED
        job.updated_at = event.updated_at = now
        event.details = details
        session.add(job)
        session.add(event)
        return decision


def in_review(engine: Engine, record_keys: list[str]) -> list[str]:
    """The record keys (``customer:<id>``) among ``record_keys`` with a job in review: what an
    invoice or a payment waiting for that record is waiting on the operator for."""
    if not record_keys:
        return []
    with Session(engine) as session:
        rows = session.exec(
            select(Job.record_key)
            .where(col(Job.record_key).in_(record_keys), col(Job.state) == JobState.REVIEW)
            .distinct()
        ).all()
    return sorted(rows)
