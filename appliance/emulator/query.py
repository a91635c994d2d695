"""QBO's query language for the emulator: parse a statement, run it over rows, shape the reply.

Three pure steps, so the HTTP layer stays thin and each step can be tested alone:

``parse(text, queryable)``
    Turns ``SELECT * | SELECT COUNT(*) FROM <Entity> [WHERE c [AND c]...] [ORDERBY p [ASC|DESC]
    [, ...]] [STARTPOSITION n] [MAXRESULTS n]`` into a frozen :class:`Query`, or raises
    :class:`QueryError` (which the HTTP layer turns into a 400 ValidationFault, code 4001). A small
    tokenizer plus a recursive-descent parser: the language has no nesting, so a grammar library
    would add a dependency without removing any difficulty. Every refusal names what was wrong,
    and arbitrary input can only ever end in a ``Query`` or a ``QueryError``.
``run(query, rows, list_entity=...)``
    Compiles the WHERE clause once into plain closures (no per-row parsing, no per-row regex
    compilation), filters, sorts only when ORDERBY asks for it (stored rows already come in Id
    order), and slices the page. It returns the page and the total number of matching rows.
``response_body(query, page, total)``
    Builds the value of ``"QueryResponse"``.

What the recordings (samples/recorded) and FACTS.md section 3 establish, and the emulator follows:

- Keywords are case-insensitive (``select * from SalesReceipt where ...`` in a recorded batch,
  ``SELECT count(*)`` in another); so are entity names (``select * from customer``, seen in real
  sandbox logs), and the reply names the entity as QBO spells it (``"Customer"``). An unknown
  entity is refused with Detail ``QueryValidationError: invalid context declaration: <name>``
  (recorded verbatim); the emulator's API answers a real QBO entity it does not model
  "Unsupported Operation" instead (entities.py, ``UNMODELLED``).
- STARTPOSITION and MAXRESULTS come in either order; STARTPOSITION is 1-based, and 0 is taken as
  1 (python-quickbooks PR #177); MAXRESULTS max 1000.
- Only filterable properties may appear in WHERE or ORDERBY; any other is refused with Detail
  ``QueryValidationError: property '<name>' is not queryable`` (the wording of a real refusal),
  followed here by where it was found. Which properties are filterable is the caller's map
  (``entities.QUERYABLE``).
- Date-times (``MetaData.LastUpdatedTime``, ``MetaData.CreateTime``) compare and sort as
  instants, whatever offset either side is written in (``Z``, ``-07:00``, ``-0700``).
- ``PrimaryEmailAddr`` compares by its ``Address``, with ``=``, ``IN`` and ``LIKE``.
- ``Active IN ( true, false )`` lifts the default of returning only active list entities.
- Strings are single-quoted and a backslash escapes the next character (``'Amy\\'s Bird
  Sanctuary'``); ``&`` is an ordinary character once the statement is URL-decoded.
- A quoted number compares numerically with a number field (``TotalAmt > '300.00'``).
- ``maxResults`` in the reply is the number of rows returned; an empty page replies ``{}``.
- No OR, no projections, no GROUP BY, no JOIN; LIKE knows only the ``%`` wildcard.

Choices the samples do not settle (unverified; kept deliberately simple and strict, because an
emulator that refuses what QBO accepts fails loudly, while one that accepts what QBO refuses hides
a bug until production):

- Without ORDERBY, rows keep the order the caller passes them in. The emulator passes name
  lists sorted as the recordings show QBO returns them (Customers by FullyQualifiedName, Accounts
  and Items by Name; see ``Company.listed``) and transactions by Id.
- ``=`` and ``IN`` compare strings case-insensitively; so do ``<``/``>`` and ORDERBY. LIKE is
  anchored (``'Amy%'`` is "starts with", ``'%@intuit.com'`` "ends with", ``'%bird%'``
  "contains") and case-insensitive; ``_`` is a literal character, not a wildcard.
- Between two strings, ``< > <= >=`` compare numerically when both sides are plain decimal
  numbers (so Id ``'10' > '9'``), as instants when both are date-times, otherwise as strings
  (dates such as ``TxnDate``, written ``YYYY-MM-DD``, order correctly as strings).
- A date-time bound written without an offset is read in the company's local time (the row's
  own offset); a bare date compared with a date-time field means its midnight, local time.
- ``=`` and ``IN`` between strings never convert numbers: ``Id = '05'`` does not find Id ``5``.
- A property that is missing from a row (or is a list or a dict without ``value``) never matches.
  The only exception is the Active default: a list-entity row with no Active flag counts as active.
- A boolean field also equals the strings ``'true'``/``'false'`` (any case).
- A boolean literal cannot be used with ``< > <= >=`` or LIKE, and LIKE needs a string literal.
- ORDERBY puts rows without the property last in both directions; plain-number strings sort
  numerically before other strings, which sort case-insensitively; the sort is stable, so ties
  stay in the order given.
- ``ORDER BY`` (two words), a trailing semicolon, ``!=``/``<>``, ``NOT``, ``IS NULL`` and ``''``
  as a quote escape are refused with a detail that says what to write instead.
- STARTPOSITION above 2147483647 (a Java int) is refused; a STARTPOSITION past the last row is
  fine and yields an empty page.
- COUNT(*) ignores ORDERBY, STARTPOSITION and MAXRESULTS (they are still parsed and validated).
- Syntax errors carry a ``QueryParserError:`` prefix, unknown properties and out-of-range numbers a
  ``QueryValidationError:`` prefix; only the unknown-entity wording is copied from a recording.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

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
# Plain decimal numbers only: Decimal() would also accept "NaN", "1e5" and "1_000", none of which a
# QBO Id or amount looks like.
_PLAIN_NUMBER: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


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


# --------------------------------------------------------------------------------------------------
# Running a query

Row = Mapping[str, Any]
_Getter = Callable[[Row], object]
_Test = Callable[[object], bool]
_Predicate = Callable[[Row], bool]

_MISSING: Final = object()
_ORDERING: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


# Row numbers are used as they come (int, float or Decimal: Python compares and hashes those exactly
# with each other); literals are int where possible (Ids are digit strings, and int() is far cheaper
# than Decimal()), else Decimal. A float row is compared with the literal's nearest float, so that
# 0.1 read from JSON equals '0.1' as written in a query.
Number = int | float | Decimal
# Python refuses int() on strings of more than 4300 digits; anything longer goes through Decimal.
_INT_FAST_PATH_DIGITS: Final = 18
_SCALARS: Final = frozenset({str, bool, int, float, Decimal, type(None)})


def _plain_number(text: str) -> Number | None:
    """The number a string spells, if it is a plain decimal number (as an Id or amount is)."""
    if text.isdigit() and text.isascii() and len(text) <= _INT_FAST_PATH_DIGITS:
        return int(text)
    return Decimal(text) if _PLAIN_NUMBER.fullmatch(text) else None


def _number(value: object) -> Number | None:
    """A row's number as it is; None for anything else, NaN included (it compares with nothing)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, Decimal):
        return None if value.is_nan() else value
    return None


