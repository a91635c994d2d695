"""The tax step: JobRoutr's tax rates mapped to the company's QuickBooks tax codes, the code for
untaxed lines (outside the US) and the discount account.

A rate is learned from the first invoice that uses it, with a suggestion (``core.taxes``); the
operator accepts it or picks another code. A code must exist in the imported list, be active and
charge the rate's percent: a code of another percent would make QuickBooks' tax differ from the
bill, so it is refused unless forced (audited; such invoices then end ``mismatch``). Every choice
is saved at once and wakes the invoices waiting for it (``taxrate:<id>``, ``settings:invoices``).
"""

from __future__ import annotations

from appliance.core.accounts import INCOME_TYPES
from appliance.core.admin import AccountInfo, TaxCodeRateInfo, TaxCodeView, TaxesInfo, TaxRateView
from appliance.core.books import Books, TaxModel
from appliance.core.taxes import (
    percent_of,
    same_percent,
    suggest_discount_account,
    suggest_untaxed,
)
from appliance.core.words import a_or_an, either
from appliance.errors import ApplianceError, NotFoundError
from appliance.storage import choices
from appliance.storage import push as jobs
from appliance.storage import taxes as store_taxes
from appliance.storage.books import get_books
from appliance.storage.models import QboAccount
from appliance.storage.store import Store
from appliance.storage.taxes import INVOICE_SETTINGS, MappingInfo, TaxCodeInfo, waits_on

#: The onboarding tasks this step adds, and their names.
TAX_TASK = "taxes"
DISCOUNT_TASK = "discount_account"
TASK_NAMES = {TAX_TASK: "Map tax rates", DISCOUNT_TASK: "Choose a discount account"}


class TaxSetupError(ApplianceError):
    pass


def realm_of(store: Store) -> str:
    info = store.connection_info()
    if info is None:
        raise TaxSetupError(
            "The appliance has not been connected to QuickBooks yet.",
            hint="Run `appliance connect` first.",
        )
    return info.realm_id


# Reading -------------------------------------------------------------------------------------


def code_view(code: TaxCodeInfo) -> TaxCodeView:
    return TaxCodeView(
        qbo_id=code.qbo_id,
        name=code.name,
        description=code.description,
        active=code.active,
        tax_group=code.tax_group,
        percent=code.percent,
        rates=[
            TaxCodeRateInfo(
                qbo_id=str(r.get("qbo_id", "")),
                name=str(r.get("name", "")),
                percent=str(r.get("percent", "")),
            )
            for r in code.rates
        ],
    )


def account_view(account: QboAccount) -> AccountInfo:
    return AccountInfo(
        qbo_id=account.qbo_id,
        name=account.name,
        fully_qualified_name=account.fully_qualified_name,
        account_type=account.account_type,
        account_sub_type=account.account_sub_type,
    )


def codes(store: Store) -> list[TaxCodeView]:
    """The company's active tax codes, as imported, by name."""
    return [code_view(c) for c in store_taxes.tax_codes(store.engine, realm_of(store))]


def discount_accounts(store: Store) -> list[AccountInfo]:
    """The accounts a discount may be booked to (active Income, Other Income), the suggested
    one first."""
    rows, suggested = _discount_candidates(store, realm_of(store))
    return sorted(rows, key=lambda a: a.qbo_id != suggested)


def _discount_candidates(store: Store, realm: str) -> tuple[list[AccountInfo], str | None]:
    with store.session() as session:
        rows = [account_view(a) for a in choices.fit_accounts(session, realm, INCOME_TYPES)]
    return rows, suggest_discount_account(rows)


def _rate_view(rate: MappingInfo, by_id: dict[str, TaxCodeView]) -> TaxRateView:
    return TaxRateView(
        jobroutr_rate_id=rate.jobroutr_rate_id,
        name=rate.name,
        percent=rate.percent,
        mapped=_code_or_id(rate.qbo_tax_code_id, by_id),
        suggested=_code_or_id(rate.suggested_qbo_id, by_id),
        first_event_id=rate.first_event_id,
        mapped_by=rate.mapped_by,
        mapped_at=rate.mapped_at,
    )


