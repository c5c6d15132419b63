"""Verification reports (GET /verification/...): the rule pack's verdicts on records made through the real
service and chain, with evidence pointing at their transactions; scoped like the records; as JSON, an HTML
page, a PDF and from the CLI.

    G lot (1,000) ──t1 (600, carried by T)──▶ L1 (R) ──t2 (600)──▶ L2 (D)
                  └─t3 (400)──▶ L3 (V): V's permit was revoked between t3's dispatch and its receipt
"""

import io
import json
import subprocess
import uuid

import pytest
from parties import Party, dispatch, ensure_waste_code, register, register_lot, register_permit, sign_in
from pypdf import PdfReader
from sqlalchemy import update
from typer.testing import CliRunner
from workflows import handover, keystore_of, receive, revoke_permit, served

from compliance import packs
from ledger_service.cli import app as cli_app
from ledger_service.db.models import Lot, Transfer
from ledger_service.settings import REPO_ROOT

GEN_RULES = {"GEN-CHAIN-01", "GEN-CHAIN-02", "GEN-SIG-01", "GEN-PERMIT-02"}


@pytest.fixture(scope="module")
def world(client, regulator) -> dict:
    build = uuid.uuid4().hex[:6]
    park, elsewhere = f"Dinh Vu {build}", f"Tan Tao {build}"
    ensure_waste_code(client, regulator)
    g, r, d, t, v, op, x = (
        Party(n)
        for n in ("generator", "recycler", "disposer", "truck", "closed plant", "park op", "outsider")
    )
    register(client, regulator, g, "SHIPPER", park=park)
    register(client, regulator, r, "SHIPPER", "RECEIVER", park=park)
    register(client, regulator, d, "RECEIVER", park=park)
    register(client, regulator, t, "TRANSPORTER", park=park)
    register(client, regulator, v, "RECEIVER", park=park)
    register(client, regulator, op, "PARK_OPERATOR", park=park)
    register(client, regulator, x, "SHIPPER", "RECEIVER", park=elsewhere)
    for holder in (r, d, v):
        register_permit(client, regulator, holder)
    lot = register_lot(client, g, quantity=1_000)["id"]

    t1 = dispatch(client, g, r, lot_id=lot, quantity=600, transporters=[t.address])["id"]
    handover(client, t, t1, "pick-up")
    handover(client, t, t1, "delivery")
    receive(client, r, t1, 600)
    t2 = dispatch(client, r, d, lot_id=t1, quantity=600)["id"]
    receive(client, d, t2, 600)
    t3 = dispatch(client, g, v, lot_id=lot, quantity=400)["id"]
    revoke_permit(client, regulator, v.permit_id, "storage found unlicensed")
    receive(client, v, t3, 400)

    parties = {"G": g, "R": r, "D": d, "T": t, "V": v, "OP": op, "X": x}
    return {
        "park": park,
        "parties": parties,
        "headers": {name: sign_in(client, party) for name, party in parties.items()},
        "lot": lot,
        "transfers": {"t1": t1, "t2": t2, "t3": t3},
        "revoked_permit": client.get(f"/permits/{v.permit_id}").json()["permit_number"],
    }


def verify(client, world, path: str, as_: str | None = None, **params):
    headers = world["headers"][as_] if as_ else None
    return client.get(f"/verification/{path}", params=params, headers=headers)


def rules(report: dict) -> dict[str, dict]:
    return {rule["id"]: rule for rule in report["rules"]}


def findings(report: dict, rule: str) -> dict[str, dict]:
    return {f["subject"]: f for f in rules(report)[rule]["findings"]}


