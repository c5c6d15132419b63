"""The US pack's rules on hand-built manifests: signatures, the facility's copy, discrepancies, exception
reports and retention, each judged against the case file's evaluation date."""

from dataclasses import replace
from datetime import UTC, datetime

from cases import T0
from cases_euus import (
    ASH_VN,
    DAYS,
    DRUMS,
    HOURS,
    NON_HAZ_US,
    SPENT_ACID,
    carried,
    correction,
    document,
    euus_case,
)

from compliance import packs
from compliance.engine import evaluate
from compliance.rules.custody import add_months
from compliance.verdicts import Verdict

GENERATOR = "Hoa Phat Steel (0x5151515151515151515151515151515151515151)"
CARRIER_NAME = "Saigon Hazmat Haulage (0x5353535353535353535353535353535353535353)"
FACILITY = "Nam Cau Kien Stone (0x5252525252525252525252525252525252525252)"


def judged(rule_id, *transfers, **fields):
    """{transfer id: (verdict, reason)} of rule `rule_id` over `transfers`."""
    report = evaluate(euus_case(transfers, **fields), packs.load("US"))
    summary = next(r for r in report.rules if r.rule_id == rule_id)
    return {f.subject.removeprefix("transfer "): (f.verdict, f.reason) for f in summary.findings}


def test_us_pack_rules_cite_the_catalogue_and_share_their_discrepancy_numbers():
    pack = packs.load("US")
    ids = {r.id for r in pack.rules}
    assert {"US-MAN-01", "US-MAN-02", "US-DISC-01", "US-DISC-02", "US-EXC-01", "US-RET-01"} <= ids
    assert pack.rule("US-MAN-02").citation == "40 CFR 264.71(a) [S]"
    for name in ("bulk_tolerance", "weight_units", "piece_units"):
        first, second = (pack.rule(r).parameter(name) for r in ("US-DISC-01", "US-DISC-02"))
        assert (first.value, first.unit, first.confidence) == (second.value, second.unit, second.confidence)
    assert not any(p.unconfirmed for r in pack.rules if r.id.startswith("US-") for p in r.parameters)


def test_man01_generator_and_initial_transporter_signed_in_order():
    ok, early = carried(1), carried(2, pickup=-2 * HOURS)
    skipped, waiting, no_carrier = (
        carried(3, pickup=None),
        carried(4, pickup=None, delivered=None, received=None),
        replace(carried(5), transporters=()),
    )
    found = judged("US-MAN-01", ok, early, skipped, waiting, no_carrier)
    assert found[ok.id] == (
        Verdict.PASS,
        f"the generator {GENERATOR} signed on 2026-03-02; the initial transporter {CARRIER_NAME} accepted it on "
        "2026-03-02",
    )
    assert found[early.id] == (
        Verdict.FAIL,
        f"the initial transporter {CARRIER_NAME} accepted it on 2026-03-02, before the generator {GENERATOR} signed "
        "on 2026-03-02",
    )
    assert found[skipped.id] == (
        Verdict.FAIL,
        f"the generator {GENERATOR} signed on 2026-03-02, but the waste moved on without the signed acceptance of "
        f"the initial transporter {CARRIER_NAME}",
    )
    assert found[waiting.id][0] is Verdict.NOT_APPLICABLE
    assert found[no_carrier.id] == (
        Verdict.FAIL,
        f"the generator {GENERATOR} signed on 2026-03-02, but no transporter is named to sign and date its acceptance",
    )


def test_us_rules_leave_other_schemes_and_non_hazardous_waste_alone():
    vn, plain = carried(1, ASH_VN), carried(2, NON_HAZ_US)
    for rule_id in ("US-MAN-01", "US-MAN-02", "US-DISC-01", "US-DISC-02", "US-EXC-01", "US-RET-01"):
        found = judged(rule_id, vn, plain)
        assert found[vn.id] == (
            Verdict.NOT_APPLICABLE,
            "its code 04 02 04 (VN-TT02-2022) is not a RCRA waste code",
        )
        assert found[plain.id] == (
            Verdict.NOT_APPLICABLE,
            "NONHAZ (US-RCRA) is not a hazardous waste, which alone travels on a manifest",
        )


