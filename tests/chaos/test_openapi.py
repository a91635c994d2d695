"""Schemathesis against the schema the gateway publishes: no 5xx, and every answer as documented.

One real ``appliance serve`` on the bundled emulator (connected, its books imported, an event
received) is fuzzed over its own listeners: the public app on TCP, from the schema it serves at
``/schema/openapi.json``, with the API key; the admin app on its Unix socket, from the schema
Litestar builds from the admin app's own route handlers (the admin app publishes none). Every
answer must be below 500, have a documented status code and content type, and match the documented
schema. ``POST /v1/disconnect`` ends the connection the other operations rely on, so it runs last,
in a test of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from appliance.gateway.app import ADMIN_HANDLERS, create_admin_app
from appliance.gateway.pull import API_KEY
from tests.harness.emulator import RunningEmulator
from tests.harness.gateway import Gateway, running_gateway
from tests.harness.processes import wait_until

pytestmark = pytest.mark.slow

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
ADMIN_BASE = "http://appliance"
WEBHOOK = "/webhooks/jobroutr"
CUSTOMER = {
    "type": "customer.created",
    "timestamp": "2026-11-25T10:00:00Z",
    "data": {"id": "cus_openapi", "given_name": "Dana", "family_name": "O'Neil"},
}


@dataclass
class Fuzzed:
    gateway: Gateway
    admin: httpx.Client
    event_id: str


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    with (
        RunningEmulator() as books,
        running_gateway(books, tmp_path_factory.mktemp("openapi")) as gateway,
        httpx.Client(
            transport=httpx.HTTPTransport(uds=str(gateway.settings.admin_socket_path)),
            base_url=ADMIN_BASE,
            headers={"X-Appliance-Operator": "schemathesis"},
            timeout=60,
        ) as admin,
    ):
        for kind in ("customers", "products"):
            assert admin.post(f"/v1/imports/{kind}").status_code == 202
            wait_until(
                lambda kind=kind: admin.get(f"/v1/imports/{kind}").json()["state"] != "running",
                what=f"the {kind} import",
            )
        event_id = gateway.send(CUSTOMER)
        yield Fuzzed(gateway, admin, event_id)


@pytest.fixture(scope="module")
def public_schema(fuzzed: Fuzzed) -> Any:
    # The key is given as the schema's own security scheme, not as a header laid over every
    # request, so a negative case that leaves it out is really sent without it.
    key = fuzzed.gateway.http.headers["authorization"].removeprefix("Bearer ")
    config = schemathesis.Config.from_dict({"auth": {"openapi": {API_KEY: {"bearer": key}}}})
    return schemathesis.openapi.from_url(
        fuzzed.gateway.base + "/schema/openapi.json", config=config
    )


@pytest.fixture(scope="module")
def admin_schema(fuzzed: Fuzzed) -> Any:
    app = create_admin_app(fuzzed.gateway.settings)
    # The handlers the admin app serves, with its dependencies: documented as Litestar would
    # document the app (its controllers keep their paths, tags and dependencies, which its
    # routes' handlers, taken one by one, would lose).
    documented = Litestar(
        route_handlers=ADMIN_HANDLERS,
        dependencies=app.dependencies,
        openapi_config=OpenAPIConfig(title="JobRoutr QuickBooks Gateway admin API", version="1"),
    )
    return schemathesis.openapi.from_dict(documented.openapi_schema.to_schema())


def fuzz(schema: Any, call: Callable[[schemathesis.Case], None]) -> None:
    """Every operation in both generation modes; fails at the end listing what every operation
    did wrong, so one bad operation does not hide another."""
    failures = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the schema lists no operations"
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @FUZZ
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: schemathesis.Case) -> None:
                call(case)

            try:
                run()
            except Unsatisfiable:
                # Nothing to make invalid: the operation takes no parameters and no body.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis' failures
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)


def _call_public(case: schemathesis.Case, gateway: Gateway) -> None:
    case.call_and_validate(
        base_url=gateway.base,
        checks=[*CHECKS, ignored_auth],  # a 2xx is asked again without the key, and with a bad one
        timeout=60,
    )


def test_the_public_app_answers_every_request_as_its_schema_says(
    fuzzed: Fuzzed, public_schema: Any
) -> None:
    fuzz(
        public_schema.exclude(path=WEBHOOK),
        lambda case: _call_public(case, fuzzed.gateway),
    )


def test_the_webhook_answers_every_request_as_its_schema_says(
    fuzzed: Fuzzed, public_schema: Any
) -> None:
    fuzz(public_schema.include(path=WEBHOOK), lambda case: _call_public(case, fuzzed.gateway))


def _call_admin(case: schemathesis.Case, client: httpx.Client) -> None:
    sent = case.as_transport_kwargs(base_url=ADMIN_BASE)
    body: dict[str, Any] = {}
    if "json" in sent:
        body["content"] = json.dumps(sent["json"]).encode()
    elif sent.get("data") is not None:
        data = sent["data"]
        body["content"] = data.encode() if isinstance(data, str) else data
    response = client.request(
        sent["method"],
        sent["url"],
        params=sent.get("params"),
        headers=sent.get("headers"),
        **body,
    )
    case.validate_response(response, checks=CHECKS, headers=sent.get("headers"))


def test_the_admin_app_answers_every_request_as_its_schema_says(
    fuzzed: Fuzzed, admin_schema: Any
) -> None:
    fuzz(admin_schema.exclude(path="/v1/disconnect"), lambda case: _call_admin(case, fuzzed.admin))


def test_disconnecting_answers_as_the_schema_says(fuzzed: Fuzzed, admin_schema: Any) -> None:
    fuzz(admin_schema.include(path="/v1/disconnect"), lambda case: _call_admin(case, fuzzed.admin))
