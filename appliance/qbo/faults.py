"""Turn any error answer from QBO into a typed error (FACTS §8, §10 item 3).

QBO answers errors in several shapes: the usual ``{"Fault": {"Error": [...], "type"}}``, the API
gateway's lower-case ``{"fault": {"error": [...]}}`` on 401, XML ``IntuitResponse`` documents on
429 (even to JSON clients), HTML from the edge on 502/503, and sometimes nothing at all. The
``intuit_tid`` header, spelled ``intuit_tid`` or ``Intuit-Tid``, is kept for support.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from xml.etree import ElementTree

import httpx

from appliance.qbo.errors import (
    AuthenticationError,
    AuthorizationError,
    CompanyStatusError,
    QboError,
    ServerError,
    ThrottledError,
    ValidationError,
)

MAX_BODY = 64 * 1024
_NS = re.compile(r"^\{[^}]*\}")
AUTHORIZATION_CODES = frozenset({"120", "3100"})
SERVER_CODES = frozenset({"10000", "3100500"})


def intuit_tid(response: httpx.Response) -> str | None:
    value = response.headers.get("intuit_tid") or response.headers.get("intuit-tid")
    return str(value) if value else None


def _first_error(body: Any) -> dict[str, Any] | None:
    if not isinstance(body, dict):
        return None
    for key, errors_key in (("Fault", "Error"), ("fault", "error")):
        fault = body.get(key)
        if isinstance(fault, dict):
            errors = fault.get(errors_key)
            if isinstance(errors, list) and errors and isinstance(errors[0], dict):
                first = {k.lower(): v for k, v in errors[0].items()}
                first["type"] = fault.get("type")
                return first
    return None


def _xml_error(text: str) -> dict[str, Any] | None:
    try:
        # QBO's own XML, bounded in size; it carries no entities or DTDs to expand.
        root = ElementTree.fromstring(text[:MAX_BODY])  # noqa: S314
    except ElementTree.ParseError:
        return None
    for element in root.iter():
        if _NS.sub("", element.tag) == "Error":
            found: dict[str, Any] = {"code": element.get("code")}
            for child in element:
                found[_NS.sub("", child.tag).lower()] = (child.text or "").strip()
            parent = next(
                (p for p in root.iter() if element in list(p) and _NS.sub("", p.tag) == "Fault"),
                None,
            )
            found["type"] = parent.get("type") if parent is not None else None
            return found
    return None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def parse_error(response: httpx.Response) -> QboError:
    """The typed error for a non-2xx answer from the QBO API."""
    error = _fault(response) or {}
    code = str(error["code"]) if error.get("code") is not None else None
    message = str(error.get("message") or "")
    detail = str(error.get("detail") or "")
    element = error.get("element")
    common: dict[str, Any] = {
        "status": response.status_code,
        "qbo_code": code,
        "detail": detail or None,
        "element": str(element) if element else None,
        "intuit_tid": intuit_tid(response),
    }
    return _typed(response, code, message, common)


def _fault(response: httpx.Response) -> dict[str, Any] | None:
    """The first error QBO put in the answer, in whichever shape it came; None if none."""
    text = response.text[:MAX_BODY] if response.content else ""
    error: dict[str, Any] | None = None
    media = response.headers.get("content-type", "")
    if "json" in media or text.lstrip().startswith("{"):
        try:
            error = _first_error(json.loads(text))
        except (ValueError, RecursionError):
            error = None
    if error is None and (
        "xml" in media or text.lstrip().startswith("<?xml") or "<IntuitResponse" in text
    ):
        # QBO has sent XML faults under a JSON content type; try both.
        error = _xml_error(text)
    return error


def _typed(
    response: httpx.Response, code: str | None, message: str, common: dict[str, Any]
) -> QboError:
    """The error class for the status and QBO code, with QBO's message or a plain one."""
    status = response.status_code
    if status == 429 or code == "3001" or "ThrottleExceeded" in message:
        return ThrottledError(
            "QuickBooks is limiting requests (ThrottleExceeded)",
            retry_after=_retry_after(response),
            **common,
        )
    if status >= 500 or code in SERVER_CODES:
        return ServerError(message or f"QuickBooks answered HTTP {status}", **common)
    if status == 401:
        return AuthenticationError(
            message or "QuickBooks did not accept the access token", **common
        )
    if status == 403 or code in AUTHORIZATION_CODES:
        return AuthorizationError(
            message or "QuickBooks refused: not authorized",
            hint="Reconnect with a QuickBooks user who is a company administrator.",
            **common,
        )
    if code == "6190":
        return CompanyStatusError(
            message or "The QuickBooks company's subscription has ended",
            hint="The company's QuickBooks Online subscription must be active; ask its owner "
            "to renew it, then try again.",
            **common,
        )
    return ValidationError(message or f"QuickBooks refused the request (HTTP {status})", **common)
