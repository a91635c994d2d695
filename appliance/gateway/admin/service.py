"""The service itself: its status, its data key, a backup of its store."""

from __future__ import annotations

from collections.abc import Iterator

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.response import Stream

from appliance import __version__
from appliance.core.admin import BooksInfo, InstanceInfo, KeyRotationReport, StatusReport
from appliance.gateway.admin.operator import OPERATOR
from appliance.gateway.problems import problems
from appliance.gateway.runtime import Runtime
from appliance.logging import get_logger
from appliance.storage import backup, changes, instances
from appliance.storage.store import Store
from appliance.storage.types import utcnow

log = get_logger(__name__)


class ServiceController(Controller):
    path = "/v1"
    tags = ["admin"]  # noqa: RUF012 - Litestar reads it from the class
    dependencies = OPERATOR

    @get("/status", summary="Everything `appliance status` shows", sync_to_thread=True)
    def admin_status(
        self, store: NamedDependency[Store], runtime: NamedDependency[Runtime], state: State
    ) -> StatusReport:
        keys, has_secret = store.credential_info()
        connection = store.connection_info()
        books = feed = None
        if connection is not None:
            feed = changes.feed_info(store.engine, connection.realm_id, utcnow())
            stored = runtime.books.stored(connection.realm_id)
            books = BooksInfo.of(stored) if stored is not None else None
            if warning := runtime.books.warning(connection.realm_id):
                connection.warnings.append(warning)
        return StatusReport(
            version=__version__,
            started_at=state.started_at,
            qbo_environment=store.settings.qbo_environment,
            public_url=store.settings.public_url,
            store=store.store_info(),
            connection=connection,
            queue=store.queue_info(),
            api_keys=keys,
            webhook_secret_set=has_secret,
            activity=runtime.activity.info(),
            checks=runtime.readiness(),
            books=books,
            feed=feed,
            instance=runtime.instance,
            instances=live_instances(store),
        )

    @post(
        "/keys/rotate",
        summary="Re-seal every secret under a new data key, once every live instance holds it",
        sync_to_thread=True,
        status_code=200,
        responses=problems(409, 423),
    )
    def admin_rotate_key(
        self, store: NamedDependency[Store], operator: NamedDependency[str]
    ) -> KeyRotationReport:
        result = store.rotate_key(actor=operator)
        return KeyRotationReport(
            old_key_versions=list(result.old_versions),
            new_key_version=result.new_version,
            resealed=result.resealed,
            resumed=result.resumed,
        )

    @get(
        "/backup",
        summary="A consistent copy of the store, taken now (a SQLite file)",
        sync_to_thread=True,
        media_type="application/vnd.sqlite3",
        responses=problems(409),
    )
    def admin_backup(self, store: NamedDependency[Store], operator: NamedDependency[str]) -> Stream:
        settings = store.settings
        copy = backup.copy_path(settings.state_dir)
        taken = backup.take(settings.database_url, copy)
        log.info(
            "store.backup_taken",
            actor=operator,
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


def live_instances(store: Store) -> list[InstanceInfo]:
    """The cluster's live instances (none listed on SQLite: one instance, no registry)."""
    return [
        InstanceInfo(
            name=live.name,
            started_at=live.started_at,
            last_seen=live.last_seen,
            key_versions=sorted(live.key_fingerprints),
        )
        for live in instances.live(store.engine, store.settings.push_lease_seconds)
    ]
