"""The company's commands: connect to QuickBooks, import from it, choose its default accounts.

Each asks the running service (the admin API) and prints its answer; the service does the work.
"""

from __future__ import annotations

import sys
import time

import click

from appliance.cli.base import EXIT_ERROR, CliContext, admin, handles_errors, pass_ctx
from appliance.cli.rendering import (
    print_accounts,
    print_connect_link,
    print_connected,
    print_import,
    print_import_progress,
    print_json,
    print_onboarding,
    print_settings,
)
from appliance.core.admin import ATTEMPT_CONNECTED, ImportReport
from appliance.core.admin_client import AdminClient
from appliance.core.kinds import IMPORTED
from appliance.errors import ApplianceError


@click.command()
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
    ctx: CliContext, redirect_url: str | None, allow_other_company: bool, wait_seconds: int | None
) -> None:
    """Connect the appliance to a QuickBooks Online company.

    Prints a link to open in any browser. If the browser cannot reach the appliance afterwards,
    paste the address it landed on: `appliance connect --redirect-url 'URL'`.
    """
    with admin(ctx.settings) as client:
        if redirect_url:
            print_connected(client.connect_finish(redirect_url))
            return
        started = client.connect_start(allow_other_company=allow_other_company)
        print_connect_link(started)
        if wait_seconds:
            _wait_for_connection(client, started.attempt, wait_seconds)


def _wait_for_connection(client: AdminClient, attempt: str, seconds: int) -> None:
    """Until the browser finishes: connected (printed), or what its page said (an error)."""
    click.echo("Waiting for the browser...", err=True)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = client.connect_attempt(attempt)
        if found.state == ATTEMPT_CONNECTED and found.connection is not None:
            print_connected(found.connection)
            return
        if found.message:
            raise ApplianceError(found.message, hint=found.hint)
        time.sleep(1)
    raise ApplianceError(
        "The connection did not finish while waiting.",
        hint="If the browser showed an address after Connect, run "
        "`appliance connect --redirect-url '<address>'`.",
    )


@click.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@handles_errors
def disconnect(ctx: CliContext, yes: bool) -> None:
    """Disconnect from QuickBooks Online: revoke at Intuit and delete the tokens.

    Imported customers, products, accounts and links are kept, so reconnecting to the same
    company carries on where it left off.
    """
    if not yes:
        click.confirm("Disconnect from QuickBooks Online?", abort=True)
    with admin(ctx.settings) as client:
        report = client.disconnect()
    name = report.company_name or report.realm_id
    click.echo(f"Disconnected from {name} (realm {report.realm_id}). Imported data was kept.")
    click.echo(
        "The authorization was revoked at Intuit."
        if report.revoked_at_intuit
        else f"Note: {report.note}"
    )


@click.command("import")
@click.argument("kind", type=click.Choice([kind.plural for kind in IMPORTED]))
@click.option("--wait", is_flag=True, help="Show progress until the import ends.")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@click.option("--cancel", is_flag=True, help="Ask the running import of KIND to stop.")
@click.option("--last", is_flag=True, help="Show the latest run (progress or summary).")
@pass_ctx
@handles_errors
def import_(
    ctx: CliContext, kind: str, wait: bool, as_json: bool, cancel: bool, last: bool
) -> None:
    """Import customers, products, accounts or tax_codes from QuickBooks (run by the service).

    Items without a name or a price are not imported; the summary lists each with its reason.
    An accounts import also reads the company's settings again (country, sales tax, currencies).
    tax_codes brings in the sales-tax codes with their rates, to map JobRoutr's rates to.
    """
    with admin(ctx.settings) as client:
        if cancel:
            report = client.import_cancel(kind)
            click.echo(f"Asked import {report.run_id} of {kind} to stop.")
            return
        if last:
            report = client.import_latest(kind)
        else:
            report = client.import_start(kind)
            if not as_json:
                click.echo(f"Import {report.run_id} of {kind} started.", err=True)
        if wait:
            report = _follow_import(client, kind, quiet=as_json)
    if as_json:
        print_json(report)
    elif wait or last:
        print_import(report)
    if wait and report.state != "done":
        sys.exit(EXIT_ERROR)


