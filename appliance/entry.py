"""The ``appliance`` command's entry point: the operator console starts without the command line.

``appliance tui`` (alone, or after ``--config FILE``) goes straight to the console, which paints
its first screen and then, in a worker, loads the settings to find the service's socket. Loading
the command line (click, every command's imports) and the settings (pydantic-settings) first would
keep an operator on SSH looking at a blank terminal for a third of a second longer
(bench/console.py measures it). Every other command line, ``appliance tui --help`` included, goes
to ``appliance.cli`` as before.
"""

from __future__ import annotations

import sys
from pathlib import Path


def console_config(argv: list[str]) -> tuple[bool, Path | None]:
    """Whether ``argv`` (without the program name) only opens the console, and its --config."""
    if argv == ["tui"]:
        return True, None
    if len(argv) == 3 and argv[0] == "--config" and argv[2] == "tui" and argv[1]:
        return True, Path(argv[1])
    if len(argv) == 2 and argv[0].startswith("--config=") and argv[1] == "tui":
        value = argv[0].removeprefix("--config=")
        return (True, Path(value)) if value else (False, None)
    return False, None


def main() -> None:
    console, config = console_config(sys.argv[1:])
    if console:
        from appliance.tui.app import ConsoleApp

        def socket() -> Path:
            from appliance.config import load_settings

            return load_settings(config).admin_socket_path

        ConsoleApp(socket).run()
        return
    from appliance.cli import main as cli

    cli()


if __name__ == "__main__":
    main()
