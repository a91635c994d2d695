"""The `appliance` command: the one place that wires settings, store, service and console together.

Operator commands (status, rotate-key while running, and the ones later releases add) talk to the
running service over its admin socket; when it is not running they say so and how to start it.
Every error ends here as a sentence and a hint on stderr, never a traceback.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import msgspec

from appliance import __version__
from appliance.config import CONFIG_ENV, Settings, load_settings
from appliance.core.activity import summary as activity_summary
from appliance.core.admin import (
    EVENT_STATUSES,
    EVENTS_MAX_LIMIT,
    KeyRotationReport,
    StatusReport,
)
from appliance.core.admin_client import AdminClient
from appliance.errors import (
    ApplianceError,
    KeyringError,
    NewerStoreError,
    ServiceNotRunning,
    SettingsError,
    StateDirError,
    UnreadableStoreError,
)
from appliance.logging import configure_logging, get_logger, register_secret

F = TypeVar("F", bound=Callable[..., Any])

EXIT_ERROR = 1
EXIT_USAGE = 2  # as click's own usage errors
EXIT_NOT_RUNNING = 3
EXIT_CONFIG = 78  # EX_CONFIG: systemd units list it in RestartPreventExitStatus


class Context:
    """Settings are loaded once, when the first command asks for them."""

    def __init__(self, config: Path | None) -> None:
        self.config = config
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings


pass_ctx = click.make_pass_decorator(Context)


def _fail(exc: ApplianceError) -> NoReturn:
    click.secho(f"Error: {exc.message}", fg="red", err=True)
    if exc.hint:
        click.echo(f"Hint: {exc.hint}", err=True)
    if isinstance(
        exc, (SettingsError, NewerStoreError, StateDirError, KeyringError, UnreadableStoreError)
    ):
        sys.exit(EXIT_CONFIG)  # restarting cannot fix these
    if isinstance(exc, ServiceNotRunning):
        sys.exit(EXIT_NOT_RUNNING)
    sys.exit(EXIT_ERROR)


def _refuse(message: str, hint: str) -> NoReturn:
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
            _fail(exc)

    return wrapper  # type: ignore[return-value]


def _actor() -> str:
    try:
        return f"{getpass.getuser()}@cli"
    except (KeyError, OSError):
        return "cli"


def _admin(settings: Settings, *, timeout: float = 30.0) -> AdminClient:
    """The admin API's client; it also trusts a socket owned by the state directory's owner."""
    return AdminClient(settings.admin_socket_path, timeout=timeout, service_dir=settings.state_dir)


def _logging(settings: Settings, *, to_stderr: bool = True) -> None:
    configure_logging(settings.log_level, settings.log_format, sys.stderr if to_stderr else None)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="appliance")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=CONFIG_ENV,
    help=f"TOML settings file (env {CONFIG_ENV}). Environment variables APPLIANCE_* override it.",
)
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """JobRoutr QuickBooks Gateway: connects JobRoutr to QuickBooks Online.

    Start with `appliance init`, then `appliance serve`. Operator commands talk to the running
    service over its admin socket.
    """
    # Everything the appliance creates is owner-only unless it says otherwise (the admin socket).
    os.umask(0o077)
    ctx.obj = Context(config)


@main.command()
@pass_ctx
@handles_errors
def init(ctx: Context) -> None:
    """Create the state directory, data key, database, API key and webhook secret.

    Safe to run again: an existing key is never replaced, and the API key and webhook secret are
    only created (and shown, once) when there are none.
    """
    from appliance.storage.store import initialize

    settings = ctx.settings
    _logging(settings)
    result = initialize(settings, actor=_actor())
    click.echo(f"State directory: {settings.state_dir}")
    click.echo(
        f"Data key:        {settings.key_path} "
        + ("(created)" if result.key_created else "(exists, kept)")
    )
    click.echo(f"Database schema: {result.schema_after}")
    if result.api_key or result.webhook_secret:
        click.echo("")
        click.secho("Give these to JobRoutr now. They are shown only this once:", bold=True)
        if result.api_key:
            click.echo(f"  JobRoutr API key:        {result.api_key}")
        if result.webhook_secret:
            click.echo(f"  JobRoutr webhook secret: {result.webhook_secret}")
    else:
        click.echo("Already initialised: nothing was replaced.")


@main.command()
@pass_ctx
@handles_errors
def serve(ctx: Context) -> None:
    """Run the gateway: the public listener and the admin socket, until SIGTERM."""
    from appliance.gateway.server import ensure_not_running
    from appliance.gateway.server import serve as run_server
    from appliance.gateway.undumpable import forbid_core_dumps
    from appliance.storage.lock import store_lock
    from appliance.storage.store import Store

    dumpable = forbid_core_dumps()  # before any secret is in memory
    settings = ctx.settings
    # A bad secret file stops start-up here, with its sentence; a good one is never logged.
    register_secret(settings.qbo_client_secret())
    _logging(settings, to_stderr=False)
    if dumpable is not None:
        get_logger(__name__).warning("service.core_dumps_possible", reason=dumpable)
    with store_lock(settings, "serve"):  # for the service's whole life
        ensure_not_running(settings.admin_socket_path)
        extra = []
        if settings.qbo_environment == "emulator" and settings.qbo_emulator_embedded:
            extra.append(_embedded_emulator(settings))
        store = Store.open(settings)
        try:
            store.migrate()
            asyncio.run(run_server(settings, store, extra))
        finally:
            store.close()


def _embedded_emulator(settings: Settings) -> tuple[Any, Any]:
    """The bundled QBO emulator, on its URL's port, in the service's process (local defaults)."""
    from urllib.parse import urlsplit

    from appliance.emulator.app import DEFAULT_REDIRECT_URIS, EmulatorConfig, create_emulator_app
    from appliance.gateway.server import bind_tcp

    url = urlsplit(settings.qbo_emulator_url)
    if url.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SettingsError(
            f"Setting APPLIANCE_QBO_EMULATOR_URL ({settings.qbo_emulator_url}) is not on this "
            "machine, so the bundled emulator cannot serve it.",
            setting="qbo_emulator_url",
            hint="Run `appliance emulator` there and set APPLIANCE_QBO_EMULATOR_EMBEDDED=false.",
        )
    config = EmulatorConfig(
        client_id=settings.qbo_client_id,
        client_secret=settings.qbo_client_secret(),
        redirect_uris=list(dict.fromkeys([settings.oauth_redirect_uri, *DEFAULT_REDIRECT_URIS])),
        state_file=settings.state_dir / "emulator.json",
    )
    sock = bind_tcp(url.hostname or "127.0.0.1", url.port or 80, "APPLIANCE_QBO_EMULATOR_URL")
    return create_emulator_app(config), sock


@main.command()
@pass_ctx
@handles_errors
def migrate(ctx: Context) -> None:
    """Bring the database schema up to this release (the service also does this at start)."""
    from appliance.storage.lock import store_lock
    from appliance.storage.store import Store

    settings = ctx.settings
    _logging(settings)
    with store_lock(settings, "migrate"):
        store = Store.open(settings)
        try:
            before, after = store.migrate()
        finally:
            store.close()
    if before == after:
        click.echo(f"The database schema is current ({after}).")
    else:
        click.echo(f"Migrated the database schema from {before or 'empty'} to {after}.")


@main.command("rotate-key")
@pass_ctx
@handles_errors
def rotate_key(ctx: Context) -> None:
    """Re-seal every stored secret under a new data key, then retire the old key.

    Safe to interrupt: run it again and it finishes the same rotation. While the service runs, the
    service does the rotation so it never seals with a retired key.
    """
    settings = ctx.settings
    try:
        with _admin(settings, timeout=600) as client:
            report = client.post("/v1/keys/rotate", KeyRotationReport)
    except ServiceNotRunning:
        from appliance.storage.lock import store_lock
        from appliance.storage.store import Store

        _logging(settings)
        # A service answering on another socket would go on sealing with the retired key.
        with store_lock(settings, "rotate-key"):
            store = Store.open(settings)
            try:
                store.migrate()
                result = store.rotate_key(actor=_actor())
            finally:
                store.close()
        report = KeyRotationReport(
            old_key_versions=list(result.old_versions),
            new_key_version=result.new_version,
            resealed=result.resealed,
            resumed=result.resumed,
        )
    if report.resumed:
        click.echo("Finished an interrupted rotation.")
    old = ", ".join(str(v) for v in report.old_key_versions) or "none"
    click.echo(
        f"Re-sealed {report.resealed} secrets under key version {report.new_key_version}; "
        f"retired key version(s): {old}."
    )


@main.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@pass_ctx
@handles_errors
def backup(ctx: Context, file: Path, force: bool) -> None:
    """Write a consistent copy of the store to FILE while the service runs (owner-only).

    The copy holds every event acknowledged before it began. The data key is not in it: keep a
    copy of the keyring file (it changes only with `appliance rotate-key`) apart from backups.
    """
    from appliance.storage.backup import describe

    if file.exists() and not force:
        raise ApplianceError(f"{file} exists already.", hint="Choose another name, or --force.")
    with _admin(ctx.settings) as client:
        client.download("/v1/backup", file)
    info = describe(file)
    click.echo(
        f"Backup written to {file}: {info.size / 1e6:.1f} MB, {info.events} events, "
        f"schema {info.schema_revision}."
    )
    click.echo(f"Restoring it also needs the data key: {ctx.settings.key_path}.")


@main.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@handles_errors
def restore(ctx: Context, file: Path, yes: bool) -> None:
    """Replace the store with a backup made by `appliance backup`. Stop the service first.

    The backup must be readable with this appliance's data key and of this release or an older
    one (the next start brings its schema up to date). Refused while the service runs, whatever
    admin socket it answers on; safe to interrupt (the store is the old one or the backup).
    """
    from appliance.storage.lock import store_lock

    settings = ctx.settings
    _logging(settings)
    with store_lock(settings, "restore"):  # from the checks to the swap: no start in between
        _restore(settings, file, yes)


def _restore(settings: Settings, file: Path, yes: bool) -> None:
    from appliance.storage import backup as backups
    from appliance.storage import migrate as migrations
    from appliance.storage.store import Store

    info = backups.describe(file)
    if info.schema_revision is not None and not migrations.knows(info.schema_revision):
        raise ApplianceError(
            f"{file} is at schema version {info.schema_revision}, written by a newer release.",
            hint="Restore it with that release, or choose a backup made by this one.",
        )

    def usable(database_url: str) -> None:
        store = Store.open(settings.model_copy(update={"database_url": database_url}))
        try:
            store.unseal_check()
        finally:
            store.close()

    if not yes:
        click.confirm(
            f"Replace the store of {settings.state_dir} with {file} ({info.events} events, "
            f"schema {info.schema_revision})? What the store holds now is lost",
            abort=True,
        )
    backups.restore(file, settings.database_url, usable)
    click.echo(
        f"Restored {file} ({info.events} events). Start the service: it brings the schema up "
        "to date and takes up the queue where the backup left it."
    )


def _ago(when: datetime | None) -> str:
    if when is None:
        return "never"
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _print_status(report: StatusReport) -> None:
    click.secho(f"JobRoutr QuickBooks Gateway {report.version}", bold=True)
    click.echo(f"  Running since:    {_ago(report.started_at)}")
    click.echo(f"  Public URL:       {report.public_url}")
    click.echo(f"  QBO environment:  {report.qbo_environment}")
    conn = report.connection
    if conn is None:
        click.echo("  QuickBooks:       not connected (run `appliance connect`)")
    else:
        click.echo(
            f"  QuickBooks:       {conn.state}: {conn.company_name or '?'} "
            f"(realm {conn.realm_id}, {conn.environment})"
        )
        click.echo(f"  Access token:     expires {_ago(conn.access_token_expires_at)}")
        click.echo(f"  Refresh token:    expires {_ago(conn.refresh_token_expires_at)}")
        if conn.refresh_token_hard_expires_at:
            click.echo(f"  Authorization:    ends {_ago(conn.refresh_token_hard_expires_at)}")
        for warning in conn.warnings:
            click.secho(f"  Warning: {warning}", fg="yellow")
    q = report.queue
    age = (
        ""
        if q.oldest_queued_age_seconds is None
        else f", oldest {q.oldest_queued_age_seconds:.0f}s"
    )
    click.echo(
        f"  Queue:            {q.queued} queued, {q.running} running, {q.waiting} waiting, "
        f"{q.failed} failed{age}"
    )
    if report.activity is not None:
        click.echo(f"  Activity:         {activity_summary(report.activity)}")
    if report.checks:
        click.echo("  Readiness:")
        marks = {"ok": ("ok", "green"), "warn": ("WARN", "yellow"), "fail": ("FAIL", "red")}
        for check in report.checks:
            mark, colour = marks.get(check.state, ("?", "white"))
            click.echo("    " + click.style(f"{mark:<4}", fg=colour) + f" {check.name:<11} "
                       f"{check.detail}" + (f" {check.hint}" if check.hint else ""))  # fmt: skip
    s = report.store
    click.echo(
        f"  Store:            {s.backend} at {s.location}, schema {s.schema_revision}"
        + ("" if s.schema_current else " (NOT current)")
    )
    click.echo(
        f"  Data key:         version {s.key_version}"
        + (" (rotation unfinished: run `appliance rotate-key`)" if s.key_rotation_pending else "")
    )
    click.echo(
        f"  JobRoutr access:  {report.api_keys} API key(s), webhook secret "
        + ("set" if report.webhook_secret_set else "NOT set (run `appliance init`)")
    )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_ctx
@handles_errors
def status(ctx: Context, as_json: bool) -> None:
    """Show the service's state: connection, queue, store and key."""
    with _admin(ctx.settings) as client:
        report = client.get("/v1/status", StatusReport)
    if as_json:
        click.echo(json.dumps(msgspec.to_builtins(report), indent=2))
    else:
        _print_status(report)


