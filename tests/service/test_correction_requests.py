"""Correction requests through the service and the chain: a regulator signs a request to the parties of a
transfer to correct its record; RegulatorActions (deployed beside the ledger) records it; the indexer lists it
with the transfer; the transfer's parties are told by webhook. Also the deployment of that contract beside an
existing record."""

import hashlib
import json
import uuid

import pytest
import served
from parties import Party, dispatch, register, sign_in
from test_webhooks import Receiver, eventually
from typer.testing import CliRunner
from workflows import keystore_of

from ledger_service import devstack
from ledger_service.chain.gateway import ChainGateway
from ledger_service.cli import app as cli_app
from ledger_service.deployment import Deployment
from ledger_service.keystore import load_account, read_password_file
from ledger_service.settings import Settings

api_url = served.api_url  # the service over HTTP, for the CLI
REPORT = "0x" + "a1" * 32  # stands for the SHA-256 of the regulator's inspection report
REASON = "weighbridge ticket shows 12,100 kg where 12,300 kg were dispatched"


def request(client, regulator: Party, transfer_id: str, **terms):
    """The regulator prepares, signs and submits a correction request; returns the submit response."""
    url = f"/transfers/{transfer_id}/correction-requests"
    prepared = client.post(url + "/prepare", json={"regulator": regulator.address, "reason": REASON, **terms})
    assert prepared.status_code == 200, prepared.text
    return client.post(url, json=regulator.signed_body(prepared.json()))


@pytest.fixture
def transfer(client, shipper, receiver):
    return dispatch(client, shipper, receiver)


def test_regulator_requests_a_correction_recorded_on_chain(client, regulator, transfer):
    response = request(client, regulator, transfer["id"], report_hash=REPORT)
    assert response.status_code == 201, response.text
    made = response.json()
    assert (made["transfer_id"], made["regulator"], made["reason"], made["report_hash"]) == (
        transfer["id"],
        regulator.address,
        REASON,
        REPORT,
    )
    # Recorded by RegulatorActions, beside the ledger, on the regulator's signature.
    deployment = client.get("/deployment").json()
    (evidence,) = made["evidence"]
    assert (evidence["event"], evidence["signer"]) == ("CorrectionRequested", regulator.address)
    assert (
        evidence["contract"] == deployment["regulator_actions"]["address"] != deployment["ledger"]["address"]
    )
    assert client.get(f"/transfers/{transfer['id']}/correction-requests").json() == [made]
    # A request asks; the transfer itself is unchanged.
    assert client.get(f"/transfers/{transfer['id']}").json()["status"] == "dispatched"


def test_requests_are_listed_in_order_and_scoped_like_the_transfer(client, regulator, shipper, transfer):
    first = request(client, regulator, transfer["id"]).json()
    second = request(client, regulator, transfer["id"], reason="the corrected ticket is missing").json()
    assert first["report_hash"] is None and first["id"] != second["id"]
    url = f"/transfers/{transfer['id']}/correction-requests"
    assert [r["id"] for r in client.get(url, headers=sign_in(client, shipper)).json()] == [
        first["id"],
        second["id"],
    ]
    outsider = Party("outsider")
    register(client, regulator, outsider, "SHIPPER", park="Hiep Phuoc")
    hidden = client.get(url, headers=sign_in(client, outsider))
    assert hidden.status_code == 404 and hidden.json()["detail"][0]["type"] == "unknown_transfer"


def test_a_regulators_nonces_here_are_the_contracts_own(client, regulator, transfer):
    # The inspector's first statement on the ledger takes its ledger nonce 0; RegulatorActions keeps nonces of
    # its own, so its first request there takes nonce 0 as well, the next one 1.
    inspector = Party("inspector")
    register(client, regulator, inspector, "REGULATOR", park="")
    register(client, inspector, Party("inspected firm"), "SHIPPER")
    url = f"/transfers/{transfer['id']}/correction-requests"
    terms = {"regulator": inspector.address, "reason": REASON}
    first = client.post(url + "/prepare", json=terms).json()
    assert first["typed_data"]["domain"]["name"] == "SymbiosisRegulatorActions"
    assert first["typed_data"]["message"]["nonce"] == "0"
    assert client.post(url, json=inspector.signed_body(first)).status_code == 201
    assert client.post(url + "/prepare", json=terms).json()["typed_data"]["message"]["nonce"] == "1"


def test_only_a_regulator_may_request(client, regulator, shipper, transfer):
    url = f"/transfers/{transfer['id']}/correction-requests"
    refused = client.post(url + "/prepare", json={"regulator": shipper.address, "reason": REASON})
    assert refused.status_code == 403
    (error,) = refused.json()["detail"]
    assert error["type"] == "missing_role" and error["loc"][-1] == "regulator" and "REGULATOR" in error["msg"]

    # A statement naming the regulator but signed by another key is refused at submission.
    prepared = client.post(url + "/prepare", json={"regulator": regulator.address, "reason": REASON}).json()
    forged = client.post(
        url, json={**regulator.signed_body(prepared), "signature": shipper.sign(prepared["typed_data"])}
    )
    assert forged.status_code == 422
    (error,) = forged.json()["detail"]
    assert error["type"] == "invalid_signature" and shipper.address in error["msg"]
    assert client.get(url).json() == []


def test_a_suspended_regulator_is_refused(client, regulator, transfer):
    inspector = Party("suspended inspector")
    register(client, regulator, inspector, "REGULATOR", park="")
    url = f"/transfers/{transfer['id']}/correction-requests"
    prepared = client.post(url + "/prepare", json={"regulator": inspector.address, "reason": REASON}).json()
    status_url = f"/participants/{inspector.address}/status"
    terms = {"regulator": regulator.address, "suspended": True, "reason": "under investigation"}
    suspension = client.post(status_url + "/prepare", json=terms).json()
    assert client.post(status_url, json=regulator.signed_body(suspension)).status_code == 200
    refused = client.post(url, json=inspector.signed_body(prepared))
    assert refused.status_code == 403 and refused.json()["detail"][0]["type"] == "suspended_participant"


