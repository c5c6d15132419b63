"""Exports (GET /exports/...) of a park's or a firm's records over a period, made through the real service
and chain: the legal registry as CSV and XLSX, GS1 EPCIS 2.0 and US EPA e-Manifest JSON, each read back
and checked against the official schemas (copies in tests/standards/), and from the CLI.

    Đình Vũ park:   G ──t1 (600, carried by T; 590 received)──▶ R ──processing──▶ aggregate 500 + slag 50
                    G ──t2 (300: R accepts 200, rejects 100, returned as r2)──▶ R
                    G ──t3 (50)──▶ X (another park)
                    G ──t4 (50)──▶ V: V's permit was revoked before the receipt
                    G ══ steam, metered: 3 hourly periods ══▶ R
    Houston park:   UG ──u1 (D001, 1,000 kg, carried by UT; 980 received)──▶ UF     (EPA ids all round)
                    UG ──u2 (D001, 10 kg)──▶ UN, whose enterprise id is not an EPA id
"""

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from jsonschema import Draft4Validator, Draft7Validator, FormatChecker
from openpyxl import load_workbook
from parties import (
    Party,
    dispatch,
    ensure_waste_code,
    register,
    register_lot,
    register_permit,
    sign_in,
    signed_submit,
)
from typer.testing import CliRunner
from workflows import handover, keystore_of, metered_flow, receive, rejection, revoke_permit, served

from compliance.verdicts import Verdict, worst
from ledger_service import exports
from ledger_service.cli import app as cli_app
from ledger_service.exports.emanifest import epa_id
from ledger_service.exports.registry import COLUMNS

STANDARDS = Path(__file__).parent.parent / "standards"
EPCIS_SCHEMA = json.loads((STANDARDS / "epcis-2.0" / "EPCIS-JSON-Schema.json").read_text())
EMANIFEST_SCHEMA = json.loads((STANDARDS / "emanifest" / "emanifest.json").read_text())
AGGREGATE = ("UN-CPC", "15320", "KGM", False)
US_CODE = ("US-RCRA", "D001", "KGM", True)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = FormatChecker()
# Both schemas lean on `uri` and `date-time`: checked only with rfc3986-validator and rfc3339-validator.
assert {"uri", "date-time"} <= set(FORMATS.checkers), "install the dev dependencies (pyproject.toml)"


def carried(client, shipper, receiver, transporter, received: int, **terms) -> str:
    transfer = dispatch(client, shipper, receiver, transporters=[transporter.address], **terms)["id"]
    handover(client, transporter, transfer, "pick-up")
    handover(client, transporter, transfer, "delivery")
    receive(client, receiver, transfer, received)
    return transfer


def us_world(client, regulator, park: str) -> dict:
    scheme, code, unit, _ = US_CODE
    ensure_waste_code(client, regulator, *US_CODE)
    ug, ut, uf, un = (Party(n) for n in ("solvent recycler", "hazmat hauler", "tsdf", "no epa id"))
    register(client, regulator, ug, "SHIPPER", park=park, enterprise_id="VAD000000001")
    register(client, regulator, ut, "TRANSPORTER", park=park, enterprise_id="TXR000000002")
    register(client, regulator, uf, "RECEIVER", park=park, enterprise_id="TXD000000003")
    register(client, regulator, un, "RECEIVER", park=park)
    coverage = [{"scheme": scheme, "code": code, "operations": ["R2"]}]
    for facility in (uf, un):
        register_permit(client, regulator, facility, operations=("R2",), coverage=coverage)
    licence = register_permit(
        client,
        regulator,
        ut,
        kind="HW_TRANSPORT_LICENCE",
        coverage=coverage,
        valid_from=(datetime.now(UTC) - timedelta(days=1)).isoformat(),
    )
    lot = {
        "generator": ug.address,
        "waste_scheme": scheme,
        "waste_code": code,
        "quantity": 2_000,
        "unit": unit,
        "document_hash": "0x" + "0e" * 32,
    }
    ug.lot_id = signed_submit(client, ug, "/lots/prepare", lot, "/lots")["id"]
    u1 = carried(client, ug, uf, ut, 980, quantity=1_000, operation="R2", licences=[licence["permit_id"]])
    u2 = carried(client, ug, un, ug, 10, quantity=10, operation="R2")  # the generator carries it itself
    return {"UG": ug, "UT": ut, "UF": uf, "UN": un, "u1": u1, "u2": u2}


