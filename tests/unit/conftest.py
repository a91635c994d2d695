"""Fixtures for the unit tests: pure functions need none; these are for the store's own rules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from appliance.config import Settings
from appliance.storage.store import Store, initialize


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """A store initialised as `appliance init` leaves it, open; closed when the test ends."""
    initialize(settings, actor="test")
    opened = Store.open(settings)
    yield opened
    opened.close()
