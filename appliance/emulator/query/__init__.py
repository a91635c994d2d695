"""QBO's query language for the emulator: parse a statement, run it over rows, shape the reply.

Three pure steps, so the HTTP layer stays thin and each step can be tested alone; ``parser``
holds the first, ``runner`` the other two, and this package exposes all three:

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

from appliance.emulator.query.parser import (
    COMPARISON_OPERATORS,
    DEFAULT_MAX_RESULTS,
    MAX_MAX_RESULTS,
    MAX_START_POSITION,
    OPERATORS,
    Condition,
    Query,
    QueryError,
    parse,
)
from appliance.emulator.query.runner import Row, response_body, run

__all__ = [
    "COMPARISON_OPERATORS",
    "DEFAULT_MAX_RESULTS",
    "MAX_MAX_RESULTS",
    "MAX_START_POSITION",
    "OPERATORS",
    "Condition",
    "Query",
    "QueryError",
    "Row",
    "parse",
    "response_body",
    "run",
]
