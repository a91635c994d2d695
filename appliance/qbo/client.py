"""The QBO API client: one per service, shared by every caller.

Every request: waits for a slot in the company's limiter, carries ``minorversion=75`` and, for
writes, the caller's ``requestid`` (the same on every retry, so QBO never writes twice), and on
failure follows one policy table:

=====================  =========================================================
401                    refresh once (TokenManager) and retry
429 ThrottleExceeded   wait Retry-After if given, else back off from 60 s
5xx, time-outs, drops  back off with jitter, retry with the same requestid
anything else          permanent: raised to the caller as a typed QboError
=====================  =========================================================
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import msgspec

from appliance.core.activity import QBO_CALLS, QBO_FAILED, QBO_STATUS, QBO_THROTTLED, Activity
from appliance.qbo.errors import (
    AuthenticationError,
    ConnectionLostError,
    QboError,
    ServerError,
    ThrottledError,
    is_transient,
)
from appliance.qbo.faults import parse_error
from appliance.qbo.limiter import Limiters, Slots
from appliance.qbo.tokens import TokenManager

MINOR_VERSION = "75"
ENCODER = msgspec.json.Encoder(decimal_format="number")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    server_initial: float = 1.0
    throttle_initial: float = 60.0
    max_wait: float = 300.0

    def wait(self, error: QboError, attempt: int, rand: Callable[[], float]) -> float:
        if isinstance(error, ThrottledError) and error.retry_after is not None:
            return min(self.max_wait, error.retry_after)
        base = self.throttle_initial if isinstance(error, ThrottledError) else self.server_initial
        return float(min(self.max_wait, base * 2 ** (attempt - 1)) * (0.5 + rand() / 2))


def _decode(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content, parse_float=Decimal)
    except ValueError:
        raise ServerError(
            "QuickBooks answered with something that is not JSON", status=response.status_code
        ) from None
    if not isinstance(body, dict):
        raise ServerError("QuickBooks answered with an unexpected document")
    return body


def _body(json_body: Any, text_body: str | None) -> tuple[dict[str, str], bytes | None]:
    """The request body and its Content-Type header: text (a query) or JSON, or none."""
    if text_body is not None:
        return {"Content-Type": "application/text"}, text_body.encode("utf-8")
    if json_body is not None:
        return {"Content-Type": "application/json"}, ENCODER.encode(json_body)  # exact Decimals
    return {}, None


class QboClient:
    def __init__(
        self,
        api_base: str,
        tokens: TokenManager,
        *,
        limiters: Limiters | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        activity: Activity | None = None,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.tokens = tokens
        self.limiters = limiters or Limiters()
        self.policy = policy or RetryPolicy()
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)
        self._sleep = sleep
        self._random = random.Random()  # noqa: S311 - jitter, not secrets
        self.calls = 0
        self.throttled = 0
        self.activity = activity or Activity()
        self.clock_skew: float | None = None  # seconds this machine is ahead of QuickBooks
        self.clock_measured_at: datetime | None = None

    async def aclose(self) -> None:
        await self.limiters.aclose()
        await self._http.aclose()

    def _note_clock(self, response: httpx.Response) -> None:
        """This machine's clock against QuickBooks' (its Date header, to the second)."""
        date = response.headers.get("date")
        if not date:
            return
        try:
            server = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return
        now = datetime.now(UTC)
        # Date has whole seconds: half a second of the difference is rounding.
        self.clock_skew = (now - server).total_seconds() - 0.5
        self.clock_measured_at = now

    async def request(
        self,
        realm_id: str,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        text_body: str | None = None,
        requestid: str | None = None,
        batch: bool = False,
        access_token: str | None = None,
    ) -> dict[str, Any]:
        """One call to the company's API under the policy above: the decoded JSON answer, or
        the typed error once retrying does not help or the attempts are spent. With
        ``access_token`` (tokens not stored yet, while connecting) that token is used, and a
        401 is final: there is nothing stored to refresh it with."""
        query = {**(params or {}), "minorversion": MINOR_VERSION}
        if requestid is not None:
            query["requestid"] = requestid
        url = f"{self.api_base}/company/{realm_id}/{path.lstrip('/')}"
        token = access_token or await self.tokens.access_token(realm_id)
        body_headers, content = _body(json_body, text_body)
        refreshed = False
        attempt = 0
        limiter = self.limiters.for_realm(realm_id)
        while True:
            attempt += 1
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                **body_headers,
            }
            answer = await self._send(
                limiter, method, url, query=query, headers=headers, content=content, batch=batch
            )
            if not isinstance(answer, QboError):
                return answer
            if isinstance(answer, AuthenticationError) and not refreshed and not access_token:
                refreshed = True
                token = await self.tokens.access_token(realm_id, rejected=token)
                continue
            self._count_failure(answer)
            if not is_transient(answer) or attempt >= self.policy.max_attempts:
                raise answer
            await self._sleep(self.policy.wait(answer, attempt, self._random.random))

    async def _send(
        self,
        limiter: Slots,
        method: str,
        url: str,
        *,
        query: dict[str, str],
        headers: dict[str, str],
        content: bytes | None,
        batch: bool,
    ) -> dict[str, Any] | QboError:
        """One try, in a slot of the company's limiter: the decoded answer, or the error it
        came back as (returned, for the caller's policy to retry or raise)."""
        try:
            async with limiter.slot(batch=batch):
                self.calls += 1
                self.activity.add(QBO_CALLS)
                response = await self._http.request(
                    method, url, params=query, headers=headers, content=content
                )
        except httpx.TransportError as exc:
            self.activity.add(f"{QBO_STATUS}none")
            return ConnectionLostError(
                f"The connection to QuickBooks failed ({type(exc).__name__})"
            )
        self.activity.add(f"{QBO_STATUS}{response.status_code}")
        self._note_clock(response)
        if response.status_code >= 400:
            return parse_error(response)
        return _decode(response)

    def _count_failure(self, error: QboError) -> None:
        if isinstance(error, ThrottledError):
            self.throttled += 1
            self.activity.add(QBO_THROTTLED)
        else:
            self.activity.add(QBO_FAILED)

    # The calls the product makes --------------------------------------------------------------

    async def query(self, realm_id: str, statement: str) -> dict[str, Any]:
        body = await self.request(realm_id, "GET", "query", params={"query": statement})
        response = body.get("QueryResponse", {})
        return response if isinstance(response, dict) else {}

    async def read(self, realm_id: str, entity: str, qbo_id: str) -> dict[str, Any]:
        body = await self.request(realm_id, "GET", f"{entity.lower()}/{qbo_id}")
        return dict(body[entity])

    async def company_info(
        self, realm_id: str, *, access_token: str | None = None
    ) -> dict[str, Any]:
        body = await self.request(
            realm_id, "GET", f"companyinfo/{realm_id}", access_token=access_token
        )
        return dict(body["CompanyInfo"])

    async def preferences(self, realm_id: str) -> dict[str, Any]:
        body = await self.request(realm_id, "GET", "preferences")
        return dict(body["Preferences"])

    async def write(
        self,
        realm_id: str,
        entity: str,
        record: dict[str, Any],
        *,
        requestid: str | None,
        operation: str | None = None,
    ) -> dict[str, Any]:
        params = {"operation": operation} if operation else None
        body = await self.request(
            realm_id,
            "POST",
            entity.lower(),
            params=params,
            json_body=record,
            requestid=requestid,
        )
        return dict(body[entity])

    async def cdc(
        self, realm_id: str, entities: list[str], changed_since: datetime
    ) -> dict[str, list[dict[str, Any]]]:
        """QuickBooks' Change Data Capture: every record of ``entities`` changed since
        ``changed_since`` (deleted ones as ``{"Id", "status": "Deleted"}``), by entity. At most
        1,000 objects in all (FACTS section 6): the caller shortens the window when full."""
        body = await self.request(
            realm_id,
            "GET",
            "cdc",
            params={
                "entities": ",".join(entities),
                "changedSince": changed_since.isoformat(timespec="seconds"),
            },
        )
        found: dict[str, list[dict[str, Any]]] = {entity: [] for entity in entities}
        blocks = body.get("CDCResponse")
        for block in blocks if isinstance(blocks, list) else []:
            responses = block.get("QueryResponse") if isinstance(block, dict) else None
            for response in responses if isinstance(responses, list) else []:
                if not isinstance(response, dict):
                    continue
                for entity in entities:
                    rows = response.get(entity)
                    if isinstance(rows, list):
                        found[entity].extend(r for r in rows if isinstance(r, dict))
        return found