@pytest.fixture(scope="module")
def world(client, regulator) -> dict:
    build = uuid.uuid4().hex[:6]
    park, elsewhere, houston = f"Đình Vũ {build}", f"Tan Tao {build}", f"Houston {build}"
    ensure_waste_code(client, regulator)
    ensure_waste_code(client, regulator, *AGGREGATE)
    g, r, t, v, op, x = (
        Party(n) for n in ("generator", "recycler", "truck", "closed plant", "park op", "outsider")
    )
    register(client, regulator, g, "SHIPPER", park=park)
    register(client, regulator, r, "SHIPPER", "RECEIVER", park=park)
    register(client, regulator, t, "TRANSPORTER", park=park)
    register(client, regulator, v, "RECEIVER", park=park)
    register(client, regulator, op, "PARK_OPERATOR", park=park)
    register(client, regulator, x, "SHIPPER", "RECEIVER", park=elsewhere)
    for holder in (r, v, x):
        register_permit(client, regulator, holder)
    register_lot(client, g, quantity=2_000)

    t1 = carried(client, g, r, t, 590, quantity=600)
    t2 = dispatch(client, g, r, quantity=300)["id"]
    rejected = rejection(
        client, r, t2, accepted_quantity=200, rejected_quantity=100, reason="moisture above 8 %"
    )
    assert rejected.status_code == 200, rejected.text
    r2 = rejected.json()["rejection"]["return_id"]
    t3 = dispatch(client, g, x, quantity=50)["id"]
    receive(client, x, t3, 50)
    t4 = dispatch(client, g, v, quantity=50)["id"]
    revoke_permit(client, regulator, v.permit_id, "storage found unlicensed")
    receive(client, v, t4, 50)

    processing = {
        "processor": r.address,
        "inputs": [{"lot_id": t1, "quantity": 590}],
        "external_inputs": [],
        "outputs": [
            {"kind": "product", "scheme": AGGREGATE[0], "code": AGGREGATE[1], "quantity": 500},
            {"kind": "residue", "scheme": "EU-LOW", "code": "10 02 02", "quantity": 50},
        ],
        "loss_grams": 40_000,
        "loss_description": "moisture",
        "document_hash": "0x" + "a7" * 32,
    }
    processed = signed_submit(client, r, "/processings/prepare", processing, "/processings")
    flow = metered_flow(client, g, r, [12, 15, 11])

    parties = {"G": g, "R": r, "T": t, "V": v, "OP": op, "X": x}
    us = us_world(client, regulator, houston)
    return {
        "build": build,
        "park": park,
        "houston": houston,
        "parties": parties,
        "us": us,
        "headers": {name: sign_in(client, party) for name, party in parties.items()},
        "transfers": {"t1": t1, "t2": t2, "r2": r2, "t3": t3, "t4": t4},
        "processing": processed,
        "flow": flow,
    }


def export(client, world, what: str, as_: str | None = None, **params):
    headers = world["headers"][as_] if as_ else None
    return client.get(f"/exports/{what}", params={"pack": "VN", **params}, headers=headers)


def csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def verdicts_in_report(client, park: str, monkeypatch, nowhere: Path) -> dict[str, str]:
    """Each transfer's verdict as the park's verification report gives it: the worst of its findings."""
    # The report's integrity section compiles the contracts (tens of seconds, once per process): no part
    # of a verdict, so it is left "not checked" here.
    monkeypatch.setattr(client.app.state.runtime.settings, "contract_sources", nowhere)
    report = client.get(f"/verification/parks/{park}", params={"pack": "VN"}).json()
    found: dict[str, list[Verdict]] = {}
    for rule in report["rules"]:
        for f in rule["findings"]:
            if f["subject"].startswith("transfer "):
                found.setdefault(f["subject"].removeprefix("transfer "), []).append(Verdict(f["verdict"]))
    return {transfer: worst(verdicts).value for transfer, verdicts in found.items()}


