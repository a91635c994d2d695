"""Connecting to QuickBooks and disconnecting (the browser's half is the public OAuth callback)."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody

from appliance.core.admin import (
    ConnectAttempt,
    ConnectFinishRequest,
    ConnectionInfo,
    ConnectStartReport,
    ConnectStartRequest,
    DisconnectReport,
)
from appliance.gateway.admin.operator import OPERATOR
from appliance.gateway.problems import problems
from appliance.gateway.runtime import Runtime
from appliance.qbo.oauth import Callback


class ConnectController(Controller):
    path = "/v1"
    tags = ["admin"]  # noqa: RUF012 - Litestar reads it from the class
    dependencies = OPERATOR

    @post(
        "/connect/start",
        summary="Start connecting to QuickBooks",
        status_code=200,
        responses=problems(400, 409),
    )
    async def admin_connect_start(
        self,
        runtime: NamedDependency[Runtime],
        operator: NamedDependency[str],
        data: JSONBody[ConnectStartRequest],
    ) -> ConnectStartReport:
        return runtime.connector.start(actor=operator, allow_other_company=data.allow_other_company)

    @get(
        "/connect/attempts/{attempt:str}",
        summary="How a started connection stands: waiting for the browser, connected, or why not",
        sync_to_thread=True,
        responses=problems(404),
    )
    def admin_connect_attempt(
        self, runtime: NamedDependency[Runtime], attempt: FromPath[str]
    ) -> ConnectAttempt:
        found = runtime.connector.attempt(attempt)
        if found is None:
            raise NotFoundException(
                detail="No such connection was started here (or its data was reset).",
                extra={"hint": "Make a new link: the answer to POST /v1/connect/start names it."},
            )
        return found

    @post(
        "/connect/finish",
        summary="Finish connecting with the URL the browser was redirected to",
        status_code=200,
        responses=problems(400, 409),
    )
    async def admin_connect_finish(
        self,
        runtime: NamedDependency[Runtime],
        operator: NamedDependency[str],
        data: JSONBody[ConnectFinishRequest],
    ) -> ConnectionInfo:
        info = await runtime.connector.finish(Callback.from_url(data.redirect_url), actor=operator)
        await runtime.connected()
        return info

    @post(
        "/disconnect",
        summary="Disconnect from QuickBooks",
        status_code=200,
        responses=problems(409),
    )
    async def admin_disconnect(
        self, runtime: NamedDependency[Runtime], operator: NamedDependency[str]
    ) -> DisconnectReport:
        report = await runtime.connector.disconnect(actor=operator)
        runtime.disconnected()
        return report
