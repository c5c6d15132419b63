"""Every rule of the Vietnam pack on records made through the real service and chain: for each, a record it
passes and one it fails, judged by the verification endpoint, with the reason a regulator reads.

One park, five firms, a few lots and transfers, each serving several rules:

    G (generator) ── sludge 10 07 09* ──ts1 (R5, analysed within the thresholds)──▶ R ──processing──▶ product
                 │                     ├ts2 (R5, analysed: lead above)──▶ R                (certified)
                 │                     └ts3 (R5, no analysis)──▶ R                   └───▶ by-product (not)
                 ├ solvent 17 02 03** ──th1 (400, carried by T under its licence)──▶ R (capacity 1,000)
                 │                     └th2 (400, received 300, shipped corrected to 700)──▶ R
                 ├ fish for feed ──tf1 (within the feed limits) / tf2 (mercury above)──▶ R
                 ├ treated wastewater ──tw1 (within the reuse limits) / tw2 (COD above)──▶ R
                 ├ slag of the EU list ──te──▶ R
                 └ engine oil 13 02 05** (its permit does not declare it) + sludge ──G's own processing

Where the chain refuses the illegal record outright, the failing case is that refusal (the regulator's real
guarantee) and the rule's FAIL on the service's case file of a passing transfer with that one fact changed.
A receipt signed days after its delivery needs chain time to pass: it is made on a stack of its own.
"""

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import deploy_stack, free_port
from fastapi.testclient import TestClient
from parties import (
    Party,
    certify,
    dispatch,
    dispatch_terms,
    ensure_waste_code,
    register,
    register_lot,
    register_permit,
    sign_in,
)
from workflows import handover, receive, upload

from compliance import packs
from compliance.casefile import Transfer
from ledger_service import devstack
from ledger_service.casefiles import evaluate, transfer_case
from ledger_service.db import models as m
from ledger_service.main import create_app

pytestmark = pytest.mark.rule_cases

VN = "VN-TT02-2022"
# (scheme, code, unit, hazardous, description): Circular 02/2022's list, and a product category.
SLUDGE = (VN, "10 07 09*", "KGM", False, "glass polishing sludge")  # '*': hazardous unless analysed
SOLVENT = (VN, "17 02 03**", "KGM", True, "spent halogenated solvents")  # '**': hazardous in every case
OIL = (VN, "13 02 05**", "KGM", True, "waste mineral engine oil")
FISH = (VN, "02 02 03", "KGM", False, "fish heads and bones for feed")
WATER = (VN, "12 06 13", "LTR", False, "treated wastewater")
EU_SLAG = ("EU-LOW", "10 02 02", "KGM", False, "unprocessed slag")
AGGREGATE = ("UN-CPC", "15320", "KGM", False, "crushed aggregate")
ZERO = "0x" + "00" * 32

# Results documents, named as the pack's limit_<name> parameters: each within its limits, or one above.
LEACHATE = {
    "As_leachate_ug_l": 150,
    "Cd_leachate_ug_l": 40,
    "Pb_leachate_ug_l": 1_200,
    "Hg_leachate_ug_l": 10,
    "Cr6_leachate_ug_l": 300,
}
FEED = {"As_ug_kg": 4_000, "Cd_ug_kg": 300, "Hg_ug_kg": 120, "Pb_ug_kg": 900}
REUSE = {"BOD5_mg_l": 18, "COD_mg_l": 52, "TSS_mg_l": 20}
HW_CAPACITY = 1_000  # kg a year the receiver's hazardous-waste permit allows


def coverage(*entries: tuple[tuple, str]) -> list[dict]:
    return [{"scheme": code[0], "code": code[1], "operations": [operation]} for code, operation in entries]


def lot(client, holder: Party, code: tuple, quantity: int) -> str:
    return register_lot(client, holder, quantity, scheme=code[0], code=code[1], unit=code[2])["id"]


def attempt(client, party: Party, prepare: str, submit: str, terms: dict) -> httpx.Response:
    """A statement the service or the chain may refuse: the refusal (at preparing or submitting), or the
    record."""
    prepared = client.post(prepare, json=terms)
    if prepared.status_code != 200:
        return prepared
    return client.post(submit, json=party.signed_body(prepared.json()))


def signed(client, party: Party, prepare: str, submit: str, terms: dict) -> dict:
    response = attempt(client, party, prepare, submit, terms)
    assert response.status_code in (200, 201), response.text
    return response.json()