@main.command()
@click.option("--host", default=None, help="Address to listen on [default: from the emulator URL].")
@click.option("--port", type=int, default=None, help="Port [default: from the emulator URL].")
@click.option("--client-id", default=None, help="The registered app's client id.")
@click.option("--client-secret", default=None, help="The registered app's client secret.")
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    help="A registered redirect URI (repeatable) [default: the appliance's and localhost:8780].",
)
@click.option("--customers", type=click.IntRange(0), default=0, help="Generated customers to add.")
@click.option("--items", type=click.IntRange(0), default=0, help="Generated items to add.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the generator.")
@click.option(
    "--company",
    "company_kind",
    type=click.Choice(["us-ast", "us-manual", "ca", "uk", "au"]),
    default="us-ast",
    show_default=True,
    help="The kind of the seeded companies: US with automated or manual sales tax, Canada "
    "(GST/HST), United Kingdom (VAT) or Australia (GST).",
)
@click.option(
    "--multicurrency",
    is_flag=True,
    help="Seed the companies with multi-currency on (customers and invoices in other "
    "currencies; it cannot be turned off).",
)
@click.option(
    "--state-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keep the companies and tokens in this file, so they survive a restart.",
)
@click.option("--latency-ms", type=click.FloatRange(0), default=0.0, help="Added to each call.")
@click.option("--no-limits", is_flag=True, help="Do not enforce Intuit's rate limits.")
@pass_ctx
@handles_errors
def emulator(
    ctx: Context,
    host: str | None,
    port: int | None,
    client_id: str | None,
    client_secret: str | None,
    redirect_uris: tuple[str, ...],
    customers: int,
    items: int,
    seed: int,
    company_kind: str,
    multicurrency: bool,
    state_file: Path | None,
    latency_ms: float,
    no_limits: bool,
) -> None:
    """Run the bundled QuickBooks Online emulator (OAuth, the v3 API, limits and faults).

    Its registered app defaults to the appliance's local settings, so `appliance serve` on its
    defaults connects to it. Control it while it runs at /_emulator/ (see the README).
    """
    from urllib.parse import urlsplit

    from appliance.emulator.app import DEFAULT_REDIRECT_URIS, EmulatorConfig, create_emulator_app
    from appliance.emulator.app import run as run_emulator
    from appliance.emulator.limits import Limits

    settings = ctx.settings
    _logging(settings)
    url = urlsplit(settings.qbo_emulator_url)
    uris = list(redirect_uris) or list(
        dict.fromkeys([settings.oauth_redirect_uri, *DEFAULT_REDIRECT_URIS])
    )
    config = EmulatorConfig(
        client_id=client_id or settings.qbo_client_id,
        client_secret=client_secret or settings.qbo_client_secret(),
        redirect_uris=uris,
        customers=customers,
        items=items,
        seed=seed,
        company=company_kind,
        multicurrency=multicurrency,
        state_file=state_file,
        limits=Limits(latency_ms=latency_ms, enforce=not no_limits),
    )
    app = create_emulator_app(config)
    host = host or url.hostname or "127.0.0.1"
    port = port or url.port or 8781
    click.echo(f"QBO emulator on http://{host}:{port} (client id {config.client_id})", err=True)
    run_emulator(app, host, port)


