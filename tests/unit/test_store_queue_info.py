"""Running jobs counted by the instance that holds them, from the jobs' lease owners."""

from __future__ import annotations

from appliance.storage.store import by_instance


def test_running_jobs_are_counted_by_instance() -> None:
    holders = [("gateway-a@7f1/0", 2), ("gateway-a@7f1/3", 1), ("host:12@9a/1", 4), (None, 1)]
    assert by_instance(holders) == {"gateway-a": 3, "host:12": 4, "?": 1}
