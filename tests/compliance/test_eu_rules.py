"""The EU pack's rules on hand-built case files: by-products and end-of-waste products made in processings,
their consignments' certificates, List of Waste entries, and Art. 35 records and their retention."""

from dataclasses import replace

from cases import RECEIVER, SHIPPER, SLAG, T0
from cases_euus import (
    CULLET,
    DAYS,
    GLASS_SLUDGE,
    GLASS_SLUDGE_HAZ,
    SCRAP,
    SOLVENT,
    SOLVENT_EU,
    STONE,
    by_product,
    certificate,
    code,
    document,
    euus_case,
    lot,
    processing,
    recovered,
    recovered_case,
    shipped,
)

from compliance import packs
from compliance.engine import evaluate
from compliance.verdicts import Verdict

MILL = "Hoa Phat Steel (0x5151515151515151515151515151515151515151)"
STONEWORKS = "Nam Cau Kien Stone (0x5252525252525252525252525252525252525252)"
FOUNDRY = "Kalundborg Foundry (0x5454545454545454545454545454545454545454)"
EU_RULES = ("EU-BP-01", "EU-EOW-01", "EU-EOW-FE-01", "EU-EOW-FE-02", "EU-EOW-FE-03", "EU-EOW-GL-01")
EU_RULES += ("EU-LOW-01", "EU-REC-01", "EU-REC-02")
GOOD_CULLET = {
    "ferrous_metals_ppm": 50,
    "non_ferrous_metals_ppm": 60,
    "non_metal_non_glass_inorganics_ppm": 99,
    "organics_ppm": 2_000,
    "cullet_size_um": 5_000,
}


def cullet(**changes):
    """The results of GOOD_CULLET with `changes`, as a certificate holds them."""
    return tuple(sorted({**GOOD_CULLET, **changes}.items()))


def judged(rule_id, case):
    """{subject: (verdict, reason)} of rule `rule_id` over `case`."""
    summary = next(r for r in evaluate(case, packs.load("EU")).rules if r.rule_id == rule_id)
    return {f.subject: (f.verdict, f.reason) for f in summary.findings}


def only(rule_id, case):
    (finding,) = judged(rule_id, case).values()
    return finding


def test_eu_pack_has_every_rule_and_one_list_per_stream():
    pack = packs.load("EU")
    assert set(EU_RULES) <= {r.id for r in pack.rules}
    iron = pack.rule("EU-EOW-01").parameter("iron_steel_codes").value
    for rule_id in ("EU-EOW-FE-01", "EU-EOW-FE-02", "EU-EOW-FE-03"):
        assert pack.rule(rule_id).parameter("codes").value == iron
    assert (
        pack.rule("EU-EOW-GL-01").parameter("codes").value
        == pack.rule("EU-EOW-01").parameter("glass_codes").value
    )
    limits = {
        p.name: (p.value, p.confidence) for p in pack.rule("EU-EOW-GL-01").parameters if p.name != "codes"
    }
    assert limits == {
        "ferrous_metals_max": (50, "S"),
        "non_ferrous_metals_max": (60, "S"),
        "inorganics_coarse_below": (100, "S"),
        "inorganics_fine_below": (1_500, "S"),
        "fine_size_max_um": (1_000, "S"),
        "organics_max": (2_000, "S"),
    }
    unconfirmed = {f"{r.id}.{p.name}" for r in pack.rules for p in r.parameters if p.unconfirmed}
    assert unconfirmed == {
        "EU-BP-01.max_storage_days",
        "EU-EOW-FE-02.retention_months",
        "EU-EOW-FE-03.verification_interval_months",
        "EU-LOW-01.mirror_pairs",
    }
    # A deployment may set an unconfirmed number, and the report says which it used.
    slag, mill, t, cert = by_product()
    report = evaluate(
        euus_case((t,), (slag,), processings=(mill,), certificates=(cert,)),
        packs.load("EU", {"EU-BP-01.max_storage_days": 20}),
    )
    summary = next(r for r in report.rules if r.rule_id == "EU-BP-01")
    assert summary.verdict is Verdict.FAIL and summary.unconfirmed == ("max_storage_days",)


