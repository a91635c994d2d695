"""Running the gateway: both apps in one process, on sockets we bind ourselves, stopped on SIGTERM.

We bind the sockets rather than let uvicorn do it because uvicorn makes a Unix socket 0666; ours is
0660 (owner and the operators' group), and a port or socket already in use is one clear sentence.
Signals are ours too: SIGTERM or SIGINT asks both servers to finish their requests and exit.

Descriptors are budgeted at start: the soft limit on open files is raised to the hard one (systemd
gives a unit 1,024 unless told otherwise), and the public listener's connections are capped below
it (appliance.gateway.connections), so slow clients cannot take the store's files or the admin
socket's. Every server speaks HTTP/1.1 through h11, named rather than left to uvicorn's "auto",
which would switch to httptools if it happened to be installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import os
import resource
import signal
import socket
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import uvicorn

from appliance.config import Settings
from appliance.errors import ApplianceError
from appliance.gateway.app import create_admin_app, create_app
from appliance.gateway.connections import Guard, accept_backlog, connection_cap
from appliance.gateway.middleware import request_context
from appliance.gateway.peer import PeerCredentialsProtocol
from appliance.gateway.runtime import Runtime
from appliance.logging import RepeatedEvents, get_logger, loop_exception_handler
from appliance.storage.store import Store

log = get_logger(__name__)
GRACEFUL_SECONDS = 10
#: Repeated events (accept errors, slow clients let go) are summed up this often.
REPEATS_SECONDS = 60.0
#: Linux's default ceiling (fs.nr_open) when the hard limit says "unlimited".
NR_OPEN_DEFAULT = 1 << 20


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # serve() installs the handlers once for both servers; see run().
        yield


def bind_tcp(host: str, port: int, setting: str = "APPLIANCE_HTTP_PORT") -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say
    # so, and with Nagle on every keep-alive answer waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ApplianceError(
            f"Cannot listen on {host}:{port} ({exc.strerror}).",
            hint=f"Another program may use that port: choose another with {setting}.",
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def ensure_not_running(path: Path) -> None:
    """Refuse to start a second service on the same admin socket (say so before binding ports)."""
    if path.exists() or path.is_symlink():
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink()  # left by a process that died: nobody is listening on it
        else:
            raise ApplianceError(
                f"Another appliance service is already running (it answers on {path}).",
                hint="Stop it first, or give this one another APPLIANCE_ADMIN_SOCKET.",
            )
        finally:
            probe.close()


def bind_unix(path: Path, group: str | None) -> socket.socket:
    ensure_not_running(path)
    path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o117)  # created 0660 from the start: no window where others can connect
    try:
        sock.bind(str(path))
    except OSError as exc:
        sock.close()
        raise ApplianceError(f"Cannot create the admin socket {path} ({exc.strerror}).") from None
    finally:
        os.umask(old)
    os.chmod(path, 0o660)
    if group:
        try:
            gid = grp.getgrnam(group).gr_gid
            if os.stat(path).st_gid != gid:  # under the unit's Group= it is already
                os.chown(path, -1, gid)
        except (KeyError, OSError) as exc:
            sock.close()
            path.unlink(missing_ok=True)
            raise ApplianceError(
                f"Cannot give the admin socket to group {group!r} ({exc}).",
                hint="Create the group, or check APPLIANCE_ADMIN_GROUP.",
            ) from None
    sock.listen(32)
    return sock


def raise_open_files_limit() -> int:
    """Raise the soft limit on open files to the hard one, and say so; return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = NR_OPEN_DEFAULT if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError) as exc:
            # Under the unit's system call filter setrlimit is refused: LimitNOFILE= is the way.
            log.warning(
                "service.descriptors_not_raised",
                soft_limit=soft,
                hard_limit=hard,
                error=str(exc),
                hint="Set LimitNOFILE= in the service's unit (or ulimit -n) to raise it.",
            )
            return soft
        log.info("service.descriptors", soft_limit=target, hard_limit=hard, raised_from=soft)
        return target
    log.info("service.descriptors", soft_limit=soft, hard_limit=hard)
    return NR_OPEN_DEFAULT if soft == resource.RLIM_INFINITY else soft


def public_guard(settings: Settings, open_files: int, repeats: RepeatedEvents) -> Guard:
    cap = connection_cap(settings.http_max_connections, open_files)
    if cap < settings.http_max_connections:
        log.warning(
            "http.max_connections_lowered",
            max_connections=cap,
            setting=settings.http_max_connections,
            open_files_limit=open_files,
            hint="Raise the open files limit (LimitNOFILE= in the unit) to allow the setting.",
        )
    return Guard(
        read_timeout=settings.http_read_timeout_seconds,
        max_connections=cap,
        repeats=repeats,
        backlog=accept_backlog(open_files, cap),
    )


