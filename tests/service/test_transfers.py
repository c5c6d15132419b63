"""A transfer signed by shipper and receiver, end to end through the API onto a real chain."""

import json

from eth_account import Account
from eth_account.messages import encode_typed_data
from parties import CODE, SCHEME, Party, dispatch, dispatch_terms, register, register_permit
from web3 import Web3


def test_prepared_dispatch_is_standard_typed_data(client, shipper, receiver):
    prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)).json()
    typed = prepared["typed_data"]

    assert set(typed) == {"types", "primaryType", "domain", "message"}
    assert typed["primaryType"] == "Dispatch"
    assert [f["name"] for f in typed["types"]["EIP712Domain"]] == [
        "name",
        "version",
        "chainId",
        "verifyingContract",
    ]
    deployment = client.get("/deployment").json()
    assert typed["domain"]["chainId"] == deployment["chain_id"] == 31337
    assert typed["domain"]["verifyingContract"] == deployment["ledger"]["address"]
    assert typed["message"]["quantity"] == "12300"  # exact for JavaScript wallets too
    assert prepared["signer"] == shipper.address
    # A wallet signs the JSON exactly as served: the digest is the one every library computes.
    round_tripped = json.loads(json.dumps(typed))
    signable = encode_typed_data(full_message=round_tripped)
    digest = Web3.keccak(b"\x19" + signable.version + signable.header + signable.body)
    assert "0x" + bytes(digest).hex() == prepared["digest"]


def test_dispatch_then_receipt_with_evidence(client, settings, shipper, receiver):
    transfer = dispatch(client, shipper, receiver)
    assert transfer["status"] == "dispatched"
    assert (transfer["shipper"], transfer["receiver"]) == (shipper.address, receiver.address)

    prepared = client.post(f"/transfers/{transfer['id']}/receipt/prepare", json={"received_quantity": 12_250})
    assert prepared.status_code == 200, prepared.text
    assert prepared.json()["signer"] == receiver.address
    response = client.post(f"/transfers/{transfer['id']}/receipt", json=receiver.signed_body(prepared.json()))
    assert response.status_code == 200, response.text

    record = client.get(f"/transfers/{transfer['id']}").json()
    assert record["status"] == "received"
    assert (record["quantity"], record["received_quantity"], record["discrepancy"]) == (12_300, 12_250, -50)
    dispatched, received = record["evidence"]
    assert (dispatched["event"], dispatched["signer"]) == ("TransferDispatched", shipper.address)
    assert (received["event"], received["signer"]) == ("TransferReceived", receiver.address)
    # The evidence is on the chain itself: the transactions are mined in the blocks named.
    w3 = Web3(Web3.HTTPProvider(settings.rpc_url))
    for item in (dispatched, received):
        receipt = w3.eth.get_transaction_receipt(item["tx_hash"])
        assert receipt["status"] == 1
        assert receipt["blockNumber"] == item["block_number"]
        assert "0x" + bytes(receipt["blockHash"]).hex() == item["block_hash"]
    # The relayer sent those transactions; the parties hold no ether and sent nothing.
    assert w3.eth.get_transaction(dispatched["tx_hash"])["from"] not in (shipper.address, receiver.address)
    assert w3.eth.get_balance(shipper.address) == 0


def test_transfer_id_is_the_dispatch_digest(client, shipper, receiver):
    prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)).json()
    transfer = client.post("/transfers", json=shipper.signed_body(prepared)).json()
    assert transfer["id"] == prepared["digest"]


def test_resubmitting_the_same_signed_dispatch_records_it_once(client, shipper, receiver):
    prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)).json()
    body = shipper.signed_body(prepared)
    first = client.post("/transfers", json=body)
    again = client.post("/transfers", json=body)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    listed = client.get("/transfers", params={"limit": 500}).json()
    assert [t["id"] for t in listed["items"]].count(first.json()["id"]) == 1


def test_mass_balance_of_lots(client, shipper, receiver):
    transfer = dispatch(client, shipper, receiver, quantity=60_000)
    assert client.get(f"/lots/{shipper.lot_id}").json()["balance"] == 40_000
    response = client.post(
        "/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver, quantity=40_001)
    )
    body = shipper.signed_body(response.json())
    refused = client.post("/transfers", json=body)
    assert refused.status_code == 409
    (error,) = refused.json()["detail"]
    assert error["type"] == "insufficient_lot_balance" and "40000" in error["msg"]

    prepared = client.post(
        f"/transfers/{transfer['id']}/receipt/prepare", json={"received_quantity": 59_700}
    ).json()
    client.post(f"/transfers/{transfer['id']}/receipt", json=receiver.signed_body(prepared))
    received_lot = client.get(f"/lots/{transfer['id']}").json()
    assert (received_lot["holder"], received_lot["origin"], received_lot["balance"]) == (
        receiver.address,
        "received",
        59_700,
    )
    assert received_lot["waste"] == {
        "scheme": "EU-LOW",
        "code": "10 02 02",
        "unit": "KGM",
        "hazardous": False,
    }


