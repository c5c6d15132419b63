"""Rejections and returns through the API: the named receiver refuses all or part of a transfer; the refused
part travels back as a linked return transfer, received with the ordinary receipt workflow."""

import pytest
from parties import Party, dispatch, dispatch_terms, register, register_permit
from typer.testing import CliRunner
from workflows import another_relayer, in_outbox, keystore_of, receive, rejection, served

from ledger_service.cli import app as cli_app
from ledger_service.statements import DISPATCH


def test_partial_rejection_returns_the_refused_part_to_the_shipper(client, shipper, receiver):
    transfer = dispatch(client, shipper, receiver)  # 12,300 kg

    response = rejection(client, receiver, transfer["id"], accepted_quantity=9_000, rejected_quantity=3_200)

    assert response.status_code == 200, response.text
    record = response.json()
    assert record["status"] == "partially_rejected"
    assert record["rejection"]["accepted_quantity"] == 9_000
    assert record["rejection"]["rejected_quantity"] == 3_200
    assert record["rejection"]["reason"] == "moisture above the 8 % limit"
    # 100 kg of the 12,300 shipped are neither accepted nor refused: the discrepancy.
    assert record["rejection"]["discrepancy"] == record["discrepancy"] == -100
    assert record["rejection"]["return_to"] == shipper.address
    assert record["rejection"]["return_operation"] is None
    (return_id,) = record["returns"]
    assert record["evidence"][-1]["event"] == "TransferRejected"
    assert record["evidence"][-1]["signer"] == receiver.address
    # The receiver holds the accepted part as its lot, as a receipt would have opened it.
    lot = client.get(f"/lots/{transfer['id']}").json()
    assert (lot["holder"], lot["balance"], lot["origin"]) == (receiver.address, 9_000, "received")

    returned = client.get(f"/transfers/{return_id}").json()
    assert returned["status"] == "returning"
    assert returned["return_of"] == transfer["id"]
    assert (returned["shipper"], returned["receiver"], returned["quantity"]) == (
        receiver.address,
        shipper.address,
        3_200,
    )
    assert returned["lot_id"] == shipper.lot_id and returned["operation"] == ""

    # The shipper holds no RECEIVER role, yet takes back its own load with the ordinary receipt.
    back = receive(client, shipper, return_id, 3_190)
    assert (back["status"], back["received_quantity"], back["discrepancy"]) == ("received", 3_190, -10)
    lot = client.get(f"/lots/{return_id}").json()
    assert (lot["holder"], lot["balance"], lot["source_transfer"]) == (shipper.address, 3_190, return_id)


def test_full_rejection_sends_it_on_to_another_permitted_receiver(client, regulator, shipper, receiver):
    other = Party("recycler")
    register(client, regulator, other, "RECEIVER")
    permit = register_permit(client, regulator, other, operations=("R4", "R5"))
    transfer = dispatch(client, shipper, receiver)

    response = rejection(
        client,
        receiver,
        transfer["id"],
        return_to=other.address,
        return_permit_id=permit["permit_id"],
        return_operation="R4",
    )

    assert response.status_code == 200, response.text
    record = response.json()
    assert record["status"] == "rejected" and record["received_quantity"] is None
    assert client.get(f"/lots/{transfer['id']}").status_code == 404  # a full rejection opens no lot
    (return_id,) = record["returns"]
    returned = client.get(f"/transfers/{return_id}").json()
    assert (returned["receiver"], returned["operation"], returned["permit_id"]) == (
        other.address,
        "R4",
        permit["permit_id"],
    )
    assert receive(client, other, return_id, 12_300)["status"] == "received"


def test_return_destination_is_checked_like_a_dispatch(client, regulator, shipper, receiver):
    other = Party("recycler")
    register(client, regulator, other, "RECEIVER")
    permit = register_permit(client, regulator, other, operations=("R5",))
    transfer = dispatch(client, shipper, receiver)

    response = rejection(
        client,
        receiver,
        transfer["id"],
        return_to=other.address,
        return_permit_id=permit["permit_id"],
        return_operation="R1",
    )

    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["type"] == "permit_does_not_cover"
    assert error["loc"] == ["body", "message", "returnOperation"]
    assert f"returnTo's permit {permit['permit_number']} does not cover code 10 02 02" in error["msg"]
    assert client.get(f"/transfers/{transfer['id']}").json()["status"] == "dispatched"


