"""Each EU rule's passing and failing case, built through the service and chain and judged by its
verification endpoint (pack EU), as a regulator reads them.

    G: mixed waste 19 12 12 ──e1 (R12, no analysis)──▶ P
    P: processing X of e1's lot ──▶ scrap 19 12 02 (4,000 ppm) ──s1──▶ U
                                    scrap 19 12 02 (25,000 ppm) ──s2──▶ U
                                    cullet 19 12 05 (in limits) ──g1──▶ U
                                    cullet 19 12 05 (organics 2,600 ppm) ──g2──▶ U, who rejects it
                                    by-product 10 02 02, from others' waste only
    P: processing Y of its own slag ──▶ by-product 10 02 02 ──b1 (R5)──▶ U
    G: filter cake 19 02 05* ──h1 (D9, manifest held)──▶ P
                             ──h2 (D9, manifest lost from the document store)──▶ P
"""

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import pytest
from parties import (
    Party,
    accredited_lab,
    certify,
    dispatch,
    dispatch_terms,
    ensure_waste_code,
    register,
    register_lot,
    register_permit,
)
from workflows import Seen, receive, rejection, upload

from compliance import packs
from ledger_service.casefiles import evaluate, transfer_case
from ledger_service.db import models as m
from ledger_service.documents.store import DocumentStore
from ledger_service.statements import output_lot_id

pytestmark = pytest.mark.rule_cases

LOW = "EU-LOW"
MIXED, SCRAP, CULLET, SLAG, FILTER_CAKE = "19 12 12", "19 12 02", "19 12 05", "10 02 02", "19 02 05*"
SCRAP_CLEAN = {"foreign_materials_ppm": 4_000, "radioactivity_nsv_h": 80}
SCRAP_DIRTY = {"foreign_materials_ppm": 25_000, "radioactivity_nsv_h": 80}
CULLET_CLEAN = {
    "ferrous_metals_ppm": 30,
    "non_ferrous_metals_ppm": 40,
    "non_metal_non_glass_inorganics_ppm": 80,
    "organics_ppm": 1_500,
    "cullet_size_um": 5_000,
}
CULLET_DIRTY = {**CULLET_CLEAN, "organics_ppm": 2_600}
SLAG_SPEC = {"CaO_permille": 410, "moisture_permille": 60}


def processing(client, processor: Party, inputs: list, outputs: list, loss_grams: int) -> list[str]:
    """`processor` records a processing; returns its output lots, in order."""
    terms = {
        "processor": processor.address,
        "inputs": inputs,
        "external_inputs": [],
        "outputs": outputs,
        "loss_grams": loss_grams,
        "loss_description": "fines and moisture",
        "document_hash": "0x" + "a7" * 32,
    }
    prepared = client.post("/processings/prepare", json=terms)
    assert prepared.status_code == 200, prepared.text
    recorded = client.post("/processings", json=processor.signed_body(prepared.json()))
    assert recorded.status_code == 201, recorded.text
    return [output_lot_id(recorded.json()["id"], i) for i in range(len(outputs))]


def analysed(client, lab: Party, lot_id: str, results: dict) -> str:
    """The lab's certificate of `lot_id` whose results document (uploaded) holds `results`."""
    document = upload(client, lab, json.dumps(results).encode(), "application/json")
    return certify(client, lab, lot_id, results_hash=document)["id"]


