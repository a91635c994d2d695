"""The events received from JobRoutr: list, show, retry, skip, accept (a mismatch), decide (an
event in review: a question for the operator)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery, JSONBody

from appliance.core import review as cases
from appliance.core.admin import (
    EVENT_STATUSES,
    EVENTS_MAX_LIMIT,
    EventAcceptRequest,
    EventActionReport,
    EventActionRequest,
    EventDecideRequest,
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

    @post(
        "/{event_id:str}/decide",
        summary="Answer an event in review: link it, create a new record, or skip it",
        status_code=200,
        responses=problems(404, 409, 422),
    )
    async def admin_event_decide(
        self,
        runtime: NamedDependency[Runtime],
        operator: NamedDependency[str],
        event_id: FromPath[str],
        request: Request[Any, Any, Any],
    ) -> EventInfo:
        data = _decision(await request.body())
        try:
            found = await asyncio.to_thread(
                events.decide,
                runtime.store,
                event_id,
                data.action,
                actor=operator,
                qbo_id=data.qbo_id,
            )
        except events.EventRefusedError as exc:
            if exc.status is None:  # no such event
                raise NotFoundException(detail=exc.message, extra={"hint": exc.hint}) from None
            raise
        # The push carries the decision out; after a skip, later events of the record go on.
        runtime.work_queued()
        return found


def _decision(body: bytes) -> EventDecideRequest:
    """The operator's answer, or a 422 that names what is wrong with it."""
    hint = (
        'Send {"action": "link"} (optionally with "qbo_id"), {"action": "create"} or '
        '{"action": "skip"}; `appliance events review ID` shows the choices.'
    )
    try:
        data = msgspec.json.decode(body or b"null", type=EventDecideRequest)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError too
        raise ValidationException(
            status_code=422, detail=f"The decision is not valid: {exc}.", extra={"hint": hint}
        ) from None
    if data.action not in cases.ACTIONS:
        raise ValidationException(
            status_code=422,
            detail=f"action must be one of {', '.join(cases.ACTIONS)} (not {data.action!r}).",
            extra={"hint": hint},
        )
    if data.qbo_id is not None and (data.action != cases.LINK or not data.qbo_id.strip()):
        raise ValidationException(
            status_code=422,
            detail="qbo_id goes only with action link, and must not be empty.",
            extra={"hint": hint},
        )
    return data


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
