"""Certificates of analysis: an accredited lab certifies a lot; dispatches cite them; revocation stops that."""

from parties import accredited_lab, certify, dispatch, dispatch_terms, register_lot

from ledger_service.statements import REVOKE_CERTIFICATE


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
    # A revocation is final, so its nonce is a salt the ledger does not consume (no nonce slot to pay for).
    assert not client.app.state.runtime.gateway.nonce_used(
        REVOKE_CERTIFICATE, lab.address, int(prepared["typed_data"]["message"]["nonce"])
    )
    revoked = client.post(url, json=lab.signed_body(prepared))
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    assert not client.app.state.runtime.gateway.nonce_used(
        REVOKE_CERTIFICATE, lab.address, int(prepared["typed_data"]["message"]["nonce"])
    )

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


def test_a_regulator_revokes_a_labs_certificate(client, regulator, shipper, receiver):
    lab = accredited_lab(client, regulator)
    certificate = certify(client, lab, shipper.lot_id)
    url = f"/certificates/{certificate['id']}/revocation"
    # The regulator signs the same statement, naming itself where the lab would.
    prepared = client.post(
        url + "/prepare", json={"lab": regulator.address, "reason": "accreditation withdrawn"}
    )
    assert prepared.status_code == 200, prepared.text
    assert prepared.json()["signer"] == regulator.address
    revoked = client.post(url, json=regulator.signed_body(prepared.json()))
    assert revoked.status_code == 200, revoked.text
    body = revoked.json()
    assert (body["lab"], body["revoked"], body["revoked_reason"]) == (
        lab.address,
        True,
        "accreditation withdrawn",
    )
    assert [(e["event"], e["signer"]) for e in body["evidence"]] == [
        ("CertificateIssued", lab.address),
        ("CertificateRevoked", regulator.address),
    ]
    prepared = client.post(
        "/transfers/dispatches/prepare",
        json=dispatch_terms(shipper, receiver, certificates=[certificate["id"]]),
    ).json()
    refused = client.post("/transfers", json=shipper.signed_body(prepared))
    assert refused.status_code == 422 and refused.json()["detail"][0]["type"] == "certificate_revoked"


def test_only_the_issuing_lab_or_a_regulator_revokes(client, regulator, shipper):
    lab, other_lab = accredited_lab(client, regulator), accredited_lab(client, regulator)
    certificate = certify(client, lab, shipper.lot_id)
    url = f"/certificates/{certificate['id']}/revocation"
    for party in (other_lab, shipper):
        refused = client.post(url + "/prepare", json={"lab": party.address, "reason": "not mine"})
        assert refused.status_code == 403, refused.text
        (error,) = refused.json()["detail"]
        assert error["type"] == "not_issuing_lab" and error["loc"][-1] == "lab"
        assert "REGULATOR" in error["msg"]

    # Signed past the service's check (a prepared statement of the lab's, signed by another lab's key naming
    # itself), the ledger refuses it in the same terms.
    prepared = client.post(url + "/prepare", json={"lab": lab.address, "reason": "not mine"}).json()
    message = {**prepared["typed_data"]["message"], "lab": other_lab.address}
    typed = {**prepared["typed_data"], "message": message}
    refused = client.post(url, json={"message": message, "signature": other_lab.sign(typed)})
    assert refused.status_code == 403 and refused.json()["detail"][0]["type"] == "not_issuing_lab"
    assert client.get(f"/certificates/{certificate['id']}").json()["revoked"] is False
