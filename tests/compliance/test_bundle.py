"""The offline verifier: a good bundle passes; any change, wherever it is, is named exactly."""

import json

from bundles import encoded, make

from compliance import bundle


def problems(data) -> list[str]:
    return [str(p) for p in bundle.verify(encoded(data)).problems]


def test_a_good_bundle_verifies_and_re_runs_the_report():
    data = make()
    result = bundle.verify(encoded(data))
    assert result.ok, result.problems
    assert result.checked == {"statements": 7, "transactions": 7, "blocks": 7, "documents": 1, "records": 7}
    assert result.report is not None and result.report.pack_id == "EU"


def test_bytes_outside_any_value_are_caught():
    raw = encoded(make())
    assert [str(p) for p in bundle.verify(raw.replace(b'","', b'", "', 1)).problems] == [
        "bundle: not in canonical JSON form: bytes were changed or added"
    ]


def test_a_record_changed_after_signing_is_named():
    data = make()
    data["case"]["transfers"][0]["quantity"] = 12_301
    found = problems(data)
    assert "case.transfers[0].quantity: 12301, but the shipper signed 12300" in found


def test_a_received_quantity_changed_is_named():
    data = make()
    data["case"]["transfers"][0]["received_quantity"] = 12_300
    assert "case.transfers[0].received_quantity: 12300, but the receiver signed 12280" in problems(data)


def test_a_forged_signature_is_named():
    data = make()
    signature = data["statements"][5]["signature"]
    data["statements"][5]["signature"] = (
        signature[:10] + ("0" if signature[10] != "0" else "1") + signature[11:]
    )
    assert (
        f"statements[5]: the signature of this Dispatch does not recover to its signer {data['statements'][5]['signer']}"
        in problems(data)
    )


def test_a_statement_altered_after_signing_no_longer_hashes_to_its_digest():
    data = make()
    data["statements"][6]["typed_data"]["message"]["receivedQuantity"] = "12300"
    found = problems(data)
    assert any(p.startswith("statements[6]: its typed data hashes to") for p in found)
    assert any(p.startswith("statements[6]: the signature of this Receipt does not recover") for p in found)


def test_a_statement_for_another_chain_is_named():
    data = make()
    data["statements"][0]["typed_data"]["domain"]["chainId"] = 1
    assert "statements[0]: signed for chain 1, not chain 31337" in problems(data)


def test_evidence_pointing_outside_the_bundle_is_named():
    data = make()
    data["case"]["transfers"][0]["evidence"]["tx_hash"] = "0x" + "ab" * 32
    assert f"case.transfers[0].evidence: transaction {'0x' + 'ab' * 32} is not in the bundle" in problems(
        data
    )
    data = make()
    data["transactions"][2]["status"] = 0
    assert f"transactions[2]: transaction {data['transactions'][2]['hash']} did not succeed" in problems(data)


def test_a_document_body_changed_is_named():
    data = make()
    data["documents"][0]["body"] = data["documents"][0]["body"][:-4] + "AAAA"
    assert any(p.startswith("documents[0]: its body hashes to") for p in problems(data))


def test_a_changed_pack_number_or_verdict_is_named():
    data = make()
    data["pack"]["rules"][0]["parameters"]["tolerance"]["value"] = 500
    assert (
        [p for p in problems(data) if p.startswith("pack")]
        == [p for p in problems(data) if "its content hash is" in p]
        != []
    )
    data = make()
    rule = next(r for r in data["report"]["rules"] if r["rule_id"] == "GEN-PERMIT-02")
    rule["verdict"] = "FAIL"
    assert "report.rules[GEN-PERMIT-02]: the bundle says FAIL, a re-run of the pack says PASS" in problems(
        data
    )


def test_a_change_to_any_value_is_caught():
    # Every value of the bundle (strings, numbers, flags), changed one at a time, is reported. All of them
    # were checked while building the verifier; an even sample of 150 keeps the test quick.
    data = make()
    paths = [
        p
        for section in ("case", "report", "statements", "pack", "documents")
        for p in _value_paths(data[section], (section,))
    ]
    for path in paths[:: max(1, len(paths) // 150)]:
        tampered = json.loads(json.dumps(data))
        target = tampered
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = _changed(target[path[-1]])
        assert problems(tampered), f"a change at {'.'.join(map(str, path))} went unnoticed"


def _changed(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    return value[:-1] + ("x" if value[-1:] != "x" else "y") if value else "x"


def _value_paths(node, prefix):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _value_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _value_paths(value, (*prefix, i))
    elif isinstance(node, str | int | bool):
        yield prefix


def test_a_recorded_time_that_is_not_its_blocks_is_named():
    data = make()
    data["case"]["transfers"][0]["dispatched_at"] = "2026-03-01T08:00:00+00:00"
    assert (
        "case.transfers[0].dispatched_at: 2026-03-01T08:00:00+00:00, but block 106 is of 2026-03-02T08:00:00+00:00"
        in problems(data)
    )