@main.command()
@click.option(
    "--redirect-url",
    metavar="URL",
    help="Finish connecting with the address the browser landed on after you chose Connect.",
)
@click.option(
    "--allow-other-company",
    is_flag=True,
    help="Allow connecting to a different company than the one whose data is here.",
)
@click.option(
    "--wait",
    "wait_seconds",
    type=click.IntRange(1),
    default=None,
    metavar="SECONDS",
    help="After printing the link, wait this long for the browser to finish connecting.",
)
@pass_ctx
@handles_errors
def connect(
    ctx: Context, redirect_url: str | None, allow_other_company: bool, wait_seconds: int | None
) -> None:
    """Connect the appliance to a QuickBooks Online company.

    Prints a link to open in any browser. If the browser cannot reach the appliance afterwards,
    paste the address it landed on: `appliance connect --redirect-url 'URL'`.
    """
    from appliance.core.admin import (
        ConnectionInfo,
        ConnectStartReport,
    )

    with _admin(ctx.settings) as client:
        if redirect_url:
            info = client.post(
                "/v1/connect/finish", ConnectionInfo, json={"redirect_url": redirect_url}
            )
            _print_connected(info)
            return
        started = client.post(
            "/v1/connect/start",
            ConnectStartReport,
            json={"allow_other_company": allow_other_company},
        )
        click.echo(
            "Open this address in a browser, sign in to QuickBooks as a company administrator "
            "and choose Connect:\n"
        )
        click.secho(f"  {started.authorization_url}\n", bold=True)
        click.echo(
            f"QuickBooks then sends the browser to {started.redirect_uri} (which must be listed "
            "as a Redirect URI of your app at Intuit). If that page does not open, copy the "
            "whole address from the browser's address bar and run:\n\n"
            "  appliance connect --redirect-url '<address>'\n\n"
            f"The link works once, until {_ago(started.expires_at)}."
        )
        if wait_seconds:
            _wait_for_connection(client, wait_seconds)


