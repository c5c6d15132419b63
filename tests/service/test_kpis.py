"""Eco-industrial-park KPIs (GET /kpis/...) and the compliance report PDF (GET /reports/...) through the real
service and chain, their numbers checked against ones worked out by hand, the PDF read back with pypdf.

    park P:   G generates 2,000 kg of slag (EU-LOW 10 02 02, a factor of 520 kg CO2 per tonne)
              G ──t1 (600, received 600, R5)──▶ R
              G ──t2 (300, received 300, R5)──▶ R            (a second transfer on the same link)
              G ──t3 (50, received 50)──▶ X, in another park
              G ──t4 (50)──▶ V: V's permit was revoked before the receipt: FAIL, no link
              G ══ steam, metered 12 + 15 + 11 t ══▶ R      (175 kg CO2 per tonne)
              R ══ treated wastewater, metered 20 + 25 m3 ══▶ G
"""

import io
import re
import uuid

import pytest
import zxingcpp
from parties import Party, dispatch, ensure_waste_code, register, register_lot, register_permit, sign_in
from pypdf import PdfReader
from typer.testing import CliRunner
from workflows import keystore_of, metered_flow, receive, revoke_permit, served

from ledger_service.cli import app as cli_app
from ledger_service.rendering.compliance_report import verification_url

# Only QR codes: a reader trying every format can see a linear barcode in a QR code's modules.
QR = zxingcpp.BarcodeFormat.QRCode


@pytest.fixture(scope="module")
def world(client, regulator) -> dict:
    build = uuid.uuid4().hex[:6]
    park, elsewhere = f"Kalundborg Ø {build}", f"Tan Tao {build}"
    ensure_waste_code(client, regulator)
    g, r, v, op, x = (Party(n) for n in ("steel mill", "stone works", "closed plant", "park op", "outsider"))
    register(client, regulator, g, "SHIPPER", "RECEIVER", park=park)
    register(client, regulator, r, "SHIPPER", "RECEIVER", park=park)
    register(client, regulator, v, "RECEIVER", park=park)
    register(client, regulator, op, "PARK_OPERATOR", park=park)
    register(client, regulator, x, "SHIPPER", "RECEIVER", park=elsewhere)
    for holder in (r, v, x):
        register_permit(client, regulator, holder)
    register_lot(client, g, quantity=2_000)

    t1 = dispatch(client, g, r, quantity=600)["id"]
    receive(client, r, t1, 600)
    t2 = dispatch(client, g, r, quantity=300)["id"]
    receive(client, r, t2, 300)
    t3 = dispatch(client, g, x, quantity=50)["id"]
    receive(client, x, t3, 50)
    t4 = dispatch(client, g, v, quantity=50)["id"]
    revoke_permit(client, regulator, v.permit_id, "storage found unlicensed")
    receive(client, v, t4, 50)
    steam = metered_flow(client, g, r, [12, 15, 11])
    water = metered_flow(client, r, g, [20, 25], "treated wastewater", "MTQ", "0x" + "5a" * 32)
    parties = {"G": g, "R": r, "V": v, "OP": op, "X": x}
    return {
        "park": park,
        "parties": parties,
        "headers": {name: sign_in(client, party) for name, party in parties.items()},
        "transfers": {"t1": t1, "t2": t2, "t3": t3, "t4": t4},
        "flows": {"steam": steam, "water": water},
    }


def kpis_of(client, world, path: str, as_: str | None = None, **params):
    headers = world["headers"][as_] if as_ else None
    return client.get(f"/kpis/{path}", params={"pack": "EU", **params}, headers=headers)


@pytest.fixture(scope="module")
def park_kpis(client, world) -> dict:
    response = kpis_of(client, world, f"parks/{world['park']}", "OP")
    assert response.status_code == 200, response.text
    return response.json()


