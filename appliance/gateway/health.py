"""Health of the service: liveness (both apps), readiness and the Prometheus metrics (public)."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.di import NamedDependency
from litestar.response import Response
from prometheus_client import CONTENT_TYPE_LATEST

from appliance.gateway import metrics
from appliance.gateway.problems import problem, problems
from appliance.gateway.pull import API_KEY, require_api_key
from appliance.gateway.runtime import Runtime
from appliance.storage.store import Store


@get("/healthz", tags=["health"], summary="Liveness: the process answers", sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get(
    "/readyz",
    tags=["health"],
    summary="Readiness: the store is reachable, current, intact and takes writes",
    sync_to_thread=True,
    responses=problems(503),
)
def readyz(store: NamedDependency[Store]) -> Response[dict[str, Any]]:
    ok, reason = store.ready()
    if not ok:
        return problem(503, "Not ready", reason)
    if (
        key := store.key_problem()
    ) is not None:  # another instance rotated the key: docs/install.md
        return problem(503, "Not ready", key)
    return Response({"status": "ready"})


@get(
    "/metrics",
    tags=["health"],
    summary="Prometheus metrics (text format), with the API key",
    guards=[require_api_key],
    security=[{API_KEY: []}],
    sync_to_thread=True,
    media_type=CONTENT_TYPE_LATEST,
    responses=problems(401),
)
def prometheus_metrics(store: NamedDependency[Store], runtime: NamedDependency[Runtime]) -> bytes:
    """Served only when APPLIANCE_METRICS_ENABLED (the default); otherwise there is no route."""
    return metrics.exposition(store, runtime)
