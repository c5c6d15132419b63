"""Evidence bundles (GET /verification/{lots,transfers}/{id}/bundle, `symledger verify-bundle`): made from the
real chain and read model, checked without the service, and any change named.

    G lot (1,000) ──t1 (600, carried by T, with its weighbridge ticket)──▶ R ──t3 (100)──▶ V
                  └─t2 (400)──▶ V, received after V's permit was revoked
"""

import base64
import hashlib
import json

import pytest
from eth_utils import event_abi_to_log_topic, keccak
from parties import Party, dispatch, ensure_waste_code, register, register_lot, register_permit, sign_in
from typer.testing import CliRunner
from workflows import handover, keystore_of, receive, revoke_permit, served

from compliance import bundle, packs, serialise
from compliance.engine import evaluate
from ledger_service.bundles import (
    CERTIFICATE_REVOKED,
    LOT_USED,
    PARTICIPANT_REINSTATED,
    PARTICIPANT_SUSPENDED,
    PERMIT_REVOKED,
    TRANSFER_DISPATCHED,
)
from ledger_service.cli import app as cli_app
from ledger_service.settings import REPO_ROOT

TICKET = b"%PDF-1.7\n% weighbridge ticket: gross 31,240 kg, tare 12,640 kg\n%%EOF\n"


@pytest.fixture(scope="module")
def world(client, regulator) -> dict:
    ensure_waste_code(client, regulator)
    g, r, t, v = (Party(n) for n in ("generator", "recycler", "truck", "closed plant"))
    register(client, regulator, g, "SHIPPER")
    register(client, regulator, r, "SHIPPER", "RECEIVER")
    register(client, regulator, t, "TRANSPORTER")
    register(client, regulator, v, "RECEIVER")
    for holder in (r, v):
        register_permit(client, regulator, holder)
    ticket = client.post(
        "/documents", files={"file": ("ticket.pdf", TICKET, "application/pdf")}, headers=sign_in(client, g)
    )
    assert ticket.status_code == 201, ticket.text
    lot = register_lot(client, g, quantity=1_000)["id"]
    t1 = dispatch(
        client,
        g,
        r,
        lot_id=lot,
        quantity=600,
        transporters=[t.address],
        document_hash=ticket.json()["sha256"],
    )["id"]
    handover(client, t, t1, "pick-up")
    handover(client, t, t1, "delivery")
    receive(client, r, t1, 590)
    t3 = dispatch(client, r, v, lot_id=t1, quantity=100)["id"]
    t2 = dispatch(client, g, v, lot_id=lot, quantity=400)["id"]
    revoke_permit(client, regulator, v.permit_id, "storage found unlicensed")
    receive(client, v, t2, 400)
    return {"lot": lot, "t1": t1, "t2": t2, "t3": t3, "G": g, "ticket": ticket.json()["sha256"]}


@pytest.fixture(scope="module")
def lot_bundle(client, world) -> bytes:
    response = client.get(
        f"/verification/lots/{world['lot']}/bundle", params={"pack": "VN", "documents": True}
    )
    assert response.status_code == 200, response.text
    assert (
        response.headers["content-disposition"] == f'attachment; filename="evidence-lot-{world["lot"]}.json"'
    )
    return response.content


