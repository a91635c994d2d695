"""Console: time from `appliance tui` to its first painted screen, against a minimal Textual app
(Header, Static "hello", Footer) measured the same way in the same run. Target: under 2x.

Measured as an operator meets it: each program is a fresh Python process in a real terminal (a
detached tmux session, 80x24, on a private tmux server), and the clock runs from launching it to
the first capture of the pane (`tmux capture-pane -p`, polled every 5 ms) that shows its first
screen. Python start-up and imports are included in both figures.

    python -m bench.console [--quick]
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path

from bench.common import Result, interleaved, machine

WIDTH, HEIGHT = 80, 24
POLL_SECONDS = 0.005
WAIT_SECONDS = 30.0
PYTHON = Path(sys.executable)
APPLIANCE = PYTHON.parent / "appliance"

# The console's first screen: the header's title and the Status screen (the bar of screens and
# the Status screen's own text), painted whether or not the service answers.
CONSOLE_MARKERS = ("JobRoutr QuickBooks Gateway", "Status")
MINIMAL_MARKERS = ("hello",)

MINIMAL_APP = """\
from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static


class Minimal(App[None]):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("hello")
        yield Footer()


if __name__ == "__main__":
    Minimal().run()
"""


def tmux_path() -> str:
    path = shutil.which("tmux")
    if path is None:
        raise SystemExit("tmux is not installed: apt-get install tmux")
    return path


def base_env(settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment minus host state (as the tests do), plus the settings given."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("APPLIANCE_")
        and k
        not in (
            "STATE_DIRECTORY",
            "RUNTIME_DIRECTORY",
            "CREDENTIALS_DIRECTORY",
            "TMUX",
            "TMUX_PANE",
            "COLORTERM",
        )
    }
    env.update(settings)
    env["TERM"] = "xterm-256color"
    return env


def first_paint(
    tmux: str, command: list[str], settings: Mapping[str, str], markers: tuple[str, ...]
) -> float:
    """Seconds from launching `command` in a fresh tmux pane to the pane showing all markers."""
    socket_dir = tempfile.mkdtemp(prefix="jra-bench-", dir="/tmp")  # short: sockets < 108 bytes
    server = f"jra-bench-{uuid.uuid4().hex[:12]}"
    target = f"{server}:0.0"
    env = base_env(settings)
    env["TMUX_TMPDIR"] = socket_dir
    settings_args = [arg for k, v in settings.items() for arg in ("-e", f"{k}={v}")]

    def tmux_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [tmux, "-L", server, "-f", "/dev/null", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    try:
        # The server and an idle pane first, so their start-up is not timed; then the program
        # replaces the idle pane's process (one tmux call) and the clock starts just before it.
        started = tmux_run(
            "start-server", ";",
            "set-option", "-g", "exit-empty", "off", ";",
            "set-option", "-g", "default-shell", "/bin/sh", ";",
            "set-option", "-wg", "remain-on-exit", "on", ";",
            "new-session", "-d", "-s", server, "-x", str(WIDTH), "-y", str(HEIGHT),
            "sleep 600",
        )  # fmt: skip
        if started.returncode != 0:
            raise RuntimeError(f"tmux did not start: {started.stderr}")
        line = shlex.join(["env", "TERM=xterm-256color", *command])
        began = time.perf_counter()
        spawned = tmux_run("respawn-pane", "-k", "-t", target, *settings_args, line)
        if spawned.returncode != 0:
            raise RuntimeError(f"tmux respawn-pane failed: {spawned.stderr}")
        deadline = began + WAIT_SECONDS
        while True:
            shown = tmux_run("capture-pane", "-p", "-t", target).stdout
            if all(m in shown for m in markers):
                return time.perf_counter() - began
            if "Traceback" in shown:
                raise RuntimeError(f"a traceback instead of a first screen:\n{shown}")
            if time.perf_counter() > deadline:
                raise RuntimeError(f"no first screen after {WAIT_SECONDS:.0f}s; the pane:\n{shown}")
            time.sleep(POLL_SECONDS)
    finally:
        tmux_run("kill-server")
        shutil.rmtree(socket_dir, ignore_errors=True)


def run(quick: bool = False) -> list[Result]:
    runs = 5 if quick else 11
    tmux = tmux_path()
    with tempfile.TemporaryDirectory(prefix="jra-bench-console-") as tmp:
        minimal = Path(tmp) / "minimal_app.py"
        minimal.write_text(MINIMAL_APP)
        # Nothing listens here: the console paints its Status screen saying the service is not
        # running, which is its first painted screen, with no service needed.
        nowhere = {"APPLIANCE_ADMIN_SOCKET": str(Path(tmp) / "nothing-here.sock")}

        def console() -> float:
            return first_paint(tmux, [str(APPLIANCE), "tui"], nowhere, CONSOLE_MARKERS)

        def bare() -> float:
            return first_paint(tmux, [str(PYTHON), str(minimal)], {}, MINIMAL_MARKERS)

        # One unrecorded launch of each first: bytecode caches and the page cache warm, as for
        # an operator who has opened the console before.
        console()
        bare()
        (figure, console_samples), (baseline, bare_samples) = interleaved(runs, console, bare)

    return [
        Result(
            benchmark="Console",
            measure="seconds from launching to the first painted screen (80x24 tmux pane)",
            figure=figure,
            baseline_name="minimal Textual app (Header, Static 'hello', Footer), same Python",
            baseline=baseline,
            unit="s",
            target="< 2x the minimal Textual app",
            met=figure / baseline < 2.0 if baseline else False,
            runs=runs,
            command="python -m bench.console",
            higher_is_better=False,
            notes=(
                "Both fresh Python processes (start-up and imports included), launched with tmux "
                "respawn-pane into an idle pane of a fresh private tmux server, timed until "
                "`tmux capture-pane -p` (polled every 5 ms, so ~5-10 ms resolution) shows the "
                f"first screen: {' + '.join(repr(m) for m in CONSOLE_MARKERS)} for the console, "
                f"{MINIMAL_MARKERS[0]!r} for the minimal app. `appliance tui` runs with "
                "APPLIANCE_ADMIN_SOCKET at a path where nothing listens, so its first screen is "
                "Status saying the service is not running (no service needed). One unrecorded "
                f"warm-up launch of each; runs interleaved. Machine: {machine()}."
            ),
            samples={"appliance tui": console_samples, "minimal Textual app": bare_samples},
            gap=import_gap(),
        )
    ]


def import_ms(statement: str) -> dict[str, float]:
    """Cumulative import time in ms of every module ``statement`` loads (python -X importtime)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
    )
    cumulative: dict[str, float] = {}
    for line in done.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            cumulative.setdefault(parts[2].strip(), int(parts[1]) / 1000)
    return cumulative