@pytest.fixture(scope="module")
def world(client, regulator) -> dict[str, Any]:
    for code, hazardous in (
        (MIXED, False),
        (SCRAP, False),
        (CULLET, False),
        (SLAG, False),
        (FILTER_CAKE, True),
    ):
        ensure_waste_code(client, regulator, LOW, code, "KGM", hazardous)
    g, p, u = Party("generator"), Party("sorting plant"), Party("steel and glass works")
    register(client, regulator, g, "SHIPPER")
    register(client, regulator, p, "SHIPPER", "RECEIVER")
    register(client, regulator, u, "RECEIVER")
    lab = accredited_lab(client, regulator)

    def covers(*entries: tuple[str, str]) -> list[dict]:
        return [{"scheme": LOW, "code": code, "operations": [operation]} for code, operation in entries]

    register_permit(client, regulator, p, coverage=covers((MIXED, "R12"), (FILTER_CAKE, "D9")))
    register_permit(client, regulator, u, coverage=covers((SCRAP, "R4"), (CULLET, "R5"), (SLAG, "R5")))

    mixed = register_lot(client, g, 10_000, LOW, MIXED)["id"]
    cake = register_lot(client, g, 1_000, LOW, FILTER_CAKE)["id"]
    slag = register_lot(client, p, 1_000, LOW, SLAG)["id"]

    e1 = dispatch(client, g, p, lot_id=mixed, quantity=10_000, operation="R12")["id"]
    receive(client, p, e1, 10_000)

    def product(code: str, quantity: int, kind: str = "product") -> dict:
        return {"kind": kind, "scheme": LOW, "code": code, "quantity": quantity}

    scrap_ok, scrap_high, cullet_ok, cullet_bad, by_product_bad = processing(
        client,
        p,
        [{"lot_id": e1, "quantity": 10_000}],
        [
            product(SCRAP, 2_000),
            product(SCRAP, 2_000),
            product(CULLET, 2_000),
            product(CULLET, 2_000),
            product(SLAG, 1_000, "by_product"),
        ],
        loss_grams=1_000_000,
    )
    (by_product_ok,) = processing(
        client, p, [{"lot_id": slag, "quantity": 1_000}], [product(SLAG, 900, "by_product")], 100_000
    )

    def consignment(lot: str, results: dict, operation: str) -> str:
        certificate = analysed(client, lab, lot, results)
        return dispatch(
            client, p, u, lot_id=lot, quantity=2_000, operation=operation, certificates=[certificate]
        )["id"]

    s1, s2 = consignment(scrap_ok, SCRAP_CLEAN, "R4"), consignment(scrap_high, SCRAP_DIRTY, "R4")
    g1, g2 = consignment(cullet_ok, CULLET_CLEAN, "R5"), consignment(cullet_bad, CULLET_DIRTY, "R5")
    for transfer in (s1, s2, g1):
        receive(client, u, transfer, 2_000)
    refused = rejection(client, u, g2, rejected_quantity=2_000, reason="organics above 2,000 ppm")
    assert refused.status_code == 200, refused.text
    analysed(client, lab, by_product_ok, SLAG_SPEC)
    b1 = dispatch(client, p, u, lot_id=by_product_ok, quantity=900, operation="R5")["id"]
    receive(client, u, b1, 900)

    held = upload(client, g, b"%PDF-1.7\n% filter cake manifest 1\n%%EOF\n")
    lost = upload(client, g, b"%PDF-1.7\n% filter cake manifest 2\n%%EOF\n")
    h1 = dispatch(client, g, p, lot_id=cake, quantity=500, operation="D9", document_hash=held)["id"]
    h2 = dispatch(client, g, p, lot_id=cake, quantity=500, operation="D9", document_hash=lost)["id"]
    DocumentStore.open(client.app.state.runtime.settings).remove(lost)

    return {
        "parties": {"G": g, "P": p, "U": u},
        "lot": {
            "scrap_ok": scrap_ok,
            "scrap_high": scrap_high,
            "cullet_ok": cullet_ok,
            "cullet_bad": cullet_bad,
            "by_product_ok": by_product_ok,
            "by_product_bad": by_product_bad,
        },
        "transfer": {"e1": e1, "s1": s1, "s2": s2, "g1": g1, "g2": g2, "b1": b1, "h1": h1, "h2": h2},
    }


