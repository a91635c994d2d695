"""The operator console as an operator meets it: `appliance tui` in a real terminal (tmux),
switched screen by screen with keys, read back with `tmux capture-pane`.

tests/tui/test_console.py drives the app through Textual's pilot; this one proves the installed
command starts, draws, follows keys and quits in a terminal, with no traceback anywhere. Each test
has a tmux server of its own (`-L`, no config, its own socket directory), killed afterwards
whatever happens.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import running_gateway
from tests.harness.processes import APPLIANCE, appliance_env

pytestmark = pytest.mark.slow

WIDTH, HEIGHT = 100, 30
WAIT_SECONDS = 20.0
POLL_SECONDS = 0.1

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


def tmux_path() -> str:
    path = shutil.which("tmux")
    if path is None:
        pytest.skip("tmux is not installed: apt-get install tmux")
    return path


class Terminal:
    """`appliance tui` in a detached tmux session on a private tmux server."""

    def __init__(self, tmux: str, settings_env: Mapping[str, str]) -> None:
        self.tmux = tmux
        self.server = f"jra-tui-{uuid.uuid4().hex[:12]}"
        self.target = f"{self.server}:0.0"
        # The server (and so the pane) starts from the appliance's own environment; the settings
        # are also set on the session explicitly, so the console finds this service and no other.
        self.env = {
            k: v for k, v in appliance_env(settings_env).items() if k not in ("TMUX", "TMUX_PANE")
        }
        self.env["TERM"] = "xterm-256color"
        self.env.pop("COLORTERM", None)
        # The server's socket goes in a directory of its own (short: socket paths must stay under
        # 108 bytes), removed with the server: tmux leaves its socket file behind when killed.
        self.socket_dir = tempfile.mkdtemp(prefix="jra-tmux-", dir="/tmp")
        self.env["TMUX_TMPDIR"] = self.socket_dir
        self.status_file = Path(self.socket_dir) / "status"
        self.settings_env = dict(settings_env)
        self.screens: list[str] = []  # every screen read, to look for a traceback at the end

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.tmux, "-L", self.server, "-f", "/dev/null", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if check:
            assert done.returncode == 0, f"tmux {' '.join(args)}: {done.stderr}"
        return done

    def start(self) -> None:
        console = shlex.join(["env", "TERM=xterm-256color", str(APPLIANCE), "tui"])
        command = f"{console}; echo $? > {shlex.quote(str(self.status_file))}"
        settings = [arg for k, v in self.settings_env.items() for arg in ("-e", f"{k}={v}")]
        # One tmux call: the pane must stay (dead) after the console exits, so what it left on
        # the terminal can still be read, and that must be set before the command can end.
        self.run(
            "start-server", ";",
            "set-option", "-g", "exit-empty", "off", ";",
            "set-option", "-g", "default-shell", "/bin/sh", ";",  # runs the `echo $?` above
            "set-option", "-wg", "remain-on-exit", "on", ";",
            "set-option", "-g", "history-limit", "5000", ";",
            "new-session", "-d", "-s", self.server, "-x", str(WIDTH), "-y", str(HEIGHT),
            *settings, command,
        )  # fmt: skip

    def kill(self) -> None:
        try:
            self.run("kill-server", check=False)
        finally:
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    def screen(self) -> str:
        shown = self.run("capture-pane", "-p", "-t", self.target).stdout
        self.screens.append(shown)
        return shown

    def history(self) -> str:
        """Everything the pane holds: scrollback and the screen left after the console exited."""
        shown = self.run("capture-pane", "-p", "-S", "-", "-E", "-", "-t", self.target).stdout
        self.screens.append(shown)
        return shown

    def press(self, key: str) -> None:
        self.run("send-keys", "-t", self.target, key)

    def wait_for(self, check: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + WAIT_SECONDS
        shown = self.screen()
        while not check(shown):
            assert "Traceback" not in shown, f"a traceback while waiting for {what}:\n{shown}"
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {WAIT_SECONDS:.0f}s waiting for {what}; the screen:\n{shown}"
                )
            time.sleep(POLL_SECONDS)
            shown = self.screen()
        return shown

    def ended(self) -> str | None:
        """The console's exit status once it has exited, else None.

        Written by the pane's shell, not read from tmux: tmux 3.3 marks the pane dead when its
        terminal closes, and when that comes before the process is reaped it never learns the
        status (`#{pane_dead_status}` stays empty)."""
        try:
            written = self.status_file.read_text()
        except FileNotFoundError:
            return None
        return written.strip() if written.endswith("\n") else None

    def quit(self) -> None:
        self.press("q")
        deadline = time.monotonic() + WAIT_SECONDS
        while (status := self.ended()) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"the console did not exit on q; the screen:\n{self.screen()}")
            time.sleep(POLL_SECONDS)
        left = self.history()
        assert status == "0", f"the console exited with status {status}:\n{left}"

    def assert_no_traceback(self) -> None:
        for shown in self.screens:
            assert "Traceback" not in shown, shown


@pytest.fixture
def terminal() -> Iterator[Callable[[Mapping[str, str]], Terminal]]:
    tmux = tmux_path()
    started: list[Terminal] = []

    def open_console(settings_env: Mapping[str, str]) -> Terminal:
        console = Terminal(tmux, settings_env)
        started.append(console)
        console.start()
        return console

    try:
        yield open_console
    finally:
        for console in started:
            console.kill()


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
