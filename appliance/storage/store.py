"""The store as the rest of the appliance sees it: open, initialise, migrate, check, report."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, func, select

from appliance.config import Settings
from appliance.core.admin import ConnectionInfo, QueueInfo, StoreInfo
from appliance.core.states import JobState
from appliance.errors import KeyringError, StoreError, VaultError
from appliance.logging import get_logger
from appliance.storage import audit, connections, credentials, health, instances, migrate
from appliance.storage.db import (
    create_store_engine,
    secure_state_dir,
    session_scope,
    sqlite_path,
    tighten_sqlite_files,
)
from appliance.storage.keyring import Keyring, save_keyring
from appliance.storage.models import Company, Job, Secret
from appliance.storage.types import utcnow
from appliance.storage.vault import (
    Cluster,
    RotationResult,
    Vault,
    key_problem,
    rotate_key,
    sealed_versions,
)

log = get_logger(__name__)


@dataclass(frozen=True)
class InitResult:
    key_created: bool
    api_key: str | None
    webhook_secret: str | None
    schema_before: str | None
    schema_after: str


class Store:
    """The database and the vault, opened together; one per process."""

    def __init__(self, settings: Settings, engine: Engine, vault: Vault) -> None:
        self.settings = settings
        self.engine = engine
        self.vault = vault
        path = sqlite_path(settings.database_url)
        self.health = health.StoreHealth(
            path.parent if path else settings.state_dir,
            str(path) if path else engine.url.render_as_string(hide_password=True),
        )

    @classmethod
    def open(cls, settings: Settings) -> Store:
        secure_state_dir(settings.state_dir)
        vault = Vault(settings.key_path)
        health.refuse_emptied(sqlite_path(settings.database_url))
        engine = create_store_engine(settings.database_url, settings.database_password())
        tighten_sqlite_files(settings.database_url)
        # A file SQLite cannot read at all: a sentence and exit 78, not a traceback.
        try:
            health.ensure_readable(engine, sqlite_path(settings.database_url))
        except Exception:
            engine.dispose()
            raise
        return cls(settings, engine, vault)

    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # Schema ----------------------------------------------------------------------------------

    def migrate(self) -> tuple[str | None, str]:
        try:
            before, after = migrate.upgrade(self.engine)
        except DBAPIError as exc:
            health.raise_for(exc, Path(self.health.location))
            raise
        tighten_sqlite_files(self.settings.database_url)
        if before != after:
            log.info("store.migrated", schema_before=before, schema_after=after)
        return before, after

    def unseal_check(self) -> None:
        """Can this data key open the secrets in this database? (StoreError if not)."""
        try:
            with self.session() as session:
                credentials.webhook_secret(session, self.vault)
        except VaultError as exc:
            raise StoreError(
                f"The secrets in this database do not open with the data key "
                f"{self.settings.key_path} ({exc.message})",
                hint="Put back the data key file that was in use when the backup was taken, "
                "then restore again.",
            ) from None

    def check_integrity(self) -> str | None:
        """SQLite's quick check of the whole file (see storage/health.py); blocking."""
        return self.health.check(self.engine)

    def ready(self) -> tuple[bool, str]:
        """Is the store reachable, at this release's schema, intact as last checked, and taking
        writes? (for /readyz)"""
        if self.health.writes_failing() == "unreachable" and self._answers():
            self.health.worked()  # the server is back: say so now, not at the next write
        if (problem := self.health.problem()) is not None:
            return False, problem
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            if not migrate.is_current(self.engine):
                return False, "the database schema is not current: run `appliance migrate`"
        except Exception as exc:
            return (
                False,
                f"the database {self.health.location} is not reachable ({type(exc).__name__})",
            )
        return True, "ok"

    def _answers(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    # Reports ---------------------------------------------------------------------------------

    def store_info(self) -> StoreInfo:
        path = sqlite_path(self.settings.database_url)
        with self.session() as session:
            stored = instances.current_key(session)  # what every instance seals with
        return StoreInfo(
            backend=self.engine.dialect.name,
            location=str(path) if path else self.engine.url.render_as_string(hide_password=True),
            schema_revision=migrate.current_revision(self.engine),
            schema_current=migrate.is_current(self.engine),
            key_version=stored[0] if stored is not None else self.vault.keyring.active,
            key_rotation_pending=self.vault.keyring.rotating,
        )

    def key_problem(self) -> str | None:
        """Why the data key file cannot open the store's secrets, or None (for /readyz)."""
        return key_problem(self.engine, self.vault)

    def connection_info(self) -> ConnectionInfo | None:
        with self.session() as session:
            company = connections.current_company(session)
        if company is None:
            return None
        return ConnectionInfo(
            warnings=connection_warnings(company),
            realm_id=company.realm_id,
            company_name=company.company_name,
            environment=company.environment,
            state=company.state,
            connected_at=company.connected_at,
            access_token_expires_at=company.access_token_expires_at,
            refresh_token_expires_at=company.refresh_token_expires_at,
            refresh_token_hard_expires_at=company.refresh_token_hard_expires_at,
            last_error=company.last_error,
            disconnected_at=company.disconnected_at,
        )

    def queue_info(self, now: datetime | None = None) -> QueueInfo:
        now = now or utcnow()
        with self.session() as session:
            counts = dict(
                session.exec(select(Job.state, func.count()).group_by(col(Job.state))).all()
            )
            oldest = session.exec(
                select(func.min(Job.created_at)).where(col(Job.state) == JobState.QUEUED)
            ).first()
            holders = session.exec(
                select(Job.lease_owner, func.count())
                .where(col(Job.state) == JobState.RUNNING)
                .group_by(col(Job.lease_owner))
            ).all()
        age = None
        if oldest is not None:
            # SQLite's MIN() bypasses the column type; read it back through the same rules.
            if isinstance(oldest, str):
                oldest = datetime.fromisoformat(oldest)
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=UTC)
            age = max(0.0, (now - oldest).total_seconds())
        return QueueInfo(
            queued=counts.get(JobState.QUEUED, 0),
            running=counts.get(JobState.RUNNING, 0),
            waiting=counts.get(JobState.WAITING, 0),
            failed=counts.get(JobState.FAILED, 0),
            mismatch=counts.get(JobState.MISMATCH, 0),
            review=counts.get(JobState.REVIEW, 0),
            oldest_queued_age_seconds=age,
            running_by_instance=by_instance(holders),
        )

    def credential_info(self) -> tuple[int, bool]:
        with self.session() as session:
            keys = len(credentials.active_api_keys(session))
            has_secret = (
                session.get(Secret, (credentials.WEBHOOK_SCOPE, credentials.WEBHOOK_SECRET))
                is not None
            )
        return keys, has_secret

    # Keys ------------------------------------------------------------------------------------

    def rotate_key(self, actor: str) -> RotationResult:
        """Coordinated with the other live instances on this store (storage/vault.py)."""
        cluster = Cluster(self.settings.instance(), self.settings.push_lease_seconds)
        result = rotate_key(self.engine, self.vault, cluster)
        with session_scope(self.engine) as session:
            audit.record(
                session,
                actor=actor,
                action="key.rotated",
                new_key_version=result.new_version,
                old_key_versions=list(result.old_versions),
                resealed=result.resealed,
            )
        return result