def _as_float(number: Number) -> float | None:
    """The literal as a float, for comparing with float row values; None if out of float range."""
    as_float = float(number)
    return as_float if math.isfinite(as_float) else None


def _ref_value(value: object) -> object:
    """A reference such as CustomerRef compares by its ``value``; other objects never match."""
    if value.__class__ is dict or (value is not _MISSING and isinstance(value, Mapping)):
        return value.get("value", _MISSING)
    return value


# Objects that are not references but compare by one of their fields.
_COMPARED_BY: Final = {"PrimaryEmailAddr": "PrimaryEmailAddr.Address"}

# A date-time as QBO writes it (``2020-09-29T05:58:16-07:00``) or as a query may (``...Z``,
# ``...-0700``, with fractions of a second, or without an offset); a bare date as a bound.
_DATE_TIME: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}")
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _instant(text: str) -> datetime | None:
    """The moment a date-time string names (aware when it has an offset or Z), else None."""
    if text[10:11] != "T" or _DATE_TIME.match(text) is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _bound(literal: str) -> datetime | None:
    """A literal's moment, for comparing with date-time fields: a bare date means its midnight."""
    moment = _instant(literal)
    if moment is None and _DATE.fullmatch(literal):
        try:
            moment = datetime.fromisoformat(literal)
        except ValueError:
            return None
    return moment


