"""Moved to ``tests.harness.store``: this module only keeps the old import path working for code
written before the move. New code imports from ``tests.harness.store``."""

from tests.harness.store import recent_audit, remember_request_id

__all__ = ["recent_audit", "remember_request_id"]
