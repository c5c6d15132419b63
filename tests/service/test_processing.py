"""Processing and final use through the API: a processor's signed processing turns lots it holds into
product, by-product and residue lots in mass balance (grams); a holder declares a product's final use."""

import hashlib
import json

import pytest
import served
from eth_account import Account
from parties import CODE, SCHEME, Party, ensure_waste_code, register, register_lot
from typer.testing import CliRunner

from compliance import bundle
from ledger_service.cli import app as cli_app
from ledger_service.statements import code_key, output_lot_id

runner = CliRunner()
api_url = served.api_url  # the service over HTTP, for the CLI

# Product categories the regulator catalogues beside waste codes.
AGGREGATE = ("UN-CPC", "15320", "KGM", False)
BASE_OIL = ("UN-CPC", "33380", "LTR", False)
STEAM = ("UN-CPC", "17300", "KWH", False)
FILTER_CAKE = ("EU-LOW", "19 02 05*", "KGM", True)
RECORD = "0x" + "a7" * 32
NOTE = "0x" + "0e" * 32


@pytest.fixture
def processor(client, regulator) -> Party:
    """A RECEIVER (the role that processes) that also generates: it holds a 1,000 kg slag lot."""
    for scheme, code, unit, hazardous in (AGGREGATE, BASE_OIL, STEAM, FILTER_CAKE):
        ensure_waste_code(client, regulator, scheme, code, unit, hazardous)
    ensure_waste_code(client, regulator)
    party = Party("processor")
    register(client, regulator, party, "SHIPPER", "RECEIVER")
    register_lot(client, party, quantity=1_000)
    return party


def terms(processor: Party, **overrides) -> dict:
    return {
        "processor": processor.address,
        "inputs": [{"lot_id": processor.lot_id, "quantity": 1_000}],
        "external_inputs": [
            {"material": "Portland clinker", "grams": 50_000, "document_hash": "0x" + "c1" * 32}
        ],
        "outputs": [
            {"kind": "product", "scheme": AGGREGATE[0], "code": AGGREGATE[1], "quantity": 800},
            {"kind": "residue", "scheme": SCHEME, "code": CODE, "quantity": 150},
        ],
        "loss_grams": 100_000,
        "loss_description": "moisture and dust",
        "document_hash": RECORD,
        **overrides,
    }


def process(client, processor: Party, **overrides) -> dict:
    prepared = client.post("/processings/prepare", json=terms(processor, **overrides))
    assert prepared.status_code == 200, prepared.text
    response = client.post("/processings", json=processor.signed_body(prepared.json()))
    assert response.status_code == 201, response.text
    return response.json()


def test_processing_opens_output_lots_with_kind_and_lineage(client, processor):
    prepared = client.post("/processings/prepare", json=terms(processor)).json()
    deployment = client.get("/deployment").json()
    assert prepared["typed_data"]["domain"]["name"] == "SymbiosisProcessing"
    assert prepared["typed_data"]["domain"]["verifyingContract"] == deployment["processing"]["address"]
    processing = client.post("/processings", json=processor.signed_body(prepared)).json()

    assert processing["id"] == prepared["digest"]
    assert (processing["input_grams"], processing["output_grams"], processing["loss_grams"]) == (
        1_050_000,
        950_000,
        100_000,
    )
    product_id, residue_id = (output_lot_id(processing["id"], i) for i in range(2))
    assert [(o["lot_id"], o["kind"], o["grams"]) for o in processing["outputs"]] == [
        (product_id, "product", 800_000),
        (residue_id, "residue", 150_000),
    ]
    assert processing["evidence"][0]["event"] == "ProcessingRecorded"
    assert processing["evidence"][0]["signer"] == processor.address

    product = client.get(f"/lots/{product_id}").json()
    assert (product["origin"], product["kind"], product["produced_by"]) == (
        "produced",
        "product",
        processing["id"],
    )
    assert (product["holder"], product["balance"], product["waste"]["code"]) == (
        processor.address,
        800,
        "15320",
    )
    assert client.get(f"/lots/{residue_id}").json()["kind"] == "residue"
    slag = client.get(f"/lots/{processor.lot_id}").json()
    assert (slag["balance"], slag["processed_quantity"], slag["processed_in"]) == (
        0,
        1_000,
        [processing["id"]],
    )
    assert slag["kind"] is None
    # Lineage: the product's processing, whose input is the generated slag lot.
    (behind,) = client.get(f"/lots/{product_id}/lineage").json()
    assert behind["id"] == processing["id"]
    assert [i["lot_id"] for i in behind["inputs"]] == [processor.lot_id]
    assert client.get(f"/processings/{processing['id']}").json() == processing