def test_man02_facility_signs_and_the_generator_has_its_copy_within_30_days():
    on_time = carried(1)
    late = carried(2, signed=5 * HOURS + 31 * DAYS)
    unsigned = carried(3, received=None)
    found = judged("US-MAN-02", on_time, late, unsigned, evaluation_date=T0 + 60 * DAYS)
    assert found[on_time.id] == (
        Verdict.PASS,
        f"{FACILITY} signed its receipt of 10,000 KGM on 2026-03-02, 0 days after delivery on 2026-03-02; the "
        f"generator {GENERATOR} reads the signed copy on the ledger",
    )
    assert found[late.id] == (
        Verdict.FAIL,
        f"{FACILITY} signed its receipt of 10,000 KGM on 2026-04-02, 31 days after delivery on 2026-03-02: the "
        "generator's copy was due within 30 days",
    )
    assert found[unsigned.id] == (
        Verdict.FAIL,
        f"delivered to {FACILITY} on 2026-03-02, 60 days ago, and still unsigned by it: the generator {GENERATOR} "
        "has no signed copy, due within 30 days",
    )
    # Ten days after delivery the facility still has time.
    assert judged("US-MAN-02", unsigned, evaluation_date=T0 + 10 * DAYS)[unsigned.id] == (
        Verdict.NOT_APPLICABLE,
        f"delivered to {FACILITY} on 2026-03-02; it has until 2026-04-01 to sign and send the generator a copy",
    )


def test_disc01_bulk_more_than_10_percent_by_weight_is_significant():
    within, edge, beyond = carried(1, received=9_100), carried(2, received=9_000), carried(3, received=8_900)
    found = judged("US-DISC-01", within, edge, beyond)
    assert found[within.id] == (
        Verdict.PASS,
        "received 9,100 KGM of 10,000 KGM shipped (9.0 % off): within 10.0 % by weight",
    )
    assert found[edge.id][0] is Verdict.PASS  # exactly 10 % is not more than 10 %
    assert found[beyond.id] == (
        Verdict.FAIL,
        "received 8,900 KGM of 10,000 KGM shipped (11.0 % off): a significant discrepancy, more than 10.0 % by weight",
    )


def test_disc01_batch_piece_count_reconciliation_and_units_it_cannot_judge():
    drums = carried(1, DRUMS, quantity=20, received=19)
    acid = carried(2, SPENT_ACID, quantity=1_000, received=500)
    short = carried(3, received=8_000)
    fixed = correction(1, short, -2_000, 0, 3 * DAYS)
    found = judged("US-DISC-01", drums, acid)
    assert found[drums.id] == (
        Verdict.FAIL,
        "received 19 H87 of 20 H87 shipped (5.0 % off): a significant discrepancy in piece count",
    )
    assert found[acid.id] == (
        Verdict.INCONCLUSIVE,
        "D002 (US-RCRA) is measured in LTR: a bulk discrepancy is judged by weight and a batch one by piece count, "
        "and the ledger holds neither for it",
    )
    # The case file holds the corrected quantities; the rule judges what the receipt found.
    corrected = replace(short, quantity=8_000)
    found = judged("US-DISC-01", corrected, corrections=(fixed,))
    assert found[short.id] == (
        Verdict.WARN,
        "received 8,000 KGM of 10,000 KGM shipped (20.0 % off) on receipt: a significant discrepancy, more than "
        f"10.0 % by weight, reconciled by correction {fixed.id} countersigned on 2026-03-05",
    )


def test_disc02_reconciled_within_15_days_or_reported_to_the_regional_administrator():
    t = carried(1, quantity=8_000, received=8_000)  # corrected from 10,000 shipped
    in_time = correction(1, t, -2_000, 0, 3 * DAYS)
    too_late = correction(1, t, -2_000, 0, 20 * DAYS)
    found = judged("US-DISC-02", t, corrections=(in_time,))
    assert found[t.id] == (
        Verdict.PASS,
        "received 8,000 KGM of 10,000 KGM shipped (20.0 % off) on 2026-03-02; reconciled by correction "
        f"{in_time.id} (weighbridge re-read) on 2026-03-05, 3 days later",
    )
    assert found == judged("US-DISC-02", t, corrections=(in_time,), evaluation_date=T0 + 400 * DAYS)
    letter = (
        "after 15 days the facility had to send the EPA Regional Administrator a letter with a copy of the manifest, "
        "which the ledger does not hold"
    )
    assert judged("US-DISC-02", t, corrections=(too_late,))[t.id] == (
        Verdict.INCONCLUSIVE,
        "received 8,000 KGM of 10,000 KGM shipped (20.0 % off) on 2026-03-02; reconciled by correction "
        f"{too_late.id} (weighbridge re-read) on 2026-03-22, 20 days later: {letter}",
    )
    open_one = carried(2, received=8_000)
    assert judged("US-DISC-02", open_one)[open_one.id] == (
        Verdict.INCONCLUSIVE,
        "received 8,000 KGM of 10,000 KGM shipped (20.0 % off) on 2026-03-02, not reconciled within 15 days: "
        + letter,
    )
    assert judged("US-DISC-02", open_one, evaluation_date=T0 + 5 * DAYS)[open_one.id] == (
        Verdict.NOT_APPLICABLE,
        "received 8,000 KGM of 10,000 KGM shipped (20.0 % off) on 2026-03-02; to be reconciled by 2026-03-17",
    )
    assert judged("US-DISC-02", carried(3))[carried(3).id][0] is Verdict.NOT_APPLICABLE


