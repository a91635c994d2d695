"""1,500 slow clients on the public port: the service keeps answering, then lets them all go.

Half of the clients send a request's header lines one every two seconds and never finish them; the
other half send whole headers with a Content-Length and never send the body. That is what took the
service down in issue 16: under systemd's default soft limit of 1,024 descriptors, such clients
used them all, and /healthz, the webhook, the pull API and the admin socket stopped answering. So
the service is started here with that soft limit (and this machine's hard limit), as systemd starts
a unit without LimitNOFILE=.

While the clients are held, /healthz, a signed event and `appliance status` (over the admin socket)
each answer within a second. Every slow client is then let go: closed by the read deadline or to
make room for a newer connection, with a 408 when it had sent part of a request. The service raised
its soft limit to the hard one at start, and said all of this in a few log lines, not one a client.
"""

from __future__ import annotations

import contextlib
import json
import re
import resource
import selectors
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TypeVar

import httpx
import pytest
from click.testing import CliRunner
from standardwebhooks.webhooks import Webhook

from appliance.cli import main
from appliance.config import Settings
from tests.harness.processes import (
    APPLIANCE,
    answers,
    appliance_env,
    free_port,
    run_appliance,
    shared_dir,
    wait_until,
)

pytestmark = pytest.mark.slow

SLOW_CLIENTS = 1500
CAP = 1000  # the default of APPLIANCE_HTTP_MAX_CONNECTIONS
READ_TIMEOUT = 10.0  # long enough that the crowd is still held while the checks run
SYSTEMD_SOFT_LIMIT = 1024
TRICKLE_SECONDS = 2.0
T = TypeVar("T")
#: A header line at a time, never the blank line that ends them.
STARTED_HEADERS = b"POST /webhooks/jobroutr HTTP/1.1\r\nHost: gateway\r\n"
#: Whole headers that promise a body, which never comes.
PROMISED_BODY = (
    b"POST /webhooks/jobroutr HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000\r\n\r\n{"
)


@dataclass
class SlowClient:
    sock: socket.socket
    trickles: bool
    received: bytes = b""
    closed_at: float | None = None  # when the service closed it (end of file or reset)

    @property
    def outcome(self) -> str:
        if self.closed_at is None:
            return "still open"
        if not self.received:
            return "closed"
        return self.received.split(b"\r\n", 1)[0].decode("latin-1")


@dataclass
class Crowd:
    """The slow clients, read (and trickled into) by one thread with a selector."""

    port: int
    clients: list[SlowClient] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def open(self, count: int) -> None:
        selector = selectors.DefaultSelector()
        for n in range(count):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            client = SlowClient(sock, trickles=n % 2 == 0)
            sock.sendall(STARTED_HEADERS if client.trickles else PROMISED_BODY)
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, client)
            self.clients.append(client)
        self._thread = threading.Thread(target=self._run, args=(selector,), daemon=True)
        self._thread.start()

    def _run(self, selector: selectors.BaseSelector) -> None:
        next_trickle = time.monotonic() + TRICKLE_SECONDS
        open_ = len(self.clients)
        while open_ and not self._stop.is_set():
            for key, _ in selector.select(timeout=0.2):
                client: SlowClient = key.data
                try:
                    data = client.sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                client.received += data
                if not data:
                    client.closed_at = time.monotonic()
                    selector.unregister(client.sock)
                    client.sock.close()
                    open_ -= 1
            if time.monotonic() >= next_trickle:
                next_trickle += TRICKLE_SECONDS
                for n, client in enumerate(self.clients):
                    if client.trickles and client.closed_at is None:
                        # Closed by the service: the selector sees it.
                        with contextlib.suppress(OSError):
                            client.sock.send(f"X-Slow-{n}: still here\r\n".encode())
        selector.close()

    def closed(self) -> int:
        return sum(client.closed_at is not None for client in self.clients)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for client in self.clients:
            client.sock.close()


@pytest.fixture
def crowd_budget() -> Iterator[None]:
    """Enough descriptors in this process for the crowd, its checks and pytest."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = SLOW_CLIENTS + 512
    if hard != resource.RLIM_INFINITY and hard < max(wanted, 2 * SYSTEMD_SOFT_LIMIT):
        pytest.skip(f"this machine's hard limit of {hard} descriptors is too low for the test")
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def starting_limits(hard_too: bool) -> Callable[[], None]:
    """Run in the service's process before exec: systemd's default soft limit of open files, and
    the machine's hard limit or (as under `ulimit -Hn 1024`) the same."""

    def limit() -> None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(
            resource.RLIMIT_NOFILE,
            (SYSTEMD_SOFT_LIMIT, SYSTEMD_SOFT_LIMIT if hard_too else hard),
        )

    return limit


def open_files_limit(pid: int) -> tuple[int, int]:
    limits = Path(f"/proc/{pid}/limits").read_text()
    found = re.search(r"^Max open files\s+(\d+)\s+(\d+)", limits, flags=re.MULTILINE)
    assert found, limits
    return int(found[1]), int(found[2])


def signed_event(secret: str) -> tuple[bytes, dict[str, str]]:
    path = shared_dir() / "jobroutr" / "examples" / "customer.created.json"
    if not path.exists():
        pytest.skip(f"the JobRoutr examples are not at {path.parent} (set JOBROUTR_SHARED_DIR)")
    body = path.read_text(encoding="utf-8")
    event_id = f"evt_{uuid.uuid4().hex}"
    when = datetime.now(UTC)
    return body.encode(), {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, when, body),
        "content-type": "application/json",
    }


def within_a_second(what: str, call: Callable[[], T]) -> T:
    started = time.monotonic()
    try:
        result = call()
    except httpx.TimeoutException:
        raise AssertionError(f"{what} had no answer within a second") from None
    took = time.monotonic() - started
    assert took < 1.0, f"{what} took {took:.2f} s while the slow clients were held"
    return result