def import_gap() -> str:
    """Where `appliance tui`'s extra time before its first paint goes: what it imports beyond
    what the minimal app imports, measured with python -X importtime (median of 5 runs each)."""
    console_statement = "import appliance.entry, appliance.tui.app"
    minimal_statement = "import textual.app, textual.widgets"
    console = [
        sum(
            import_ms(console_statement).get(m, 0) for m in ("appliance.entry", "appliance.tui.app")
        )
        for _ in range(5)
    ]
    minimal = [
        sum(import_ms(minimal_statement).get(m, 0) for m in ("textual.app", "textual.widgets"))
        for _ in range(5)
    ]
    own = import_ms(console_statement)
    mine = sorted(
        (
            (ms, name)
            for name, ms in own.items()
            if name.startswith("appliance.tui.")
            and name.count(".") == 2
            and name != "appliance.tui.app"
        ),
        reverse=True,
    )[:3]
    return (
        f"Imports before the first paint: the console's {statistics.median(console):.0f} ms "
        f"(appliance.entry + appliance.tui.app) against the minimal app's "
        f"{statistics.median(minimal):.0f} ms (textual.app + textual.widgets), medians of 5 "
        "python -X importtime runs; the largest of the console's own modules: "
        + ", ".join(f"{name} {ms:.0f} ms" for ms, name in mine)
        + ". The rest is composing and painting the Status screen (header, bar of screens, "
        "status panel, footer) against the minimal app's three widgets. The command line "
        "(click), settings (pydantic) and HTTP client (httpx) load after the first paint, in "
        "a worker."
    )


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    results = run(quick="--quick" in args)
    print(json.dumps([r.as_dict() for r in results], indent=2))


if __name__ == "__main__":
    main()