def test_bp01_by_product_of_production_taken_by_a_user_with_a_certificate():
    slag, mill, t, cert = by_product()
    found = only("EU-BP-01", euus_case((t,), (slag,), processings=(mill,), certificates=(cert,)))
    assert found == (
        Verdict.PASS,
        f"a by-product of processing {mill.id}, stored 30 days (at most 365), taken by {STONEWORKS} on 2026-03-02 "
        f"for R5, with certificate {cert.id} valid on each dispatch: the conditions of Art. 5(1) hold on the "
        "ledger's evidence",
    )


def test_bp01_fails_for_disposal_long_storage_or_a_treatment_of_others_waste():
    slag, mill, t, cert = by_product()
    disposal = euus_case(
        (replace(t, operation="D1"),),
        (replace(slag, created_at=T0 - 400 * DAYS),),
        processings=(mill,),
        certificates=(cert,),
    )
    assert only("EU-BP-01", disposal) == (
        Verdict.FAIL,
        f"transfer {t.id} sent it to {STONEWORKS} for D1, not for a direct use (Art. 5(1)(b)); it was stored 400 "
        "days before its first dispatch, longer than the 365 days a contract may justify (C-113/12 Brady)",
    )
    received = lot(0x25, SHIPPER, SLAG, "received", source_transfer="0x" + "99" * 32)
    plant = processing(0x33, SHIPPER, (received,), (("by_product", slag),))
    verdict, reason = only(
        "EU-BP-01", euus_case((t,), (slag, received), processings=(plant,), certificates=(cert,))
    )
    assert verdict is Verdict.FAIL
    assert reason == (
        f"processing {plant.id} only treated waste received from others (lots {received.id}): what it yields is "
        "waste until it meets end-of-waste criteria (Art. 6), not a by-product of production"
    )


def test_bp01_inconclusive_without_a_user_or_a_certificate():
    slag, mill, _, _ = by_product()
    assert only("EU-BP-01", euus_case((), (slag,), processings=(mill,))) == (
        Verdict.INCONCLUSIVE,
        "no transfer to a user is recorded, and the ledger holds no contract for its use; no certificate of "
        "analysis valid on 2026-04-01 shows that it meets the product, environmental and health requirements of "
        "its use (Art. 5(1)(d))",
    )


def test_eow01_recovered_scrap_taken_by_a_user_defers_to_the_iron_and_steel_criteria():
    product = recovered(SCRAP)[0]
    cert = certificate(0x61, product.id, -30, {"foreign_materials_ppm": 12_000})
    verdict, reason = only("EU-EOW-01", recovered_case(SCRAP, (cert,)))
    assert verdict is Verdict.PASS
    assert reason.endswith(
        f"with certificate {cert.id} valid on each dispatch: Art. 6(1)(a)-(c) hold; the criteria of Reg. (EU) "
        "333/2011 are judged under EU-EOW-FE-01 to 03"
    )


def test_eow01_without_eu_criteria_or_after_disposal_or_rejection():
    product = recovered(STONE)[0]
    cert = certificate(0x61, product.id, -30)
    assert only("EU-EOW-01", recovered_case(STONE, (cert,))) == (
        Verdict.INCONCLUSIVE,
        "no EU end-of-waste criteria cover 15320 (UN-CPC), and the ledger holds neither national criteria nor a "
        "case-by-case decision for it (Art. 6(3)-(4))",
    )
    _, _, _, incoming, _ = recovered(SCRAP, "D10")
    verdict, reason = only("EU-EOW-01", recovered_case(SCRAP, (cert,), source_operation="D10"))
    assert verdict is Verdict.FAIL
    assert reason == f"its input came on transfer {incoming.id} for disposal (D10), not recovery"
    rejected = recovered_case(
        SCRAP, (cert,), status="rejected", received_quantity=None, rejected_quantity=10_000
    )
    assert only("EU-EOW-01", rejected) == (
        Verdict.FAIL,
        "every receiver rejected it, so no use or demand for it is shown",
    )


