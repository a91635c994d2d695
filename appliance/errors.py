"""Errors the appliance raises on purpose, each with a sentence for a person and a hint.

ApplianceError                       message (what happened), hint (what to do next), http_status
 ├── NotFoundError                   what was asked for does not exist yet, say no import ran (404)
 ├── SettingsError                   a setting is missing or malformed (start-up stops, names it)
 ├── StateDirError                   the state directory or a file in it cannot be used safely
 ├── KeyringError                    the data key file is missing, unreadable or malformed
 ├── VaultError                      a sealed secret cannot be opened (tampered, moved, key retired)
 ├── KeyNotHeldError                 a rotation's new key is not on every live instance (exit 75)
 ├── StoreError                      the database cannot be opened or is at an unknown version
 │    ├── NewerStoreError            written by a newer release (exit 78)
 │    ├── UnreadableStoreError       the database file is not one, or is cut short (exit 78)
 │    ├── MissingDriverError         the database server's driver is not installed (exit 78)
 │    └── StoreUnavailableError      the store takes no writes now: full disk, damage (HTTP 503)
 │         └── StoreUnreachableError  its database server does not answer (exit 75, HTTP 503)
 ├── StoreBusyError                  another process holds the store lock (the service, a restore)
 ├── ServiceNotRunningError          an operator command could not reach the running service
 ├── AdminSocketDeniedError          this user may not open the admin socket (not an operator)
 ├── ServiceNotAnsweringError        the admin socket accepted, but no answer came in time
 ├── UntrustedSocketError            the admin socket's owner is not trusted: nothing is sent
 └── AdminError                      the service refused or failed an admin request (status)

The parts add their own kinds where they raise them: ``sync.connection.ConnectError``,
``sync.setup.SetupError``, ``sync.events.EventRefusedError``, ``sync.imports.ImportFailedError``
and its ``NoImportYetError`` (a NotFoundError too). QuickBooks' own errors are
``qbo.errors.QboError``'s tree; the store's own (``storage.review.NotRetryableError``,
``storage.imports.ImportBusyError``, ``storage.connections.CallbackStateError``) are turned into
these before they reach an operator.

Every exception class that reports a failure is named ``...Error`` (PEP 8). Signals that only
steer control inside one module or package, never reaching a caller elsewhere or an operator, are
named for what happened instead: the push's ``Wait``, ``Refused`` and ``LeaseLost``
(``sync.push.outcome``, settled into a job's outcome there). The emulator's ``QboFault`` is QBO's
own name for the answer it models, and the gateway's ``ReadTimedOut`` an HTTP answer.

Every error is formatted once, at the edge: the CLI prints ``message`` and ``hint``; the HTTP layer
turns it into problem+json. Nothing here carries a secret value.
"""

from __future__ import annotations


class ApplianceError(Exception):
    """Base class: ``message`` says what happened, ``hint`` what to do next."""

    hint: str = ""
    #: The HTTP status the service answers with when this reaches a request (problem+json):
    #: 409 "cannot do that now" unless a subclass says otherwise.
    http_status: int = 409

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        if hint:
            self.hint = hint

    def __str__(self) -> str:
        return self.message


class NotFoundError(ApplianceError):
    """What was asked for does not exist (yet): no import has run, say. Answered with 404."""

    http_status = 404


class SettingsError(ApplianceError):
    """A setting is missing or malformed."""

    def __init__(self, message: str, *, setting: str, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.setting = setting


class StateDirError(ApplianceError):
    """The state directory or a file in it cannot be used safely."""


class KeyringError(ApplianceError):
    """The data key file is missing, unreadable or malformed."""

    hint = (
        "Run `appliance init` to create the key, or point APPLIANCE_KEY_FILE at the existing one."
    )


class VaultError(ApplianceError):
    """A sealed secret cannot be opened."""


class KeyNotHeldError(ApplianceError):
    """A rotation's new data key is not on every live instance yet: nothing was re-sealed. Exit
    75: run it again once the key file is copied (423 on the admin API)."""

    http_status = 423


class StoreError(ApplianceError):
    """The database cannot be opened or is at a schema version this release does not know."""


class NewerStoreError(StoreError):
    """The database was written by a newer release. Restarting will not help (exit 78, so
    systemd's RestartPreventExitStatus stops trying)."""


class StoreBusyError(ApplianceError):
    """Another process holds the store lock: the running service, or a restore, migrate or
    rotate-key at work. Exit 1: it ends, and then the same command goes ahead."""


class UnreadableStoreError(StoreError):
    """The database file cannot be read at all (not a database, cut short, damaged where every
    command looks). Restarting will not help (exit 78): only a restore or a new store will."""


class MissingDriverError(StoreError):
    """The URL names a database server whose driver is not installed (the postgres extra).
    Restarting will not help (exit 78): installing the extra will."""


class StoreUnavailableError(StoreError):
    """The store cannot take writes now: its disk is full or failing, or its file is damaged.
    Answered 503 with Retry-After, so JobRoutr sends the event again later."""

    http_status = 503
    retry_after_seconds = 30


class StoreUnreachableError(StoreUnavailableError):
    """The store's database server (PostgreSQL) does not answer: down, restarting, or not
    where APPLIANCE_DATABASE_URL says. At start, exit 75 (EX_TEMPFAIL: systemd starts it again);
    while serving, 503 with Retry-After until it answers again."""


class ServiceNotRunningError(ApplianceError):
    """An operator command could not reach the running service over its admin socket."""

    hint = (
        "Start it with `appliance serve` (or `systemctl start jobroutr-gateway`), "
        "then run this command again."
    )


class AdminSocketDeniedError(ApplianceError):
    """The admin socket, or the directory it is in, is closed to this user: the service may well
    run, but only root, its user and the operators' group may talk to it. Not a
    ServiceNotRunningError, so nothing falls back to working without the service."""

    hint = (
        "Ask an administrator to add you to the operators' group (under systemd: "
        "`sudo usermod -aG jobroutr-ops $USER`; otherwise the group named by the admin.group "
        "setting), then log in again."
    )


class ServiceNotAnsweringError(ApplianceError):
    """Something accepted the connection on the admin socket but sent no answer in time: the
    service is busy or hung, not stopped (so nothing falls back to working offline)."""

    hint = (
        "Run the command again in a minute; if it still does not answer, see the service's log "
        "(`journalctl -u jobroutr-gateway`) and restart it."
    )


class UntrustedSocketError(ApplianceError):
    """The admin socket belongs to a user who is not root, the operator or the service's user:
    whoever put it there would read the OAuth code and settings, so nothing is sent."""

    hint = (
        "Check that APPLIANCE_ADMIN_SOCKET (or the service's RuntimeDirectory) names the socket "
        "`appliance serve` created, and who may write to the directory it is in."
    )


class AdminError(ApplianceError):
    """The service answered the admin API, but refused or failed the request; carries its
    problem details (defined here so the console can catch it without loading the client)."""

    def __init__(self, message: str, *, status: int, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.status = status
