"""Parties with their own keys, and the calls every test makes to register and dispatch."""

from typing import Any

from eth_account import Account
from fastapi.testclient import TestClient


class Party:
    """A party holding its own key; the service only ever sees its signatures."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.account = Account.create()
        self.address = self.account.address

    def sign(self, typed_data: dict[str, Any]) -> str:
        return (
            "0x" + bytes(Account.sign_typed_data(self.account.key, full_message=typed_data).signature).hex()
        )

    def signed_body(self, prepared: dict[str, Any]) -> dict[str, Any]:
        typed = prepared["typed_data"]
        return {"message": typed["message"], "signature": self.sign(typed)}


def register(client: TestClient, regulator: Party, party: Party, *roles: str, park: str = "Phu My 3") -> dict:
    prepared = client.post(
        "/participants/registrations/prepare",
        json={
            "regulator": regulator.address,
            "participant": party.address,
            "roles": list(roles),
            "legal_name": f"{party.name} JSC",
            "enterprise_id": f"03{abs(hash(party.address)) % 10**8:08d}",
            "park": park,
        },
    )
    assert prepared.status_code == 200, prepared.text
    response = client.post("/participants", json=regulator.signed_body(prepared.json()))
    assert response.status_code == 201, response.text
    return response.json()


def dispatch_terms(sender: Party, recipient: Party, /, **overrides: Any) -> dict[str, Any]:
    terms = {
        "shipper": sender.address,
        "receiver": recipient.address,
        "lot_id": "0x" + "1a" * 32,
        "waste_code": "10 02 02",
        "quantity": 12_300,
        "unit": "KGM",
        "document_hash": "0x" + "d0" * 32,
    }
    return {**terms, **overrides}


def dispatch(client: TestClient, shipper: Party, receiver: Party, **overrides: Any) -> dict[str, Any]:
    prepared = client.post(
        "/transfers/dispatches/prepare", json=dispatch_terms(shipper, receiver, **overrides)
    )
    assert prepared.status_code == 200, prepared.text
    response = client.post("/transfers", json=shipper.signed_body(prepared.json()))
    assert response.status_code == 201, response.text
    return response.json()
