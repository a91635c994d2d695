"""Small ways of saying things the same everywhere."""

from __future__ import annotations

from collections.abc import Sequence


def either(items: Sequence[str]) -> str:
    """``["Income", "Other Income"]`` as "Income or Other Income"; three as "A, B or C"."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} or {items[-1]}"
