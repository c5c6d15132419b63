"""A certificate's analysis results come from its results document: the lab uploads the JSON body whose
hash it signed, the verification reads it, and an evidence bundle carries it so the verifier reads it
again (compliance.results)."""

import json

import pytest
from parties import accredited_lab, certify, trading_pair
from workflows import upload

from compliance import bundle

RESULTS = {"foreign_materials_ppm": 4_000, "Pb_leachate_ug_l": 120}


@pytest.fixture(scope="module")
def certified(client, regulator) -> dict:
    generator, _ = trading_pair(client, regulator)
    lab = accredited_lab(client, regulator)
    readable = upload(client, lab, json.dumps(RESULTS).encode(), "application/json")
    scanned = upload(client, lab, b"%PDF-1.7\n% results table, scanned\n%%EOF\n", "application/pdf")
    good = certify(client, lab, generator.lot_id, results_hash=readable)["id"]
    pdf = certify(client, lab, generator.lot_id, results_hash=scanned)["id"]
    # A results document never uploaded: the service holds only its hash.
    unseen = certify(client, lab, generator.lot_id, results_hash="0x" + "5e" * 32)["id"]
    return {"lot": generator.lot_id, "good": good, "pdf": pdf, "unseen": unseen, "results": readable}


def certificates_in(raw: bytes) -> dict[str, tuple[int, dict]]:
    data = json.loads(raw)
    return {c["id"]: (i, c) for i, c in enumerate(data["case"]["certificates"])}


@pytest.fixture(scope="module")
def lot_bundle(client, certified) -> bytes:
    response = client.get(f"/verification/lots/{certified['lot']}/bundle", params={"pack": "EU"})
    assert response.status_code == 200, response.text
    return response.content


def test_results_are_read_from_the_results_document_and_travel_in_the_bundle(certified, lot_bundle):
    certificates = certificates_in(lot_bundle)
    assert certificates[certified["good"]][1]["results"] == [[k, v] for k, v in sorted(RESULTS.items())]
    # A scanned table is no results document, and a document never uploaded cannot be read: unknown.
    assert certificates[certified["pdf"]][1]["results"] is None
    assert certificates[certified["unseen"]][1]["results"] is None
    # Without ?documents the bundle still carries the one body its verdicts rest on.
    assert [d["sha256"] for d in json.loads(lot_bundle)["documents"]] == [certified["results"]]
    result = bundle.verify(lot_bundle)
    assert result.ok, [str(p) for p in result.problems]


def test_results_changed_in_a_bundle_are_named(certified, lot_bundle):
    data = json.loads(lot_bundle)
    i, _ = certificates_in(lot_bundle)[certified["good"]]
    data["case"]["certificates"][i]["results"] = [["Pb_leachate_ug_l", 12], ["foreign_materials_ppm", 4000]]
    problems = [str(p) for p in bundle.verify(bundle.canonical(data)).problems]
    assert (
        f"case.certificates[{i}].results: {{'Pb_leachate_ug_l': 12, 'foreign_materials_ppm': 4000}}, but the "
        f"results document holds {{'Pb_leachate_ug_l': 120, 'foreign_materials_ppm': 4000}}"
    ) in problems

    dropped = json.loads(lot_bundle)
    dropped["documents"] = []
    problems = [str(p) for p in bundle.verify(bundle.canonical(dropped)).problems]
    assert (
        f"case.certificates[{i}].results: the bundle does not carry their results document "
        f"{certified['results']}"
    ) in problems
