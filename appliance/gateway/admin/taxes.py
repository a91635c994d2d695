"""The tax step: JobRoutr's tax rates mapped to QuickBooks tax codes, the code for untaxed lines
and the discount account (sync/taxes.py). Each choice is saved at once and wakes what waits."""

from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from appliance.core.admin import (
    AccountInfo,
    InvoiceSettingsChange,
    TaxCodeView,
    TaxesInfo,
    TaxMapRequest,
    TaxRateView,
    TaxSuggestedRequest,
)
from appliance.gateway.admin.operator import OPERATOR
from appliance.gateway.problems import problems
from appliance.gateway.runtime import Runtime
from appliance.storage.store import Store
from appliance.sync import taxes


class TaxesController(Controller):
    path = "/v1/taxes"
    tags = ["admin"]  # noqa: RUF012 - Litestar reads it from the class
    dependencies = OPERATOR

    @get(
        "",
        summary="JobRoutr's tax rates, their codes, and the invoice settings",
        responses=problems(409),
    )
    async def admin_taxes(self, store: NamedDependency[Store]) -> TaxesInfo:
        return taxes.overview(store)

    @get("/codes", summary="The company's active tax codes", responses=problems(409))
    async def admin_tax_codes(self, store: NamedDependency[Store]) -> list[TaxCodeView]:
        return taxes.codes(store)

    @get(
        "/discount-accounts",
        summary="Accounts a discount may be booked to, the suggested one first",
        responses=problems(409),
    )
    async def admin_discount_accounts(self, store: NamedDependency[Store]) -> list[AccountInfo]:
        return taxes.discount_accounts(store)

    @put(
        "/rates/{rate_id:str}",
        summary="Map a JobRoutr tax rate to a tax code (saved at once)",
        responses=problems(400, 404, 409),
    )
    async def admin_tax_map(
        self,
        store: NamedDependency[Store],
        runtime: NamedDependency[Runtime],
        operator: NamedDependency[str],
        rate_id: FromPath[str],
        data: JSONBody[TaxMapRequest],
    ) -> TaxRateView:
        mapped = taxes.map_rate(
            store, rate_id, data.qbo_tax_code_id, force=data.force, actor=operator
        )
        runtime.work_queued()
        return mapped

    @delete(
        "/rates/{rate_id:str}",
        summary="Forget a rate's mapping",
        status_code=200,
        responses=problems(404, 409),
    )
    async def admin_tax_unmap(
        self, store: NamedDependency[Store], operator: NamedDependency[str], rate_id: FromPath[str]
    ) -> TaxRateView:
        return taxes.unmap_rate(store, rate_id, actor=operator)

    @post(
        "/suggested",
        summary="Accept the suggested codes",
        status_code=200,
        responses=problems(400, 404, 409),
    )
    async def admin_tax_suggested(
        self,
        store: NamedDependency[Store],
        runtime: NamedDependency[Runtime],
        operator: NamedDependency[str],
        data: JSONBody[TaxSuggestedRequest],
    ) -> TaxesInfo:
        accepted = taxes.accept_suggested(store, data.rate_ids, actor=operator)
        runtime.work_queued()
        return accepted

    @put(
        "/invoice-settings",
        summary="Choose the discount account and the code for untaxed lines",
        responses=problems(400, 409),
    )
    async def admin_invoice_settings(
        self,
        store: NamedDependency[Store],
        runtime: NamedDependency[Runtime],
        operator: NamedDependency[str],
        data: JSONBody[InvoiceSettingsChange],
    ) -> TaxesInfo:
        chosen = taxes.set_invoice_settings(
            store,
            discount_account_id=data.discount_account_id,
            untaxed_tax_code_id=data.untaxed_tax_code_id,
            actor=operator,
        )
        runtime.work_queued()
        return chosen
