"""QBO query statements as data: building and escaping are pure functions (FACTS §3).

String literals are single-quoted with backslash escapes (``'Amy\\'s Bird Sanctuary'``); the
whole statement is URL-encoded by the HTTP layer, so ``&`` and ``%`` need nothing here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

MAX_RESULTS = 1000
Literal = str | int | Decimal | bool


def quote(value: Literal) -> str:
    """A literal as QBO reads it: strings quoted and escaped, booleans bare, numbers quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


@dataclass(frozen=True)
class Condition:
    prop: str
    op: str
    value: Literal | Sequence[Literal]

    def render(self) -> str:
        if isinstance(self.value, Sequence) and not isinstance(self.value, str):
            if self.op != "IN":
                raise ValueError(f"a list of values needs IN, not {self.op}")
            return f"{self.prop} IN ({', '.join(quote(v) for v in self.value)})"
        return f"{self.prop} {self.op} {quote(self.value)}"


@dataclass(frozen=True)
class Select:
    entity: str
    where: tuple[Condition, ...] = field(default_factory=tuple)
    order_by: str | None = None
    descending: bool = False

    def filter(self, prop: str, op: str, value: Literal | Sequence[Literal]) -> Select:
        if op not in ("=", "<", ">", "<=", ">=", "IN", "LIKE"):
            raise ValueError(f"QBO has no operator {op!r}")
        listed = isinstance(value, Sequence) and not isinstance(value, str)
        if op == "IN" and (not listed or not value):
            raise ValueError("IN needs a non-empty list of values")
        return Select(
            self.entity, (*self.where, Condition(prop, op, value)), self.order_by, self.descending
        )

    def ordered(self, prop: str, *, descending: bool = False) -> Select:
        return Select(self.entity, self.where, prop, descending)

    def _where(self) -> str:
        return f" WHERE {' AND '.join(c.render() for c in self.where)}" if self.where else ""

    def count(self) -> str:
        return f"SELECT COUNT(*) FROM {self.entity}{self._where()}"  # noqa: S608 - QBO, not SQL

    def page(self, start_position: int, max_results: int = MAX_RESULTS) -> str:
        if start_position < 1 or not 1 <= max_results <= MAX_RESULTS:
            raise ValueError("STARTPOSITION starts at 1 and MAXRESULTS is 1..1000")
        order = ""
        if self.order_by:
            order = f" ORDERBY {self.order_by}{' DESC' if self.descending else ''}"
        return (
            f"SELECT * FROM {self.entity}{self._where()}{order}"  # noqa: S608 - QBO, not SQL
            f" STARTPOSITION {start_position} MAXRESULTS {max_results}"
        )

    def pages(self, total: int, page_size: int = MAX_RESULTS) -> Iterable[str]:
        """Every page statement for ``total`` rows (from a COUNT), in order."""
        for start in range(1, total + 1, page_size):
            yield self.page(start, page_size)
