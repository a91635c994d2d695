"""The tax step's commands: map JobRoutr's tax rates to QuickBooks tax codes, choose the code for
untaxed lines and the discount account. Each choice is saved at once by the running service, and
the invoices waiting for it go on."""

from __future__ import annotations

import click

from appliance.cli.base import CliContext, admin, handles_errors, pass_ctx
from appliance.cli.rendering import print_json
from appliance.core.admin import TaxCodeView, TaxesInfo, TaxRateView


def code_text(code: TaxCodeView | None) -> str:
    if code is None:
        return "-"
    percent = f", {code.percent} %" if code.percent is not None else ""
    group = ", group" if code.tax_group else ""
    return f"{code.name} (id {code.qbo_id}{percent}{group})"


def rate_line(rate: TaxRateView) -> str:
    if rate.mapped is not None:
        state = f"→ {code_text(rate.mapped)}"
    elif rate.suggested is not None:
        state = f"not mapped; suggested: {code_text(rate.suggested)}"
    else:
        state = "not mapped; no code of this percent"
    return f"  {rate.jobroutr_rate_id:<14} {rate.name} ({rate.percent} %)  {state}"


def print_taxes(info: TaxesInfo) -> None:
    click.echo(f"Tax model: {info.tax_model_name}.")
    if info.rates:
        click.echo("JobRoutr tax rates:")
        for rate in info.rates:
            click.echo(rate_line(rate))
    else:
        click.echo("No JobRoutr tax rates yet: a rate is learned from the first invoice using it.")
    if not info.needs_mapping and info.tax_model:
        click.echo("  (This company needs no mapping: invoices are written without one.)")
    if info.needs_untaxed_code:
        click.echo(f"Code for untaxed lines: {code_text(info.untaxed_tax_code)}")
        if info.untaxed_tax_code is None and info.suggested_untaxed_tax_code:
            click.echo(f"  suggested: {code_text(info.suggested_untaxed_tax_code)}")
    discount = info.discount_account
    click.echo(
        "Discount account: "
        + (f"{discount.fully_qualified_name} (id {discount.qbo_id})" if discount else "-")
    )
    suggested = info.suggested_discount_account
    if discount is None and suggested is not None:
        click.echo(f"  suggested: {suggested.fully_qualified_name} (id {suggested.qbo_id})")
    for sentence in info.missing:
        click.secho(f"! {sentence}", fg="yellow")


@click.group(invoke_without_command=True)
@click.pass_context
def taxes(click_ctx: click.Context) -> None:
    """Map JobRoutr's tax rates to QuickBooks tax codes; choose the untaxed code and the
    discount account.

    A rate is learned from the first invoice that uses it; its invoices wait until it is mapped.
    Companies with automated sales tax need no mapping.
    """
    if click_ctx.invoked_subcommand is None:
        click_ctx.invoke(taxes_list)


@taxes.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print it all as JSON.")
@pass_ctx
@handles_errors
def taxes_list(ctx: CliContext, as_json: bool = False) -> None:
    """List JobRoutr's tax rates with their suggested and mapped codes."""
    with admin(ctx.settings) as client:
        info = client.taxes()
    if as_json:
        print_json(info)
    else:
        print_taxes(info)


@taxes.command("codes")
@click.option("--json", "as_json", is_flag=True, help="Print the codes as JSON.")
@pass_ctx
@handles_errors
def taxes_codes(ctx: CliContext, as_json: bool) -> None:
    """List the company's active tax codes and what each charges."""
    with admin(ctx.settings) as client:
        found = client.tax_codes()
    if as_json:
        print_json(found)
        return
    if not found:
        click.echo("No tax codes imported yet. Import them from QuickBooks first.")
    for code in found:
        rates = " + ".join(f"{r.name} {r.percent} %" for r in code.rates) or "no sales rate"
        click.echo(f"  {code.qbo_id:>6}  {code.name}  ({rates})")


@taxes.command("map")
@click.argument("rate_id")
@click.argument("code_id")
@click.option(
    "--force",
    is_flag=True,
    help="Map to a code of another percent anyway (audited; its invoices will end `mismatch`).",
)
@pass_ctx
@handles_errors
def taxes_map(ctx: CliContext, rate_id: str, code_id: str, force: bool) -> None:
    """Map JobRoutr's tax rate RATE_ID to the QuickBooks tax code CODE_ID.

    The code must be active and charge the rate's percent. Invoices waiting for the rate go on.
    """
    with admin(ctx.settings) as client:
        rate = client.map_tax_rate(rate_id, code_id, force=force)
    click.echo(f"Mapped. {rate_line(rate).strip()}")


@taxes.command("suggested")
@click.argument("rate_ids", nargs=-1, metavar="[RATE_ID]...")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@handles_errors
def taxes_suggested(ctx: CliContext, rate_ids: tuple[str, ...], as_json: bool) -> None:
    """Accept the suggested codes: of these rates, or of every unmapped rate that has one."""
    with admin(ctx.settings) as client:
        info = client.accept_tax_suggestions(list(rate_ids) or None)
    if as_json:
        print_json(info)
    else:
        print_taxes(info)


@taxes.command("unmap")
@click.argument("rate_id")
@pass_ctx
@handles_errors
def taxes_unmap(ctx: CliContext, rate_id: str) -> None:
    """Forget RATE_ID's mapping: its next invoices wait until it is mapped again."""
    with admin(ctx.settings) as client:
        rate = client.unmap_tax_rate(rate_id)
    click.echo(f"Unmapped. {rate_line(rate).strip()}")


@taxes.command("untaxed-code")
@click.argument("code_id")
@pass_ctx
@handles_errors
def taxes_untaxed(ctx: CliContext, code_id: str) -> None:
    """Choose the code for lines JobRoutr did not tax (companies outside the US): a zero-rated
    or exempt code."""
    with admin(ctx.settings) as client:
        info = client.save_invoice_settings(untaxed_tax_code_id=code_id)
    click.echo(f"Saved. Untaxed lines get {code_text(info.untaxed_tax_code)}.")


@taxes.command("discount-account")
@click.argument("account_id")
@pass_ctx
@handles_errors
def taxes_discount(ctx: CliContext, account_id: str) -> None:
    """Choose the income account invoice discounts are booked to (see
    `appliance accounts --kind discount`)."""
    with admin(ctx.settings) as client:
        info = client.save_invoice_settings(discount_account_id=account_id)
    account = info.discount_account
    shown = f"{account.fully_qualified_name} (id {account.qbo_id})" if account else "-"
    click.echo(f"Saved. Discounts are booked to {shown}.")
