"""Admission and dispatch of the v3 API (``/v3/company/{realm}/...``), in plain ASGI.

Every API request passes, in order: injected faults, the company's limits (429), latency, the
bearer token (401 in the gateway's shape), then ``requestid`` replay, then the API itself
(``api.Emulator``). Everything else goes to the Litestar app (OAuth and control routes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from appliance.emulator import faults
from appliance.emulator.api import ENCODER, REQUESTID_MAX, Reply
from appliance.emulator.limits import FaultRule
from appliance.emulator.service import EmulatorService

# Plain ASGI types: this layer speaks raw ASGI to Litestar and to uvicorn alike.
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Answer = Callable[[int, bytes, str, dict[str, str]], Awaitable[None]]
API_PREFIX = "/v3/company/"


class _ClientGone(Exception):
    """The client went away before its request body was complete."""


async def _read_body(receive: Receive) -> bytes:
    """The whole request body. A client that disconnects before sending all of it (killed
    mid-request) raises _ClientGone: like QBO's front end, the emulator then does nothing, so a
    half-sent write is neither applied nor remembered under its requestid."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise _ClientGone


async def _send(send: Send, status: int, body: bytes, media: str, headers: dict[str, str]) -> None:
    raw_headers = [(b"content-type", media.encode()), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    start: Message = {"type": "http.response.start", "status": status, "headers": raw_headers}
    await send(start)
    await send({"type": "http.response.body", "body": body})


class _Replies:
    """The ways one API request can be answered, each counted by status as QBO's would be seen;
    every answer carries the request's ``intuit_tid``."""

    def __init__(self, service: EmulatorService, send: Send) -> None:
        tid = faults.intuit_tid()
        self.common = {"intuit_tid": tid, "Intuit-Tid": tid}
        self.stats = service.governor.stats
        self.send = send

    async def answer(self, status: int, body: bytes, media: str, headers: dict[str, str]) -> None:
        self.stats.by_status[str(status)] += 1
        await _send(self.send, status, body, media, {**self.common, **headers})

    async def cut_short(self) -> None:
        """Start an answer and cut it: the client sees the connection drop mid-reply."""
        await self.send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"1000")],
            }
        )
        await self.send({"type": "http.response.body", "body": b'{"Cust', "more_body": True})
        raise ConnectionAbortedError("fault injected: connection dropped")

    async def processed_then_dropped(
        self, status: int, _body: bytes, _media: str, _headers: dict[str, str]
    ) -> None:
        """QBO did the work (and remembered the requestid); the answer never arrives."""
        self.stats.by_status[str(status)] += 1
        await self.cut_short()


def api_gateway(service: EmulatorService, inner: ASGIApp) -> ASGIApp:
    """Admission and dispatch for /v3/company/...; everything else goes to the Litestar app."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await inner(scope, receive, send)
            return
        await _admit(service, scope, receive, send)

    return app


async def _admit(service: EmulatorService, scope: Scope, receive: Receive, send: Send) -> None:
    """Injected faults, then the company's limits and latency, then the request itself."""
    method = scope["method"]
    path = scope["path"][len(API_PREFIX) :]
    realm, _, rest = path.partition("/")
    replies = _Replies(service, send)
    governor = service.governor
    governor.stats.requests += 1
    answer: Answer = replies.answer
    rule = governor.pick_fault(method, scope["path"])
    edited = rule is not None and rule.kind == "edited"
    if rule is not None and rule.kind == "drop_after":
        answer = replies.processed_then_dropped
    elif rule is not None and await _injected(service, rule, replies):
        return
    is_batch = rest.split("?")[0].rstrip("/") == "batch"
    if not governor.admit(realm, batch=is_batch):
        await _throttled(service, answer)
        return
    try:
        delay = governor.latency()
        if delay:
            await asyncio.sleep(delay)
        await _dispatch(
            service, scope, receive, answer, realm=realm, rest=rest, method=method, edited=edited
        )
    finally:
        governor.release(realm)


async def _injected(service: EmulatorService, rule: FaultRule, replies: _Replies) -> bool:
    """Play an injected fault; True when it answered the request (a stall only delays it)."""
    if rule.kind == "stall":
        await asyncio.sleep(rule.stall_seconds)
        return False
    if rule.kind == "drop":
        await replies.cut_short()
    elif rule.kind == "500":
        body = ENCODER.encode(faults.server_error_json(service.clock.envelope_time()))
        await replies.answer(500, body, "application/json", {})
    elif rule.kind == "502":
        await replies.answer(502, b"", "text/html", {})
    elif rule.kind == "503_html":
        await replies.answer(503, faults.HTML_503.encode(), "text/html", {})
    elif rule.kind == "429":
        await _throttled(service, replies.answer)
    else:
        return False
    return True


async def _throttled(service: EmulatorService, answer: Answer) -> None:
    time = service.clock.envelope_time()
    if service.governor.limits.throttle_format == "xml":
        await answer(429, faults.throttle_xml(time).encode(), "application/xml", {})
    else:
        await answer(429, ENCODER.encode(faults.throttle_json(time)), "application/json", {})


async def _authorized(
    service: EmulatorService, headers: dict[str, str], realm: str, answer: Answer
) -> bool:
    """Check the bearer token; answer 401 (the gateway's shape) or 403 and say False when the
    request may not go on."""
    token = headers.get("authorization", "")
    problem = (
        service.oauth.check_access(token[7:].strip(), realm)
        if token[:7].lower() == "bearer "
        else "invalid"
    )
    if problem in ("invalid", "expired"):
        detail = "Token expired: " + token[7:57] if problem == "expired" else "Token invalid"
        millis = int(service.clock.time() * 1000)
        await answer(
            401,
            ENCODER.encode(faults.auth_body(detail, millis)),
            "application/json",
            {"www-authenticate": faults.AUTHENTICATE},
        )
        return False
    if problem == "forbidden":
        refusal = service.api.forbidden(realm)
        await answer(refusal.status, refusal.encode(), refusal.media_type, refusal.headers)
        return False
    return True


async def _dispatch(
    service: EmulatorService,
    scope: Scope,
    receive: Receive,
    answer: Answer,
    *,
    realm: str,
    rest: str,
    method: str,
    edited: bool = False,
) -> None:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    if not await _authorized(service, headers, realm, answer):
        return
    params = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    try:
        body = await _read_body(receive)
    except _ClientGone:
        return  # nobody to answer, and nothing was asked in full
    requestid = params.pop("requestid", None)
    params.pop("minorversion", None)  # every minor version is served as 75 (FACTS §2)
    if requestid is not None and method == "POST":
        if len(requestid) > REQUESTID_MAX:
            refusal = service.api.refuse(
                faults.business(f"requestid is longer than {REQUESTID_MAX} characters")
            )
            await answer(refusal.status, refusal.encode(), refusal.media_type, refusal.headers)
            return
        remembered = service.api.replay(realm, requestid)
        if remembered is not None:
            service.governor.stats.replays += 1
            status, raw, media = remembered
            await answer(status, raw, media, {})
            return
    if edited and method == "POST":
        service.api.edited_elsewhere(realm, rest, body)
    reply: Reply = service.api.call(
        realm, method, rest, params=params, body=body, content_type=headers.get("content-type", "")
    )
    raw = reply.encode()
    if reply.write and reply.status == 200:
        service.governor.stats.writes += 1
    if requestid is not None and method == "POST":
        service.api.remember(realm, requestid, reply, raw)
    await answer(reply.status, raw, reply.media_type, reply.headers)
