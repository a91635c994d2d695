"""Litestar app factories: ``create_app`` (public listener) and ``create_admin_app`` (Unix socket).

The two are separate apps on separate listeners, so no admin route exists on the TCP port at all.
Both share one :class:`~appliance.storage.store.Store` and one
:class:`~appliance.gateway.runtime.Runtime`, given as the dependencies ``store`` and ``runtime``;
when none is given the app opens (and migrates) its own store, starts its own runtime, and closes
both on shutdown (that is how tests and ``litestar run`` use it). The handlers live by area: the
admin API's controllers in :mod:`appliance.gateway.admin`, the pull API in ``pull``, the webhook
in ``intake``, health and metrics in ``health``, the OAuth callback in ``oauth``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ControllerRouterHandler

from appliance import __version__
from appliance.config import Settings
from appliance.gateway.admin import CONTROLLERS
from appliance.gateway.health import healthz, prometheus_metrics, readyz
from appliance.gateway.intake import jobroutr_webhook
from appliance.gateway.oauth import oauth_callback
from appliance.gateway.problems import EXCEPTION_HANDLERS
from appliance.gateway.pull import API_KEY, PULL_SCHEMAS, PullController
from appliance.gateway.runtime import Runtime
from appliance.storage.store import Store

#: What the admin app serves (it publishes no OpenAPI document; a test documents these).
ADMIN_HANDLERS: list[ControllerRouterHandler] = [healthz, *CONTROLLERS]


def create_app(
    settings: Settings, store: Store | None = None, runtime: Runtime | None = None
) -> Litestar:
    """The public listener: health and readiness, the OAuth callback, JobRoutr's webhook, the pull
    API, the Prometheus metrics (when enabled) and the OpenAPI document of them all."""
    handlers: list[ControllerRouterHandler] = [
        healthz,
        readyz,
        oauth_callback,
        jobroutr_webhook,
        PullController,
    ]
    if settings.metrics_enabled:
        handlers.append(prometheus_metrics)
    return _build(settings, store, runtime, handlers, openapi=True)


def create_admin_app(
    settings: Settings, store: Store | None = None, runtime: Runtime | None = None
) -> Litestar:
    """The admin API, served only on the Unix socket: the console's and the CLI's way in. It
    publishes no OpenAPI document."""
    return _build(settings, store, runtime, ADMIN_HANDLERS, openapi=False)


def _build(
    settings: Settings,
    store: Store | None,
    runtime: Runtime | None,
    handlers: list[ControllerRouterHandler],
    openapi: bool,
) -> Litestar:
    return Litestar(
        route_handlers=handlers,
        dependencies={
            "store": Provide(_provide_store, sync_to_thread=False),
            "runtime": Provide(_provide_runtime, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[_lifespan(settings, store, runtime)],
        state=State({"started_at": datetime.now(UTC), "settings": settings}),
        request_max_body_size=settings.max_body_bytes,
        openapi_config=_openapi() if openapi else None,
        plugins=PULL_SCHEMAS if openapi else [],
        logging_config=None,
        debug=False,
    )


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="JobRoutr QuickBooks Gateway",
        version=__version__,
        path="/schema",
        # The document only, at /schema and /schema/openapi.json: Litestar's browsable pages
        # load their script from a CDN at @latest, code no one pinned or reviewed running
        # beside the API key. Any OpenAPI viewer can open the document instead.
        render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"])],
        components=Components(
            security_schemes={
                API_KEY: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="The API key `appliance init` showed (jra_...).",
                )
            }
        ),
    )


def _lifespan(settings: Settings, store: Store | None, runtime: Runtime | None) -> Any:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        owned = store is None
        app.state.store = store or Store.open(settings)
        if owned:
            app.state.store.migrate()
        own_runtime = runtime is None
        app.state.runtime = runtime or Runtime(settings, app.state.store)
        if own_runtime:
            await app.state.runtime.start()
        try:
            yield
        finally:
            if own_runtime:
                await app.state.runtime.aclose()
            if owned:
                app.state.store.close()

    return lifespan


def _provide_store(state: State) -> Store:
    store: Store = state.store
    return store


def _provide_runtime(state: State) -> Runtime:
    runtime: Runtime = state.runtime
    return runtime
