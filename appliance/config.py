"""Settings: one object, read once at start from a TOML file and the environment, then passed down.

Precedence, highest first: ``APPLIANCE_*`` environment variables, the TOML file named by
``--config`` or ``APPLIANCE_CONFIG``, then the embedded defaults (a local appliance talking to the
bundled QBO emulator, state under ``~/.local/state/jobroutr-appliance``).

In the TOML file a setting is either a top-level key (``state_dir = "..."``) or a key in the table
named by its first word (``[http] port = 8780`` is ``http_port``, env ``APPLIANCE_HTTP_PORT``).
Secrets are never settings: only the *path* of a file that holds one is (a systemd credential,
for instance), and relative secret paths are looked up in ``$CREDENTIALS_DIRECTORY`` first.
"""

from __future__ import annotations

import os
import socket
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from appliance.errors import SettingsError

ENV_PREFIX = "APPLIANCE_"
CONFIG_ENV = "APPLIANCE_CONFIG"
SECTIONS = ("http", "qbo", "log", "admin", "push", "metrics", "feed")

# The bundled emulator's registered app. These are not secrets: they only open the emulator that
# runs on this machine, and the emulator issue documents them as its defaults.
EMULATOR_CLIENT_ID = "jobroutr-appliance-local"
EMULATOR_CLIENT_SECRET = "emulator-client-secret-not-for-production"  # noqa: S105


def default_state_dir() -> Path:
    """systemd's StateDirectory when run as a unit, else the XDG state home of the user."""
    if systemd_state := os.environ.get("STATE_DIRECTORY"):
        return Path(systemd_state.split(":")[0])
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "jobroutr-appliance"


