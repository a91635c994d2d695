"""Running a parsed query: the WHERE clause compiled once into closures, filtering, ORDERBY
and paging over stored rows, and the ``QueryResponse`` value (the package docstring has the rules).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from appliance.emulator.query.parser import Condition, Query

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


# Plain decimal numbers only: Decimal() would also accept "NaN", "1e5" and "1_000", none of which a
# QBO Id or amount looks like.
_PLAIN_NUMBER: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")

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
