"""Parsing QBO's query language: a small tokenizer and a recursive-descent parser that turn a
statement into a frozen ``Query`` or raise ``QueryError`` (the package docstring has the rules).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

DEFAULT_MAX_RESULTS: Final = 100
MAX_MAX_RESULTS: Final = 1000
# QBO is a Java service; a start position beyond a signed 32-bit int is assumed to be refused.
MAX_START_POSITION: Final = 2**31 - 1

COMPARISON_OPERATORS: Final = ("=", "<", ">", "<=", ">=")
OPERATORS: Final = (*COMPARISON_OPERATORS, "IN", "LIKE")


class QueryError(Exception):
    """A query QBO would refuse: becomes a 400 ValidationFault code 4001 'Invalid query'."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Condition:
    """One ``<prop> <op> <value>`` term of a WHERE clause; terms are joined by AND."""

    prop: str
    op: str
    value: object


@dataclass(frozen=True)
class Query:
    """A parsed statement; property names are already spelt as the queryable map spells them."""

    entity: str
    count: bool
    where: tuple[Condition, ...]
    order_by: tuple[tuple[str, bool], ...]
    start_position: int
    max_results: int


# --------------------------------------------------------------------------------------------------
# Tokenizer

_TOKEN: Final = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<number>-?[0-9]+(?:\.[0-9]+)?)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<symbol><=|>=|<>|!=|[=<>(),*;])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE: Final = re.compile(r"\\(.)", re.DOTALL)


@dataclass(frozen=True)
class _Token:
    kind: str  # "string", "number", "word", "symbol" or "end"
    text: str  # as written (for a string: the quoted source text)
    pos: int  # 0-based character offset, shown 1-based in details

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


def _parser_error(message: str) -> QueryError:
    return QueryError(f"QueryParserError: {message}")


def _validation_error(message: str) -> QueryError:
    return QueryError(f"QueryValidationError: {message}")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            char = text[pos]
            if char == "'":
                raise _parser_error(f"unterminated string literal starting at position {pos + 1}")
            raise _parser_error(f"unexpected character {char!r} at position {pos + 1}")
        kind = match.lastgroup or ""
        if kind != "space":
            if kind == "string" and text.startswith("'", match.end()):
                # SQL's '' escape: QBO wants a backslash instead; say so rather than a vague error.
                raise _parser_error(
                    f"two quotes in a row at position {match.end()}: "
                    "escape a quote inside a string with a backslash, as in 'Amy\\'s'"
                )
            tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _unquote(token: _Token) -> str:
    return _ESCAPE.sub(lambda m: m.group(1), token.text[1:-1])


# --------------------------------------------------------------------------------------------------
# Parser

# SQL words QBO does not support, each with what to write instead; used to explain a refusal.
_UNSUPPORTED_WORDS: Final = {
    "OR": "OR is not supported in a WHERE clause; run one query per alternative or use IN",
    "NOT": "NOT is not supported; use the opposite comparison or list the wanted values with IN",
    "IS": "IS / IS NULL is not supported",
    "GROUP": "GROUP BY is not supported",
    "JOIN": "JOIN is not supported; query one entity at a time",
    "HAVING": "HAVING is not supported",
    "LIMIT": "LIMIT is not supported; use MAXRESULTS",
    "OFFSET": "OFFSET is not supported; use STARTPOSITION (1-based)",
    "ORDER": "write ORDERBY as one word",
    "BETWEEN": "BETWEEN is not supported; use two conditions joined by AND",
}


