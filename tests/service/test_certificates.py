"""Certificates of analysis: an accredited lab certifies a lot; dispatches cite them; revocation stops that."""

from parties import accredited_lab, certify, dispatch, dispatch_terms, register_lot


def test_dispatch_cites_the_lots_certificate(client, regulator, shipper, receiver):
    lab = accredited_lab(client, regulator)
    certificate = certify(client, lab, shipper.lot_id)
    assert (certificate["lot_id"], certificate["lab"], certificate["revoked"]) == (
        shipper.lot_id,
        lab.address,
        False,
    )
    assert [(e["event"], e["signer"]) for e in certificate["evidence"]] == [
        ("CertificateIssued", lab.address)
    ]
    assert client.get(f"/lots/{shipper.lot_id}").json()["certificates"] == [certificate["id"]]

    transfer = dispatch(client, shipper, receiver, certificates=[certificate["id"]])
    assert transfer["certificates"] == [certificate["id"]]


def test_a_revoked_certificate_cannot_be_cited(client, regulator, shipper, receiver):
    lab = accredited_lab(client, regulator)
    certificate = certify(client, lab, shipper.lot_id)
    url = f"/certificates/{certificate['id']}/revocation"
    prepared = client.post(url + "/prepare", json={"lab": lab.address, "reason": "sample mix-up"}).json()
    # The lab's first consumed nonce, whatever random salt its certificate carried.
    assert prepared["typed_data"]["message"]["nonce"] == "0"
    revoked = client.post(url, json=lab.signed_body(prepared))
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True

    prepared = client.post(
        "/transfers/dispatches/prepare",
        json=dispatch_terms(shipper, receiver, certificates=[certificate["id"]]),
    ).json()
    refused = client.post("/transfers", json=shipper.signed_body(prepared))
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["type"] == "certificate_revoked" and error["loc"][-1] == "certificates"


def test_a_certificate_of_another_lot_is_refused_before_signing(client, regulator, shipper, receiver):
    lab = accredited_lab(client, regulator)
    certificate = certify(client, lab, shipper.lot_id)
    other_lot = register_lot(client, shipper, quantity=5_000)["id"]
    response = client.post(
        "/transfers/dispatches/prepare",
        json=dispatch_terms(shipper, receiver, lot_id=other_lot, certificates=[certificate["id"]]),
    )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "certificates", 0] and other_lot in error["msg"]


def test_only_an_accredited_lab_certifies(client, regulator, shipper, receiver):
    lab = accredited_lab(client, regulator)
    terms = {
        "lab": lab.address,
        "lot_id": shipper.lot_id,
        "accreditation_id": receiver.permit_id,
        "document_hash": "0x" + "c1" * 32,
        "results_hash": "0x" + "c2" * 32,
        "valid_until": "2030-01-01T00:00:00Z",
    }
    response = client.post("/certificates/prepare", json=terms)
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "accreditation_id"]
    not_a_lab = client.post(
        "/certificates/prepare", json={**terms, "lab": shipper.address, "accreditation_id": lab.permit_id}
    )
    assert not_a_lab.status_code == 403 and not_a_lab.json()["detail"][0]["type"] == "missing_role"
