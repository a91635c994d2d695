"""The operator console as an operator meets it: `appliance tui` in a real terminal (tmux),
switched screen by screen with keys, read back with `tmux capture-pane`.

tests/tui/test_console.py drives the app through Textual's pilot; this one proves the installed
command starts, draws, follows keys and quits in a terminal, with no traceback anywhere. Each test
has a tmux server of its own (`-L`, no config, its own socket directory), killed afterwards
whatever happens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import running_gateway
from tests.harness.terminal import Terminal, terminal, tmux_path

__all__ = ["terminal"]  # the fixture, used by name

pytestmark = pytest.mark.slow

# Each screen's key, and text that only that screen shows (so a press is proven to have switched,
# not merely left the previous screen up). Pressed in this order after the console opens on
# Status, so every press changes the screen.
SCREENS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("c", ("Connect (n)", "Disconnect (d)")),
    ("i", ("Import Customers", "Never imported here")),
    ("a", ("Income account", "Save Settings")),
    ("o", ("Step 2 of JobRoutr's setup", "Mark Complete (m)")),
    ("s", ("Queue:",)),
)
# The app's own keys as the console shows them, key then name: in the bar of screens under the
# header and the footer, on every screen.
KEYS_SHOWN = ("s Status", "c Connect", "i Import", "a Accounts", "o Onboarding", "q Quit")


def showing(texts: tuple[str, ...], others: tuple[str, ...] = ()) -> Callable[[str], bool]:
    """The screen shows these texts, none of the others, and the keys. Waited for, not asserted
    once: the footer hides keys while a text field has the focus (they would go into the field),
    so the next key is pressed only once the screen has settled."""
    return lambda shown: (
        all(t in shown for t in (*texts, *KEYS_SHOWN)) and not any(t in shown for t in others)
    )


@pytest.mark.timeout(120)
def test_the_console_switches_screens_by_key_in_a_real_terminal(
    books: RunningEmulator, tmp_path: Path, terminal: Callable[[Mapping[str, str]], Terminal]
) -> None:
    tmux_path()  # skip before starting a service when there is no tmux
    with running_gateway(books, tmp_path) as gateway:
        console = terminal(gateway.env)
        console.wait_for(
            showing(("QuickBooks: connected", "Queue:")), f"the Status screen and {KEYS_SHOWN}"
        )

        for key, texts in SCREENS:
            others = tuple(t for k, ts in SCREENS if k != key for t in ts)
            console.press(key)
            console.wait_for(
                showing(texts, others), f"{texts}, not {others}, and {KEYS_SHOWN} after {key!r}"
            )

        console.quit()
        console.assert_no_traceback()


@pytest.mark.timeout(120)
def test_without_the_service_the_console_says_how_to_start_it(
    short_dir: Path, tmp_path: Path, terminal: Callable[[Mapping[str, str]], Terminal]
) -> None:
    console = terminal(
        {
            "APPLIANCE_STATE_DIR": str(tmp_path / "state"),
            "APPLIANCE_ADMIN_SOCKET": str(short_dir / "nobody.sock"),
        }
    )
    # Textual may paint one frame of the notice before its height grows to the hint's lines.
    console.wait_for(
        lambda s: "not running" in s and "appliance serve" in s, "the not-running notice and hint"
    )
    console.quit()
    console.assert_no_traceback()


@pytest.mark.timeout(120)
def test_with_a_missing_config_file_the_console_says_so_and_keeps_running(
    short_dir: Path, tmp_path: Path, terminal: Callable[[Mapping[str, str]], Terminal]
) -> None:
    """`appliance tui` paints first and loads the settings after: a settings error is a notice
    with its hint, not a traceback on a blank terminal."""
    missing = tmp_path / "nowhere.toml"
    console = terminal(
        {
            "APPLIANCE_CONFIG": str(missing),
            "APPLIANCE_ADMIN_SOCKET": str(short_dir / "nobody.sock"),
        }
    )
    shown = console.wait_for(lambda s: "does not exist" in s, "the missing-config notice")
    assert "Status" in shown, shown  # the screen is there, and the console still answers keys
    console.press("c")
    console.wait_for(lambda s: "does not exist" in s and "Connect" in s, "Connect after 'c'")
    console.quit()
    console.assert_no_traceback()
