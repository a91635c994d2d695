"""``POST /webhooks/jobroutr``: JobRoutr's signed events, committed before they are answered.

Order of checks: body size (413, by the app's body limit), signature and timestamp (401), JSON
and the type's fields (422, naming every invalid field; for an invoice, also figures that do not
add up and, once the company's books are read, a foreign currency without an exchange rate:
``core.bill``), then the durable insert and 202 -- or
200 with the first answer and ``duplicate: true`` for an id already received. Nothing rejected is
queued; no hostile request gets a 5xx.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

import msgspec
from litestar import MediaType, Request, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.openapi import ResponseSpec
from litestar.response import Response

from appliance.core.events import (
    KNOWN_TYPES,
    SignatureError,
    event_time,
    validate,
    verify_signature,
)
from appliance.gateway.problems import problems
from appliance.gateway.runtime import Runtime
from appliance.storage.events import Incoming

MAX_BODY = 256 * 1024


class Accepted(msgspec.Struct, omit_defaults=True):
    """The answer to an event (CONTRACT.md): queued to be written, or ignored (a type this
    release does not know). A redelivery gets the first answer again with ``duplicate``."""

    event_id: str
    status: Literal["queued", "ignored"]
    duplicate: bool | None = None


@post(
    "/webhooks/jobroutr",
    tags=["events"],
    summary="Receive a signed event from JobRoutr (Standard Webhooks)",
    status_code=202,
    response_description="Accepted: committed to the store, to be written to QuickBooks",
    responses={
        200: ResponseSpec(
            data_container=Accepted,
            media_type=MediaType.JSON,
            description="This webhook-id was received before: the first answer, duplicate true",
            generate_examples=False,
        ),
        **problems(401, 413, 422, 503),
    },
)
async def jobroutr_webhook(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
) -> Response[Accepted]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(status_code=413, detail=f"The body is over {MAX_BODY // 1024} KiB.")
    headers = {k.lower(): v for k, v in request.headers.items()}
    context = await runtime.intake.context()
    try:
        event_id = verify_signature(context.secrets, headers, body, time.time())
    except SignatureError as exc:
        raise NotAuthorizedException(detail=str(exc)) from None
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HTTPException(status_code=422, detail="The body is not UTF-8 JSON.") from None
    event_type, _, invalid = validate(
        document, home_currency=context.home_currency, accounts=context.accounts
    )
    if invalid:
        raise ValidationException(
            status_code=422,
            detail=f"{len(invalid)} field(s) are invalid: "
            + "; ".join(f"{p.name} {p.reason}" for p in invalid),
            extra=[{"key": p.name, "message": p.reason} for p in invalid],
        )
    # Committed (synchronous=FULL) before the answer, grouped with the requests that arrive
    # meanwhile (one sync for all): an acknowledged event survives a power cut.
    accepted = await runtime.intake.accept(
        Incoming(
            event_id=event_id,
            event_type=event_type,
            payload=document,
            realm_id=context.realm_id,
            occurred_at=event_time(document.get("timestamp")),
            known=event_type in KNOWN_TYPES,
        )
    )
    answer = msgspec.convert(accepted.response, Accepted)
    if accepted.duplicate:
        answer.duplicate = True
        return Response(answer, status_code=200)
    if not accepted.waiting:
        runtime.work_queued()
    return Response(answer, status_code=202)
