"""``POST /webhooks/jobroutr``: JobRoutr's signed events, committed before they are answered.

Order of checks: body size (413, by the app's body limit), signature and timestamp (401), JSON
and the type's fields (422, naming every invalid field), then the durable insert and 202 -- or
200 with the first answer and ``duplicate: true`` for an id already received. Nothing rejected is
queued; no hostile request gets a 5xx.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.response import Response

from appliance.core.events import KNOWN_TYPES, SignatureError, validate, verify_signature
from appliance.gateway.problems import problem
from appliance.gateway.runtime import Runtime
from appliance.storage.events import Incoming

MAX_BODY = 256 * 1024


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


@post(
    "/webhooks/jobroutr",
    tags=["events"],
    summary="Receive a signed event from JobRoutr (Standard Webhooks)",
    status_code=202,
)
async def jobroutr_webhook(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
) -> Response[Any]:
    body = await request.body()
    if len(body) > MAX_BODY:
        return problem(413, "Payload too large", f"The body is over {MAX_BODY // 1024} KiB.")
    headers = {k.lower(): v for k, v in request.headers.items()}
    context = await runtime.intake.context()
    try:
        event_id = verify_signature(context.secrets, headers, body, time.time())
    except SignatureError as exc:
        return problem(401, "Unauthorized", str(exc))
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return problem(422, "Unprocessable content", "The body is not UTF-8 JSON.")
    event_type, _, invalid = validate(document)
    if invalid:
        return problem(
            422,
            "Unprocessable content",
            f"{len(invalid)} field(s) are invalid: "
            + "; ".join(f"{p.name} {p.reason}" for p in invalid),
            invalid_params=[{"name": p.name, "reason": p.reason} for p in invalid],
        )
    # Committed (synchronous=FULL) before the answer, grouped with the requests that arrive
    # meanwhile (one sync for all): an acknowledged event survives a power cut.
    accepted = await runtime.intake.accept(
        Incoming(
            event_id=event_id,
            event_type=event_type,
            payload=document,
            realm_id=context.realm_id,
            occurred_at=_when(document.get("timestamp")),
            known=event_type in KNOWN_TYPES,
        )
    )
    if accepted.duplicate:
        return Response({**accepted.response, "duplicate": True}, status_code=200)
    if not accepted.waiting:
        runtime.pusher.wake()
    return Response(accepted.response, status_code=202)
