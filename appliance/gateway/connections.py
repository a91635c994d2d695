"""The public listener's connections: a read deadline, a cap, one way to read a request's length.

uvicorn's HTTP/1.1 protocol (h11) waits as long as a client likes for a request and takes every
connection the kernel hands it. So slow clients (a header line every few seconds, a body promised
and never sent) could hold descriptors until none were left for anything else: /healthz, the
webhook and the admin socket all stopped answering (issue 16). The public listener runs
:class:`GuardedProtocol`, uvicorn's h11 protocol with three additions:

* **A read deadline.** From the moment a connection opens, or its previous answer is sent, the
  client has ``http_read_timeout_seconds`` to send a whole request, headers and body. Then it is
  answered 408 and closed; a connection that sent nothing of a request is closed without a word
  (as an idle keep-alive connection is). The time the application takes to answer is not counted.
  When the headers came and the body did not, the application is already reading it: its read
  fails with a 408 (:class:`ReadTimedOut`), which it answers and logs as any error.
* **A cap** of open connections (``http_max_connections``, lowered if the descriptor limit needs
  it: :func:`connection_cap`; connections are taken from the kernel :func:`accept_backlog` at a
  time, so that a burst cannot overrun the cap by more than the reserve allows). A connection
  beyond it makes room by closing the connection that has waited longest for its client (as the
  deadline would, 408 or silently), so a crowd of slow clients cannot lock out a quick one. Only
  when every connection is busy with a request being answered is the newcomer refused: 503 with
  Retry-After, closed at once.
* **No request with both Content-Length and Transfer-Encoding** (RFC 9112 6.1: a proxy in front
  may read its length the other way, the start of request smuggling): 400, closed. Any request h11
  cannot parse gets the same problem+json answer, naming what h11 found.

The other answers are written before any application sees the request, as
``application/problem+json`` like every other error. Each kind of event is logged once, then
counted (:class:`RepeatedEvents`). The admin socket and the bundled emulator use uvicorn's
protocol unchanged, outside the cap.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from http import HTTPStatus
from typing import Any, ClassVar

import h11
from litestar.exceptions import HTTPException
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from appliance.logging import RepeatedEvents

PROBLEM_JSON = "application/problem+json"
#: Descriptors kept out of the cap for everything else: the store's files, the admin socket and its
#: clients, calls to QuickBooks, the embedded emulator, logs.
RESERVED_DESCRIPTORS = 256
#: What a client refused because every connection is busy is told to wait before trying again.
RETRY_AFTER_SECONDS = 5
_BOTH_LENGTHS = (
    "The request has both Content-Length and Transfer-Encoding; send one of them (RFC 9112 6.1)."
)


def connection_cap(max_connections: int, open_files_limit: int) -> int:
    """The cap applied: the setting, lowered so that the public listener cannot take the
    descriptors the store and the admin socket need (a quarter of a small limit, or 256)."""
    return max(1, min(max_connections, open_files_limit - _reserve(open_files_limit)))


def accept_backlog(open_files_limit: int, cap: int) -> int:
    """How many connections the listener takes from the kernel at a time (its listen queue too).

    asyncio accepts up to this many in a row before the protocol sees any of them (the cap is
    applied there), so each can be a descriptor beyond the cap for a moment, and so can each
    connection closed to make room for one (its descriptor is let go on the loop's next turn,
    when the next burst may already be coming in): a quarter of what the cap leaves, so that two
    bursts and the service's own files still fit, and uvicorn's 2,048 when there is room. (Half
    was seen to run out once, with soft and hard limits both at 1,024.)
    """
    return max(8, min(2048, (open_files_limit - cap) // 4))


def _reserve(open_files_limit: int) -> int:
    return min(RESERVED_DESCRIPTORS, open_files_limit // 4)


class Guard:
    """What the public listener's connections share: the limits, and who is waiting for a client.

    ``waiting`` is in the order the connections started waiting, so its first entry is the one
    that has waited longest (an OrderedDict: taking from the front stays cheap, unlike a dict's).
    """

    def __init__(
        self,
        *,
        read_timeout: float,
        max_connections: int,
        repeats: RepeatedEvents,
        backlog: int = 2048,
    ) -> None:
        self.read_timeout = read_timeout
        self.max_connections = max_connections
        self.backlog = backlog
        self.repeats = repeats
        self.waiting: OrderedDict[GuardedProtocol, None] = OrderedDict()

    def protocol(self) -> type[GuardedProtocol]:
        """The protocol class for uvicorn's ``Config(http=...)``, bound to this guard."""
        guard = self

        class PublicProtocol(GuardedProtocol):
            pass

        PublicProtocol.guard = guard
        return PublicProtocol


class _StrictFraming(h11.Connection):
    """h11, refusing a request whose length could be read two ways, and remembering why it
    refused a request (uvicorn's handler only knows that it did)."""

    refusal: tuple[int, str] | None = None

    def next_event(self) -> Any:
        try:
            event = super().next_event()
            if isinstance(event, h11.Request):
                names = {name for name, _ in event.headers}
                if b"content-length" in names and b"transfer-encoding" in names:
                    raise h11.RemoteProtocolError(_BOTH_LENGTHS, error_status_hint=400)
        except h11.RemoteProtocolError as exc:
            self.refusal = (exc.error_status_hint, str(exc)[:200])
            raise
        return event


class ReadTimedOut(HTTPException):
    """The body of a request did not arrive in time: raised by the application's ``receive``."""

    status_code = 408


def problem_answer(
    status: int,
    title: str,
    detail: str,
    *,
    headers: list[tuple[bytes, bytes]],
    extra: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """A whole HTTP/1.1 answer with a problem+json body, and ``Connection: close``."""
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
    lines += [f"{name.decode('latin-1')}: {value.decode('latin-1')}" for name, value in headers]
    lines += [
        f"content-type: {PROBLEM_JSON}",
        f"content-length: {len(body.encode())}",
        "connection: close",
        *(f"{name}: {value}" for name, value in extra),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


class GuardedProtocol(H11Protocol):
    """uvicorn's h11 protocol with the public listener's read deadline, cap and framing rule."""

    guard: ClassVar[Guard]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        size = config.h11_max_incomplete_event_size
        self.conn = self.strict = (
            _StrictFraming(h11.SERVER) if size is None else _StrictFraming(h11.SERVER, size)
        )
        self.app = self._reading_in_time(self.app)
        self.read_deadline: asyncio.TimerHandle | None = None
        self.late_cycle: object = None  # the request whose body did not come in time

    # --- uvicorn's hooks ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.guard.max_connections and not self._make_room():
            self._refuse(transport)
            return
        super().connection_made(transport)
        self._wait_for_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._stop_waiting_if_read()

    def on_response_complete(self) -> None:
        # Before uvicorn's own: it may go on to a pipelined request, read already.
        if not self.transport.is_closing():
            self._wait_for_request()
        super().on_response_complete()
        self._stop_waiting_if_read()

    def send_400_response(self, msg: str) -> None:
        self._stop_waiting()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # A request's body could not be parsed while the application reads it: it is told
            # the client left, and what it answers is dropped.
            cycle.disconnected = True
            cycle.message_event.set()
            if cycle.response_started:
                self.transport.close()  # in the middle of an answer: nothing more can be said
                return
        status, why = self.strict.refusal or (400, "")
        if status not in (400, 413, 414, 431):
            status = 400
        if why == _BOTH_LENGTHS:
            detail = why
        else:
            detail = "The request is not valid HTTP/1.1" + (f" ({why})." if why else ".")
        title = "Bad request" if status == 400 else HTTPStatus(status).phrase
        self._close_with(status, title, detail)

    # --- the deadline and the cap -------------------------------------------------------------

    def _reading_in_time(self, app: Any) -> Any:
        """The application, whose reads of a request's body fail once its deadline has passed."""

        async def guarded(scope: Any, receive: Any, send: Any) -> None:
            cycle = self.cycle

            async def receive_in_time() -> Any:
                message = await receive()
                if cycle is not None and self.late_cycle is cycle:
                    raise ReadTimedOut(detail=self._too_late())
                return message

            await app(scope, receive_in_time, send)

        return guarded

    def _too_late(self) -> str:
        return f"The whole request did not arrive within {self.guard.read_timeout:g} s."

    def _wait_for_request(self) -> None:
        self._stop_waiting()
        self.read_deadline = self.loop.call_later(
            self.guard.read_timeout, self._let_go, "read_timeout"
        )
        self.guard.waiting[self] = None

    def _stop_waiting(self) -> None:
        if self.read_deadline is not None:
            self.read_deadline.cancel()
            self.read_deadline = None
        self.guard.waiting.pop(self, None)

    def _stop_waiting_if_read(self) -> None:
        # IDLE: not all of the next request's headers are here; SEND_BODY: not all of its body.
        reading = self.conn.their_state in (h11.IDLE, h11.SEND_BODY)
        if self.read_deadline is not None and not reading:
            self._stop_waiting()

    def _make_room(self) -> bool:
        oldest = next(iter(self.guard.waiting), None)
        if oldest is None:
            return False
        oldest._let_go("room_needed")
        return True

    def _let_go(self, reason: str) -> None:
        """Close a connection still waiting for its client: 408 if it sent part of a request."""
        self._stop_waiting()
        self.connections.discard(self)  # counted out of the cap at once, closed just after
        if self.transport.is_closing():
            return
        self.guard.repeats.note(
            "http.slow_client_closed",
            kind=reason,
            reason=reason,
            read_timeout_seconds=self.guard.read_timeout,
            open_connections=len(self.connections),
        )
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if cycle.response_started:
                cycle.disconnected = True
                cycle.message_event.set()
                self.transport.close()  # in the middle of an answer: nothing more can be said
            else:
                # The application waits for the body: its next read fails with a 408, which it
                # answers; then the connection is closed.
                self.late_cycle = cycle
                cycle.keep_alive = False
                cycle.message_event.set()
        elif self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]:
            self._close_with(408, "Request timeout", self._too_late())
        else:
            self.transport.close()

    def _refuse(self, transport: asyncio.Transport) -> None:
        self.transport = transport  # for connection_lost, which uvicorn's code runs as usual
        self.guard.repeats.note(
            "http.connection_refused",
            reason="every connection busy",
            max_connections=self.guard.max_connections,
        )
        transport.write(
            problem_answer(
                503,
                "Service unavailable",
                f"All {self.guard.max_connections} connections are busy; try again shortly.",
                headers=self.server_state.default_headers,
                extra=(("retry-after", str(RETRY_AFTER_SECONDS)),),
            )
        )
        transport.close()

    def _close_with(self, status: int, title: str, detail: str) -> None:
        self.transport.write(
            problem_answer(status, title, detail, headers=self.server_state.default_headers)
        )
        self.transport.close()
