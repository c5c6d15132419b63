"""The engine and the rule packs: verdicts per record, summed up per rule, never dependent on record order;
packs as data, with overrides only for unconfirmed numbers."""

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from cases import PERMIT, SHIPPER, T0, case, generated_lot, transfer, tx
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance import packs
from compliance.casefile import Evidence
from compliance.engine import CHECKS, Judge, evaluate
from compliance.verdicts import Verdict


def rule(report, rule_id):
    return next(r for r in report.rules if r.rule_id == rule_id)


@pytest.mark.parametrize("pack_id", packs.available())
def test_every_pack_rule_has_a_check_and_its_citation(pack_id):
    import compliance.rules  # noqa: F401

    pack = packs.load(pack_id)
    assert pack.rules and len(pack.content_hash) == 64
    for r in pack.rules:
        assert r.id in CHECKS, r.id
        assert r.citation and r.severity in packs.SEVERITIES


def test_packs_are_listed_and_unknown_ones_named():
    assert packs.available() == ["EU", "US", "VN"]
    with pytest.raises(packs.PackError, match="no rule pack 'XX': the packs are EU, US, VN"):
        packs.load("XX")


def test_only_unconfirmed_numbers_can_be_overridden_and_the_hash_follows():
    pack = packs.load("VN")
    with pytest.raises(packs.PackError, match="GEN-CHAIN-01.tolerance is tagged D in pack VN"):
        packs.load("VN", {"GEN-CHAIN-01.tolerance": 50})
    with pytest.raises(packs.PackError, match="no parameter GEN-CHAIN-01.nothing"):
        packs.load("VN", {"GEN-CHAIN-01.nothing": 1})
    assert packs.load("VN").content_hash == pack.content_hash


def test_a_pack_file_with_a_float_or_without_a_source_is_refused(tmp_path, monkeypatch):
    data = json.loads((packs.PACKS_DIR / "_common.json").read_text())
    data.update(id="ZZ", version="1", includes=[])
    data["rules"][0]["parameters"]["tolerance"]["value"] = 0.02
    (tmp_path / "zz.json").write_text(json.dumps(data))
    monkeypatch.setattr(packs, "PACKS_DIR", tmp_path)
    packs._raw.cache_clear()
    try:
        with pytest.raises(packs.PackError, match="never 0.02"):
            packs.load("ZZ")
        data["rules"][0]["parameters"]["tolerance"].update(value=20, source="")
        (tmp_path / "zz.json").write_text(json.dumps(data))
        packs._raw.cache_clear()
        with pytest.raises(packs.PackError, match="rule GEN-CHAIN-01, parameter tolerance: source and unit"):
            packs.load("ZZ")
    finally:
        packs._raw.cache_clear()


def test_permit_valid_on_each_event_date():
    pack = packs.load("VN")
    ok = transfer(1)
    late = transfer(2, received_at=PERMIT.valid_until + timedelta(days=1))
    revoked = replace(PERMIT, revoked_at=T0 + timedelta(hours=1))
    report = evaluate(case((ok, late)), pack)
    findings = {f.subject: f for f in rule(report, "GEN-PERMIT-02").findings}
    assert findings[f"transfer {ok.id}"].verdict is Verdict.PASS
    failed = findings[f"transfer {late.id}"]
    assert failed.verdict is Verdict.FAIL
    assert failed.reason == "the receiver's permit P-123 had expired (on 2027-03-02) on 2027-03-03 (receipt)"
    assert PERMIT.evidence in failed.evidence and late.evidence in failed.evidence
    assert rule(report, "GEN-PERMIT-02").verdict is Verdict.FAIL
    # Revoked between the dispatch (08:00) and the receipt (10:00 for transfer 0 hours in).
    report = evaluate(case((transfer(0),), permits=(revoked,)), pack)
    assert (
        "was revoked (on 2026-03-02) on 2026-03-02 (receipt)"
        in rule(report, "GEN-PERMIT-02").findings[0].reason
    )


def test_a_permit_missing_from_the_case_file_is_inconclusive():
    report = evaluate(case((transfer(1),), permits=()), packs.load("VN"))
    assert rule(report, "GEN-PERMIT-02").verdict is Verdict.INCONCLUSIVE


def test_mass_balance_within_the_packs_tolerance():
    pack = packs.load("VN")
    lot = generated_lot(quantity=20_000, balance=20_000 - 2 * 9_000)
    report = evaluate(case((transfer(1, 9_000), transfer(2, 9_000)), (lot,)), pack)
    assert rule(report, "GEN-CHAIN-01").verdict is Verdict.PASS
    assert rule(report, "GEN-CHAIN-01").findings[0].parameters == ("tolerance",)
    # 20,400 from 20,000 is within 2 %; 20,500 is not.
    within = evaluate(case((transfer(1, 10_000), transfer(2, 10_400)), (generated_lot(20_000, 0),)), pack)
    assert rule(within, "GEN-CHAIN-01").verdict is Verdict.WARN  # within tolerance, but the balance says 0
    beyond = evaluate(case((transfer(1, 10_000), transfer(2, 10_500)), (generated_lot(20_000, 0),)), pack)
    finding = rule(beyond, "GEN-CHAIN-01").findings[0]
    assert finding.verdict is Verdict.FAIL
    assert finding.reason == "20500 left the lot, more than the 20000 it held (tolerance 20 per mille)"