def process(client, processor: Party, inputs: list[tuple[str, int]], outputs: list[dict]) -> dict:
    terms = {
        "processor": processor.address,
        "inputs": [{"lot_id": lot_id, "quantity": quantity} for lot_id, quantity in inputs],
        "outputs": outputs,
        "document_hash": "0x" + "a7" * 32,
    }
    return signed(client, processor, "/processings/prepare", "/processings", terms)


def output(kind: str, code: tuple, quantity: int) -> dict:
    return {"kind": kind, "scheme": code[0], "code": code[1], "quantity": quantity}


def correct(client, proposer: Party, counterparty: Party, transfer_id: str, **deltas: int) -> None:
    """A correction both parties of the transfer sign."""
    terms = {"proposer": proposer.address, "reason": "second weighbridge ticket", **deltas}
    base = f"/transfers/{transfer_id}/corrections"
    correction = signed(client, proposer, base + "/prepare", base, terms)
    url = f"{base}/{correction['id']}/countersignature"
    signed(client, counterparty, url + "/prepare", url, {})


@pytest.fixture(scope="module")
def world(client, regulator) -> dict[str, Any]:
    build = uuid.uuid4().hex[:6]
    park = f"Nhon Trach {build}"
    for scheme, code, unit, hazardous, description in (SLUDGE, SOLVENT, OIL, FISH, WATER, EU_SLAG, AGGREGATE):
        ensure_waste_code(client, regulator, scheme, code, unit, hazardous, description)
    g, r, t, u, lab = (Party(n) for n in ("generator", "recycler", "truck", "van", "lab"))
    register(client, regulator, g, "SHIPPER", "RECEIVER", park=park)  # it also processes its own waste
    register(client, regulator, r, "RECEIVER", park=park)
    register(client, regulator, t, "TRANSPORTER", park=park)
    register(client, regulator, u, "TRANSPORTER", park=park)  # holds no licence
    register(client, regulator, lab, "LAB", park=park)

    def permit(holder: Party, number: str, kind: str, *covered: tuple[tuple, str], capacity=10**9) -> dict:
        return register_permit(
            client,
            regulator,
            holder,
            kind=kind,
            permit_number=f"{number}/{build}",
            coverage=coverage(*covered),
            yearly_capacity=capacity,
        )

    # The generator's permit declares the solvent it generates, not the engine oil.
    permit(g, "GPMT-12", "ENVIRONMENTAL_PERMIT", (SOLVENT, "R2"))
    gpmt = permit(
        r, "GPMT-36", "ENVIRONMENTAL_PERMIT", (SLUDGE, "R5"), (FISH, "R3"), (WATER, "R3"), (EU_SLAG, "R5")
    )
    hw_permit = permit(r, "GPMT-37", "ENVIRONMENTAL_PERMIT", (SOLVENT, "R2"), capacity=HW_CAPACITY)
    licence = permit(t, "CTNH-VC-07", "HW_TRANSPORT_LICENCE", (SOLVENT, "R2"))
    vimcerts = permit(
        lab,
        "VIMCERTS 085",
        "LAB_ACCREDITATION",
        (SLUDGE, "R5"),
        (FISH, "R3"),
        (WATER, "R3"),
        (AGGREGATE, "R5"),
    )
    vilas = permit(lab, "VILAS 1234", "LAB_ACCREDITATION", (SLUDGE, "R5"))

    sludge, solvent, oil = (
        lot(client, g, SLUDGE, 10_000),
        lot(client, g, SOLVENT, 10_000),
        lot(client, g, OIL, 300),
    )
    fish, water, slag = (
        lot(client, g, FISH, 10_000),
        lot(client, g, WATER, 50_000),
        lot(client, g, EU_SLAG, 5_000),
    )

    def analysed(lot_id: str, results: dict, accreditation: dict = vimcerts) -> str:
        sha256 = upload(client, lab, json.dumps(results).encode(), "application/json")
        lab.permit_id = accreditation["permit_id"]
        return certify(client, lab, lot_id, results_hash=sha256)["id"]

    c_good, c_over = (
        analysed(sludge, LEACHATE),
        analysed(sludge, {**LEACHATE, "Pb_leachate_ug_l": 18_000}, vilas),
    )
    f_good, f_over = analysed(fish, FEED), analysed(fish, {**FEED, "Hg_ug_kg": 900})
    w_good, w_over = analysed(water, REUSE), analysed(water, {**REUSE, "COD_mg_l": 140})

    def send(lot_id: str, operation: str, quantity: int, permit_id: str = gpmt["permit_id"], **more) -> str:
        return dispatch(
            client, g, r, lot_id=lot_id, operation=operation, quantity=quantity, permit_id=permit_id, **more
        )["id"]

    ts1 = send(sludge, "R5", 2_000, certificates=[c_good])
    receive(client, r, ts1, 2_000)
    ts2, ts3 = send(sludge, "R5", 1_000, certificates=[c_over]), send(sludge, "R5", 1_000)
    tf1, tf2 = send(fish, "R3", 1_000, certificates=[f_good]), send(fish, "R3", 1_000, certificates=[f_over])
    tw1, tw2 = (
        send(water, "R3", 10_000, certificates=[w_good]),
        send(water, "R3", 10_000, certificates=[w_over]),
    )
    te = send(slag, "R5", 1_000)

    th1 = send(
        solvent, "R2", 400, hw_permit["permit_id"], transporters=[t.address], licences=[licence["permit_id"]]
    )
    handover(client, t, th1, "pick-up")
    receipt_in_transit = client.post(f"/transfers/{th1}/receipt/prepare", json={"received_quantity": 400})
    handover(client, t, th1, "delivery")
    receive(client, r, th1, 400)
    # Received short, and its shipped quantity corrected upwards by both parties: the permit's yearly
    # capacity, which the chain checked at dispatch, is exceeded by the corrected quantity.
    th2 = send(solvent, "R2", 400, hw_permit["permit_id"])
    receive(client, r, th2, 300)
    correct(client, g, r, th2, shipped_delta=300)

    made = process(
        client,
        r,
        [(ts1, 2_000)],
        [output("product", AGGREGATE, 1_500), output("by_product", AGGREGATE, 500)],
    )
    product, by_product = (o["lot_id"] for o in made["outputs"])
    lab.permit_id = vimcerts["permit_id"]
    certify(client, lab, product)
    mixed = process(client, g, [(oil, 300), (sludge, 500)], [output("residue", OIL, 800)])

    refused = {
        # A permit not covering the operation, an unlicensed carrier of hazardous waste, an operation the
        # ledger does not know: the chain (or the service's own check) refuses each dispatch.
        "D10": attempt(
            client,
            g,
            "/transfers/dispatches/prepare",
            "/transfers",
            dispatch_terms(g, r, lot_id=sludge, quantity=100, operation="D10", permit_id=gpmt["permit_id"]),
        ),
        "R14": attempt(
            client,
            g,
            "/transfers/dispatches/prepare",
            "/transfers",
            dispatch_terms(g, r, lot_id=sludge, quantity=100, operation="R14", permit_id=gpmt["permit_id"]),
        ),
        "van": attempt(
            client,
            g,
            "/transfers/dispatches/prepare",
            "/transfers",
            dispatch_terms(
                g,
                r,
                lot_id=solvent,
                quantity=100,
                operation="R2",
                permit_id=hw_permit["permit_id"],
                transporters=[u.address],
            ),
        ),
        "receipt in transit": receipt_in_transit,
    }
    transfers = {
        "ts1": ts1,
        "ts2": ts2,
        "ts3": ts3,
        "tf1": tf1,
        "tf2": tf2,
        "tw1": tw1,
        "tw2": tw2,
        "te": te,
        "th1": th1,
        "th2": th2,
    }
    subjects = {
        **{name: f"transfer {x}" for name, x in transfers.items()},
        "solvent": f"lot {solvent}",
        "oil": f"lot {oil}",
        "product": f"lot {product}",
        "by-product": f"lot {by_product}",
        "c_good": f"certificate {c_good}",
        "c_over": f"certificate {c_over}",
        "mixing": f"processing {mixed['id']}",
    }
    return {
        "park": park,
        "subjects": subjects,
        "transfers": transfers,
        "carrier without licence": u.address,
        "refused": refused,
        "reports": {},
    }


