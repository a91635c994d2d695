"""The public listener's connections, one behaviour at a time: its read deadline, its cap and how it
makes room, and the requests it refuses before any application sees them.

Each test runs uvicorn in a thread of this process as the service runs it (the public protocol of
appliance.gateway.connections, the same uvicorn settings), with a short deadline and a small cap,
in front of a small Litestar app with the gateway's error handlers; clients are raw sockets, so
they can be as slow or as wrong as a hostile one.
"""

from __future__ import annotations

import asyncio
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from litestar import Litestar, Request, get, post

from appliance.gateway.connections import Guard
from appliance.gateway.problems import EXCEPTION_HANDLERS
from appliance.gateway.server import bind_tcp, server_config
from appliance.logging import RepeatedEvents, get_logger
from tests.harness.processes import free_port, wait_until

READ_TIMEOUT = 1.0


@dataclass
class Listener:
    port: int
    guard: Guard
    calls: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def small_app(listener: Listener) -> Litestar:
    @post("/echo", status_code=200)
    async def echo(request: Request) -> dict[str, int]:  # type: ignore[type-arg]
        listener.calls.append("echo")
        return {"bytes": len(await request.body())}

    @get("/hold")
    async def hold() -> dict[str, bool]:
        listener.calls.append("hold")
        await asyncio.to_thread(listener.release.wait, 20)
        return {"held": True}

    @get("/slow")
    async def slow() -> dict[str, bool]:
        await asyncio.sleep(3 * READ_TIMEOUT)
        return {"slow": True}

    return Litestar([echo, hold, slow], exception_handlers=EXCEPTION_HANDLERS)


@contextmanager
def listening(max_connections: int = 8, read_timeout: float = READ_TIMEOUT) -> Iterator[Listener]:
    repeats = RepeatedEvents(get_logger("tests.listener"))
    guard = Guard(read_timeout=read_timeout, max_connections=max_connections, repeats=repeats)
    port = free_port()
    listener = Listener(port, guard)
    sock = bind_tcp("127.0.0.1", port)
    server = uvicorn.Server(server_config(small_app(listener), http=guard.protocol()))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, what="the listener to start")
        yield listener
    finally:
        listener.release.set()
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def read_all(sock: socket.socket, timeout: float = 10) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def answer(raw: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


def still_open(sock: socket.socket) -> bool:
    """Nothing to read and not closed: the server has not let it go."""
    readable, _, _ = select.select([sock], [], [], 0.2)
    return not readable


def test_headers_that_never_end_get_408_after_the_read_timeout() -> None:
    with listening() as listener, listener.connect() as sock:
        started = time.monotonic()
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: gateway\r\n")
        time.sleep(READ_TIMEOUT / 2)
        sock.sendall(b"X-Slow: one line at a time\r\n")
        status, headers, problem = answer(read_all(sock))
        took = time.monotonic() - started
    assert status == 408
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert problem["title"] == "Request timeout"
    assert f"within {READ_TIMEOUT:g} s" in str(problem["detail"])
    assert took >= READ_TIMEOUT
    assert listener.calls == []  # no application saw it


def test_a_body_that_never_comes_gets_408_from_the_application() -> None:
    with listening() as listener, listener.connect() as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{"
        )
        raw = read_all(sock)
    status, headers, problem = answer(raw)
    assert status == 408, raw
    assert headers["content-type"] == "application/problem+json"
    assert problem["instance"] == "/echo"  # answered by the application's error handler
    assert listener.calls == ["echo"]


def test_a_connection_that_sends_nothing_is_closed_without_an_answer() -> None:
    with listening() as listener, listener.connect() as sock:
        assert read_all(sock) == b""


def test_the_applications_own_time_and_keep_alive_are_not_cut_short() -> None:
    with listening() as listener, httpx.Client(base_url=listener.url, timeout=10) as client:
        assert client.get("/slow").json() == {"slow": True}  # answered after 3 read timeouts
        # The same connection, kept alive, serves the next requests.
        for n in range(3):
            response = client.post("/echo", content=b"x" * n)
            assert response.json() == {"bytes": n}
    assert listener.calls == ["echo"] * 3


def test_beyond_the_cap_the_connection_waiting_longest_makes_room() -> None:
    with listening(max_connections=3, read_timeout=10) as listener:
        slow = [listener.connect() for _ in range(3)]
        for sock in slow:
            sock.sendall(b"GET /echo HTTP/1.1\r\n")
            time.sleep(0.05)  # so that they wait in this order
        response = httpx.post(listener.url + "/echo", content=b"quick", timeout=5)
        assert response.json() == {"bytes": 5}
        oldest, *others = slow
        assert answer(read_all(oldest))[0] == 408
        assert all(still_open(sock) for sock in others)
        for sock in slow:
            sock.close()


def test_when_every_connection_is_busy_a_new_one_gets_503_with_retry_after() -> None:
    with listening(max_connections=2) as listener:
        results: list[int] = []

        def held() -> None:
            results.append(httpx.get(listener.url + "/hold", timeout=20).status_code)

        holders = [threading.Thread(target=held) for _ in range(2)]
        for thread in holders:
            thread.start()
        wait_until(lambda: len(listener.calls) == 2, what="two requests being answered")
        with listener.connect() as sock:
            status, headers, problem = answer(read_all(sock))
        listener.release.set()
        for thread in holders:
            thread.join(timeout=20)
    assert status == 503
    assert headers["retry-after"] == "5"
    assert headers["content-type"] == "application/problem+json"
    assert "2 connections are busy" in str(problem["detail"])
    assert results == [200, 200]


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 0\r\n",
    ],
    ids=["length-first", "chunked-first"],
)
def test_a_request_with_both_content_length_and_chunked_is_refused_with_400(
    framing: bytes,
) -> None:
    with listening() as listener, listener.connect() as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: gateway\r\n" + framing + b"\r\n0\r\n\r\n")
        status, headers, problem = answer(read_all(sock))
    assert status == 400
    assert headers["content-type"] == "application/problem+json"
    assert "both Content-Length and Transfer-Encoding" in str(problem["detail"])
    assert listener.calls == []


def test_a_request_that_is_not_http_gets_a_problem_400_naming_why() -> None:
    with listening() as listener, listener.connect() as sock:
        sock.sendall(b"GET /echo HTTP/1.1\r\nHost: gateway\r\nno colon here\r\n\r\n")
        status, headers, problem = answer(read_all(sock))
    assert status == 400
    assert headers["content-type"] == "application/problem+json"
    assert str(problem["detail"]).startswith("The request is not valid HTTP/1.1 (")
    assert listener.calls == []


def test_a_client_that_hangs_up_halfway_through_its_body_is_no_server_error() -> None:
    """The request's log line and the 5xx count said 500 (Litestar's 'client disconnected
    prematurely'); no one reads the answer, but the service did nothing wrong."""
    listener = Listener(
        0,
        Guard(
            read_timeout=1, max_connections=1, repeats=RepeatedEvents(get_logger("tests.listener"))
        ),
    )
    app = small_app(listener)
    incoming = [
        {"type": "http.request", "body": b'{"half": ', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return incoming.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/echo",
        "raw_path": b"/echo",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    start = next(message for message in sent if message["type"] == "http.response.start")
    assert start["status"] == 400
    body = b"".join(
        message.get("body", b"")  # type: ignore[misc]
        for message in sent
        if message["type"] == "http.response.body"
    )
    assert b"closed the connection before it sent the whole request" in body
