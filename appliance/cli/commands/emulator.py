"""``appliance emulator``: the bundled QuickBooks Online emulator, alone or inside the service.

Its registered app defaults to the appliance's local settings either way, so `appliance serve`
on its defaults connects to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from appliance.cli.base import CliContext, handles_errors, pass_ctx, start_logging
from appliance.config import Settings
from appliance.errors import SettingsError


@click.command()
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
    ctx: CliContext,
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
    start_logging(settings)
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


def embedded_address(settings: Settings) -> tuple[str, int]:
    """Where the bundled emulator listens: its URL's host (on this machine) and port."""
    from urllib.parse import urlsplit

    url = urlsplit(settings.qbo_emulator_url)
    if url.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SettingsError(
            f"Setting APPLIANCE_QBO_EMULATOR_URL ({settings.qbo_emulator_url}) is not on this "
            "machine, so the bundled emulator cannot serve it.",
            setting="qbo_emulator_url",
            hint="Run `appliance emulator` there and set APPLIANCE_QBO_EMULATOR_EMBEDDED=false.",
        )
    return url.hostname or "127.0.0.1", url.port or 80


def embedded(settings: Settings) -> tuple[Any, Any]:
    """The bundled QBO emulator, on its URL's port, in the service's process (local defaults)."""
    from appliance.emulator.app import DEFAULT_REDIRECT_URIS, EmulatorConfig, create_emulator_app
    from appliance.gateway.server import bind_tcp

    host, port = embedded_address(settings)
    config = EmulatorConfig(
        client_id=settings.qbo_client_id,
        client_secret=settings.qbo_client_secret(),
        redirect_uris=list(dict.fromkeys([settings.oauth_redirect_uri, *DEFAULT_REDIRECT_URIS])),
        state_file=settings.state_dir / "emulator.json",
    )
    sock = bind_tcp(host, port, "APPLIANCE_QBO_EMULATOR_URL")
    return create_emulator_app(config), sock