def test_exc01_facility_copy_within_35_days_or_an_exception_report_the_ledger_lacks():
    back = carried(1)
    late = carried(2, signed=40 * DAYS)
    missing = carried(3, received=None)
    accepted = f"the initial transporter {CARRIER_NAME} accepted it on 2026-03-02"
    found = judged("US-EXC-01", back, late, missing, evaluation_date=T0 + 50 * DAYS)
    assert found[back.id] == (
        Verdict.PASS,
        f"{accepted}; the designated facility {FACILITY} signed it on 2026-03-02, 0 days later: within 35 days",
    )
    assert found[late.id] == (
        Verdict.INCONCLUSIVE,
        f"{accepted}; the designated facility {FACILITY} signed it on 2026-04-11, 40 days later: a large quantity "
        "generator had to contact the transporter or the facility after 35 days; the ledger holds neither the "
        "generator's size (LQG or SQG) nor that contact",
    )
    assert found[missing.id] == (
        Verdict.INCONCLUSIVE,
        f"{accepted}; 50 days later, on 2026-04-21, the designated facility {FACILITY} has not signed it: a large "
        "quantity generator had to file an exception report after 45 days (a small one after 60); the ledger holds "
        "neither the generator's size (LQG or SQG) nor an exception report",
    )
    assert judged("US-EXC-01", missing, evaluation_date=T0 + 61 * DAYS)[missing.id][1].endswith(
        "an exception report was due after 45 days (large quantity generator) or 60 days (small); none is in the ledger"
    )
    assert (
        judged("US-EXC-01", missing, evaluation_date=T0 + 20 * DAYS)[missing.id][0] is Verdict.NOT_APPLICABLE
    )


def test_ret01_manifest_document_kept_three_years_from_delivery():
    t = carried(1, document_hash="0x" + "dd" * 32)
    kept = f"its document {t.document_hash} is held, to be kept until 2029-03-02, 36 months from delivery on 2026-03-02"
    assert judged("US-RET-01", t, documents=(document(t),))[t.id] == (Verdict.PASS, kept)
    assert judged("US-RET-01", t, documents=(document(t, stored=False),))[t.id] == (
        Verdict.FAIL,
        f"its document {t.document_hash} is no longer held, though it must be kept until 2029-03-02, 36 months from "
        "delivery on 2026-03-02",
    )
    assert judged("US-RET-01", t, documents=(document(t, intact=False),))[t.id][0] is Verdict.FAIL
    assert judged("US-RET-01", t)[t.id][0] is Verdict.INCONCLUSIVE
    assert judged("US-RET-01", t, evaluation_date=T0 + 1100 * DAYS)[t.id] == (
        Verdict.NOT_APPLICABLE,
        "its retention period ended on 2029-03-02 (36 months from delivery on 2026-03-02)",
    )
    statements = carried(2)
    assert judged("US-RET-01", statements)[statements.id][0] is Verdict.PASS


def test_us_verdicts_do_not_depend_on_the_order_of_records():
    short = carried(1, quantity=8_000, received=8_000)
    records = {
        "transfers": (short, carried(2, signed=40 * DAYS), carried(3, DRUMS, quantity=20, received=19)),
        "corrections": (correction(1, short, -1_000, 0, DAYS), correction(2, short, -1_000, 0, 2 * DAYS)),
    }
    pack = packs.load("US")
    forward = evaluate(euus_case(**records, evaluation_date=T0 + 50 * DAYS), pack)
    backward = {k: tuple(reversed(v)) for k, v in records.items()}
    assert forward == evaluate(euus_case(**backward, evaluation_date=T0 + 50 * DAYS), pack)
    # Reconciled by the second correction, two days after receipt.
    (reconciled,) = [
        f for r in forward.rules if r.rule_id == "US-DISC-02" for f in r.findings if short.id in f.subject
    ]
    assert reconciled.verdict is Verdict.PASS and "2 days later" in reconciled.reason


def test_retention_months_end_on_the_last_day_of_a_shorter_month():
    assert add_months(datetime(2028, 2, 29, 9, tzinfo=UTC), 36) == datetime(2031, 2, 28, 9, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 30, tzinfo=UTC), 3) == datetime(2027, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 3, 2, tzinfo=UTC), 12) == datetime(2027, 3, 2, tzinfo=UTC)
