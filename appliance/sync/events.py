"""The operator's view of the events JobRoutr sent, and their hand on the ones that are stuck.

``retry`` queues failed, waiting or mismatched events again; ``skip`` gives up on failed or
waiting ones for good (they end ``ignored``, nothing is written to QuickBooks); ``accept`` lets a
mismatch's QuickBooks figures stand (it ends ``done``). Each is all-or-nothing: one event that
cannot be retried, skipped or accepted (unknown, done, running...) refuses the whole request, with
a sentence naming it, and nothing changes. Each is audited with the operator's name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from appliance.core.admin import (
    EVENT_STATUSES,
    EventActionReport,
    EventError,
    EventInfo,
    EventList,
    EventMismatch,
    Totals,
)
from appliance.core.review import Decision, ReviewCase
from appliance.core.states import EventStatus
from appliance.errors import ApplianceError
from appliance.storage import push as store_push
from appliance.storage import review
from appliance.storage.push import EventRow
from appliance.storage.review import NotRetryableError, UndecidableError
from appliance.storage.store import Store

ACTIONS = {"retry": "retried", "skip": "skipped", "accept": "accepted", "decide": "decided"}
#: What an operator does about a mismatch (docs/push.md says more).
MISMATCH_HINT = (
    "QuickBooks figured other totals than the bill. Check the tax mappings of the invoice's "
    "rates and the company's tax settings in QuickBooks, then retry the event (`appliance events "
    "retry {id}`: the invoice in QuickBooks is updated, never written twice); or let QuickBooks' "
    "figures stand with `appliance events accept {id}`."
)


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
        mismatch=mismatch_of(event.id, status, event.details),
        review=ReviewCase.from_details(event.details),
        decision=Decision.from_details(event.details),
    )


def _totals(side: Any) -> Totals:
    side = side if isinstance(side, dict) else {}
    return Totals(
        total=None if side.get("total") is None else str(side["total"]),
        tax=None if side.get("tax") is None else str(side["tax"]),
    )


def mismatch_of(event_id: str, status: str, details: dict[str, Any] | None) -> EventMismatch | None:
    """Both sides' totals of a mismatch, or of one accepted (then ``done``); else None."""
    if not details or "qbo" not in details:
        return None
    accepted = details.get("accepted") if isinstance(details.get("accepted"), dict) else None
    if status != EventStatus.MISMATCH and accepted is None:
        return None
    at = accepted.get("at") if accepted else None
    return EventMismatch(
        qbo=_totals(details.get("qbo")),
        jobroutr=_totals(details.get("jobroutr")),
        hint=MISMATCH_HINT.format(id=event_id)
        if accepted is None
        else "QuickBooks' figures were accepted.",
        accepted_by=str(accepted.get("by")) if accepted else None,
        accepted_at=datetime.fromisoformat(at) if isinstance(at, str) else None,
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
        done = review.retry(store.engine, ids, actor=actor)
    except NotRetryableError as exc:
        raise _refused("retry", exc, several=bool(ids and len(ids) > 1)) from None
    return EventActionReport(action="retry", event_ids=done, count=len(done))


def skip(store: Store, event_ids: list[str] | None, *, actor: str) -> EventActionReport:
    """End the events as ``ignored`` (``None``: every failed one): never written to QuickBooks."""
    ids = list(dict.fromkeys(event_ids)) if event_ids is not None else None
    try:
        done = review.skip(store.engine, ids, actor=actor)
    except NotRetryableError as exc:
        raise _refused("skip", exc, several=bool(ids and len(ids) > 1)) from None
    return EventActionReport(action="skip", event_ids=done, count=len(done))


def accept(store: Store, event_ids: list[str], *, actor: str) -> EventActionReport:
    """Let mismatches' QuickBooks figures stand: they end ``done``, with who and when kept."""
    ids = list(dict.fromkeys(event_ids))
    try:
        done = review.accept(store.engine, ids, actor=actor)
    except NotRetryableError as exc:
        raise _refused("accept", exc, several=len(ids) > 1) from None
    return EventActionReport(action="accept", event_ids=done, count=len(done))


def decide(
    store: Store, event_id: str, action: str, *, actor: str, qbo_id: str | None = None
) -> EventInfo:
    """The operator's answer to an event in review (link, create, skip): audited, and carried
    out by the push (a skip at once). Returns the event as it is now."""
    try:
        review.decide(store.engine, event_id, action, actor=actor, qbo_id=qbo_id)
    except NotRetryableError as exc:
        raise _refused("decide", exc, several=False) from None
    except UndecidableError as exc:
        raise EventRefusedError(
            exc.message,
            event_id=event_id,
            status=EventStatus.REVIEW,
            hint=f"`appliance events review {event_id}` shows the choices.",
        ) from None
    found = show(store, event_id)
    assert found is not None
    return found


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
        hint = _which_can(action, exc)
    return EventRefusedError(
        f"Event {exc.event_id} is {exc.status}, so it cannot be {done}.{nothing}",
        event_id=exc.event_id,
        status=exc.status,
        hint=hint,
    )


def _which_can(action: str, exc: NotRetryableError) -> str:
    """What the action can be done to, for an event in the wrong state."""
    if action == "decide":
        return (
            "Only an event in review (a question for you) can be decided; "
            "`appliance events review` lists them."
        )
    if action == "accept":
        return (
            "Only a mismatch (QuickBooks' totals not the bill's) can be accepted; "
            "`appliance events --status mismatch` lists them."
        )
    if action == "skip" and exc.status == EventStatus.MISMATCH:
        return (
            f"It is in QuickBooks already: accept it (`appliance events accept {exc.event_id}`) "
            f"or fix the mapping and retry it (`appliance events retry {exc.event_id}`)."
        )
    what = (
        "failed, waiting, in-review or mismatched"
        if action == "retry"
        else "failed, waiting or in-review"
    )
    return (
        f"Only {what} events can be {ACTIONS[action]}; `appliance events --status failed` "
        "lists the failed ones."
    )