class _Parser:
    def __init__(self, text: str, queryable: Mapping[str, Collection[str]]) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.queryable = queryable
        self.entity = ""
        self.properties: dict[str, str] = {}

    # -- token helpers -----------------------------------------------------------------------------

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def accept_symbol(self, symbol: str) -> bool:
        if self.token.kind == "symbol" and self.token.text == symbol:
            self.index += 1
            return True
        return False

    def accept_word(self, word: str) -> bool:
        if self.token.upper == word:
            self.index += 1
            return True
        return False

    def unexpected(self, expected: str) -> QueryError:
        token = self.token
        hint = _UNSUPPORTED_WORDS.get(token.upper)
        if hint is not None:
            return _parser_error(f"{hint} (position {token.pos + 1})")
        if token.kind == "symbol" and token.text == ";":
            return _parser_error(f"remove the ';' at position {token.pos + 1}: it is not accepted")
        if token.kind == "symbol" and token.text in ("!=", "<>"):
            return _parser_error(
                f"operator {token.text} at position {token.pos + 1} is not supported; "
                "supported operators are =, <, >, <=, >=, IN and LIKE"
            )
        if token.kind == "end":
            return _parser_error(f"expected {expected} but the query ended")
        return _parser_error(
            f"expected {expected} but found {token.text!r} at position {token.pos + 1}"
        )

    def expect_symbol(self, symbol: str, expected: str) -> None:
        if not self.accept_symbol(symbol):
            raise self.unexpected(expected)

    # -- grammar -----------------------------------------------------------------------------------

    def parse(self) -> Query:
        if not self.accept_word("SELECT"):
            raise self.unexpected("SELECT")
        count = self.parse_select_list()
        if not self.accept_word("FROM"):
            raise self.unexpected("FROM")
        self.parse_entity()
        where: tuple[Condition, ...] = ()
        if self.accept_word("WHERE"):
            where = self.parse_where()
        order_by: tuple[tuple[str, bool], ...] = ()
        if self.accept_word("ORDERBY"):
            order_by = self.parse_order_by()
        start_position, max_results = self.parse_paging()
        if self.token.kind != "end":
            raise self.unexpected("ORDERBY, STARTPOSITION, MAXRESULTS or the end of the query")
        return Query(
            entity=self.entity,
            count=count,
            where=where,
            order_by=order_by,
            start_position=start_position,
            max_results=max_results,
        )

    def parse_select_list(self) -> bool:
        """``*`` or ``COUNT(*)``; anything else is a projection, which QBO does not support."""
        if self.accept_symbol("*"):
            count = False
        elif self.accept_word("COUNT"):
            self.expect_symbol("(", "'(' after COUNT")
            self.expect_symbol("*", "'*' inside COUNT(...)")
            self.expect_symbol(")", "')' after COUNT(*")
            count = True
        elif self.token.kind == "word" and self.token.upper != "FROM":
            raise _parser_error(
                f"projections are not supported ({self.token.text!r} at position "
                f"{self.token.pos + 1}); use SELECT * or SELECT COUNT(*)"
            )
        else:
            raise self.unexpected("'*' or COUNT(*) after SELECT")
        if self.token.kind == "symbol" and self.token.text == ",":
            raise _parser_error("projections are not supported; use SELECT * or SELECT COUNT(*)")
        return count

    def parse_entity(self) -> None:
        token = self.token
        if token.kind != "word":
            raise self.unexpected("an entity name after FROM")
        self.index += 1
        # Entity names match in any case and come out spelt as the map spells them (FACTS §3).
        entity = token.text if token.text in self.queryable else None
        if entity is None:
            folded = token.text.lower()
            entity = next((name for name in self.queryable if name.lower() == folded), None)
        if entity is None:
            raise _validation_error(f"invalid context declaration: {token.text}")
        self.entity = entity
        # Property names match case-insensitively and come out spelt as the map spells them.
        self.properties = {name.lower(): name for name in self.queryable[entity]}
        if self.token.kind == "symbol" and self.token.text == ",":
            raise _parser_error("only one entity can be queried at a time")

    def parse_property(self, clause: str) -> str:
        token = self.token
        if token.kind != "word":
            raise self.unexpected(f"a property name in {clause}")
        name = self.properties.get(token.text.lower())
        if name is None and token.upper in _UNSUPPORTED_WORDS:
            raise self.unexpected(f"a property name in {clause}")
        self.index += 1
        if name is None:
            raise _validation_error(
                f"property {token.text!r} is not queryable on {self.entity} "
                f"(in {clause}, position {token.pos + 1})"
            )
        return name

    def parse_where(self) -> tuple[Condition, ...]:
        conditions = [self.parse_condition()]
        while self.accept_word("AND"):
            conditions.append(self.parse_condition())
        return tuple(conditions)

    def parse_condition(self) -> Condition:
        prop = self.parse_property("WHERE")
        token = self.token
        if token.kind == "symbol" and token.text in COMPARISON_OPERATORS:
            self.index += 1
            op = token.text
            value_token = self.token
            value = self.parse_literal()
            if op != "=" and isinstance(value, bool):
                raise _parser_error(
                    f"operator {op} cannot compare with a boolean "
                    f"(position {value_token.pos + 1}); use = or IN"
                )
            return Condition(prop, op, value)
        if self.accept_word("IN"):
            return Condition(prop, "IN", self.parse_in_list())
        if self.accept_word("LIKE"):
            value_token = self.token
            pattern = self.parse_literal()
            if not isinstance(pattern, str):
                raise _parser_error(
                    f"LIKE needs a quoted string pattern (position {value_token.pos + 1})"
                )
            return Condition(prop, "LIKE", pattern)
        raise self.unexpected(f"an operator ({', '.join(OPERATORS)}) after {prop}")

    def parse_literal(self) -> str | Decimal | bool:
        token = self.token
        if token.kind == "string":
            self.index += 1
            return _unquote(token)
        if token.kind == "number":
            self.index += 1
            return Decimal(token.text)
        if token.upper in ("TRUE", "FALSE"):
            self.index += 1
            return token.upper == "TRUE"
        raise self.unexpected("a value: a 'quoted string', a number, true or false")

    def parse_in_list(self) -> tuple[str | Decimal | bool, ...]:
        self.expect_symbol("(", "'(' after IN")
        values = [self.parse_literal()]
        while self.accept_symbol(","):
            values.append(self.parse_literal())
        self.expect_symbol(")", "',' or ')' in the IN list")
        return tuple(values)

    def parse_order_by(self) -> tuple[tuple[str, bool], ...]:
        keys: list[tuple[str, bool]] = []
        while True:
            prop = self.parse_property("ORDERBY")
            descending = False
            if self.accept_word("DESC"):
                descending = True
            else:
                self.accept_word("ASC")
            keys.append((prop, descending))
            if not self.accept_symbol(","):
                return tuple(keys)

    def parse_paging(self) -> tuple[int, int]:
        start_position: int | None = None
        max_results: int | None = None
        while True:
            if self.accept_word("STARTPOSITION"):
                if start_position is not None:
                    raise _parser_error("STARTPOSITION is given twice")
                # STARTPOSITION 0 is accepted and means 1 (FACTS §3).
                start_position = max(1, self.parse_count("STARTPOSITION", 0, MAX_START_POSITION))
            elif self.accept_word("MAXRESULTS"):
                if max_results is not None:
                    raise _parser_error("MAXRESULTS is given twice")
                max_results = self.parse_count("MAXRESULTS", 1, MAX_MAX_RESULTS)
            else:
                break
        return (
            1 if start_position is None else start_position,
            DEFAULT_MAX_RESULTS if max_results is None else max_results,
        )

    def parse_count(self, clause: str, low: int, high: int) -> int:
        token = self.token
        if token.kind != "number" or "." in token.text:
            raise self.unexpected(f"a whole number after {clause}")
        self.index += 1
        digits = token.text.lstrip("-").lstrip("0") or "0"
        # Check the length before int(): Python refuses to convert strings of over 4300 digits.
        if (
            len(digits) > len(str(high))
            or token.text.startswith("-")
            or not (low <= int(digits) <= high)
        ):
            shown = token.text if len(token.text) <= 20 else token.text[:20] + "..."
            raise _validation_error(f"{clause} must be between {low} and {high}, not {shown}")
        return int(digits)


def parse(text: str, queryable: Mapping[str, Collection[str]]) -> Query:
    """Parse one query statement for the entities and properties ``queryable`` allows."""
    return _Parser(text, queryable).parse()
