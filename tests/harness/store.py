"""Reading the appliance's store from a test, as the service would find it: open, read, close."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from appliance.config import Settings
from appliance.storage import credentials
from appliance.storage.store import Store


def webhook_secret(settings: Settings) -> str:
    store = Store.open(settings)
    try:
        with store.session() as session:
            secret = credentials.webhook_secret(session, store.vault)
    finally:
        store.close()
    assert secret is not None
    return secret


def queue_empty(settings: Settings) -> bool:
    store = Store.open(settings)
    try:
        queue = store.queue_info()
    finally:
        store.close()
    return queue.queued + queue.running + queue.waiting == 0


def stored(settings: Settings, model: type) -> list[Any]:
    store = Store.open(settings)
    try:
        with store.session() as session:
            return list(session.exec(select(model)).all())
    finally:
        store.close()
