"""The operator console in a real terminal: `appliance tui` in a detached tmux session on a
tmux server of its own (`-L`, no config, its own socket directory), read back with
`tmux capture-pane` as text or with its colours (for pictures, see tests/tui/svg.py)."""

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

from tests.harness.processes import APPLIANCE, appliance_env

WIDTH, HEIGHT = 100, 30
WAIT_SECONDS = 20.0
POLL_SECONDS = 0.1


def tmux_path() -> str:
    path = shutil.which("tmux")
    if path is None:
        pytest.skip("tmux is not installed: apt-get install tmux")
    return path


class Terminal:
    """`appliance tui` in a detached tmux session on a private tmux server."""

    def __init__(
        self, tmux: str, settings_env: Mapping[str, str], size: tuple[int, int] = (WIDTH, HEIGHT)
    ) -> None:
        self.tmux = tmux
        self.width, self.height = size
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
            "new-session", "-d", "-s", self.server, "-x", str(self.width), "-y", str(self.height),
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

    def colours(self) -> str:
        """The screen as it is drawn: its text with the terminal's colour and style sequences."""
        return self.run("capture-pane", "-p", "-e", "-N", "-t", self.target).stdout

    def joined(self) -> str:
        """The screen as tmux copies it: a line the terminal wrapped comes back as one line."""
        shown = self.run("capture-pane", "-p", "-J", "-t", self.target).stdout
        self.screens.append(shown)
        return shown

    def type(self, text: str) -> None:
        """``text`` as typed (or pasted) letters, not key names."""
        self.run("send-keys", "-t", self.target, "-l", text)

    def paste(self, text: str) -> None:
        """``text`` pasted as a terminal pastes (bracketed, when the program asked for that)."""
        self.run("set-buffer", "-b", "walk", "--", text)
        self.run("paste-buffer", "-p", "-d", "-b", "walk", "-t", self.target)

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
