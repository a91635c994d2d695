"""The fault runs: long on purpose (the two kill -9 runs alone are close to half the suite's time).

Every test here is marked ``chaos``, so the fast loop leaves them out (``python3 tasks.py test
--fast``, or ``pytest -m "not chaos"``) while ``python3 tasks.py test`` and CI run them all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.chaos)
