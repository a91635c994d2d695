"""The operator's view of the events JobRoutr sent, and their hand on the ones that are stuck.

``retry`` queues failed (or waiting) events again; ``skip`` gives up on them for good (they end
``ignored``, nothing is written to QuickBooks). Both are all-or-nothing: one event that cannot be
retried or skipped (unknown, done, running...) refuses the whole request, with a sentence naming
it, and nothing changes. Both are audited with the operator's name.
"""

from __future__ import annotations

from appliance.core.admin import (
    EVENT_STATUSES,
    EventActionReport,
    EventError,
    EventInfo,
    EventList,
)
from appliance.core.states import EventStatus
from appliance.errors import ApplianceError
from appliance.storage import push as store_push
from appliance.storage.push import EventRow, NotRetryableError
from appliance.storage.store import Store

ACTIONS = {"retry": "retried", "skip": "skipped"}


class EventRefusedError(ApplianceError):
    """An operator action on events that cannot be done (answered 409)."""

    def __init__(self, message: str, *, event_id: str, status: str | None, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.event_id = event_id
        self.status = status


def event_info(row: EventRow) -> EventInfo:
    """An event and its job as the admin API shows it."""
    event, job = row.event, row.job
    status = event.status
    error = None
    last_error = None
    if event.error_code and status in (EventStatus.FAILED, EventStatus.IGNORED):
        error = EventError(
            code=event.error_code,
            message=event.error_message or "",
            hint=event.error_hint or None,
        )
    elif status == EventStatus.QUEUED:
        last_error = event.error_message or (job.last_error if job else None)
    return EventInfo(
        event_id=event.id,
        type=event.type,
        record_kind=event.record_kind,
        record_id=event.record_id,
        status=status,
        attempts=event.attempts,
        qbo_id=event.qbo_id,
        received_at=event.received_at,
        occurred_at=event.occurred_at,
        updated_at=event.updated_at,
        waiting_for=job.waiting_for if job and status == EventStatus.WAITING else None,
        next_attempt_at=job.run_after
        if job and status in (EventStatus.QUEUED, EventStatus.WAITING)
        else None,
        error=error,
        last_error=last_error,
    )


def listing(
    store: Store, *, status: str | None = None, limit: int = 50, before: str | None = None
) -> EventList:
    """Newest first; ``next_before`` is set when there may be an older page."""
    rows = store_push.list_events(store.engine, status=status, limit=limit, before=before)
    found = store_push.counts(store.engine)
    counts = {s: found.get(s, 0) for s in EVENT_STATUSES} | {
        s: n for s, n in found.items() if s not in EVENT_STATUSES
    }
    return EventList(
        items=[event_info(row) for row in rows],
        counts=counts,
        next_before=rows[-1].event.id if rows and len(rows) == limit else None,
    )


def show(store: Store, event_id: str) -> EventInfo | None:
    row = store_push.get_event(store.engine, event_id)
    return event_info(row) if row is not None else None


def retry(store: Store, event_ids: list[str] | None, *, actor: str) -> EventActionReport:
    """Queue the events again (``None``: every failed one), in the order they were received."""
    ids = list(dict.fromkeys(event_ids)) if event_ids is not None else None
    try:
        done = store_push.retry(store.engine, ids, actor=actor)
    except NotRetryableError as exc:
        raise _refused("retry", exc, several=bool(ids and len(ids) > 1)) from None
    return EventActionReport(action="retry", event_ids=done, count=len(done))


def skip(store: Store, event_ids: list[str] | None, *, actor: str) -> EventActionReport:
    """End the events as ``ignored`` (``None``: every failed one): never written to QuickBooks."""
    ids = list(dict.fromkeys(event_ids)) if event_ids is not None else None
    try:
        done = store_push.skip(store.engine, ids, actor=actor)
    except NotRetryableError as exc:
        raise _refused("skip", exc, several=bool(ids and len(ids) > 1)) from None
    return EventActionReport(action="skip", event_ids=done, count=len(done))


def _refused(action: str, exc: NotRetryableError, *, several: bool) -> EventRefusedError:
    done = ACTIONS[action]
    nothing = f" No event was {done}." if several else ""
    if exc.status is None:
        return EventRefusedError(
            f"There is no event {exc.event_id!r}, so it cannot be {done}.{nothing}",
            event_id=exc.event_id,
            status=None,
            hint="`appliance events` lists the events received, with their ids.",
        )
    if exc.status == EventStatus.RUNNING:
        hint = (
            "It is being pushed to QuickBooks right now; look again with "
            f"`appliance events show {exc.event_id}`."
        )
    elif exc.status == EventStatus.QUEUED:
        hint = (
            "It is queued already and goes to QuickBooks at its next attempt "
            f"(`appliance events show {exc.event_id}` says when)."
        )
    else:
        hint = (
            f"Only failed or waiting events can be {done}; `appliance events --status failed` "
            "lists the failed ones."
        )
    return EventRefusedError(
        f"Event {exc.event_id} is {exc.status}, so it cannot be {done}.{nothing}",
        event_id=exc.event_id,
        status=exc.status,
        hint=hint,
    )