def test_park_kpis_match_the_hand_computed_numbers(world, park_kpis):
    p, tr = world["parties"], world["transfers"]
    k = park_kpis
    # t1 + t2 + t3 = 950 kg of slag; t4 fails verification and counts for nothing.
    assert k["tonnes_exchanged"] == 0.95
    (slag,) = k["materials"]
    assert (slag["material"], slag["transfers"], slag["quantity"], slag["tonnes"]) == (
        "EU-LOW 10 02 02",
        3,
        950,
        0.95,
    )
    assert (slag["not_counted_transfers"], slag["not_counted_quantity"]) == (1, 50)

    # Two links, G→R (two transfers) and G→X; G→V is no link: its transfer fails verification.
    assert k["links"]["count"] == 2
    assert {(link["shipper"], link["receiver"], link["transfers"]) for link in k["links"]["pairs"]} == {
        (p["G"].address, p["R"].address, 2),
        (p["G"].address, p["X"].address, 1),
    }
    (failing,) = k["links"]["not_counted"]
    assert failing["transfer_id"] == tr["t4"] and failing["verdict"] == "FAIL"
    assert "GEN-PERMIT-02" in failing["failed_rules"]

    # 2 t generated: 0.95 t recovered (R5), 1 t still held, 0.05 t (t4) not counted.
    reuse = k["reuse"]
    assert (reuse["generated_tonnes"], reuse["reused_recycled_tonnes"], reuse["held_tonnes"]) == (
        2.0,
        0.95,
        1.0,
    )
    assert (reuse["disposed_tonnes"], reuse["other_tonnes"], reuse["share_reused_recycled"]) == (
        0,
        0.05,
        0.475,
    )

    # 0.95 t slag × 520 = 494 kg; 38 t steam × 175 = 6,650 kg.
    co2 = k["co2_avoided"]
    assert co2["kg"] == 7144.0
    assert {f["factor"]: f["kg_co2"] for f in co2["by_factor"]} == {
        "slag-replaces-clinker": 494.0,
        "steam-replaces-gas-boiler": 6650.0,
    }
    assert all(f["source"] and f["confidence"] in ("S", "S2", "H", "U", "D") for f in co2["by_factor"])
    assert k["water_reused"]["m3"] == 45.0
    # The dashboard's series: everything happened this month.
    (month,) = k["series"]
    assert (month["transfers"], month["tonnes"], month["metered_tonnes"], month["water_m3"]) == (
        3,
        0.95,
        38.0,
        45.0,
    )
    assert (k["rule_pack"]["id"], k["scope"]) == ("EU", f"park {world['park']}")


def test_a_firm_sees_its_own_kpis_only(client, world):
    x = world["parties"]["X"].address
    response = kpis_of(client, world, f"firms/{x}", "X")
    assert response.status_code == 200, response.text
    k = response.json()
    # X received t3 only, generated nothing, and takes part in no metered flow.
    assert (k["tonnes_exchanged"], k["links"]["count"], k["reuse"]["share_reused_recycled"]) == (
        0.05,
        1,
        None,
    )
    assert (k["co2_avoided"]["kg"], k["water_reused"]["m3"]) == (26.0, 0)
    # A period before anything was recorded holds nothing.
    old = kpis_of(client, world, f"firms/{x}", "X", until="2020-12-31").json()
    assert (old["tonnes_exchanged"], old["links"]["count"], old["series"]) == (0, 0, [])


