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
from typing import Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from appliance import __version__
from appliance.core.activity import (
    PUSH_DONE,
    PUSH_FAILED,
    PUSH_MISMATCH,
    PUSH_RETRIED,
    PUSH_REVIEW,
    QBO_STATUS,
    Activity,
)
from appliance.core.admin import EVENT_STATUSES
from appliance.core.kinds import IMPORTED
from appliance.qbo.tokens import TokenManager
from appliance.storage import imports as runs
from appliance.storage import push as jobs
from appliance.storage.store import Store

IMPORT_KINDS = tuple(kind.plural for kind in IMPORTED)


class Counters(Protocol):
    """What the service counts itself. The runtime is one (it starts the ``metrics`` log line,
    so it imports this module, and this module names only what it reads of it)."""

    @property
    def activity(self) -> Activity: ...

    @property
    def tokens(self) -> TokenManager: ...

    @property
    def instance(self) -> str: ...


@dataclass
class Sample:
    name: str
    kind: str  # gauge|counter
    help: str
    values: dict[tuple[tuple[str, str], ...], float] = field(default_factory=dict)

    def set(self, value: float, **labels: str) -> None:
        self.values[tuple(sorted(labels.items()))] = value


def samples(store: Store, counters: Counters, now: datetime | None = None) -> list[Sample]:
    """Every metric, in the order /metrics shows them."""
    now = now or datetime.now(UTC)
    return [
        *_queue(store, now),
        *_counted(counters),
        *_connection(store, now),
        _sample("appliance_info", "gauge", "The appliance's version.", 1.0, version=__version__),
        _sample(
            "appliance_instance",
            "gauge",
            "Which instance answered: its counters are its own, the queue is every instance's.",
            1.0,
            instance=counters.instance,
        ),
    ]


def _sample(name: str, kind: str, help_: str, value: float | None = None, **labels: str) -> Sample:
    sample = Sample(name, kind, help_)
    if value is not None:
        sample.set(value, **labels)
    return sample


def _queue(store: Store, now: datetime) -> list[Sample]:
    queue = store.queue_info(now)
    depth = _sample("appliance_queue_jobs", "gauge", "Jobs in the push queue, by state.")
    for state in ("queued", "running", "waiting", "review", "mismatch", "failed"):
        depth.set(getattr(queue, state), state=state)
    oldest = _sample(
        "appliance_queue_oldest_age_seconds",
        "gauge",
        "Age of the oldest queued job (0: none).",
        queue.oldest_queued_age_seconds or 0.0,
    )
    counts = jobs.counts(store.engine)
    events = _sample("appliance_events", "gauge", "Events received from JobRoutr, by outcome.")
    for status in EVENT_STATUSES:
        events.set(counts.get(status, 0), status=status)
    return [depth, oldest, events]


def _counted(counters: Counters) -> list[Sample]:
    totals = counters.activity.totals
    pushes = _sample(
        "appliance_pushes", "counter", "Push attempts since the service started, by outcome."
    )
    for outcome, name in (
        ("done", PUSH_DONE),
        ("mismatch", PUSH_MISMATCH),
        ("review", PUSH_REVIEW),
        ("failed", PUSH_FAILED),
        ("retried", PUSH_RETRIED),
    ):
        pushes.set(totals[name], outcome=outcome)
    calls = _sample(
        "appliance_qbo_calls", "counter", "QuickBooks API calls since start, by HTTP status."
    )
    for name, count in sorted(totals.items()):
        if name.startswith(QBO_STATUS):
            calls.set(count, status=name.removeprefix(QBO_STATUS))
    return [
        pushes,
        calls,
        _sample(
            "appliance_qbo_throttled",
            "counter",
            "QuickBooks answers 429 since start.",
            totals[QBO_STATUS + "429"],
        ),
        _sample(
            "appliance_token_refreshes",
            "counter",
            "Token refreshes since start.",
            counters.tokens.refreshes,
        ),
        _sample(
            "appliance_token_refresh_failures",
            "counter",
            "Token refreshes that failed since start.",
            counters.tokens.refresh_failures,
        ),
    ]


def _connection(store: Store, now: datetime) -> list[Sample]:
    connection = store.connection_info()
    connected = _sample(
        "appliance_qbo_connected",
        "gauge",
        "1 when connected to QuickBooks.",
        1.0 if connection is not None and connection.state == "connected" else 0.0,
    )
    if connection is None:
        return [connected]
    expiry = _sample(
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
    return [connected, expiry, *_imports(store, connection.realm_id)]


def _imports(store: Store, realm_id: str) -> list[Sample]:
    durations = _sample(
        "appliance_import_last_duration_seconds",
        "gauge",
        "How long the last finished import of each kind took.",
    )
    records = _sample(
        "appliance_import_last_records",
        "gauge",
        "Records the last finished import of each kind brought in, or skipped.",
    )
    for kind in IMPORT_KINDS:
        run = runs.latest_run(store.engine, realm_id, kind)
        if run is None or run.finished_at is None:
            continue
        durations.set((run.finished_at - run.started_at).total_seconds(), kind=kind)
        records.set(run.done, kind=kind, result="imported")
        records.set(run.skipped, kind=kind, result="skipped")
    return [durations, records]


class _Collector(Collector):
    def __init__(self, store: Store, counters: Counters) -> None:
        self.store = store
        self.counters = counters

    def collect(self) -> Iterator[Metric]:
        for sample in samples(self.store, self.counters):
            names = sorted({k for labels in sample.values for k, _ in labels})
            family: GaugeMetricFamily | CounterMetricFamily
            if sample.kind == "counter":
                family = CounterMetricFamily(sample.name, sample.help, labels=names)
            else:
                family = GaugeMetricFamily(sample.name, sample.help, labels=names)
            for labels, value in sample.values.items():
                family.add_metric([dict(labels)[n] for n in names], value)
            yield family


def exposition(store: Store, counters: Counters) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(store, counters))
    return generate_latest(registry)


def metric_values(store: Store, counters: Counters) -> dict[str, float]:
    """The same numbers, flat, for the ``metrics`` log line: ``name{label=value}`` keys, with
    counters named as Prometheus shows them (``_total``)."""
    flat: dict[str, float] = {}
    for sample in samples(store, counters):
        name = sample.name + ("_total" if sample.kind == "counter" else "")
        for labels, value in sample.values.items():
            suffix = ",".join(f"{k}={v}" for k, v in labels)
            flat[f"{name}{{{suffix}}}" if suffix else name] = value
    return flat
