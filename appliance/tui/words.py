"""The service's sentences as the console says them: where a hint names a command
(`appliance connect`), the console names the key that does the same on its screens instead, so
the operator is never sent to a shell for what a key here does. Commands with no key (`appliance
serve`, `init`, `restore`...) are left as they are: they are for a shell.

What it returns is for the console's markup (a Static, a notice): the service's own brackets
(``[push] name_clash``) are escaped, so they are shown, not taken for a style."""

from __future__ import annotations

import re
from collections.abc import Callable

from textual.markup import escape

#: (a command as hints write it, the keys to press, the same as a noun). Most specific first; a
#: command is `appliance WORDS` up to the closing backtick, with its arguments (ID, KIND, --flags).
KEYS: tuple[tuple[str, str, str], ...] = (
    (
        r"connect --allow-other-company",
        "c, then N (Connect: a link for another company)",
        "N on the Connect screen (c)",
    ),
    (r"connect --redirect-url [^`]*", "c and paste the address", "pasting the address on Connect"),
    (r"connect", "c, then n (Connect)", "the Connect screen (c, then n)"),
    (r"import accounts", "a, then r (Accounts)", "the Accounts screen (a, then r)"),
    (r"import tax_codes[^`]*", "i, then 3 (Import)", "the Import screen (i, then 3)"),
    (r"import [^`]*--cancel", "x on the Import screen", "x on the Import screen (i)"),
    (r"import [^`]*", "i (Import)", "the Import screen (i)"),
    (r"accounts --kind discount", "t (Taxes)", "the Taxes screen (t)"),
    (r"(?:accounts|settings)[^`]*", "a (Accounts)", "the Accounts screen (a)"),
    (r"taxes[^`]*", "t (Taxes)", "the Taxes screen (t)"),
    (r"events retry[^`]*", "r on Status", "r on Status"),
    (r"events skip[^`]*", "k on Status", "k on Status"),
    (r"events accept[^`]*", "m on Status", "m on Status"),
    (r"events review[^`]*", "v on Status", "the Review screen (v on Status)"),
    (r"events --status (?:failed|mismatch)[^`]*", "f on Status", "the Status screen (s, f)"),
    (r"(?:events|status)[^`]*", "s (Status)", "the Status screen (s)"),
)
_PATTERNS = [
    (re.compile(rf"(?:\b([Rr])un )?`appliance {command}`"), press, noun)
    for command, press, noun in KEYS
]


def _keys(press: str, noun: str) -> Callable[[re.Match[str]], str]:
    def said(match: re.Match[str]) -> str:
        run = match.group(1)  # "Run `appliance connect`" becomes "Press c, then n (Connect)"
        return noun if run is None else f"{'P' if run == 'R' else 'p'}ress {press}"

    return said


def console_words(text: str) -> str:
    """``text`` with each command the console has keys for replaced by those keys."""
    for pattern, press, noun in _PATTERNS:
        text = pattern.sub(_keys(press, noun), text)
    return escape(text)