def test_a_compliant_lineage_passes_every_rule_on_its_chain_evidence(client, world):
    t1, t2, t3 = (world["transfers"][n] for n in ("t1", "t2", "t3"))
    response = verify(client, world, f"lots/{t1}")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["subject"], report["pack"]["id"]) == (f"lot {t1} and its lineage", "VN")
    assert len(report["pack"]["hash"]) == 64 and report["evaluation_date"]
    assert set(rules(report)) == {rule.id for rule in packs.load("VN").rules}
    assert {rule: rules(report)[rule]["verdict"] for rule in GEN_RULES} == dict.fromkeys(GEN_RULES, "PASS")
    assert response.headers["X-Verdict"] == report["verdict"]

    # Upstream to the generated lot, downstream to the disposer's lot; t3 left the same generated lot, so it
    # counts in that lot's balance, but is no part of this lineage and is not judged.
    assert set(findings(report, "GEN-PERMIT-02")) == {f"transfer {t1}", f"transfer {t2}"}
    balance = findings(report, "GEN-CHAIN-01")
    assert set(balance) == {f"lot {world['lot']}", f"lot {t1}", f"lot {t2}"}
    assert "1000 of the 1000 it held left the lot; 0 remains" in balance[f"lot {world['lot']}"]["reason"]

    # The signatures' evidence is the transfer's own events: dispatch, the leg's pick-up and delivery, receipt.
    chain = client.get(f"/transfers/{t1}").json()["evidence"]
    signed = findings(report, "GEN-SIG-01")[f"transfer {t1}"]
    assert "4 statements" in signed["reason"]
    assert {(e["tx_hash"], e["log_index"]) for e in signed["evidence"]} == {
        (e["tx_hash"], e["log_index"]) for e in chain if e["event"] != "TransferCarried"
    }
    g, t, r = (world["parties"][n].address for n in "GTR")
    assert [
        e["signer"] for e in sorted(signed["evidence"], key=lambda e: (e["block_number"], e["log_index"]))
    ] == [
        g,
        t,
        t,
        r,
    ]
    permit = findings(report, "GEN-PERMIT-02")[f"transfer {t1}"]
    dispatched = next(e for e in chain if e["event"] == "TransferDispatched")
    assert (dispatched["tx_hash"], dispatched["block_number"], g) in {
        (e["tx_hash"], e["block_number"], e["signer"]) for e in permit["evidence"]
    }
    assert t3 not in json.dumps(report)


def test_a_receipt_after_the_receivers_permit_was_revoked_fails(client, world):
    t3 = world["transfers"]["t3"]
    report = verify(client, world, f"transfers/{t3}").json()
    assert report["subject"] == f"transfer {t3}" and report["verdict"] == "FAIL"
    finding = findings(report, "GEN-PERMIT-02")[f"transfer {t3}"]
    assert finding["verdict"] == "FAIL"
    assert f"the receiver's permit {world['revoked_permit']} was revoked" in finding["reason"]
    assert "(receipt)" in finding["reason"]
    # Only the transfer and its lots are judged: t1, which took from the same lot, is not.
    assert {f for rule in GEN_RULES for f in findings(report, rule)} == {
        f"transfer {t3}",
        f"lot {world['lot']}",
        f"lot {t3}",
    }
    # The firm that shipped it, and its park, fail on the same finding.
    g = world["parties"]["G"].address
    for path in (f"firms/{g}", f"parks/{world['park']}"):
        over = verify(client, world, path, **{"from": "2020-01-01"}).json()
        assert findings(over, "GEN-PERMIT-02")[f"transfer {t3}"] == finding, path


def test_a_period_bounds_a_firms_records(client, world):
    g = world["parties"]["G"].address
    report = verify(client, world, f"firms/{g}", until="2020-12-31").json()
    assert report["subject"].endswith(f"({g}) until 2020-12-31")
    assert {r["verdict"] for r in report["rules"]} == {"N/A"}
    empty = verify(client, world, f"firms/{g}", **{"from": "2026-02-01", "until": "2026-01-31"})
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"] == ["query", "until"]


