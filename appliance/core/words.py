"""Small ways of saying things the same everywhere."""

from __future__ import annotations

from collections.abc import Sequence


def either(items: Sequence[str]) -> str:
    """``["Income", "Other Income"]`` as "Income or Other Income"; three as "A, B or C"."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"


#: Words that begin with a vowel letter but the sound of a consonant ("a unit", "a one-off").
_CONSONANT_SOUNDS = ("one", "uni", "use", "usu", "uti", "eu")


def a_or_an(word: str) -> str:
    """``word`` with its article: "an Income", "an Expense", "a Bank", "a unit"."""
    if not word:
        return ""
    vowel = word[0].casefold() in "aeiou" and not word.casefold().startswith(_CONSONANT_SOUNDS)
    return f"{'an' if vowel else 'a'} {word}"
