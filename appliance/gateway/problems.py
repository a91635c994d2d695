"""Errors to HTTP, in one place: every error answer is RFC 9457 problem+json, never a traceback."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, InternalServerException, ValidationException
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from appliance.errors import ApplianceError, NotFoundError, StoreUnavailableError
from appliance.logging import get_logger
from appliance.storage.health import trouble

PROBLEM_JSON = "application/problem+json"
log = get_logger(__name__)


class InvalidParam(msgspec.Struct):
    name: str | None
    reason: str | None


class Problem(msgspec.Struct):
    """The body of every error answer, for the OpenAPI schema (``problem`` writes it)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    hint: str | None = None  # what to do next, as ApplianceError's hint
    invalid_params: list[InvalidParam] | None = None  # a 400/422: every invalid field


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """The ``responses=`` of a route that may answer these problems, so its schema says so
    (without it Litestar documents a 400 as its own JSON shape, which we never send)."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=_TITLES[status],
            generate_examples=False,  # random strings, different in every build of the schema
        )
        for status in statuses
    }


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    type_: str = "about:blank",
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


#: What Litestar raises when the client hangs up while its body is read: not the service's fault.
_CLIENT_LEFT = "client disconnected prematurely"


def _http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, InternalServerException) and exc.detail == _CLIENT_LEFT:
        # No one reads this answer, but the request's log line and the 5xx count would say the
        # service failed: a client that leaves halfway sent a bad request.
        return problem(
            400,
            "Bad request",
            "The client closed the connection before it sent the whole request.",
            instance=request.url.path,
        )
    title = _TITLES.get(exc.status_code, "Request failed")
    detail = exc.detail if exc.detail and exc.detail.lower() != title.lower() else None
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        extra["invalid_params"] = [
            {"name": item.get("key") or item.get("source"), "reason": item.get("message")}
            for item in exc.extra
            if isinstance(item, dict)
        ]
    elif isinstance(exc.extra, dict) and isinstance(exc.extra.get("hint"), str):
        extra["hint"] = exc.extra["hint"]  # what to do next, as ApplianceError's hint
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() != "content-type"}
    return problem(
        exc.status_code, title, detail, instance=request.url.path, headers=headers or None, **extra
    )


def _appliance_error(request: Request[Any, Any, Any], exc: ApplianceError) -> Response[Any]:
    headers = None
    if isinstance(exc, StoreUnavailableError):
        # Logged by the store's health, about once a minute: not once per request.
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    else:
        # "None yet" (no import has run, say) is an answer the console asks for every 0.5 s
        # before a first import: DEBUG, not a warning twice a second.
        level = log.debug if isinstance(exc, NotFoundError) else log.warning
        level("http.request_refused", error=type(exc).__name__, detail=exc.message)
    return problem(
        exc.http_status,
        "The appliance cannot do that now"
        if exc.http_status == 409
        else _TITLES.get(exc.http_status, "Request failed"),
        exc.message,
        hint=exc.hint or None,
        instance=request.url.path,
        headers=headers,
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    kind = trouble(exc)
    store = getattr(request.app.state, "store", None)
    if kind is not None and store is not None:
        # A full disk or a damaged store, met by any route: 503 and Retry-After, no traceback.
        return _appliance_error(request, store.health.failed(kind, exc))
    log.exception("http.request_failed", error=type(exc).__name__)
    return problem(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Internal error",
        "The appliance could not complete this request; the details are in its log.",
        instance=request.url.path,
    )


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    408: "Request timeout",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    423: "Waiting for the other instances",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}

EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    HTTPException: _http_exception,
    ApplianceError: _appliance_error,
    Exception: _unexpected,
}
