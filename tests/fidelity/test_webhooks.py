"""Webhooks: Intuit's signature test vectors, and the emulator's bodies against Intuit's samples."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from appliance.emulator.webhooks import Change, cloudevents_body, legacy_bodies, sign
from tests.fidelity.recordings import sample_json
from tests.fidelity.shape import ENVELOPES, compare

VECTORS = "webhooks/intuit-signature_test_vectors.json"
LEGACY = [
    "webhooks/legacy_eventNotifications.java-sdk-test.json",
    "webhooks/legacy_eventNotifications.dotnet-sdk-test.json",
]
CLOUDEVENTS = "webhooks/cloudevents_batch.dotnet-sdk-test.json"
LEGACY_ENVELOPES = ENVELOPES | {
    "$.eventNotifications[]",
    "$.eventNotifications[].dataChangeEvent",
    "$.eventNotifications[].dataChangeEvent.entities[]",
}
#: Both recorded lastUpdated formats: "2015-10-05T14:42:19-0700", "2016-10-05T03:09:04.000Z".
LAST_UPDATED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?([+-]\d{4}|Z)$")


def _vectors(samples: Path) -> list[dict[str, str]]:
    vectors: list[dict[str, str]] = sample_json(samples, VECTORS)["vectors"]
    assert len(vectors) == 2
    return vectors


@pytest.mark.parametrize("index", [0, 1], ids=["java-sdk", "dotnet-sdk"])
def test_signature_matches_intuits_test_vector(samples: Path, index: int) -> None:
    vector = _vectors(samples)[index]
    body = vector["raw_body"].encode("utf-8")
    assert sign(vector["verifier_token"], body) == vector["intuit_signature"]


def test_signature_changes_with_the_token_and_the_body(samples: Path) -> None:
    vector = _vectors(samples)[0]
    body = vector["raw_body"].encode("utf-8")
    assert sign(vector["verifier_token"] + "x", body) != vector["intuit_signature"]
    assert sign(vector["verifier_token"], body + b" ") != vector["intuit_signature"]


def test_signed_vector_bodies_are_the_recorded_legacy_bodies(samples: Path) -> None:
    bodies = {v["raw_body"] for v in _vectors(samples)}
    for name in LEGACY:
        assert (samples / name).read_text(encoding="utf-8").strip() in bodies, name


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _legacy_changes(recorded: dict[str, Any]) -> list[Change]:
    return [
        Change(n["realmId"], e["name"], e["id"], e["operation"], _epoch(e["lastUpdated"]))
        for n in recorded["eventNotifications"]
        for e in n["dataChangeEvent"]["entities"]
    ]


@pytest.mark.parametrize("name", LEGACY, ids=["java-sdk", "dotnet-sdk"])
def test_legacy_body_has_the_recorded_shape(samples: Path, name: str) -> None:
    recorded = sample_json(samples, name)
    changes = _legacy_changes(recorded)
    (body,) = legacy_bodies(changes)  # one realm in each recording: one body
    assert compare(recorded, body, envelopes=LEGACY_ENVELOPES) == []
    entities = body["eventNotifications"][0]["dataChangeEvent"]["entities"]
    recorded_entities = recorded["eventNotifications"][0]["dataChangeEvent"]["entities"]
    assert [(e["name"], e["id"], e["operation"]) for e in entities] == [
        (e["name"], e["id"], e["operation"]) for e in recorded_entities
    ]
    assert all(LAST_UPDATED.match(e["lastUpdated"]) for e in recorded_entities)


@pytest.mark.parametrize(
    "moment",
    [
        pytest.param("2025-07-15T12:00:00+00:00", id="summer"),
        pytest.param("2026-01-15T12:00:00+00:00", id="winter"),
    ],
)
def test_legacy_last_updated_uses_a_recorded_timestamp_format(moment: str) -> None:
    (body,) = legacy_bodies([Change("1185883450", "Customer", "1", "Create", _epoch(moment))])
    (entity,) = body["eventNotifications"][0]["dataChangeEvent"]["entities"]
    assert LAST_UPDATED.match(entity["lastUpdated"]), entity["lastUpdated"]


#: The .NET SDK's CloudEvents sample carries data.alternative_ids (ids in Intuit's v4
#: namespace); Intuit's own blog sample of the same format has "data": {} (FACTS §7, WHCE).
CLOUDEVENTS_DATA = {"data.alternative_ids": "absent from Intuit's blog sample (data: {})"}


def test_cloudevents_body_has_the_recorded_shape_and_type(samples: Path) -> None:
    recorded = sample_json(samples, CLOUDEVENTS)
    assert isinstance(recorded, list)
    (event,) = recorded
    _, entity, verb, _ = event["type"].split(".")
    assert verb == "created"
    at = _epoch(event["time"][:26] + "Z")  # nanoseconds cut to what datetime holds
    change = Change(event["intuitaccountid"], entity.title(), event["intuitentityid"], "Create", at)
    body = cloudevents_body([change])
    assert compare(recorded, body, allowed_missing=CLOUDEVENTS_DATA) == []
    (emulated,) = body
    for key in ("specversion", "type", "intuitentityid", "intuitaccountid"):
        assert emulated[key] == event[key], key
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$", emulated["time"])
    assert emulated["id"] != event["id"]  # a fresh event id each time (receivers dedupe on it)