def _wait_for_connection(client: AdminClient, seconds: int) -> None:
    import time

    started = datetime.now(UTC)
    click.echo("Waiting for the browser...", err=True)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        report = client.get("/v1/status", StatusReport)
        conn = report.connection
        if (
            conn
            and conn.state == "connected"
            and conn.connected_at
            and conn.connected_at >= started
        ):
            _print_connected(conn)
            return
        time.sleep(1)
    raise ApplianceError(
        "The connection did not finish while waiting.",
        hint="If the browser showed an address after Connect, run "
        "`appliance connect --redirect-url '<address>'`.",
    )


def _print_connected(info: Any) -> None:
    click.secho("Your QuickBooks Online account is connected.", fg="green", bold=True)
    click.echo(f"  Company:      {info.company_name or '?'} (realm {info.realm_id})")
    click.echo(f"  Environment:  {info.environment}")
    click.echo(f"  Access token: expires {_ago(info.access_token_expires_at)}")
    click.echo(f"  Reconnect by: {_ago(info.refresh_token_expires_at)} (renewed as it is used)")


@main.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@handles_errors
def disconnect(ctx: Context, yes: bool) -> None:
    """Disconnect from QuickBooks Online: revoke at Intuit and delete the tokens.

    Imported customers, products, accounts and links are kept, so reconnecting to the same
    company carries on where it left off.
    """
    from appliance.core.admin import DisconnectReport

    if not yes:
        click.confirm("Disconnect from QuickBooks Online?", abort=True)
    with _admin(ctx.settings) as client:
        report = client.post("/v1/disconnect", DisconnectReport)
    name = report.company_name or report.realm_id
    click.echo(f"Disconnected from {name} (realm {report.realm_id}). Imported data was kept.")
    click.echo(
        "The authorization was revoked at Intuit."
        if report.revoked_at_intuit
        else f"Note: {report.note}"
    )