def test_fe01_foreign_materials_within_2_percent_analysed_within_6_months_and_a_radioactivity_certificate():
    product, _, _, _, consignment = recovered(SCRAP)
    analysis = certificate(0x61, product.id, -30, {"foreign_materials_ppm": 20_000})
    radiation = certificate(0x62, product.id, -1, {"radioactivity_nsv_h": 80})
    where = f"transfer {consignment.id}"
    ok = judged("EU-EOW-FE-01", recovered_case(SCRAP, (analysis, radiation), certificates=(radiation.id,)))
    assert ok[where] == (
        Verdict.PASS,
        f"20,000 ppm of foreign materials by certificate {analysis.id} of 2026-01-31 (at most 20,000 ppm, within "
        f"6 months of dispatch); radioactivity certificate {radiation.id} for this consignment; grading and "
        "visual inspection are declared in the statement of conformity (EU-EOW-FE-02)",
    )
    dirty = replace(analysis, results=(("foreign_materials_ppm", 20_001),), issued_at=T0 - 200 * DAYS)
    bad = judged("EU-EOW-FE-01", recovered_case(SCRAP, (dirty, radiation), certificates=(radiation.id,)))
    assert bad[where] == (
        Verdict.FAIL,
        f"20,001 ppm of foreign materials by certificate {analysis.id} of 2025-08-14, above the 20,000 ppm limit; "
        f"the last foreign-material analysis ({analysis.id}, 2025-08-14) is more than 6 months before the "
        "dispatch on 2026-03-02",
    )
    # A radioactivity measurement on the lot is not a certificate accompanying this consignment.
    unattached = judged("EU-EOW-FE-01", recovered_case(SCRAP, (analysis, radiation)))
    assert unattached[where] == (
        Verdict.INCONCLUSIVE,
        "no radioactivity certificate is attached to this consignment",
    )


def test_fe02_fe03_statement_of_conformity_and_quality_system_are_not_in_the_ledger():
    _, _, _, _, consignment = recovered(SCRAP)
    scrap = recovered_case(SCRAP)
    assert judged("EU-EOW-FE-02", scrap)[f"transfer {consignment.id}"] == (
        Verdict.INCONCLUSIVE,
        f"the statement of conformity that {STONEWORKS} must issue for this consignment of 19 12 02 (EU-LOW) and "
        f"pass to {FOUNDRY} is not in the ledger; it is to be kept at least 12 months",
    )
    assert judged("EU-EOW-FE-03", scrap)[f"transfer {consignment.id}"] == (
        Verdict.INCONCLUSIVE,
        f"the quality management system of {STONEWORKS}, producer of this consignment of 19 12 02 (EU-LOW), and its "
        "verification by an accredited verifier (every 36 months) valid on 2026-03-02 are not in the ledger",
    )
    # Glass cullet is not iron and steel scrap.
    for rule_id in ("EU-EOW-FE-01", "EU-EOW-FE-02", "EU-EOW-FE-03"):
        assert only(rule_id, recovered_case(CULLET))[0] is Verdict.NOT_APPLICABLE


def test_gl01_glass_cullet_within_the_annex_limits():
    product, _, _, _, consignment = recovered(CULLET)
    where = f"transfer {consignment.id}"
    at_limits = certificate(0x63, product.id, -3, GOOD_CULLET)
    assert judged("EU-EOW-GL-01", recovered_case(CULLET, (at_limits,)))[where] == (
        Verdict.PASS,
        f"certificate {at_limits.id} of 2026-02-27: ferrous metals 50 ppm (at most 50), non-ferrous metals 60 ppm "
        "(at most 60), non-metal non-glass inorganics (cullet of 5,000 um) 99 ppm (below 100), organics 2,000 ppm "
        "(at most 2,000)",
    )
    over = replace(at_limits, results=cullet(ferrous_metals_ppm=51, non_metal_non_glass_inorganics_ppm=100))
    assert judged("EU-EOW-GL-01", recovered_case(CULLET, (over,)))[where] == (
        Verdict.FAIL,
        f"certificate {at_limits.id} of 2026-02-27: ferrous metals 51 ppm, not at most 50 ppm; non-metal non-glass "
        "inorganics (cullet of 5,000 um) 100 ppm, not below 100 ppm",
    )
    # Fine cullet (1 mm or less) may hold up to 1,499 ppm of non-metal non-glass inorganics.
    fine = replace(at_limits, results=cullet(cullet_size_um=1_000, non_metal_non_glass_inorganics_ppm=1_499))
    assert judged("EU-EOW-GL-01", recovered_case(CULLET, (fine,)))[where][0] is Verdict.PASS


