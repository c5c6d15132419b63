"""Batches through the API: independently signed dispatches and receipts recorded in one recordBatch
transaction, each item answered on its own; a refused item never loses the others, and the outbox loses none
of them."""

import json
import time

import pytest
from eth_account import Account
from parties import dispatch_terms, register_lot
from typer.testing import CliRunner
from workflows import in_outbox, keystore_of, served

from ledger_service.chain.gateway import NodeUnavailable
from ledger_service.cli import app as cli_app


def signed_dispatch(client, shipper, receiver, signer=None, **overrides) -> dict:
    prepared = client.post(
        "/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver, **overrides)
    )
    assert prepared.status_code == 200, prepared.text
    typed = prepared.json()["typed_data"]
    key = signer.key if signer is not None else shipper.account.key
    signature = "0x" + bytes(Account.sign_typed_data(key, full_message=typed).signature).hex()
    return {"message": typed["message"], "signature": signature, "digest": prepared.json()["digest"]}


def body_of(items: list[dict]) -> dict:
    return {"items": [{"message": i["message"], "signature": i["signature"]} for i in items]}


@pytest.mark.parametrize("simulation", ["eth_simulateV1", "eth_createAccessList and eth_call"])
def test_twenty_dispatches_two_refused_eighteen_recorded(client, shipper, receiver, monkeypatch, simulation):
    if simulation != "eth_simulateV1":  # as on a node without eth_simulateV1: the batch is run twice
        monkeypatch.setattr(client.app.state.runtime.gateway, "_simulates_v1", False)
    big_lot = shipper.lot_id
    small_lot = register_lot(client, shipper, quantity=5_000)["id"]
    impostor = Account.create()
    items = []
    for i in range(20):
        if i == 7:
            items.append(signed_dispatch(client, shipper, receiver, lot_id=small_lot, quantity=4_000))
        elif i == 11:  # signed by another key: refused when checked, before anything is sent
            items.append(
                signed_dispatch(client, shipper, receiver, signer=impostor, lot_id=big_lot, quantity=1_000)
            )
        elif i == 15:  # fits the small lot alone, not after item 7: refused by the ledger inside the batch
            items.append(signed_dispatch(client, shipper, receiver, lot_id=small_lot, quantity=4_000))
        else:
            items.append(signed_dispatch(client, shipper, receiver, lot_id=big_lot, quantity=1_000))

    response = client.post("/transfers/batches", json=body_of(items))

    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["recorded"], report["accepted"], report["refused"]) == (18, 0, 2)
    outcomes = {item["index"]: item for item in report["items"]}
    assert [i for i, item in outcomes.items() if item["outcome"] == "refused"] == [11, 15]
    forged, short = outcomes[11]["error"], outcomes[15]["error"]
    assert (forged["type"], forged["status"], forged["loc"]) == (
        "invalid_signature",
        422,
        ["body", "items", 11, "signature"],
    )
    assert forged["msg"].startswith("item 11: ") and impostor.address in forged["msg"]
    assert (short["type"], short["status"]) == ("insufficient_lot_balance", 409)
    assert short["loc"] == ["body", "items", 15, "message", "quantity"]
    assert f"lot {small_lot} holds 1000, less than the 4000 dispatched" in short["msg"]

    # The eighteen are in the read model, all from the one transaction; the two left nothing behind.
    recorded = [item for item in report["items"] if item["outcome"] == "recorded"]
    assert [item["transfer_id"] for item in recorded] == [
        items[i]["digest"] for i in outcomes if i not in (11, 15)
    ]
    tx_hashes = {
        client.get(f"/transfers/{item['transfer_id']}").json()["evidence"][0]["tx_hash"] for item in recorded
    }
    assert len(tx_hashes) == 1
    assert client.get(f"/lots/{big_lot}").json()["balance"] == 100_000 - 17 * 1_000
    assert client.get(f"/lots/{small_lot}").json()["balance"] == 1_000
    for refused in (11, 15):
        assert client.get(f"/transfers/{items[refused]['digest']}").status_code == 404
    assert not in_outbox(client, items[11]["digest"])

    # The same request again is answered as before, item by item, and records nothing twice.
    total = client.get("/transfers", params={"limit": 1}).json()["total"]
    again = client.post("/transfers/batches", json=body_of(items)).json()
    assert [(i["outcome"], i["transfer_id"]) for i in again["items"]] == [
        (i["outcome"], i["transfer_id"]) for i in report["items"]
    ]
    assert again["items"][15]["error"] == short
    assert client.get("/transfers", params={"limit": 1}).json()["total"] == total


def test_a_batch_larger_than_one_transaction_may_carry_is_sent_in_parts(
    client, shipper, receiver, monkeypatch
):
    runtime = client.app.state.runtime
    monkeypatch.setattr(runtime.relayer, "_max_batch_gas", 200_000)  # as a chain with small blocks would
    items = [signed_dispatch(client, shipper, receiver, quantity=1_000) for _ in range(6)]

    report = client.post("/transfers/batches", json=body_of(items)).json()

    assert [(i["outcome"], i["transfer_id"]) for i in report["items"]] == [
        ("recorded", item["digest"]) for item in items
    ]
    tx_hashes = {
        client.get(f"/transfers/{item['digest']}").json()["evidence"][0]["tx_hash"] for item in items
    }
    assert len(tx_hashes) > 1
    assert all(runtime.gateway.w3.eth.get_transaction(h)["gas"] <= 200_000 for h in tx_hashes)
    assert client.get(f"/lots/{shipper.lot_id}").json()["balance"] == 100_000 - 6 * 1_000


