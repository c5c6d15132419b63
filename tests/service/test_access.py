"""The access matrix: every endpoint of the API × every kind of caller.

Callers: anonymous, the regulator, the park operator of the parties' park and one of another park, the
shipper, the receiver, the transporter and the lab of a transfer, a firm with nothing to do with it, and a
participant suspended after it signed in. Each endpoint has a policy below; the test fails for an endpoint
the app has and the table lacks, so a new endpoint cannot ship without its rule.

Policies:
- PUBLIC: anyone, signed in or not.
- SIGNED_IN: any active participant (writes: the statement's signature is what the ledger checks, so the
  answer may be a business refusal, never an authorisation one); anonymous 401, suspended 403.
- SCOPED: as SIGNED_IN, and a record the caller may not see answers 404, as if it did not exist.
"""

import pytest
from fastapi.testclient import TestClient
from parties import (
    Party,
    accredited_lab,
    certify,
    dispatch,
    register,
    sign_in,
    signed_submit,
    trading_pair,
)

PUBLIC, SIGNED_IN, SCOPED = "public", "signed-in", "scoped"

# Who may see the world's transfer, its lot and certificate (SCOPED endpoints); the others get 404.
SEES_TRANSFER = {"regulator", "park_operator", "shipper", "receiver", "transporter"}
SEES_LOT = {"regulator", "park_operator", "shipper", "receiver", "transporter", "lab"}
SEES_CERTIFICATE = SEES_LOT
# Who may verify the shipper's firm and its park ("Phu My 3").
SEES_FIRM = {"regulator", "park_operator", "shipper"}
SEES_PARK = {"regulator", "park_operator"}

