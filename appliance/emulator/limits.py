"""Intuit's per-company limits, the emulator's latency, and faults injected on purpose.

Limits (FACTS §8, §5): 500 requests a minute and 10 at once per company and app, 120 batch calls a
minute. A request over a limit is answered 429 ThrottleExceeded and not counted. Windows use the
monotonic clock, so a test that drives the token clock does not reset them.

Faults are rules a test or benchmark adds while the emulator runs: "the next 3 requests to
/query answer an HTML 503", "one request in ten drops its connection", "stall 30 s once".
"""

from __future__ import annotations

import random
import time
from collections import defaultdict, deque
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

#: "drop" cuts the connection before QBO does anything; "drop_after" lets QBO do the work (a
#: write happens, its requestid is remembered) and cuts the answer: the case requestid is for.
#: "edited": another user saves the record a write names just before the write arrives (its
#: SyncToken goes up), so the write's SyncToken is stale and QBO answers 5010.
FAULT_KINDS: tuple[str, ...] = (
    "500", "502", "503_html", "drop", "drop_after", "stall", "429", "edited",
)  # fmt: skip


@dataclass
class Limits:
    requests_per_minute: int = 500
    concurrent: int = 10
    batch_per_minute: int = 120
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    throttle_format: Literal["xml", "json"] = "xml"
    enforce: bool = True

    def update(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            if key not in self.__dataclass_fields__:
                raise ValueError(f"unknown limit {key!r}")
            current = getattr(self, key)
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false")
            elif isinstance(current, (int, float)):
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ValueError(f"{key} must be a number >= 0")
                setattr(self, key, type(current)(value))
                continue
            elif key == "throttle_format" and value not in ("xml", "json"):
                raise ValueError("throttle_format must be xml or json")
            setattr(self, key, value)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FaultRule:
    kind: str
    count: int | None = 1  # how many requests it hits; None = until removed
    probability: float = 1.0
    path_contains: str = ""
    method: str = ""
    stall_seconds: float = 30.0
    id: int = 0
    hits: int = 0

    @classmethod
    def parse(cls, doc: Any, rule_id: int) -> FaultRule:
        if not isinstance(doc, dict):
            raise ValueError("a fault rule is a JSON object")
        unknown = set(doc) - {
            "kind",
            "count",
            "probability",
            "path_contains",
            "method",
            "stall_seconds",
        }
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        if doc.get("kind") not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        count = doc.get("count", 1)
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError("count must be a positive integer or null")
        probability = doc.get("probability", 1.0)
        if not isinstance(probability, (int, float)) or not 0 < probability <= 1:
            raise ValueError("probability must be in (0, 1]")
        return cls(
            kind=doc["kind"],
            count=count,
            probability=float(probability),
            path_contains=str(doc.get("path_contains", "")),
            method=str(doc.get("method", "")).upper(),
            stall_seconds=float(doc.get("stall_seconds", 30.0)),
            id=rule_id,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Stats:
    requests: int = 0
    throttled: int = 0
    faults_injected: int = 0
    peak_concurrency: int = 0
    writes: int = 0
    replays: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def to_json(self) -> dict[str, Any]:
        doc = {k: v for k, v in vars(self).items() if k != "by_status"}
        doc["by_status"] = dict(self.by_status)
        return doc


class Governor:
    """Admission for each API request: faults first, then the company's limits."""

    def __init__(self, limits: Limits | None = None, seed: int | None = None) -> None:
        self.limits = limits or Limits()
        self.rules: list[FaultRule] = []
        self._next_rule = 1
        self._random = random.Random(seed)  # noqa: S311 - picks faults to inject, not secrets
        self._in_flight: dict[str, int] = defaultdict(int)
        self._window: dict[str, deque[float]] = defaultdict(deque)
        self._batch_window: dict[str, deque[float]] = defaultdict(deque)
        self.stats = Stats()

    def add_rule(self, doc: Any) -> FaultRule:
        rule = FaultRule.parse(doc, self._next_rule)
        self._next_rule += 1
        self.rules.append(rule)
        return rule

    def clear_rules(self) -> None:
        self.rules.clear()

    def pick_fault(self, method: str, path: str) -> FaultRule | None:
        for rule in self.rules:
            if rule.path_contains and rule.path_contains not in path:
                continue
            if rule.method and rule.method != method:
                continue
            if rule.probability < 1 and self._random.random() >= rule.probability:
                continue
            rule.hits += 1
            if rule.count is not None:
                rule.count -= 1
                if rule.count <= 0:
                    self.rules.remove(rule)
            self.stats.faults_injected += 1
            return rule
        return None

    def latency(self) -> float:
        limits = self.limits
        if limits.latency_ms <= 0 and limits.latency_jitter_ms <= 0:
            return 0.0
        jitter = self._random.uniform(-1, 1) * limits.latency_jitter_ms
        return max(0.0, limits.latency_ms + jitter) / 1000

    def admit(self, realm: str, *, batch: bool) -> bool:
        """Count a request in; False means answer 429 (and it was not counted)."""
        limits = self.limits
        now = time.monotonic()
        window = self._window[realm]
        while window and window[0] <= now - 60:
            window.popleft()
        batches = self._batch_window[realm]
        while batches and batches[0] <= now - 60:
            batches.popleft()
        if limits.enforce and (
            self._in_flight[realm] >= limits.concurrent
            or len(window) >= limits.requests_per_minute
            or (batch and len(batches) >= limits.batch_per_minute)
        ):
            self.stats.throttled += 1
            return False
        window.append(now)
        if batch:
            batches.append(now)
        self._in_flight[realm] += 1
        self.stats.peak_concurrency = max(self.stats.peak_concurrency, self._in_flight[realm])
        return True

    def release(self, realm: str) -> None:
        self._in_flight[realm] -= 1
