"""The operator console (`appliance tui`): a Textual app over the service's admin API.

Screens are modes, switchable from anywhere by one key (the bar under the header shows them):
Status (s), Connect (c), Import (i), Accounts (a), Taxes (t), Onboarding (o); q quits. Review
(the questions the push asks the operator) is reached from Status (v). Each
screen's own keys are in its footer. Every call to the service runs in a worker, so the screen
never freezes; a failure appears as a notice with its sentence and hint; when the service is not
running the console says so and how to start it, and keeps trying. No mouse is needed; it fits
80x24.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from textual.app import App
from textual.binding import Binding

from appliance.errors import ApplianceError
from appliance.tui.accounts import AccountsScreen
from appliance.tui.api import Api
from appliance.tui.common import SCREENS, Confirm
from appliance.tui.connect import ConnectScreen
from appliance.tui.imports import ImportScreen
from appliance.tui.onboarding import OnboardingScreen
from appliance.tui.review import ReviewScreen
from appliance.tui.status import StatusScreen
from appliance.tui.taxes import TaxesScreen


class ConsoleApp(App[None]):
    TITLE = "JobRoutr QuickBooks Gateway"
    ENABLE_COMMAND_PALETTE = False  # every action has its key in the footer; keep it for them
    CSS = """
    #nav { background: $panel; height: 1; }
    #health, #queue, #detail, #connection, #link, #steps, #events-title { padding: 0 1; }
    #events { height: 1fr; }
    #detail { height: auto; min-height: 3; }
    .dialog { padding: 1 2; height: auto; border: round $error; background: $surface; }
    Confirm, QrScreen { align: center middle; }
    #qr-box { width: auto; height: auto; max-height: 100%; }
    #qr { width: auto; }
    .buttons { height: auto; }
    Button { margin: 0 1; }
    .import-row { height: 1; margin-top: 1; }
    .import-title { width: 12; padding: 0 1; }
    .import-line { padding: 0 1 0 13; }
    #skips-title { padding: 0 1; margin-top: 1; }
    #skips { height: 1fr; }
    #accounts-intro, #pending { padding: 0 1; }
    #pickers { height: 1fr; }
    .picker { width: 1fr; padding: 0 1; }
    .picker Input { margin: 0; }
    .picker OptionList { height: 1fr; }
    #taxes-intro, #tax-settings { padding: 0 1; }
    #tax-pickers { height: 1fr; }
    #review-title, #review-case { padding: 0 1; }
    #review-list { height: 6; }
    #review-scroll { height: 1fr; }
    """
    MODES = {  # noqa: RUF012
        "status": StatusScreen,
        "connect": ConnectScreen,
        "import": ImportScreen,
        "accounts": AccountsScreen,
        "taxes": TaxesScreen,
        "onboarding": OnboardingScreen,
        "review": ReviewScreen,
    }
    DEFAULT_MODE = "status"
    BINDINGS = [  # noqa: RUF012
        *(
            Binding(key, f"switch_mode('{mode}')", title, show=False)
            for mode, key, title in SCREENS
        ),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, socket: Path | Callable[[], Path]) -> None:
        """``socket``: the admin socket's path, or a function that finds it, called in a worker
        after the first paint (``appliance tui`` passes one that loads the settings)."""
        super().__init__()
        self.api = Api(socket)
        if self.api.socket_path is not None:
            self.sub_title = str(self.api.socket_path)

    def on_mount(self) -> None:
        if self.api.socket_path is None:
            self.run_worker(self._find_socket(), exit_on_error=False)

    async def _find_socket(self) -> None:
        # On failure every screen's first call says what is wrong, with its hint.
        with contextlib.suppress(ApplianceError):
            self.sub_title = str(await self.api.connect())

    async def action_switch_mode(self, mode: str) -> None:
        if mode != self.current_mode and self._unsaved():
            self.push_screen(_leave_question(), lambda leave: self._leave(leave, mode))
            return
        self.switch_mode(mode)

    async def action_quit(self) -> None:
        if self._unsaved():
            self.push_screen(_leave_question(), lambda leave: self._leave(leave, None))
            return
        self.exit()

    def _unsaved(self) -> bool:
        screen = self.screen
        return isinstance(screen, AccountsScreen) and screen.unsaved

    def _leave(self, leave: bool | None, mode: str | None) -> None:
        if not leave:
            return
        screen = self.screen
        if isinstance(screen, AccountsScreen):
            screen.discard()
        if mode is None:
            self.exit()
        else:
            self.switch_mode(mode)

    def on_unmount(self) -> None:
        self.api.close()


def _leave_question() -> Confirm:
    return Confirm(
        "You chose accounts but did not save them. Leave without saving?",
        yes="Leave without saving",
        no="Stay",
    )