def _follow_import(client: AdminClient, kind: str, *, quiet: bool) -> ImportReport:
    tty = sys.stderr.isatty()
    while True:
        report = client.import_latest(kind)
        if not quiet:
            print_import_progress(report, tty)
        if report.state != "running":
            if tty and not quiet:
                click.echo("", err=True)
            return report
        time.sleep(0.5 if tty else 2)


@click.command()
@click.option(
    "--kind", type=click.Choice(["income", "expense", "discount", "deposit"]), required=True
)
@click.option("--json", "as_json", is_flag=True, help="Print the accounts as JSON.")
@pass_ctx
@handles_errors
def accounts(ctx: CliContext, kind: str, as_json: bool) -> None:
    """List the accounts that may be the default income, expense, discount or deposit account.

    From the imported chart of accounts (`appliance import accounts`): active accounts of type
    Income or Other Income, or Cost of Goods Sold, Expense or Other Expense. For discounts the
    suggested one (subtype DiscountsRefundsGiven) comes first: choose it with
    `appliance taxes discount-account ID`. Deposit: the Bank or Other Current Asset accounts
    payments may be deposited to (`appliance settings set --deposit-account ID`); with none
    chosen they go to QuickBooks' Undeposited Funds.
    """
    with admin(ctx.settings) as client:
        found = client.discount_accounts() if kind == "discount" else client.accounts(kind)
    if as_json:
        print_json(found)
    else:
        print_accounts(found, kind)


@click.group(invoke_without_command=True)
@click.pass_context
def settings(click_ctx: click.Context) -> None:
    """Show or change the company's default income and expense accounts and the account
    payments are deposited to."""
    if click_ctx.invoked_subcommand is None:
        click_ctx.invoke(settings_show)


@settings.command("show")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@handles_errors
def settings_show(ctx: CliContext, as_json: bool = False) -> None:
    """Show the default accounts."""
    with admin(ctx.settings) as client:
        info = client.settings()
    print_settings(info, as_json)


@settings.command("set")
@click.option("--income-account", "income", metavar="ID", help="QBO id of an income account.")
@click.option("--expense-account", "expense", metavar="ID", help="QBO id of an expense account.")
@click.option(
    "--deposit-account",
    "deposit",
    metavar="ID",
    help="QBO id of the Bank or Other Current Asset account payments are deposited to.",
)
@click.option(
    "--undeposited-funds",
    is_flag=True,
    help="Deposit payments to QuickBooks' Undeposited Funds again (the default).",
)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@handles_errors
def settings_set(
    ctx: CliContext,
    income: str | None,
    expense: str | None,
    deposit: str | None,
    undeposited_funds: bool,
    as_json: bool,
) -> None:
    """Choose the default accounts for new products, and the account payments are deposited to
    (saved at once; change them any time)."""
    if deposit is not None and undeposited_funds:
        raise click.UsageError("Give --deposit-account ID or --undeposited-funds, not both.")
    with admin(ctx.settings) as client:
        info = client.save_settings(income, expense, "" if undeposited_funds else deposit)
    if not as_json:
        click.echo("Saved. Products and payments pushed to QuickBooks from now on use these.")
    print_settings(info, as_json)


@click.command()
@click.option("--complete", is_flag=True, help="Mark this setup step complete.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@handles_errors
def onboarding(ctx: CliContext, complete: bool, as_json: bool) -> None:
    """Show the setup tasks (connect, import customers, accounts, import products)."""
    with admin(ctx.settings) as client:
        info = client.complete_onboarding() if complete else client.onboarding()
    if as_json:
        print_json(info)
    else:
        print_onboarding(info, just_completed=complete)
