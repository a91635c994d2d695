"""Accounts: the default income and expense accounts that new products pushed to QuickBooks use,
and the account payments are deposited to (Bank or Other Current Asset; first in its list,
QuickBooks' Undeposited Funds, the default), picked from the chart of accounts with a search,
saved with Save Settings."""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from appliance.core.accounts import UNDEPOSITED_FUNDS
from appliance.core.admin import AccountInfo, SettingsInfo
from appliance.errors import ApplianceError
from appliance.tui.common import ConsoleScreen

KINDS = (
    ("income", "Income account"),
    ("expense", "Expense account"),
    ("deposit", "Deposit account"),
)
#: The deposit list's first entry: no account chosen, QuickBooks' Undeposited Funds.
UNDEPOSITED = AccountInfo(
    qbo_id="",
    name=UNDEPOSITED_FUNDS,
    fully_qualified_name=UNDEPOSITED_FUNDS,
    account_type="QuickBooks' default",
    account_sub_type=None,
)
UNDEPOSITED_OPTION = "undeposited-funds"
INTRO = (
    "New products pushed to QuickBooks get these accounts when JobRoutr gives none; "
    "payments from JobRoutr go to the deposit account."
)
NO_CHART = (
    "[yellow]No accounts imported yet.[/] Press [b]r[/b] to import the chart of accounts from "
    "QuickBooks."
)


def option_id(account: AccountInfo) -> str:
    return account.qbo_id or UNDEPOSITED_OPTION


def matches(account: AccountInfo, search: str) -> bool:
    """Every word of ``search`` appears in the account's name, type or id (any case)."""
    fields = (account.fully_qualified_name, account.account_type, account.account_sub_type)
    haystack = " ".join([*(f or "" for f in fields), account.qbo_id]).casefold()
    return all(word in haystack for word in search.casefold().split())


def label(account: AccountInfo, search: str) -> str:
    """In the whole list, a sub-account shows as its own name under its parent (as QuickBooks
    lists the chart); in a search, by its full name, since its parent may not be shown."""
    if search.strip():
        return account.fully_qualified_name
    *parents, name = account.fully_qualified_name.split(":")
    return "  " * len(parents) + name


def describe(account: AccountInfo | None) -> str:
    if account is None:
        return "[yellow]none chosen[/]"
    if not account.qbo_id:
        return UNDEPOSITED_FUNDS  # the list says it is QuickBooks' default
    return f"{account.fully_qualified_name} (id {account.qbo_id})"


