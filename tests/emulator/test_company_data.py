"""The emulator's companies: a realistic seed, large generated books, and state that persists."""

from __future__ import annotations

from pathlib import Path

import httpx

from appliance.emulator.app import EmulatorConfig
from tests.harness.emulator import RunningEmulator


def test_paging_ten_thousand_generated_customers_returns_each_active_one_once() -> None:
    with RunningEmulator(EmulatorConfig(customers=10_000)) as emulator, emulator.api() as api:
        company = emulator.service.companies[emulator.realm]
        active = {c["Id"] for c in company.rows("Customer") if c["Active"]}
        assert len(company.rows("Customer")) > 10_000 > len(active) > 9_000
        count = api.get("/query", params={"query": "SELECT COUNT(*) FROM Customer"}).json()
        assert count["QueryResponse"]["totalCount"] == len(active)
        seen: list[str] = []
        start = 1
        while True:
            page = api.get(
                "/query",
                params={"query": f"SELECT * FROM Customer STARTPOSITION {start} MAXRESULTS 1000"},
            ).json()["QueryResponse"]
            if not page:
                break
            seen += [c["Id"] for c in page["Customer"]]
            start += 1000
    assert len(seen) == len(set(seen))
    assert set(seen) == active


def test_the_state_file_keeps_companies_and_tokens_across_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "emulator.json"
    config = EmulatorConfig(state_file=state)
    with RunningEmulator(config) as emulator:
        token = emulator.token()
        with emulator.api(token) as api:
            created = api.post("/customer", json={"DisplayName": "Survivor"}).json()["Customer"]
    assert state.stat().st_mode & 0o777 == 0o600
    with RunningEmulator(EmulatorConfig(state_file=state)) as again, again.api(token) as api:
        read = api.get(f"/customer/{created['Id']}")
        assert read.status_code == 200
        assert read.json()["Customer"]["DisplayName"] == "Survivor"
        second = api.post("/customer", json={"DisplayName": "Newcomer"}).json()["Customer"]
        assert int(second["Id"]) == int(created["Id"]) + 1


def test_the_seed_looks_like_the_sandbox_company(emulator: RunningEmulator) -> None:
    with emulator.api() as api:
        items = api.get("/query", params={"query": "SELECT * FROM Item MAXRESULTS 1000"}).json()
        names = {item["Name"] for item in items["QueryResponse"]["Item"]}
        info = api.get(f"/companyinfo/{emulator.realm}").json()["CompanyInfo"]
    assert {"Design", "Installation", "Pump", "Rock Fountain"} <= names
    assert info["CompanyName"]
    companies = httpx.get(emulator.url + "/_emulator/companies").json()
    assert len(companies) == 2


def test_a_refresh_asking_for_the_hard_expiry_after_a_restart_gets_new_tokens(
    tmp_path: Path,
) -> None:
    state = tmp_path / "emulator.json"
    with RunningEmulator(EmulatorConfig(state_file=state)) as emulator:
        minted = httpx.post(
            emulator.url + "/_emulator/tokens", json={"realm_id": emulator.realm}
        ).json()
        hard_before = minted["x_refresh_token_hard_expires_in"]
    with RunningEmulator(EmulatorConfig(state_file=state)) as again:
        response = httpx.post(
            again.url + "/oauth2/v1/tokens/bearer",
            data={"grant_type": "refresh_token", "refresh_token": minted["refresh_token"]},
            auth=(again.config.client_id, again.config.client_secret),
            headers={"x-include-refresh-token-hard-expires-in": "true"},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    # Intuit's shape (FACTS §1): whole seconds, the hard expiry counting down, never extended.
    assert isinstance(body["x_refresh_token_hard_expires_in"], int)
    assert isinstance(body["x_refresh_token_expires_in"], int)
    assert 0 < body["x_refresh_token_hard_expires_in"] <= hard_before