@main.command("import")
@click.argument("kind", type=click.Choice(["customers", "products", "accounts"]))
@click.option("--wait", is_flag=True, help="Show progress until the import ends.")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@click.option("--cancel", is_flag=True, help="Ask the running import of KIND to stop.")
@click.option("--last", is_flag=True, help="Show the latest run (progress or summary).")
@pass_ctx
@handles_errors
def import_(ctx: Context, kind: str, wait: bool, as_json: bool, cancel: bool, last: bool) -> None:
    """Import customers, products or accounts from QuickBooks (run by the service).

    Items without a name or a price are not imported; the summary lists each with its reason.
    """
    from appliance.core.admin import ImportReport

    with _admin(ctx.settings) as client:
        if cancel:
            report = client.post(f"/v1/imports/{kind}/cancel", ImportReport)
            click.echo(f"Asked import {report.run_id} of {kind} to stop.")
            return
        if last:
            report = client.get(f"/v1/imports/{kind}", ImportReport)
        else:
            report = client.post(f"/v1/imports/{kind}", ImportReport)
            if not as_json:
                click.echo(f"Import {report.run_id} of {kind} started.", err=True)
        if wait:
            report = _follow_import(client, kind, quiet=as_json)
    if as_json:
        click.echo(json.dumps(msgspec.to_builtins(report), indent=2))
    elif wait or last:
        _print_import(report)
    if wait and report.state != "done":
        sys.exit(EXIT_ERROR)