def _aligned(moment: datetime, bound: datetime) -> datetime:
    """A row's moment made comparable with a bound: as an instant when the bound has an offset;
    as the row's own wall-clock time (the company's local time) when it has none."""
    if bound.tzinfo is None:
        return moment.replace(tzinfo=None)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _sort_instant(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _getter(prop: str) -> _Getter:
    """Read a (dotted) property; a reference such as CustomerRef yields its ``value``."""
    head, *rest = _COMPARED_BY.get(prop, prop).split(".")
    # The common shapes get their own closure: this runs once per row on 100,000-row companies,
    # and the scalar check skips the (slow, ABC-based) Mapping test for plain values.
    if not rest:

        def get_top(row: Row) -> object:
            value = row.get(head, _MISSING)
            return value if value.__class__ in _SCALARS else _ref_value(value)

        return get_top

    def get_nested(row: Row) -> object:
        value = row.get(head, _MISSING)
        for key in rest:
            # JSON objects are dicts; the Mapping test (an ABC check, much slower) is the fallback.
            if value.__class__ is not dict and not isinstance(value, Mapping):
                return _MISSING
            value = value.get(key, _MISSING)
        return value if value.__class__ in _SCALARS else _ref_value(value)

    return get_nested


# The tests below run once per row: they check the row value's kind with isinstance, which is
# cheap for builtin types, in the order str, bool, number (bool is a subclass of int).


def _equals_any(literals: Sequence[object]) -> _Test:
    """``=`` and ``IN``: one set per kind of row value, so a row costs one lookup or two."""
    strings: set[str] = set()
    booleans: set[bool] = set()
    numbers_for_number_fields: set[Number] = set()
    numbers_for_string_fields: set[Number] = set()
    bounds: list[datetime] = []
    for literal in literals:
        if isinstance(literal, bool):
            booleans.add(literal)
            strings.add("true" if literal else "false")
        elif isinstance(literal, Decimal):
            numbers_for_string_fields.add(literal)
            numbers_for_number_fields.add(literal)
        elif isinstance(literal, str):
            folded = literal.casefold()
            strings.add(folded)
            bound = _bound(literal)
            if bound is not None:
                bounds.append(bound)
            if folded in ("true", "false"):
                booleans.add(folded == "true")
            number = _plain_number(literal)
            if number is not None:
                numbers_for_number_fields.add(number)
    # Float row values find their literal through its nearest float (see Number above).
    for number in list(numbers_for_number_fields):
        as_float = _as_float(number)
        if as_float is not None:
            numbers_for_number_fields.add(as_float)

    def test(value: object) -> bool:
        if isinstance(value, str):
            if value.casefold() in strings:
                return True
            if bounds:
                moment = _instant(value)
                if moment is not None:
                    return any(_aligned(moment, bound) == bound for bound in bounds)
            if numbers_for_string_fields:
                number = _plain_number(value)
                return number is not None and number in numbers_for_string_fields
            return False
        if isinstance(value, bool):
            return value in booleans
        # Only numbers can be in this set; an unhashable row value (a list) is no number.
        return _number(value) in numbers_for_number_fields

    return test


def _ordering(op: str, literal: object) -> _Test:
    """``< > <= >=``: as instants when both sides are date-times, numerically when both are
    numbers, else as case-folded strings."""
    compare = _ORDERING.get(op)
    if compare is None:
        raise ValueError(f"unknown query operator {op!r}")
    numeric: Number | None = literal if isinstance(literal, Decimal) else None
    text: str | None = None
    bound: datetime | None = None
    if isinstance(literal, str):
        numeric = _plain_number(literal)
        text = literal.casefold()
        bound = _bound(literal)
    numeric_float = None if numeric is None else _as_float(numeric)

    def test(value: object) -> bool:
        if isinstance(value, str):
            if bound is not None:
                moment = _instant(value)
                if moment is not None:
                    return compare(_aligned(moment, bound), bound)
            if numeric is not None:
                number = _plain_number(value)
                if number is not None:
                    return compare(number, numeric)
            return text is not None and compare(value.casefold(), text)
        if numeric is None or isinstance(value, bool):
            return False
        if isinstance(value, float):
            return numeric_float is not None and compare(value, numeric_float)  # NaN: always False
        number = _number(value)
        return number is not None and compare(number, numeric)

    return test


def _like(pattern: str) -> _Test:
    """Anchored, case-insensitive match where ``%`` stands for any run of characters."""
    parts = pattern.casefold().split("%")
    first, middle, last = parts[0], parts[1:-1], parts[-1]
    exact = len(parts) == 1
    fixed = len(first) + len(last)

    def test(value: object) -> bool:
        if not isinstance(value, str):
            return False
        folded = value.casefold()
        if exact:
            return folded == first
        if len(folded) < fixed or not folded.startswith(first) or not folded.endswith(last):
            return False
        position, end = len(first), len(folded) - len(last)
        for part in middle:
            found = folded.find(part, position, end)
            if found < 0:
                return False
            position = found + len(part)
        return True

    return test


def _compile_condition(condition: Condition) -> _Predicate:
    get = _getter(condition.prop)
    value = condition.value
    if condition.op == "IN":
        test = _equals_any(value if isinstance(value, tuple) else (value,))
    elif condition.op == "=":
        test = _equals_any((value,))
    elif condition.op == "LIKE":
        test = _like(value if isinstance(value, str) else str(value))
    else:
        test = _ordering(condition.op, value)
    return lambda row: test(get(row))


def _is_active(row: Row) -> bool:
    return row.get("Active") is not False


def _compile_where(where: Sequence[Condition], *, list_entity: bool) -> _Predicate | None:
    """One predicate for the whole WHERE clause, or None when every row matches."""
    predicates = [_compile_condition(condition) for condition in where]
    if list_entity and not any(condition.prop.lower() == "active" for condition in where):
        predicates.insert(0, _is_active)
    if not predicates:
        return None
    if len(predicates) == 1:
        return predicates[0]

    def every(row: Row) -> bool:
        # A plain loop: all() over a generator costs a frame per row for nothing.
        for predicate in predicates:  # noqa: SIM110
            if not predicate(row):
                return False
        return True

    return every


def _sorted(rows: Sequence[Row], order_by: Sequence[tuple[str, bool]]) -> list[Row]:
    """Stable multi-key sort: one pass per key, least significant first.

    Each pass splits the rows by kind of value: numbers (plain-number strings such as Ids
    included), date-times (as instants), other strings (case-folded), booleans, and rows without
    the property. Each group is
    sorted on its own, which is the same as sorting on (kind, value) but keeps Python comparing
    plain values instead of tuples; the groups are joined in kind order (reversed for DESC), and the
    rows without the property always come last.
    """
    ordered = list(rows)
    by_value = operator.itemgetter(0)
    for prop, descending in reversed(order_by):
        get = _getter(prop)
        numbers: list[tuple[Number, Row]] = []
        instants: list[tuple[datetime, Row]] = []
        strings: list[tuple[str, Row]] = []
        booleans: list[tuple[bool, Row]] = []
        missing: list[Row] = []
        for row in ordered:
            value = get(row)
            if isinstance(value, str):
                number = _plain_number(value)
                if number is not None:
                    numbers.append((number, row))
                elif (moment := _instant(value)) is not None:
                    instants.append((_sort_instant(moment), row))
                else:
                    strings.append((value.casefold(), row))
            elif isinstance(value, bool):
                booleans.append((value, row))
            else:
                number = _number(value)
                if number is None:
                    missing.append(row)
                else:
                    numbers.append((number, row))
        groups: list[list[Any]] = [numbers, instants, strings, booleans]
        if descending:
            groups.reverse()
        ordered = []
        for group in groups:
            # Python's sort is stable even with reverse=True: ties keep the previous pass's order.
            group.sort(key=by_value, reverse=descending)
            ordered.extend(row for _, row in group)
        ordered.extend(missing)
    return ordered


def run(
    query: Query, rows: Sequence[Mapping[str, Any]], *, list_entity: bool
) -> tuple[list[Mapping[str, Any]], int]:
    """Filter, sort and page ``rows`` (stored QBO JSON, in default order): (page, total matching).

    ``list_entity`` means the entity has an Active flag, so unless a condition names Active only
    active rows match. For COUNT(*) the page is always empty: only the total is needed.
    """
    predicate = _compile_where(query.where, list_entity=list_entity)
    matching: Sequence[Row] = rows if predicate is None else list(filter(predicate, rows))
    total = len(matching)
    if query.count:
        return [], total
    if query.order_by:
        matching = _sorted(matching, query.order_by)
    start = query.start_position - 1
    return list(matching[start : start + query.max_results]), total


def response_body(query: Query, page: list[Mapping[str, Any]], total: int) -> dict[str, Any]:
    """The value of ``"QueryResponse"``: totalCount for COUNT, ``{}`` for an empty page."""
    if query.count:
        return {"totalCount": total}
    if not page:
        return {}
    return {
        query.entity: list(page),
        "startPosition": query.start_position,
        "maxResults": len(page),
    }
