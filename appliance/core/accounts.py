"""Which chart-of-accounts types may be a product's default income or expense account, and the
account payments are deposited to."""

from __future__ import annotations

INCOME_TYPES = ("Income", "Other Income")
EXPENSE_TYPES = ("Cost of Goods Sold", "Expense", "Other Expense")
ACCOUNT_KINDS: dict[str, tuple[str, ...]] = {"income": INCOME_TYPES, "expense": EXPENSE_TYPES}
#: Where payments may be deposited (QBO's DepositToAccountRef, FACTS §11); none chosen: QBO's
#: Undeposited Funds.
DEPOSIT_TYPES = ("Bank", "Other Current Asset")
#: The operator's account pickers: the default accounts, and the deposit account.
PICKER_KINDS: dict[str, tuple[str, ...]] = {**ACCOUNT_KINDS, "deposit": DEPOSIT_TYPES}
#: How the deposit account reads when none is chosen.
UNDEPOSITED_FUNDS = "Undeposited Funds"
