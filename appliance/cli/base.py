"""What every command shares: the settings, the exit codes, errors as a sentence and a hint.

Every error ends here as a sentence and a hint on stderr, never a traceback, with the exit code
that says what kind of trouble it was (systemd units and scripts read it).
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from appliance.config import Settings, load_settings
from appliance.core.admin_client import AdminClient
from appliance.errors import (
    ApplianceError,
    KeyNotHeldError,
    KeyringError,
    MissingDriverError,
    NewerStoreError,
    ServiceNotRunningError,
    SettingsError,
    StateDirError,
    StoreUnreachableError,
    UnreadableStoreError,
)
from appliance.logging import configure_logging

F = TypeVar("F", bound=Callable[..., Any])

EXIT_ERROR = 1
EXIT_USAGE = 2  # as click's own usage errors
EXIT_NOT_RUNNING = 3
EXIT_TEMPFAIL = 75  # EX_TEMPFAIL: the database server does not answer yet, or another instance
# lacks the new data key: try again later
EXIT_CONFIG = 78  # EX_CONFIG: systemd units list it in RestartPreventExitStatus


class CliContext:
    """The command line's state (click's ``obj``): settings are loaded once, when the first
    command asks for them."""

    def __init__(self, config: Path | None) -> None:
        self.config = config
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings


pass_ctx = click.make_pass_decorator(CliContext)


def fail(exc: ApplianceError) -> NoReturn:
    click.secho(f"Error: {exc.message}", fg="red", err=True)
    if exc.hint:
        click.echo(f"Hint: {exc.hint}", err=True)
    if isinstance(
        exc,
        (
            SettingsError,
            NewerStoreError,
            StateDirError,
            KeyringError,
            UnreadableStoreError,
            MissingDriverError,
        ),
    ):
        sys.exit(EXIT_CONFIG)  # restarting cannot fix these
    if isinstance(exc, ServiceNotRunningError):
        sys.exit(EXIT_NOT_RUNNING)
    if isinstance(exc, (StoreUnreachableError, KeyNotHeldError)):
        sys.exit(EXIT_TEMPFAIL)  # systemd's Restart= starts it again; it works once the server does
    sys.exit(EXIT_ERROR)


def refuse(message: str, hint: str) -> NoReturn:
    """A command asked for something it will not do as asked: a sentence, a hint, exit 2."""
    click.secho(f"Error: {message}", fg="red", err=True)
    click.echo(f"Hint: {hint}", err=True)
    sys.exit(EXIT_USAGE)


def handles_errors(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ApplianceError as exc:
            fail(exc)

    return wrapper  # type: ignore[return-value]


def actor() -> str:
    try:
        return f"{getpass.getuser()}@cli"
    except (KeyError, OSError):
        return "cli"


def admin(settings: Settings, *, timeout: float = 30.0) -> AdminClient:
    """The admin API's client; it also trusts a socket owned by the state directory's owner."""
    return AdminClient(settings.admin_socket_path, timeout=timeout, service_dir=settings.state_dir)


def start_logging(settings: Settings, *, to_stderr: bool = True) -> None:
    configure_logging(settings.log_level, settings.log_format, sys.stderr if to_stderr else None)
