"""`appliance tui` goes straight to the console; every other command line to the click CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.entry import console_config


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["tui"], (True, None)),
        (
            ["--config", "/etc/jobroutr/appliance.toml", "tui"],
            (True, Path("/etc/jobroutr/appliance.toml")),
        ),
        (["--config=/etc/a.toml", "tui"], (True, Path("/etc/a.toml"))),
        # Everything else is the command line's to parse: help, errors and all.
        (["tui", "--help"], (False, None)),
        (["tui", "extra"], (False, None)),
        (["--config=", "tui"], (False, None)),
        (["--config", "", "tui"], (False, None)),
        (["status"], (False, None)),
        (["--config", "tui"], (False, None)),
        ([], (False, None)),
    ],
)
def test_only_a_plain_console_command_takes_the_fast_path(
    argv: list[str], expected: tuple[bool, Path | None]
) -> None:
    assert console_config(argv) == expected