def _code_or_id(qbo_id: str | None, by_id: dict[str, TaxCodeView]) -> TaxCodeView | None:
    """The code by id; one no longer imported still shows, by its id."""
    if qbo_id is None:
        return None
    return by_id.get(qbo_id) or TaxCodeView(qbo_id=qbo_id, name=f"code {qbo_id}", active=False)


def overview(store: Store) -> TaxesInfo:
    """Everything the tax step shows; suggestions follow the codes imported now."""
    realm = realm_of(store)
    engine = store.engine
    store_taxes.resuggest(engine, realm)
    books = get_books(engine, realm)
    all_codes = store_taxes.tax_codes(engine, realm, active_only=False)
    by_id = {c.qbo_id: code_view(c) for c in all_codes}
    active = [c for c in all_codes if c.active]
    chosen = store_taxes.invoice_settings(engine, realm)
    model = books.tax_model if books else None
    with store.session() as session:
        discount = (
            choices.account(session, realm, chosen.discount_account_id)
            if chosen.discount_account_id
            else None
        )
    accounts, suggested_discount = _discount_candidates(store, realm)
    untaxed_suggestion = suggest_untaxed(active)
    info = TaxesInfo(
        realm_id=realm,
        tax_model=model.value if model else None,
        tax_model_name=model.describe if model else "not read yet (connect or import accounts)",
        needs_mapping=bool(model and model.needs_mapping),
        needs_untaxed_code=model == TaxModel.PER_LINE,
        codes_imported=len(all_codes),
        rates=[_rate_view(r, by_id) for r in store_taxes.mappings(engine, realm).values()],
        untaxed_tax_code=_code_or_id(chosen.untaxed_tax_code_id, by_id),
        suggested_untaxed_tax_code=by_id.get(untaxed_suggestion) if untaxed_suggestion else None,
        discount_account=account_view(discount) if discount else None,
        suggested_discount_account=next(
            (a for a in accounts if a.qbo_id == suggested_discount), None
        ),
    )
    info.missing = missing(info, books)
    return info


def missing(info: TaxesInfo, books: Books | None) -> list[str]:
    """What invoices still wait for, as sentences (empty: nothing)."""
    found = []
    if info.needs_mapping:
        unmapped = [r.name for r in info.rates if r.mapped is None]
        if unmapped:
            found.append(f"JobRoutr tax rates not mapped yet: {', '.join(unmapped)}.")
    if info.needs_untaxed_code and info.untaxed_tax_code is None:
        found.append("No tax code chosen for untaxed lines.")
    if books is not None and books.allow_discount and info.discount_account is None:
        found.append("No discount account chosen.")
    return found


def onboarding_tasks(store: Store, realm: str) -> list[tuple[str, str, bool]]:
    """The tasks this step adds to onboarding, as (task, name, done): the tax mapping where the
    company needs one (manual US sales tax, or a code on every line), and the discount account
    when the company's books allow discounts. None until the books were read."""
    books = get_books(store.engine, realm)
    if books is None:
        return []
    tasks = []
    chosen = store_taxes.invoice_settings(store.engine, realm)
    if books.tax_model.needs_mapping:
        mapped = all(m.qbo_tax_code_id for m in store_taxes.mappings(store.engine, realm).values())
        untaxed = books.tax_model != TaxModel.PER_LINE or chosen.untaxed_tax_code_id is not None
        tasks.append((TAX_TASK, TASK_NAMES[TAX_TASK], mapped and untaxed))
    if books.allow_discount:
        done = chosen.discount_account_id is not None
        tasks.append((DISCOUNT_TASK, TASK_NAMES[DISCOUNT_TASK], done))
    return tasks


# Choosing ------------------------------------------------------------------------------------