class Settings(BaseSettings):
    """Everything the appliance can be told: field ``x_y`` is env APPLIANCE_X_Y, TOML ``[x] y``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, validate_default=True
    )

    state_dir: Path = Field(default_factory=default_state_dir)
    database_url: str = ""
    # The store server's password (PostgreSQL), read from this file (0600; under systemd a
    # credential name): never written in database_url, a setting that is shown and logged.
    database_password_file: Path | None = None
    key_file: Path | None = None
    # SQLite's quick integrity check of the store, this often in the running service (it also
    # runs at start and for `appliance status`); 0: only then. See storage/health.py.
    integrity_check_seconds: float = Field(default=3600.0, ge=0)

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8780, ge=1, le=65535)
    public_url: str = ""
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=64 * 1024 * 1024)
    # Slow and idle clients on the public listener (docs/install.md): a client has this long to
    # send a whole request, from connecting or from its previous answer; open connections are
    # capped, the longest-waiting one closed to make room for a new one.
    http_read_timeout_seconds: float = Field(default=10.0, ge=1.0, le=600.0)
    http_max_connections: int = Field(default=1000, ge=8, le=1_000_000)

    admin_socket: Path | None = None
    admin_group: str | None = None

    qbo_environment: Literal["production", "sandbox", "emulator"] = "emulator"
    qbo_emulator_url: str = "http://127.0.0.1:8781"
    qbo_client_id: str = ""
    qbo_client_secret_file: Path | None = None
    qbo_emulator_embedded: bool = True
    # Intuit's limits per company (FACTS: 10 at once, 500 a minute, 120 batch calls a minute);
    # the appliance keeps within them itself. Lower them if another app shares the company.
    qbo_concurrent: int = Field(default=10, ge=1, le=50)
    qbo_requests_per_minute: int = Field(default=500, ge=1, le=100_000)
    qbo_batch_per_minute: int = Field(default=120, ge=1, le=10_000)
    # Back-off after a 5xx/dropped connection, and after a 429 without Retry-After (seconds).
    qbo_retry_initial_seconds: float = Field(default=1.0, ge=0.01, le=600)
    qbo_throttle_initial_seconds: float = Field(default=60.0, ge=0.01, le=600)
    qbo_timeout_seconds: float = Field(default=60.0, ge=1, le=600)

    # Pushing JobRoutr's events to QuickBooks (see README, "Pushing to QuickBooks").
    push_workers: int = Field(default=4, ge=1, le=32)
    push_lease_seconds: float = Field(default=60.0, ge=2.0, le=3600.0)
    push_retry_seconds: float = Field(default=30.0, ge=0.1, le=3600.0)
    push_give_up_after_seconds: float = Field(default=86400.0, ge=1.0)
    push_dependency_wait_seconds: float = Field(default=86400.0, ge=1.0)
    push_name_clash: Literal["suffix", "hold"] = "suffix"
    push_name_clash_suffix: str = Field(default=" (customer)", min_length=1, max_length=40)

    # The change feed (docs/changes.md): how often QuickBooks' Change Data Capture is read while
    # connected (and after every import); 0: only after imports.
    feed_interval_seconds: float = Field(default=300.0, ge=0, le=86400)

    # GET /metrics on the public listener (Prometheus text), behind the API key; off: 404.
    metrics_enabled: bool = True
    # Every so often the same numbers as one `metrics` log line (0: never).
    metrics_log_seconds: float = Field(default=300.0, ge=0)

    # This instance's name in `appliance status`, /metrics and the store (import runs, shares
    # of Intuit's limits) when several serve one database; empty: hostname:port (the same after
    # a restart, so a restarted instance takes its own unfinished imports back at once).
    instance_name: str = Field(default="", max_length=40)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init kwargs; the environment must win over it.
        return (env_settings, init_settings)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("public_url", "qbo_emulator_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value == "":
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http:// or https:// URL")
        if parts.query or parts.fragment:
            raise ValueError("expected a base URL without query or fragment")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        # Frozen model: derived defaults are filled in through object.__setattr__, once, here.
        state_dir = self.state_dir.expanduser().absolute()
        object.__setattr__(self, "state_dir", state_dir)
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{state_dir / 'appliance.db'}")
        _no_password_inside(self.database_url)
        if self.key_file is None:
            object.__setattr__(self, "key_file", state_dir / "keyring.json")
        if self.admin_socket is None:
            runtime = os.environ.get("RUNTIME_DIRECTORY")
            base = Path(runtime.split(":")[0]) if runtime else state_dir
            object.__setattr__(self, "admin_socket", base / "admin.sock")
        if not self.public_url:
            object.__setattr__(self, "public_url", f"http://{self.http_host}:{self.http_port}")
        if self.qbo_environment == "emulator":
            if not self.qbo_client_id:
                object.__setattr__(self, "qbo_client_id", EMULATOR_CLIENT_ID)
        else:
            if not self.qbo_client_id:
                raise ValueError(
                    "APPLIANCE_QBO_CLIENT_ID is required when APPLIANCE_QBO_ENVIRONMENT is "
                    f"{self.qbo_environment} (use the app's keys from Intuit's developer portal)"
                )
            if self.qbo_client_secret_file is None:
                raise ValueError(
                    "APPLIANCE_QBO_CLIENT_SECRET_FILE is required when "
                    f"APPLIANCE_QBO_ENVIRONMENT is {self.qbo_environment}"
                )
        if self.qbo_environment == "production" and not self.public_url.startswith("https://"):
            raise ValueError(
                "APPLIANCE_PUBLIC_URL must be https:// in production, because Intuit only "
                "redirects to https"
            )
        return self

    # Paths that always exist after validation; typed accessors spare callers the Optional.
    @property
    def key_path(self) -> Path:
        assert self.key_file is not None
        return self.key_file

    @property
    def admin_socket_path(self) -> Path:
        assert self.admin_socket is not None
        return self.admin_socket

    @property
    def oauth_redirect_uri(self) -> str:
        return f"{self.public_url}/oauth/callback"

    def instance(self) -> str:
        """This instance's name: ``instance_name``, else hostname:port. Not the pid: a restarted
        instance is the same one, and takes back at once what its killed process held; two live
        instances on one host cannot share a port."""
        return self.instance_name or f"{socket.gethostname()}:{self.http_port}"

    def database_password(self) -> str | None:
        """The store server's password from ``database_password_file``; None when not set."""
        if self.database_password_file is None:
            return None
        return read_secret_file(self.database_password_file, setting="database_password_file")

    def qbo_client_secret(self) -> str:
        """Read the Intuit client secret from its file; the emulator has a documented default."""
        if self.qbo_client_secret_file is None:
            return EMULATOR_CLIENT_SECRET
        return read_secret_file(self.qbo_client_secret_file, setting="qbo_client_secret_file")


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def toml_name(field: str) -> str:
    head, _, tail = field.partition("_")
    return f"{head}.{tail}" if head in SECTIONS and tail else field


