"""Where Intuit sends the operator's browser after the consent screen (the public listener)."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.response import Response

from appliance.errors import ApplianceError
from appliance.gateway.pages import callback_page
from appliance.gateway.runtime import Runtime
from appliance.qbo.oauth import Callback
from appliance.sync.connection import CONNECTED_SENTENCE


@get(
    "/oauth/callback",
    tags=["oauth"],
    summary="Where Intuit sends the browser after the operator approves (or cancels)",
    include_in_schema=True,
    media_type=MediaType.HTML,
    responses={
        400: ResponseSpec(
            data_container=str,
            media_type=MediaType.HTML,
            description="Not connected: the page says why and what to do",
        )
    },
)
async def oauth_callback(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[str]:
    params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
    callback = Callback.from_params(params)
    try:
        info = await runtime.connector.finish(callback, actor="browser")
    except ApplianceError as exc:
        # The page's reader signed in to QuickBooks; some errors say what to do there instead.
        hint = getattr(exc, "page_hint", "") or exc.hint
        return callback_page(ok=False, message=exc.message, hint=hint)
    await runtime.connected()
    return callback_page(
        ok=True,
        message=CONNECTED_SENTENCE,
        hint=f"Company: {info.company_name or info.realm_id} ({info.environment}). "
        "You can close this window.",
    )
