"""Parties with their own keys, and the calls every test makes to register and dispatch."""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_account import Account
from fastapi.testclient import TestClient


class Party:
    """A party holding its own key; the service only ever sees its signatures."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.account = Account.create()
        self.address = self.account.address
        self.lot_id: str | None = None  # a generated lot the party holds, once registered
        self.permit_id: str | None = None  # the party's environmental permit, once registered

    def sign(self, typed_data: dict[str, Any]) -> str:
        return (
            "0x" + bytes(Account.sign_typed_data(self.account.key, full_message=typed_data).signature).hex()
        )

    def signed_body(self, prepared: dict[str, Any]) -> dict[str, Any]:
        typed = prepared["typed_data"]
        return {"message": typed["message"], "signature": self.sign(typed)}


def register(
    client: TestClient,
    regulator: Party,
    party: Party,
    *roles: str,
    park: str = "Phu My 3",
    enterprise_id: str | None = None,
) -> dict:
    prepared = client.post(
        "/participants/registrations/prepare",
        json={
            "regulator": regulator.address,
            "participant": party.address,
            "roles": list(roles),
            "legal_name": f"{party.name} JSC",
            "enterprise_id": enterprise_id or f"03{abs(hash(party.address)) % 10**8:08d}",
            "park": park,
        },
    )
    assert prepared.status_code == 200, prepared.text
    response = client.post("/participants", json=regulator.signed_body(prepared.json()))
    assert response.status_code == 201, response.text
    return response.json()


# The waste code every test ships: granulated blast-furnace slag, as crushed into aggregate.
SCHEME, CODE, UNIT = "EU-LOW", "10 02 02", "KGM"
_permit_numbers = itertools.count(1)


def signed_submit(client: TestClient, party: Party, prepare_path: str, terms: dict, submit_path: str) -> dict:
    prepared = client.post(prepare_path, json=terms)
    assert prepared.status_code == 200, prepared.text
    response = client.post(submit_path, json=party.signed_body(prepared.json()))
    assert response.status_code in (200, 201), response.text
    return response.json()


def ensure_waste_code(
    client: TestClient,
    regulator: Party,
    scheme: str = SCHEME,
    code: str = CODE,
    unit: str = UNIT,
    hazardous: bool = False,
    description: str | None = None,
) -> dict:
    for known in client.get("/waste-codes").json():
        if (known["scheme"], known["code"]) == (scheme, code):
            return known
    terms = {
        "regulator": regulator.address,
        "scheme": scheme,
        "code": code,
        "unit": unit,
        "hazardous": hazardous,
        "description": description or f"{scheme} {code}",
    }
    return signed_submit(client, regulator, "/waste-codes/prepare", terms, "/waste-codes")


def register_permit(
    client: TestClient,
    regulator: Party,
    holder: Party,
    operations: tuple[str, ...] = ("R5",),
    **overrides: Any,
) -> dict:
    now = datetime.now(UTC)
    terms = {
        "regulator": regulator.address,
        "permit_number": f"GPMT-{next(_permit_numbers):04d}/{holder.address[2:8]}",
        "holder": holder.address,
        "kind": "ENVIRONMENTAL_PERMIT",
        "coverage": [{"scheme": SCHEME, "code": CODE, "operations": list(operations)}],
        "yearly_capacity": 10**9,
        "valid_from": (now - timedelta(days=30)).isoformat(),
        "valid_until": (now + timedelta(days=365)).isoformat(),
        **overrides,
    }
    permit = signed_submit(client, regulator, "/permits/prepare", terms, "/permits")
    holder.permit_id = permit["permit_id"]
    return permit


def register_lot(
    client: TestClient,
    generator: Party,
    quantity: int = 100_000,
    scheme: str = SCHEME,
    code: str = CODE,
    unit: str = UNIT,
) -> dict:
    terms = {
        "generator": generator.address,
        "waste_scheme": scheme,
        "waste_code": code,
        "quantity": quantity,
        "unit": unit,
        "document_hash": "0x" + "9e" * 32,
    }
    lot = signed_submit(client, generator, "/lots/prepare", terms, "/lots")
    generator.lot_id = lot["id"]
    return lot


def dispatch_terms(sender: Party, recipient: Party, /, **overrides: Any) -> dict[str, Any]:
    terms = {
        "shipper": sender.address,
        "receiver": recipient.address,
        "lot_id": sender.lot_id or "0x" + "1a" * 32,
        "quantity": 12_300,
        "operation": "R5",
        "permit_id": recipient.permit_id or "0x" + "2b" * 32,
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


def trading_pair(client: TestClient, regulator: Party) -> tuple[Party, Party]:
    """A registered shipper holding a generated lot, and a registered receiver with a permit for it."""
    ensure_waste_code(client, regulator)
    shipper, receiver = Party("shipper"), Party("receiver")
    register(client, regulator, shipper, "SHIPPER")
    register(client, regulator, receiver, "RECEIVER")
    register_lot(client, shipper)
    register_permit(client, regulator, receiver)
    return shipper, receiver


def accredited_lab(client: TestClient, regulator: Party) -> Party:
    """A registered LAB holding a lab accreditation (its permit id in `permit_id`)."""
    lab = Party("lab")
    register(client, regulator, lab, "LAB")
    now = datetime.now(UTC)
    terms = {
        "regulator": regulator.address,
        "permit_number": f"VILAS-{next(_permit_numbers):04d}",
        "holder": lab.address,
        "kind": "LAB_ACCREDITATION",
        "valid_from": (now - timedelta(days=30)).isoformat(),
        "valid_until": (now + timedelta(days=365)).isoformat(),
    }
    lab.permit_id = signed_submit(client, regulator, "/permits/prepare", terms, "/permits")["permit_id"]
    return lab


def certify(client: TestClient, lab: Party, lot_id: str, valid_days: int = 180, **overrides: Any) -> dict:
    terms = {
        "lab": lab.address,
        "lot_id": lot_id,
        "accreditation_id": lab.permit_id,
        "document_hash": "0x" + "c1" * 32,
        "results_hash": "0x" + "c2" * 32,
        "valid_until": (datetime.now(UTC) + timedelta(days=valid_days)).isoformat(),
        **overrides,
    }
    return signed_submit(client, lab, "/certificates/prepare", terms, "/certificates")


def signed_challenge(client: TestClient, party: Party) -> dict[str, str]:
    """A sign-in challenge for `party`, signed with its key: the body of POST /auth/token."""
    from eth_account.messages import encode_defunct

    challenge = client.post("/auth/challenge", json={"address": party.address})
    assert challenge.status_code == 200, challenge.text
    message = challenge.json()["message"]
    signature = Account.sign_message(encode_defunct(text=message), party.account.key).signature
    return {"message": message, "signature": "0x" + bytes(signature).hex()}


def sign_in(client: TestClient, party: Party) -> dict[str, str]:
    """Signs `party` in with its own key; returns the Authorization header for its requests."""
    token = client.post("/auth/token", json=signed_challenge(client, party))
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}
