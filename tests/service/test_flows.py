"""Metered flows through the API: registered by supplier and offtaker together, then anchored in batches of
periods, each period signed by both (compact ERC-2098 or 65-byte signatures)."""

import json
import time
from datetime import UTC, datetime

import pytest
import served
from eth_account import Account
from parties import Party, register
from typer.testing import CliRunner
from workflows import signed_flow

from ledger_service.cli import app as cli_app
from ledger_service.statements import compact_signature

runner = CliRunner()
api_url = served.api_url  # the service over HTTP, for the CLI

HOUR = 3600
ENDED = 40  # hours of the flow's grid that have ended when it is registered
METER = "0x" + "4e" * 32


@pytest.fixture
def parties(client, regulator) -> tuple[Party, Party]:
    supplier, offtaker = Party("steam supplier"), Party("steam offtaker")
    register(client, regulator, supplier, "SHIPPER")
    register(client, regulator, offtaker, "RECEIVER")
    return supplier, offtaker


def flow_terms(supplier: Party, offtaker: Party, **overrides) -> dict:
    start = (int(time.time()) // HOUR - ENDED) * HOUR
    return {
        "supplier": supplier.address,
        "offtaker": offtaker.address,
        "medium": "steam",
        "unit": "TNE",
        "meter_id": METER,
        "period_seconds": HOUR,
        "first_period_start": datetime.fromtimestamp(start, UTC).isoformat(),
        **overrides,
    }


def register_flow(client, supplier: Party, offtaker: Party, **overrides) -> dict:
    return signed_flow(client, supplier, offtaker, flow_terms(supplier, offtaker, **overrides))


def reading(period: int) -> str:
    return "0x" + f"{period:064x}"


def signed_periods(
    client, flow: dict, supplier: Party, offtaker: Party, quantities, first=None, compact=True
):
    terms = {"periods": [{"quantity": q, "reading_hash": reading(i)} for i, q in enumerate(quantities)]}
    if first is not None:
        terms["first_period"] = first
    prepared = client.post(f"/flows/{flow['id']}/periods/prepare", json=terms)
    assert prepared.status_code == 200, prepared.text
    prepared = prepared.json()
    assert prepared["signers"] == [supplier.address, offtaker.address]
    periods = []
    for item, q in zip(prepared["periods"], quantities, strict=True):
        supplier_sig, offtaker_sig = supplier.sign(item["typed_data"]), offtaker.sign(item["typed_data"])
        if compact:  # the supplier's travels compact, the offtaker's as its wallet gave it (65 bytes)
            supplier_sig = "0x" + "".join(h[2:] for h in compact_signature(bytes.fromhex(supplier_sig[2:])))
        periods.append(
            {
                "quantity": q,
                "reading_hash": item["typed_data"]["message"]["readingHash"],
                "supplier_signature": supplier_sig,
                "offtaker_signature": offtaker_sig,
            }
        )
    return {"first_period": prepared["first_period"], "periods": periods}


def test_both_parties_register_a_flow(client, parties):
    supplier, offtaker = parties
    prepared = client.post("/flows/prepare", json=flow_terms(supplier, offtaker)).json()
    deployment = client.get("/deployment").json()
    assert prepared["typed_data"]["domain"]["name"] == "SymbiosisMeteredFlows"
    assert prepared["typed_data"]["domain"]["verifyingContract"] == deployment["metered_flows"]["address"]
    assert prepared["signers"] == [supplier.address, offtaker.address]
    typed = prepared["typed_data"]
    body = {
        "message": typed["message"],
        "supplier_signature": supplier.sign(typed),
        "offtaker_signature": offtaker.sign(typed),
    }
    flow = client.post("/flows", json=body).json()
    assert flow["id"] == prepared["digest"]
    assert (flow["supplier"], flow["offtaker"], flow["medium"], flow["unit"]) == (
        supplier.address,
        offtaker.address,
        "steam",
        "TNE",
    )
    assert (flow["period_seconds"], flow["next_period"], flow["periods"]) == (HOUR, 0, [])
    assert flow["evidence"][0]["event"] == "FlowRegistered"
    again = client.post("/flows", json=body)  # the same signed registration is the same submission
    assert again.status_code in (200, 201) and again.json()["id"] == flow["id"]


def test_registration_needs_both_signatures(client, regulator, parties):
    supplier, offtaker = parties
    typed = client.post("/flows/prepare", json=flow_terms(supplier, offtaker)).json()["typed_data"]
    stranger = Party("stranger")
    body = {
        "message": typed["message"],
        "supplier_signature": supplier.sign(typed),
        "offtaker_signature": stranger.sign(typed),
    }
    response = client.post("/flows", json=body)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "offtaker_signature"]
    assert f"offtaker {offtaker.address}" in error["msg"] and f"signed by {stranger.address}" in error["msg"]

    not_receiver = Party("not a receiver")
    register(client, regulator, not_receiver, "SHIPPER")
    refused = client.post("/flows/prepare", json=flow_terms(supplier, not_receiver))
    assert refused.status_code == 422 and refused.json()["detail"][0]["type"] == "missing_role"
    itself = client.post("/flows/prepare", json=flow_terms(supplier, supplier))
    assert itself.status_code == 422 and itself.json()["detail"][0]["loc"] == ["body", "offtaker"]
    unit = client.post("/flows/prepare", json=flow_terms(supplier, offtaker, unit="BAR"))
    assert unit.status_code == 422 and "unit" in unit.json()["detail"][0]["loc"]


