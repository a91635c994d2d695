"""Which chart-of-accounts types may be a product's default income or expense account."""

from __future__ import annotations

INCOME_TYPES = ("Income", "Other Income")
EXPENSE_TYPES = ("Cost of Goods Sold", "Expense", "Other Expense")
ACCOUNT_KINDS: dict[str, tuple[str, ...]] = {"income": INCOME_TYPES, "expense": EXPENSE_TYPES}