def test_the_registry_as_csv_has_a_row_per_transfer_with_its_record_fields(
    client, world, monkeypatch, tmp_path
):
    tr, p = world["transfers"], world["parties"]
    rows = csv_rows(export(client, world, "registry", "OP", park=world["park"]))
    # Chronological: the park operator sees every transfer a member is party to, the return included.
    assert [row["transfer_id"] for row in rows] == [tr[n] for n in ("t1", "t2", "r2", "t3", "t4")]
    by_id = {row["transfer_id"]: row for row in rows}

    t1 = by_id[tr["t1"]]
    assert (t1["waste_scheme"], t1["waste_code"], t1["hazardous"], t1["unit"]) == (
        "EU-LOW",
        "10 02 02",
        "no",
        "KGM",
    )
    assert (t1["quantity_shipped"], t1["quantity_received"], t1["quantity_rejected"]) == ("600", "590", "0")
    assert (t1["shipper_address"], t1["receiver_address"], t1["shipper_name"]) == (
        p["G"].address,
        p["R"].address,
        "generator JSC",
    )
    assert t1["shipper_enterprise_id"].startswith("03") and t1["operation"] == "R5"
    assert p["T"].address in t1["transporters"] and "truck JSC" in t1["transporters"]
    assert t1["receiver_permit"].startswith("GPMT-")
    # Who signed each step, and in which transaction (the transfer's own evidence).
    chain = {e["event"]: e for e in client.get(f"/transfers/{tr['t1']}").json()["evidence"]}
    assert (t1["dispatch_signed_by"], t1["dispatch_tx"]) == (
        p["G"].address,
        chain["TransferDispatched"]["tx_hash"],
    )
    assert (t1["pick_up_signed_by"], t1["pick_up_tx"]) == (p["T"].address, chain["LegPickedUp"]["tx_hash"])
    assert (t1["delivery_signed_by"], t1["delivery_tx"]) == (p["T"].address, chain["LegDelivered"]["tx_hash"])
    assert (t1["receipt_signed_by"], t1["receipt_tx"]) == (
        p["R"].address,
        chain["TransferReceived"]["tx_hash"],
    )
    moments = [
        datetime.fromisoformat(t1[c])
        for c in ("dispatched_at", "picked_up_at", "delivered_at", "received_at")
    ]
    assert moments == sorted(moments) and all(m.tzinfo for m in moments)

    t2 = by_id[tr["t2"]]
    assert (t2["status"], t2["quantity_received"], t2["quantity_rejected"]) == (
        "partially_rejected",
        "200",
        "100",
    )
    assert (t2["rejection_reason"], t2["returned_as"], t2["rejection_signed_by"]) == (
        "moisture above 8 %",
        tr["r2"],
        p["R"].address,
    )
    r2 = by_id[tr["r2"]]
    assert (r2["return_of"], r2["shipper_address"], r2["receiver_address"]) == (
        tr["t2"],
        p["R"].address,
        p["G"].address,
    )
    # A return is opened by the receiver's signed rejection, not by a dispatch.
    assert (r2["dispatch_signed_by"], r2["rejection_signed_by"]) == ("", p["R"].address)
    assert r2["rejection_tx"] == t2["rejection_tx"]

    # The verdict is the transfer's own verification verdict, with the rules that failed it.
    t4 = by_id[tr["t4"]]
    assert t4["verdict"] == "FAIL" and "GEN-PERMIT-02" in t4["failed_rules"].split()
    assert {t: row["verdict"] for t, row in by_id.items()} == verdicts_in_report(
        client, world["park"], monkeypatch, tmp_path
    )
    assert {row["rule_pack"] for row in rows} == {"VN"}


def test_the_registry_as_xlsx_reads_back_the_same_rows(client, world):
    response = export(client, world, "registry", park=world["park"], format="xlsx")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    # The park's name, in the Latin-1 a header allows.
    assert response.headers["content-disposition"].endswith(
        f'filename="registry-park-Dinh-Vu-{world["build"]}.xlsx"'
    )
    sheet = load_workbook(io.BytesIO(response.content), read_only=True)["Registry"]
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert tuple(header) == COLUMNS
    csv_by_id = {r["transfer_id"]: r for r in csv_rows(export(client, world, "registry", park=world["park"]))}
    assert [r[0] for r in rows] == list(csv_by_id)
    column = {name: i for i, name in enumerate(COLUMNS)}
    t1 = next(r for r in rows if r[0] == world["transfers"]["t1"])
    # Quantities are numbers, times are dates (UTC), in the workbook.
    assert (t1[column["quantity_shipped"]], t1[column["quantity_received"]]) == (600, 590)
    assert isinstance(t1[column["dispatched_at"]], datetime)
    for row in rows:
        assert (row[column["waste_code"]], row[column["verdict"]]) == (
            csv_by_id[row[0]]["waste_code"],
            csv_by_id[row[0]]["verdict"],
        )


def test_a_firm_exports_its_own_records_and_a_period_bounds_them(client, world, monkeypatch):
    tr = world["transfers"]
    x = world["parties"]["X"].address
    assert [r["transfer_id"] for r in csv_rows(export(client, world, "registry", "X", firm=x))] == [tr["t3"]]
    g = world["parties"]["G"].address
    everything = csv_rows(export(client, world, "registry", "G", firm=g))
    # Read a page of two transfers at a time: the same rows, in the same order.
    monkeypatch.setattr(exports, "PAGE", 2)
    assert csv_rows(export(client, world, "registry", "G", firm=g)) == everything
    assert [r["transfer_id"] for r in everything] == [tr[n] for n in ("t1", "t2", "r2", "t3", "t4")]
    assert csv_rows(export(client, world, "registry", "G", firm=g, until="2020-12-31")) == []


