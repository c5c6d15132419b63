"""Corrections through the API: one party of a transfer proposes a signed correction; it takes effect only
when the other party signs the very same statement. The history stays listed; the lots move by the deltas."""

import json

import pytest
from parties import Party, dispatch, register
from typer.testing import CliRunner
from workflows import in_outbox, keystore_of, receive, served

from ledger_service.cli import app as cli_app
from ledger_service.statements import countersignature_key

CORRECTED_TICKET = "0x" + "c0" * 32  # stands for the SHA-256 of a corrected weighbridge ticket
REASON = "weighbridge calibration error, see the corrected ticket"


def propose(client, proposer: Party, transfer_id: str, **terms):
    terms = {"proposer": proposer.address, "reason": REASON, **terms}
    prepared = client.post(f"/transfers/{transfer_id}/corrections/prepare", json=terms)
    assert prepared.status_code == 200, prepared.text
    return client.post(f"/transfers/{transfer_id}/corrections", json=proposer.signed_body(prepared.json()))


def countersign(client, party: Party, transfer_id: str, correction_id: str):
    url = f"/transfers/{transfer_id}/corrections/{correction_id}/countersignature"
    prepared = client.post(url + "/prepare", json={})
    assert prepared.status_code == 200, prepared.text
    return client.post(url, json=party.signed_body(prepared.json())), prepared.json()


@pytest.fixture
def received(client, shipper, receiver):
    """A transfer of 12,300 kg, received as 12,100 kg."""
    transfer = dispatch(client, shipper, receiver)
    return receive(client, receiver, transfer["id"], 12_100)


def test_received_quantity_corrected_once_both_sign(client, shipper, receiver, received):
    proposed = propose(client, receiver, received["id"], received_delta=150, document_hash=CORRECTED_TICKET)

    assert proposed.status_code == 201, proposed.text
    correction = proposed.json()
    assert (correction["status"], correction["proposer"], correction["counterparty"]) == (
        "pending",
        receiver.address,
        shipper.address,
    )
    assert (correction["shipped_delta"], correction["received_delta"]) == (0, 150)
    assert correction["document_hash"] == CORRECTED_TICKET and correction["reason"] == REASON
    # Proposed only: nothing moved yet.
    assert client.get(f"/transfers/{received['id']}").json()["received_quantity"] == 12_100
    assert client.get(f"/lots/{received['id']}").json()["balance"] == 12_100

    applied, prepared = countersign(client, shipper, received["id"], correction["id"])

    assert prepared["signer"] == shipper.address and prepared["digest"] == correction["id"]
    assert applied.status_code == 200, applied.text
    assert applied.json()["status"] == "applied"
    record = client.get(f"/transfers/{received['id']}").json()
    assert (record["status"], record["received_quantity"], record["discrepancy"]) == (
        "corrected",
        12_250,
        -50,
    )
    assert record["document_hash"] == CORRECTED_TICKET
    assert client.get(f"/lots/{received['id']}").json()["balance"] == 12_250
    (history,) = client.get(f"/transfers/{received['id']}/corrections").json()
    assert history["countersigned_tx"] and history["countersigned_block"] >= history["proposed_block"]
    proposal_evidence, countersignature_evidence = history["evidence"]
    assert (proposal_evidence["event"], proposal_evidence["signer"]) == (
        "CorrectionProposed",
        receiver.address,
    )
    assert (countersignature_evidence["event"], countersignature_evidence["signer"]) == (
        "TransferCorrected",
        shipper.address,
    )


def test_shipped_quantity_corrected_before_receipt_moves_the_shippers_lot(client, shipper, receiver):
    transfer = dispatch(client, shipper, receiver)
    balance = client.get(f"/lots/{shipper.lot_id}").json()["balance"]
    correction = propose(client, shipper, transfer["id"], shipped_delta=-300).json()

    applied, _ = countersign(client, receiver, transfer["id"], correction["id"])

    assert applied.status_code == 200, applied.text
    record = client.get(f"/transfers/{transfer['id']}").json()
    assert (record["status"], record["quantity"]) == ("dispatched", 12_000)
    assert client.get(f"/lots/{shipper.lot_id}").json()["balance"] == balance + 300
    # The history keeps both corrections in order, pending or applied.
    second = propose(client, receiver, transfer["id"], document_hash=CORRECTED_TICKET).json()
    history = client.get(f"/transfers/{transfer['id']}/corrections").json()
    assert [(c["id"], c["status"]) for c in history] == [
        (correction["id"], "applied"),
        (second["id"], "pending"),
    ]


