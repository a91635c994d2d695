"""Connecting to QuickBooks and disconnecting (the browser's half is the public OAuth callback)."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from appliance.core.admin import (
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