def _needs_mapping(store: Store, realm: str, what: str) -> Books | None:
    books = get_books(store.engine, realm)
    if books is not None and not books.tax_model.needs_mapping:
        raise TaxSetupError(
            f"This company does not need {what}: it keeps {books.tax_model.describe}.",
            hint="Nothing to do; invoices are written without a tax mapping.",
        )
    return books


def _known_rate(store: Store, realm: str, rate_id: str) -> MappingInfo:
    rate = store_taxes.mappings(store.engine, realm).get(rate_id)
    if rate is None:
        raise NotFoundError(
            f"JobRoutr's tax rate {rate_id!r} is not known yet.",
            hint="A rate is learned from the first invoice that uses it; "
            "`appliance taxes` lists the known ones.",
        )
    return rate


def _usable_code(store: Store, realm: str, qbo_id: str) -> TaxCodeInfo:
    code = store_taxes.tax_code(store.engine, realm, qbo_id)
    if code is None:
        raise TaxSetupError(
            f"There is no tax code {qbo_id} in the imported tax codes.",
            hint="Import the company's tax codes again (the console's Import screen or "
            "`appliance import tax_codes`), then pick one from `appliance taxes codes`.",
        )
    if not code.active:
        raise TaxSetupError(
            f"Tax code {qbo_id} ({code.name}) is inactive in QuickBooks, so invoices cannot "
            "use it.",
            hint="Pick an active one from `appliance taxes codes`.",
        )
    return code


def _percent(text: str | None) -> str:
    value = percent_of(text)
    return f"{value.normalize():f} %" if value is not None else f"{text} %"


def check_code(store: Store, realm: str, rate: MappingInfo, qbo_id: str, *, force: bool) -> None:
    code = _usable_code(store, realm, qbo_id)
    if force or same_percent(code.percent, rate.percent):
        return
    raise TaxSetupError(
        f"Tax code {qbo_id} ({code.name}) charges {_percent(code.percent)}, but JobRoutr's rate "
        f"'{rate.name}' is {_percent(rate.percent)}: QuickBooks would figure a different tax "
        "than the bill.",
        hint=f"Pick a code of {_percent(rate.percent)} from `appliance taxes codes`, or map it "
        "anyway with --force (in the console: f); its invoices will then end `mismatch`.",
    )


def map_rate(
    store: Store, rate_id: str, qbo_id: str, *, force: bool = False, actor: str
) -> TaxRateView:
    """Map a JobRoutr rate to a code (saved at once) and wake the invoices waiting on it."""
    realm = realm_of(store)
    _needs_mapping(store, realm, "its tax rates mapped")
    rate = _known_rate(store, realm, rate_id)
    check_code(store, realm, rate, qbo_id, force=force)
    forced = force and not same_percent(_usable_code(store, realm, qbo_id).percent, rate.percent)
    mapped = store_taxes.set_mapping(store.engine, realm, rate_id, qbo_id, actor, forced=forced)
    jobs.wake_waiting(store.engine, waits_on(rate_id))
    return _view(store, realm, mapped or rate)


def unmap_rate(store: Store, rate_id: str, *, actor: str) -> TaxRateView:
    realm = realm_of(store)
    rate = _known_rate(store, realm, rate_id)
    unmapped = store_taxes.set_mapping(store.engine, realm, rate_id, None, actor)
    return _view(store, realm, unmapped or rate)


def _view(store: Store, realm: str, rate: MappingInfo) -> TaxRateView:
    by_id = {
        c.qbo_id: code_view(c)
        for c in store_taxes.tax_codes(store.engine, realm, active_only=False)
    }
    return _rate_view(rate, by_id)


