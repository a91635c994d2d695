"""Taxes: JobRoutr's tax rates and the QuickBooks tax codes they map to, the code for untaxed
lines (outside the US) and the discount account. Keys only; every choice is saved at once and
the invoices waiting for it go on.

The left list is JobRoutr's rates (learned from the invoices that used them), each with its
mapped or suggested code; the right list is what may be picked for the highlighted rate (codes of
its percent first), searched with /. ``x`` and ``d`` make the right list the untaxed code's or the
discount account's; Escape goes back to the rates.
"""

from __future__ import annotations

import asyncio
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from appliance.core.admin import AccountInfo, TaxCodeView, TaxesInfo, TaxRateView
from appliance.tui.common import Confirm, ConsoleScreen

#: What the right-hand list picks: a rate's code, the untaxed code or the discount account.
RATE, UNTAXED, DISCOUNT = "rate", "untaxed", "discount"


def code_text(code: TaxCodeView | None) -> str:
    if code is None:
        return "-"
    percent = f" · {code.percent} %" if code.percent is not None else ""
    return f"{code.name}{percent} · id {code.qbo_id}"


def same(a: str | None, b: str | None) -> bool:
    """Percents as numbers ("8.90" is "8.9"); a code with no sales rate charges 0 %."""
    try:
        return float(a or 0) == float(b or 0)
    except ValueError:
        return False


def rate_label(rate: TaxRateView) -> str:
    if rate.mapped is not None:
        state = f"[green]→ {rate.mapped.name}[/]"
    elif rate.suggested is not None:
        state = f"[yellow]? {rate.suggested.name}[/]"
    else:
        state = "[red]no code of this %[/]"
    return f"{rate.name} [dim]· {rate.percent} %[/] {state}"


def matches(fields: list[str | None], search: str) -> bool:
    haystack = " ".join(f or "" for f in fields).casefold()
    return all(word in haystack for word in search.casefold().split())