def test_each_caller_verifies_what_it_may_see(client, world):
    t1, t3 = world["transfers"]["t1"], world["transfers"]["t3"]
    g, r = world["parties"]["G"].address, world["parties"]["R"].address
    allowed = [
        (f"lots/{t1}", "R"),
        (f"transfers/{t1}", "T"),
        (f"firms/{g}", "G"),
        (f"firms/{g}", "OP"),
        (f"parks/{world['park']}", "OP"),
    ]
    for path, caller in allowed:
        assert verify(client, world, path, caller).status_code == 200, (path, caller)
    refused = [
        (f"lots/{t1}", "X", "unknown_lot"),
        (f"transfers/{t3}", "D", "unknown_transfer"),
        (f"firms/{g}", "R", "unknown_participant"),
        (f"firms/{r}", "X", "unknown_participant"),
        (f"parks/{world['park']}", "G", "unknown_park"),
        ("parks/Nowhere", None, "unknown_park"),
    ]
    for path, caller, error in refused:
        response = verify(client, world, path, caller)
        assert response.status_code == 404, (path, caller, response.text)
        assert response.json()["detail"][0]["type"] == error


def test_in_a_lineage_others_records_tell_their_verdict_only(client, world):
    t1, t2 = world["transfers"]["t1"], world["transfers"]["t2"]
    mine = verify(client, world, f"lots/{t2}", "D").json()
    full = verify(client, world, f"lots/{t2}").json()
    assert [(r["id"], r["verdict"]) for r in mine["rules"]] == [
        (r["id"], r["verdict"]) for r in full["rules"]
    ]
    permit = findings(mine, "GEN-PERMIT-02")
    assert permit[f"transfer {t2}"]["redacted"] is False and permit[f"transfer {t2}"]["evidence"]
    hidden = permit[f"transfer {t1}"]
    assert (hidden["redacted"], hidden["evidence"], hidden["verdict"]) == (True, [], "PASS")
    assert world["parties"]["G"].address not in json.dumps(mine)


def test_a_finding_resting_on_anothers_shipment_tells_its_verdict_only(client, world):
    # A read-model balance that is not what left the lot makes its mass balance rest on every shipment from
    # it: t3, to V, is no business of R's, which shipped nothing and received t1 from the same lot.
    t1, lot = world["transfers"]["t1"], world["lot"]
    sessions = client.app.state.runtime.sessions
    with sessions.begin() as session:
        session.execute(update(Lot).where(Lot.id == lot).values(balance=5))
    try:
        full = findings(verify(client, world, f"transfers/{t1}").json(), "GEN-CHAIN-01")[f"lot {lot}"]
        t3 = client.get(f"/transfers/{world['transfers']['t3']}").json()["evidence"]
        (shipped,) = [e["tx_hash"] for e in t3 if e["event"] == "TransferDispatched"]
        assert full["verdict"] == "WARN" and shipped in {e["tx_hash"] for e in full["evidence"]}
        mine = findings(verify(client, world, f"transfers/{t1}", as_="R").json(), "GEN-CHAIN-01")[
            f"lot {lot}"
        ]
        assert (mine["verdict"], mine["redacted"], mine["evidence"]) == ("WARN", True, [])
        assert mine["reason"].startswith("this finding rests on records of others that you may not see")
    finally:
        with sessions.begin() as session:
            session.execute(update(Lot).where(Lot.id == lot).values(balance=0))


