"""Transport legs: custody passes transporter by transporter; hazardous waste needs licensed carriers."""

from datetime import UTC, datetime, timedelta

from parties import (
    Party,
    dispatch,
    dispatch_terms,
    ensure_waste_code,
    register,
    register_permit,
    signed_submit,
)

ZERO = "0x" + "00" * 32


def handover(client, transporter: Party, transfer_id: str, leg: int, kind: str):
    url = f"/transfers/{transfer_id}/legs/{leg}/{kind}"
    prepared = client.post(url + "/prepare", json={})
    assert prepared.status_code == 200, prepared.text
    return client.post(url, json=transporter.signed_body(prepared.json()))


def test_custody_passes_leg_by_leg_before_receipt(client, regulator, shipper, receiver):
    first, second = Party("truck"), Party("barge")
    register(client, regulator, first, "TRANSPORTER")
    register(client, regulator, second, "TRANSPORTER")
    transfer = dispatch(client, shipper, receiver, transporters=[first.address, second.address])
    assert transfer["status"] == "awaiting_pick_up" and transfer["transporters"] == [
        first.address,
        second.address,
    ]
    assert (
        client.post(f"/transfers/{transfer['id']}/receipt/prepare", json={"received_quantity": 1}).status_code
        == 409
    )

    early = handover(
        client, second, transfer["id"], 1, "pick-up"
    )  # the barge cannot take it before the truck delivers
    assert early.status_code == 409 and early.json()["detail"][0]["type"] == "leg_out_of_order"
    steps = [
        (first, 0, "pick-up", "in_transit"),
        (first, 0, "delivery", "in_transit"),
        (second, 1, "pick-up", "in_transit"),
        (second, 1, "delivery", "delivered"),
    ]
    for transporter, leg, kind, status in steps:
        response = handover(client, transporter, transfer["id"], leg, kind)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
    record = client.get(f"/transfers/{transfer['id']}").json()
    assert (record["legs_picked_up"], record["legs_delivered"]) == (2, 2)
    assert [(e["event"], e["signer"]) for e in record["evidence"][1:]] == [
        ("TransferCarried", None),
        ("LegPickedUp", first.address),
        ("LegDelivered", first.address),
        ("LegPickedUp", second.address),
        ("LegDelivered", second.address),
    ]
    prepared = client.post(
        f"/transfers/{transfer['id']}/receipt/prepare", json={"received_quantity": 12_300}
    ).json()
    assert (
        client.post(f"/transfers/{transfer['id']}/receipt", json=receiver.signed_body(prepared)).json()[
            "status"
        ]
        == "received"
    )


def test_hazardous_waste_needs_a_licensed_transporter(client, regulator):
    scheme, code = "EU-LOW", "13 02 05*"
    ensure_waste_code(client, regulator, scheme, code, unit="LTR", hazardous=True)
    generator, refinery, carrier = Party("garage"), Party("re-refinery"), Party("tanker")
    register(client, regulator, generator, "SHIPPER")
    register(client, regulator, refinery, "RECEIVER")
    register(client, regulator, carrier, "TRANSPORTER")
    register_permit(
        client,
        regulator,
        refinery,
        operations=("R9",),
        coverage=[{"scheme": scheme, "code": code, "operations": ["R9"]}],
    )
    lot = signed_submit(
        client,
        generator,
        "/lots/prepare",
        {
            "generator": generator.address,
            "waste_scheme": scheme,
            "waste_code": code,
            "quantity": 8_000,
            "unit": "LTR",
            "document_hash": "0x" + "0e" * 32,
        },
        "/lots",
    )
    generator.lot_id = lot["id"]
    terms = dispatch_terms(
        generator, refinery, quantity=7_999, operation="R9", transporters=[carrier.address]
    )
    prepared = client.post("/transfers/dispatches/prepare", json=terms).json()
    refused = client.post("/transfers", json=generator.signed_body(prepared))
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["type"] == "unlicensed_transporter" and carrier.address in error["msg"]

    now = datetime.now(UTC)
    licence = register_permit(
        client,
        regulator,
        carrier,
        kind="HW_TRANSPORT_LICENCE",
        coverage=[{"scheme": scheme, "code": code, "operations": ["R9"]}],
        valid_from=(now - timedelta(days=1)).isoformat(),
    )
    terms["licences"] = [licence["permit_id"]]
    prepared = client.post("/transfers/dispatches/prepare", json=terms).json()
    accepted = client.post("/transfers", json=generator.signed_body(prepared))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["licences"] == [licence["permit_id"]]
    # The generator carrying its own waste needs no licence.
    own = dispatch_terms(generator, refinery, quantity=1, operation="R9", transporters=[generator.address])
    prepared = client.post("/transfers/dispatches/prepare", json=own).json()
    carried_by_itself = client.post("/transfers", json=generator.signed_body(prepared))
    assert carried_by_itself.status_code == 201, carried_by_itself.text
    assert carried_by_itself.json()["licences"] == [ZERO]