A_YEAR_ON = datetime.now(UTC) + timedelta(days=400)


def report(client, world, scope: str = "park", at: datetime | None = None) -> dict:
    """The regulator's report on the park's records, or on one transfer (`scope` a transfer's name), at
    `at` (default: now); read once per module."""
    key = (scope, at)
    if key not in world["reports"]:
        path = f"parks/{world['park']}" if scope == "park" else f"transfers/{world['transfers'][scope]}"
        params = {"pack": "VN", **({"at": at.isoformat()} if at else {})}
        response = client.get(f"/verification/{path}", params=params)
        assert response.status_code == 200, response.text
        world["reports"][key] = response.json()
    return world["reports"][key]


def finding(report: dict, rule: str, subject: str) -> dict:
    (judged,) = (r for r in report["rules"] if r["id"] == rule)
    by_subject = {f["subject"]: f for f in judged["findings"]}
    assert subject in by_subject, (rule, subject, sorted(by_subject))
    return by_subject[subject]


# --- the cases ---------------------------------------------------------------------------------------------

Fixture = Callable[[str], Any]  # a fixture's value by its name (pytest's request.getfixturevalue)


@dataclass(frozen=True)
class Served:
    """A record made through the service, as the verification endpoint judges it."""

    subject: str  # its name in world["subjects"]
    verdict: str
    reason: tuple[str, ...]  # fragments of the finding's reason
    scope: str = "park"
    at: datetime | None = None

    def judged(self, fixture: Fixture, rule: str) -> dict:
        world = fixture("world")
        f = finding(
            report(fixture("client"), world, self.scope, self.at), rule, world["subjects"][self.subject]
        )
        return {"verdict": f["verdict"], "reason": f["reason"]}