def test_the_report_as_a_page_and_as_a_pdf(client, world):
    t3 = world["transfers"]["t3"]
    report = verify(client, world, f"transfers/{t3}").json()
    verdicts = [(r["id"], r["verdict"]) for r in report["rules"]]

    page = verify(client, world, f"transfers/{t3}", format="html")
    assert page.headers["content-type"].startswith("text/html")
    negotiated = client.get(f"/verification/transfers/{t3}", headers={"Accept": "text/html,*/*;q=0.8"})
    assert negotiated.headers["content-type"].startswith("text/html")
    for rule, verdict in verdicts:
        assert f'<a href="#{rule}">{rule}</a>' in page.text
        assert f"<h2>{rule}: " in page.text and f">{verdict}</span>" in page.text
    assert world["revoked_permit"] in page.text and "<script" not in page.text and "http" not in page.text

    pdf = verify(client, world, f"transfers/{t3}", format="pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Compliance verification report" in text and "Verdict: FAIL" in text
    for rule, verdict in verdicts:
        assert f"{rule}: " in text and f"Verdict {verdict};" in text
    assert world["revoked_permit"] in text
    # The integrity checks head both, as in the JSON.
    for check in report["integrity"]:
        assert (
            check["summary"] in page.text and f"Integrity of the {check['check']}: {check['status']}" in text
        )


def test_every_report_says_its_records_documents_and_contracts_are_intact(client, world):
    report = verify(client, world, f"lots/{world['transfers']['t1']}").json()
    checks = {c["check"]: c for c in report["integrity"]}
    assert {name: c["status"] for name, c in checks.items()} == {
        "records": "verified",
        "documents": "verified",
        "contracts": "verified",
    }
    assert "signed statements they come from, every signature re-verified" in checks["records"]["summary"]
    head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert checks["contracts"]["summary"].startswith(
        f"contracts verified against source commit {head.stdout.strip()}"
    )


def test_a_read_model_row_that_is_not_what_was_signed_fails_the_records_check(client, world):
    t2 = world["transfers"]["t2"]
    sessions = client.app.state.runtime.sessions
    with sessions.begin() as session:
        session.execute(update(Transfer).where(Transfer.id == t2).values(quantity=650))
    try:
        report = verify(client, world, f"transfers/{t2}").json()
        records = next(c for c in report["integrity"] if c["check"] == "records")
        assert records["status"] == "failed"
        assert any(p.endswith(".quantity: 650, but the shipper signed 600") for p in records["problems"])
        # The disposer may verify its transfer: it learns the records fail, not what another party's say.
        as_disposer = verify(client, world, f"transfers/{t2}", as_="D").json()
        records = next(c for c in as_disposer["integrity"] if c["check"] == "records")
        assert (records["status"], records["problems"]) == ("failed", [])
    finally:
        with sessions.begin() as session:
            session.execute(update(Transfer).where(Transfer.id == t2).values(quantity=600))


def test_bad_options_are_named(client, world):
    t1 = world["transfers"]["t1"]
    for params, loc in (({"pack": "XX"}, "pack"), ({"format": "doc"}, "format"), ({"at": "yesterday"}, "at")):
        response = verify(client, world, f"transfers/{t1}", **params)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["query", loc]
    eu = verify(client, world, f"transfers/{t1}", pack="EU", at="2030-01-01T00:00:00").json()
    assert (eu["pack"]["id"], eu["evaluation_date"]) == ("EU", "2030-01-01T00:00:00Z")


@pytest.fixture
def api_url(client):
    with served(client.app) as url:
        yield url


def test_cli_verify(client, world, api_url, tmp_path):
    keystore, password = keystore_of(world["parties"]["G"], tmp_path)
    t3 = world["transfers"]["t3"]
    run = CliRunner().invoke
    common = ["--api", api_url, "-k", str(keystore), "--password-file", str(password)]
    printed = run(cli_app, ["verify", "transfer", t3, "--pack", "US", *common])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout)["pack"]["id"] == "US"
    written = run(
        cli_app, ["verify", "transfer", t3, "--format", "pdf", "-o", str(tmp_path / "r.pdf"), *common]
    )
    assert written.exit_code == 0, written.output
    assert "verdict FAIL" in written.output and (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    refused = run(cli_app, ["verify", "lot", world["transfers"]["t2"], *common])  # the disposer's lot
    assert refused.exit_code == 1 and "(HTTP 404)" in refused.output