def _follow_import(client: AdminClient, kind: str, *, quiet: bool) -> Any:
    import time

    from appliance.core.admin import ImportReport

    tty = sys.stderr.isatty()
    while True:
        report = client.get(f"/v1/imports/{kind}", ImportReport)
        if not quiet:
            total = report.total if report.total is not None else "?"
            seen = report.done + report.skipped
            line = f"  {seen} of {total}"
            if report.rate_per_second:
                line += f"  {report.rate_per_second:.0f}/s"
            if report.eta_seconds is not None and report.state == "running":
                line += f"  about {report.eta_seconds:.0f}s left"
            click.echo(("\r" + line + "   ") if tty else line, err=True, nl=not tty)
        if report.state != "running":
            if tty and not quiet:
                click.echo("", err=True)
            return report
        time.sleep(0.5 if tty else 2)


def _print_import(report: Any) -> None:
    seconds = (
        (report.finished_at - report.started_at).total_seconds() if report.finished_at else None
    )
    took = f" in {seconds:.1f}s" if seconds is not None else ""
    click.secho(f"Import {report.run_id} of {report.kind}: {report.state}{took}", bold=True)
    click.echo(
        f"  Imported {report.done}, skipped {report.skipped} of {report.total}; "
        f"{report.qbo_calls} QuickBooks calls."
    )
    if report.error:
        click.secho(f"  Error: {report.error}", fg="red")
    for skip in report.skips[:50]:
        click.echo(f"  Skipped {skip.name or '(no name)'} (QBO id {skip.qbo_id}): {skip.reason}")
    if len(report.skips) > 50:
        click.echo(f"  ... and {len(report.skips) - 50} more (see --json).")