def test_thirty_periods_anchored_in_one_transaction(client, settings, parties):
    supplier, offtaker = parties
    flow = register_flow(client, supplier, offtaker)
    quantities = [41_000 + i * 7 for i in range(30)]
    quantities[3] = 0  # the pipe was shut for an hour
    batch = signed_periods(client, flow, supplier, offtaker, quantities)
    response = client.post(f"/flows/{flow['id']}/periods", json=batch)
    assert response.status_code == 201, response.text
    anchored = response.json()
    assert anchored["next_period"] == 30
    assert [p["quantity"] for p in anchored["periods"]] == quantities
    assert len({p["anchored_tx"] for p in anchored["periods"]}) == 1  # one transaction for the batch

    start = datetime.fromisoformat(flow["first_period_start"])
    period_7 = client.get(f"/flows/{flow['id']}", params={"from_period": 7, "to_period": 7}).json()["periods"]
    assert [(p["period"], p["reading_hash"]) for p in period_7] == [(7, reading(7))]
    assert datetime.fromisoformat(period_7[0]["start"]) == start.fromtimestamp(
        start.timestamp() + 7 * HOUR, UTC
    )
    assert datetime.fromisoformat(period_7[0]["end"]) == start.fromtimestamp(
        start.timestamp() + 8 * HOUR, UTC
    )

    totals = client.get(f"/flows/{flow['id']}/totals", params={"from_period": 10, "to_period": 34}).json()
    assert totals["total"] == sum(quantities[10:30])
    assert (totals["periods_anchored"], totals["periods_missing"], totals["unit"]) == (20, 5, "TNE")
    assert client.get(f"/flows/{flow['id']}/totals").json()["total"] == sum(quantities)

    # The next batch continues where this one stopped; the same periods again are out of order.
    replay = signed_periods(client, flow, supplier, offtaker, [1], first=0)
    refused = client.post(f"/flows/{flow['id']}/periods", json=replay)
    assert refused.status_code == 409, refused.text
    (error,) = refused.json()["detail"]
    assert error["type"] == "period_out_of_order" and "next period is 30, not 0" in error["msg"]
    more = client.post(
        f"/flows/{flow['id']}/periods",
        json=signed_periods(client, flow, supplier, offtaker, [5, 6], compact=False),
    )
    assert more.status_code == 201, more.text
    assert [p["period"] for p in more.json()["periods"]] == [30, 31]


def test_a_period_that_has_not_ended_is_refused(client, parties):
    supplier, offtaker = parties
    flow = register_flow(client, supplier, offtaker)
    batch = signed_periods(client, flow, supplier, offtaker, [1] * (ENDED + 1))
    response = client.post(f"/flows/{flow['id']}/periods", json=batch)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["type"] == "period_not_ended" and f"period {ENDED} ends at" in error["msg"]
    assert error["loc"] == ["body", "periods", ENDED]
    assert client.get(f"/flows/{flow['id']}").json()["next_period"] == 0  # the whole batch is refused


