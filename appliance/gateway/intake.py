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


def parse_document(body: bytes) -> Any:
    """The body as JSON, strictly: NaN and Infinity are not JSON numbers (RFC 8259), and
    PostgreSQL's json refuses them; a 422 that says so, on every store alike."""
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_not_a_number)
    except NotJsonNumberError as exc:
        raise HTTPException(
            status_code=422, detail=f"The body is not JSON: {exc} is not a JSON number."
        ) from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HTTPException(status_code=422, detail="The body is not UTF-8 JSON.") from None
    return document


def refuse_nul(document: Any) -> None:
    """A NUL character where no field rule looked (an unknown field or event type): 422."""
    if _holds_nul(document):
        raise HTTPException(
            status_code=422,
            detail="The body holds a NUL character (\\u0000), which the appliance does not "
            "store: leave it out.",
        )


class NotJsonNumberError(ValueError):
    """NaN, Infinity or -Infinity in a body (Python's json reads them; JSON has no such thing)."""


def _not_a_number(word: str) -> Any:
    raise NotJsonNumberError(word)


def _holds_nul(document: Any) -> bool:
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


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
    document = parse_document(body)
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
    refuse_nul(document)
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
