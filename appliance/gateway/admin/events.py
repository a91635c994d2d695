"""The events received from JobRoutr: list, show, retry, skip, accept (a mismatch)."""

from __future__ import annotations

import asyncio

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, FromQuery, JSONBody

from appliance.core.admin import (
    EVENT_STATUSES,
    EVENTS_MAX_LIMIT,
    EventAcceptRequest,
    EventActionReport,
    EventActionRequest,
    EventInfo,
    EventList,
)
from appliance.gateway.admin.operator import OPERATOR
from appliance.gateway.problems import problems
from appliance.gateway.runtime import Runtime
from appliance.storage.store import Store
from appliance.sync import events


class EventsController(Controller):
    path = "/v1/events"
    tags = ["admin"]  # noqa: RUF012 - Litestar reads it from the class
    dependencies = OPERATOR

    @get(
        "/",
        summary="Events received from JobRoutr, newest first, and how many are in each status",
        sync_to_thread=True,
        responses=problems(400),
    )
    def admin_events(
        self,
        store: NamedDependency[Store],
        status: FromQuery[str | None] = None,
        limit: FromQuery[int] = 50,
        before: FromQuery[str | None] = None,
    ) -> EventList:
        if status is not None and status not in EVENT_STATUSES:
            raise HTTPException(
                status_code=400,
                detail=f"status must be one of {', '.join(EVENT_STATUSES)} (not {status!r}).",
                extra={"hint": "Leave it out to list events in every status."},
            )
        if not 1 <= limit <= EVENTS_MAX_LIMIT:
            raise HTTPException(
                status_code=400,
                detail=f"limit must be between 1 and {EVENTS_MAX_LIMIT} (not {limit}).",
                extra={"hint": "Page through more with `before`, the `next_before` of a page."},
            )
        return events.listing(store, status=status, limit=limit, before=before or None)

    @get(
        "/{event_id:str}",
        summary="One event: its status, attempts, QuickBooks id and error",
        sync_to_thread=True,
        responses=problems(400, 404),
    )
    def admin_event(self, store: NamedDependency[Store], event_id: FromPath[str]) -> EventInfo:
        found = events.show(store, event_id)
        if found is None:
            raise NotFoundException(
                detail=f"No event {event_id!r} was received.",
                extra={"hint": "`appliance events` lists the events received, with their ids."},
            )
        return found

    @post(
        "/retry",
        summary="Queue failed, waiting or mismatched events again",
        status_code=200,
        responses=problems(400, 409),
    )
    async def admin_events_retry(
        self,
        runtime: NamedDependency[Runtime],
        operator: NamedDependency[str],
        data: JSONBody[EventActionRequest],
    ) -> EventActionReport:
        ids = _event_ids(data, "retry")
        report = await asyncio.to_thread(events.retry, runtime.store, ids, actor=operator)
        await runtime.events_requeued()
        return report

    @post(
        "/skip",
        summary="Give up on failed (or waiting) events: never written to QuickBooks",
        status_code=200,
        responses=problems(400, 409),
    )
    async def admin_events_skip(
        self,
        runtime: NamedDependency[Runtime],
        operator: NamedDependency[str],
        data: JSONBody[EventActionRequest],
    ) -> EventActionReport:
        ids = _event_ids(data, "skip")
        report = await asyncio.to_thread(events.skip, runtime.store, ids, actor=operator)
        if report.count:  # later events of the same records may go on now
            runtime.work_queued()
        return report

    @post(
        "/accept",
        summary="Accept mismatches: QuickBooks' totals stand, the events end done",
        status_code=200,
        responses=problems(400, 409),
    )
    async def admin_events_accept(
        self,
        runtime: NamedDependency[Runtime],
        operator: NamedDependency[str],
        data: JSONBody[EventAcceptRequest],
    ) -> EventActionReport:
        ids = [i for i in data.event_ids if i]
        if not ids:
            raise HTTPException(
                status_code=400,
                detail="Say which mismatches to accept: event_ids must not be empty.",
                extra={"hint": "`appliance events --status mismatch` lists them, with their ids."},
            )
        return await asyncio.to_thread(events.accept, runtime.store, ids, actor=operator)


def _event_ids(data: EventActionRequest, action: str) -> list[str] | None:
    """The events named, or None for every failed one; exactly one of the two must be asked."""
    ids = [i for i in data.event_ids if i]
    if bool(ids) == data.all_failed:
        raise HTTPException(
            status_code=400,
            detail=f"Say which events to {action}: either event_ids (not empty) or "
            "all_failed true, not both.",
            extra={
                "hint": f"`appliance events {action} ID...` or "
                f"`appliance events {action} --all-failed`."
            },
        )
    return None if data.all_failed else ids