def test_a_period_signed_for_another_quantity_is_refused(client, parties):
    supplier, offtaker = parties
    flow = register_flow(client, supplier, offtaker)
    batch = signed_periods(client, flow, supplier, offtaker, [10, 20, 30])
    batch["periods"][2]["quantity"] = 31  # both signed 30
    response = client.post(f"/flows/{flow['id']}/periods", json=batch)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["type"] == "invalid_period_signature"
    assert error["loc"] == ["body", "periods", 2, "supplier_signature"] and "period 2" in error["msg"]

    batch = signed_periods(client, flow, supplier, offtaker, [10, 20, 30])
    other = Account.create()
    forged = Account.sign_typed_data(other.key, full_message=_typed(client, flow, 1, 20)).signature
    batch["periods"][1]["offtaker_signature"] = "0x" + bytes(forged).hex()
    response = client.post(f"/flows/{flow['id']}/periods", json=batch)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == [
        "body",
        "periods",
        1,
        "offtaker_signature",
    ]
    malformed = dict(batch, periods=[dict(batch["periods"][0], supplier_signature="0x" + "ab" * 63)])
    assert client.post(f"/flows/{flow['id']}/periods", json=malformed).status_code == 422


def test_unknown_flow(client):
    unknown = "0x" + "5f" * 32
    assert client.get(f"/flows/{unknown}").status_code == 404
    response = client.post(
        f"/flows/{unknown}/periods/prepare", json={"periods": [{"quantity": 1, "reading_hash": reading(0)}]}
    )
    assert response.status_code == 404 and response.json()["detail"][0]["type"] == "unknown_flow"


def _typed(client, flow: dict, period: int, quantity: int) -> dict:
    prepared = client.post(
        f"/flows/{flow['id']}/periods/prepare",
        json={"first_period": period, "periods": [{"quantity": quantity, "reading_hash": reading(0)}]},
    ).json()
    return prepared["periods"][0]["typed_data"]


def _keystore(tmp_path, party: Party) -> list[str]:
    keystore, password = tmp_path / f"{party.address}.json", tmp_path / f"{party.address}.pw"
    password.write_text("pw\n")
    keystore.write_text(json.dumps(Account.encrypt(party.account.key, "pw")))
    return [str(keystore), str(password)]