def test_refusals_name_the_field(client, world):
    g, x = world["parties"]["G"].address, world["parties"]["X"].address
    refused = [
        ("X", {"firm": g}, 404, "unknown_participant", ["query", "firm"]),
        ("G", {"park": world["park"]}, 404, "unknown_park", ["query", "park"]),
        ("OP", {"firm": x}, 404, "unknown_participant", ["query", "firm"]),
        (None, {"park": "Nowhere"}, 404, "unknown_park", ["query", "park"]),
        (None, {}, 422, "scope_required", ["query", "park"]),
        (None, {"park": world["park"], "firm": g}, 422, "scope_required", ["query", "firm"]),
        (
            None,
            {"park": world["park"], "from": "2026-02-01", "until": "2026-01-31"},
            422,
            "empty_period",
            ["query", "until"],
        ),
        (None, {"park": world["park"], "from": "last spring"}, 422, None, ["query", "from"]),
    ]
    for what in ("registry", "epcis", "emanifest"):
        for caller, params, status, kind, loc in refused:
            response = export(client, world, what, caller, **params)
            assert response.status_code == status, (what, params, response.text)
            error = response.json()["detail"][0]
            assert error["loc"] == loc, (what, params, error)
            assert kind is None or error["type"] == kind
    bad_format = export(client, world, "registry", park=world["park"], format="pdf")
    assert bad_format.status_code == 422 and bad_format.json()["detail"][0]["loc"] == ["query", "format"]


