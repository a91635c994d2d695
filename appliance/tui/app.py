"""The operator console (`appliance tui`): a Textual app over the service's admin API.

Screens are modes, switchable from anywhere by one key (shown in the footer): Status (s),
Connect (c), Onboarding (o). Every call to the service runs in a worker, so the screen never
freezes; a failure appears as a notice with its sentence and hint; when the service is not
running the console says so and how to start it, and keeps trying. No mouse is needed; it fits
80x24.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, Static

from appliance.core.admin import ConnectionInfo, EventInfo, StatusReport
from appliance.errors import ApplianceError, ServiceNotRunning
from appliance.tui.api import Api

REFRESH_SECONDS = 2.0


def _ago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "-"
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds < 0:
        return _until(moment, now)
    if seconds < 90:
        return f"{seconds}s ago"
    if seconds < 5400:
        return f"{seconds // 60}m ago"
    if seconds < 172800:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"


def _until(moment: datetime | None, now: datetime | None = None) -> str:
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


def connection_lines(connection: ConnectionInfo | None) -> list[str]:
    if connection is None:
        return ["Not connected to QuickBooks. Press [b]c[/b], then Connect."]
    state = {
        "connected": "[green]connected[/]",
        "needs_reconnect": "[red]needs reconnecting[/]",
        "disconnected": "[yellow]disconnected[/]",
    }.get(connection.state, connection.state)
    lines = [
        f"QuickBooks: {state} - {connection.company_name or connection.realm_id} "
        f"({connection.environment}, realm {connection.realm_id})",
        f"Access token expires {_until(connection.access_token_expires_at)}, "
        f"refresh token {_until(connection.refresh_token_expires_at)}.",
    ]
    lines += [f"[yellow]! {warning}[/]" for warning in connection.warnings]
    if connection.last_error:
        lines.append(f"[red]Last error: {connection.last_error}[/]")
    return lines


class ConsoleScreen(Screen[None]):
    """A screen that loads from the service, says so when it cannot, and refreshes itself."""

    refresh_every: float | None = None

    @property
    def api(self) -> Api:
        api: Api = self.app.api  # type: ignore[attr-defined]
        return api

    def on_mount(self) -> None:
        self.reload()
        if self.refresh_every:
            self.set_interval(self.refresh_every, self.reload)

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self) -> None:
        self.load()

    @work(exclusive=True, group="load")
    async def load(self) -> None:
        try:
            await self.fill()
        except ApplianceError as exc:
            self.failed(exc)

    async def fill(self) -> None:
        raise NotImplementedError

    def failed(self, exc: ApplianceError) -> None:
        self.app.notify(_sentence(exc), severity="error", timeout=8)

    async def act(self, action: Any, done: str) -> Any:
        """Run one operator action; tell the operator what happened, or what went wrong."""
        try:
            result = await action
        except ApplianceError as exc:
            self.app.notify(_sentence(exc), severity="error", timeout=10)
            return None
        if done:
            self.app.notify(done)
        self.reload()
        return result


def _sentence(exc: ApplianceError) -> str:
    return f"{exc.message}\n{exc.hint}" if exc.hint else exc.message


class StatusScreen(ConsoleScreen):
    """The link at a glance: connection, queue, and the events that need the operator."""

    refresh_every = REFRESH_SECONDS
    BINDINGS = [  # noqa: RUF012 - Textual reads it from the class
        Binding("r", "retry", "Retry event"),
        Binding("R", "retry_all", "Retry all failed"),
        Binding("k", "skip", "Skip event"),
        Binding("f", "toggle_failed", "Failed/all"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.only_failed = True
        self.events: list[EventInfo] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static(id="health")
            yield Static(id="queue")
            yield Static("Failed events", id="events-title")
            yield DataTable(id="events", cursor_type="row", zebra_stripes=True)
            yield Static(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#events", DataTable)
        table.add_columns("Received", "Event", "Type", "Record", "Status", "Tries")
        # (Textual then runs ConsoleScreen.on_mount too: it loads and schedules the refresh.)

    async def fill(self) -> None:
        try:
            status = await self.api.status()
        except ServiceNotRunning as exc:
            self.query_one("#health", Static).update(
                f"[red]{exc.message}[/]\n{exc.hint}\nThe console keeps trying every "
                f"{REFRESH_SECONDS:.0f} s."
            )
            self.query_one("#queue", Static).update("")
            return
        self.show_status(status)
        events = await self.api.events(status="failed" if self.only_failed else None, limit=100)
        self.events = events.items
        self.query_one("#events-title", Static).update(
            ("Failed events" if self.only_failed else "Recent events")
            + " - "
            + ", ".join(f"{n} {s}" for s, n in events.counts.items() if n)
        )
        table = self.query_one("#events", DataTable)
        row = table.cursor_row
        table.clear()
        for event in events.items:
            table.add_row(
                _ago(event.received_at),
                event.event_id,
                event.type,
                event.record_id or "",
                event.status,
                str(event.attempts),
                key=event.event_id,
            )
        if events.items:
            table.move_cursor(row=min(row, len(events.items) - 1))
        self.show_detail()

    def show_status(self, status: StatusReport) -> None:
        self.query_one("#health", Static).update("\n".join(connection_lines(status.connection)))
        queue = status.queue
        oldest = queue.oldest_queued_age_seconds
        age = f", oldest queued {oldest:.0f}s" if oldest is not None else ""
        failed = f"[red]{queue.failed} failed[/]" if queue.failed else "0 failed"
        self.query_one("#queue", Static).update(
            f"Queue: {queue.queued} queued, {queue.running} running, {queue.waiting} waiting, "
            f"{failed}{age}."
        )

    def selected(self) -> EventInfo | None:
        table = self.query_one("#events", DataTable)
        if not self.events or table.cursor_row >= len(self.events):
            return None
        return self.events[table.cursor_row]

    @on(DataTable.RowHighlighted)
    def show_detail(self) -> None:
        event = self.selected()
        detail = self.query_one("#detail", Static)
        if event is None:
            detail.update("Nothing needs you." if self.only_failed else "")
            return
        lines = [f"{event.event_id}: {event.type} {event.record_id or ''} - {event.status}"]
        if event.error is not None:
            lines.append(f"[red]{event.error.code}: {event.error.message}[/]")
            if event.error.hint:
                lines.append(f"Hint: {event.error.hint}")
        if event.waiting_for:
            lines.append(f"Waiting for {event.waiting_for}")
        if event.last_error:
            lines.append(f"Last try: {event.last_error}")
        if event.qbo_id:
            lines.append(f"QuickBooks id {event.qbo_id}")
        detail.update("\n".join(lines))

    @work(group="act")
    async def action_retry(self) -> None:
        event = self.selected()
        if event is None:
            self.app.notify("Choose a failed event first.", severity="warning")
            return
        await self.act(self.api.retry([event.event_id]), f"{event.event_id} queued again.")

    @work(group="act")
    async def action_retry_all(self) -> None:
        report = await self.act(self.api.retry(None), "")
        if report is not None:
            self.app.notify(f"{report.count} failed event(s) queued again.")

    @work(group="act")
    async def action_skip(self) -> None:
        event = self.selected()
        if event is None:
            self.app.notify("Choose a failed event first.", severity="warning")
            return
        if await self.app.push_screen_wait(
            Confirm(f"Skip {event.event_id}? It will never be written to QuickBooks.")
        ):
            await self.act(self.api.skip([event.event_id]), f"{event.event_id} skipped.")

    def action_toggle_failed(self) -> None:
        self.only_failed = not self.only_failed
        self.reload()


class Confirm(Screen[bool]):
    """A yes/no question; Escape or n means no."""

    BINDINGS = [  # noqa: RUF012
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Static(self.question)
            with Horizontal():
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no", variant="primary")
        yield Footer()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class ConnectScreen(ConsoleScreen):
    """Connect: the link to open on any device, and a field for the redirected-to address."""

    BINDINGS = [  # noqa: RUF012
        Binding("n", "connect", "Connect"),
        Binding("d", "disconnect", "Disconnect"),
    ]
    authorization_url = ""

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static(id="connection")
            yield Static(id="link")
            yield Input(
                placeholder="Paste the address the browser ended on (…/oauth/callback?code=…)",
                id="redirect",
            )
            with Horizontal():
                yield Button("Connect (n)", id="connect", variant="primary")
                yield Button("Finish", id="finish")
                yield Button("Disconnect (d)", id="disconnect", variant="error")
        yield Footer()

    async def fill(self) -> None:
        status = await self.api.status()
        self.query_one("#connection", Static).update("\n".join(connection_lines(status.connection)))

    @on(Button.Pressed, "#connect")
    def pressed_connect(self) -> None:
        self.action_connect()

    @work(group="act")
    async def action_connect(self) -> None:
        report = await self.act(self.api.connect_start(), "")
        if report is None:
            return
        self.authorization_url = report.authorization_url
        self.query_one("#link", Static).update(
            "Open this address on any device and approve the connection:\n\n"
            f"[b]{report.authorization_url}[/b]\n\n"
            "If the browser cannot reach this appliance afterwards, copy the address it ended "
            "on and paste it below, then press Enter."
        )
        self.query_one("#redirect", Input).focus()

    @on(Input.Submitted, "#redirect")
    def submitted(self) -> None:
        self.finish(self.query_one("#redirect", Input).value.strip())

    @on(Button.Pressed, "#finish")
    def pressed_finish(self) -> None:
        self.submitted()

    @work(group="act")
    async def finish(self, url: str) -> None:
        if not url:
            self.app.notify("Paste the address the browser ended on first.", severity="warning")
            return
        info = await self.act(self.api.connect_finish(url), "")
        if info is not None:
            self.query_one("#redirect", Input).value = ""
            self.query_one("#link", Static).update("")
            self.app.notify(f"Connected to {info.company_name or info.realm_id}.")

    @on(Button.Pressed, "#disconnect")
    def pressed_disconnect(self) -> None:
        self.action_disconnect()

    @work(group="act")
    async def action_disconnect(self) -> None:
        if await self.app.push_screen_wait(
            Confirm("Disconnect from QuickBooks? Pushing stops until you connect again.")
        ):
            await self.act(self.api.disconnect(), "Disconnected from QuickBooks.")


class OnboardingScreen(ConsoleScreen):
    """The steps of this setup, which are done, and Mark Complete."""

    BINDINGS = [Binding("m", "complete", "Mark Complete")]  # noqa: RUF012

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static(id="steps")
            yield Button("Mark Complete (m)", id="complete", variant="success")
        yield Footer()

    async def fill(self) -> None:
        info = await self.api.onboarding()
        lines = ["Step 2 of JobRoutr's setup: connect QuickBooks and bring its records in.", ""]
        for number, task in enumerate(info.tasks, start=1):
            mark = "[green]done[/]" if task.done else "[yellow]to do[/]"
            lines.append(f" {number}. {task.name:<28} {mark}")
        if info.completed_at:
            lines += ["", f"[green]Marked complete {_ago(info.completed_at)}.[/]"]
            if info.skipped:
                lines.append(f"Skipped then: {', '.join(info.skipped)}")
        self.query_one("#steps", Static).update("\n".join(lines))

    @on(Button.Pressed, "#complete")
    def pressed(self) -> None:
        self.action_complete()

    @work(group="act")
    async def action_complete(self) -> None:
        await self.act(self.api.complete_onboarding(), "Setup marked complete.")


class ConsoleApp(App[None]):
    TITLE = "JobRoutr QuickBooks Gateway"
    CSS = """
    #health, #queue, #detail, #connection, #link, #steps { padding: 0 1; }
    #events { height: 1fr; }
    #detail { height: auto; min-height: 3; }
    #confirm { padding: 1 2; height: auto; border: round $error; }
    Button { margin: 0 1; }
    """
    MODES = {  # noqa: RUF012
        "status": StatusScreen,
        "connect": ConnectScreen,
        "onboarding": OnboardingScreen,
    }
    DEFAULT_MODE = "status"
    BINDINGS = [  # noqa: RUF012
        Binding("s", "switch_mode('status')", "Status"),
        Binding("c", "switch_mode('connect')", "Connect"),
        Binding("o", "switch_mode('onboarding')", "Onboarding"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, socket_path: Path) -> None:
        super().__init__()
        self.api = Api(socket_path)
        self.sub_title = str(socket_path)

    def on_unmount(self) -> None:
        self.api.close()