def test_a_batch_accepted_before_the_node_lost_it_is_sent_again(client, shipper, receiver, monkeypatch):
    items = [signed_dispatch(client, shipper, receiver, quantity=500) for _ in range(3)]
    runtime = client.app.state.runtime
    send = runtime.gateway.send_data

    def signed_but_never_arrives(to, data, gas, on_signed=None):
        on_signed("0x" + "ee" * 32)  # the hash is kept with every item; the node never sees the transaction
        raise NodeUnavailable("connection reset")

    monkeypatch.setattr(runtime.gateway, "send_data", signed_but_never_arrives)
    report = client.post("/transfers/batches", json=body_of(items)).json()
    assert [(i["outcome"], i["submission"]["status"]) for i in report["items"]] == [("accepted", "sent")] * 3
    monkeypatch.setattr(runtime.gateway, "send_data", send)

    # The outbox had them all before the transaction left; the relayer's retries record each.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        runtime.relayer.resume()
        statuses = [client.get(f"/transfers/{i['digest']}").status_code for i in items]
        if statuses == [200] * 3:
            break
        time.sleep(0.2)
    assert statuses == [200] * 3


def signed_receipt(client, receiver, transfer_id, quantity) -> dict:
    prepared = client.post(f"/transfers/{transfer_id}/receipt/prepare", json={"received_quantity": quantity})
    assert prepared.status_code == 200, prepared.text
    return receiver.signed_body(prepared.json())


def test_receipts_in_a_batch(client, shipper, receiver):
    dispatched = [signed_dispatch(client, shipper, receiver, quantity=1_000) for _ in range(3)]
    assert client.post("/transfers/batches", json=body_of(dispatched)).json()["recorded"] == 3
    ids = [d["digest"] for d in dispatched]
    receipts = [signed_receipt(client, receiver, t, 1_000 - 10 * i) for i, t in enumerate(ids)]
    # Item 1 signed by the shipper, not the named receiver: refused alone, with the receipt's own error.
    receipts[1]["signature"] = (
        "0x"
        + bytes(
            Account.sign_typed_data(
                shipper.account.key,
                full_message=client.post(
                    f"/transfers/{ids[1]}/receipt/prepare", json={"received_quantity": 990}
                ).json()["typed_data"],
            ).signature
        ).hex()
    )

    report = client.post("/transfers/batches", json={"receipts": receipts}).json()

    assert (report["recorded"], report["accepted"], report["refused"], report["items"]) == (2, 0, 1, [])
    outcomes = [(r["index"], r["outcome"], r["transfer_id"]) for r in report["receipts"]]
    assert outcomes == [(0, "recorded", ids[0]), (1, "refused", ids[1]), (2, "recorded", ids[2])]
    error = report["receipts"][1]["error"]
    assert (error["type"], error["loc"][:3]) == ("invalid_signature", ["body", "receipts", 1])
    assert error["msg"].startswith("receipt 1: ")
    for i in (0, 2):
        transfer = report["receipts"][i]["transfer"]
        assert (transfer["status"], transfer["received_quantity"]) == ("received", 1_000 - 10 * i)
    assert client.get(f"/transfers/{ids[1]}").json()["status"] == "dispatched"
    assert client.get(f"/lots/{ids[2]}").json()["balance"] == 980


def test_an_empty_batch_is_bad_input(client):
    response = client.post("/transfers/batches", json={"items": [], "receipts": []})
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body"]
    assert "1 to 256 statements, dispatches and receipts together" in detail["msg"]


@pytest.fixture
def api_url(client):
    with served(client.app) as url:
        yield url


def test_cli_dispatch_batch(client, api_url, tmp_path, shipper, receiver):
    keystore, password = keystore_of(shipper, tmp_path)
    (tmp_path / "manifest.pdf").write_bytes(b"transfer manifest")
    permit_number = client.get(f"/permits/{receiver.permit_id}").json()["permit_number"]
    files = []
    for i, quantity in enumerate((2_000, 3_000, 1_000_000)):  # the last is more than the lot holds
        spec = {
            "receiver": receiver.address,
            "lot": shipper.lot_id,
            "quantity": quantity,
            "operation": "R5",
            "permit": permit_number,
            "document": "manifest.pdf",
        }
        files.append(tmp_path / f"dispatch-{i}.json")
        files[-1].write_text(json.dumps(spec))

    result = CliRunner().invoke(
        cli_app,
        [
            "dispatch-batch",
            *map(str, files),
            "--api",
            api_url,
            "-k",
            str(keystore),
            "--password-file",
            str(password),
        ],
    )

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert [i["outcome"] for i in report["items"]] == ["recorded", "recorded", "refused"]
    assert (
        f"error: {files[2]}: item 2: lot {shipper.lot_id} holds 100000, less than the 1000000 dispatched"
        in result.output
    )
    assert client.get(f"/lots/{shipper.lot_id}").json()["balance"] == 95_000
