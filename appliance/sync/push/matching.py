"""When a same-named QuickBooks customer is the JobRoutr customer, and the name a new one gets
when it is not: pure functions, both sides in the contract's shape (an event's data, or
``customer_row(record).data``). docs/push.md, "Matching customers", tells the rules.

A name alone is never enough (two "John Smith"s are two people): something else must agree,
an email, a phone number or the billing address. Otherwise the operator is asked, and a new
customer gets the lowest free "<name> (n)".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any, Final

from appliance.core import review
from appliance.core.review import ReviewCase
from appliance.qbo.query import Select
from appliance.sync.push.lookahead import fold

#: QBO's longest DisplayName.
NAME_LIMIT: Final = 500
#: Fewer digits than this are no phone number worth trusting (an extension, a typo).
PHONE_DIGITS: Final = 7
#: Compared from the right when both sides have this many: the national number, whatever
#: country code or trunk prefix one side wrote.
NATIONAL_DIGITS: Final = 10
#: What QuickBooks appends to the name of a record made inactive.
DELETED: Final = " (deleted)"
#: What "corroborated" rests on, in the order it is looked at.
EMAIL: Final = "email"
PHONE: Final = "phone"
ADDRESS: Final = "billing address"

_PUNCTUATION = re.compile(r"[^\w\s]")
_SPACES = re.compile(r"\s+")


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def same_email(ours: Any, theirs: Any) -> bool:
    """Both have one and they are equal, trimmed and in any case."""
    a, b = _text(ours).casefold(), _text(theirs).casefold()
    return bool(a) and a == b


def digits(phone: Any) -> str:
    return "".join(c for c in _text(phone) if c.isdigit() and c.isascii())


def same_phone(ours: Any, theirs: Any) -> bool:
    """Equal by digits only: the last ten when both have ten or more (a "+1" or a leading 1 on
    one side only does not matter), else all of them; never for fewer than seven digits."""
    a, b = digits(ours), digits(theirs)
    if len(a) < PHONE_DIGITS or len(b) < PHONE_DIGITS:
        return False
    if len(a) >= NATIONAL_DIGITS and len(b) >= NATIONAL_DIGITS:
        return a[-NATIONAL_DIGITS:] == b[-NATIONAL_DIGITS:]
    return a == b


def any_phone(ours: dict[str, Any], theirs: dict[str, Any]) -> bool:
    """Any of JobRoutr's phone and mobile against any of QuickBooks' phone and mobile."""
    return any(
        same_phone(ours.get(a), theirs.get(b))
        for a in ("phone", "mobile")
        for b in ("phone", "mobile")
    )


def normal(value: Any) -> str:
    """An address part as compared: any case, punctuation dropped, spaces collapsed."""
    text = unicodedata.normalize("NFKC", _text(value)).casefold()
    return _SPACES.sub(" ", _PUNCTUATION.sub(" ", text)).strip()


def same_address(ours: Any, theirs: Any) -> bool:
    """The billing addresses agree: line1, city and postal code (spaces removed) must be
    present on both and equal; region and country too when both sides have them."""
    if not isinstance(ours, dict) or not isinstance(theirs, dict):
        return False
    for key in ("line1", "city", "postal_code"):
        a, b = normal(ours.get(key)), normal(theirs.get(key))
        if key == "postal_code":
            a, b = a.replace(" ", ""), b.replace(" ", "")
        if not a or a != b:
            return False
    for key in ("region", "country"):
        a, b = normal(ours.get(key)), normal(theirs.get(key))
        if a and b and a != b:
            return False
    return True


def corroborated(ours: dict[str, Any], theirs: dict[str, Any]) -> str | None:
    """What, besides the name, says the QuickBooks customer (``theirs``) is JobRoutr's
    (``ours``): ``EMAIL``, ``PHONE`` or ``ADDRESS``; None when nothing does."""
    if same_email(ours.get("email"), theirs.get("email")):
        return EMAIL
    if any_phone(ours, theirs):
        return PHONE
    if same_address(ours.get("billing_address"), theirs.get("billing_address")):
        return ADDRESS
    return None


# A new customer under a taken name ---------------------------------------------------------------


def numbered(name: str, n: int, limit: int = NAME_LIMIT) -> str:
    """``"<name> (n)"``, the name cut (trailing spaces too) so the whole fits ``limit``
    (QuickBooks' 500 characters for a customer's display name, 100 for an item's name)."""
    suffix = f" ({n})"
    return name.strip()[: limit - len(suffix)].rstrip() + suffix


_NUMBER: Final = re.compile(r".* \(([0-9]{1,3})\)")


def kept_name(name: str, current: str | None, limit: int = NAME_LIMIT) -> str:
    """The name a linked record keeps on an update: its numbered name while JobRoutr's record
    still has the name it was numbered from ("John Smith (2)" for "John Smith"), else
    JobRoutr's name. ``current``: its name as last seen (" (deleted)" aside)."""
    seen = fold(current or "")
    found = _NUMBER.fullmatch(seen)
    if found is not None and int(found[1]) >= 2:
        kept = numbered(name, int(found[1]), limit)
        if fold(kept) == seen:
            return kept
    return name


def lowest_free(name: str, taken: Iterable[str], start: int = 2) -> int:
    """The lowest n from ``start`` whose ``numbered`` name is not in ``taken`` (compared
    trimmed and in any case, as QuickBooks compares names)."""
    held = {t.strip().casefold() for t in taken}
    n = start
    while numbered(name, n).casefold() in held:
        n += 1
    return n


def taken_queries(names: list[str]) -> list[str]:
    """The queries for the customers (active or not), vendors and employees that hold any of
    these names: QuickBooks keeps display names unique across the three."""
    variants = [v for n in names for v in (n, n + DELETED)]
    return [
        Select(entity)
        .filter("DisplayName", "IN", variants)
        .filter("Active", "IN", [True, False])
        .page(1, len(variants))
        for entity in ("Customer", "Vendor", "Employee")
    ]


# The questions for the operator ------------------------------------------------------------------

SKIP_WORDS: Final = "Neither: write nothing to QuickBooks for this event."


def _create_words(create_as: str) -> str:
    return f"It is someone else: add a new customer to QuickBooks named {create_as!r}."


def name_case(
    ours: dict[str, Any], theirs: dict[str, Any], qbo_id: str, create_as: str
) -> ReviewCase:
    """A same-named QuickBooks customer, and nothing else agrees: the same person, or not?"""
    name = review.customer_name(theirs)
    return ReviewCase(
        kind="customer",
        reason=review.NAME,
        message=(
            f"QuickBooks already has a customer named {name!r}, but nothing else about them "
            "agrees with JobRoutr's customer (email, phone or billing address): they may be "
            "someone else with the same name."
        ),
        jobroutr=review.summary("customer", ours),
        candidate=review.summary("customer", theirs, qbo_id),
        create_as=create_as,
        choices={
            review.LINK: "It is the same customer: use QuickBooks' customer and write "
            "JobRoutr's details (email, phone, addresses) over it.",
            review.CREATE: _create_words(create_as),
            review.SKIP: SKIP_WORDS,
        },
    )


def inactive_case(
    ours: dict[str, Any], theirs: dict[str, Any], qbo_id: str, create_as: str, agrees: str
) -> ReviewCase:
    """The same customer (``agrees`` says why), made inactive in QuickBooks: not revived alone."""
    name = review.customer_name(theirs).removesuffix(DELETED)
    return ReviewCase(
        kind="customer",
        reason=review.INACTIVE,
        message=(
            f"QuickBooks' customer {name!r} has the same name and {agrees}, but it was made "
            "inactive in QuickBooks; the appliance does not make it active again on its own."
        ),
        jobroutr=review.summary("customer", ours),
        candidate=review.summary("customer", theirs, qbo_id),
        create_as=create_as,
        choices={
            review.LINK: "Make QuickBooks' customer active again and write JobRoutr's record "
            "over it.",
            review.CREATE: _create_words(create_as),
            review.SKIP: SKIP_WORDS,
        },
    )
