"""Each US rule's passing and failing case, built through the service and chain and judged by its
verification endpoint (pack US), as a regulator reads them. Each transfer of D008 (lead) waste is a
manifest: G generates and signs it, T carries it under its licence, F is the designated facility.

    u1: G ──T──▶ F  picked up, delivered, received 9,500 of 10,000 kg; manifest held
    u2: G ─────▶ F  no transporter named; received 8,000 of 10,000 kg, never reconciled
    u3: G ─────▶ F  received 8,000 of 10,000 kg, reconciled by a countersigned correction
    u4: G ──T──▶ F  picked up, delivered, not yet signed by F; manifest lost from the document store
    u5: G ─────▶ F  dispatched; its manifest altered in the document store

Deadlines (30 days for the facility's copy, 15 to reconcile, 35 to 60 for the exception report) are
judged at a later evaluation date, not by moving the chain's clock.
"""

import pytest
from parties import Party, dispatch, ensure_waste_code, register, register_lot, register_permit
from workflows import Seen, correct, handover, receive, upload

from compliance import packs
from ledger_service.documents.store import DocumentStore

pytestmark = pytest.mark.rule_cases

RCRA, LEAD = "US-RCRA", "D008"


@pytest.fixture(scope="module")
def world(client, regulator) -> dict:
    ensure_waste_code(client, regulator, RCRA, LEAD, "KGM", hazardous=True)
    g, t, f = Party("battery plant"), Party("hazmat carrier"), Party("lead smelter")
    register(client, regulator, g, "SHIPPER")
    register(client, regulator, t, "TRANSPORTER")
    register(client, regulator, f, "RECEIVER")
    coverage = [{"scheme": RCRA, "code": LEAD, "operations": ["R4"]}]
    register_permit(client, regulator, f, coverage=coverage)
    licence = register_permit(client, regulator, t, kind="HW_TRANSPORT_LICENCE", coverage=coverage)
    register_lot(client, g, 50_000, RCRA, LEAD)
    held = upload(client, g, b"%PDF-1.7\n% manifest u1\n%%EOF\n")
    lost = upload(client, g, b"%PDF-1.7\n% manifest u4\n%%EOF\n")
    altered = upload(client, g, b"%PDF-1.7\n% manifest u5\n%%EOF\n")

    def manifest(**terms) -> str:
        return dispatch(client, g, f, quantity=10_000, operation="R4", **terms)["id"]

    carried = {"transporters": [t.address], "licences": [licence["permit_id"]]}
    u1, u2, u3, u4 = (
        manifest(**carried, document_hash=held),
        manifest(),
        manifest(),
        manifest(**carried, document_hash=lost),
    )
    u5 = manifest(document_hash=altered)
    for carried_transfer in (u1, u4):
        handover(client, t, carried_transfer, "pick-up")
        handover(client, t, carried_transfer, "delivery")
    receive(client, f, u1, 9_500)
    receive(client, f, u2, 8_000)
    receive(client, f, u3, 8_000)
    correct(
        client, g, f, u3, shipped_delta=-2_000, reason="2,000 kg stayed at the plant, see the loading note"
    )
    store = DocumentStore.open(client.app.state.runtime.settings)
    store.remove(lost)
    blob = bytearray(store.path(altered).read_bytes())
    blob[-1] ^= 1
    store.path(altered).write_bytes(blob)
    return {"transfer": {"u1": u1, "u2": u2, "u3": u3, "u4": u4, "u5": u5}, "altered": altered}


# For each rule: a case that passes and one that fails; where the ledger cannot show what would make the
# rule fail (the letter to the Regional Administrator, an exception report), it is INCONCLUSIVE.
CASES = {
    "US-MAN-01": (
        Seen("transfer", "u1", "PASS", "the initial transporter hazmat carrier JSC"),
        Seen("transfer", "u2", "FAIL", "but no transporter is named to sign and date its acceptance"),
    ),
    "US-MAN-02": (
        Seen("transfer", "u1", "PASS", "signed its receipt of 9,500 KGM"),
        Seen("transfer", "u4", "FAIL", "days ago, and still unsigned by it", days_later=40),
    ),
    "US-DISC-01": (
        Seen("transfer", "u1", "PASS", "received 9,500 KGM of 10,000 KGM shipped (5.0 % off): within 10.0 %"),
        Seen("transfer", "u2", "FAIL", "(20.0 % off): a significant discrepancy, more than 10.0 % by weight"),
    ),
    "US-DISC-02": (
        Seen("transfer", "u3", "PASS", "reconciled by correction"),
        Seen("transfer", "u2", "INCONCLUSIVE", "not reconciled within 15 days", days_later=16),
    ),
    "US-EXC-01": (
        Seen("transfer", "u1", "PASS", "days later: within 35 days"),
        Seen(
            "transfer", "u4", "INCONCLUSIVE", "had to contact the transporter or the facility", days_later=40
        ),
    ),
    "US-RET-01": (
        Seen("transfer", "u1", "PASS", "is held, to be kept until"),
        Seen("transfer", "u4", "FAIL", "is no longer held, though it must be kept until"),
    ),
}


@pytest.mark.parametrize("rule", list(CASES))
def test_rule(client, world, rule):
    passing, failing = CASES[rule]
    passing.check(client, world, "US", rule)
    failing.check(client, world, "US", rule)


def test_a_manifest_altered_in_the_store_is_not_kept(client, world):
    Seen("transfer", "u5", "FAIL", "no longer matches the hash the parties signed").check(
        client, world, "US", "US-RET-01"
    )
    report = client.get(f"/verification/transfers/{world['transfer']['u5']}", params={"pack": "US"}).json()
    (documents,) = [c for c in report["integrity"] if c["check"] == "documents"]
    assert documents["status"] == "failed"
    assert (
        f"document {world['altered']}: the content fails AES-GCM authentication: the blob was altered"
    ) in documents["problems"]


def test_every_us_rule_has_its_cases():
    assert set(CASES) == {rule.id for rule in packs.load("US").rules if rule.id.startswith("US-")}
