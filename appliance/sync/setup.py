"""The operator's choices for a company: default accounts, the deposit account for payments, and
onboarding progress.

Accounts are checked against the imported chart of accounts: only an existing, active account of
a fitting type is accepted (income: Income, Other Income; expense: Cost of Goods Sold, Expense,
Other Expense; deposit: Bank, Other Current Asset, or none: QuickBooks' Undeposited Funds). A
choice is saved the moment it is made, so nothing can be lost by forgetting to press Save; it
applies to every product (or payment) pushed after it. Payments never wait for the deposit
account: none chosen is a valid choice.
"""

from __future__ import annotations

from appliance.core.accounts import PICKER_KINDS as KIND_TYPES
from appliance.core.admin import AccountInfo, OnboardingInfo, OnboardingTask, SettingsInfo
from appliance.core.kinds import CUSTOMER, PRODUCT
from appliance.core.words import a_or_an, either
from appliance.errors import ApplianceError
from appliance.storage import audit, choices
from appliance.storage import imports as runs
from appliance.storage.db import session_scope
from appliance.storage.models import QboAccount
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from appliance.sync import taxes

TASKS = ("connect", "import_customers", "default_accounts", "import_products")
TASK_NAMES = {
    "connect": "Connect to QuickBooks",
    "import_customers": "Import customers",
    "default_accounts": "Choose default accounts",
    "import_products": "Import products",
}


class SetupError(ApplianceError):
    pass


def _account_info(account: QboAccount) -> AccountInfo:
    return AccountInfo(
        qbo_id=account.qbo_id,
        name=account.name,
        fully_qualified_name=account.fully_qualified_name,
        account_type=account.account_type,
        account_sub_type=account.account_sub_type,
    )


def _realm(store: Store) -> str:
    info = store.connection_info()
    if info is None:
        raise SetupError(
            "The appliance has not been connected to QuickBooks yet.",
            hint="Run `appliance connect` first.",
        )
    return info.realm_id


def accounts(store: Store, kind: str, realm_id: str | None = None) -> list[AccountInfo]:
    if kind not in KIND_TYPES:
        raise SetupError(f"There are no {kind!r} accounts.", hint="Use income, expense or deposit.")
    realm = realm_id or _realm(store)
    with store.session() as session:
        rows = choices.fit_accounts(session, realm, KIND_TYPES[kind])
    return [_account_info(a) for a in rows]


def settings(store: Store) -> SettingsInfo:
    realm = _realm(store)
    with store.session() as session:
        row = choices.settings_row(session, realm)
        chosen = {
            kind: choices.account(session, realm, qbo_id) if qbo_id else None
            for kind, qbo_id in (
                ("income", row.default_income_account_id),
                ("expense", row.default_expense_account_id),
                ("deposit", row.deposit_account_id),
            )
        }
    info = {kind: _account_info(a) if a else None for kind, a in chosen.items()}
    return SettingsInfo(
        realm_id=realm,
        income_account=info["income"],
        expense_account=info["expense"],
        deposit_account=info["deposit"],
    )


def _check_account(account: QboAccount | None, kind: str, qbo_id: str) -> None:
    """The account exists in the imported chart of accounts, is active and fits ``kind``."""
    allowed = either(KIND_TYPES[kind])
    used_by = "payments" if kind == "deposit" else "products"
    what = "deposit account for payments" if kind == "deposit" else f"default {kind} account"
    if account is None:
        raise SetupError(
            f"There is no account {qbo_id} in the imported chart of accounts.",
            hint="Run `appliance import accounts`, then pick one from "
            f"`appliance accounts --kind {kind}`.",
        )
    if not account.active:
        raise SetupError(
            f"Account {qbo_id} ({account.fully_qualified_name}) is inactive in "
            f"QuickBooks, so {used_by} cannot use it.",
            hint=f"Pick an active one from `appliance accounts --kind {kind}`.",
        )
    if account.account_type not in KIND_TYPES[kind]:
        raise SetupError(
            f"Account {qbo_id} ({account.fully_qualified_name}) is "
            f"{a_or_an(account.account_type)} account; a {what} must be {allowed}.",
            hint=f"Pick one from `appliance accounts --kind {kind}`.",
        )