def test_a_litre_code_converts_at_the_declared_density(client, processor):
    processing = process(
        client,
        processor,
        outputs=[
            {
                "kind": "by_product",
                "scheme": "UN-CPC",
                "code": "33380",
                "quantity": 1_000,
                "grams_per_unit": 880,
            }
        ],
        loss_grams=0,
    )
    (output,) = processing["outputs"]
    assert (output["kind"], output["grams_per_unit"], output["grams"]) == ("by_product", 880, 880_000)


@pytest.mark.parametrize(
    ("overrides", "status", "kind", "words"),
    [
        (
            {"loss_grams": 100_001, "external_inputs": []},
            422,
            "mass_balance_exceeded",
            "outputs and losses 1,050,001 g exceed inputs 1,000,000 g",
        ),
        (
            {"outputs": [{"kind": "product", "scheme": "EU-LOW", "code": "19 02 05*", "quantity": 10}]},
            422,
            "hazardous_product",
            "only a residue may carry it",
        ),
        (
            {"outputs": [{"kind": "product", "scheme": "UN-CPC", "code": "17300", "quantity": 10}]},
            422,
            "massless_unit",
            "kilowatt-hours",
        ),
        (
            {"outputs": [{"kind": "product", "scheme": "UN-CPC", "code": "33380", "quantity": 10}]},
            422,
            "conversion_required",
            "density",
        ),
        ({"inputs": [{"lot_id": "0x" + "77" * 32, "quantity": 1}]}, 422, "unknown_lot", "no lot"),
        ({"inputs": [{"lot_id": None, "quantity": 1_001}]}, 409, "insufficient_lot_balance", "holds 1000"),
    ],
)
def test_prepare_refuses_what_the_module_would_refuse(client, processor, overrides, status, kind, words):
    if "inputs" in overrides and overrides["inputs"][0]["lot_id"] is None:
        overrides["inputs"][0]["lot_id"] = processor.lot_id
    response = client.post("/processings/prepare", json=terms(processor, **overrides))
    assert response.status_code == status, response.text
    (error,) = response.json()["detail"]
    assert error["type"] == kind and words in error["msg"], error


def _tampered(message: dict, change: str, processor_lot: str) -> None:
    """Changes a prepared message the way a client could before signing it (the service never sees it
    prepared that way, so only the module's own rules can refuse it)."""
    if change == "mass":
        message["outputs"][0]["quantity"] = "1001"
        message["externalInputs"] = []
        message["lossGrams"] = "0"
    elif change == "hazardous":
        message["outputs"][1]["kind"] = "1"
        message["outputs"][1]["codeKey"] = code_key(FILTER_CAKE[0], FILTER_CAKE[1])
    elif change == "conversion":
        message["outputs"][0]["gramsPerUnit"] = "999"
    elif change == "code":
        message["inputs"][0]["codeKey"] = code_key(AGGREGATE[0], AGGREGATE[1])
    elif change == "massless":
        message["outputs"][0]["codeKey"] = code_key(STEAM[0], STEAM[1])
    elif change == "kind":
        message["outputs"][0]["kind"] = "4"