def accept_suggested(store: Store, rate_ids: list[str], *, actor: str) -> TaxesInfo:
    """Map these rates (none named: every unmapped one with a suggestion) to their suggested
    codes. A named rate without a suggestion is refused before anything is mapped."""
    realm = realm_of(store)
    _needs_mapping(store, realm, "its tax rates mapped")
    store_taxes.resuggest(store.engine, realm)
    known = store_taxes.mappings(store.engine, realm)
    if rate_ids:
        chosen = [_known_rate(store, realm, r) for r in rate_ids]
        lacking = [r.name for r in chosen if r.suggested_qbo_id is None]
        if lacking:
            raise TaxSetupError(
                f"No code is suggested for {', '.join(lacking)}: none of the imported codes "
                "charges that percent.",
                hint="Pick one with `appliance taxes map RATE CODE`.",
            )
    else:
        chosen = [r for r in known.values() if r.qbo_tax_code_id is None and r.suggested_qbo_id]
    for rate in chosen:
        check_code(store, realm, rate, str(rate.suggested_qbo_id), force=False)
    for rate in chosen:
        code = rate.suggested_qbo_id
        store_taxes.set_mapping(store.engine, realm, rate.jobroutr_rate_id, code, actor)
        jobs.wake_waiting(store.engine, waits_on(rate.jobroutr_rate_id))
    return overview(store)


def set_invoice_settings(
    store: Store, *, discount_account_id: str | None, untaxed_tax_code_id: str | None, actor: str
) -> TaxesInfo:
    """Choose the discount account and/or the untaxed code; wakes the invoices waiting on them."""
    realm = realm_of(store)
    if discount_account_id is None and untaxed_tax_code_id is None:
        raise TaxSetupError(
            "Nothing to change.", hint="Give a discount account, an untaxed tax code or both."
        )
    if discount_account_id is not None:
        _check_discount_account(store, realm, discount_account_id)
    if untaxed_tax_code_id is not None:
        books = get_books(store.engine, realm)
        if books is not None and books.tax_model != TaxModel.PER_LINE:
            raise TaxSetupError(
                "Only a company outside the US needs a code for untaxed lines; this one keeps "
                f"{books.tax_model.describe}.",
                hint="Nothing to do: its untaxed lines are written as NON.",
            )
        code = _usable_code(store, realm, untaxed_tax_code_id)
        if not same_percent(code.percent, "0"):
            raise TaxSetupError(
                f"Tax code {code.qbo_id} ({code.name}) charges {_percent(code.percent)}; lines "
                "JobRoutr did not tax need a code that charges nothing.",
                hint="Pick a zero-rated or exempt code from `appliance taxes codes`.",
            )
    store_taxes.set_invoice_settings(
        store.engine,
        realm,
        actor,
        discount_account_id=discount_account_id,
        untaxed_tax_code_id=untaxed_tax_code_id,
    )
    jobs.wake_waiting(store.engine, INVOICE_SETTINGS)
    return overview(store)


def _check_discount_account(store: Store, realm: str, qbo_id: str) -> None:
    with store.session() as session:
        account = choices.account(session, realm, qbo_id)
    _check_discount(account, qbo_id)


def _check_discount(account: QboAccount | None, qbo_id: str) -> None:
    """The account exists in the imported chart of accounts, is active and is an income one."""
    if account is None:
        raise TaxSetupError(
            f"There is no account {qbo_id} in the imported chart of accounts.",
            hint="Run `appliance import accounts`, then pick one from "
            "`appliance accounts --kind discount`.",
        )
    if not account.active:
        raise TaxSetupError(
            f"Account {qbo_id} ({account.fully_qualified_name}) is inactive in QuickBooks, so "
            "discounts cannot be booked to it.",
            hint="Pick an active one from `appliance accounts --kind discount`.",
        )
    if account.account_type not in INCOME_TYPES:
        raise TaxSetupError(
            f"Account {qbo_id} ({account.fully_qualified_name}) is "
            f"{a_or_an(account.account_type)} account; discounts are booked to "
            f"{a_or_an(either(INCOME_TYPES))} account.",
            hint="Pick one from `appliance accounts --kind discount`.",
        )
