"""Events received from JobRoutr: committed durably (with their job) before they are answered.

The event id (``webhook-id``) is the primary key, so a redelivery cannot queue anything twice:
the second insert does nothing, inside the same transaction, and the first answer is returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from appliance.core.states import EventStatus, JobState
from appliance.storage.models import Company, Event, Job
from appliance.storage.types import utcnow

_EVENTS = Event.__table__  # type: ignore[attr-defined]
_JOBS = Job.__table__  # type: ignore[attr-defined]
_COMPANIES = Company.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AcceptedEvent:
    """What storing one event came to: the answer to send, and whether it was seen before."""

    response: dict[str, Any]
    duplicate: bool
    #: Its job waits (for a first connection): no push worker need look now.
    waiting: bool = False


@dataclass(frozen=True)
class Incoming:
    """One verified, valid event to store."""

    event_id: str
    event_type: str
    payload: dict[str, Any]
    realm_id: str | None
    occurred_at: datetime | None
    known: bool


def accept(
    engine: Engine,
    *,
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
    realm_id: str | None,
    occurred_at: datetime | None,
    known: bool,
) -> AcceptedEvent:
    """Store the event and, for a known type, its job; or return the first answer to this id."""
    incoming = Incoming(event_id, event_type, payload, realm_id, occurred_at, known)
    return accept_many(engine, [incoming])[0]


@dataclass(frozen=True)
class Unconnected:
    """How a job waits when no company was ever connected: for what, and until when at most."""

    waiting_for: str
    wait: timedelta


def accept_many(
    engine: Engine, batch: list[Incoming], unconnected: Unconnected | None = None
) -> list[AcceptedEvent]:
    """Store a batch of events (and their jobs) in one transaction, so one sync of the log
    makes all of them durable: the answers, in order, are given only after the commit.

    An id already stored (or twice in the batch) gets the first answer, marked duplicate. Plain
    SQL statements, not ORM objects: intake runs this for every event JobRoutr sends.

    With ``unconnected``, when no company was ever connected (read inside the transaction, which
    holds the write lock by then), the batch's jobs wait for a connection at once, instead of
    each being claimed by a push worker only to find out; a connect wakes them.
    """
    now = utcnow()
    event_rows, job_rows = _rows(batch, now)
    with engine.begin() as connection:
        # A write first, so the transaction holds the write lock and every read below is current.
        inserted = _insert_events(connection, event_rows)
        firsts = _first_answers(connection, event_rows, inserted)
        # In the order received: job ids order each record's events.
        new_jobs = [row for event_id, row in job_rows.items() if event_id in inserted]
        if new_jobs:
            connection.execute(insert(_JOBS), new_jobs)
        parked: set[str] = set()
        if unconnected is not None and new_jobs:
            parked = _park_if_never_connected(connection, new_jobs, unconnected, now)
    out: list[AcceptedEvent] = []
    answered: set[str] = set()
    for item in batch:
        first = item.event_id in inserted and item.event_id not in answered
        answered.add(item.event_id)
        out.append(
            AcceptedEvent(
                dict(firsts[item.event_id]),
                duplicate=not first,
                waiting=first and item.event_id in parked,
            )
        )
    return out


def _rows(
    batch: list[Incoming], now: datetime
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The event rows (the first of each id in the batch) and the job rows of the known ones,
    both keyed by event id, in the order received."""
    event_rows: dict[str, dict[str, Any]] = {}
    job_rows: dict[str, dict[str, Any]] = {}
    for item in batch:
        if item.event_id in event_rows:
            continue
        kind = item.event_type.split(".", maxsplit=1)[0]
        data = item.payload.get("data")
        raw_id = data.get("id", "") if isinstance(data, dict) else ""
        record_id = str(raw_id)[:128] if item.known else None
        event_rows[item.event_id] = _event_row(item, kind, record_id, now)
        if item.known:
            job_rows[item.event_id] = _job_row(item, f"{kind}:{record_id}", now)
    return event_rows, job_rows


def _event_row(item: Incoming, kind: str, record_id: str | None, now: datetime) -> dict[str, Any]:
    status = EventStatus.QUEUED if item.known else EventStatus.IGNORED
    return {
        "id": item.event_id,
        "type": item.event_type[:64],
        "realm_id": item.realm_id,
        "record_kind": kind if item.known else None,
        "record_id": record_id,
        "occurred_at": item.occurred_at,
        "received_at": now,
        "payload": item.payload,
        "status": status,
        "attempts": 0,
        "first_response": {"event_id": item.event_id, "status": status},
        "updated_at": now,
    }


def _job_row(item: Incoming, record_key: str, now: datetime) -> dict[str, Any]:
    return {
        "event_id": item.event_id,
        "realm_id": item.realm_id,
        "kind": item.event_type,
        "record_key": record_key,
        "state": JobState.QUEUED,
        "run_after": now,
        "attempts": 0,
        "fence": 0,
        "generation": 0,
        "created_at": now,
        "updated_at": now,
    }


def _insert_events(connection: Connection, event_rows: dict[str, dict[str, Any]]) -> set[str]:
    """Insert the events whose id is new; the ids inserted (the others were received before)."""
    upsert = sqlite_insert if connection.dialect.name == "sqlite" else postgresql_insert
    statement = upsert(_EVENTS).on_conflict_do_nothing(index_elements=["id"])
    return set(
        connection.execute(statement.returning(_EVENTS.c.id), list(event_rows.values())).scalars()
    )


def _first_answers(
    connection: Connection, event_rows: dict[str, dict[str, Any]], inserted: set[str]
) -> dict[str, dict[str, Any]]:
    """The answer to each id: the new ones' own, and for those received before, their first."""
    firsts = {event_id: {**row["first_response"]} for event_id, row in event_rows.items()}
    if len(inserted) < len(event_rows):
        found = connection.execute(
            select(_EVENTS.c.id, _EVENTS.c.first_response).where(
                _EVENTS.c.id.in_(event_rows.keys() - inserted)
            )
        )
        firsts.update((event_id, first) for event_id, first in found)
    return firsts


def _park_if_never_connected(
    connection: Connection,
    new_jobs: list[dict[str, Any]],
    unconnected: Unconnected,
    now: datetime,
) -> set[str]:
    """When no company was ever connected, make the new jobs (and their events) wait for a
    connection; the event ids parked (none when a company is there)."""
    if not connection.execute(select(~exists(select(_COMPANIES.c.realm_id)))).scalar():
        return set()
    parked = [row["event_id"] for row in new_jobs]
    connection.execute(
        update(_EVENTS).where(_EVENTS.c.id.in_(parked)).values(status=EventStatus.WAITING)
    )
    connection.execute(
        update(_JOBS)
        .where(_JOBS.c.event_id.in_(parked))
        .values(
            state=JobState.WAITING,
            waiting_for=unconnected.waiting_for,
            waits_on=" connection ",
            run_after=now + unconnected.wait,
        )
    )
    return set(parked)
