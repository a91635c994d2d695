"""Floods of one event are logged once, then counted; the public listener's cap leaves descriptors
for the rest of the service."""

from __future__ import annotations

import asyncio
import errno
import socket

from structlog.testing import capture_logs

from appliance.gateway.connections import accept_backlog, connection_cap
from appliance.logging import RepeatedEvents, get_logger, loop_exception_handler

ACCEPT_ERROR = "socket.accept() out of system resource"


def test_an_event_is_logged_the_first_time_then_counted_until_the_flush() -> None:
    repeats = RepeatedEvents(get_logger("test"))
    with capture_logs() as logs:
        for _ in range(1000):
            repeats.note("http.slow_client_closed", kind="read_timeout", reason="read_timeout")
        first = list(logs)
        repeats.flush(60.0)
    assert first == [
        {"event": "http.slow_client_closed", "reason": "read_timeout", "log_level": "warning"}
    ]
    assert logs[1:] == [
        {
            "event": "http.slow_client_closed",
            "reason": "read_timeout",
            "repeated": 999,
            "period_seconds": 60.0,
            "log_level": "warning",
        }
    ]


def test_kinds_are_counted_apart_and_a_quiet_kind_is_logged_in_full_again() -> None:
    repeats = RepeatedEvents(get_logger("test"))
    with capture_logs() as logs:
        for _ in range(3):
            repeats.note("http.slow_client_closed", kind="read_timeout")
            repeats.note("http.slow_client_closed", kind="room_needed")
        repeats.flush()  # two summaries, each kind still counted
        repeats.flush()  # nothing came: nothing said, kinds forgotten
        repeats.note("http.slow_client_closed", kind="read_timeout")
    assert [log.get("repeated") for log in logs] == [None, None, 2, 2, None]


def test_asyncio_accept_errors_are_logged_once_then_counted() -> None:
    repeats = RepeatedEvents(get_logger("test"))
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(loop_exception_handler(repeats))
    listener = socket.socket()
    try:
        with capture_logs() as logs:
            # What asyncio's selector loop reports each time accept() fails for want of
            # descriptors, through its own call_exception_handler.
            for _ in range(500):
                loop.call_exception_handler(
                    {
                        "message": ACCEPT_ERROR,
                        "exception": OSError(errno.EMFILE, "Too many open files"),
                        "socket": listener,
                    }
                )
            loop.call_exception_handler({"message": "Task exception was never retrieved"})
            repeats.flush(60.0)
    finally:
        listener.close()
        loop.close()
    assert [(log["message"], log.get("repeated")) for log in logs] == [
        (ACCEPT_ERROR, None),
        ("Task exception was never retrieved", None),
        (ACCEPT_ERROR, 499),
    ]
    assert logs[0]["error"] == "OSError: [Errno 24] Too many open files"
    assert logs[0]["log_level"] == "error"
    assert logs[0]["exc_info"] is None  # one line: a traceback says nothing more here


def test_the_cap_leaves_descriptors_for_the_store_and_the_admin_socket() -> None:
    assert connection_cap(1000, 65536) == 1000
    assert connection_cap(1000, 1024) == 768  # systemd's default soft limit, if not raised
    assert connection_cap(100, 1024) == 100
    assert connection_cap(1000, 200) == 150  # a quarter kept on a tiny limit


def test_a_burst_of_connections_cannot_take_the_descriptors_the_cap_leaves() -> None:
    assert accept_backlog(65536, 1000) == 2048  # uvicorn's own when there is room
    assert accept_backlog(1024, 768) == 64  # a quarter of the 256 kept
    assert accept_backlog(40, 30) == 8