def read_output(handle: IO[str]) -> str:
    handle.seek(0)
    return handle.read()


@pytest.mark.parametrize(
    ("hard_too", "cap"),
    [(False, CAP), (True, SYSTEMD_SOFT_LIMIT - 256)],
    ids=["soft-1024", "soft-and-hard-1024"],
)
def test_slow_clients_cannot_take_the_service_down(
    settings: Settings, crowd_budget: None, hard_too: bool, cap: int
) -> None:
    env = {
        "APPLIANCE_STATE_DIR": str(settings.state_dir),
        "APPLIANCE_HTTP_PORT": str(settings.http_port),
        "APPLIANCE_ADMIN_SOCKET": str(settings.admin_socket_path),
        "APPLIANCE_QBO_EMULATOR_URL": f"http://127.0.0.1:{free_port()}",
        "APPLIANCE_LOG_FORMAT": "json",
        "APPLIANCE_HTTP_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
        "APPLIANCE_HTTP_MAX_CONNECTIONS": str(CAP),
    }
    init = run_appliance("init", env=env)
    assert init.returncode == 0, init.stderr
    secret = re.search(r"JobRoutr webhook secret:\s+(\S+)", init.stdout)
    assert secret, init.stdout
    url = f"http://127.0.0.1:{settings.http_port}"

    out = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed below
    err = tempfile.TemporaryFile("w+")  # noqa: SIM115
    service = subprocess.Popen(
        [str(APPLIANCE), "serve"],
        env=appliance_env(env),
        stdout=out,
        stderr=err,
        text=True,
        preexec_fn=starting_limits(hard_too),  # noqa: PLW1509 - no threads run in the child yet
    )
    crowd = Crowd(settings.http_port)
    try:
        wait_until(
            lambda: service.poll() is not None or answers(url + "/healthz"),
            what="the service to answer /healthz",
        )
        assert service.poll() is None, read_output(err)
        started = time.monotonic()
        crowd.open(SLOW_CLIENTS)
        # Let the service take in the crowd (it closes those beyond the cap), within reason.
        deadline = time.monotonic() + 5
        while crowd.closed() < SLOW_CLIENTS - cap - 50 and time.monotonic() < deadline:
            time.sleep(0.1)

        health = within_a_second("GET /healthz", lambda: httpx.get(url + "/healthz", timeout=1))
        assert health.status_code == 200
        body, sig = signed_event(secret[1])
        event = within_a_second(
            "a signed event",
            lambda: httpx.post(f"{url}/webhooks/jobroutr", content=body, headers=sig, timeout=1),
        )
        assert event.status_code == 202, event.text
        status = within_a_second(
            "`appliance status`",
            lambda: CliRunner().invoke(main, ["status", "--json"], env=env),
        )
        assert status.exit_code == 0, status.output
        assert json.loads(status.output)["store"]["schema_current"] is True
        held = SLOW_CLIENTS - crowd.closed()
        assert held >= cap // 2, f"only {held} slow clients were still held during the checks"

        # Every slow client is let go: by the read deadline, or earlier to make room.
        wait_until(
            lambda: crowd.closed() == SLOW_CLIENTS,
            timeout=READ_TIMEOUT + 60,
            what="the service to close every slow client",
        )
        outcomes: dict[str, int] = {}
        for client in crowd.clients:
            outcomes[client.outcome] = outcomes.get(client.outcome, 0) + 1
        assert set(outcomes) <= {"HTTP/1.1 408 Request Timeout", "closed"}, outcomes
        assert outcomes.get("HTTP/1.1 408 Request Timeout", 0) >= SLOW_CLIENTS // 2, outcomes
        last = max(client.closed_at or 0 for client in crowd.clients) - started
        assert last < READ_TIMEOUT + 45, f"the last slow client was closed after {last:.1f} s"
        print(f"\n{SLOW_CLIENTS} slow clients: {outcomes}; the last closed after {last:.1f} s")

        # systemd's default soft limit was raised to the hard one at start, and logged; when the
        # hard limit is as low, the cap was lowered to keep 256 descriptors for the rest.
        soft, hard = open_files_limit(service.pid)
        assert soft == hard, (soft, hard)
        logged = [
            json.loads(line) for line in read_output(out).splitlines() if line.startswith("{")
        ]
        events = {line["event"]: line for line in logged}
        assert events["service.descriptors"]["soft_limit"] == hard, events["service.descriptors"]
        if hard_too:
            assert "raised_from" not in events["service.descriptors"]
            assert events["http.max_connections_lowered"]["max_connections"] == cap
        else:
            assert events["service.descriptors"]["raised_from"] == SYSTEMD_SOFT_LIMIT
            assert "http.max_connections_lowered" not in events
        assert events["service.started"]["max_connections"] == cap
        # In the log: a line for each request that reached the application (a body that never
        # came is a 408, not the 500 of a client gone), the slow clients in two lines, no error.
        finished = Counter(
            line["status"] for line in logged if line["event"] == "http.request_finished"
        )
        assert set(finished) <= {200, 202, 408}, finished
        closed = [line for line in logged if line["event"] == "http.slow_client_closed"]
        assert {line["reason"] for line in closed} <= {"room_needed", "read_timeout"}, closed
        assert len(closed) <= 2, closed
        assert not [line for line in logged if line["level"] in ("error", "critical")]
        assert not read_output(err).strip()
    finally:
        crowd.stop()
        if service.poll() is None:
            service.send_signal(signal.SIGTERM)
            try:
                service.wait(timeout=30)
            except subprocess.TimeoutExpired:
                service.kill()
                service.wait()
        out.close()
        err.close()