class TaxesScreen(ConsoleScreen):
    mode = "taxes"
    AUTO_FOCUS = "#rates-list"
    BINDINGS = [  # noqa: RUF012
        Binding("y", "accept", "Accept"),
        Binding("e", "accept_all", "Accept all"),
        Binding("f", "force", "Force"),
        Binding("u", "unmap", "Unmap"),
        Binding("x", "pick('untaxed')", "Untaxed"),
        Binding("d", "pick('discount')", "Discount"),
        Binding("slash", "search", "Search", show=False),
        Binding("escape", "pick('rate')", "Back to rates", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.info: TaxesInfo | None = None
        self.codes: list[TaxCodeView] = []
        self.accounts: list[AccountInfo] = []
        self.target = RATE

    def body(self) -> ComposeResult:
        with Vertical():
            yield Static(id="taxes-intro")
            with Horizontal(id="tax-pickers"):
                with Vertical(classes="picker"):
                    yield Static("[b]JobRoutr tax rates[/b]", id="rates-title")
                    yield OptionList(id="rates-list")
                with Vertical(classes="picker"):
                    yield Static(id="codes-title")
                    yield Input(placeholder="/ to search", id="codes-search")
                    yield OptionList(id="codes-list")
            yield Static(id="tax-settings")

    async def fill(self) -> None:
        self.info, self.codes, self.accounts = await asyncio.gather(
            self.api.taxes(), self.api.tax_codes(), self.api.discount_accounts()
        )
        self.show()

    # Showing ---------------------------------------------------------------------------------

    def show(self) -> None:
        info = self.info
        if info is None:
            return
        intro = f"Tax model: {info.tax_model_name}."
        if info.tax_model and not info.needs_mapping:
            intro += " [green]No mapping needed[/]: QuickBooks does not need JobRoutr's rates."
        elif not info.codes_imported:
            intro += " [yellow]No tax codes imported yet[/]: import them from QuickBooks."
        self.query_one("#taxes-intro", Static).update(intro)
        self.show_rates()
        self.show_picks()
        self.show_settings()

    def show_rates(self) -> None:
        listing = self.query_one("#rates-list", OptionList)
        keep = listing.highlighted
        listing.clear_options()
        for rate in self.info.rates if self.info else []:
            listing.add_option(Option(rate_label(rate), id=rate.jobroutr_rate_id))
        if listing.option_count:
            listing.highlighted = min(keep or 0, listing.option_count - 1)
        else:
            listing.add_option(Option("[dim]None yet: learned from the first invoice[/]",
                                      disabled=True))  # fmt: skip

    def rate(self) -> TaxRateView | None:
        listing = self.query_one("#rates-list", OptionList)
        option = listing.highlighted_option
        rates = self.info.rates if self.info else []
        return next((r for r in rates if option and r.jobroutr_rate_id == option.id), None)

    def show_picks(self) -> None:
        """The right list: what the current target may be, searched, the fitting ones first."""
        listing = self.query_one("#codes-list", OptionList)
        search = self.query_one("#codes-search", Input).value
        title, options = self.picks(search)
        self.query_one("#codes-title", Static).update(title)
        keep = listing.highlighted_option.id if listing.highlighted_option else None
        listing.clear_options()
        listing.add_options(options)
        ids = [o.id for o in options]
        listing.highlighted = ids.index(keep) if keep in ids else (0 if ids else None)

    def picks(self, search: str) -> tuple[str, list[Option]]:
        if self.target == DISCOUNT:
            chosen = self.info.discount_account if self.info else None
            suggested = self.info.suggested_discount_account if self.info else None
            return "[b]Discount account[/b]", [
                Option(f"{a.fully_qualified_name}{self.mark(a.qbo_id, chosen, suggested)}",
                       id=a.qbo_id)
                for a in self.accounts
                if matches([a.fully_qualified_name, a.account_sub_type, a.qbo_id], search)
            ]  # fmt: skip
        if self.target == UNTAXED:
            percent, title = "0", "[b]Code for untaxed lines[/b]"
            chosen_code = self.info.untaxed_tax_code if self.info else None
            suggested_code = self.info.suggested_untaxed_tax_code if self.info else None
        else:
            rate = self.rate()
            if rate is None:
                return "[b]Tax codes[/b]", []
            percent, title = rate.percent, f"[b]Code for {rate.name}[/b] ({rate.percent} %)"
            chosen_code, suggested_code = rate.mapped, rate.suggested
        codes = [c for c in self.codes if matches([c.name, c.percent, c.qbo_id], search)]
        codes.sort(key=lambda c: not same(c.percent, percent))
        return title, [
            Option(
                (code_text(c) if same(c.percent, percent) else f"[dim]{code_text(c)}[/]")
                + self.mark(c.qbo_id, chosen_code, suggested_code),
                id=c.qbo_id,
            )
            for c in codes
        ]

    @staticmethod
    def mark(qbo_id: str, chosen: Any, suggested: Any) -> str:
        if chosen is not None and chosen.qbo_id == qbo_id:
            return " [b]✓[/b]"
        if suggested is not None and suggested.qbo_id == qbo_id:
            return " [yellow]★ suggested[/]"
        return ""

    def show_settings(self) -> None:
        info = self.info
        if info is None:
            return
        lines = []
        if info.needs_untaxed_code:
            untaxed = code_text(info.untaxed_tax_code)
            if info.untaxed_tax_code is None and info.suggested_untaxed_tax_code:
                untaxed += f" [dim](suggested: {info.suggested_untaxed_tax_code.name})[/]"
            lines.append(f"Untaxed lines (x): {untaxed}")
        account, suggested = info.discount_account, info.suggested_discount_account
        discount = f"{account.fully_qualified_name} · id {account.qbo_id}" if account else "-"
        if account is None and suggested is not None:
            discount += f" [dim](suggested: {suggested.fully_qualified_name})[/]"
        lines.append(f"Discount account (d): {discount}")
        lines += [f"[yellow]! {sentence}[/]" for sentence in info.missing]
        if not info.missing:
            lines.append("[green]Nothing missing: invoices are written with these.[/]")
        self.query_one("#tax-settings", Static).update("\n".join(lines))

    # Choosing --------------------------------------------------------------------------------

    @on(OptionList.OptionHighlighted, "#rates-list")
    def rate_highlighted(self) -> None:
        if self.target == RATE:
            self.show_picks()

    @on(OptionList.OptionSelected, "#rates-list")
    def rate_selected(self) -> None:
        self.query_one("#codes-list", OptionList).focus()

    @on(Input.Changed, "#codes-search")
    def searched(self) -> None:
        self.show_picks()

    @on(Input.Submitted, "#codes-search")
    def searched_done(self) -> None:
        self.query_one("#codes-list", OptionList).focus()

    @on(OptionList.OptionSelected, "#codes-list")
    def picked(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.choose(event.option.id, force=False)

    @work(group="act")
    async def choose(self, qbo_id: str, *, force: bool) -> None:
        if self.target == DISCOUNT:
            await self.act(self.api.save_invoice_settings(discount_account_id=qbo_id),
                           "Saved: discounts are booked to this account.")  # fmt: skip
        elif self.target == UNTAXED:
            await self.act(self.api.save_invoice_settings(untaxed_tax_code_id=qbo_id),
                           "Saved: untaxed lines get this code.")  # fmt: skip
        elif (rate := self.rate()) is not None:
            mapped = await self.act(self.api.map_tax_rate(rate.jobroutr_rate_id, qbo_id,
                                                          force=force), "")  # fmt: skip
            if mapped is not None:
                self.app.notify(f"Mapped {rate.name} → {code_text(mapped.mapped)}; its waiting "
                                "invoices go on.")  # fmt: skip
                self.query_one("#rates-list", OptionList).focus()

    @work(group="act")
    async def action_force(self) -> None:
        option = self.query_one("#codes-list", OptionList).highlighted_option
        rate = self.rate()
        if self.target != RATE or option is None or option.id is None or rate is None:
            self.app.notify("Highlight a rate and a code first.")
            return
        if await self.app.push_screen_wait(
            Confirm(
                f"Map {rate.name} ({rate.percent} %) to code {option.id} even if it charges "
                "another percent? Its invoices will then end `mismatch`.",
                yes="Map anyway",
                no="Cancel",
            )
        ):
            self.choose(option.id, force=True)

    def setting(self, *, suggested: bool) -> str | None:
        """The untaxed code or discount account chosen, or the one suggested (its QuickBooks
        id), when the right list picks one of those."""
        info = self.info
        if info is None or self.target == RATE:
            return None
        found: Any
        if self.target == UNTAXED:
            found = info.suggested_untaxed_tax_code if suggested else info.untaxed_tax_code
        else:
            found = info.suggested_discount_account if suggested else info.discount_account
        return str(found.qbo_id) if found is not None else None

    @work(group="act")
    async def action_accept(self) -> None:
        if self.target != RATE:  # y on the untaxed code's or discount account's list
            if (suggested := self.setting(suggested=True)) is None:
                self.app.notify("Nothing is suggested here: pick one (Enter).")
            else:
                self.choose(suggested, force=False)
            return
        rate = self.rate()
        if rate is None or rate.suggested is None:
            self.app.notify("No suggestion for this rate: pick a code (Enter).")
            return
        await self.act(self.api.accept_tax_suggestions([rate.jobroutr_rate_id]),
                       f"Mapped {rate.name} → {code_text(rate.suggested)}.")  # fmt: skip

    @work(group="act")
    async def action_accept_all(self) -> None:
        await self.act(self.api.accept_tax_suggestions(None), "Every suggestion accepted.")

    @work(group="act")
    async def action_unmap(self) -> None:
        rate = self.rate()
        if rate is None or rate.mapped is None:
            self.app.notify("This rate is not mapped.")
            return
        await self.act(self.api.unmap_tax_rate(rate.jobroutr_rate_id), f"Unmapped {rate.name}.")

    def action_pick(self, target: str) -> None:
        self.target = target
        self.query_one("#codes-search", Input).value = ""
        self.show_picks()
        listing = self.query_one("#rates-list" if target == RATE else "#codes-list", OptionList)
        listing.focus()
        # What is chosen, else what is suggested, is highlighted: Enter (or y) takes it.
        preferred = self.setting(suggested=False) or self.setting(suggested=True)
        ids = [listing.get_option_at_index(i).id for i in range(listing.option_count)]
        if preferred in ids:
            listing.highlighted = ids.index(preferred)

    def action_search(self) -> None:
        self.query_one("#codes-search", Input).focus()
