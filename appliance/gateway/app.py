"""Litestar app factories: ``create_app`` (public listener) and ``create_admin_app`` (Unix socket).

The two are separate apps on separate listeners, so no admin route exists on the TCP port at all.
Both share one :class:`~appliance.storage.store.Store`; when none is given the app opens its own and
closes it on shutdown (that is how tests and ``litestar run`` use it).
"""

from __future__ import annotations

import asyncio
import pwd
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from litestar import Litestar, MediaType, Request, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException, NotFoundException
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Response, Stream
from prometheus_client import CONTENT_TYPE_LATEST

from appliance import __version__
from appliance.config import Settings
from appliance.core.accounts import ACCOUNT_KINDS
from appliance.core.admin import (
    EVENT_STATUSES,
    EVENTS_MAX_LIMIT,
    AccountInfo,
    ConnectFinishRequest,
    ConnectionInfo,
    ConnectStartReport,
    ConnectStartRequest,
    DisconnectReport,
    EventActionReport,
    EventActionRequest,
    EventInfo,
    EventList,
    ImportReport,
    KeyRotationReport,
    OnboardingInfo,
    SettingsChange,
    SettingsInfo,
    StatusReport,
)
from appliance.errors import ApplianceError
from appliance.gateway import metrics
from appliance.gateway.intake import jobroutr_webhook
from appliance.gateway.pages import callback_page
from appliance.gateway.peer import peer_of
from appliance.gateway.problems import EXCEPTION_HANDLERS, problem, problems
from appliance.gateway.pull import API_KEY, PULL_SCHEMAS, PullController, require_api_key
from appliance.gateway.runtime import Runtime
from appliance.logging import get_logger
from appliance.qbo.oauth import Callback
from appliance.storage import audit, backup
from appliance.storage.store import Store
from appliance.sync import events, setup
from appliance.sync.imports import KINDS as IMPORT_KINDS
from appliance.sync.imports import report as import_report

log = get_logger(__name__)