POLICY: dict[tuple[str, str], tuple[str, set[str] | None]] = {
    ("GET", "/health"): (PUBLIC, None),
    ("GET", "/deployment"): (PUBLIC, None),
    ("POST", "/auth/challenge"): (PUBLIC, None),
    ("POST", "/auth/token"): (PUBLIC, None),
    ("GET", "/auth/me"): (SIGNED_IN, None),
    ("POST", "/auth/logout"): (SIGNED_IN, None),
    ("POST", "/participants/registrations/prepare"): (SIGNED_IN, None),
    ("POST", "/participants"): (SIGNED_IN, None),
    ("POST", "/participants/{address}/status/prepare"): (SIGNED_IN, None),
    ("POST", "/participants/{address}/status"): (SIGNED_IN, None),
    ("GET", "/participants/{address}"): (SIGNED_IN, None),
    ("GET", "/participants"): (SIGNED_IN, None),
    ("POST", "/waste-codes/prepare"): (SIGNED_IN, None),
    ("POST", "/waste-codes"): (SIGNED_IN, None),
    ("GET", "/waste-codes"): (SIGNED_IN, None),
    ("POST", "/permits/prepare"): (SIGNED_IN, None),
    ("POST", "/permits"): (SIGNED_IN, None),
    ("POST", "/permits/{permit_id}/revocation/prepare"): (SIGNED_IN, None),
    ("POST", "/permits/{permit_id}/revocation"): (SIGNED_IN, None),
    ("GET", "/permits/{permit_id}"): (SIGNED_IN, None),
    ("GET", "/permits"): (SIGNED_IN, None),
    ("POST", "/lots/prepare"): (SIGNED_IN, None),
    ("POST", "/lots"): (SIGNED_IN, None),
    ("GET", "/lots/{lot_id}"): (SCOPED, SEES_LOT),
    ("GET", "/lots"): (SIGNED_IN, None),  # filtered: test_lot_lists_are_scoped
    ("GET", "/lots/{lot_id}/lineage/graph"): (SCOPED, SEES_LOT),  # redaction: test_lineage.py
    ("POST", "/certificates/prepare"): (SIGNED_IN, None),
    ("POST", "/certificates"): (SIGNED_IN, None),
    ("POST", "/certificates/{certificate_id}/revocation/prepare"): (SIGNED_IN, None),
    ("POST", "/certificates/{certificate_id}/revocation"): (SIGNED_IN, None),
    ("GET", "/certificates/{certificate_id}"): (SCOPED, SEES_CERTIFICATE),
    ("POST", "/transfers/dispatches/prepare"): (SIGNED_IN, None),
    ("POST", "/transfers"): (SIGNED_IN, None),
    ("POST", "/transfers/batches"): (SIGNED_IN, None),
    ("POST", "/transfers/{transfer_id}/receipt/prepare"): (SIGNED_IN, None),
    ("POST", "/transfers/{transfer_id}/receipt"): (SIGNED_IN, None),
    ("POST", "/transfers/{transfer_id}/legs/{leg}/{handover}/prepare"): (SIGNED_IN, None),
    ("POST", "/transfers/{transfer_id}/legs/{leg}/{handover}"): (SIGNED_IN, None),
    ("GET", "/transfers/{transfer_id}"): (SCOPED, SEES_TRANSFER),
    ("GET", "/transfers"): (SIGNED_IN, None),  # filtered: test_transfer_lists_are_scoped
    ("POST", "/transfers/{transfer_id}/rejection/prepare"): (SIGNED_IN, None),
    ("POST", "/transfers/{transfer_id}/rejection"): (SIGNED_IN, None),
    ("GET", "/transfers/{transfer_id}/corrections"): (SCOPED, SEES_TRANSFER),
    ("POST", "/transfers/{transfer_id}/corrections/prepare"): (SIGNED_IN, None),
    ("POST", "/transfers/{transfer_id}/corrections"): (SIGNED_IN, None),
    ("POST", "/transfers/{transfer_id}/corrections/{correction_id}/countersignature/prepare"): (
        SIGNED_IN,
        None,
    ),
    ("POST", "/transfers/{transfer_id}/corrections/{correction_id}/countersignature"): (SIGNED_IN, None),
    ("GET", "/transfers/{transfer_id}/correction-requests"): (SCOPED, SEES_TRANSFER),
    ("POST", "/transfers/{transfer_id}/correction-requests/prepare"): (SIGNED_IN, None),
    ("POST", "/transfers/{transfer_id}/correction-requests"): (SIGNED_IN, None),
    ("POST", "/processings/prepare"): (SIGNED_IN, None),
    ("POST", "/processings"): (SIGNED_IN, None),
    # Scoped like a transfer (the processor's records); the world has none, so every caller gets 404 here
    # and the rule is exercised in test_processing.py.
    ("GET", "/processings/{processing_id}"): (SIGNED_IN, None),
    ("GET", "/lots/{lot_id}/lineage"): (SCOPED, SEES_LOT),
    ("POST", "/lots/{lot_id}/uses/prepare"): (SIGNED_IN, None),
    ("POST", "/lots/{lot_id}/uses"): (SIGNED_IN, None),
    ("POST", "/flows/prepare"): (SIGNED_IN, None),
    ("POST", "/flows"): (SIGNED_IN, None),
    ("POST", "/flows/{flow_id}/periods/prepare"): (SIGNED_IN, None),
    ("POST", "/flows/{flow_id}/periods"): (SIGNED_IN, None),
    ("GET", "/flows/{flow_id}"): (SIGNED_IN, None),  # scoped to its two parties: test_flows.py
    ("GET", "/flows/{flow_id}/totals"): (SIGNED_IN, None),
    # A party's own subscriptions only: another's answers 404 (test_webhooks.py).
    ("POST", "/webhooks"): (SIGNED_IN, None),
    ("GET", "/webhooks"): (SIGNED_IN, None),
    ("DELETE", "/webhooks/{webhook_id}"): (SIGNED_IN, None),
    ("GET", "/webhooks/{webhook_id}/deliveries"): (SIGNED_IN, None),
    ("POST", "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): (SIGNED_IN, None),
    # A party not entitled to a document, or a non-regulator reading the audit log, gets 403 (and the
    # refused read an audit entry): test_documents.py.
    ("POST", "/documents"): (SIGNED_IN, None),
    ("GET", "/documents/audit"): (SIGNED_IN, None),
    ("GET", "/documents/{sha256}"): (SIGNED_IN, None),
    ("GET", "/verification/contracts"): (SIGNED_IN, None),
    # In a lot's lineage, others' records tell their verdict only: test_verification.py.
    ("GET", "/verification/lots/{lot_id}"): (SCOPED, SEES_LOT),
    ("GET", "/verification/transfers/{transfer_id}"): (SCOPED, SEES_TRANSFER),
    ("GET", "/verification/firms/{address}"): (SCOPED, SEES_FIRM),
    ("GET", "/verification/parks/{park}"): (SCOPED, SEES_PARK),
    ("GET", "/kpis/firms/{address}"): (SCOPED, SEES_FIRM),
    ("GET", "/kpis/parks/{park}"): (SCOPED, SEES_PARK),
    ("GET", "/reports/firms/{address}.pdf"): (SCOPED, SEES_FIRM),
    ("GET", "/reports/parks/{park}.pdf"): (SCOPED, SEES_PARK),
    # An evidence bundle carries every party's signed records: a non-regulator gets 403 (test_bundles.py).
    ("GET", "/verification/lots/{lot_id}/bundle"): (SIGNED_IN, None),
    ("GET", "/verification/transfers/{transfer_id}/bundle"): (SIGNED_IN, None),
    # The park or firm is a query parameter, scoped as for /verification/parks and /firms: test_exports.py.
    ("GET", "/exports/registry"): (SIGNED_IN, None),
    ("GET", "/exports/epcis"): (SIGNED_IN, None),
    ("GET", "/exports/emanifest"): (SIGNED_IN, None),
}

CALLERS = [
    "anonymous",
    "regulator",
    "park_operator",
    "other_park_operator",
    "shipper",
    "receiver",
    "transporter",
    "lab",
    "unrelated",
    "suspended",
]


@pytest.fixture(scope="module")
def world(client: TestClient, regulator: Party) -> dict:
    """A transfer from a shipper to a receiver in park "Phu My 3", carried by a transporter, of a lot a lab
    certified; a park operator of that park and one of another; an unrelated firm; a suspended one."""
    shipper, receiver = trading_pair(client, regulator)
    transporter, operator, other_operator, unrelated, suspended = (
        Party(n) for n in ("truck", "park operator", "other park operator", "unrelated", "suspended")
    )
    register(client, regulator, transporter, "TRANSPORTER")
    register(client, regulator, operator, "PARK_OPERATOR", park="Phu My 3")
    register(client, regulator, other_operator, "PARK_OPERATOR", park="Hiep Phuoc")
    register(client, regulator, unrelated, "SHIPPER", "RECEIVER", park="Hiep Phuoc")
    register(client, regulator, suspended, "SHIPPER", park="Hiep Phuoc")
    lab = accredited_lab(client, regulator)
    certificate = certify(client, lab, shipper.lot_id)
    transfer = dispatch(
        client,
        shipper,
        receiver,
        certificates=[certificate["id"]],
        transporters=[transporter.address],
    )
    parties = {
        "regulator": regulator,
        "park_operator": operator,
        "other_park_operator": other_operator,
        "shipper": shipper,
        "receiver": receiver,
        "transporter": transporter,
        "lab": lab,
        "unrelated": unrelated,
        "suspended": suspended,
    }
    headers = {name: sign_in(client, party) for name, party in parties.items()}
    headers["anonymous"] = {"Authorization": ""}
    # A second token of the suspended firm, taken while it could still sign in: the one it signs out.
    spare = sign_in(client, suspended)
    signed_submit(
        client,
        regulator,
        f"/participants/{suspended.address}/status/prepare",
        {"regulator": regulator.address, "suspended": True, "reason": "inspection"},
        f"/participants/{suspended.address}/status",
    )
    path_values = {
        "address": shipper.address,
        "permit_id": receiver.permit_id,
        "lot_id": shipper.lot_id,
        "certificate_id": certificate["id"],
        "transfer_id": transfer["id"],
        "correction_id": "0x" + "cc" * 32,
        "leg": "0",
        "handover": "pick-up",
        "sha256": "0x" + "d0" * 32,
        "processing_id": "0x" + "9c" * 32,
        "flow_id": "0x" + "f1" * 32,
        "webhook_id": "00000000-0000-0000-0000-000000000000",
        "delivery_id": "1",
        "park": "Phu My 3",
    }
    return {
        "headers": headers,
        "spare_suspended": spare,
        "paths": path_values,
        "transfer": transfer,
        "parties": parties,
    }


def _routes(client: TestClient) -> list[tuple[str, str]]:
    """Every endpoint the app serves, as its OpenAPI document lists them."""
    routes = sorted(
        (method.upper(), path)
        for path, operations in client.app.openapi()["paths"].items()
        for method in operations
    )
    # Signing out revokes a token: last.
    return sorted(routes, key=lambda route: route == ("POST", "/auth/logout"))


def test_every_endpoint_has_a_policy(client: TestClient) -> None:
    served = set(_routes(client))
    assert len(served) >= 40
    assert served == set(POLICY), (
        f"classify in POLICY: {sorted(served - set(POLICY))}; gone: {sorted(set(POLICY) - served)}"
    )


@pytest.mark.parametrize("caller", CALLERS)
def test_access_matrix(client: TestClient, world: dict, caller: str) -> None:
    headers = world["headers"][caller]
    for method, path in _routes(client):
        policy, allowed = POLICY[(method, path)]
        url = path.format(**world["paths"])
        if (method, path) == ("POST", "/auth/logout") and caller in world["parties"]:
            # Sign out a token of its own, not the world's.
            fresh = (
                world["spare_suspended"]
                if caller == "suspended"
                else sign_in(client, world["parties"][caller])
            )
            headers = fresh
        response = client.request(method, url, headers=headers, json={} if method == "POST" else None)
        expected = _expected(policy, allowed, caller, method, path)
        assert expected(response), f"{caller} {method} {path}: {response.status_code} {response.text[:200]}"


def test_transfer_lists_are_scoped(client: TestClient, world: dict) -> None:
    transfer_id = world["transfer"]["id"]
    for caller in CALLERS[1:-1]:
        listed = _all_transfer_ids(client, world["headers"][caller])
        assert (transfer_id in listed) == (caller in SEES_TRANSFER), caller
    # A firm's list holds only transfers it is party to.
    unrelated = world["parties"]["unrelated"].address
    for item in _all_transfer_items(client, world["headers"]["unrelated"]):
        assert unrelated in (item["shipper"], item["receiver"], *item.get("transporters", []))


def test_lot_lists_are_scoped(client: TestClient, world: dict) -> None:
    lot_id = world["paths"]["lot_id"]
    for caller in CALLERS[1:-1]:
        listed = {item["id"] for item in _all_items(client, world["headers"][caller], "/lots")}
        assert (lot_id in listed) == (caller in SEES_LOT), caller


def _all_transfer_items(client: TestClient, headers: dict) -> list[dict]:
    return _all_items(client, headers, "/transfers")


def _all_items(client: TestClient, headers: dict, path: str) -> list[dict]:
    items, offset = [], 0
    while True:
        page = client.get(path, params={"offset": offset, "limit": 500}, headers=headers).json()
        items += page["items"]
        offset += len(page["items"])
        if offset >= page["total"] or not page["items"]:
            return items


def _all_transfer_ids(client: TestClient, headers: dict) -> set[str]:
    return {item["id"] for item in _all_transfer_items(client, headers)}


def _type(response) -> str | None:
    try:
        return response.json()["detail"][0]["type"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _expected(policy: str, allowed: set[str] | None, caller: str, method: str, path: str):
    def not_an_authorisation_refusal(r) -> bool:
        return r.status_code not in (401, 403) or _type(r) not in ("not_signed_in", "participant_not_active")

    if policy == PUBLIC:
        return not_an_authorisation_refusal
    if caller == "anonymous":
        return lambda r: r.status_code == 401 and _type(r) == "not_signed_in"
    if caller == "suspended" and (method, path) == ("POST", "/auth/logout"):
        return lambda r: r.status_code == 204  # giving up its token is left to a suspended party
    if caller == "suspended":
        return lambda r: r.status_code == 403 and _type(r) == "participant_not_active"
    if policy == SCOPED and caller not in allowed:
        return lambda r: r.status_code == 404
    if policy == SCOPED:
        return lambda r: r.status_code == 200
    return not_an_authorisation_refusal
