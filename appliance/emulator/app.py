"""The emulator as an HTTP service: Intuit's OAuth endpoints, the v3 API and a control API.

    /.well-known/..., /connect/oauth2, /oauth2/..., /v1/openid_connect/...
                                           OAuth 2.0 and OpenID (oauth_routes.py)
    /v3/company/{realm}/...                the accounting API (gateway.py admits, api.py answers)
    /_emulator/...                         control: limits, faults, clock, tokens, records, stats
                                           (control.py)

``create_emulator_app`` builds the one ASGI app of all three around an ``EmulatorService``
(service.py: what the process holds, and its state file); ``run`` serves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterator

import uvicorn
from litestar import Litestar
from litestar.datastructures import State

from appliance.emulator import control, oauth_routes
from appliance.emulator.gateway import ASGIApp, api_gateway
from appliance.emulator.service import DEFAULT_REDIRECT_URIS, EmulatorConfig, EmulatorService

__all__ = [  # what the CLI and the tests import from here
    "DEFAULT_REDIRECT_URIS",
    "EmulatorConfig",
    "EmulatorService",
    "create_emulator_app",
    "run",
]


def create_emulator_app(config: EmulatorConfig | None = None) -> ASGIApp:
    """The emulator as one ASGI app; its state is reachable as ``app.service`` for tests."""
    service = EmulatorService(config or EmulatorConfig())

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(service.notifier.run())]
        if service.config.state_file:
            tasks.append(asyncio.create_task(service.saver()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            service.save()

    inner = Litestar(
        route_handlers=[*oauth_routes.ROUTES, *control.ROUTES],
        state=State({"service": service}),
        lifespan=[lifespan],
        openapi_config=None,
        logging_config=None,
        request_max_body_size=10 * 1024 * 1024,
    )
    app = api_gateway(service, inner)  # type: ignore[arg-type]  # Litestar's stricter ASGI types
    app.service = service  # type: ignore[attr-defined]
    return app


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Signals are handled in run(): SIGTERM ends the emulator cleanly, with exit status 0.
        yield


def run(app: ASGIApp, host: str, port: int) -> None:
    """Serve the emulator until SIGTERM or SIGINT (``appliance emulator``)."""
    server = _Server(
        uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="on")
    )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
        await server.serve()

    asyncio.run(main())