@get("/healthz", tags=["health"], summary="Liveness: the process answers", sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get(
    "/readyz",
    tags=["health"],
    summary="Readiness: the store is reachable, current, intact and takes writes",
    sync_to_thread=True,
    responses=problems(503),
)
def readyz(store: NamedDependency[Store]) -> Response[dict[str, Any]]:
    ok, reason = store.ready()
    if not ok:
        return problem(503, "Not ready", reason)
    return Response({"status": "ready"})


@get(
    "/metrics",
    tags=["health"],
    summary="Prometheus metrics (text format), with the API key",
    guards=[require_api_key],
    security=[{API_KEY: []}],
    sync_to_thread=True,
    media_type=CONTENT_TYPE_LATEST,
    responses=problems(401),
)
def prometheus_metrics(store: NamedDependency[Store], runtime: NamedDependency[Runtime]) -> bytes:
    """Served only when APPLIANCE_METRICS_ENABLED (the default); otherwise there is no route."""
    return metrics.exposition(store, runtime)


@get(
    "/v1/status", tags=["admin"], summary="Everything `appliance status` shows", sync_to_thread=True
)
def admin_status(
    store: NamedDependency[Store], runtime: NamedDependency[Runtime], state: State
) -> StatusReport:
    keys, has_secret = store.credential_info()
    return StatusReport(
        version=__version__,
        started_at=state.started_at,
        qbo_environment=store.settings.qbo_environment,
        public_url=store.settings.public_url,
        store=store.store_info(),
        connection=store.connection_info(),
        queue=store.queue_info(),
        api_keys=keys,
        webhook_secret_set=has_secret,
        activity=runtime.activity.info(),
        checks=runtime.readiness(),
    )


@post(
    "/v1/keys/rotate",
    tags=["admin"],
    summary="Re-seal every secret under a new data key",
    sync_to_thread=True,
    status_code=200,
    responses=problems(409),
)
def admin_rotate_key(
    store: NamedDependency[Store], request: Request[Any, Any, Any]
) -> KeyRotationReport:
    result = store.rotate_key(actor=_operator(request))
    return KeyRotationReport(
        old_key_versions=list(result.old_versions),
        new_key_version=result.new_version,
        resealed=result.resealed,
        resumed=result.resumed,
    )


@get(
    "/oauth/callback",
    tags=["oauth"],
    summary="Where Intuit sends the browser after the operator approves (or cancels)",
    include_in_schema=True,
    media_type=MediaType.HTML,
    responses={
        400: ResponseSpec(
            data_container=str,
            media_type=MediaType.HTML,
            description="Not connected: the page says why and what to do",
        )
    },
)
async def oauth_callback(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[str]:
    params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
    callback = Callback.from_params(params)
    try:
        info = await runtime.connector.finish(callback, actor="browser")
    except ApplianceError as exc:
        return callback_page(ok=False, message=exc.message, hint=exc.hint)
    runtime.intake.forget()  # events from now on belong to this company
    await runtime.pusher.nudge("connection")  # events waiting for a connection go on now
    return callback_page(
        ok=True,
        message="Your QuickBooks Online account is connected.",
        hint=f"Company: {info.company_name or info.realm_id} ({info.environment}). "
        "You can close this window.",
    )


@post(
    "/v1/connect/start",
    tags=["admin"],
    summary="Start connecting to QuickBooks",
    status_code=200,
    responses=problems(400, 409),
)
async def admin_connect_start(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    data: JSONBody[ConnectStartRequest],
) -> ConnectStartReport:
    return runtime.connector.start(
        actor=_operator(request), allow_other_company=data.allow_other_company
    )


@post(
    "/v1/connect/finish",
    tags=["admin"],
    summary="Finish connecting with the URL the browser was redirected to",
    status_code=200,
    responses=problems(400, 409),
)
async def admin_connect_finish(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    data: JSONBody[ConnectFinishRequest],
) -> ConnectionInfo:
    info = await runtime.connector.finish(
        Callback.from_url(data.redirect_url), actor=_operator(request)
    )
    runtime.intake.forget()  # events from now on belong to this company
    await runtime.pusher.nudge("connection")  # events waiting for a connection go on now
    return info


@post(
    "/v1/disconnect",
    tags=["admin"],
    summary="Disconnect from QuickBooks",
    status_code=200,
    responses=problems(409),
)
async def admin_disconnect(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> DisconnectReport:
    report = await runtime.connector.disconnect(actor=_operator(request))
    runtime.intake.forget()
    return report


@post(
    "/v1/imports/{kind:str}",
    tags=["admin"],
    summary="Start an import",
    status_code=202,
    responses=problems(400, 404, 409),
)
async def admin_import_start(
    runtime: NamedDependency[Runtime], kind: FromPath[str]
) -> ImportReport:
    run = runtime.importer.start(_import_kind(kind))
    return import_report(runtime.store, run)


@get(
    "/v1/imports/{kind:str}",
    tags=["admin"],
    summary="The latest import: progress or summary",
    responses=problems(400, 404, 409),
)
async def admin_import_latest(
    runtime: NamedDependency[Runtime], kind: FromPath[str]
) -> ImportReport:
    run = runtime.importer.latest(_import_kind(kind))
    return import_report(runtime.store, run, with_skips=run.state != "running")


@post(
    "/v1/imports/{kind:str}/cancel",
    tags=["admin"],
    summary="Ask the running import to stop",
    status_code=200,
    responses=problems(400, 404, 409),
)
async def admin_import_cancel(
    runtime: NamedDependency[Runtime], kind: FromPath[str]
) -> ImportReport:
    return import_report(runtime.store, runtime.importer.cancel(_import_kind(kind)))


def _import_kind(kind: str) -> str:
    """An unknown kind names no resource: 404, as for a kind that has not run yet."""
    if kind not in IMPORT_KINDS:
        raise NotFoundException(
            detail=f"There is no import of {kind!r}.",
            extra={"hint": f"Choose one of {', '.join(IMPORT_KINDS)}."},
        )
    return kind


@get(
    "/v1/backup",
    tags=["admin"],
    summary="A consistent copy of the store, taken now (a SQLite file)",
    sync_to_thread=True,
    media_type="application/vnd.sqlite3",
    responses=problems(409),
)
def admin_backup(store: NamedDependency[Store], request: Request[Any, Any, Any]) -> Stream:
    settings = store.settings
    copy = backup.copy_path(settings.state_dir)
    taken = backup.take(settings.database_url, copy)
    log.info(
        "store.backup_taken",
        actor=_operator(request),
        bytes=taken.size,
        events=taken.events,
        schema=taken.schema_revision,
    )

    def chunks() -> Iterator[bytes]:
        try:
            with copy.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    yield chunk
        finally:
            copy.unlink(missing_ok=True)

    return Stream(
        chunks(),
        media_type="application/vnd.sqlite3",
        headers={
            "Content-Length": str(taken.size),
            "X-Appliance-Schema": taken.schema_revision or "",
            "X-Appliance-Events": str(taken.events),
        },
    )


@get(
    "/v1/accounts",
    tags=["admin"],
    summary="Accounts fit to be a default income/expense account",
    responses=problems(400, 409),
)
async def admin_accounts(store: NamedDependency[Store], kind: FromQuery[str]) -> list[AccountInfo]:
    if kind not in ACCOUNT_KINDS:  # a malformed request, as on the pull API: not a conflict
        raise HTTPException(
            status_code=400,
            detail=f"kind must be {' or '.join(ACCOUNT_KINDS)} (not {kind!r}).",
            extra={"hint": "`appliance accounts --kind income` or `--kind expense`."},
        )
    return setup.accounts(store, kind)


@get(
    "/v1/settings",
    tags=["admin"],
    summary="The company's default accounts",
    responses=problems(409),
)
async def admin_settings(store: NamedDependency[Store]) -> SettingsInfo:
    return setup.settings(store)


@put(
    "/v1/settings",
    tags=["admin"],
    summary="Choose the default accounts (saved at once)",
    responses=problems(400, 409),
)
async def admin_settings_set(
    request: Request[Any, Any, Any],
    store: NamedDependency[Store],
    runtime: NamedDependency[Runtime],
    data: JSONBody[SettingsChange],
) -> SettingsInfo:
    chosen = setup.set_default_accounts(
        store,
        income=data.income_account_id,
        expense=data.expense_account_id,
        actor=_operator(request),
    )
    await runtime.pusher.nudge("settings:accounts")  # products waiting for them go on now
    return chosen


@get(
    "/v1/onboarding",
    tags=["admin"],
    summary="The setup tasks and which are done",
    responses=problems(409),
)
async def admin_onboarding(store: NamedDependency[Store]) -> OnboardingInfo:
    return setup.onboarding(store)


@post(
    "/v1/onboarding/complete",
    tags=["admin"],
    summary="Mark Complete",
    status_code=200,
    responses=problems(409),
)
async def admin_onboarding_complete(
    request: Request[Any, Any, Any], store: NamedDependency[Store]
) -> OnboardingInfo:
    return setup.complete(store, actor=_operator(request))


@get(
    "/v1/events",
    tags=["admin"],
    summary="Events received from JobRoutr, newest first, and how many are in each status",
    sync_to_thread=True,
    responses=problems(400),
)
def admin_events(
    store: NamedDependency[Store],
    status: FromQuery[str | None] = None,
    limit: FromQuery[int] = 50,
    before: FromQuery[str | None] = None,
) -> EventList:
    if status is not None and status not in EVENT_STATUSES:
        raise HTTPException(
            status_code=400,
            detail=f"status must be one of {', '.join(EVENT_STATUSES)} (not {status!r}).",
            extra={"hint": "Leave it out to list events in every status."},
        )
    if not 1 <= limit <= EVENTS_MAX_LIMIT:
        raise HTTPException(
            status_code=400,
            detail=f"limit must be between 1 and {EVENTS_MAX_LIMIT} (not {limit}).",
            extra={"hint": "Page through more with `before`, the `next_before` of a page."},
        )
    return events.listing(store, status=status, limit=limit, before=before or None)


@get(
    "/v1/events/{event_id:str}",
    tags=["admin"],
    summary="One event: its status, attempts, QuickBooks id and error",
    sync_to_thread=True,
    responses=problems(400, 404),
)
def admin_event(store: NamedDependency[Store], event_id: FromPath[str]) -> EventInfo:
    found = events.show(store, event_id)
    if found is None:
        raise NotFoundException(
            detail=f"No event {event_id!r} was received.",
            extra={"hint": "`appliance events` lists the events received, with their ids."},
        )
    return found


def _event_ids(data: EventActionRequest, action: str) -> list[str] | None:
    """The events named, or None for every failed one; exactly one of the two must be asked."""
    ids = [i for i in data.event_ids if i]
    if bool(ids) == data.all_failed:
        raise HTTPException(
            status_code=400,
            detail=f"Say which events to {action}: either event_ids (not empty) or "
            "all_failed true, not both.",
            extra={
                "hint": f"`appliance events {action} ID...` or "
                f"`appliance events {action} --all-failed`."
            },
        )
    return None if data.all_failed else ids


@post(
    "/v1/events/retry",
    tags=["admin"],
    summary="Queue failed (or waiting) events again",
    status_code=200,
    responses=problems(400, 409),
)
async def admin_events_retry(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    data: JSONBody[EventActionRequest],
) -> EventActionReport:
    ids = _event_ids(data, "retry")
    report = await asyncio.to_thread(events.retry, runtime.store, ids, actor=_operator(request))
    await runtime.pusher.nudge()  # the workers take them up now
    return report


@post(
    "/v1/events/skip",
    tags=["admin"],
    summary="Give up on failed (or waiting) events: never written to QuickBooks",
    status_code=200,
    responses=problems(400, 409),
)
async def admin_events_skip(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    data: JSONBody[EventActionRequest],
) -> EventActionReport:
    ids = _event_ids(data, "skip")
    report = await asyncio.to_thread(events.skip, runtime.store, ids, actor=_operator(request))
    if report.count:
        runtime.pusher.wake()  # later events of the same records may go on now
    return report


def _operator(request: Request[Any, Any, Any]) -> str:
    """Who asked, for the audit log: the peer's uid from the socket, the header only claimed."""
    peer = peer_of(request.scope)
    uid = peer["uid"] if peer else None
    return audit.operator(uid, _user_name(uid), request.headers.get("x-appliance-operator", ""))


def _user_name(uid: int | None) -> str | None:
    if uid is None:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


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


def _build(
    settings: Settings,
    store: Store | None,
    runtime: Runtime | None,
    handlers: list[Any],
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
        openapi_config=OpenAPIConfig(
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
        if openapi
        else None,
        plugins=PULL_SCHEMAS if openapi else [],
        logging_config=None,
        debug=False,
    )


def create_app(
    settings: Settings, store: Store | None = None, runtime: Runtime | None = None
) -> Litestar:
    """The public listener: health, readiness, the OAuth callback and the OpenAPI schema."""
    handlers = [healthz, readyz, oauth_callback, jobroutr_webhook, PullController]
    if settings.metrics_enabled:
        handlers.append(prometheus_metrics)
    return _build(settings, store, runtime, handlers, openapi=True)


def create_admin_app(
    settings: Settings, store: Store | None = None, runtime: Runtime | None = None
) -> Litestar:
    """The admin API, served only on the Unix socket: the console's and the CLI's way in."""
    handlers = [
        healthz,
        admin_status,
        admin_rotate_key,
        admin_backup,
        admin_connect_start,
        admin_connect_finish,
        admin_disconnect,
        admin_import_start,
        admin_import_latest,
        admin_import_cancel,
        admin_accounts,
        admin_settings,
        admin_settings_set,
        admin_onboarding,
        admin_onboarding_complete,
        admin_events,
        admin_event,
        admin_events_retry,
        admin_events_skip,
    ]
    return _build(settings, store, runtime, handlers, openapi=False)