def test_epcis_events_validate_against_the_official_schema(client, world):
    response = export(client, world, "epcis", "OP", park=world["park"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/ld+json")
    document = response.json()
    Draft7Validator(EPCIS_SCHEMA, format_checker=FORMATS).validate(document)
    assert (document["type"], document["schemaVersion"]) == ("EPCISDocument", "2.0")
    events = document["epcisBody"]["eventList"]
    base = client.app.state.runtime.settings.resolved_public_url
    tr = world["transfers"]

    def event(event_id: str) -> dict:
        (found,) = [e for e in events if e.get("eventID") == event_id]
        return found

    shipped = event(f"{base}/transfers/{tr['t1']}#dispatch")
    assert (shipped["type"], shipped["bizStep"], shipped["action"]) == ("ObjectEvent", "shipping", "OBSERVE")
    assert shipped["quantityList"] == [
        {"epcClass": f"{base}/lots/{world['parties']['G'].lot_id}", "quantity": 600, "uom": "KGM"}
    ]
    assert shipped["sourceList"][0]["source"] == f"{base}/participants/{world['parties']['G'].address}"
    received = event(f"{base}/transfers/{tr['t1']}#receipt")
    assert (received["bizStep"], received["disposition"]) == ("receiving", "mismatch_quantity")
    assert received["quantityList"][0]["quantity"] == 590
    refused = event(f"{base}/transfers/{tr['t2']}#rejection")
    assert (refused["disposition"], refused["quantityList"][0]["quantity"]) == ("non_conformant", 100)
    assert event(f"{base}/transfers/{tr['t2']}#receipt")["quantityList"][0]["quantity"] == 200

    processing = world["processing"]
    transformed = event(f"{base}/processings/{processing['id']}")
    assert transformed["type"] == "TransformationEvent"
    assert transformed["inputQuantityList"] == [
        {"epcClass": f"{base}/lots/{tr['t1']}", "quantity": 590, "uom": "KGM"}
    ]
    assert [(q["quantity"], q["uom"]) for q in transformed["outputQuantityList"]] == [
        (500, "KGM"),
        (50, "KGM"),
    ]

    metered = [e for e in events if "sensorElementList" in e]
    assert [e["sensorElementList"][0]["sensorReport"][0]["value"] for e in metered] == [12, 15, 11]
    report = metered[1]["sensorElementList"][0]
    assert report["sensorReport"][0] == {"type": "Mass", "value": 15, "uom": "TNE"}
    start, end = (datetime.fromisoformat(report["sensorMetadata"][k]) for k in ("startTime", "endTime"))
    assert end - start == timedelta(hours=1)
    # The outsider's export holds its own transfer only, and none of the park's processing or flows.
    mine = export(client, world, "epcis", "X", firm=world["parties"]["X"].address).json()
    assert {e["eventID"].split("#")[0] for e in mine["epcisBody"]["eventList"]} == {
        f"{base}/transfers/{tr['t3']}"
    }


def test_emanifest_of_us_transfers_validates_against_the_official_schema(client, world):
    us = world["us"]
    response = export(client, world, "emanifest", park=world["houston"])
    assert response.status_code == 200, response.text
    entries = {e["transfer_id"]: e for e in response.json()["manifests"]}
    assert set(entries) == {us["u1"], us["u2"]}
    manifest = entries[us["u1"]]["manifest"]
    Draft4Validator(EMANIFEST_SCHEMA, format_checker=FORMATS).validate(manifest)
    assert manifest["generator"]["epaSiteId"] == "VAD000000001"
    assert [t["epaSiteId"] for t in manifest["transporters"]] == ["TXR000000002"]
    assert manifest["designatedFacility"]["epaSiteId"] == "TXD000000003"
    (waste,) = manifest["wastes"]
    assert waste["quantity"] == {
        "quantity": 1000,
        "unitOfMeasurement": {"code": "K", "description": "Kilograms"},
    }
    assert waste["hazardousWaste"]["federalWasteCodes"][0]["code"] == "D001"
    assert waste["discrepancyResidueInfo"]["wasteQuantity"] is True
    assert "received 980" in waste["discrepancyResidueInfo"]["discrepancyComments"]
    signer = manifest["generator"]["electronicSignaturesInfo"][0]
    assert signer["signer"]["userId"] == us["UG"].address
    assert manifest["transporters"][0]["electronicSignaturesInfo"][0]["signer"]["userId"] == us["UT"].address
    assert any("dotInformation" in gap for gap in entries[us["u1"]]["missing"])
    # No EPA id is made up: the manifest whose facility has none is left out, saying why.
    left_out = entries[us["u2"]]
    assert "manifest" not in left_out and "has no EPA site id" in left_out["left_out"]
    assert us["UN"].address in left_out["left_out"]
    # Only US-RCRA transfers have manifests, and the count a progress bar shows says so.
    assert response.headers["X-Export-Transfers"] == "2"
    vietnamese = export(client, world, "emanifest", park=world["park"])
    assert vietnamese.json()["manifests"] == [] and vietnamese.headers["X-Export-Transfers"] == "0"
    assert export(client, world, "registry", park=world["park"]).headers["X-Export-Transfers"] != "0"


@pytest.fixture
def api_url(client):
    with served(client.app) as url:
        yield url


def test_cli_exports_to_a_file(client, world, api_url, tmp_path):
    run = CliRunner().invoke
    keystore, password = keystore_of(world["parties"]["OP"], tmp_path)
    common = ["--api", api_url, "-k", str(keystore), "--password-file", str(password)]
    out = tmp_path / "registry.xlsx"
    written = run(
        cli_app, ["export", "registry", "--park", world["park"], "--format", "xlsx", "-o", str(out), *common]
    )
    assert written.exit_code == 0, written.output
    assert f"{out}: " in written.output and "5 transfers" in written.output
    rows = list(load_workbook(out, read_only=True)["Registry"].iter_rows(values_only=True))
    assert len(rows) == 6 and rows[1][0] == world["transfers"]["t1"]
    firm_csv = tmp_path / "generator.csv"
    g = world["parties"]["G"].address
    as_csv = run(
        cli_app, ["export", "registry", "--firm", g, "--until", "2099-12-31", "-o", str(firm_csv), *common]
    )
    assert as_csv.exit_code == 0, as_csv.output
    with firm_csv.open(newline="", encoding="utf-8-sig") as file:
        assert len(list(csv.DictReader(file))) == 5
    epcis = tmp_path / "events.jsonld"
    assert (
        run(cli_app, ["export", "epcis", "--park", world["park"], "-o", str(epcis), *common]).exit_code == 0
    )
    Draft7Validator(EPCIS_SCHEMA, format_checker=FORMATS).validate(json.loads(epcis.read_text()))
    refused = run(
        cli_app,
        [
            "export",
            "registry",
            "--firm",
            world["parties"]["X"].address,
            "-o",
            str(tmp_path / "x.csv"),
            *common,
        ],
    )
    assert refused.exit_code == 1 and "firm: " in refused.output and "(HTTP 404)" in refused.output


def test_epa_site_ids_are_told_from_foreign_tax_ids():
    assert epa_id("VAD000532119") and epa_id("TXR000000002") and epa_id("PRD987654321")
    # A German VAT number (DE, Delaware's code, + nine digits), a French one, a short id, an unknown state.
    for foreign in ("DE123456789", "FR12345678901", "VAD00053211", "ZZD000000001", "vad000532119"):
        assert not epa_id(foreign), foreign
