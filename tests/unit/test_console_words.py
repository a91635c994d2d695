"""The console names its keys where the service's sentences name a command (tui/words.py)."""

from __future__ import annotations

import pytest
from textual.content import Content

from appliance.tui.words import console_words


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("Run `appliance connect` first.", "Press c, then n (Connect) first."),
        (
            "reconnect before then with `appliance connect`.",
            "reconnect before then with the Connect screen (c, then n).",
        ),
        (
            "Run `appliance import accounts`, then pick one from `appliance accounts --kind "
            "income`.",
            "Press a, then r (Accounts), then pick one from the Accounts screen (a).",
        ),
        ("Retry the event (`appliance events retry ID`).", "Retry the event (r on Status)."),
        ("skip the event (`appliance events skip ID`)", "skip the event (k on Status)"),
        (
            "Pick one from `appliance accounts --kind discount`.",
            "Pick one from the Taxes screen (t).",
        ),
        (
            "or, to switch companies on purpose, run `appliance connect --allow-other-company`.",
            "or, to switch companies on purpose, press c, then N (Connect: a link for another "
            "company).",
        ),
        (
            "waits for your decision: `appliance events review`",
            "waits for your decision: the Review screen (v on Status)",
        ),
        # No key does these: a shell does.
        ("Start it with `appliance serve`.", "Start it with `appliance serve`."),
        ("Run `appliance restore FILE`.", "Run `appliance restore FILE`."),
    ],
)
def test_a_command_with_a_key_is_said_as_the_key(said: str, shown: str) -> None:
    assert console_words(said) == shown


def test_the_services_brackets_are_shown_not_taken_for_markup() -> None:
    """A hint naming a settings section ("[push] name_clash") lost it on the Status screen: the
    console's markup took "[push]" for a style and dropped it."""
    said = console_words('Or set [push] name_clash = "suffix". Run `appliance connect`.')
    shown = Content.from_markup(f"Hint: {said}").plain
    assert shown == 'Hint: Or set [push] name_clash = "suffix". Press c, then n (Connect).'
