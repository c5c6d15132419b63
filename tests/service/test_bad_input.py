"""Bad input: a 4xx JSON error naming the field and the reason, and nothing written anywhere."""

import pytest
from parties import Party, dispatch_terms
from workflows import leaves_no_trace, only_error


@pytest.fixture
def nothing_written(client):
    """Asserts after the test that nothing was recorded anywhere."""
    with leaves_no_trace(client):
        yield


@pytest.mark.parametrize(
    ("override", "field", "reason"),
    [
        ({"receiver": "0x1234"}, "receiver", "not an address"),
        (
            {"receiver": "0x52908400098527886E0F7030069857D2E4169EE7".replace("E", "e", 1)},
            "receiver",
            "checksum",
        ),
        ({"quantity": 0}, "quantity", "greater than 0"),
        ({"quantity": -5}, "quantity", "greater than 0"),
        ({"quantity": 1.5}, "quantity", "integer"),
        ({"quantity": "a lot"}, "quantity", "integer"),
        ({"quantity": 2**56}, "quantity", "less than or equal"),
        ({"operation": "R99"}, "operation", "unknown operation"),
        ({"lot_id": "LOT-1"}, "lot_id", "pattern"),
        ({"permit_id": "GPMT-1"}, "permit_id", "pattern"),
    ],
)
def test_malformed_dispatch_terms_name_the_field(
    client, shipper, receiver, nothing_written, override, field, reason
):
    response = client.post(
        "/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver, **override)
    )
    error = only_error(response, 422)
    assert error["loc"] == ["body", field]
    assert reason.lower() in error["msg"].lower()


def test_unknown_receiver_is_named(client, shipper, nothing_written):
    stranger = Party("stranger")
    error = only_error(
        client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, stranger)), 422
    )
    assert error["type"] == "unregistered_participant" and error["loc"][-1] == "receiver"
    assert stranger.address in error["msg"]


def test_wrong_role_is_forbidden(client, shipper, receiver, nothing_written):
    # The receiver tries to ship: it holds no SHIPPER role.
    error = only_error(
        client.post("/transfers/dispatches/prepare", json=dispatch_terms(receiver, shipper)), 403
    )
    assert error["type"] == "missing_role" and error["loc"][-1] == "shipper"


@pytest.mark.parametrize(
    ("signature", "status", "loc_end"),
    [
        ("0x" + "00" * 65, 422, "signature"),  # well-formed but no one's signature
        ("0xdeadbeef", 422, "signature"),  # too short to be a signature
        ("not hex", 422, "signature"),
    ],
)
def test_bad_signature(client, shipper, receiver, nothing_written, signature, status, loc_end):
    prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)).json()
    response = client.post(
        "/transfers", json={"message": prepared["typed_data"]["message"], "signature": signature}
    )
    assert only_error(response, status)["loc"][-1] == loc_end


def test_tampered_message_is_refused(client, shipper, receiver, nothing_written):
    prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver)).json()
    body = shipper.signed_body(prepared)
    body["message"]["quantity"] = "1"  # the relayer (or anyone) cannot change what the shipper signed
    error = only_error(client.post("/transfers", json=body), 422)
    assert error["type"] == "invalid_signature"


def test_a_body_not_in_utf8_is_malformed_json(client, nothing_written):
    response = client.post(
        "/transfers/dispatches/prepare",
        content=b'{"quantity": "\xff"}',
        headers={"Content-Type": "application/json"},
    )
    error = only_error(response, 422)
    assert (error["loc"], error["type"]) == (["body"], "json_invalid")
    assert "UTF-8" in error["msg"]


@pytest.mark.parametrize(
    ("path", "loc"),
    [
        ("/permits?holder=%00", ["query", "holder"]),
        ("/lots?park=Dinh%00Vu", ["query", "park"]),
        ("/verification/parks/Dinh%00Vu", ["path", "park"]),
    ],
)
def test_a_nul_character_in_a_parameter_is_refused_by_name(client, path, loc):
    # PostgreSQL cannot compare text holding U+0000: refused before any query (these were 500s there).
    error = only_error(client.get(path), 422)
    assert (error["loc"], error["type"]) == (loc, "nul_character")


def test_a_nul_character_in_a_body_is_refused_by_name(client):
    # …nor store it (this was a 500 on PostgreSQL).
    response = client.post(
        "/webhooks", json={"url": "https://erp.example.com/hooks", "description": "ERP\x00"}
    )
    error = only_error(response, 422)
    assert error["loc"] == ["body"] and "description contains a NUL character" in error["msg"]


def test_unknown_fields_are_refused(client, shipper, receiver, nothing_written):
    response = client.post(
        "/transfers/dispatches/prepare", json={**dispatch_terms(shipper, receiver), "price": 3}
    )
    assert only_error(response, 422)["loc"] == ["body", "price"]


def test_lot_in_the_wrong_unit_is_refused(client, shipper, nothing_written):
    terms = {
        "generator": shipper.address,
        "waste_scheme": "EU-LOW",
        "waste_code": "10 02 02",
        "quantity": 5,
        "unit": "LTR",
        "document_hash": "0x" + "00" * 32,
    }
    error = only_error(client.post("/lots/prepare", json=terms), 422)
    assert error["loc"] == ["body", "unit"] and "KGM" in error["msg"]
    unknown = only_error(client.post("/lots/prepare", json={**terms, "waste_code": "99 99 99"}), 422)
    assert unknown["type"] == "unknown_waste_code"


def test_unknown_transfer_is_404(client, nothing_written):
    response = client.get("/transfers/0x" + "ee" * 32)
    assert only_error(response, 404)["loc"] == ["path", "transfer_id"]
    assert only_error(client.get("/transfers/42"), 422)["loc"] == ["path", "transfer_id"]
