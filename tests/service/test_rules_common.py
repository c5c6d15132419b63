"""The cross-jurisdiction rules every pack holds, on records made through the real service and chain: for
each, a record it passes and one it fails, with the reason a regulator reads.

    G lot (1,000) ──t1 (600, carried by T)──▶ R
                  └─t2 (400)──▶ V, received after V's permit was revoked

The chain never records an over-shipment, a second receipt or a step signed by the wrong party: for those
rules the failing case is the service's refusal (the regulator's real guarantee) and the rule's FAIL on the
service's case file of t1 with the refused fact in it.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from parties import Party, dispatch, ensure_waste_code, register, register_lot, register_permit
from workflows import handover, receive

from compliance import casefile as cf
from compliance import packs
from ledger_service.casefiles import Case, evaluate, transfer_case
from ledger_service.db import models as m

pytestmark = pytest.mark.rule_cases


@pytest.fixture(scope="module")
def world(client, regulator) -> dict:
    ensure_waste_code(client, regulator)
    g, r, t, v, x = (Party(n) for n in ("generator", "recycler", "truck", "closed plant", "outsider"))
    register(client, regulator, g, "SHIPPER")
    for receiver in (r, v):
        register(client, regulator, receiver, "RECEIVER")
        register_permit(client, regulator, receiver)
    register(client, regulator, t, "TRANSPORTER")
    register(client, regulator, x, "RECEIVER")
    lot = register_lot(client, g, quantity=1_000)["id"]
    t1 = dispatch(client, g, r, lot_id=lot, quantity=600, transporters=[t.address])["id"]
    handover(client, t, t1, "pick-up")
    handover(client, t, t1, "delivery")
    # The receipt signed by someone else than the receiver is refused; the receiver's own is recorded.
    prepared = client.post(f"/transfers/{t1}/receipt/prepare", json={"received_quantity": 600})
    refused = {"wrong signer": client.post(f"/transfers/{t1}/receipt", json=x.signed_body(prepared.json()))}
    receive(client, r, t1, 600)
    t2 = dispatch(client, g, v, lot_id=lot, quantity=400)["id"]
    revocation = client.post(
        f"/permits/{v.permit_id}/revocation/prepare",
        json={"regulator": regulator.address, "reason": "storage found unlicensed"},
    )
    assert client.post(f"/permits/{v.permit_id}/revocation", json=regulator.signed_body(revocation.json()))
    receive(client, v, t2, 400)
    over = client.post(
        "/transfers/dispatches/prepare",
        json={
            "shipper": g.address,
            "receiver": r.address,
            "lot_id": lot,
            "quantity": 1,
            "operation": "R5",
            "permit_id": r.permit_id,
            "document_hash": "0x" + "d0" * 32,
        },
    )
    refused["over-shipment"] = client.post("/transfers", json=g.signed_body(over.json()))
    refused["second receipt"] = client.post(f"/transfers/{t1}/receipt/prepare", json={"received_quantity": 1})
    return {"lot": lot, "t1": t1, "t2": t2, "refused": refused}


def finding(report: dict, rule: str, subject: str) -> dict:
    (judged,) = (r for r in report["rules"] if r["id"] == rule)
    (found,) = (f for f in judged["findings"] if f["subject"] == subject)
    return found


@dataclass(frozen=True)
class Recorded:
    """A record's verdict in its transfer's verification report (`subject`: "lot" or "transfer" + key)."""

    transfer: str
    subject: str
    verdict: str
    words: str

    def check(self, client, world: dict, rule: str) -> None:
        report = client.get(f"/verification/transfers/{world[self.transfer]}", params={"pack": "EU"})
        kind, key = self.subject.split()
        f = finding(report.json(), rule, f"{kind} {world[key]}")
        assert (f["verdict"], self.words in f["reason"]) == (self.verdict, True), f


@dataclass(frozen=True)
class Refused:
    """A record the service refuses (`status`, `error`), and the rule's FAIL on t1's case file with the
    refused fact in it (`change` makes that case file from the real one)."""

    refusal: str
    status: int
    error: str
    change: Callable[[Case, dict], cf.CaseFile]
    subject: str
    words: str

    def check(self, client, world: dict, rule: str) -> None:
        response = world["refused"][self.refusal]
        assert response.status_code == self.status, response.text
        assert response.json()["detail"][0]["type"] == self.error
        with client.app.state.runtime.sessions() as session:
            case = transfer_case(session, session.get(m.Transfer, world["t1"]))
        changed = replace(case, file=self.change(case, world))
        (judged,) = (r for r in evaluate(changed, packs.load("EU")).rules if r.rule_id == rule)
        kind, key = self.subject.split()
        (f,) = (f for f in judged.findings if f.subject == f"{kind} {world[key]}")
        assert (f.verdict.value, self.words in f.reason) == ("FAIL", True), f


def _transfers(case: Case, change: Callable[[cf.Transfer], cf.Transfer]) -> tuple[cf.Transfer, ...]:
    return tuple(change(t) for t in case.file.transfers)


def shipped_twice(case: Case, world: dict) -> cf.CaseFile:
    return replace(
        case.file,
        transfers=_transfers(case, lambda t: replace(t, quantity=1_000) if t.id == world["t1"] else t),
    )


def received_twice(case: Case, world: dict) -> cf.CaseFile:
    (opened,) = (x for x in case.file.lots if x.id == world["t1"])
    return replace(case.file, lots=(*case.file.lots, replace(opened, id="0x" + "ab" * 32)))


def signed_out_of_order(case: Case, world: dict) -> cf.CaseFile:
    def receipt_first(t: cf.Transfer) -> cf.Transfer:
        if t.id != world["t1"]:
            return t
        first = min(s.recorded_at for s in t.signatures)
        signatures = tuple(
            replace(s, recorded_at=first, evidence=replace(s.evidence, block=0, log_index=0))
            if s.statement == "Receipt"
            else s
            for s in t.signatures
        )
        return replace(t, signatures=signatures)

    return replace(case.file, transfers=_transfers(case, receipt_first))


CASES = {
    "GEN-CHAIN-01": (
        Recorded("t1", "lot lot", "PASS", "1000 of the 1000 it held left the lot; 0 remains"),
        Refused(
            "over-shipment", 409, "insufficient_lot_balance", shipped_twice, "lot lot", "more than the 1000"
        ),
    ),
    "GEN-CHAIN-02": (
        Recorded("t1", "transfer t1", "PASS", "its receipt is counted once"),
        Refused(
            "second receipt", 409, "already_received", received_twice, "transfer t1", "counted in 2 lots"
        ),
    ),
    "GEN-SIG-01": (
        Recorded("t1", "transfer t1", "PASS", "4 statements"),
        Refused("wrong signer", 422, "invalid_signature", signed_out_of_order, "transfer t1", "out of order"),
    ),
    "GEN-PERMIT-02": (
        Recorded("t1", "transfer t1", "PASS", "was valid on every event date"),
        Recorded("t2", "transfer t2", "FAIL", "was revoked (on"),
    ),
}


@pytest.mark.parametrize("rule", list(CASES))
def test_rule(client, world, rule):
    passing, failing = CASES[rule]
    passing.check(client, world, rule)
    failing.check(client, world, rule)


def test_every_cross_jurisdiction_rule_has_its_cases():
    assert set(CASES) == {rule.id for rule in packs.load("EU").rules if rule.id.startswith("GEN-")}
