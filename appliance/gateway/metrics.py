"""`/metrics` in Prometheus' text format, and the same numbers as a periodic log line.

Read at scrape time from the store (queue, events, tokens, imports) and from the service's own
counters (pushes, QuickBooks calls by status, 429s, token refreshes), so there is nothing to keep
in step. The text is produced by prometheus_client, the reference implementation of the format.
Each metric's name is also the key of the ``metrics`` log line (``metric_values``), so a log
search and a dashboard say the same thing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from appliance import __version__
from appliance.core.activity import PUSH_DONE, PUSH_FAILED, PUSH_RETRIED, QBO_STATUS
from appliance.core.admin import EVENT_STATUSES
from appliance.storage import imports as runs
from appliance.storage import push as jobs
from appliance.storage.store import Store

if TYPE_CHECKING:  # the runtime starts the metrics log line, so it imports this module
    from appliance.gateway.runtime import Runtime

IMPORT_KINDS = ("customers", "products", "accounts")


@dataclass
class Sample:
    name: str
    kind: str  # gauge|counter
    help: str
    values: dict[tuple[tuple[str, str], ...], float] = field(default_factory=dict)

    def set(self, value: float, **labels: str) -> None:
        self.values[tuple(sorted(labels.items()))] = value


def samples(store: Store, runtime: Runtime, now: datetime | None = None) -> list[Sample]:
    now = now or datetime.now(UTC)
    out: list[Sample] = []

    def add(name: str, kind: str, help_: str) -> Sample:
        out.append(Sample(name, kind, help_))
        return out[-1]

    queue = store.queue_info(now)
    depth = add("appliance_queue_jobs", "gauge", "Jobs in the push queue, by state.")
    for state in ("queued", "running", "waiting", "failed"):
        depth.set(getattr(queue, state), state=state)
    oldest = add(
        "appliance_queue_oldest_age_seconds", "gauge", "Age of the oldest queued job (0: none)."
    )
    oldest.set(queue.oldest_queued_age_seconds or 0.0)

    counts = jobs.counts(store.engine)
    events = add("appliance_events", "gauge", "Events received from JobRoutr, by outcome.")
    for status in EVENT_STATUSES:
        events.set(counts.get(status, 0), status=status)

    totals = runtime.activity.totals
    pushes = add(
        "appliance_pushes", "counter", "Push attempts since the service started, by outcome."
    )
    for outcome, name in (("done", PUSH_DONE), ("failed", PUSH_FAILED), ("retried", PUSH_RETRIED)):
        pushes.set(totals[name], outcome=outcome)
    calls = add(
        "appliance_qbo_calls", "counter", "QuickBooks API calls since start, by HTTP status."
    )
    for name, count in sorted(totals.items()):
        if name.startswith(QBO_STATUS):
            calls.set(count, status=name.removeprefix(QBO_STATUS))
    throttled = add("appliance_qbo_throttled", "counter", "QuickBooks answers 429 since start.")
    throttled.set(totals[QBO_STATUS + "429"])
    refreshes = add("appliance_token_refreshes", "counter", "Token refreshes since start.")
    refreshes.set(runtime.tokens.refreshes)
    failures = add(
        "appliance_token_refresh_failures", "counter", "Token refreshes that failed since start."
    )
    failures.set(runtime.tokens.refresh_failures)

    connection = store.connection_info()
    connected = add("appliance_qbo_connected", "gauge", "1 when connected to QuickBooks.")
    connected.set(1.0 if connection is not None and connection.state == "connected" else 0.0)
    if connection is not None:
        expiry = add(
            "appliance_token_expires_in_seconds",
            "gauge",
            "Seconds until the token expires (negative: expired).",
        )
        for token, moment in (
            ("access", connection.access_token_expires_at),
            ("refresh", connection.refresh_token_expires_at),
        ):
            if moment is not None:
                expiry.set(round((moment - now).total_seconds()), token=token)
        durations = add(
            "appliance_import_last_duration_seconds",
            "gauge",
            "How long the last finished import of each kind took.",
        )
        records = add(
            "appliance_import_last_records",
            "gauge",
            "Records the last finished import of each kind brought in, or skipped.",
        )
        for kind in IMPORT_KINDS:
            run = runs.latest_run(store.engine, connection.realm_id, kind)
            if run is None or run.finished_at is None:
                continue
            durations.set((run.finished_at - run.started_at).total_seconds(), kind=kind)
            records.set(run.done, kind=kind, result="imported")
            records.set(run.skipped, kind=kind, result="skipped")
    info = add("appliance_info", "gauge", "The appliance's version.")
    info.set(1.0, version=__version__)
    return out


class _Collector(Collector):
    def __init__(self, store: Store, runtime: Runtime) -> None:
        self.store = store
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        for sample in samples(self.store, self.runtime):
            names = sorted({k for labels in sample.values for k, _ in labels})
            family: GaugeMetricFamily | CounterMetricFamily
            if sample.kind == "counter":
                family = CounterMetricFamily(sample.name, sample.help, labels=names)
            else:
                family = GaugeMetricFamily(sample.name, sample.help, labels=names)
            for labels, value in sample.values.items():
                family.add_metric([dict(labels)[n] for n in names], value)
            yield family


def exposition(store: Store, runtime: Runtime) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(store, runtime))
    return generate_latest(registry)


def metric_values(store: Store, runtime: Runtime) -> dict[str, float]:
    """The same numbers, flat, for the ``metrics`` log line: ``name{label=value}`` keys, with
    counters named as Prometheus shows them (``_total``)."""
    flat: dict[str, float] = {}
    for sample in samples(store, runtime):
        name = sample.name + ("_total" if sample.kind == "counter" else "")
        for labels, value in sample.values.items():
            suffix = ",".join(f"{k}={v}" for k, v in labels)
            flat[f"{name}{{{suffix}}}" if suffix else name] = value
    return flat