@dataclass(frozen=True)
class Refused:
    """A fact the chain refuses to record: the service answers `status` with `error`, which is the
    regulator's guarantee; the rule is shown to fail on the service-built case file of transfer `key` with
    that one fact `changed`."""

    terms: dict
    status: int
    error: str
    key: str
    changed: dict
    words: str

    def check(self, client, world, pack: str, rule: str) -> None:
        p, u = world["parties"]["P"], world["parties"]["U"]
        prepared = client.post("/transfers/dispatches/prepare", json=dispatch_terms(p, u, **self.terms))
        assert prepared.status_code == self.status, prepared.text
        assert prepared.json()["detail"][0]["type"] == self.error
        transfer = world["transfer"][self.key]
        with client.app.state.runtime.sessions() as session:
            case = transfer_case(session, session.get(m.Transfer, transfer))
        transfers = tuple(
            dataclasses.replace(t, **self.changed) if t.id == transfer else t for t in case.file.transfers
        )
        changed = dataclasses.replace(case, file=dataclasses.replace(case.file, transfers=transfers))

        def judged(case) -> tuple[str, str]:
            (summary,) = [r for r in evaluate(case, packs.load(pack)).rules if r.rule_id == rule]
            (finding,) = [f for f in summary.findings if f.subject == f"transfer {transfer}"]
            return finding.verdict.value, finding.reason

        # The very record passes as the chain holds it, and fails with that one fact changed.
        assert judged(case)[0] == "PASS"
        verdict, reason = judged(changed)
        assert verdict == "FAIL" and self.words in reason, reason


# For each rule: a case that passes and one that fails (for the rules the ledger's evidence can never pass,
# the honest pair: INCONCLUSIVE on a consignment they cover, N/A on one they do not).
CASES = {
    "EU-BP-01": (
        Seen("lot", "by_product_ok", "PASS", "the conditions of Art. 5(1) hold on the ledger's evidence"),
        Seen("lot", "by_product_bad", "FAIL", "only treated waste received from others"),
    ),
    "EU-EOW-01": (
        Seen(
            "lot",
            "scrap_ok",
            "PASS",
            "the criteria of Reg. (EU) 333/2011 are judged under EU-EOW-FE-01 to 03",
        ),
        Seen("lot", "cullet_bad", "FAIL", "every receiver rejected it"),
    ),
    "EU-EOW-FE-01": (
        Seen("transfer", "s1", "PASS", "4,000 ppm of foreign materials by certificate"),
        Seen("transfer", "s2", "FAIL", "25,000 ppm of foreign materials by certificate"),
    ),
    "EU-EOW-FE-02": (
        Seen("transfer", "s1", "INCONCLUSIVE", "statement of conformity"),
        Seen("transfer", "g1", "N/A", "no record in this case file is subject to it"),
    ),
    "EU-EOW-FE-03": (
        Seen("transfer", "s1", "INCONCLUSIVE", "verification by an accredited verifier"),
        Seen("transfer", "g1", "N/A", "no record in this case file is subject to it"),
    ),
    "EU-EOW-GL-01": (
        Seen("transfer", "g1", "PASS", "organics 1,500 ppm (at most 2,000)"),
        Seen("transfer", "g2", "FAIL", "organics 2,600 ppm, not at most 2,000 ppm"),
    ),
    "EU-LOW-01": (
        Seen("transfer", "s1", "PASS", "is a six-digit entry, non-hazardous as the List of Waste marks it"),
        Seen("transfer", "e1", "FAIL", "the non-hazardous entry mirroring 19 12 11*"),
    ),
    "EU-REC-01": (
        Seen("transfer", "e1", "PASS", "for R12, with no carrier, dispatched on"),
        # The chain records no transfer of nothing: the service refuses it before anyone signs.
        Refused({"quantity": 0}, 422, "greater_than", "s1", {"quantity": 0}, "it records no quantity"),
    ),
    "EU-REC-02": (
        Seen("transfer", "h1", "PASS", "is held, to be kept until"),
        Seen("transfer", "h2", "FAIL", "is no longer held, though it must be kept until"),
    ),
}


@pytest.mark.parametrize("rule", list(CASES))
def test_rule(client, world, rule):
    passing, failing = CASES[rule]
    passing.check(client, world, "EU", rule)
    failing.check(client, world, "EU", rule)


def test_every_eu_rule_has_its_cases():
    assert set(CASES) == {rule.id for rule in packs.load("EU").rules if rule.id.startswith("EU-")}
