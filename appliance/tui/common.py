"""What every console screen shares: the bar of screens, loading from the service in a worker,
notices for failures, the yes/no question, and the ways times are said."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Header, Static

from appliance.core.admin import BooksInfo, ConnectionInfo
from appliance.errors import ApplianceError
from appliance.tui.api import Api
from appliance.tui.words import console_words

REFRESH_SECONDS = 2.0

#: The screens, in the order the bar shows them: (mode, key, title).
SCREENS = (
    ("status", "s", "Status"),
    ("connect", "c", "Connect"),
    ("import", "i", "Import"),
    ("accounts", "a", "Accounts"),
    ("taxes", "t", "Taxes"),
    ("onboarding", "o", "Onboarding"),
)
#: Screens reached from another one, not from the bar: (the one they are reached from, title);
#: while one is current, the bar shows it beside the other ("Status>Review").
INNER_SCREENS = {"review": ("status", "Review")}


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "-"
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds < 0:
        return until(moment, now)
    if seconds < 90:
        return f"{seconds}s ago"
    if seconds < 5400:
        return f"{seconds // 60}m ago"
    if seconds < 172800:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"


def until(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "-"
    seconds = int((moment - (now or datetime.now(UTC))).total_seconds())
    if seconds <= 0:
        return "expired"
    if seconds < 5400:
        return f"in {max(seconds // 60, 1)}m"
    if seconds < 172800:
        return f"in {seconds // 3600}h"
    return f"in {seconds // 86400}d"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def sentence(exc: ApplianceError) -> str:
    """The service's sentence and hint, with the console's keys for the commands they name."""
    return console_words(f"{exc.message}\n{exc.hint}" if exc.hint else exc.message)


def connection_lines(connection: ConnectionInfo | None) -> list[str]:
    if connection is None:
        return ["Not connected to QuickBooks. Press [b]c[/b], then [b]n[/b] to connect."]
    state = {
        "connected": "[green]connected[/]",
        "needs_reconnect": "[red]needs reconnecting[/]",
        "disconnected": "[yellow]disconnected[/]",
    }.get(connection.state, connection.state)
    lines = [
        f"QuickBooks: {state} - {connection.company_name or connection.realm_id} "
        f"({connection.environment})",
    ]
    if connection.state == "disconnected":  # no tokens: none to expire
        lines.append(
            f"Realm {connection.realm_id}; disconnected {ago(connection.disconnected_at)}, "
            "its imported data kept. Press [b]c[/b], then [b]n[/b] to connect again."
        )
    else:
        lines.append(
            f"Realm {connection.realm_id}; access token expires "
            f"{until(connection.access_token_expires_at)}, refresh token "
            f"{until(connection.refresh_token_expires_at)}."
        )
    lines += [f"[yellow]! {console_words(warning)}[/]" for warning in connection.warnings]
    if connection.last_error:
        lines.append(f"[red]Last error: {console_words(connection.last_error)}[/]")
    return lines


def books_line(books: BooksInfo | None) -> str:
    """The company's tax model, country and currencies, on one line of 80 columns (the tax
    model's name without its explanation in brackets)."""
    if books is None:
        return "Books: not read yet (Accounts, [b]a[/b] then [b]r[/b], reads them)."
    model = books.tax_model_name.split(" (")[0]
    currencies = "multi-currency on" if books.multicurrency else "multi-currency off"
    return f"Books: {model} · {books.country or '?'} · {books.home_currency} · {currencies}"


class Nav(Static):
    """The bar of screens under the header: each screen's key, the current one highlighted."""

    def __init__(self, current: str) -> None:
        super().__init__(id="nav")
        self.current = current

    def render(self) -> Text:
        bar = Text()
        outer, inner = INNER_SCREENS.get(self.current, (self.current, ""))
        for mode, key, title in SCREENS:
            style = "bold reverse" if mode == outer else ""
            bar.append(f" {key} ", style="bold " + style)
            bar.append(f"{title}{'>' + inner if inner and mode == outer else ''} ", style=style)
            bar.append(" ")
        return bar


class ConsoleScreen(Screen[None]):
    """A screen that loads from the service, says so when it cannot, and refreshes itself."""

    mode = ""
    refresh_every: float | None = None
    compact_footer = False  # a screen with many keys: less space between them, to fit 80 columns

    @property
    def api(self) -> Api:
        api: Api = self.app.api  # type: ignore[attr-defined]
        return api

    def compose(self) -> ComposeResult:
        yield Header()
        yield Nav(self.mode)
        yield from self.body()
        yield Footer(compact=self.compact_footer)

    def body(self) -> ComposeResult:
        raise NotImplementedError

    def on_mount(self) -> None:
        self.reload()
        if self.refresh_every:
            self.set_interval(self.refresh_every, self.reload)

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self) -> None:
        if self.is_current:  # a screen out of sight asks nothing; it reloads when shown again
            self.load()

    @work(exclusive=True, group="load")
    async def load(self) -> None:
        try:
            await self.fill()
        except ApplianceError as exc:
            self.failed(exc)
        except NoMatches:
            if self.is_current:
                raise
            # The screen went away (the console is closing) while the service answered.

    async def fill(self) -> None:
        raise NotImplementedError

    def failed(self, exc: ApplianceError) -> None:
        self.app.notify(sentence(exc), severity="error", timeout=8)

    async def act(self, action: Any, done: str) -> Any:
        """Run one operator action; tell the operator what happened, or what went wrong."""
        try:
            result = await action
        except ApplianceError as exc:
            self.app.notify(sentence(exc), severity="error", timeout=10)
            return None
        if done:
            self.app.notify(done)
        self.reload()
        return result


class Confirm(ModalScreen[bool]):
    """A yes/no question; Escape or n means no."""

    BINDINGS = [  # noqa: RUF012 - Textual reads it from the class
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question = question
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question)
            with Horizontal():
                yield Button(f"{self.yes} (y)", id="yes", variant="error")
                yield Button(f"{self.no} (n)", id="no", variant="primary")
        yield Footer()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