@dataclass(frozen=True)
class Refused:
    """A record the service refuses (`status`, `error`), and the rule's verdict on the service's case file of
    `transfer` with the refused fact in it (`change`: the transfer's fields to replace)."""

    refusal: str  # its name in world["refused"]
    status: int
    error: str
    transfer: str
    change: Callable[[dict, Transfer], dict]
    verdict: str
    reason: tuple[str, ...]

    def judged(self, fixture: Fixture, rule: str) -> dict:
        client, world = fixture("client"), fixture("world")
        response = world["refused"][self.refusal]
        assert response.status_code == self.status, response.text
        assert response.json()["detail"][0]["type"] == self.error
        transfer_id = world["transfers"][self.transfer]
        with client.app.state.runtime.sessions() as session:
            case = transfer_case(session, session.get(m.Transfer, transfer_id))
        (t,) = (t for t in case.file.transfers if t.id == transfer_id)
        transfers = tuple(replace(t, **self.change(world, t)) if x is t else x for x in case.file.transfers)
        judged = evaluate(replace(case, file=replace(case.file, transfers=transfers)), packs.load("VN"))
        (summary,) = (r for r in judged.rules if r.rule_id == rule)
        (f,) = (f for f in summary.findings if f.subject == f"transfer {transfer_id}")
        return {"verdict": f.verdict.value, "reason": f.reason}


@dataclass(frozen=True)
class LateReceipt:
    """A hazardous transfer received two days after its delivery, on a stack of its own."""

    verdict: str
    reason: tuple[str, ...]

    def judged(self, fixture: Fixture, rule: str) -> dict:
        late = fixture("late_receipt")  # built only for the rule that needs it
        f = finding(late["report"], rule, late["subject"])
        return {"verdict": f["verdict"], "reason": f["reason"]}


def without_delivery(_world: dict, t: Transfer) -> dict:
    return {"signatures": tuple(s for s in t.signatures if s.statement != "Delivery")}


SLUDGE_LABEL = "code 10 07 09* (VN-TT02-2022) 'glass polishing sludge'"
SOLVENT_LABEL = "code 17 02 03** (VN-TT02-2022) 'spent halogenated solvents'"
OIL_LABEL = "code 13 02 05** (VN-TT02-2022) 'waste mineral engine oil'"