def test_refused_proposals_in_the_partys_terms(client, regulator, shipper, receiver):
    outsider = Party("outsider")
    register(client, regulator, outsider, "RECEIVER")
    transfer = dispatch(client, shipper, receiver)
    url = f"/transfers/{transfer['id']}/corrections/prepare"

    cases = [
        ({"proposer": outsider.address, "shipped_delta": 5}, 403, "not_transfer_party", "proposer"),
        ({"proposer": shipper.address}, 422, "empty_correction", "shipped_delta"),
        ({"proposer": receiver.address, "received_delta": 5}, 409, "not_received", "received_delta"),
    ]
    for terms, status, kind, field in cases:
        response = client.post(url, json={**terms, "reason": REASON})
        assert response.status_code == status, response.text
        (error,) = response.json()["detail"]
        assert (error["type"], error["loc"][-1]) == (kind, field)

    # A party that signs what the service would not prepare is refused by the ledger, in the same terms.
    prepared = client.post(
        url, json={"proposer": shipper.address, "shipped_delta": 5, "reason": REASON}
    ).json()
    typed = prepared["typed_data"]
    typed["message"].update(shippedDelta="0", receivedDelta="7")
    response = client.post(
        f"/transfers/{transfer['id']}/corrections",
        json={"message": typed["message"], "signature": shipper.sign(typed)},
    )
    assert response.status_code == 409
    (error,) = response.json()["detail"]
    assert (error["type"], error["loc"][-1]) == ("not_received", "receivedDelta")
    assert "is dispatched" in error["msg"]


def test_only_the_counterparty_countersigns_and_only_once(client, shipper, receiver, received):
    correction = propose(client, receiver, received["id"], received_delta=-100).json()
    url = f"/transfers/{received['id']}/corrections/{correction['id']}/countersignature"
    prepared = client.post(url + "/prepare", json={}).json()

    # The proposer cannot countersign its own proposal.
    by_proposer = client.post(url, json=receiver.signed_body(prepared))
    assert by_proposer.status_code == 422
    (error,) = by_proposer.json()["detail"]
    assert error["type"] == "invalid_signature" and shipper.address in error["msg"]
    assert "countersignature" in error["msg"]
    # An altered statement is not the proposal.
    typed = json.loads(json.dumps(prepared["typed_data"]))
    typed["message"]["receivedDelta"] = "-1"
    altered = client.post(url, json={"message": typed["message"], "signature": shipper.sign(typed)})
    assert altered.status_code == 422 and altered.json()["detail"][0]["type"] == "not_the_proposal"
    assert client.get(f"/lots/{received['id']}").json()["balance"] == 12_100

    body = shipper.signed_body(prepared)
    first = client.post(url, json=body)
    retried = client.post(url, json=body)
    assert first.status_code == retried.status_code == 200, retried.text
    assert first.json() == retried.json()
    assert client.get(f"/lots/{received['id']}").json()["balance"] == 12_000  # moved once
    again = client.post(url + "/prepare", json={})
    assert again.status_code == 409 and again.json()["detail"][0]["type"] == "correction_applied"


def test_a_refused_countersignature_leaves_no_trace(client, shipper, receiver, received):
    # Agreed or not, a correction cannot take from the receiver's lot more than it holds.
    correction = propose(client, shipper, received["id"], received_delta=-20_000).json()
    applied, _ = countersign(client, receiver, received["id"], correction["id"])
    assert applied.status_code == 409, applied.text
    (error,) = applied.json()["detail"]
    assert error["type"] == "insufficient_lot_balance"
    assert not in_outbox(client, "0x" + countersignature_key(correction["id"], receiver.address).hex())
    history = client.get(f"/transfers/{received['id']}/corrections").json()
    assert [c["status"] for c in history] == ["pending"]


def test_unknown_correction_is_404(client, received):
    response = client.post(
        f"/transfers/{received['id']}/corrections/{'0x' + '0f' * 32}/countersignature/prepare", json={}
    )
    assert response.status_code == 404 and response.json()["detail"][0]["loc"] == ["path", "correction_id"]


@pytest.fixture
def api_url(client):
    with served(client.app) as url:
        yield url


def test_cli_propose_and_countersign(client, api_url, tmp_path, shipper, receiver, received):
    ticket = tmp_path / "ticket.pdf"
    ticket.write_bytes(b"corrected weighbridge ticket")
    receiver_key, password = keystore_of(receiver, tmp_path)
    shipper_key, _ = keystore_of(shipper, tmp_path)
    runner = CliRunner()

    proposed = runner.invoke(
        cli_app,
        [
            "correction",
            "propose",
            received["id"],
            "--received-delta",
            "-40",
            "--document",
            str(ticket),
            "--reason",
            REASON,
            "--api",
            api_url,
            "-k",
            str(receiver_key),
            "--password-file",
            str(password),
        ],
    )
    assert proposed.exit_code == 0, proposed.output
    correction = json.loads(proposed.stdout)
    assert correction["status"] == "pending" and correction["received_delta"] == -40

    wrong_party = runner.invoke(
        cli_app,
        ["correction", "countersign", received["id"], correction["id"], "--api", api_url]
        + ["-k", str(receiver_key), "--password-file", str(password)],
    )
    assert wrong_party.exit_code == 1 and "countersignature, not yours" in wrong_party.output

    countersigned = runner.invoke(
        cli_app,
        ["correction", "countersign", received["id"], correction["id"], "--api", api_url]
        + ["-k", str(shipper_key), "--password-file", str(password)],
    )
    assert countersigned.exit_code == 0, countersigned.output
    assert json.loads(countersigned.stdout)["status"] == "applied"
    assert client.get(f"/transfers/{received['id']}").json()["received_quantity"] == 12_060