def test_gl01_inconclusive_without_a_valid_certificate_reporting_every_component():
    product, _, _, _, consignment = recovered(CULLET)
    where = f"transfer {consignment.id}"
    partial = certificate(0x63, product.id, -3, {"ferrous_metals_ppm": 10})
    assert judged("EU-EOW-GL-01", recovered_case(CULLET, (partial,)))[where] == (
        Verdict.INCONCLUSIVE,
        f"certificate {partial.id} does not report non_ferrous_metals_ppm, non_metal_non_glass_inorganics_ppm, "
        "organics_ppm, cullet_size_um",
    )
    expired = certificate(0x63, product.id, -400, GOOD_CULLET)
    assert judged("EU-EOW-GL-01", recovered_case(CULLET, (expired,)))[where] == (
        Verdict.INCONCLUSIVE,
        "no certificate valid on 2026-03-02 reports the non-glass components of this consignment of 19 12 05 (EU-LOW)",
    )


def test_low01_six_digit_entries_asterisk_for_hazardous_and_mirror_entries_assessed():
    held = lot(0x10, SHIPPER, GLASS_SLUDGE, "generated")
    mirror = shipped(1, held, receiver=RECEIVER)
    starred_plain = code(14, "EU-LOW", "10 11 13*", "glass sludge registered non-hazardous", False)
    mislabelled = replace(shipped(2, held, receiver=RECEIVER), code_key=starred_plain.key)
    short = code(15, "EU-LOW", "10 11", "not an entry", False)
    malformed = replace(shipped(3, held, receiver=RECEIVER), code_key=short.key)
    plain = replace(shipped(4, held, receiver=RECEIVER), code_key=SLAG.key)
    us = replace(shipped(5, held, receiver=RECEIVER), code_key=SOLVENT.key)
    case = euus_case((mirror, mislabelled, malformed, plain, us), (held,))
    case = replace(case, codes=(*case.codes, starred_plain, short))
    found = judged("EU-LOW-01", case)
    assert found[f"transfer {mirror.id}"] == (
        Verdict.FAIL,
        "10 11 14 (EU-LOW) is the non-hazardous entry mirroring 10 11 13*: choosing it needs an assessment of "
        f"hazardous properties, and no certificate of analysis of lot {held.id} was valid on 2026-03-02",
    )
    assert found[f"transfer {mislabelled.id}"] == (
        Verdict.FAIL,
        "10 11 13* (EU-LOW) is an asterisked (hazardous) entry, but is registered as non-hazardous",
    )
    assert found[f"transfer {malformed.id}"] == (
        Verdict.FAIL,
        "10 11 (EU-LOW) is not a six-digit List of Waste entry",
    )
    assert found[f"transfer {plain.id}"] == (
        Verdict.PASS,
        "10 02 02 (EU-LOW) is a six-digit entry, non-hazardous as the List of Waste marks it",
    )
    assert found[f"transfer {us.id}"] == (
        Verdict.NOT_APPLICABLE,
        "its code F003 (US-RCRA) is not a List of Waste code",
    )
    assessed = certificate(0x64, held.id, -5)
    assert judged("EU-LOW-01", replace(case, certificates=(assessed,)))[f"transfer {mirror.id}"] == (
        Verdict.PASS,
        f"10 11 14 (EU-LOW), the non-hazardous entry mirroring 10 11 13*, chosen on the assessment of certificate "
        f"{assessed.id} of 2026-02-25",
    )
    hazardous = replace(shipped(6, held, receiver=RECEIVER), code_key=GLASS_SLUDGE_HAZ.key)
    assert only("EU-LOW-01", euus_case((hazardous,), (held,)))[0] is Verdict.PASS