def read_secret_file(path: Path, *, setting: str) -> str:
    """Read a secret from a file, refusing files that anyone on the machine could read."""
    resolved = path.expanduser()
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if not resolved.is_absolute() and credentials and (Path(credentials) / resolved).exists():
        resolved = Path(credentials) / resolved
    try:
        mode = resolved.stat().st_mode
        value = resolved.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingsError(
            f"Setting {env_name(setting)} names {str(resolved)!r}, which cannot be read "
            f"({exc.strerror}).",
            setting=setting,
            hint="Check the path and that the appliance's user may read it.",
        ) from None
    if mode & stat.S_IROTH:
        raise SettingsError(
            f"Setting {env_name(setting)} names {str(resolved)!r}, which every user can read.",
            setting=setting,
            hint=f"Run `chmod 600 {resolved}` (or pass it as a systemd credential).",
        )
    if not value:
        raise SettingsError(
            f"Setting {env_name(setting)} names {str(resolved)!r}, which is empty.",
            setting=setting,
        )
    return value


def _flatten(table: Mapping[str, Any], source: Path) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            if key not in SECTIONS:
                raise SettingsError(
                    f"Config file {source} has an unknown table [{key}].",
                    setting=key,
                    hint=f"Known tables are {', '.join('[' + s + ']' for s in SECTIONS)}.",
                )
            for inner, inner_value in value.items():
                flat[f"{key}_{inner}"] = inner_value
        else:
            flat[key] = value
    return flat


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return _flatten(tomllib.load(handle), path)
    except FileNotFoundError:
        raise SettingsError(
            f"Config file {path} does not exist.",
            setting="config",
            hint=f"Check --config or {CONFIG_ENV}; examples are in config/ of the source tree.",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(
            f"Config file {path} is not valid TOML ({exc}).", setting="config"
        ) from None
    except OSError as exc:
        raise SettingsError(
            f"Config file {path} cannot be read ({exc.strerror}).", setting="config"
        ) from None


def _no_password_inside(database_url: str) -> None:
    """A password written into the URL would be shown and logged with it: refused, without
    repeating it (the error names no value)."""
    try:
        password = urlsplit(database_url).password
    except ValueError:  # a malformed URL is the engine's to name
        return
    if password:
        raise ValueError(
            "APPLIANCE_DATABASE_URL holds a password: put the password alone in a file (mode "
            "0600, or a systemd credential) named by APPLIANCE_DATABASE_PASSWORD_FILE, and "
            "leave it out of the URL (postgresql+psycopg://user@host:5432/database)"
        )


def _sentence(error: ValidationError, source: Path | None) -> SettingsError:
    first = error.errors()[0]
    loc = [str(part) for part in first["loc"]]
    field = loc[0] if loc else ""
    where = f" in {source}" if source else ""
    if first["type"] == "extra_forbidden":
        return SettingsError(
            f"Unknown setting `{toml_name(field)}`{where}.",
            setting=field,
            hint="See config/appliance.example.toml for every setting.",
        )
    message = first["msg"].removeprefix("Value error, ")
    if not field:
        # A rule across settings: they may come from the file, the environment or both.
        return SettingsError(f"{message[0].upper()}{message[1:]}.", setting="")
    if env_name(field) in os.environ:
        where = ", from the environment"
    got = ""
    if first["type"] not in ("missing",) and "input" in first:
        got = f" (got {first['input']!r})"
    return SettingsError(
        f"Setting {env_name(field)} (`{toml_name(field)}`{where}) is invalid: {message}{got}.",
        setting=field,
    )


def load_settings(config: Path | None = None) -> Settings:
    """Load settings once. ``config`` (or ``APPLIANCE_CONFIG``) names an optional TOML file."""
    if config is None and os.environ.get(CONFIG_ENV):
        config = Path(os.environ[CONFIG_ENV])
    values = _read_toml(config) if config is not None else {}
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise _sentence(exc, config) from None
