"""The gateway in-process: health and readiness, problem+json everywhere, admin kept off TCP."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from appliance.config import Settings
from appliance.gateway.app import create_admin_app, create_app
from appliance.storage.keyring import Keyring, save_keyring
from appliance.storage.store import Store
from tests.harness.store import recent_audit

PROBLEM = "application/problem+json"


@pytest.fixture
def public(settings: Settings, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(settings, store)) as client:
        yield client


@pytest.fixture
def admin(settings: Settings, store: Store) -> Iterator[TestClient]:
    with TestClient(create_admin_app(settings, store)) as client:
        yield client


def test_healthz_and_readyz_answer_when_the_store_is_current(public: TestClient) -> None:
    assert public.get("/healthz").json() == {"status": "ok"}
    ready = public.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


def test_readyz_is_a_503_problem_naming_the_fix_when_the_schema_is_behind(
    settings: Settings,
) -> None:
    # A key but an empty database: as after an upgrade whose migrations have not run yet.
    settings.state_dir.mkdir(mode=0o700)
    save_keyring(settings.key_path, Keyring.generate(), create_only=True)
    store = Store.open(settings)
    try:
        with TestClient(create_app(settings, store)) as client:
            response = client.get("/readyz")
    finally:
        store.close()
    assert response.status_code == 503
    assert response.headers["content-type"].startswith(PROBLEM)
    assert "appliance migrate" in response.json()["detail"]


def test_an_unknown_path_is_a_404_problem(public: TestClient) -> None:
    response = public.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == 404
    assert body["title"]


def test_a_wrong_method_is_a_405_problem(public: TestClient) -> None:
    response = public.post("/healthz", content=b"{}")
    assert response.status_code == 405
    assert response.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/status"), ("POST", "/v1/keys/rotate")])
def test_admin_routes_do_not_exist_on_the_public_listener(
    public: TestClient, method: str, path: str
) -> None:
    response = public.request(method, path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)


def test_the_openapi_schema_is_published_and_lists_no_admin_route(public: TestClient) -> None:
    response = public.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/healthz" in paths
    assert "/readyz" in paths
    assert not any(path.startswith("/v1/") for path in paths)


SCHEMA_PAGES = [
    "/schema", "/schema/", "/schema/openapi.json", "/schema/openapi.yaml", "/schema/openapi.yml",
    "/schema/scalar", "/schema/swagger", "/schema/redoc", "/schema/elements", "/schema/rapidoc",
    "/schema/stoplight", "/schema/oauth2-redirect.html",
]  # fmt: skip
REMOTE_ASSET = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def test_nothing_under_schema_loads_a_script_or_style_from_another_site(
    public: TestClient,
) -> None:
    served = {}
    for path in SCHEMA_PAGES:
        response = public.get(path)
        assert response.status_code < 500, path
        if response.status_code == 200:
            served[path] = response
            assert not REMOTE_ASSET.search(response.text), f"{path} loads a remote asset"
            assert "<script" not in response.text.lower(), f"{path} is a page with a script"
    document = served["/schema/openapi.json"]
    assert document.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    assert document.json()["info"]["title"] == "JobRoutr QuickBooks Gateway"


@pytest.mark.parametrize(
    "path",
    ["/%00", "/" + "a" * 8000, "/..%2f..%2fetc/passwd", "/healthz/%ff%fe", "/readyz?x=%zz"],
)
def test_hostile_paths_never_give_a_server_error(public: TestClient, path: str) -> None:
    response = public.get(path)
    assert response.status_code < 500


def test_admin_status_reports_store_key_and_credentials(admin: TestClient, store_kind: str) -> None:
    response = admin.get("/v1/status")
    assert response.status_code == 200
    body = response.json()
    assert body["store"]["schema_current"] is True
    assert body["store"]["backend"] == {"sqlite": "sqlite", "postgres": "postgresql"}[store_kind]
    assert body["store"]["key_version"] == 1
    assert body["api_keys"] == 1
    assert body["webhook_secret_set"] is True
    assert body["connection"] is None
    assert body["qbo_environment"] == "emulator"
    assert body["queue"]["queued"] == 0


def test_admin_key_rotation_is_recorded_in_the_audit_log_with_the_operator(
    admin: TestClient, store: Store
) -> None:
    response = admin.post("/v1/keys/rotate", headers={"X-Appliance-Operator": "alice@cli"})
    assert response.status_code == 200
    assert response.json()["new_key_version"] == 2
    with store.session() as session:
        last = recent_audit(session, 1)[0]
    assert last.action == "key.rotated"
    assert last.actor == "unverified, says alice@cli"  # in-process: no socket, no uid