def test_rec01_record_holds_quantity_nature_origin_destination_and_treatment():
    held = lot(0x10, SHIPPER, SLAG, "generated")
    t = shipped(1, held, receiver=RECEIVER, operation="R5")
    assert only("EU-REC-01", euus_case((t,), (held,))) == (
        Verdict.PASS,
        f"10,000 KGM of 10 02 02 (EU-LOW) unprocessed slag, generated by {MILL}, from {MILL} to {STONEWORKS} for "
        "R5, with no carrier, dispatched on 2026-03-02, received on 2026-03-02",
    )
    wrong = replace(t, code_key=GLASS_SLUDGE.key, operation="")
    assert only("EU-REC-01", euus_case((wrong,), (held,))) == (
        Verdict.FAIL,
        "it names no treatment operation; it names 10 11 14 (EU-LOW), but its lot holds 10 02 02 (EU-LOW)",
    )
    assert only("EU-REC-01", euus_case((t,))) == (
        Verdict.INCONCLUSIVE,
        f"lot {held.id}, the origin of the waste, is not in the case file",
    )


def test_rec02_hazardous_waste_records_kept_three_years():
    held = lot(0x10, SHIPPER, SOLVENT_EU, "generated")
    t = shipped(1, held, receiver=RECEIVER, operation="R2", document_hash="0x" + "dd" * 32)
    period = "until 2029-03-02, 36 months from 2026-03-02 for its producer and receiver"
    assert only("EU-REC-02", euus_case((t,), (held,), documents=(document(t),))) == (
        Verdict.PASS,
        f"its document {t.document_hash} is held, to be kept {period}",
    )
    assert only("EU-REC-02", euus_case((t,), (held,), documents=(document(t, stored=False),))) == (
        Verdict.FAIL,
        f"its document {t.document_hash} is no longer held, though it must be kept {period}",
    )
    slag = shipped(2, lot(0x11, SHIPPER, SLAG, "generated"), receiver=RECEIVER)
    assert only("EU-REC-02", euus_case((slag,))) == (
        Verdict.NOT_APPLICABLE,
        "10 02 02 (EU-LOW) is not hazardous: Art. 35(2) sets retention for hazardous waste",
    )


def test_eu_verdicts_do_not_depend_on_the_order_of_records():
    slag, mill, t, cert = by_product()
    product, sources, plant, incoming, consignment = recovered(SCRAP)
    analysis = certificate(0x61, product.id, -30, {"foreign_materials_ppm": 12_000})
    radiation = certificate(0x62, product.id, -1, {"radioactivity_nsv_h": 80})
    records = {
        "transfers": (t, incoming, replace(consignment, certificates=(radiation.id,))),
        "lots": (slag, product, *sources),
        "processings": (mill, plant),
        "certificates": (cert, analysis, radiation),
    }
    pack = packs.load("EU")
    forward = evaluate(euus_case(**records), pack)
    assert forward == evaluate(euus_case(**{k: tuple(reversed(v)) for k, v in records.items()}), pack)
    assert {r.rule_id: r.verdict for r in forward.rules if r.rule_id in EU_RULES} == {
        "EU-BP-01": Verdict.PASS,
        "EU-EOW-01": Verdict.PASS,
        "EU-EOW-FE-01": Verdict.PASS,
        "EU-EOW-FE-02": Verdict.INCONCLUSIVE,
        "EU-EOW-FE-03": Verdict.INCONCLUSIVE,
        "EU-EOW-GL-01": Verdict.NOT_APPLICABLE,
        "EU-LOW-01": Verdict.PASS,
        "EU-REC-01": Verdict.PASS,
        "EU-REC-02": Verdict.NOT_APPLICABLE,
    }
