"""What the running service holds besides the store: the QBO client, tokens and the connector.

One per process, shared by the public and the admin app, created at start and closed at stop.
Handlers tell it what changed (``connected``, ``accounts_chosen``, ``events_requeued``, ...) and it
wakes what waits on that, so the rules of who to wake live here, once, not in every handler.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from appliance.config import Settings
from appliance.core.activity import Activity
from appliance.core.admin import ReadinessCheck
from appliance.gateway.metrics import metric_values
from appliance.logging import get_logger, register_secret
from appliance.qbo.client import QboClient, RetryPolicy
from appliance.qbo.limiter import GRANT_SECONDS, Limiters, RateLimits
from appliance.qbo.oauth import OAuthClient, endpoints
from appliance.qbo.tokens import TokenManager
from appliance.storage.connections import StoreTokens
from appliance.storage.limits import Limits, StoreGrants
from appliance.storage.store import Store
from appliance.sync import readiness
from appliance.sync.books import BooksReader
from appliance.sync.connection import Connector
from appliance.sync.feed import ChangeFeed
from appliance.sync.figures import LiveFigures
from appliance.sync.imports import Importer
from appliance.sync.intake import Intake
from appliance.sync.presence import Presence
from appliance.sync.push import PushConfig, Pusher

log = get_logger(__name__)


def limiters(settings: Settings, store: Store, instance: str) -> Limiters:
    """Intuit's limits kept in this process on SQLite (one instance), shared with the other
    instances through the store on PostgreSQL (storage/limits.py says why grants)."""
    rates = RateLimits(
        concurrent=settings.qbo_concurrent,
        per_minute=settings.qbo_requests_per_minute,
        batch_per_minute=settings.qbo_batch_per_minute,
    )
    if store.engine.dialect.name != "postgresql":
        return Limiters(rates)
    shares = Limits(rates.concurrent, rates.per_minute, rates.batch_per_minute)
    hold = GRANT_SECONDS + settings.qbo_timeout_seconds + 5
    return Limiters(rates, StoreGrants(store.engine, instance, shares, hold))


class Runtime:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.instance = settings.instance()  # the same name for this process's whole life
        self.activity = Activity()
        self._tasks: list[asyncio.Task[None]] = []
        self._certificate = readiness.CertificateCache()
        secret = settings.qbo_client_secret()
        register_secret(secret)
        self.endpoints = endpoints(settings.qbo_environment, settings.qbo_emulator_url)
        self.oauth = OAuthClient(
            self.endpoints, settings.qbo_client_id, secret, settings.oauth_redirect_uri
        )
        self.tokens = TokenManager(StoreTokens(store.engine, store.vault), self.oauth)
        self.qbo = QboClient(
            self.endpoints.api_base,
            self.tokens,
            limiters=limiters(settings, store, self.instance),
            policy=RetryPolicy(
                server_initial=settings.qbo_retry_initial_seconds,
                throttle_initial=settings.qbo_throttle_initial_seconds,
            ),
            timeout=settings.qbo_timeout_seconds,
            activity=self.activity,
        )
        self.books = BooksReader(store, self.qbo)
        self.connector = Connector(
            store,
            self.oauth,
            self.qbo,
            self.tokens,
            environment=settings.qbo_environment,
            books=self.books,
        )
        self.feed = ChangeFeed(store, self.qbo, interval=settings.feed_interval_seconds)
        shared = store.engine.dialect.name == "postgresql"  # several instances may serve it
        self.importer = Importer(
            store,
            self.qbo,
            books=self.books,
            finished=self.feed.nudge,
            owner=self.instance if shared else None,
            lease_seconds=settings.push_lease_seconds,
        )
        self.pusher = Pusher(store, self.qbo, PushConfig.from_settings(settings), self.activity)
        self.intake = Intake(store)
        self.figures = LiveFigures(store, self.qbo)  # the pull API's live read of an invoice
        # In the store's instance registry (a rotation elsewhere asks it which keys we hold).
        self.presence = (
            Presence(store, self.instance, settings.push_lease_seconds) if shared else None
        )

    async def connected(self) -> None:
        """A company was connected: events from now on belong to it, and the events waiting for a
        connection go on now."""
        self.intake.forget()
        await self.pusher.nudge("connection")

    def disconnected(self) -> None:
        """The company was disconnected: events from now on belong to no company (yet)."""
        self.intake.forget()

    async def accounts_chosen(self) -> None:
        """The default accounts were chosen: products waiting for them go on now."""
        await self.pusher.nudge("settings:accounts")

    async def events_requeued(self) -> None:
        """Failed or waiting events were queued again: the workers take them up now."""
        await self.pusher.nudge()

    def work_queued(self) -> None:
        """A job may be ready (an event arrived, or one was skipped and later events of the same
        records may go on): an idle worker looks now."""
        self.pusher.wake()

    def readiness(self) -> list[ReadinessCheck]:
        """Clock, disk, store, certificate and QuickBooks authorization (sync/readiness.py).
        Blocking (the store's quick check runs again when the last is a minute old)."""
        now = datetime.now(UTC)
        sqlite = self.store.engine.dialect.name == "sqlite"
        if sqlite and self.store.health.stale():
            self.check_store()
        store = readiness.store_check(self.store.health, sqlite)
        return [
            readiness.clock_check(self.qbo.clock_skew, self.qbo.clock_measured_at),
            readiness.disk_check(self.settings.state_dir),
            store,
            self._certificate.get(self.settings.public_url, now),
            readiness.token_check(self.store.connection_info(), now),
        ]

    async def start(self) -> None:
        """Background work that must survive restarts: imports a crash interrupted resume, and
        the push workers take up the queue (jobs of a dead process come back when their leases
        run out). Not on a store whose schema is behind, nor on a damaged one (SQLite's quick
        check runs first, in a thread): /readyz says so, nothing may touch it."""
        await asyncio.to_thread(self.check_store)
        if self.settings.integrity_check_seconds > 0 and self.store.engine.dialect.name == "sqlite":
            self._tasks.append(asyncio.create_task(self._check_store(), name="store-check"))
        ready, _ = self.store.ready()
        if ready and self.presence is not None:
            await asyncio.to_thread(self.presence.safe_beat, force=True)
            self._tasks.append(asyncio.create_task(self.presence.run(), name="presence"))
        if ready:
            self.importer.resume_orphans()
            self.importer.watch()
            self.pusher.start()
            self.feed.start()
            if self.settings.metrics_log_seconds > 0:
                self._tasks.append(asyncio.create_task(self._log_metrics(), name="metrics-log"))

    def check_store(self) -> None:
        """SQLite's quick check of the store (blocking; damage is logged once, by the store)."""
        try:
            self.store.check_integrity()
        except Exception as exc:
            log.warning("store.check_failed", error=type(exc).__name__, detail=str(exc)[:200])

    async def _check_store(self) -> None:
        while True:
            await asyncio.sleep(self.settings.integrity_check_seconds)
            await asyncio.to_thread(self.check_store)

    async def _log_metrics(self) -> None:
        """The /metrics numbers as one log line now and then, under the same names."""
        while True:
            await asyncio.sleep(self.settings.metrics_log_seconds)
            try:
                values = await asyncio.to_thread(metric_values, self.store, self)
            except Exception:
                log.exception("metrics.failed")
                continue
            log.info("metrics", **values)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.presence is not None:
            await asyncio.to_thread(self.presence.forget)
        await self.intake.aclose()
        await self.feed.aclose()
        await self.pusher.aclose()
        await self.importer.aclose()
        await self.figures.aclose()
        await self.qbo.aclose()
        await self.oauth.aclose()