@pytest.mark.parametrize(
    ("change", "kind", "loc", "words"),
    [
        (
            "mass",
            "mass_balance_exceeded",
            ["outputs"],
            "outputs and losses 1,151,000 g exceed inputs 1,000,000 g",
        ),
        ("hazardous", "hazardous_product", ["outputs", 1, "kind"], "19 02 05* (EU-LOW) is hazardous"),
        ("conversion", "invalid_conversion", ["outputs", 0, "gramsPerUnit"], "999 g per unit"),
        ("code", "lot_code_mismatch", ["inputs", 0, "codeKey"], "is not of code 15320 (UN-CPC)"),
        (
            "massless",
            "massless_unit",
            ["outputs", 0, "codeKey"],
            "17300 (UN-CPC) is measured in kilowatt-hours",
        ),
        ("kind", "invalid_output_kind", ["outputs", 0, "kind"], "kind 4 is not"),
    ],
)
def test_module_refusals_in_the_partys_terms_leave_no_trace(client, processor, change, kind, loc, words):
    prepared = client.post("/processings/prepare", json=terms(processor)).json()
    typed = prepared["typed_data"]
    _tampered(typed["message"], change, processor.lot_id)
    response = client.post(
        "/processings", json={"message": typed["message"], "signature": processor.sign(typed)}
    )
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["type"] == kind and words in error["msg"], error
    assert error["loc"] == ["body", "message", *loc]
    assert client.get(f"/lots/{processor.lot_id}").json()["balance"] == 1_000


def test_final_use_of_a_product_but_not_of_a_residue(client, processor):
    processing = process(client, processor)
    product_id, residue_id = (o["lot_id"] for o in processing["outputs"])
    prepared = client.post(
        f"/lots/{product_id}/uses/prepare",
        json={"quantity": 500, "use": "road base, National Road 10", "document_hash": NOTE},
    )
    assert prepared.status_code == 200, prepared.text
    typed = prepared.json()["typed_data"]
    assert (typed["primaryType"], typed["domain"]["name"], prepared.json()["signer"]) == (
        "DeclareUse",
        "SymbiosisProcessing",
        processor.address,
    )
    lot = client.post(f"/lots/{product_id}/uses", json=processor.signed_body(prepared.json()))
    assert lot.status_code == 201, lot.text
    lot = lot.json()
    assert (lot["balance"], lot["used_quantity"], lot["kind"]) == (300, 500, "product")
    (use,) = lot["uses"]
    assert (use["quantity"], use["use"], use["document_hash"]) == (500, "road base, National Road 10", NOTE)
    assert [e["event"] for e in lot["evidence"]] == ["OutputLotOpened", "LotUsed"]

    # The same signed declaration again is the same submission, not a second use.
    again = client.post(f"/lots/{product_id}/uses", json=processor.signed_body(prepared.json()))
    assert again.status_code in (200, 201) and again.json()["used_quantity"] == 500

    too_much = client.post(
        f"/lots/{product_id}/uses/prepare", json={"quantity": 301, "use": "fill", "document_hash": NOTE}
    )
    assert too_much.status_code == 409 and too_much.json()["detail"][0]["type"] == "insufficient_lot_balance"
    residue = client.post(
        f"/lots/{residue_id}/uses/prepare", json={"quantity": 1, "use": "fill", "document_hash": NOTE}
    )
    assert residue.status_code == 409 and "still waste" in residue.json()["detail"][0]["msg"]
    generated = client.post(
        f"/lots/{processor.lot_id}/uses/prepare", json={"quantity": 1, "use": "fill", "document_hash": NOTE}
    )
    assert (
        generated.status_code == 422
        and "not produced by a processing" in generated.json()["detail"][0]["msg"]
    )


