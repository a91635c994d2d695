"""Onboarding: the steps of this part of JobRoutr's setup, which are done, and Mark Complete."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Button, Static

from appliance.core.onboarding import GO_ON, MARKED_COMPLETE, NEXT_STEP
from appliance.tui.common import Confirm, ConsoleScreen, ago

#: Where each task is done in the console: (key, screen).
WHERE = {
    "connect": ("c", "Connect"),
    "import_customers": ("i", "Import"),
    "default_accounts": ("a", "Accounts"),
    "import_products": ("i", "Import"),
    "taxes": ("t", "Taxes"),
    "discount_account": ("t", "Taxes"),
}


class OnboardingScreen(ConsoleScreen):
    mode = "onboarding"
    BINDINGS = [Binding("m", "complete", "Mark Complete")]  # noqa: RUF012

    def body(self) -> ComposeResult:
        with Vertical():
            yield Static(id="steps")
            yield Button("Mark Complete (m)", id="complete", variant="success")

    async def fill(self) -> None:
        info = await self.api.onboarding()
        self.undone = [task.name for task in info.tasks if not task.done]
        lines = ["Step 2 of JobRoutr's setup: connect QuickBooks and bring its records in.", ""]
        if not info.realm_id:
            lines[1:] = ["[yellow]No QuickBooks company is connected yet.[/]", ""]
        for number, task in enumerate(info.tasks, start=1):
            mark = "[green]✓ done[/] " if task.done else "[yellow]• to do[/]"
            key, screen = WHERE.get(task.task, ("", ""))
            where = f"[dim]({screen}: press {key})[/]" if key and not task.done else ""
            lines.append(f" {number}. {task.name:<26} {mark} {where}")
        if info.completed_at:
            lines += ["", f"[green]Marked complete {ago(info.completed_at)}[/]; {GO_ON}."]
            if info.skipped:
                lines.append(f"Skipped then: {', '.join(info.skipped)}")
        else:
            lines += [
                "",
                f"When they are done, Mark Complete tells JobRoutr to go on to {NEXT_STEP}.",
            ]
        self.query_one("#steps", Static).update("\n".join(lines))

    @on(Button.Pressed, "#complete")
    def pressed(self) -> None:
        self.action_complete()

    @work(group="act")
    async def action_complete(self) -> None:
        undone = getattr(self, "undone", [])
        if undone and not await self.app.push_screen_wait(
            Confirm(
                f"Not done yet: {', '.join(undone)}. Mark complete anyway?",
                yes="Mark complete",
                no="Not yet",
            )
        ):
            return
        await self.act(self.api.complete_onboarding(), MARKED_COMPLETE)
