"""The change feed never takes the appliance's own write for the bookkeeper's, even when the push
job that wrote the invoice ends while the feed is reading what the store holds.

The feed asks QuickBooks first, then reads the store: the links' figures (what the appliance last
wrote and read back) and which records are being written now (deferred to the next poll). Found in
a full test run: a job ending between those two reads left the old figures and no running job, so
the invoice's new total was reported at GET /api/v1/changes as the bookkeeper's change.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from appliance.core.states import JobState
from appliance.storage import changes
from appliance.storage.models import Company, Job, Link
from appliance.storage.store import Store

REALM = "9130350000000000"
KEY = "invoice:inv_1"


def setup_running_update(store: Store) -> None:
    with Session(store.engine) as session:
        session.add(Company(realm_id=REALM, environment="sandbox"))
        session.add(
            Link(realm_id=REALM, kind="invoice", jobroutr_id="inv_1", qbo_id="9",
                 figures={"total": "217.50", "sync_token": "0"})
        )  # fmt: skip
        session.add(Job(realm_id=REALM, kind="invoice.updated", record_key=KEY,
                        state=JobState.RUNNING, attempts=1))  # fmt: skip
        session.commit()


def finish_the_update(store: Store) -> None:
    """What the push's outcome commits: the figures read back, the job done."""
    with Session(store.engine) as session:
        link = session.exec(select(Link).where(Link.jobroutr_id == "inv_1")).one()
        link.figures = {"total": "249.75", "sync_token": "1"}
        session.add(link)
        job = session.exec(select(Job).where(Job.record_key == KEY)).one()
        job.state = JobState.DONE
        session.add(job)
        session.commit()


def test_a_job_ending_while_the_feed_reads_leaves_it_busy_or_its_new_figures(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_running_update(store)
    real_links = changes._links
    ended: list[bool] = []

    def links_then_the_job_ends(*args: Any, **kwargs: Any) -> Any:
        found = real_links(*args, **kwargs)
        if not ended:  # the outcome commits just after the links were read
            finish_the_update(store)
            ended.append(True)
        return found

    def job_ends_then_links(*args: Any, **kwargs: Any) -> Any:
        if not ended:  # or just before
            finish_the_update(store)
            ended.append(True)
        return real_links(*args, **kwargs)

    for interleaving in (links_then_the_job_ends, job_ends_then_links):
        ended.clear()
        with Session(store.engine) as session:
            for job in session.exec(select(Job)).all():
                job.state = JobState.RUNNING
                session.add(job)
            link = session.exec(select(Link)).one()
            link.figures = {"total": "217.50", "sync_token": "0"}
            session.add(link)
            session.commit()
        monkeypatch.setattr(changes, "_links", interleaving)
        held = changes.held(store.engine, REALM, invoices=["9"], payments=[], customers=[])
        _, figures = held.invoices["9"]
        assert KEY in held.busy or figures["total"] == "249.75", (
            f"{interleaving.__name__}: the old figures and no running job: the appliance's own "
            "write would be reported as the bookkeeper's"
        )