def test_permit_must_cover_the_operation(client, regulator, shipper, receiver):
    prepared = client.post(
        "/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver, operation="R1")
    )
    refused = client.post("/transfers", json=shipper.signed_body(prepared.json()))
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    permit = client.get(f"/permits/{receiver.permit_id}").json()
    assert error["loc"][-1] == "operation"
    assert (
        f"receiver's permit {permit['permit_number']} does not cover code 10 02 02 (EU-LOW) for operation R1"
        in error["msg"]
    )


def test_revoked_permit_refuses_dispatch(client, regulator, shipper, receiver):
    revocation = client.post(
        f"/permits/{receiver.permit_id}/revocation/prepare",
        json={"regulator": regulator.address, "reason": "inspection found unlicensed storage"},
    ).json()
    revoked = client.post(f"/permits/{receiver.permit_id}/revocation", json=regulator.signed_body(revocation))
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)).json()
    refused = client.post("/transfers", json=shipper.signed_body(prepared))
    assert refused.status_code == 422 and refused.json()["detail"][0]["type"] == "permit_revoked"


def test_permit_capacity_is_enforced(client, regulator, shipper, receiver):
    register_permit(client, regulator, receiver, yearly_capacity=20_000)
    dispatch(client, shipper, receiver, quantity=15_000)
    prepared = client.post(
        "/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver, quantity=5_001)
    )
    refused = client.post("/transfers", json=shipper.signed_body(prepared.json()))
    assert refused.status_code == 409
    (error,) = refused.json()["detail"]
    assert error["type"] == "permit_capacity_exceeded" and "5000 of its 20000" in error["msg"]


def test_receipt_by_another_receiver_is_forbidden(client, regulator, shipper, receiver):
    intruder = Party("intruder")
    register(client, regulator, intruder, "RECEIVER")
    transfer = dispatch(client, shipper, receiver)
    prepared = client.post(
        f"/transfers/{transfer['id']}/receipt/prepare", json={"received_quantity": 5}
    ).json()
    message = {**prepared["typed_data"]["message"], "receiver": intruder.address}
    typed = {**prepared["typed_data"], "message": message}
    response = client.post(
        f"/transfers/{transfer['id']}/receipt", json={"message": message, "signature": intruder.sign(typed)}
    )
    assert response.status_code == 403
    (error,) = response.json()["detail"]
    assert error["type"] == "not_named_receiver" and error["loc"][-1] == "receiver"
    assert client.get(f"/transfers/{transfer['id']}").json()["status"] == "dispatched"


def test_second_receipt_is_a_conflict(client, shipper, receiver):
    transfer = dispatch(client, shipper, receiver)
    url = f"/transfers/{transfer['id']}/receipt"
    prepared = client.post(url + "/prepare", json={"received_quantity": 12_300}).json()
    assert client.post(url, json=receiver.signed_body(prepared)).status_code == 200
    again = client.post(url + "/prepare", json={"received_quantity": 12_300})
    assert again.status_code == 409 and again.json()["detail"][0]["type"] == "already_received"


def test_expired_statement_is_refused(client, shipper, receiver):
    prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)).json()
    typed = prepared["typed_data"]
    typed["message"]["deadline"] = "1700000000"  # November 2023
    response = client.post("/transfers", json={"message": typed["message"], "signature": shipper.sign(typed)})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["type"] == "signature_expired" and error["loc"][-1] == "deadline"


def test_signature_by_another_key_names_the_real_signer(client, shipper, receiver):
    impostor = Account.create()
    prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)).json()
    typed = prepared["typed_data"]
    signature = "0x" + bytes(Account.sign_typed_data(impostor.key, full_message=typed).signature).hex()
    response = client.post("/transfers", json={"message": typed["message"], "signature": signature})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "signature"]
    assert impostor.address in error["msg"] and shipper.address in error["msg"]


def test_a_wallet_signs_the_typed_data_unchanged(client, settings, regulator, receiver):
    """anvil's own `eth_signTypedData_v4` (a Rust implementation of the wallet method) signs the JSON as served."""
    w3 = Web3(Web3.HTTPProvider(settings.rpc_url))
    wallet = w3.eth.accounts[0]  # a key held by the node's wallet, never by the service
    shipper = Party("wallet shipper")
    shipper.address = wallet
    register(client, regulator, shipper, "SHIPPER")

    def wallet_submit(prepare_path: str, terms: dict, submit_path: str) -> dict:
        prepared = client.post(prepare_path, json=terms).json()
        signed = w3.provider.make_request(
            "eth_signTypedData_v4", [wallet, json.dumps(prepared["typed_data"])]
        )
        body = {"message": prepared["typed_data"]["message"], "signature": signed["result"]}
        response = client.post(submit_path, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    lot = wallet_submit(
        "/lots/prepare",
        {
            "generator": wallet,
            "waste_scheme": SCHEME,
            "waste_code": CODE,
            "quantity": 5_000,
            "unit": "KGM",
            "document_hash": "0x" + "77" * 32,
        },
        "/lots",
    )
    shipper.lot_id = lot["id"]
    transfer = wallet_submit(
        "/transfers/dispatches/prepare", dispatch_terms(shipper, receiver, quantity=5_000), "/transfers"
    )
    assert transfer["evidence"][0]["signer"] == wallet
