"""Per-request context: a request id bound to every log line, and one summary line per request.

The public listener's summary lines are logged at INFO; the admin socket's at DEBUG (``level``),
as the console re-reads its screens every 0.5 to 2 s: at INFO that was ~35 lines a minute saying
only that an operator was looking (issue 22). ``APPLIANCE_LOG_LEVEL=DEBUG`` shows them.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from appliance.gateway.peer import peer_of
from appliance.logging import get_logger

log = get_logger("appliance.http")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_context(app: ASGIApp, level: str = "info") -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            # For troubleshooting at DEBUG: everything that arrived, through the redactor.
            log.debug(
                "http.request_received",
                method=scope.get("method"),
                path=scope.get("path"),
                query=scope.get("query_string", b"").decode("latin-1"),
                headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
            )
            try:
                await app(scope, receive, send_with_id)
            finally:
                # The path only: query strings can carry OAuth codes and state.
                peer = peer_of(scope)  # on the admin socket: who, as the kernel says
                getattr(log, level)(
                    "http.request_finished",
                    method=scope.get("method"),
                    path=scope.get("path"),
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                    **({"peer_uid": peer["uid"]} if peer else {}),
                )

    return middleware