# rule: (a record it passes, a record it fails). A rule that can never PASS on ledger evidence gets its honest
# pair: INCONCLUSIVE, and N/A or PASS.
CASES: dict[str, tuple[Any, Any]] = {
    "VN-CLASS-01": (
        Served(
            "ts1", "PASS", (f"it carries {SLUDGE_LABEL} of Vietnam's waste list", "assigned by its generator")
        ),
        Served("te", "FAIL", ("(EU-LOW)", "not a code of Vietnam's waste list (VN-TT02-2022")),
    ),
    "VN-CLASS-02": (
        Served(
            "ts1", "PASS", ("requires control (marked '*') and is managed as non-hazardous on the analysis",)
        ),
        Served("ts3", "FAIL", ("without an analysis proving it: no certificate of analysis is cited",)),
    ),
    "VN-CLASS-03": (
        Served("ts1", "PASS", ("Pb_leachate_ug_l 1200 (limit 15000 ug/L)", "within QCVN 07:2009/BTNMT")),
        Served("ts2", "FAIL", ("Pb_leachate_ug_l is 18000 ug/L in certificate", "the waste is hazardous")),
    ),
    "VN-LAB-01": (
        Served("c_good", "PASS", ("held accreditation VIMCERTS 085", f"covering {SLUDGE_LABEL}")),
        Served(
            "c_over", "FAIL", ("holds accreditation VILAS 1234", "not one of an accepted scheme (VIMCERTS)")
        ),
    ),
    "VN-BP-01": (
        Served(
            "product", "PASS", ("the product of processing", "its conformity for use rests on certificate")
        ),
        Served(
            "by-product",
            "FAIL",
            ("no certificate shows it meets the standard for its use: it remains waste",),
        ),
    ),
    "VN-ICSW-01": (
        Served(
            "ts1", "PASS", ("sorted into group (b), building materials or ground levelling, by operation R5",)
        ),
        # The ledger knows the recovery and disposal operations alone, and the pack sorts every one of them
        # into a group: an unsorted operation cannot be recorded, so the case file gets it instead.
        Refused(
            "R14",
            422,
            "value_error",
            "ts1",
            lambda w, t: {"operation": "R14"},
            "FAIL",
            ("sent for operation 'R14', which places it in none of the groups",),
        ),
    ),
    "VN-ICSW-02": (
        Served("ts1", "PASS", ("with certificate", "as evidence of the standard it meets")),
        Served(
            "ts3",
            "FAIL",
            ("without evidence that it meets the applicable standard: no certificate is cited",),
        ),
    ),
    "VN-ICSW-03": (
        Served(
            "ts1", "PASS", ("holds environmental permit GPMT-36/", "(dispatch), covering " + SLUDGE_LABEL)
        ),
        # The chain checks the receiver's permit at dispatch, the moment this rule judges.
        Refused(
            "D10",
            422,
            "permit_does_not_cover",
            "ts1",
            lambda w, t: {"operation": "D10"},
            "FAIL",
            (f"does not cover {SLUDGE_LABEL} for operation D10",),
        ),
    ),
    "VN-HW-01": (
        Served("solvent", "PASS", ("permit GPMT-12/", f"declares hazardous {SOLVENT_LABEL}")),
        Served("oil", "FAIL", (f"generated hazardous {OIL_LABEL}", "declares that code")),
    ),
    "VN-HW-03": (
        Served("solvent", "PASS", ("has been stored for 0 days", "within 365 days")),
        # Beyond a year the report to the authority is due, and no such report is on the ledger: never PASS.
        Served(
            "solvent",
            "INCONCLUSIVE",
            ("more than 365 days", "no such report is on the ledger"),
            at=A_YEAR_ON,
        ),
    ),
    "VN-HW-04": (
        Served(
            "th1",
            "PASS",
            (
                f"covering {SOLVENT_LABEL} for operation R2",
                f"400 KGM of its yearly capacity of {HW_CAPACITY}",
            ),
        ),
        Served(
            "th2",
            "FAIL",
            ("with this transfer 1100 KGM was sent under", f"beyond its yearly capacity of {HW_CAPACITY}"),
        ),
    ),
    "VN-HW-05": (
        Served(
            "th1",
            "PASS",
            (
                f"hazardous {SOLVENT_LABEL} carried by truck JSC",
                "under hazardous_waste_transport_licence CTNH-VC-07/",
            ),
        ),
        # The chain refuses a carrier of hazardous waste without a licence valid at dispatch, when this rule
        # judges it.
        Refused(
            "van",
            422,
            "unlicensed_transporter",
            "th1",
            lambda w, t: {"transporters": (w["carrier without licence"],), "licences": (ZERO,)},
            "FAIL",
            ("is neither the generator nor holds an authorisation", f"covering {SOLVENT_LABEL}"),
        ),
    ),
    "VN-HW-06": (
        # GPS devices and tracks are not on the ledger: a hazardous transfer is never PASS.
        Served("th1", "INCONCLUSIVE", ("positioning (GPS) device", "are not on the ledger")),
        Served("ts1", "N/A", ("no record in this case file is subject to it",), scope="ts1"),
    ),
    "VN-HW-07": (
        Served("th1", "PASS", ("the manifest is signed by every party",)),
        # The chain takes no receipt before the carrier's delivery.
        Refused(
            "receipt in transit",
            409,
            "not_delivered",
            "th1",
            without_delivery,
            "FAIL",
            ("lacks the delivery of the carrier truck JSC",),
        ),
    ),
    "VN-HW-08": (
        Served("th1", "PASS", ("4 signatures in custody order",)),
        LateReceipt("FAIL", ("more than 1 day(s) after the last delivery",)),
    ),
    "VN-HW-10": (
        Served(
            "th1",
            "PASS",
            ("measured 400 KGM against 400 KGM shipped, within the tolerance of 100 per mille",),
        ),
        Served("th2", "FAIL", ("measured 300 KGM against 700 KGM shipped: a difference of 400 KGM",)),
    ),
    "VN-HW-12": (
        Served("th1", "PASS", (f"shipped under the code of its lot, {SOLVENT_LABEL}",)),
        Served("mixing", "FAIL", (f"mixed hazardous {OIL_LABEL} with non-hazardous {SLUDGE_LABEL}",)),
    ),
    "VN-PERMIT-01": (
        Served("ts1", "PASS", ("holds environmental permit GPMT-36/", "(receipt)")),
        Served("mixing", "FAIL", (OIL_LABEL, "without an environmental permit valid then covering it")),
    ),
    "VN-WW-01": (
        Served("tw1", "PASS", ("'treated wastewater' is passed to recycler JSC", "for reuse", "COD_mg_l 52")),
        Served("tw2", "FAIL", ("COD_mg_l is 140 mg/L", "it is not fit for reuse")),
    ),
    "VN-FEED-01": (
        Served("tf1", "PASS", ("as feed material", "Hg_ug_kg 120 (limit 500 ug/kg)")),
        Served("tf2", "FAIL", ("Hg_ug_kg is 900 ug/kg", "it may not be used as feed")),
    ),
}


