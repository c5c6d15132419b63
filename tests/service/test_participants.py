"""Registration and suspension, which only a regulator's signature can bring about."""

from datetime import datetime, timedelta

from parties import Party, dispatch, dispatch_terms, register, sign_in
from workflows import another_relayer

from ledger_service.statements import SET_PARTICIPANT_STATUS


def test_regulator_registers_a_participant_with_evidence(client, regulator):
    firm = Party("Nam Cau Kien Slag")
    record = register(client, regulator, firm, "SHIPPER", "RECEIVER", park="Nam Cau Kien")
    assert record["roles"] == ["SHIPPER", "RECEIVER"]
    assert (record["status"], record["park"], record["registered_by"]) == (
        "active",
        "Nam Cau Kien",
        regulator.address,
    )
    (evidence,) = record["evidence"]
    assert (evidence["event"], evidence["signer"]) == ("ParticipantRegistered", regulator.address)
    assert client.get(f"/participants/{firm.address}").json() == record


def test_times_name_their_zone(client, regulator):
    # RFC 3339 date-times, as the OpenAPI document says: SQLite hands times back without their zone (UTC), and
    # a time without one reads as the client's local time.
    firm = Party("Deep C Glass Powder")
    register(client, regulator, firm, "SHIPPER")
    (evidence,) = client.get(f"/participants/{firm.address}").json()["evidence"]
    assert datetime.fromisoformat(evidence["recorded_at"]).utcoffset() == timedelta(0)


def test_only_a_regulator_may_register(client, regulator, shipper):
    newcomer = Party("newcomer")
    terms = {
        "regulator": shipper.address,
        "participant": newcomer.address,
        "roles": ["RECEIVER"],
        "legal_name": "Newcomer JSC",
        "enterprise_id": "0311111111",
    }
    response = client.post("/participants/registrations/prepare", json=terms)
    assert response.status_code == 403
    (error,) = response.json()["detail"]
    assert error["type"] == "missing_role" and error["loc"][-1] == "regulator" and "REGULATOR" in error["msg"]

    # Signed anyway (typed data built by the regulator's prepare, then altered): the chain refuses it too.
    prepared = client.post(
        "/participants/registrations/prepare", json={**terms, "regulator": regulator.address}
    )
    typed = prepared.json()["typed_data"]
    typed["message"]["regulator"] = shipper.address
    submitted = client.post(
        "/participants", json={"message": typed["message"], "signature": shipper.sign(typed)}
    )
    assert submitted.status_code == 403 and submitted.json()["detail"][0]["type"] == "missing_role"
    assert client.get(f"/participants/{newcomer.address}").status_code == 404


def test_registering_twice_is_a_conflict(client, regulator, shipper):
    terms = {
        "regulator": regulator.address,
        "participant": shipper.address,
        "roles": ["LAB"],
        "legal_name": "Again",
        "enterprise_id": "1",
    }
    prepared = client.post("/participants/registrations/prepare", json=terms).json()
    response = client.post("/participants", json=regulator.signed_body(prepared))
    assert response.status_code == 409 and response.json()["detail"][0]["loc"][-1] == "participant"


def test_suspended_shipper_cannot_dispatch_until_reinstated(client, regulator, shipper, receiver):
    def set_status(suspended: bool) -> dict:
        prepared = client.post(
            f"/participants/{shipper.address}/status/prepare",
            json={"regulator": regulator.address, "suspended": suspended, "reason": "permit under review"},
        )
        assert prepared.status_code == 200, prepared.text
        response = client.post(
            f"/participants/{shipper.address}/status", json=regulator.signed_body(prepared.json())
        )
        assert response.status_code == 200, response.text
        return response.json()

    assert set_status(True)["status"] == "suspended"
    prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver))
    assert prepared.status_code == 403
    (error,) = prepared.json()["detail"]
    assert error["type"] == "suspended_participant" and error["loc"][-1] == "shipper"

    reinstated = set_status(False)
    assert reinstated["status"] == "active"
    assert [e["event"] for e in reinstated["evidence"]] == [
        "ParticipantRegistered",
        "ParticipantSuspended",
        "ParticipantReinstated",
    ]
    assert dispatch(client, shipper, receiver)["status"] == "dispatched"


def test_suspended_receiver_cannot_sign_receipt(client, regulator, shipper, receiver):
    transfer = dispatch(client, shipper, receiver)
    receipt = client.post(
        f"/transfers/{transfer['id']}/receipt/prepare", json={"received_quantity": 1}
    ).json()
    suspension = client.post(
        f"/participants/{receiver.address}/status/prepare",
        json={"regulator": regulator.address, "suspended": True, "reason": "licence revoked"},
    ).json()
    assert client.post(
        f"/participants/{receiver.address}/status", json=regulator.signed_body(suspension)
    ).is_success
    response = client.post(f"/transfers/{transfer['id']}/receipt", json=receiver.signed_body(receipt))
    assert response.status_code == 403 and response.json()["detail"][0]["type"] == "suspended_participant"


def test_a_suspension_relayed_by_someone_else_stops_the_next_write_at_once_and_reads_once_indexed(
    client, regulator, receiver
):
    firm = Party("Lach Huyen Fly Ash")
    register(client, regulator, firm, "SHIPPER")
    as_firm = sign_in(client, firm)
    assert client.get(f"/participants/{firm.address}", headers=as_firm).status_code == 200
    prepared = client.post(
        f"/participants/{firm.address}/status/prepare",
        json={"regulator": regulator.address, "suspended": True, "reason": "ash pond leak"},
    ).json()
    body = regulator.signed_body(prepared)
    other = another_relayer(client)  # this service never sees the suspension
    call = other.statement_call(SET_PARTICIPANT_STATUS, body["message"], bytes.fromhex(body["signature"][2:]))
    assert other.wait_for_receipt(other.send(call, other.simulate(call) * 2), timeout=10, poll=0.05)["status"]

    # A write asks the chain: refused at once, whether or not the suspension is indexed yet.
    response = client.post(
        "/transfers/dispatches/prepare", json=dispatch_terms(firm, receiver), headers=as_firm
    )
    assert response.status_code == 403 and response.json()["detail"][0]["type"] == "participant_not_active"
    # A read takes the standing from the read model: refused once the indexer has read the suspension.
    client.app.state.runtime.indexer.sync()
    response = client.get(f"/participants/{firm.address}", headers=as_firm)
    assert response.status_code == 403 and "is suspended" in response.json()["detail"][0]["msg"]