def test_a_lots_bundle_verifies_offline_with_the_report_re_run(lot_bundle, world):
    result = bundle.verify(lot_bundle)
    assert result.ok, [str(p) for p in result.problems]
    data = json.loads(lot_bundle)
    assert {t["id"] for t in data["case"]["transfers"]} == {world["t1"], world["t2"], world["t3"]}
    kinds = sorted(s["typed_data"]["primaryType"] for s in data["statements"])
    for kind in (
        "Dispatch",
        "PickUp",
        "Delivery",
        "Receipt",
        "RegisterLot",
        "RegisterPermit",
        "RevokePermit",
    ):
        assert kind in kinds, kind
    # Every signature of the carried transfer names the statement its party signed, found in the calldata.
    (t1,) = [t for t in data["case"]["transfers"] if t["id"] == world["t1"]]
    assert [s["statement"] for s in t1["signatures"]] == ["Dispatch", "PickUp", "Delivery", "Receipt"]
    assert all(s["digest"].startswith("0x") and len(s["digest"]) == 66 for s in t1["signatures"])
    # The ticket's body travels with it, and the case file says it was seen intact.
    (document,) = data["documents"]
    assert base64.b64decode(document["body"]) == TICKET and document["sha256"] == world["ticket"]
    assert "0x" + hashlib.sha256(TICKET).hexdigest() == world["ticket"]
    # The revoked permit's receipt fails under the re-run pack, as in the service's report.
    permit_rule = next(r for r in result.report.rules if r.rule_id == "GEN-PERMIT-02")
    assert permit_rule.verdict.value == "FAIL"


def test_verify_bundle_on_chain_from_the_cli(lot_bundle, tmp_path, anvil):
    path = tmp_path / "bundle.json"
    path.write_bytes(lot_bundle)
    result = CliRunner().invoke(cli_app, ["verify-bundle", str(path), "--rpc", anvil])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"OK {path}: ") and "checked and found on chain" in result.output
    assert "pack VN" in result.output and ": FAIL (" in result.output


def test_a_changed_quantity_is_named_by_the_cli(lot_bundle, tmp_path, world):
    data = json.loads(lot_bundle)
    (i,) = [n for n, t in enumerate(data["case"]["transfers"]) if t["id"] == world["t2"]]
    data["case"]["transfers"][i]["quantity"] = 300
    path = tmp_path / "tampered.json"
    path.write_bytes(bundle.canonical(data))
    result = CliRunner().invoke(cli_app, ["verify-bundle", str(path)])
    assert result.exit_code == 1
    assert f"FAIL case.transfers[{i}].quantity: 300, but the shipper signed 400" in result.output
    assert "the bundle cannot be trusted" in result.output


def test_a_log_changed_in_the_bundle_is_caught_with_the_node(lot_bundle, tmp_path, anvil):
    # Logs are not signed statements: offline they only have to be there; the node says they are not its.
    data = json.loads(lot_bundle)
    log = data["transactions"][0]["logs"][0]
    log["data"] = log["data"][:-2] + ("00" if not log["data"].endswith("00") else "01")
    path = tmp_path / "log.json"
    path.write_bytes(bundle.canonical(data))
    assert bundle.verify(path.read_bytes()).ok
    result = CliRunner().invoke(cli_app, ["verify-bundle", str(path), "--rpc", anvil])
    assert result.exit_code == 1
    assert "FAIL transactions[0]: differs from the node's receipt in logs" in result.output


def test_a_transfers_bundle_and_who_may_take_one(client, world):
    response = client.get(f"/verification/transfers/{world['t2']}/bundle")
    assert response.status_code == 200
    assert bundle.verify(response.content).ok
    refused = client.get(f"/verification/transfers/{world['t2']}/bundle", headers=sign_in(client, world["G"]))
    assert refused.status_code == 403
    assert refused.json()["detail"][0]["type"] == "regulators_only"


def test_cli_takes_a_bundle_and_checks_it(client, regulator, world, tmp_path):
    keystore, password = keystore_of(regulator, tmp_path)
    path = tmp_path / "t2.json"
    with served(client.app) as api:
        taken = CliRunner().invoke(
            cli_app,
            ["bundle", "transfer", world["t2"], "-o", str(path), "--pack", "EU"]
            + ["--api", api, "-k", str(keystore), "--password-file", str(password)],
        )
    assert taken.exit_code == 0, taken.output
    assert taken.output == f"{path}: {path.stat().st_size} bytes\n"
    checked = CliRunner().invoke(cli_app, ["verify-bundle", str(path)])
    assert checked.exit_code == 0, checked.output
    assert "pack EU" in checked.output and f"transfer {world['t2']}" in checked.output


