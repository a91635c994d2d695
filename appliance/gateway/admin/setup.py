"""Setting the company up: its default accounts, and the onboarding tasks."""

from __future__ import annotations

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromQuery, JSONBody

from appliance.core.accounts import PICKER_KINDS
from appliance.core.admin import AccountInfo, OnboardingInfo, SettingsChange, SettingsInfo
from appliance.core.words import either
from appliance.gateway.admin.operator import OPERATOR
from appliance.gateway.problems import problems
from appliance.gateway.runtime import Runtime
from appliance.storage.store import Store
from appliance.sync import setup


class SetupController(Controller):
    path = "/v1"
    tags = ["admin"]  # noqa: RUF012 - Litestar reads it from the class
    dependencies = OPERATOR

    @get(
        "/accounts",
        summary="Accounts fit to be a default income/expense account, or the deposit account",
        responses=problems(400, 409),
    )
    async def admin_accounts(
        self, store: NamedDependency[Store], kind: FromQuery[str]
    ) -> list[AccountInfo]:
        if kind not in PICKER_KINDS:  # a malformed request, as on the pull API: not a conflict
            raise HTTPException(
                status_code=400,
                detail=f"kind must be {either(list(PICKER_KINDS))} (not {kind!r}).",
                extra={"hint": "`appliance accounts --kind income`, `expense` or `deposit`."},
            )
        return setup.accounts(store, kind)

    @get(
        "/settings",
        summary="The company's default accounts and deposit account",
        responses=problems(409),
    )
    async def admin_settings(self, store: NamedDependency[Store]) -> SettingsInfo:
        return setup.settings(store)

    @put(
        "/settings",
        summary="Choose the default accounts or the deposit account (saved at once; a "
        'deposit_account_id of "" is Undeposited Funds again)',
        responses=problems(400, 409),
    )
    async def admin_settings_set(
        self,
        store: NamedDependency[Store],
        runtime: NamedDependency[Runtime],
        operator: NamedDependency[str],
        data: JSONBody[SettingsChange],
    ) -> SettingsInfo:
        chosen = setup.set_default_accounts(
            store,
            income=data.income_account_id,
            expense=data.expense_account_id,
            deposit=data.deposit_account_id,
            actor=operator,
        )
        await runtime.accounts_chosen()
        return chosen

    @get("/onboarding", summary="The setup tasks and which are done", responses=problems(409))
    async def admin_onboarding(self, store: NamedDependency[Store]) -> OnboardingInfo:
        return setup.onboarding(store)

    @post(
        "/onboarding/complete",
        summary="Mark Complete",
        status_code=200,
        responses=problems(409),
    )
    async def admin_onboarding_complete(
        self, store: NamedDependency[Store], operator: NamedDependency[str]
    ) -> OnboardingInfo:
        return setup.complete(store, actor=operator)
