"""The ``appliance`` click group; each command lives in ``appliance.cli.commands``, by group.

Named ``root`` rather than Litestar's ``main`` so that ``appliance.cli.main`` stays the command
(entry points and tests import it) and never a module that shadows it.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from appliance import __version__
from appliance.cli.base import CliContext
from appliance.cli.commands import company, emulator, events, service, taxes
from appliance.config import CONFIG_ENV


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
    ctx.obj = CliContext(config)


for command in (
    service.init,
    service.serve,
    service.migrate,
    service.rotate_key,
    service.backup,
    service.restore,
    service.status,
    emulator.emulator,
    company.connect,
    company.disconnect,
    company.import_,
    company.accounts,
    company.settings,
    company.onboarding,
    taxes.taxes,
    events.events,
    service.tui,
):
    main.add_command(command)