def test_the_events_a_bundle_may_leave_out_are_the_contracts():
    def topics(contract: str) -> set[str]:
        abi = json.loads((REPO_ROOT / "build" / "contracts" / f"{contract}.json").read_text())["abi"]
        return {"0x" + event_abi_to_log_topic(e).hex() for e in abi if e["type"] == "event"}

    ledger = (
        PERMIT_REVOKED,
        CERTIFICATE_REVOKED,
        PARTICIPANT_SUSPENDED,
        PARTICIPANT_REINSTATED,
        TRANSFER_DISPATCHED,
    )
    for contract, signatures in (("SymbiosisLedger", ledger), ("Processing", (LOT_USED,))):
        for signature in signatures:
            assert "0x" + keccak(text=signature).hex() in topics(contract), signature


def test_a_revocation_left_out_is_caught_with_the_node(client, world, tmp_path, anvil):
    # A forger drops the permit's revocation and re-runs the pack: the bundle is consistent offline; the node
    # still has the revocation.
    data = json.loads(client.get(f"/verification/transfers/{world['t2']}/bundle").content)
    (j,) = [n for n, p in enumerate(data["case"]["permits"]) if p["revoked_at"]]
    data["case"]["permits"][j].update(revoked_at=None, revocation=None)
    data["statements"] = [s for s in data["statements"] if s["typed_data"]["primaryType"] != "RevokePermit"]
    forged = evaluate(serialise.case_file(data["case"]), packs.from_data(data["pack"]))
    data["report"] = serialise.encode(forged)
    path = tmp_path / "forged.json"
    path.write_bytes(bundle.canonical(data))
    assert bundle.verify(path.read_bytes()).ok
    result = CliRunner().invoke(cli_app, ["verify-bundle", str(path), "--rpc", anvil])
    assert result.exit_code == 1
    assert f"FAIL case.permits[{j}]: revoked on chain in transaction 0x" in result.output
    assert "which the bundle leaves out" in result.output


def test_a_transfer_from_the_same_lot_left_out_is_caught_with_the_node(client, world, tmp_path, anvil):
    # t2's bundle holds t1 as context: it left the same lot; and t3, which left t1's lot. The honest bundle is
    # complete on chain.
    raw = client.get(f"/verification/transfers/{world['t2']}/bundle").content
    path = tmp_path / "t2.json"
    path.write_bytes(raw)
    honest = CliRunner().invoke(cli_app, ["verify-bundle", str(path), "--rpc", anvil])
    assert honest.exit_code == 0, honest.output
    data = json.loads(raw)
    case = data["case"]
    assert {world["t1"], world["t3"]} <= {t["id"] for t in case["transfers"]}
    # A forger drops t1 with everything that names it and re-runs the pack; offline the bundle holds
    # together, but the node has t1's dispatch from that lot.
    dropped = {world["t1"], world["t3"]}
    case["transfers"] = [t for t in case["transfers"] if t["id"] not in dropped]
    case["lots"] = [x for x in case["lots"] if x["id"] not in dropped]
    case["documents"] = [d for d in case["documents"] if d["sha256"] != world["ticket"]]
    case["lots"] = [
        {**x, "balance": x["balance"] + 600} if x["id"] == world["lot"] else x for x in case["lots"]
    ]
    data["statements"] = [
        s
        for s in data["statements"]
        if not dropped & {s["digest"], s["typed_data"]["message"].get("transferId")}
    ]
    data["report"] = serialise.encode(evaluate(serialise.case_file(case), packs.from_data(data["pack"])))
    path = tmp_path / "forged.json"
    path.write_bytes(bundle.canonical(data))
    assert bundle.verify(path.read_bytes()).ok, bundle.verify(path.read_bytes()).problems
    result = CliRunner().invoke(cli_app, ["verify-bundle", str(path), "--rpc", anvil])
    assert result.exit_code == 1
    (k,) = [n for n, x in enumerate(case["lots"]) if x["id"] == world["lot"]]
    assert f"FAIL case.lots[{k}]: transfer {world['t1']} was shipped from it on chain in transaction 0x" in (
        result.output
    )