@main.command()
@click.option("--kind", type=click.Choice(["income", "expense"]), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the accounts as JSON.")
@pass_ctx
@handles_errors
def accounts(ctx: Context, kind: str, as_json: bool) -> None:
    """List the accounts that may be the default income or expense account.

    From the imported chart of accounts (`appliance import accounts`): active accounts of type
    Income or Other Income, or Cost of Goods Sold, Expense or Other Expense.
    """
    from appliance.core.admin import AccountInfo

    with _admin(ctx.settings) as client:
        found = client.get(f"/v1/accounts?kind={kind}", list[AccountInfo])
    if as_json:
        click.echo(json.dumps(msgspec.to_builtins(found), indent=2))
        return
    if not found:
        click.echo(f"No {kind} accounts. Run `appliance import accounts` first.")
        return
    for account in found:
        click.echo(
            f"  {account.qbo_id:>6}  {account.fully_qualified_name}  ({account.account_type})"
        )


@main.group(invoke_without_command=True)
@click.pass_context
def settings(click_ctx: click.Context) -> None:
    """Show or change the company's default income and expense accounts."""
    if click_ctx.invoked_subcommand is None:
        click_ctx.invoke(settings_show)


@settings.command("show")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@handles_errors
def settings_show(ctx: Context, as_json: bool = False) -> None:
    """Show the default accounts."""
    from appliance.core.admin import SettingsInfo

    with _admin(ctx.settings) as client:
        info = client.get("/v1/settings", SettingsInfo)
    _print_settings(info, as_json)


@settings.command("set")
@click.option("--income-account", "income", metavar="ID", help="QBO id of an income account.")
@click.option("--expense-account", "expense", metavar="ID", help="QBO id of an expense account.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@handles_errors
def settings_set(ctx: Context, income: str | None, expense: str | None, as_json: bool) -> None:
    """Choose the default accounts for new products (saved at once; change them any time)."""
    from appliance.core.admin import SettingsInfo

    with _admin(ctx.settings) as client:
        info = client.request(
            "PUT",
            "/v1/settings",
            SettingsInfo,
            json={"income_account_id": income, "expense_account_id": expense},
        )
    if not as_json:
        click.echo("Saved. New products pushed to QuickBooks use these accounts.")
    _print_settings(info, as_json)


def _print_settings(info: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(msgspec.to_builtins(info), indent=2))
        return
    for label, account in (("income", info.income_account), ("expense", info.expense_account)):
        shown = f"{account.fully_qualified_name} (id {account.qbo_id})" if account else "not set"
        click.echo(f"  Default {label} account:  {shown}")


@main.command()
@click.option("--complete", is_flag=True, help="Mark this setup step complete.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@handles_errors
def onboarding(ctx: Context, complete: bool, as_json: bool) -> None:
    """Show the setup tasks (connect, import customers, accounts, import products)."""
    from appliance.core.admin import OnboardingInfo

    with _admin(ctx.settings) as client:
        if complete:
            info = client.post("/v1/onboarding/complete", OnboardingInfo)
        else:
            info = client.get("/v1/onboarding", OnboardingInfo)
    if as_json:
        click.echo(json.dumps(msgspec.to_builtins(info), indent=2))
        return
    for task in info.tasks:
        click.echo(f"  [{'x' if task.done else ' '}] {task.name}")
    if info.completed_at:
        click.echo(f"Marked complete {_ago(info.completed_at)}.")
        if info.skipped:
            click.echo(f"  Left undone: {', '.join(info.skipped)}.")


@main.group(invoke_without_command=True)
@click.option(
    "--status",
    type=click.Choice(EVENT_STATUSES),
    default=None,
    help="Only events in this status.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, EVENTS_MAX_LIMIT),
    default=50,
    show_default=True,
    help="How many events to show.",
)
@click.option("--before", metavar="ID", help="Only events older than this one (the next page).")
@click.option("--json", "as_json", is_flag=True, help="Print the events as JSON.")
@click.pass_context
def events(
    click_ctx: click.Context, status: str | None, limit: int, before: str | None, as_json: bool
) -> None:
    """List the events JobRoutr sent, newest first; show, retry or skip them.

    A failed event shows QuickBooks' reason and what to do; fix the cause, then retry it. A
    waiting event says what it waits for and goes on by itself once that is there.
    """
    if click_ctx.invoked_subcommand is None:
        _list_events(click_ctx.obj, status, limit, before, as_json)


@handles_errors
def _list_events(
    ctx: Context, status: str | None, limit: int, before: str | None, as_json: bool
) -> None:
    from appliance.core.admin import EventList

    params: dict[str, Any] = {"limit": limit}
    if status:
        params["status"] = status
    if before:
        params["before"] = before
    with _admin(ctx.settings) as client:
        found = client.request("GET", "/v1/events", EventList, params=params)
    if as_json:
        click.echo(json.dumps(msgspec.to_builtins(found), indent=2))
        return
    _print_events(found, status, limit)


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _count(n: int, noun: str = "event") -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


STATUS_COLOURS = {"failed": "red", "waiting": "yellow", "done": "green", "running": "cyan"}


def _print_events(found: Any, status: str | None, limit: int) -> None:
    if not found.items:
        click.echo(f"No {status} events." if status else "No events have been received yet.")
    else:
        header = ("RECEIVED (UTC)", "EVENT", "TYPE", "RECORD", "STATUS", "TRIES", "QBO ID")
        rows = [
            (
                _when(e.received_at),
                e.event_id,
                e.type,
                e.record_id or "-",
                e.status,
                str(e.attempts),
                e.qbo_id or "-",
            )
            for e in found.items
        ]
        widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
        click.secho("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), bold=True)
        for info, row in zip(found.items, rows, strict=True):
            cells = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
            cells[4] = click.style(cells[4], fg=STATUS_COLOURS.get(info.status))
            click.echo("  ".join(cells).rstrip())
            for line in _event_notes(info):
                click.echo(f"    {line}")
    summary = ", ".join(f"{n} {s}" for s, n in found.counts.items() if n)
    total = sum(found.counts.values())
    if total:
        click.echo(f"\n{_count(total)} in all: {summary}.")
    if found.next_before:
        more = f"appliance events --before {found.next_before}"
        if status:
            more += f" --status {status}"
        if limit != 50:
            more += f" --limit {limit}"
        click.echo(f"Older events: `{more}`")


def _event_notes(info: Any) -> list[str]:
    """The lines under an event's row: why it failed and what to do, or what it waits for."""
    notes = []
    if info.error is not None:
        notes.append(click.style(f"{info.error.code}: {info.error.message}", fg="red"))
        if info.error.hint:
            notes.append(f"Hint: {info.error.hint}")
    if info.status == "waiting" and info.waiting_for:
        notes.append(f"Waiting for {info.waiting_for}")
    if info.status == "queued" and info.last_error:
        notes.append(
            f"Last attempt: {info.last_error} (next attempt {_when(info.next_attempt_at)} UTC)"
        )
    return notes


@events.command("show")
@click.argument("event_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the event as JSON.")
@pass_ctx
@handles_errors
def events_show(ctx: Context, event_id: str, as_json: bool) -> None:
    """Show one event and what became of it.

    Its status, attempts and QuickBooks id, and why it failed or what it waits for.
    """
    from urllib.parse import quote

    from appliance.core.admin import EventInfo

    with _admin(ctx.settings) as client:
        info = client.get(f"/v1/events/{quote(event_id, safe='')}", EventInfo)
    if as_json:
        click.echo(json.dumps(msgspec.to_builtins(info), indent=2))
        return
    click.secho(f"Event {info.event_id} ({info.type})", bold=True)
    record = " ".join(p for p in (info.record_kind, info.record_id) if p) or "-"
    status = click.style(info.status, fg=STATUS_COLOURS.get(info.status))
    lines = [
        ("Record", record),
        ("Status", status),
        ("Waiting for", info.waiting_for),
        ("Next attempt", f"{_when(info.next_attempt_at)} UTC" if info.next_attempt_at else None),
        ("Attempts", str(info.attempts)),
        ("QuickBooks id", info.qbo_id or "-"),
        ("Occurred", f"{_when(info.occurred_at)} UTC" if info.occurred_at else None),
        ("Received", f"{_when(info.received_at)} UTC"),
        ("Updated", f"{_when(info.updated_at)} UTC"),
        ("Last error", info.last_error),
    ]
    if info.error is not None:
        lines.append(("Error", click.style(f"{info.error.code}: {info.error.message}", fg="red")))
        lines.append(("Hint", info.error.hint))
    for label, value in lines:
        if value:
            click.echo(f"  {label + ':':<15}{value}")
    if info.status in ("failed", "waiting"):
        click.echo(
            f"\nRetry it with `appliance events retry {info.event_id}`, or give up on it with "
            f"`appliance events skip {info.event_id}`."
        )


def _event_action(ids: tuple[str, ...], all_failed: bool, action: str) -> dict[str, Any]:
    """The request body; exactly one of the ids or --all-failed (else a sentence, exit 2)."""
    if bool(ids) == all_failed:
        _refuse(
            f"Give the ids of the events to {action}, or --all-failed, not both."
            if ids
            else f"Say which events to {action}: their ids, or --all-failed.",
            hint="`appliance events --status failed` lists the failed events with their ids.",
        )
    return {"all_failed": True} if all_failed else {"event_ids": list(dict.fromkeys(ids))}


def _print_action(report: Any, as_json: bool, done: str, then: str) -> None:
    if as_json:
        click.echo(json.dumps(msgspec.to_builtins(report), indent=2))
    elif not report.count:
        click.echo(f"{done} 0 events: none had failed.")
    else:
        click.echo(f"{done} {_count(report.count)} ({then}):")
        for event_id in report.event_ids:
            click.echo(f"  {event_id}")


@events.command("retry")
@click.argument("event_ids", nargs=-1, metavar="[ID]...")
@click.option("--all-failed", is_flag=True, help="Retry every failed event.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
@handles_errors
def events_retry(ctx: Context, event_ids: tuple[str, ...], all_failed: bool, as_json: bool) -> None:
    """Queue failed or waiting events again.

    They go to QuickBooks in the order they were received. Give the ids of the events
    (`appliance events --status failed` lists them), or --all-failed. Fix what the error said
    first: a retry sends the same event again.
    """
    from appliance.core.admin import EventActionReport

    body = _event_action(event_ids, all_failed, "retry")
    with _admin(ctx.settings) as client:
        report = client.post("/v1/events/retry", EventActionReport, json=body)
    _print_action(report, as_json, "Retried", "queued again")


@events.command("skip")
@click.argument("event_ids", nargs=-1, metavar="[ID]...")
@click.option("--all-failed", is_flag=True, help="Skip every failed event.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
@handles_errors
def events_skip(
    ctx: Context, event_ids: tuple[str, ...], all_failed: bool, yes: bool, as_json: bool
) -> None:
    """Give up on failed or waiting events for good.

    They are never written to QuickBooks: they end as ignored (code skipped). Asks first,
    unless --yes is given.
    """
    from appliance.core.admin import EventActionReport, EventList

    body = _event_action(event_ids, all_failed, "skip")
    if not yes and not sys.stdin.isatty():
        _refuse(
            "Skipping events needs a confirmation, and there is no terminal to ask on.",
            hint="Add --yes to skip them without being asked.",
        )
    with _admin(ctx.settings) as client:
        if not yes:
            if all_failed:
                failed = client.request(
                    "GET", "/v1/events", EventList, params={"status": "failed", "limit": 1}
                ).counts.get("failed", 0)
                if not failed:
                    report = EventActionReport(action="skip", event_ids=[], count=0)
                    _print_action(report, as_json, "Skipped", "")
                    return
                what = f"all {_count(failed, 'failed event')}"
            else:
                what = ", ".join(body["event_ids"])
            click.confirm(
                f"Skip {what}? Skipped events are never written to QuickBooks.", abort=True
            )
        report = client.post("/v1/events/skip", EventActionReport, json=body)
    _print_action(report, as_json, "Skipped", "never written to QuickBooks")


@main.command()
@pass_ctx
@handles_errors
def tui(ctx: Context) -> None:
    """Open the operator console (status, connect, import, accounts, onboarding): keys only."""
    from appliance.tui.app import ConsoleApp  # Textual loads only for the console

    ConsoleApp(ctx.settings.admin_socket_path).run()