def test_every_rule_of_the_pack_has_its_cases():
    assert set(CASES) == {rule.id for rule in packs.load("VN").rules if rule.id.startswith("VN-")}


@pytest.fixture(scope="module")
def late_receipt(tmp_path_factory) -> Iterator[dict]:
    """A stack of its own, whose clock moves two days between the carrier's delivery and the receipt (the
    session's node is shared: its clock stays)."""
    data_dir = tmp_path_factory.mktemp("late")
    with devstack.running_anvil(data_dir, free_port(), say=lambda _line: None) as url:
        regulator = Party("regulator")
        settings = deploy_stack(data_dir, url, f"sqlite:///{data_dir / 'ledger.db'}", regulator)
        with TestClient(create_app(settings)) as client:
            client.headers.update(sign_in(client, regulator))
            scheme, code, unit, hazardous, description = SOLVENT
            ensure_waste_code(client, regulator, scheme, code, unit, hazardous, description)
            g, r, t = Party("generator"), Party("recycler"), Party("truck")
            register(client, regulator, g, "SHIPPER")
            register(client, regulator, r, "RECEIVER")
            register(client, regulator, t, "TRANSPORTER")
            permit = register_permit(client, regulator, r, coverage=coverage((SOLVENT, "R2")))
            licence = register_permit(
                client, regulator, t, kind="HW_TRANSPORT_LICENCE", coverage=coverage((SOLVENT, "R2"))
            )
            solvent = lot(client, g, SOLVENT, 1_000)
            transfer = dispatch(
                client,
                g,
                r,
                lot_id=solvent,
                quantity=400,
                operation="R2",
                permit_id=permit["permit_id"],
                transporters=[t.address],
                licences=[licence["permit_id"]],
            )["id"]
            handover(client, t, transfer, "pick-up")
            handover(client, t, transfer, "delivery")
            for method, params in (("evm_increaseTime", [2 * 86_400]), ("evm_mine", [])):
                moved = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
                assert "error" not in moved.json(), moved.text
            # The statement's deadline is set on the moved clock's side of the two days.
            deadline = (datetime.now(UTC) + timedelta(days=3)).isoformat()
            signed(
                client,
                r,
                f"/transfers/{transfer}/receipt/prepare",
                f"/transfers/{transfer}/receipt",
                {"received_quantity": 400, "deadline": deadline},
            )
            response = client.get(f"/verification/transfers/{transfer}", params={"pack": "VN"})
            assert response.status_code == 200, response.text
            yield {"report": response.json(), "subject": f"transfer {transfer}"}


@pytest.mark.parametrize("rule", list(CASES))
def test_rule(rule, request):
    for case in CASES[rule]:
        judged = case.judged(request.getfixturevalue, rule)
        assert judged["verdict"] == case.verdict, (case, judged)
        for fragment in case.reason:
            assert fragment in judged["reason"], (case, judged)