def test_replay_answers_the_first_request_and_records_nothing_more(client, regulator, transfer):
    url = f"/transfers/{transfer['id']}/correction-requests"
    prepared = client.post(url + "/prepare", json={"regulator": regulator.address, "reason": REASON}).json()
    body = regulator.signed_body(prepared)
    first = client.post(url, json=body)
    again = client.post(url, json=body)
    assert first.status_code == 201 and again.status_code in (200, 201)
    assert again.json()["id"] == first.json()["id"] == prepared["digest"]
    assert len(client.get(url).json()) == 1


def test_bad_requests_name_the_field(client, regulator, transfer):
    unknown = "0x" + "7a" * 32
    missing = client.post(
        f"/transfers/{unknown}/correction-requests/prepare",
        json={"regulator": regulator.address, "reason": REASON},
    )
    assert missing.status_code == 404 and missing.json()["detail"][0]["loc"] == ["path", "transfer_id"]

    url = f"/transfers/{transfer['id']}/correction-requests"
    blank = client.post(url + "/prepare", json={"regulator": regulator.address, "reason": "  "})
    assert blank.status_code == 422 and blank.json()["detail"][0]["loc"] == ["body", "reason"]

    prepared = client.post(url + "/prepare", json={"regulator": regulator.address, "reason": REASON}).json()
    elsewhere = client.post(f"/transfers/{unknown}/correction-requests", json=regulator.signed_body(prepared))
    assert elsewhere.status_code == 422 and elsewhere.json()["detail"][0]["type"] == "path_mismatch"

    # A statement about a transfer the chain never saw: refused by the contract, in the party's terms.
    message = {**prepared["typed_data"]["message"], "transferId": unknown}
    typed = {**prepared["typed_data"], "message": message}
    ghost = client.post(
        f"/transfers/{unknown}/correction-requests",
        json={"message": message, "signature": regulator.sign(typed)},
    )
    assert ghost.status_code == 404
    (error,) = ghost.json()["detail"]
    assert error["type"] == "unknown_transfer" and error["loc"] == ["body", "message", "transferId"]


def test_the_transfers_parties_are_notified_by_webhook(client, regulator, shipper, receiver, transfer):
    server = Receiver()
    try:
        hooks = {}
        for party in (shipper, receiver, regulator):
            path = f"/{party.name}-{uuid.uuid4().hex[:8]}"
            created = client.post(
                "/webhooks", json={"url": server.url(path)}, headers=sign_in(client, party)
            ).json()
            server.secrets[path] = created["secret"]
            hooks[party.name] = path
        made = request(client, regulator, transfer["id"]).json()

        for party in (shipper, receiver):
            (got,) = eventually(
                lambda party=party: server.at(hooks[party.name]), what=f"{party.name}'s message"
            )
            assert got.signature_ok
            message = got.message
            assert (message["event"], message["status"], message["transferId"]) == (
                "CorrectionRequested",
                "correction_requested",
                transfer["id"],
            )
            assert (message["txHash"], message["subscriber"]) == (made["requested_tx"], party.address)
        # The regulator who asked is no party of the transfer: it is not told of its own request.
        assert server.at(hooks[regulator.name]) == []
    finally:
        server.stop()


def test_cli_request(client, api_url, tmp_path, regulator, transfer):
    report = tmp_path / "inspection.pdf"
    report.write_bytes(b"inspection report, 2026-03-02")
    keystore, password = keystore_of(regulator, tmp_path)
    result = CliRunner().invoke(
        cli_app,
        ["correction", "request", transfer["id"], "--reason", REASON, "--report", str(report)]
        + ["--api", api_url, "-k", str(keystore), "--password-file", str(password)],
    )
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert made["regulator"] == regulator.address
    assert made["report_hash"] == "0x" + hashlib.sha256(report.read_bytes()).hexdigest()
    assert [r["id"] for r in client.get(f"/transfers/{transfer['id']}/correction-requests").json()] == [
        made["id"]
    ]


def test_a_record_from_before_regulator_actions_gets_only_that_module(tmp_path, settings):
    # A data directory of its own: its own relayer key (the running service's nonces stay its own) and record.
    local = Settings(data_dir=tmp_path, rpc_url=settings.rpc_url)
    first = devstack.ensure_deployment(local, say=lambda _line: None)
    record = local.resolved_deployment_file
    raw = json.loads(record.read_text())
    record.write_text(json.dumps({k: v for k, v in raw.items() if k != "regulator_actions"}))

    relayer = load_account(
        local.resolved_relayer_keystore, read_password_file(local.resolved_relayer_password_file)
    )
    gateway = ChainGateway(local.rpc_url, local.artifacts_dir, relayer=relayer)
    with pytest.raises(RuntimeError, match="names no regulator-actions module"):
        gateway.bind(Deployment.load(record))

    said: list[str] = []
    completed = devstack.ensure_deployment(local, say=said.append)
    # The metered flows (and their state) stay where they are: only the missing module is deployed.
    assert (completed.ledger, completed.processing, completed.metered_flows) == (
        first.ledger,
        first.processing,
        first.metered_flows,
    )
    assert completed.regulator_actions is not None
    assert completed.regulator_actions.address != first.regulator_actions.address
    assert any("names no regulator-actions module" in line for line in said)
    gateway.bind(Deployment.load(record))