#: The advisory lock (a number of the appliance's own) `appliance init` holds on PostgreSQL.
INIT_LOCK = 0x4A52_494E


def initialize(settings: Settings, *, actor: str) -> InitResult:
    """Create what a new appliance needs; never replace what an existing one has.

    Idempotent: the key file is created only if absent (and refused if the database already holds
    secrets, because a fresh key could never open them); the JobRoutr API key and webhook secret
    are created only if there are none, and are returned so they can be shown once. On
    PostgreSQL, two instances initialised at once take turns (an advisory lock): the second finds
    the store initialised, and without the first one's key file says so.
    """
    secure_state_dir(settings.state_dir)
    engine = create_store_engine(settings.database_url, settings.database_password())
    try:
        with _one_init_at_a_time(engine):
            return _initialize(settings, engine, actor)
    finally:
        engine.dispose()


@contextmanager
def _one_init_at_a_time(engine: Engine) -> Iterator[None]:
    if engine.dialect.name != "postgresql":  # SQLite: one instance, under the store lock
        yield
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": INIT_LOCK})
        connection.commit()
        try:
            yield
        finally:  # a session lock: the pooled connection would keep it
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": INIT_LOCK})
            connection.commit()


def _initialize(settings: Settings, engine: Engine, actor: str) -> InitResult:
    key_created = False
    if not settings.key_path.exists():
        if migrate.current_revision(engine) is not None and sealed_versions(engine):
            raise KeyringError(
                f"The data key file {settings.key_path} is missing, but the database holds "
                "secrets sealed with it: the store was initialised by another instance, or "
                "this key file was lost.",
                hint="Copy the key file from the instance that initialised the store (or "
                "restore it from your backup), then run `appliance init` again; a new key "
                "cannot open them.",
            )
        save_keyring(settings.key_path, Keyring.generate(), create_only=True)
        key_created = True
    store = Store(settings, engine, Vault(settings.key_path))
    before, after = store.migrate()
    api_key = webhook = None
    with session_scope(engine) as session:
        if not credentials.active_api_keys(session):
            _, api_key = credentials.create_api_key(session)
        if credentials.webhook_secret(session, store.vault) is None:
            webhook = credentials.new_webhook_secret()
            credentials.store_webhook_secret(session, store.vault, webhook)
        if key_created or api_key or webhook:
            audit.record(
                session,
                actor=actor,
                action="appliance.initialised",
                key_created=key_created,
                api_key_created=api_key is not None,
                webhook_secret_created=webhook is not None,
            )
    tighten_sqlite_files(settings.database_url)
    return InitResult(key_created, api_key, webhook, before, after)


REFRESH_WARNING = timedelta(days=14)
HARD_EXPIRY_WARNING = timedelta(days=90)


def connection_warnings(company: Company, now: datetime | None = None) -> list[str]:
    """What the operator should hear about the connection before it breaks."""
    now = now or utcnow()
    warnings = []
    if company.state == "needs_reconnect":
        warnings.append(
            "QuickBooks no longer accepts this connection (it was disconnected in QuickBooks or "
            "its authorization expired): run `appliance connect` to reconnect the same company. "
            "The stored tokens and all data are kept."
        )
    refresh = company.refresh_token_expires_at
    if company.state == "connected" and refresh is not None and refresh - now < REFRESH_WARNING:
        warnings.append(
            f"The QuickBooks authorization lapses on {refresh:%Y-%m-%d} unless the appliance "
            "uses it before then: keep the service running, or reconnect."
        )
    hard = company.refresh_token_hard_expires_at
    if company.state == "connected" and hard is not None and hard - now < HARD_EXPIRY_WARNING:
        warnings.append(
            f"Intuit ends this authorization for good on {hard:%Y-%m-%d} (the 5-year limit): "
            "reconnect before then with `appliance connect`."
        )
    return warnings


def by_instance(holders: Sequence[tuple[str | None, int]]) -> dict[str, int]:
    """Running jobs by instance, from their lease owners ("<instance>@<pusher>/<worker>")."""
    counted: dict[str, int] = {}
    for owner, count in holders:
        name = (owner or "?").split("/", 1)[0].rsplit("@", 1)[0]
        counted[name] = counted.get(name, 0) + int(count)
    return counted