class AccountsScreen(ConsoleScreen):
    mode = "accounts"
    AUTO_FOCUS = "#income-list"  # not a search field: it would take the screen keys as typing
    BINDINGS = [  # noqa: RUF012
        Binding("ctrl+s,w", "save", "Save Settings"),
        Binding("slash", "search", "Search"),
        Binding("escape", "lists", "Back to list", show=False),
        # One key, named for what it does: the first import, or again (check_action shows one).
        Binding("r", "import_chart", "Import chart"),
        Binding("r", "refresh_chart", "Re-import chart"),
        # Tab goes from list to list, never into a search field, where / would be typed: the
        # search fields are reached with / only.
        Binding("tab", "across(1)", "Next list", show=False),
        Binding("shift+tab", "across(-1)", "Previous list", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.accounts: dict[str, list[AccountInfo]] = {kind: [] for kind, _ in KINDS}
        self.saved: SettingsInfo | None = None
        self.pending: dict[str, AccountInfo] = {}
        self.chart_imported = False

    @property
    def unsaved(self) -> bool:
        return bool(self.pending)

    def body(self) -> ComposeResult:
        with Vertical():
            yield Static(INTRO, id="accounts-intro")
            with Horizontal(id="pickers"):
                for kind, title in KINDS:
                    with Vertical(classes="picker"):
                        yield Static(f"[b]{title}[/b]", id=f"{kind}-current")
                        yield Input(placeholder="/ to search", id=f"{kind}-search")
                        yield OptionList(id=f"{kind}-list")
            yield Static(id="pending")

    async def fill(self) -> None:
        income, expense, deposit, saved = await asyncio.gather(
            self.api.accounts("income"),
            self.api.accounts("expense"),
            self.api.accounts("deposit"),
            self.api.settings(),
        )
        # QuickBooks' own Undeposited Funds account is what the first entry stands for.
        banks = [a for a in deposit if a.account_sub_type != "UndepositedFunds"]
        self.accounts = {"income": income, "expense": expense, "deposit": [UNDEPOSITED, *banks]}
        self.saved = saved
        for kind, _ in KINDS:
            self.show_list(kind)
        self.show_choice()
        self.chart_imported = bool(income or expense or deposit)
        self.query_one("#accounts-intro", Static).update(INTRO if self.chart_imported else NO_CHART)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "import_chart":
            return not self.chart_imported
        if action == "refresh_chart":
            return self.chart_imported
        return super().check_action(action, parameters)

    def current(self, kind: str) -> AccountInfo | None:
        if self.saved is None:
            return None
        if kind == "deposit":
            return self.saved.deposit_account or UNDEPOSITED
        return self.saved.income_account if kind == "income" else self.saved.expense_account

    def show_list(self, kind: str) -> None:
        listing = self.query_one(f"#{kind}-list", OptionList)
        search = self.query_one(f"#{kind}-search", Input).value
        current = self.current(kind)
        chosen = self.pending.get(kind)
        highlighted = listing.highlighted_option.id if listing.highlighted_option else None
        listing.clear_options()
        shown = [a for a in self.accounts[kind] if matches(a, search)]
        for account in shown:
            mark = (
                " [b]→ chosen[/b]"
                if chosen and chosen.qbo_id == account.qbo_id
                else " [b]✓ saved[/b]"
                if current and current.qbo_id == account.qbo_id
                else ""
            )
            listing.add_option(
                Option(f"{label(account, search)} [dim]· {account.account_type}[/]{mark}",
                       id=option_id(account))
            )  # fmt: skip
        if search.strip() and not shown:
            listing.add_option(Option(f"No account matches '{escape(search)}'.", disabled=True))
        ids = [option_id(a) for a in shown]
        if highlighted in ids:
            listing.highlighted = ids.index(highlighted)
        elif ids:
            listing.highlighted = 0

    def show_choice(self) -> None:
        for kind, title in KINDS:
            self.query_one(f"#{kind}-current", Static).update(
                f"[b]{title}[/b]: {describe(self.current(kind))}"
            )
        pending = self.query_one("#pending", Static)
        if self.pending:
            changes = "; ".join(
                f"{kind} → {account.fully_qualified_name}" for kind, account in self.pending.items()
            )
            pending.update(f"[yellow]Not saved yet:[/] {changes}. Press [b]Ctrl+S[/b] or [b]w[/b].")
        else:
            pending.update("Enter chooses the highlighted account; / searches; Tab goes across.")

    def focused_list(self) -> str | None:
        for kind, _ in KINDS:
            if self.query_one(f"#{kind}-list", OptionList).has_focus:
                return kind
        return None

    @on(Input.Changed)
    def searched(self, event: Input.Changed) -> None:
        kind = (event.input.id or "").removesuffix("-search")
        if kind in self.accounts:
            self.show_list(kind)

    @on(Input.Submitted)
    def searched_done(self, event: Input.Submitted) -> None:
        kind = (event.input.id or "").removesuffix("-search")
        self.query_one(f"#{kind}-list", OptionList).focus()

    @on(OptionList.OptionSelected)
    def chose(self, event: OptionList.OptionSelected) -> None:
        kind = (event.option_list.id or "").removesuffix("-list")
        account = next(a for a in self.accounts[kind] if option_id(a) == event.option.id)
        current = self.current(kind)
        if current is not None and current.qbo_id == account.qbo_id:
            self.pending.pop(kind, None)
        else:
            self.pending[kind] = account
        self.show_list(kind)
        self.show_choice()

    def action_across(self, step: int) -> None:
        """The next (or previous) list, from a list or its search field."""
        focused = self.app.focused
        name = (focused.id or "") if focused is not None else ""
        kind = name.removesuffix("-search").removesuffix("-list")
        kinds = [k for k, _ in KINDS]
        at = kinds.index(kind) if kind in kinds else -step
        self.query_one(f"#{kinds[(at + step) % len(kinds)]}-list", OptionList).focus()

    def action_search(self) -> None:
        kind = self.focused_list() or "income"
        self.query_one(f"#{kind}-search", Input).focus()

    def action_lists(self) -> None:
        focused = self.app.focused
        kind = (focused.id or "").removesuffix("-search") if focused is not None else ""
        self.query_one(f"#{kind if kind in self.accounts else 'income'}-list", OptionList).focus()

    @work(group="act")
    async def action_save(self) -> None:
        await self.save()

    async def save(self) -> bool:
        if not self.pending:
            self.app.notify("Nothing to save: choose an account first (Enter).")
            return True
        income, expense, deposit = (self.pending.get(kind) for kind, _ in KINDS)
        saved = await self.act(
            self.api.save_settings(
                income.qbo_id if income else None,
                expense.qbo_id if expense else None,
                deposit.qbo_id if deposit else None,  # "": Undeposited Funds again
            ),
            "",
        )
        if saved is None:
            return False
        self.pending.clear()
        self.saved = saved
        self.app.notify(
            f"Saved. Income: {describe(saved.income_account)}; "
            f"expense: {describe(saved.expense_account)}; "
            f"payments deposited to: {describe(saved.deposit_account or UNDEPOSITED)}."
        )
        for kind, _ in KINDS:
            self.show_list(kind)
        self.show_choice()
        return True

    def discard(self) -> None:
        self.pending.clear()
        self.reload()

    def action_import_chart(self) -> None:
        self.action_refresh_chart()

    @work(group="act")
    async def action_refresh_chart(self) -> None:
        started = await self.act(self.api.import_start("accounts"), "")
        if started is None:
            return
        self.app.notify("Importing the chart of accounts…")
        try:
            while True:
                report = await self.api.import_latest("accounts")
                if report.state != "running":
                    break
                await asyncio.sleep(0.3)
        except ApplianceError as exc:
            self.failed(exc)
            return
        self.app.clear_notifications()  # "Importing…" is over: one notice, not two on the lists
        if report.state == "done":
            self.app.notify(f"Chart of accounts imported: {report.done} accounts.")
        else:
            self.app.notify(
                f"The chart of accounts was not imported: {report.error or report.state}.",
                severity="error",
            )
        self.reload()
