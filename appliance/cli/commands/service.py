"""The service's own commands: set it up, run it, look after its store and key, see its state.

``init``, ``migrate`` and ``restore`` work on the store directly (under the store's lock, so never
beside a running service); ``status`` and ``backup`` ask the running service; ``rotate-key`` asks
it, or rotates here when it is not running. ``tui`` opens the console.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from appliance.cli.base import (
    CliContext,
    actor,
    admin,
    handles_errors,
    pass_ctx,
    refuse,
    start_logging,
)
from appliance.cli.rendering import print_json, print_status
from appliance.config import Settings
from appliance.core.admin import KeyRotationReport
from appliance.errors import (
    AdminError,
    ApplianceError,
    KeyNotHeldError,
    ServiceNotRunningError,
)
from appliance.logging import get_logger, register_secret


@click.command()
@pass_ctx
@handles_errors
def init(ctx: CliContext) -> None:
    """Create the state directory, data key, database, API key and webhook secret.

    Safe to run again: an existing key is never replaced, and the API key and webhook secret are
    only created (and shown, once) when there are none.
    """
    start_logging(ctx.settings)
    _initialise(ctx.settings)


def _initialise(settings: Settings) -> None:
    from appliance.storage.store import initialize

    result = initialize(settings, actor=actor())
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


@click.command()
@click.option(
    "--init",
    "init_first",
    is_flag=True,
    help="Check that the ports are free, then initialise (as `appliance init`), then serve: "
    "what `python3 tasks.py run` does. A busy port stops it before anything is initialised.",
)
@pass_ctx
@handles_errors
def serve(ctx: CliContext, init_first: bool) -> None:
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
    if init_first:
        _check_ports(settings)
        start_logging(settings)
        _initialise(settings)
        click.echo(
            "\nThe appliance is starting. In another terminal, with the same APPLIANCE_* "
            "settings (or --config): .venv/bin/appliance status\n"
        )
    start_logging(settings, to_stderr=False)
    if dumpable is not None:
        get_logger(__name__).warning("service.core_dumps_possible", reason=dumpable)
    with store_lock(settings, "serve"):  # for the service's whole life
        ensure_not_running(settings.admin_socket_path)
        extra = []
        if settings.qbo_environment == "emulator" and settings.qbo_emulator_embedded:
            from appliance.cli.commands.emulator import embedded

            extra.append(embedded(settings))
        store = Store.open(settings)
        try:
            store.migrate()
            asyncio.run(run_server(settings, store, extra))
        finally:
            store.close()


def _check_ports(settings: Settings) -> None:
    """Every port and socket ``serve`` will take, taken and let go: a busy one is one sentence
    that names it and its setting, before ``--init`` sets anything up."""
    from appliance.gateway.server import bind_tcp, ensure_not_running

    ensure_not_running(settings.admin_socket_path)
    bind_tcp(settings.http_host, settings.http_port).close()
    if settings.qbo_environment == "emulator" and settings.qbo_emulator_embedded:
        from appliance.cli.commands.emulator import embedded_address

        host, port = embedded_address(settings)
        bind_tcp(host, port, "APPLIANCE_QBO_EMULATOR_URL").close()


@click.command()
@pass_ctx
@handles_errors
def migrate(ctx: CliContext) -> None:
    """Bring the database schema up to this release (the service also does this at start)."""
    from appliance.storage.lock import store_lock
    from appliance.storage.store import Store

    settings = ctx.settings
    start_logging(settings)
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


@click.command("rotate-key")
@pass_ctx
@handles_errors
def rotate_key(ctx: CliContext) -> None:
    """Re-seal every stored secret under a new data key, then retire the old key.

    The new key is first written to the key file beside the old one. With several instances on
    one database, nothing is re-sealed until every live instance holds it: with a copy of the key
    file on each, the command names those without it and exits 75; copy the file to them (each
    loads it by itself) and run it again. With one instance, or one file they all read, it
    finishes at once. Safe to interrupt: run it again and it finishes the same rotation. While
    the service runs, the service does the rotation so it never seals with a retired key.
    """
    settings = ctx.settings
    try:
        with admin(settings, timeout=600) as client:
            report = client.rotate_key()
    except ServiceNotRunningError:
        report = _rotate_here(settings)
    except AdminError as exc:
        if exc.status == KeyNotHeldError.http_status:  # exit 75, as when run here
            raise KeyNotHeldError(exc.message, hint=exc.hint) from None
        raise
    if report.resumed:
        click.echo("Finished an interrupted rotation.")
    old = ", ".join(str(v) for v in report.old_key_versions) or "none"
    click.echo(
        f"Re-sealed {report.resealed} secrets under key version {report.new_key_version}; "
        f"retired key version(s): {old}."
    )


def _rotate_here(settings: Settings) -> KeyRotationReport:
    """The rotation done by this command, when no service answers (under the store's lock)."""
    from appliance.storage.lock import store_lock
    from appliance.storage.store import Store

    start_logging(settings)
    # A service answering on another socket would go on sealing with the retired key.
    with store_lock(settings, "rotate-key"):
        store = Store.open(settings)
        try:
            store.migrate()
            result = store.rotate_key(actor=actor())
        finally:
            store.close()
    return KeyRotationReport(
        old_key_versions=list(result.old_versions),
        new_key_version=result.new_version,
        resealed=result.resealed,
        resumed=result.resumed,
    )


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@pass_ctx
@handles_errors
def backup(ctx: CliContext, file: Path, force: bool) -> None:
    """Write a consistent copy of the store to FILE while the service runs (owner-only).

    The copy holds every event acknowledged before it began. The data key is not in it: keep a
    copy of the keyring file (it changes only with `appliance rotate-key`) apart from backups.
    """
    from appliance.storage.backup import describe

    _refuse_on_server(ctx.settings, file, "backup")
    if file.exists() and not force:
        raise ApplianceError(f"{file} exists already.", hint="Choose another name, or --force.")
    with admin(ctx.settings) as client:
        client.backup(file)
    info = describe(file)
    click.echo(
        f"Backup written to {file}: {info.size / 1e6:.1f} MB, {info.events} events, "
        f"schema {info.schema_revision}."
    )
    click.echo(f"Restoring it also needs the data key: {ctx.settings.key_path}.")


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@handles_errors
def restore(ctx: CliContext, file: Path, yes: bool) -> None:
    """Replace the store with a backup made by `appliance backup`. Stop the service first.

    The backup must be readable with this appliance's data key and of this release or an older
    one (the next start brings its schema up to date). Refused while the service runs, whatever
    admin socket it answers on; safe to interrupt (the store is the old one or the backup).
    """
    from appliance.storage.lock import store_lock

    settings = ctx.settings
    _refuse_on_server(settings, file, "restore")
    start_logging(settings)
    with store_lock(settings, "restore"):  # from the checks to the swap: no start in between
        _restore(settings, file, yes)


def _refuse_on_server(settings: Settings, file: Path, doing: str) -> None:
    """On PostgreSQL the server's own tools back up and restore, consistently while the service
    runs: refuse with the exact command for the configured database (exit 2)."""
    from appliance.storage.backup import server_commands

    commands = server_commands(settings.database_url, settings.database_password_file, file)
    if commands is None:
        return
    dump, restore = commands
    if doing == "backup":
        refuse(
            "The store is on PostgreSQL: back it up with pg_dump, which takes a consistent "
            "copy while the service runs.",
            f"Run: {dump}   Keep a copy of the data key {settings.key_path} apart from it "
            "(the secrets in the dump are sealed with it).",
        )
    refuse(
        "The store is on PostgreSQL: restore a pg_dump copy with pg_restore, the service "
        "stopped (on every instance).",
        f"Run: {restore}   Then start the service: it brings the schema up to date. The data "
        "key in use when the copy was taken must be in place.",
    )


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


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_ctx
@handles_errors
def status(ctx: CliContext, as_json: bool) -> None:
    """Show the service's state: connection, queue, store and key."""
    with admin(ctx.settings) as client:
        report = client.status()
    if as_json:
        print_json(report)
    else:
        print_status(report)


@click.command()
@pass_ctx
@handles_errors
def tui(ctx: CliContext) -> None:
    """Open the operator console (status, connect, import, accounts, onboarding): keys only."""
    from appliance.tui.app import ConsoleApp  # Textual loads only for the console

    ConsoleApp(ctx.settings.admin_socket_path).run()