def test_a_return_to_the_shipper_names_no_permit(client, shipper, receiver):
    transfer = dispatch(client, shipper, receiver)
    url = f"/transfers/{transfer['id']}/rejection"
    refused = client.post(
        url + "/prepare",
        json={"rejected_quantity": 5, "reason": "wet", "return_permit_id": receiver.permit_id},
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "return_permit_id"]

    # A receiver that signs such a statement anyway is refused by the ledger, in the same terms.
    prepared = client.post(url + "/prepare", json={"rejected_quantity": 5, "reason": "wet"}).json()
    typed = prepared["typed_data"]
    typed["message"]["returnPermitId"] = receiver.permit_id
    response = client.post(url, json={"message": typed["message"], "signature": receiver.sign(typed)})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["type"] == "permit_on_return_to_shipper" and error["loc"][-1] == "returnPermitId"
    assert "takes back its own lot" in error["msg"]


def test_only_the_named_receiver_rejects(client, regulator, shipper, receiver):
    intruder = Party("intruder")
    register(client, regulator, intruder, "RECEIVER")
    transfer = dispatch(client, shipper, receiver)
    prepared = client.post(
        f"/transfers/{transfer['id']}/rejection/prepare", json={"rejected_quantity": 5, "reason": "wet"}
    ).json()
    typed = prepared["typed_data"]
    typed["message"]["receiver"] = intruder.address
    body = {"message": typed["message"], "signature": intruder.sign(typed)}

    response = client.post(f"/transfers/{transfer['id']}/rejection", json=body)

    assert response.status_code == 403
    (error,) = response.json()["detail"]
    assert error["type"] == "not_named_receiver" and error["loc"][-1] == "receiver"
    # A refused request leaves no trace: nothing in the outbox, the transfer unchanged.
    assert not in_outbox(client, prepared["digest"])
    assert client.get(f"/transfers/{transfer['id']}").json()["status"] == "dispatched"


def test_a_transfer_is_rejected_once_and_a_return_is_not_rejected(client, shipper, receiver):
    transfer = dispatch(client, shipper, receiver)
    first = rejection(client, receiver, transfer["id"], rejected_quantity=100, accepted_quantity=12_200)
    assert first.status_code == 200, first.text

    again = client.post(
        f"/transfers/{transfer['id']}/rejection/prepare", json={"rejected_quantity": 5, "reason": "wet"}
    )
    assert again.status_code == 409 and again.json()["detail"][0]["type"] == "not_awaiting_receipt"
    (return_id,) = first.json()["returns"]
    of_return = client.post(
        f"/transfers/{return_id}/rejection/prepare", json={"rejected_quantity": 5, "reason": "wet"}
    )
    assert of_return.status_code == 409
    assert of_return.json()["detail"][0]["type"] == "return_not_rejectable"


def test_resubmitting_the_same_rejection_records_it_once(client, shipper, receiver):
    transfer = dispatch(client, shipper, receiver)
    prepared = client.post(
        f"/transfers/{transfer['id']}/rejection/prepare", json={"rejected_quantity": 12_300, "reason": "wet"}
    ).json()
    body = receiver.signed_body(prepared)
    first = client.post(f"/transfers/{transfer['id']}/rejection", json=body)
    again = client.post(f"/transfers/{transfer['id']}/rejection", json=body)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() and first.json()["returns"] == [prepared["digest"]]


def test_a_dispatch_relayed_by_someone_else_is_proven_from_its_calldata(client, shipper, receiver):
    prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)).json()
    body = shipper.signed_body(prepared)
    other = another_relayer(client)
    call = other.statement_call(DISPATCH, body["message"], bytes.fromhex(body["signature"][2:]))
    tx_hash = other.send(call, other.simulate(call) * 2)
    assert other.wait_for_receipt(tx_hash, timeout=10, poll=0.05)["status"] == 1
    client.app.state.runtime.indexer.sync()
    assert not in_outbox(client, prepared["digest"])  # this service never saw the signed dispatch

    response = rejection(
        client, receiver, prepared["digest"], rejected_quantity=300, accepted_quantity=12_000
    )

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "partially_rejected"


@pytest.fixture
def api_url(client):
    with served(client.app) as url:
        yield url


def test_cli_reject(client, api_url, tmp_path, shipper, receiver):
    transfer = dispatch(client, shipper, receiver)
    keystore, password = keystore_of(receiver, tmp_path)

    result = CliRunner().invoke(
        cli_app,
        [
            "reject",
            transfer["id"],
            "--accepted",
            "12000",
            "--rejected",
            "300",
            "--reason",
            "oversize pieces",
            "--api",
            api_url,
            "-k",
            str(keystore),
            "--password-file",
            str(password),
        ],
    )

    assert result.exit_code == 0, result.output
    record = client.get(f"/transfers/{transfer['id']}").json()
    assert record["status"] == "partially_rejected"
    assert record["rejection"]["reason"] == "oversize pieces"
    assert client.get(f"/transfers/{record['returns'][0]}").json()["receiver"] == shipper.address