def test_a_used_products_lineage_counts_its_final_use_and_its_bundle_carries_it(client, processor):
    processing = process(client, processor)
    product_id = processing["outputs"][0]["lot_id"]
    prepared = client.post(
        f"/lots/{product_id}/uses/prepare", json={"quantity": 500, "use": "road base", "document_hash": NOTE}
    )
    used = client.post(f"/lots/{product_id}/uses", json=processor.signed_body(prepared.json()))
    assert used.status_code == 201, used.text

    report = client.get(f"/verification/lots/{product_id}", params={"pack": "EU"}).json()
    (balance,) = (r for r in report["rules"] if r["id"] == "GEN-CHAIN-01")
    (product,) = (f for f in balance["findings"] if f["subject"] == f"lot {product_id}")
    assert product["verdict"] == "PASS", product
    assert product["reason"] == "500 of the 800 it held left the lot; 300 remains"

    raw = client.get(f"/verification/lots/{product_id}/bundle", params={"pack": "EU"}).content
    assert bundle.verify(raw).ok
    data = json.loads(raw)
    (use,) = data["case"]["uses"]
    assert (use["lot_id"], use["quantity"], use["use"]) == (product_id, 500, "road base")
    use["quantity"] = 400
    (recorded,) = data["case"]["processings"]
    recorded["outputs"][0]["quantity"] = 900
    recorded["loss_grams"] = 0
    problems = [str(p) for p in bundle.verify(bundle.canonical(data)).problems]
    assert "case.uses[0].quantity: 400, but the holder signed 500" in problems
    assert "case.processings[0].loss_grams: 0, but the processor signed 100000" in problems
    assert any(p.startswith("case.processings[0].outputs: ") for p in problems), problems


def test_the_module_refuses_to_declare_a_residue_used(client, processor):
    processing = process(client, processor)
    product_id, residue_id = (o["lot_id"] for o in processing["outputs"])
    prepared = client.post(
        f"/lots/{product_id}/uses/prepare", json={"quantity": 1, "use": "fill", "document_hash": NOTE}
    )
    typed = prepared.json()["typed_data"]
    typed["message"]["lotId"] = residue_id  # signed for the residue, which the service would not prepare
    response = client.post(
        f"/lots/{residue_id}/uses", json={"message": typed["message"], "signature": processor.sign(typed)}
    )
    assert response.status_code == 409, response.text
    (error,) = response.json()["detail"]
    assert error["type"] == "not_usable" and "is a residue" in error["msg"]
    assert client.get(f"/lots/{residue_id}").json()["used_quantity"] == 0


def test_only_the_lots_holder_processes_it(client, regulator, processor):
    other = Party("other processor")
    register(client, regulator, other, "RECEIVER")
    response = client.post(
        "/processings/prepare", json=terms(other, inputs=[{"lot_id": processor.lot_id, "quantity": 10}])
    )
    assert response.status_code == 403 and response.json()["detail"][0]["loc"] == [
        "body",
        "inputs",
        0,
        "lot_id",
    ]


def _keystore(tmp_path, party: Party) -> list[str]:
    keystore, password = tmp_path / f"{party.address}.json", tmp_path / f"{party.address}.pw"
    password.write_text("pw\n")
    keystore.write_text(json.dumps(Account.encrypt(party.account.key, "pw")))
    return ["-k", str(keystore), "--password-file", str(password)]


def test_cli_process_then_use(client, api_url, tmp_path, processor):
    record = tmp_path / "processing.json"
    record.write_text(json.dumps({k: v for k, v in terms(processor).items() if k != "processor"}))
    result = runner.invoke(
        cli_app, ["process", str(record), "--api", api_url, *_keystore(tmp_path, processor)]
    )
    assert result.exit_code == 0, result.output
    processing = json.loads(result.output)
    product_id = processing["outputs"][0]["lot_id"]
    assert client.get(f"/lots/{product_id}").json()["kind"] == "product"

    note = tmp_path / "delivery-note.pdf"
    note.write_bytes(b"delivery note 0042")
    result = runner.invoke(
        cli_app,
        [
            "use",
            product_id,
            "--quantity",
            "120",
            "--use",
            "road base",
            "--document",
            str(note),
            "--api",
            api_url,
        ]
        + _keystore(tmp_path, processor),
    )
    assert result.exit_code == 0, result.output
    lot = json.loads(result.output)
    assert (lot["used_quantity"], lot["balance"]) == (120, 680)
    assert lot["uses"][0]["document_hash"] == "0x" + hashlib.sha256(b"delivery note 0042").hexdigest()

    # The slag lot is used up: the same record again is refused, in one line, before anything is signed.
    refused = runner.invoke(
        cli_app, ["process", str(record), "--api", api_url, *_keystore(tmp_path, processor)]
    )
    assert refused.exit_code == 1
    assert refused.output.startswith("error: inputs.0.quantity: lot") and "holds 0" in refused.output
