"""The regulator's catalogue over the API: waste codes, permits and their revocation."""

from parties import CODE, SCHEME, Party, ensure_waste_code, register, register_permit


def test_permit_is_registered_with_its_coverage_and_evidence(client, regulator):
    ensure_waste_code(client, regulator)
    plant = Party("Khanh Phu gas plant")
    register(client, regulator, plant, "RECEIVER")
    permit = register_permit(client, regulator, plant, operations=("R5", "R12"), yearly_capacity=6_000_000)
    assert permit["holder"] == plant.address and permit["kind"] == "ENVIRONMENTAL_PERMIT"
    assert [(c["scheme"], c["code"], c["operations"]) for c in permit["coverage"]] == [
        (SCHEME, CODE, ["R5", "R12"])
    ]
    assert permit["yearly_capacity"] == 6_000_000 and permit["revoked"] is False
    assert [(e["event"], e["signer"]) for e in permit["evidence"]] == [
        ("PermitRegistered", regulator.address)
    ]
    assert client.get("/permits", params={"holder": plant.address}).json() == [permit]
    # An address in lower case names the same holder.
    assert client.get("/permits", params={"holder": plant.address.lower()}).json() == [permit]


def test_catalogue_lists_codes_once(client, regulator):
    first = ensure_waste_code(client, regulator)
    terms = {
        "regulator": regulator.address,
        "scheme": SCHEME,
        "code": CODE,
        "unit": "KGM",
        "hazardous": False,
    }
    prepared = client.post("/waste-codes/prepare", json=terms).json()
    again = client.post("/waste-codes", json=regulator.signed_body(prepared))
    assert again.status_code == 409, again.text
    assert again.json()["detail"][0]["type"] == "waste_code_registered"
    codes = client.get("/waste-codes").json()
    assert [c["code_key"] for c in codes].count(first["code_key"]) == 1


def test_permit_for_an_unknown_code_or_backwards_validity_is_refused(client, regulator, receiver):
    base = {
        "regulator": regulator.address,
        "permit_number": "GPMT-X",
        "holder": receiver.address,
        "kind": "ENVIRONMENTAL_PERMIT",
        "yearly_capacity": 10,
        "valid_from": "2026-01-01T00:00:00Z",
        "valid_until": "2027-01-01T00:00:00Z",
    }
    unknown = client.post(
        "/permits/prepare",
        json={**base, "coverage": [{"scheme": SCHEME, "code": "99 99 99", "operations": ["R5"]}]},
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "coverage", 0, "code"]
    backwards = client.post(
        "/permits/prepare",
        json={
            **base,
            "valid_until": "2025-01-01T00:00:00Z",
            "coverage": [{"scheme": SCHEME, "code": CODE, "operations": ["R5"]}],
        },
    )
    assert backwards.status_code == 422 and backwards.json()["detail"][0]["loc"] == ["body", "valid_until"]
    bad_operation = client.post(
        "/permits/prepare",
        json={**base, "coverage": [{"scheme": SCHEME, "code": CODE, "operations": ["R14"]}]},
    )
    assert bad_operation.status_code == 422
    assert bad_operation.json()["detail"][0]["loc"] == ["body", "coverage", 0, "operations", 0]


def test_revoking_twice_is_a_conflict(client, regulator, receiver):
    url = f"/permits/{receiver.permit_id}/revocation"
    terms = {"regulator": regulator.address, "reason": "operator request"}
    first = client.post(url, json=regulator.signed_body(client.post(url + "/prepare", json=terms).json()))
    assert first.status_code == 200 and first.json()["revoked_reason"] == "operator request"
    second = client.post(url, json=regulator.signed_body(client.post(url + "/prepare", json=terms).json()))
    assert second.status_code == 409 and second.json()["detail"][0]["type"] == "permit_revoked"
