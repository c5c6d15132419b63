"""The demo park (scripts/demo_park.py) loaded into a system started the way `make run` starts a new one
(genesis dated a year back, contracts deployed there, clock at wall-clock time), then read as a regulator
reads it: its firms, six months of transfers, and the park's verification failing on exactly the planted
cases."""

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from parties import Party, register

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import demo_park  # noqa: E402

pytestmark = pytest.mark.demo_park


@pytest.fixture(scope="module")
def system(demo_system: dict) -> dict:
    return demo_system


def block_time(rpc: str) -> datetime:
    block = httpx.post(
        rpc, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["latest", False]}
    ).json()["result"]
    return datetime.fromtimestamp(int(block["timestamp"], 16), UTC)


def test_the_regulator_sees_the_parks_firms_and_six_months_of_transfers(system):
    client, loaded = system["client"], system["loaded"]
    firms = client.get("/participants").json()
    in_park = {p["legal_name"] for p in firms if p["park"] == demo_park.PARK}
    assert len(in_park) == 15 and "Dinh Vu DAP Fertilizer JSC" in in_park
    transfers = client.get("/transfers", params={"park": demo_park.PARK, "limit": 500}).json()
    items = transfers["items"] if isinstance(transfers, dict) else transfers
    assert {t["id"] for t in items} >= set(loaded.transfers.values())
    dispatched = sorted(datetime.fromisoformat(t["dispatched_at"]) for t in items)
    assert dispatched[-1] - dispatched[0] > timedelta(days=150)
    assert dispatched[-1].replace(tzinfo=UTC) < datetime.now(UTC)
    co2 = client.get(f"/flows/{loaded.flows['co2']}/totals").json()
    assert co2["periods_anchored"] == 25 and co2["unit"] == "TNE" and co2["total"] > 25 * 680


def test_the_chain_ends_at_the_present_and_runs_on_wall_clock_time(system):
    client, rpc = system["client"], system["rpc"]
    assert abs(block_time(rpc) - datetime.now(UTC)) < timedelta(days=2)  # the last pipe periods, yesterday
    before = datetime.now(UTC)
    # A statement made after the demo is dated now.
    party = Party("late comer")
    prepared = client.post(
        "/participants/registrations/prepare",
        json={
            "regulator": system["regulator"].address,
            "participant": party.address,
            "roles": ["SHIPPER"],
            "legal_name": "Late Comer JSC",
            "enterprise_id": "0200999999",
            "park": "Elsewhere",
        },
    )
    assert (
        client.post("/participants", json=system["regulator"].signed_body(prepared.json())).status_code == 201
    )
    assert before - timedelta(seconds=5) <= block_time(rpc) <= datetime.now(UTC) + timedelta(seconds=5)


def test_the_chain_refused_the_revoked_carrier_and_the_expired_analysis(system):
    refusals, said = system["loaded"].refusals, "\n".join(system["said"])
    assert refusals["revoked licence"]["detail"][0]["type"] == "unlicensed_transporter"
    assert refusals["expired certificate"]["detail"][0]["type"] == "certificate_expired"
    assert "refused Bach Dang Trucking as carrier" in said and "revoked Bach Dang Trucking's licence" in said


def test_the_parks_verification_fails_on_exactly_the_planted_cases(system):
    client, loaded = system["client"], system["loaded"]
    report = client.get(f"/verification/parks/{demo_park.PARK}", params={"pack": "VN"})
    assert report.status_code == 200, report.text
    names = {f"transfer {tid}": name for name, tid in loaded.transfers.items()}
    failed: dict[str, set[str]] = {}
    for rule in report.json()["rules"]:
        for finding in rule["findings"]:
            if finding["verdict"] == "FAIL":
                failed.setdefault(names.get(finding["subject"], finding["subject"]), set()).add(rule["id"])
    assert failed == {
        "solvent-4": {"VN-HW-10"},
        "powder-5": {"VN-CLASS-02", "VN-CLASS-03", "VN-ICSW-02"},
    }
    assert {name: set(rules) for name, rules in loaded.planted.items()} == failed
    passed = {
        names.get(f["subject"])
        for rule in report.json()["rules"]
        if rule["id"] == "VN-ICSW-02"
        for f in rule["findings"]
        if f["verdict"] == "PASS"
    }
    assert {"slag-1", "slag-6", "powder-1", "powder-3"} <= passed


def test_loading_the_park_twice_is_refused_and_adds_nothing(system):
    client, loaded = system["client"], system["loaded"]
    before = len(client.get("/participants").json())
    accounts = demo_park.party_keys(Path(client.app.state.runtime.settings.data_dir) / "demo" / "keys")
    with pytest.raises(demo_park.DemoRefused, match="already on this ledger"):
        demo_park.load(client, system["rpc"], system["regulator"].account, accounts, say=lambda _l: None)
    assert len(client.get("/participants").json()) == before
    assert len(loaded.transfers) == 6 + 6 + 4 + 3


def test_a_chain_with_records_dated_today_cannot_take_the_parks_history(client, anvil, regulator, tmp_path):
    """The session's chain holds records dated now: a history dated months back is refused, nothing loaded."""
    register(client, regulator, Party("today's firm"), "SHIPPER", park="Tan Thuan")
    before = client.get("/participants").json()
    accounts = demo_park.party_keys(tmp_path / "keys", scrypt_n=2**4)
    with pytest.raises(demo_park.DemoRefused, match="its history cannot go back in time"):
        demo_park.load(client, anvil, regulator.account, accounts, say=lambda _l: None)
    assert client.get("/participants").json() == before
    assert block_time(anvil) > datetime.now(UTC) - timedelta(minutes=10)