def _cli_flow(api_url, tmp_path, supplier, offtaker) -> str:
    """Registers a flow through the CLI the way two firms would: the supplier prepares, the offtaker signs
    the prepared file on its own machine, the supplier adds that signature and submits."""
    meter = tmp_path / "meter.txt"
    meter.write_text("meter FT-2041 serial 7731-A, calibrated 2025-01-10")
    start = datetime.fromtimestamp((int(time.time()) // HOUR - ENDED) * HOUR, UTC)
    prepared = tmp_path / "flow.json"
    keystore, password = _keystore(tmp_path, offtaker)
    result = runner.invoke(
        cli_app,
        ["flow", "prepare", "--api", api_url, "--supplier", supplier.address, "--offtaker", offtaker.address,
         "--medium", "CO2", "--unit", "TNE", "--meter", str(meter), "--period-seconds", str(HOUR),
         "--first-period-start", start.strftime("%Y-%m-%dT%H:%M:%S"), "-o", str(prepared),
         "-k", keystore, "--password-file", password],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    signature = tmp_path / "offtaker-signature.json"
    result = runner.invoke(
        cli_app,
        ["flow", "sign", str(prepared), "-k", keystore, "--password-file", password, "-o", str(signature)],
    )
    assert result.exit_code == 0, result.output
    keystore, password = _keystore(tmp_path, supplier)
    result = runner.invoke(
        cli_app,
        ["flow", "register", str(prepared), "--api", api_url, "-k", keystore, "--password-file", password,
         "--counterparty-signature", str(signature)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    flow = json.loads(result.output)
    assert (flow["medium"], flow["first_period_start"]) == ("CO2", start.isoformat().replace("+00:00", "Z"))
    return flow["id"]


def test_cli_flow_register_with_a_signature_file_and_with_two_keystores(client, api_url, tmp_path, parties):
    supplier, offtaker = parties
    flow_id = _cli_flow(api_url, tmp_path, supplier, offtaker)
    assert client.get(f"/flows/{flow_id}").json()["supplier"] == supplier.address

    prepared = client.post("/flows/prepare", json=flow_terms(supplier, offtaker, medium="steam")).json()
    (tmp_path / "steam.json").write_text(json.dumps(prepared))
    offtaker_keystore, offtaker_password = _keystore(tmp_path, offtaker)
    supplier_keystore, supplier_password = _keystore(tmp_path, supplier)
    result = runner.invoke(
        cli_app,
        ["flow", "register", str(tmp_path / "steam.json"), "--api", api_url, "-k", offtaker_keystore,
         "--password-file", offtaker_password, "--counterparty-keystore", supplier_keystore,
         "--counterparty-password-file", supplier_password],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["id"] == prepared["digest"]

    stranger = Party("stranger")
    keystore, password = _keystore(tmp_path, stranger)
    refused = runner.invoke(
        cli_app, ["flow", "sign", str(tmp_path / "steam.json"), "-k", keystore, "--password-file", password]
    )
    assert refused.exit_code == 1 and "is neither supplier" in refused.output


def test_cli_flow_anchor_from_a_csv(client, api_url, tmp_path, parties):
    supplier, offtaker = parties
    flow_id = _cli_flow(api_url, tmp_path, supplier, offtaker)
    rows = [(p, 500 + p, reading(p)) for p in range(30)]
    periods = tmp_path / "periods.csv"
    periods.write_text("period,quantity,reading_hash\n" + "".join(f"{p},{q},{h}\n" for p, q, h in rows[:20]))
    supplier_keystore, supplier_password = _keystore(tmp_path, supplier)
    offtaker_keystore, offtaker_password = _keystore(tmp_path, offtaker)
    result = runner.invoke(
        cli_app,
        ["flow", "anchor", flow_id, "--csv", str(periods), "--api", api_url, "-k", supplier_keystore,
         "--password-file", supplier_password, "--counterparty-keystore", offtaker_keystore,
         "--counterparty-password-file", offtaker_password],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["next_period"] == 20

    # The rest signed on two machines: the offtaker signs only, the supplier adds those signatures.
    periods.write_text("".join(f"{p},{q},{h}\n" for p, q, h in rows[20:]))
    theirs = tmp_path / "offtaker-periods.json"
    result = runner.invoke(
        cli_app,
        ["flow", "anchor", flow_id, "--csv", str(periods), "--api", api_url, "-k", offtaker_keystore,
         "--password-file", offtaker_password, "--sign-only", "-o", str(theirs)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        cli_app,
        ["flow", "anchor", flow_id, "--csv", str(periods), "--api", api_url, "-k", supplier_keystore,
         "--password-file", supplier_password, "--counterparty-signatures", str(theirs)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    totals = client.get(f"/flows/{flow_id}/totals").json()
    assert (totals["periods_anchored"], totals["total"]) == (30, sum(q for _, q, _ in rows))

    periods.write_text("30,1,0x12\n")
    bad = runner.invoke(
        cli_app,
        ["flow", "anchor", flow_id, "--csv", str(periods), "--api", api_url, "-k", supplier_keystore,
         "--password-file", supplier_password],
    )  # fmt: skip
    assert bad.exit_code == 1 and "reading_hash" in bad.output


def test_a_deployment_record_from_before_the_modules_is_completed(tmp_path, settings, monkeypatch):
    from ledger_service import devstack
    from ledger_service.chain.gateway import ChainGateway
    from ledger_service.deployment import Deployment
    from ledger_service.keystore import load_account, read_password_file
    from ledger_service.settings import Settings

    # A data directory of its own: its own relayer key (the running service's nonces stay its own) and record.
    local = Settings(data_dir=tmp_path, rpc_url=settings.rpc_url)
    first = devstack.ensure_deployment(local, say=lambda _line: None)
    record = local.resolved_deployment_file
    raw = json.loads(record.read_text())
    assert raw["processing"]["address"] != raw["metered_flows"]["address"]
    old = {k: v for k, v in raw.items() if k not in ("processing", "metered_flows")}
    record.write_text(json.dumps(old))

    relayer = load_account(
        local.resolved_relayer_keystore, read_password_file(local.resolved_relayer_password_file)
    )
    gateway = ChainGateway(local.rpc_url, local.artifacts_dir, relayer=relayer)
    with pytest.raises(RuntimeError, match="names no processing or metered-flows module"):
        gateway.bind(Deployment.load(record))

    said: list[str] = []
    completed = devstack.ensure_deployment(local, say=said.append)
    assert completed.ledger == first.ledger and completed.processing == first.processing
    assert (
        completed.metered_flows is not None and completed.metered_flows.address != first.metered_flows.address
    )
    assert any("recording them" in line for line in said)
    gateway.bind(Deployment.load(record))  # the completed record binds
    # A second start reuses it as it is.
    assert devstack.ensure_deployment(local, say=lambda _line: None) == completed

    # Outside the local profile, the operator completes an old record with `symledger deploy-modules`.
    record.write_text(json.dumps(old))
    monkeypatch.setenv("SYMLEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SYMLEDGER_RPC_URL", local.rpc_url)
    result = runner.invoke(cli_app, ["deploy-modules"])
    assert result.exit_code == 0, result.output
    assert Deployment.load(record).missing_modules == []
    again = runner.invoke(cli_app, ["deploy-modules"])
    assert again.exit_code == 1 and "names every module already" in again.output
