"""Which same-named QuickBooks item a new JobRoutr product is, if any (docs/push.md, "Matching
products"), and the name it gets when it is none of them.

Item names are unique among QuickBooks' items (any case; an inactive one is named
"<name> (deleted)"). Of the items a product's name finds:

* one linked to another JobRoutr product is someone else's: it is left alone;
* one of the product's type (``service`` = Service, ``non_inventory`` = NonInventory), active, or
  inactive while JobRoutr's product is archived too, is the product: it is linked;
* one of another type (an inventory item, a Service for a non-inventory product), or one made
  inactive in QuickBooks while JobRoutr's product is active, is a question for the operator
  (``core.review``): nothing is written until they decide;
* when every one is someone else's, the product is created under the next free number,
  "<name> (2)", "(3)", ... (``numbered``): the lowest that no item holds, active or not.

An inactive item is not considered while an active one holds the name: it could not be made
active again under it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from appliance.core import review
from appliance.core.kinds import PRODUCT
from appliance.core.words import a_or_an
from appliance.qbo.query import Select
from appliance.sync.push import matching
from appliance.sync.push.lookahead import DELETED, fold
from appliance.sync.push.outcome import Refused

if TYPE_CHECKING:
    from appliance.sync.push.job import PushJob

#: QuickBooks' longest item name.
MAX_NAME: Final = 100
#: Numbers one lookup asks about when looking for a free one, and lookups at most.
NUMBERS_PER_LOOKUP: Final = 20
MOST_LOOKUPS: Final = 5
#: Creates under a numbered name at most, each after the last number was taken meanwhile (6240).
MOST_NUMBERED_CREATES: Final = 5
#: The item types a product may be linked to, as the operator reads them.
TYPE_WORDS: Final = {
    "Service": "service",
    "NonInventory": "non-inventory",
    "Inventory": "inventory (QuickBooks tracks its stock)",
}


def numbered(name: str, number: int) -> str:
    """``name`` with its number, "<name> (n)", cut to keep within QuickBooks' 100 characters."""
    return matching.numbered(name, number, MAX_NAME)


def kept_name(name: str, current: str | None) -> str:
    """The name a linked item keeps: its numbered name while JobRoutr's product still has the
    name it was numbered from ("Hedge (2)" for "Hedge"), else JobRoutr's name."""
    return matching.kept_name(name, current, MAX_NAME)


def active(record: dict[str, Any]) -> bool:
    return record.get("Active", True) is not False


def judge(
    found: list[dict[str, Any]], held: set[str], qbo_type: str, archived: bool
) -> tuple[dict[str, Any], str | None] | None:
    """The same-named item the product is (reason None: link it), or the one to ask the operator
    about (``review.TYPE`` or ``review.INACTIVE``); None when every item ``found`` is someone
    else's (``held``: ids linked to other JobRoutr products), or there is none. ``qbo_type``:
    the product's item type; ``archived``: the product is inactive in JobRoutr."""
    free = [r for r in found if str(r.get("Id")) not in held and r.get("Type") in TYPE_WORDS]
    if any(active(r) for r in found):
        free = [r for r in free if active(r)]
    if not free:
        return None
    record = free[0]
    if record.get("Type") != qbo_type:
        return record, review.TYPE
    if not active(record) and not archived:
        return record, review.INACTIVE
    return record, None


async def free_number(job: PushJob, name: str, start: int = 2) -> tuple[int, str]:
    """The lowest number from ``start`` whose ``numbered`` name no item holds, active or not,
    and that name. Asks QuickBooks about ``NUMBERS_PER_LOOKUP`` numbers at a time."""
    for lookup in range(MOST_LOOKUPS):
        first = start + lookup * NUMBERS_PER_LOOKUP
        names = [numbered(name, n) for n in range(first, first + NUMBERS_PER_LOOKUP)]
        statement = (
            Select(PRODUCT.entity)
            .filter("Name", "IN", [v for n in names for v in (n, n + DELETED)])
            .filter("Active", "IN", [True, False])
            .page(1, 2 * NUMBERS_PER_LOOKUP)
        )
        rows = (await job.qbo.query(job.realm, statement)).get(PRODUCT.entity, [])
        taken = {fold(str(r.get("Name", ""))) for r in rows if isinstance(r, dict)}
        for number, candidate in enumerate(names, start=first):
            if fold(candidate) not in taken:
                return number, candidate
    raise Refused(
        "6240",
        f"QuickBooks already has items named {name!r} and {numbered(name, start)!r} to "
        f"{numbered(name, start + MOST_LOOKUPS * NUMBERS_PER_LOOKUP - 1)!r}, so this product "
        "was not created.",
        "Give the product another name in JobRoutr; it will send it again.",
    )


def case(
    reason: str,
    record: dict[str, Any],
    *,
    jobroutr: dict[str, str],
    candidate: dict[str, str],
    create_as: str,
) -> review.ReviewCase:
    """The question for the operator about a same-named item: why, side by side, and what link,
    create and skip would do."""
    item_type = str(record.get("Type"))
    name = str(record.get("Name", ""))
    asleep = "" if active(record) else ", made inactive in QuickBooks,"
    if reason == review.TYPE:
        message = (
            f"QuickBooks has {a_or_an(TYPE_WORDS.get(item_type, item_type))} item named {name!r}"
            f"{asleep} that no JobRoutr product is linked to; this product is "
            f"{jobroutr.get('type', 'service').replace('_', '-')}, and QuickBooks never changes "
            "an item's type."
        )
    else:
        message = (
            f"QuickBooks has an item named {name!r} that was made inactive in QuickBooks; this "
            "product is active in JobRoutr."
        )
    kept = (
        "its name, description and price are kept in step"
        if item_type == "Inventory"
        else "JobRoutr's product is written over it"
    )
    link = f"Link to it; QuickBooks keeps its type, {kept}"
    if not active(record):
        link = f"Make it active again and link to it; QuickBooks keeps its type, {kept}"
    return review.ReviewCase(
        kind=PRODUCT.name,
        reason=reason,
        message=message,
        jobroutr=jobroutr,
        candidate=candidate,
        create_as=create_as,
        choices={
            review.LINK: link,
            review.CREATE: f"Create a new item named {create_as!r}",
            review.SKIP: "Write nothing: the event ends ignored",
        },
    )
