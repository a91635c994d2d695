"""The push workers: each claims a job (one at a time per JobRoutr record, in the order
received), keeps its lease alive with heartbeats while it works, runs the record kind's push (found
by the event's type in the registry), and records the outcome the ``Settler`` decided with its
fence, so a worker that lost its lease changes nothing."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from appliance.core.activity import (
    PUSH_DONE,
    PUSH_FAILED,
    PUSH_MISMATCH,
    PUSH_RETRIED,
    PUSH_REVIEW,
    Activity,
)
from appliance.core.states import JobState
from appliance.logging import get_logger
from appliance.qbo.client import QboClient
from appliance.storage import push as jobs
from appliance.storage import queue
from appliance.storage.health import trouble
from appliance.storage.outcomes import (
    Done,
    Failed,
    Failure,
    JobOutcome,
    Mismatch,
    RetryLater,
    Waiting,
)
from appliance.storage.store import Store
from appliance.storage.types import utcnow
from appliance.sync.push.job import PushConfig, PushJob
from appliance.sync.push.lookahead import Absent, Lookup
from appliance.sync.push.outcome import LeaseLost, Settler, not_connected
from appliance.sync.push.registry import BY_EVENT

log = get_logger(__name__)
#: What the activity counters count of each outcome.
COUNTED = {
    JobState.DONE: PUSH_DONE,
    JobState.MISMATCH: PUSH_MISMATCH,
    JobState.REVIEW: PUSH_REVIEW,
    JobState.FAILED: PUSH_FAILED,
    JobState.QUEUED: PUSH_RETRIED,
}


class Pusher:
    """The push workers of one service process."""

    def __init__(
        self,
        store: Store,
        qbo: QboClient,
        config: PushConfig | None = None,
        activity: Activity | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.qbo = qbo
        self.config = config or PushConfig()
        self.activity = activity or Activity()
        self.clock = clock
        # "<instance>@<pusher>/<worker>": `appliance status` counts running jobs by instance.
        instance = self.config.instance or f"{socket.gethostname()}:{os.getpid()}"
        self.owner = f"{instance}@{id(self):x}"[:64]
        self.settler = Settler(self.config, store.health, monotonic)
        self.lookup = Lookup(store, qbo)
        self._tasks: list[asyncio.Task[None]] = []
        self._idle: list[asyncio.Event] = []  # one per worker waiting for work, latest last
        self._missed = False

    @property
    def absent(self) -> Absent:
        """The names QuickBooks was just asked about and had no record of."""
        return self.lookup.absent

    # Running ----------------------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for number in range(self.config.workers):
            self._tasks.append(loop.create_task(self._worker(number), name=f"push-{number}"))
        # A connect wakes the events waiting for one; a service stopped between the two would
        # leave them parked until their recheck. Every start looks again.
        self._tasks.append(loop.create_task(self.nudge("connection"), name="push-wake"))

    def wake(self) -> None:
        """New work is queued (an event arrived, a setting changed): an idle worker looks now.
        One, not all: a worker that finds a job wakes the next, so a backlog gets every worker
        and a single event does not make each of them query the queue."""
        if self._idle:
            self._idle.pop().set()
        else:
            self._missed = True  # every worker is busy: the next to finish looks again

    async def nudge(self, token: str | None = None) -> None:
        """What waiting jobs may need has changed (``connection``, ``settings:accounts``; None:
        anything): the jobs waiting on it look again now."""
        await asyncio.to_thread(jobs.wake_waiting, self.store.engine, token)
        self.wake()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _worker(self, number: int) -> None:
        owner = f"{self.owner}/{number}"[:64]
        while True:
            try:
                found = await self.run_one(owner)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The store is unreachable or similar: say so, wait, go on (never die silently).
                # A full disk or a damaged store is the store's health to log, about once a
                # minute, not a traceback per worker and poll.
                if (kind := trouble(exc)) is not None:
                    self.store.health.failed(kind, exc)
                else:
                    log.exception("push.worker_error", worker=number)
                found = False
                await asyncio.sleep(self.config.idle_poll * 5)
            if found:
                self.wake()
                continue
            if self._missed:
                self._missed = False
                continue
            await self._idle_wait()

    async def _idle_wait(self) -> None:
        """Until woken, or ``idle_poll`` seconds. ``asyncio.wait``, not ``wait_for``: Python
        3.11's ``wait_for`` drops a cancellation that arrives as the wait ends (a wake and
        ``aclose`` at once), and the worker would then never stop."""
        woken = asyncio.Event()
        self._idle.append(woken)
        waiter = asyncio.ensure_future(woken.wait())
        try:
            await asyncio.wait({waiter}, timeout=self.config.idle_poll)
        finally:
            waiter.cancel()
            if woken in self._idle:
                self._idle.remove(woken)

    async def run_one(self, owner: str | None = None) -> bool:
        """Claim and run one job; False when there was nothing to do."""
        claim = await asyncio.to_thread(
            queue.claim, self.store.engine, owner or self.owner, self.config.lease
        )
        if claim is None:
            return False
        self.store.health.worked()  # the claim wrote its lease: the disk takes writes
        await self._run(claim)
        return True

    async def _run(self, claim: queue.Claim) -> None:
        engine = self.store.engine
        work = await asyncio.to_thread(jobs.load, engine, claim)
        if work is None:
            missing = Failure("internal", "The job's event is missing from the store.")
            await asyncio.to_thread(jobs.complete, engine, claim, Failed(missing))
            return
        task = asyncio.ensure_future(self._apply(work))
        beat = asyncio.ensure_future(self._heartbeat(claim, task))
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            # The service is stopping: hand the job back at once, so the next start (or another
            # process) takes it up without waiting for the lease to run out. A write in flight
            # is answered again by requestid.
            task.cancel()
            handed_back = RetryLater(self.clock())
            await asyncio.shield(asyncio.to_thread(jobs.complete, engine, claim, handed_back))
            raise
        finally:
            beat.cancel()
            if not task.done():
                task.cancel()
        if task.cancelled():
            log.warning("push.lease_lost", job_id=claim.job_id, event_id=claim.event_id)
            return
        outcome = task.result()
        if outcome is None:
            return
        if not await asyncio.to_thread(jobs.complete, engine, claim, outcome):
            log.warning("push.lease_lost", job_id=claim.job_id, event_id=claim.event_id)
            return
        await self._after(outcome)

    async def _after(self, outcome: JobOutcome) -> None:
        """What follows a recorded outcome: the never-connected backlog parked with it, the
        activity counted, and an idle worker woken for what a new link may let go."""
        if (
            isinstance(outcome, Waiting)
            and outcome.realm_id is None
            and outcome.waits_on == ("connection",)
        ):
            # Never connected: the rest of the queue waits too, in one statement.
            await asyncio.to_thread(
                jobs.park_unconnected,
                self.store.engine,
                waiting_for=outcome.waiting_for,
                until=outcome.run_after,
            )
        if (counted := COUNTED.get(outcome.state)) is not None:
            self.activity.add(counted)
        if isinstance(outcome, (Done, Mismatch)) and outcome.link is not None:
            self.wake()  # an invoice may have been waiting for this record (complete woke it)

    async def _heartbeat(self, claim: queue.Claim, task: asyncio.Future[Any]) -> None:
        interval = self.config.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            alive = await asyncio.to_thread(
                queue.heartbeat, self.store.engine, claim.job_id, claim.fence, self.config.lease
            )
            if not alive:
                task.cancel()
                return

    # One job ----------------------------------------------------------------------------------

    async def _apply(self, work: jobs.Work) -> JobOutcome | None:
        """Run the event's kind's push and settle what happened; None: the lease was lost."""
        now = self.clock()
        realm = work.realm_id or await asyncio.to_thread(self._current_realm)
        if realm is None:
            return not_connected(now)
        spec = BY_EVENT.get(work.event_type)
        if spec is None:
            return Failed(Failure("unknown-type", "No handler for the type."))
        job = PushJob(
            work, realm, store=self.store, qbo=self.qbo, config=self.config, lookup=self.lookup
        )
        try:
            written = await spec.push(job)
        except LeaseLost:
            return None
        except Exception as exc:
            return self.settler.failed(work, realm, exc, now)
        return self.settler.done(work, realm, written)

    def _current_realm(self) -> str | None:
        info = self.store.connection_info()
        return info.realm_id if info is not None else None