def test_signatures_by_the_wrong_party_or_out_of_order():
    pack = packs.load("VN")
    good = transfer(1)
    forged = replace(
        good,
        id="0x" + "77" * 32,
        signatures=(replace(good.signatures[0], party="0x" + "99" * 20), good.signatures[1]),
    )
    swapped = replace(
        good,
        id="0x" + "78" * 32,
        signatures=(
            replace(good.signatures[0], recorded_at=T0 + timedelta(days=2)),
            good.signatures[1],
        ),
    )
    unsigned = replace(good, id="0x" + "79" * 32, signatures=good.signatures[:1])
    report = evaluate(case((good, forged, swapped, unsigned)), pack)
    verdicts = {f.subject: (f.verdict, f.reason) for f in rule(report, "GEN-SIG-01").findings}
    assert verdicts[f"transfer {good.id}"][0] is Verdict.PASS
    assert verdicts[f"transfer {forged.id}"] == (
        Verdict.FAIL,
        f"the Dispatch was signed by {'0x' + '99' * 20}, not a party entitled to it",
    )
    assert verdicts[f"transfer {swapped.id}"] == (
        Verdict.FAIL,
        "custody steps were recorded out of order: Receipt, Dispatch",
    )
    assert verdicts[f"transfer {unsigned.id}"][1] == (
        "it is received, but the receiver's signed receipt is not in the case file"
    )


def test_a_receipt_counted_twice():
    t = transfer(1)
    lots = (
        replace(
            generated_lot(), id="0x" + "a1" * 32, origin="received", source_transfer=t.id, holder=SHIPPER
        ),
        replace(
            generated_lot(), id="0x" + "a2" * 32, origin="received", source_transfer=t.id, holder=SHIPPER
        ),
    )
    report = evaluate(case((t,), lots), packs.load("VN"))
    assert rule(report, "GEN-CHAIN-02").verdict is Verdict.FAIL
    assert rule(evaluate(case((t,)), packs.load("VN")), "GEN-CHAIN-02").verdict is Verdict.PASS


def test_a_findings_evidence_is_ordered_even_when_a_record_lacks_fields():
    judge = Judge(packs.load("VN").rule("GEN-CHAIN-02"))
    document = Evidence(document_hash="0x" + "d0" * 32)  # no transaction of its own
    finding = judge.passed("lot 0x10", "counted once", tx(2), Evidence(), document, tx(1), tx(2))
    assert finding.evidence == (document, tx(1), tx(2))


@settings(max_examples=25, deadline=None)
@given(st.permutations(range(6)), st.integers(min_value=0, max_value=5))
def test_a_verdict_never_depends_on_record_order_nor_on_an_unrelated_transfer(order, late):
    records = [
        transfer(i, received_at=PERMIT.valid_until + timedelta(days=1)) if i == late else transfer(i)
        for i in range(6)
    ]
    pack = packs.load("VN")
    baseline = evaluate(case(tuple(records), (generated_lot(),)), pack)
    shuffled = evaluate(case(tuple(records[i] for i in order), (generated_lot(),)), pack)
    assert shuffled == baseline
    # A transfer between other parties, from another lot, changes no verdict on these records.
    unrelated = replace(
        transfer(40), lot_id="0x" + "ee" * 32, shipper="0x" + "61" * 20, receiver="0x" + "62" * 20
    )
    widened = evaluate(case((*records, unrelated), (generated_lot(),)), pack)
    for before, after in zip(baseline.rules, widened.rules, strict=True):
        assert set(before.findings) <= set(after.findings), before.rule_id


def test_statements_in_one_block_are_in_the_logs_order():
    # A dispatch and a receipt recorded in the same block, the receipt's transaction hash sorting first: the
    # chain's order is the log's, so custody is in order.
    good = transfer(1)
    dispatch, receipt = good.signatures
    same_block = replace(
        good,
        signatures=(
            replace(
                dispatch,
                evidence=replace(dispatch.evidence, tx_hash="0x" + "ff" * 32, block=200, log_index=0),
            ),
            replace(
                receipt,
                recorded_at=dispatch.recorded_at,
                evidence=replace(receipt.evidence, tx_hash="0x" + "00" * 32, block=200, log_index=3),
            ),
        ),
    )
    report = evaluate(case((same_block,)), packs.load("VN"))
    assert rule(report, "GEN-SIG-01").verdict is Verdict.PASS


def test_a_changed_copy_of_a_case_file_leaves_the_original_as_it_was():
    original = case((transfer(1),))
    copy = replace(original, transfers=(transfer(1, quantity=0),))
    assert (original.transfer(transfer(1).id).quantity, copy.transfer(transfer(1).id).quantity) == (12_300, 0)