async def _sum_up_repeats(*repeats: RepeatedEvents) -> None:
    while True:
        await asyncio.sleep(REPEATS_SECONDS)
        for each in repeats:
            each.flush(REPEATS_SECONDS)


def server_config(
    app: object, http: type[asyncio.Protocol] | str = "h11", backlog: int = 2048
) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        http=http,
        backlog=backlog,
        ws="none",  # no WebSocket routes anywhere
        log_config=None,
        access_log=False,
        server_header=False,
        date_header=True,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        proxy_headers=False,
    )


async def serve(
    settings: Settings, store: Store, extra: Sequence[tuple[Any, socket.socket]] = ()
) -> None:
    """Serve until SIGTERM/SIGINT. The store must already be migrated.

    ``extra`` are more ASGI apps with their bound sockets, run and stopped with the gateway (the
    bundled QBO emulator, when the appliance runs on its local defaults).
    """
    loop = asyncio.get_running_loop()
    loop_errors = RepeatedEvents(log)
    loop.set_exception_handler(loop_exception_handler(loop_errors))
    guard = public_guard(settings, raise_open_files_limit(), RepeatedEvents(log))
    tcp = bind_tcp(settings.http_host, settings.http_port)
    admin_path = settings.admin_socket_path
    uds = bind_unix(admin_path, settings.admin_group)
    runtime = Runtime(settings, store)
    await runtime.start()
    listeners = [
        *_gateway_servers(settings, store, runtime, guard, tcp=tcp, uds=uds),
        *((_Server(server_config(app)), sock) for app, sock in extra),
    ]
    stop = _stop_on_signals(loop, [server for server, _ in listeners])
    summing_up = asyncio.create_task(_sum_up_repeats(loop_errors, guard.repeats))
    log.info(
        "service.started",
        listen=f"http://{settings.http_host}:{settings.http_port}",
        max_connections=guard.max_connections,
        admin_socket=str(admin_path),
        public_url=settings.public_url,
        qbo_environment=settings.qbo_environment,
        pid=os.getpid(),
        **({"also_listening": [_address(sock) for _, sock in extra]} if extra else {}),
    )
    try:
        await _serve_until_one_ends(listeners, stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        for _, sock in listeners:
            sock.close()
        await runtime.aclose()
        admin_path.unlink(missing_ok=True)
        summing_up.cancel()
        loop_errors.flush()
        guard.repeats.flush()
        loop.set_exception_handler(None)
        log.info("service.stopped")


def _address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


def _gateway_servers(
    settings: Settings,
    store: Store,
    runtime: Runtime,
    guard: Guard,
    *,
    tcp: socket.socket,
    uds: socket.socket,
) -> list[tuple[_Server, socket.socket]]:
    """The public app on the TCP socket, behind the guard; the admin app on the Unix socket."""
    # The request context wraps the whole app, not a route: a 404 or 405 is logged and tagged too.
    public = _Server(
        server_config(
            request_context(create_app(settings, store, runtime)),
            http=guard.protocol(),
            backlog=guard.backlog,
        )
    )
    # The console polls the admin socket: its requests are logged at DEBUG, the public's at INFO.
    admin_app = request_context(create_admin_app(settings, store, runtime), level="debug")
    # The admin listener reads who is on the socket (SO_PEERCRED): the audit log's actor.
    admin = _Server(server_config(admin_app, http=PeerCredentialsProtocol))
    return [(public, tcp), (admin, uds)]


def _stop_on_signals(
    loop: asyncio.AbstractEventLoop, servers: Sequence[uvicorn.Server]
) -> Callable[[], None]:
    """SIGTERM and SIGINT ask every server to finish its requests and exit; returns that ask."""

    def stop() -> None:
        if not any(server.should_exit for server in servers):
            log.info("service.stopping")
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    return stop


async def _serve_until_one_ends(
    listeners: Sequence[tuple[uvicorn.Server, socket.socket]], stop: Callable[[], None]
) -> None:
    tasks = [asyncio.create_task(server.serve([sock])) for server, sock in listeners]
    # If any listener ends (or fails to start), the others are asked to stop too.
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    stop()
    await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        if (exc := task.exception()) is not None and not isinstance(exc, SystemExit):
            raise exc