def test_refusals_name_the_field(client, world):
    g, x, park = world["parties"]["G"].address, world["parties"]["X"].address, world["park"]
    refused = [
        ("X", f"firms/{g}", {}, 404, "unknown_participant", ["path", "address"]),
        ("G", f"parks/{park}", {}, 404, "unknown_park", ["path", "park"]),
        ("OP", f"firms/{x}", {}, 404, "unknown_participant", ["path", "address"]),
        (None, "parks/Nowhere", {}, 404, "unknown_park", ["path", "park"]),
        (
            None,
            f"parks/{park}",
            {"from": "2026-02-01", "until": "2026-01-31"},
            422,
            "empty_period",
            ["query", "until"],
        ),
        (None, f"parks/{park}", {"pack": "XX"}, 422, None, ["query", "pack"]),
    ]
    for prefix in ("kpis", "reports"):
        for caller, path, params, status, kind, loc in refused:
            url = f"/{prefix}/{path}" + (".pdf" if prefix == "reports" else "")
            headers = world["headers"][caller] if caller else None
            response = client.get(url, params={"pack": "EU", **params}, headers=headers)
            assert response.status_code == status, (url, params, response.text)
            error = response.json()["detail"][0]
            assert error["loc"] == loc, (url, error)
            assert kind is None or error["type"] == kind


def test_the_pdf_report_holds_the_summary_the_kpis_and_a_qr_link_per_transfer(
    client, world, monkeypatch, tmp_path
):
    tr = world["transfers"]
    response = client.get(
        f"/reports/parks/{world['park']}.pdf", params={"pack": "EU"}, headers=world["headers"]["OP"]
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    pdf = PdfReader(io.BytesIO(response.content))
    text = re.sub(r"\s+", " ", " ".join(page.extract_text() for page in pdf.pages))
    assert "Compliance report" in text and world["park"] in text
    assert "Tonnes exchanged (transfers that pass verification): 0.95 t" in text
    assert "passing transfers only): 2" in text and "Water reused: 45 m3" in text
    assert "4 transfers:" in text and "1 FAIL" in text
    # The failing transfer, with the reason its verification report gives. (That report's integrity
    # section compiles the contracts, tens of seconds and no part of a verdict: left "not checked".)
    monkeypatch.setattr(client.app.state.runtime.settings, "contract_sources", tmp_path)
    report = client.get(f"/verification/transfers/{tr['t4']}", params={"pack": "EU"}).json()
    (finding,) = [
        f
        for rule in report["rules"]
        if rule["id"] == "GEN-PERMIT-02"
        for f in rule["findings"]
        if f["subject"] == f"transfer {tr['t4']}" and f["verdict"] == "FAIL"
    ]
    assert f"transfer {tr['t4']}" in text
    reason = re.sub(r"\s+", " ", finding["reason"])
    assert f"GEN-PERMIT-02 (FAIL): {reason[:60]}" in text
    # Each transfer's QR code (and its line) links to its verification page.
    uris = {
        annotation.get_object()["/A"]["/URI"]
        for page in pdf.pages
        for annotation in page.get("/Annots", [])
        if "/A" in annotation.get_object()
    }
    base = client.app.state.runtime.settings.resolved_public_url
    assert {verification_url(base, t) for t in tr.values()} <= uris
    # The QR codes themselves, read as a phone's camera reads them.
    read = [
        code.text
        for page in pdf.pages
        for image in page.images
        for code in zxingcpp.read_barcodes(image.image, formats=QR)
    ]
    assert sorted(read) == sorted(verification_url(base, t) for t in tr.values())


@pytest.fixture
def api_url(client):
    with served(client.app) as url:
        yield url


def test_cli_writes_the_kpis_and_the_report(client, world, api_url, tmp_path):
    run = CliRunner().invoke
    keystore, password = keystore_of(world["parties"]["OP"], tmp_path)
    common = ["--api", api_url, "-k", str(keystore), "--password-file", str(password), "--pack", "EU"]
    out = tmp_path / "kpis.json"
    written = run(cli_app, ["kpis", "park", world["park"], "-o", str(out), *common])
    assert written.exit_code == 0, written.output
    assert "0.95 t exchanged, 2 symbiosis links, 7144.0 kg CO2 avoided" in written.output
    pdf = tmp_path / "report.pdf"
    reported = run(cli_app, ["report", "park", world["park"], "-o", str(pdf), *common])
    assert reported.exit_code == 0, reported.output
    assert "4 transfers" in reported.output and PdfReader(pdf).pages
