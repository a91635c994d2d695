"""Events received from JobRoutr: committed durably (with their job) before they are answered.

The event id (``webhook-id``) is the primary key, so a redelivery cannot queue anything twice:
the second insert fails inside the same transaction and the first answer is returned instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from appliance.storage.db import session_scope
from appliance.storage.models import Event, Job


@dataclass(frozen=True)
class Accepted:
    response: dict[str, Any]
    duplicate: bool


def accept(
    engine: Engine,
    *,
    event_id: str,
    event_type: str,
    payload: dict[str, Any],
    realm_id: str | None,
    occurred_at: datetime | None,
    known: bool,
) -> Accepted:
    """Store the event and, for a known type, its job; or return the first answer to this id."""
    with Session(engine) as session:
        first = session.get(Event, event_id)
        if first is not None:
            return Accepted(dict(first.first_response), duplicate=True)
    kind = event_type.split(".", maxsplit=1)[0]
    record_id = str(payload.get("data", {}).get("id", ""))[:128] if known else None
    status = "queued" if known else "ignored"
    response = {"event_id": event_id, "status": status}
    try:
        with session_scope(engine) as session:
            session.add(
                Event(
                    id=event_id,
                    type=event_type[:64],
                    realm_id=realm_id,
                    record_kind=kind if known else None,
                    record_id=record_id,
                    occurred_at=occurred_at,
                    payload=payload,
                    status=status,
                    first_response=response,
                )
            )
            if known:
                session.flush()  # the event row first: the job refers to it
                session.add(
                    Job(
                        event_id=event_id,
                        realm_id=realm_id,
                        kind=event_type,
                        record_key=f"{kind}:{record_id}",
                    )
                )
    except IntegrityError:
        # A redelivery raced us between the read and the insert: the first one won.
        with Session(engine) as session:
            first = session.get(Event, event_id)
        if first is None:
            raise
        return Accepted(dict(first.first_response), duplicate=True)
    return Accepted(response, duplicate=False)