def set_default_accounts(
    store: Store,
    *,
    income: str | None,
    expense: str | None,
    actor: str,
    deposit: str | None = None,
) -> SettingsInfo:
    """Save the chosen accounts (None: unchanged; a ``deposit`` of "": back to QuickBooks'
    Undeposited Funds)."""
    realm = _realm(store)
    if income is None and expense is None and deposit is None:
        raise SetupError(
            "Nothing to change.",
            hint="Give --income-account ID, --expense-account ID or --deposit-account ID.",
        )
    with session_scope(store.engine) as session:
        for kind, qbo_id in (("income", income), ("expense", expense), ("deposit", deposit)):
            if qbo_id:
                _check_account(choices.account(session, realm, qbo_id), kind, qbo_id)
        row = choices.settings_row(session, realm)
        if income is not None:
            row.default_income_account_id = income
        if expense is not None:
            row.default_expense_account_id = expense
        if deposit is not None:
            row.deposit_account_id = deposit or None
        row.updated_at = utcnow()
        session.add(row)
        changed = {"deposit_account_id": deposit or None} if deposit is not None else {}
        audit.record(
            session,
            actor=actor,
            action="settings.default_accounts_set",
            realm_id=realm,
            income_account_id=income,
            expense_account_id=expense,
            **changed,
        )
    return settings(store)


def onboarding(store: Store) -> OnboardingInfo:
    """The tasks and which are done. Before any company was connected, every task is to do
    (and the realm is empty): the console and the CLI show what lies ahead all the same."""
    info = store.connection_info()
    if info is None:
        return OnboardingInfo(
            realm_id="",
            tasks=[OnboardingTask(task=t, name=TASK_NAMES[t], done=False) for t in TASKS],
        )
    realm = info.realm_id
    chosen = settings(store)
    done = {
        "connect": info is not None and info.state == "connected",
        "import_customers": _imported(store, realm, CUSTOMER.plural),
        "default_accounts": chosen.income_account is not None
        and chosen.expense_account is not None,
        "import_products": _imported(store, realm, PRODUCT.plural),
    }
    with store.session() as session:
        completed = choices.settings_row(session, realm).onboarding_completed_at
        skipped = list(choices.settings_row(session, realm).onboarding.get("skipped", []))
    tasks = [OnboardingTask(task=t, name=TASK_NAMES[t], done=done[t]) for t in TASKS]
    # The tax step where the company needs it, the discount account where it allows discounts.
    tasks += [
        OnboardingTask(task=t, name=n, done=d) for t, n, d in taxes.onboarding_tasks(store, realm)
    ]
    return OnboardingInfo(
        realm_id=realm,
        tasks=tasks,
        completed_at=completed,
        skipped=skipped,
    )


def _imported(store: Store, realm: str, kind: str) -> bool:
    """Done once an import of the kind completed, whatever a later run did (a cancelled or
    failed re-import keeps every record the completed one brought in)."""
    return runs.completed_once(store.engine, realm, kind)


def complete(store: Store, *, actor: str) -> OnboardingInfo:
    """Mark Complete: allowed with tasks left undone, which are named and remembered (not before
    a company is connected: there is no company to mark)."""
    _realm(store)
    current = onboarding(store)
    skipped = [t.name for t in current.tasks if not t.done]
    with session_scope(store.engine) as session:
        row = choices.settings_row(session, current.realm_id)
        row.onboarding_completed_at = utcnow()
        row.onboarding = {**row.onboarding, "skipped": skipped}
        row.updated_at = utcnow()
        session.add(row)
        audit.record(
            session,
            actor=actor,
            action="onboarding.completed",
            realm_id=current.realm_id,
            skipped=skipped,
        )
    return onboarding(store)
