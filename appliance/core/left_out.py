"""What an import leaves out on purpose, in one sentence: "Active only; 119 inactive, 113
categories not imported."

QuickBooks answers a query with its active list records only, and categories are not products:
an operator who counts the records in QuickBooks finds more than were imported, and the
troubleshooting says to check exactly these numbers (issue 22). An import counts them (two
``SELECT COUNT(*)`` at most) and keeps them with its run, ``{"inactive": 119, "categories": 113}``.
"""

from __future__ import annotations

#: How each count is said, in this order.
WORDS = (("inactive", "inactive"), ("categories", "categories"))


def left_out_sentence(left_out: dict[str, int] | None) -> str:
    """The sentence for an import's ``left_out`` counts; "" when it has none (tax codes come in
    whole, inactive ones too)."""
    if not left_out:
        return ""
    parts = [f"{left_out[key]:,} {word}" for key, word in WORDS if left_out.get(key)]
    if not parts:  # "0 inactive not imported" says nothing was left out, the long way
        return "Active only; QuickBooks has no others."
    return f"Active only; {', '.join(parts)} not imported."
