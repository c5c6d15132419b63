"""Vietnam's Critical and High rules on hand-built case files: for each, what passes, what fails (or is
inconclusive, where the ledger cannot hold the evidence) and the reason a regulator reads."""

import ast
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from cases import (
    ACCREDITATION,
    CARRIER,
    GENERATOR_PERMIT,
    GPMT,
    LAB,
    LICENCE,
    RECEIVER,
    SHIPPER,
    SLAG,
    T0,
    VN_CODES,
    VN_FISH,
    VN_SLAG,
    VN_SLUDGE,
    VN_SOLVENT,
    VN_WATER,
    carried,
    certificate,
    lot_of,
    tx,
    vn_case,
    vn_lot,
    vn_transfer,
)

from compliance import packs
from compliance.casefile import Processing, ProcessingInput, ProcessingOutput
from compliance.engine import CHECKS, evaluate
from compliance.rules.common import ZERO
from compliance.verdicts import Verdict

PACK = packs.load("VN")
PASS, FAIL, WARN, INCONCLUSIVE = Verdict.PASS, Verdict.FAIL, Verdict.WARN, Verdict.INCONCLUSIVE
NA = Verdict.NOT_APPLICABLE
HOA_PHAT = f"Hoa Phat Steel ({SHIPPER})"
NAM_CAU = f"Nam Cau Kien Stone ({RECEIVER})"
DEEP_C = f"Deep C Logistics ({CARRIER})"
QUATEST = f"Quatest 3 ({LAB})"
SLAG_VN = "code 05 01 04 (VN-TT02-2022) 'steel slag'"
SOLVENT = "code 17 02 03** (VN-TT02-2022) 'spent halogenated solvents'"
SLUDGE = "code 10 07 09* (VN-TT02-2022) 'glass polishing sludge'"
# Leachate results within every threshold of the VN pack (micrograms per litre).
CLEAN = {
    "As_leachate_ug_l": 40,
    "Cd_leachate_ug_l": 5,
    "Cr6_leachate_ug_l": 100,
    "Hg_leachate_ug_l": 1,
    "Pb_leachate_ug_l": 900,
}


def judged(case, rule_id):
    """{subject: (verdict, reason)} of one rule over `case`."""
    summary = next(r for r in evaluate(case, PACK).rules if r.rule_id == rule_id)
    return {f.subject: (f.verdict, f.reason) for f in summary.findings}


def of(t):
    return f"transfer {t.id}"


def cert_by_quatest(c):
    return f"certificate {c.id} by {QUATEST}, issued 2026-02-27"


def test_the_pack_holds_every_critical_and_high_vietnamese_rule_with_its_numbers_sourced():
    expected = {
        *("VN-CLASS-01", "VN-CLASS-02", "VN-CLASS-03", "VN-LAB-01", "VN-BP-01"),
        *("VN-ICSW-01", "VN-ICSW-02", "VN-ICSW-03", "VN-PERMIT-01", "VN-WW-01", "VN-FEED-01"),
        *(f"VN-HW-{n:02d}" for n in (1, 3, 4, 5, 6, 7, 8, 10, 12)),
    }
    vn = {r.id: r for r in PACK.rules if r.jurisdiction == "VN"}
    assert set(vn) == expected
    assert all(r.severity in ("Critical", "High") and "[" in r.citation for r in vn.values())
    # Parameters that two rules share must agree (each rule reads only its own).
    assert PACK.rule("VN-ICSW-01").parameter("group_b_operations").value == (
        PACK.rule("VN-ICSW-02").parameter("operations").value
    )
    assert PACK.rule("VN-CLASS-02").parameter("control_marks").value == (
        PACK.rule("VN-CLASS-03").parameter("control_marks").value
    )
    # An unconfirmed threshold is a setting, and reports name it as unconfirmed.
    tighter = packs.load("VN", {"VN-CLASS-03.limit_Pb_leachate_ug_l": 500})
    assert tighter.rule("VN-CLASS-03").parameter("limit_Pb_leachate_ug_l").value == 500
    with pytest.raises(packs.PackError, match="VN-HW-03.max_storage_days is tagged S"):
        packs.load("VN", {"VN-HW-03.max_storage_days": 400})


def test_the_coverage_table_names_each_rules_check_and_tests():
    table = Path(__file__).parents[2] / "docs" / "compliance-rules.md"
    rows = {
        cells[1]: cells
        for line in table.read_text().split("## Vietnam")[1].splitlines()
        if len(cells := [c.strip() for c in line.split("|")]) > 5 and cells[1].startswith("VN-")
    }
    assert set(rows) == {r.id for r in PACK.rules if r.jurisdiction == "VN"}
    service_cases = rule_cases_of(Path(__file__).parents[1] / "service" / "test_rules_vn.py")
    for rule_id, cells in rows.items():
        assert cells[3] == f"`{CHECKS[rule_id].__name__}`", rule_id
        tests = [name.strip(" `") for name in cells[5].split(",")]
        here = [name for name in tests if "::" not in name]
        assert here and all(callable(globals().get(name)) for name in here), rule_id
        # The cases built through the service: test_rule, parametrized by the rules of its CASES table.
        assert [name for name in tests if "::" in name] == [f"test_rules_vn.py::test_rule[{rule_id}]"]
        assert rule_id in service_cases, rule_id


def rule_cases_of(module: Path) -> set[str]:
    """The rules the service test module's CASES table holds (read, not imported: it needs a chain)."""
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "CASES":
            return {key.value for key in node.value.keys}
    return set()


# --- classification -------------------------------------------------------------------------------------


def test_class01_a_code_of_the_vietnamese_list_passes_another_scheme_fails():
    vn, eu = vn_transfer(1, VN_SLAG), vn_transfer(2, VN_SLAG, code_key=SLAG.key)
    lost = vn_transfer(3, VN_SLAG, code_key="0x" + "99" * 32)
    found = judged(vn_case((vn, eu, lost), codes=(*VN_CODES, SLAG)), "VN-CLASS-01")
    assert found[of(vn)] == (
        PASS,
        f"it carries {SLAG_VN} of Vietnam's waste list, assigned by its generator {HOA_PHAT} to lot "
        f"{lot_of(VN_SLAG)} on 2026-03-01",
    )
    assert found[of(eu)] == (
        FAIL,
        "it carries code 10 02 02 (EU-LOW) 'unprocessed slag', not a code of Vietnam's waste list "
        "(VN-TT02-2022, Circular 02/2022/TT-BTNMT)",
    )
    assert found[of(lost)] == (INCONCLUSIVE, f"its waste code {'0x' + '99' * 32} is not in the case file")


def test_class02_a_code_hazardous_in_every_case_registered_as_ordinary_fails():
    t = vn_transfer(1, VN_SOLVENT)
    assert judged(vn_case((t,)), "VN-CLASS-02")[of(t)] == (
        PASS,
        f"{SOLVENT} marked '**' and is managed as hazardous waste",
    )
    ordinary = replace(VN_SOLVENT, hazardous=False)
    assert judged(vn_case((t,), codes=(ordinary,)), "VN-CLASS-02")[of(t)] == (
        FAIL,
        f"{SOLVENT} is hazardous in every case (marked '**'), yet it is registered and shipped as "
        "non-hazardous waste",
    )


def test_class02_a_control_required_code_is_non_hazardous_only_on_an_analysis():
    c = certificate(1, VN_SLUDGE, CLEAN)
    proven = vn_transfer(1, VN_SLUDGE, certificates=(c.id,))
    unproven = vn_transfer(2, VN_SLUDGE)
    unread = vn_transfer(3, VN_SLUDGE, certificates=(certificate(2, VN_SLUDGE).id,))
    expired = vn_transfer(4, VN_SLUDGE, certificates=(certificate(3, VN_SLUDGE).id,))
    late = certificate(3, VN_SLUDGE, valid_until=T0)
    case = vn_case((proven, unproven, unread, expired), certificates=(c, certificate(2, VN_SLUDGE), late))
    found = judged(case, "VN-CLASS-02")
    controlled = f"{SLUDGE} requires control (marked '*')"
    assert found[of(proven)] == (
        PASS,
        f"{controlled} and is managed as non-hazardous on the analysis of {cert_by_quatest(c)} "
        "(VN-LAB-01 judges the lab, VN-CLASS-03 the results against the thresholds)",
    )
    assert found[of(unproven)] == (
        FAIL,
        f"{controlled}, yet it is managed as non-hazardous without an analysis proving it: no certificate of "
        "analysis is cited",
    )
    assert found[of(unread)][0] is INCONCLUSIVE
    assert found[of(unread)][1].endswith("whose results document is not in the case file")
    assert found[of(expired)] == (
        FAIL,
        f"{controlled}, yet it is managed as non-hazardous without an analysis proving it: certificate "
        f"{late.id} had expired (on 2026-03-02) on 2026-03-02",
    )
    assert judged(vn_case((vn_transfer(5, VN_SLAG),)), "VN-CLASS-02")[of(vn_transfer(5, VN_SLAG))] == (
        PASS,
        f"{SLAG_VN} carries no hazard mark and is managed as ordinary waste",
    )


def test_class03_results_above_a_threshold_make_the_waste_hazardous():
    within, above, partial = (
        certificate(1, VN_SLUDGE, CLEAN),
        certificate(2, VN_SLUDGE, {**CLEAN, "Pb_leachate_ug_l": 16_000}),
        certificate(3, VN_SLUDGE, {"Pb_leachate_ug_l": 900}),
    )
    transfers = [
        vn_transfer(n, VN_SLUDGE, certificates=(c.id,)) for n, c in enumerate((within, above, partial))
    ]
    found = judged(vn_case(tuple(transfers), certificates=(within, above, partial)), "VN-CLASS-03")
    managed = f"{SLUDGE} requires control (marked '*') and is managed as non-hazardous"
    assert found[of(transfers[0])] == (
        PASS,
        f"{managed}: {cert_by_quatest(within)}: As_leachate_ug_l 40 (limit 2000 ug/L), Cd_leachate_ug_l 5 "
        "(limit 500 ug/L), Cr6_leachate_ug_l 100 (limit 5000 ug/L), Hg_leachate_ug_l 1 (limit 200 ug/L), "
        "Pb_leachate_ug_l 900 (limit 15000 ug/L), within QCVN 07:2009/BTNMT",
    )
    assert found[of(transfers[1])] == (
        FAIL,
        f"{managed}, but Pb_leachate_ug_l is 16000 ug/L in certificate {above.id}, above 15000 "
        "(QCVN 07:2009/BTNMT): the waste is hazardous",
    )
    assert found[of(transfers[2])] == (
        INCONCLUSIVE,
        f"{managed}: no result for As_leachate_ug_l, Cd_leachate_ug_l, Cr6_leachate_ug_l, Hg_leachate_ug_l",
    )
    # Codes without a control mark are not classified by thresholds.
    assert judged(vn_case((vn_transfer(9, VN_SLAG),)), "VN-CLASS-03") == {
        "test case": (NA, "no record in this case file is subject to it")
    }
    report = evaluate(vn_case(tuple(transfers), certificates=(within, above, partial)), PACK)
    unconfirmed = next(r for r in report.rules if r.rule_id == "VN-CLASS-03").unconfirmed
    assert "limit_Pb_leachate_ug_l" in unconfirmed and "table" in unconfirmed


def test_lab01_the_lab_accredited_under_an_accepted_scheme_on_the_issue_date():
    c = certificate(1, VN_SLUDGE, CLEAN)
    subject = f"certificate {c.id}"
    assert judged(vn_case(certificates=(c,)), "VN-LAB-01")[subject] == (
        PASS,
        f"the lab {QUATEST} held accreditation VIMCERTS 085 on 2026-02-27, covering {SLUDGE} of lot "
        f"{lot_of(VN_SLUDGE)}",
    )
    vilas = replace(ACCREDITATION, number="VILAS 1234")
    lapsed = replace(ACCREDITATION, valid_until=T0 - timedelta(days=10))
    unscoped = replace(ACCREDITATION, coverage=())
    narrow = replace(ACCREDITATION, coverage=ACCREDITATION.coverage[:1])
    verdicts = {
        vilas: (
            FAIL,
            f"the lab {QUATEST} holds accreditation VILAS 1234, not one of an accepted scheme (VIMCERTS)",
        ),
        lapsed: (
            FAIL,
            f"the accreditation VIMCERTS 085 of the lab {QUATEST} had expired (on 2026-02-20) on 2026-02-27, "
            "when it issued the certificate",
        ),
        unscoped: (
            WARN,
            f"the lab {QUATEST} held accreditation VIMCERTS 085 on 2026-02-27, but the materials and parameters "
            "in its scope are not recorded on the ledger: check them on the accreditation",
        ),
        narrow: (
            FAIL,
            f"the accreditation VIMCERTS 085 of the lab {QUATEST} does not cover {SLUDGE} of lot {lot_of(VN_SLUDGE)}",
        ),
    }
    for accreditation, verdict in verdicts.items():
        case = vn_case(certificates=(c,), permits=(GPMT, accreditation))
        assert judged(case, "VN-LAB-01")[subject] == verdict
    assert judged(vn_case(certificates=(c,), permits=(GPMT,)), "VN-LAB-01")[subject] == (
        INCONCLUSIVE,
        f"the accreditation {ACCREDITATION.id} of the lab {QUATEST} is not in the case file",
    )


# --- product status ---------------------------------------------------------------------------------------

STONE = "0x" + "5a" * 32  # the product lot of a processing


def processing(inputs=(VN_SLAG,), output=VN_SLAG, kind="product", processor=RECEIVER):
    return Processing(
        "0x" + "9c" * 32,
        processor,
        T0 + timedelta(days=2),
        tuple(ProcessingInput(lot_of(code), 1_000, code.key) for code in inputs),
        (ProcessingOutput(STONE, kind, 900, output.key),),
        evidence=tx(650),
    )


def test_bp01_a_product_needs_a_non_hazardous_code_and_a_standing_certificate():
    made = f"of processing {'0x' + '9c' * 32} by {NAM_CAU} on 2026-03-04"
    conformity = replace(certificate(1, VN_SLAG), lot_id=STONE)
    found = judged(vn_case(processings=(processing(),), certificates=(conformity,)), "VN-BP-01")
    assert found[f"lot {STONE}"] == (
        PASS,
        f"the product {made}, {SLAG_VN}: its conformity for use rests on {cert_by_quatest(conformity)} "
        f"(the standard met is stated in document {'0x' + 'c1' * 32})",
    )
    assert judged(vn_case(processings=(processing(),)), "VN-BP-01")[f"lot {STONE}"] == (
        FAIL,
        f"the product {made}, {SLAG_VN}: no certificate shows it meets the standard for its use: it remains waste",
    )
    revoked = replace(conformity, revoked_at=T0 + timedelta(days=5))
    assert judged(vn_case(processings=(processing(),), certificates=(revoked,)), "VN-BP-01")[
        f"lot {STONE}"
    ] == (
        FAIL,
        f"the product {made}, {SLAG_VN}: certificate {revoked.id} was revoked (on 2026-03-07), so no certificate "
        "shows it meets the standard for its use: it remains waste",
    )
    hazardous = processing(inputs=(VN_SOLVENT,), output=VN_SOLVENT, kind="by_product")
    assert judged(vn_case(processings=(hazardous,)), "VN-BP-01")[f"lot {STONE}"] == (
        FAIL,
        f"the by-product {made} carries hazardous {SOLVENT}: only non-hazardous waste can become a product "
        "(Decree 08/2022/ND-CP Art. 65(1))",
    )
    recovered = processing(inputs=(VN_SOLVENT,), output=VN_SLAG)
    assert judged(vn_case(processings=(recovered,)), "VN-BP-01")[f"lot {STONE}"] == (
        NA,
        f"the product {made} is recovered from hazardous {SOLVENT}: VN-HW-12 judges it",
    )


# --- ordinary industrial solid waste -------------------------------------------------------------------


def test_icsw01_the_operation_sorts_ordinary_waste_into_a_group():
    sorted_, unsorted = vn_transfer(1, VN_SLAG), vn_transfer(2, VN_SLAG, operation="")
    found = judged(vn_case((sorted_, unsorted)), "VN-ICSW-01")
    assert found[of(sorted_)] == (
        PASS,
        f"{SLAG_VN} is sorted into group (b), building materials or ground levelling, by operation R5",
    )
    assert found[of(unsorted)] == (
        FAIL,
        f"{SLAG_VN} is sent for operation '', which places it in none of the groups of LEP Art. 81(1): "
        "unsorted, it may only go to treatment (group (c))",
    )
    assert of(vn_transfer(3, VN_SOLVENT)) not in judged(vn_case((vn_transfer(3, VN_SOLVENT),)), "VN-ICSW-01")


def test_icsw02_building_use_needs_a_certificate_of_the_standard_met():
    c = certificate(1, VN_SLAG)
    evidenced = vn_transfer(1, VN_SLAG, certificates=(c.id,))
    bare = vn_transfer(2, VN_SLAG)
    elsewhere = vn_transfer(3, VN_SLAG, certificates=("0x" + "ce" * 32,))
    found = judged(vn_case((evidenced, bare, elsewhere), certificates=(c,)), "VN-ICSW-02")
    use = f"{SLAG_VN} is sent for operation R5 (building materials or ground levelling)"
    assert found[of(evidenced)] == (
        PASS,
        f"{use} with {cert_by_quatest(c)}, valid on 2026-03-02, as evidence of the standard it meets (stated in "
        f"document {'0x' + 'c1' * 32})",
    )
    assert found[of(bare)] == (
        FAIL,
        f"{use} without evidence that it meets the applicable standard: no certificate is cited",
    )
    assert found[of(elsewhere)] == (
        INCONCLUSIVE,
        f"{use} on certificate {'0x' + 'ce' * 32}, which is not in the case file",
    )
    # Feed material (group (a)) needs no construction standard.
    assert of(vn_transfer(4, VN_FISH)) not in judged(vn_case((vn_transfer(4, VN_FISH),)), "VN-ICSW-02")


def test_icsw03_ordinary_waste_only_to_a_receiver_permitted_for_it():
    ok = vn_transfer(1, VN_SLAG)
    wrong_use = vn_transfer(2, VN_SLAG, operation="D1")
    found = judged(vn_case((ok, wrong_use)), "VN-ICSW-03")
    assert found[of(ok)] == (
        PASS,
        f"the receiver {NAM_CAU} holds environmental permit GPMT-36/2025, valid on 2026-03-02 (dispatch), "
        f"covering {SLAG_VN} for operation R5",
    )
    assert found[of(wrong_use)] == (
        FAIL,
        f"the environmental permit GPMT-36/2025 of the receiver {NAM_CAU} does not cover {SLAG_VN} for operation D1",
    )
    lapsed = replace(GPMT, valid_until=T0 - timedelta(days=1))
    assert judged(vn_case((ok,), permits=(lapsed,)), "VN-ICSW-03")[of(ok)] == (
        FAIL,
        f"the environmental permit GPMT-36/2025 of the receiver {NAM_CAU} had expired (on 2026-03-01) on "
        "2026-03-02 (dispatch)",
    )
    home = vn_transfer(3, VN_SLAG, permit_id=ZERO, return_of=ok.id)
    assert judged(vn_case((home,)), "VN-ICSW-03")[of(home)] == (NA, "a return to its shipper needs no permit")


# --- hazardous waste ------------------------------------------------------------------------------------


def test_hw01_the_generator_declared_its_hazardous_code_and_quantity():
    lot = vn_lot(VN_SOLVENT, 40_000)
    where = f"lot {lot.id}"
    assert judged(vn_case(lots=(lot,)), "VN-HW-01")[where] == (
        PASS,
        f"the generator's environmental permit GPMT-12/2024 declares hazardous {SOLVENT}; 40000 KGM generated "
        "in 2026, within its yearly quantity of 50000",
    )
    assert judged(vn_case(lots=(vn_lot(VN_SOLVENT, 60_000),)), "VN-HW-01")[where] == (
        FAIL,
        f"60000 KGM generated in 2026, more than the 50000 KGM yearly quantity of permit GPMT-12/2024 which "
        f"declares {SOLVENT} (tolerance 0 per mille)",
    )
    undeclared = replace(GENERATOR_PERMIT, coverage=())
    assert judged(vn_case(lots=(lot,), permits=(GPMT, undeclared)), "VN-HW-01")[where] == (
        FAIL,
        f"the generator {HOA_PHAT} generated hazardous {SOLVENT} on 2026-03-01, but none of its environmental "
        "permits valid then (GPMT-12/2024) declares that code",
    )
    assert judged(vn_case(lots=(lot,), permits=(GPMT,)), "VN-HW-01")[where] == (
        INCONCLUSIVE,
        f"no environmental permit of the generator {HOA_PHAT} is in the case file: its declaration of "
        f"hazardous {SOLVENT} cannot be checked",
    )


def test_hw03_hazardous_waste_stored_over_a_year_needs_a_report_the_ledger_lacks():
    young = vn_lot(VN_SOLVENT, 40_000, 15_000)
    old = replace(young, created_at=T0 - timedelta(days=400))
    assert judged(vn_case(lots=(young,)), "VN-HW-03")[f"lot {young.id}"] == (
        PASS,
        f"15000 KGM of hazardous {SOLVENT} has been stored for 31 days since its generation on 2026-03-01, "
        "within 365 days",
    )
    assert judged(vn_case(lots=(old,)), "VN-HW-03")[f"lot {old.id}"] == (
        INCONCLUSIVE,
        f"15000 KGM of hazardous {SOLVENT} has been stored for 430 days since its generation on 2025-01-26, "
        f"more than 365 days: its holder {HOA_PHAT} must report it to the competent authority (Decree "
        "45/2022/ND-CP Art. 29(1)), and no such report is on the ledger",
    )
    shipped_out = replace(old, balance=0)
    assert judged(vn_case(lots=(shipped_out,)), "VN-HW-03") == {
        "test case": (NA, "no record in this case file is subject to it")
    }


def test_hw04_the_receivers_permit_covers_the_code_and_its_yearly_capacity():
    first, second = vn_transfer(1, VN_SOLVENT, 30_000, 30_000), vn_transfer(2, VN_SOLVENT, 30_000, 30_000)
    small = replace(GPMT, yearly_capacity=50_000)
    found = judged(vn_case((first, second), permits=(small,)), "VN-HW-04")
    assert found[of(first)] == (
        PASS,
        f"the receiver {NAM_CAU} holds environmental permit GPMT-36/2025, valid on 2026-03-02 (dispatch), "
        f"covering {SOLVENT} for operation R2; 30000 KGM of its yearly capacity of 50000 used in 2026 with this "
        "transfer",
    )
    assert found[of(second)] == (
        FAIL,
        "with this transfer 60000 KGM was sent under the receiver's permit GPMT-36/2025 in 2026, beyond its "
        "yearly capacity of 50000",
    )
    # Dispatched in the same second, in consecutive blocks: the capacity is drawn in the chain's order, not
    # in the order of the transfers' ids.
    earlier, later = (
        replace(t, dispatched_at=first.dispatched_at, evidence=replace(first.evidence, block=block))
        for t, block in ((second, 7), (first, 8))
    )
    found = judged(vn_case((earlier, later), permits=(small,)), "VN-HW-04")
    assert (found[of(earlier)][0], found[of(later)][0]) == (PASS, FAIL)
    uncovered = vn_transfer(3, VN_SOLVENT, operation="D10")
    assert judged(vn_case((uncovered,)), "VN-HW-04")[of(uncovered)] == (
        FAIL,
        f"the environmental permit GPMT-36/2025 of the receiver {NAM_CAU} does not cover {SOLVENT} for operation "
        "D10",
    )
    licence_as_permit = vn_transfer(4, VN_SOLVENT, permit_id=LICENCE.id)
    assert judged(vn_case((licence_as_permit,)), "VN-HW-04")[of(licence_as_permit)] == (
        FAIL,
        f"CTNH-VC-07 is a hazardous_waste_transport_licence of {DEEP_C}, not an environmental permit of the "
        f"receiver {NAM_CAU}",
    )


def test_hw05_only_the_generator_or_an_authorised_carrier_transports_hazardous_waste():
    licensed = carried(vn_transfer(1, VN_SOLVENT))
    unlicensed = carried(vn_transfer(2, VN_SOLVENT), licence=ZERO)
    own = carried(vn_transfer(3, VN_SOLVENT), carrier=SHIPPER, licence=ZERO)
    nobody = vn_transfer(4, VN_SOLVENT)
    found = judged(vn_case((licensed, unlicensed, own, nobody)), "VN-HW-05")
    assert found[of(licensed)] == (
        PASS,
        f"hazardous {SOLVENT} carried by {DEEP_C} under hazardous_waste_transport_licence CTNH-VC-07",
    )
    assert found[of(own)] == (
        INCONCLUSIVE,
        f"{HOA_PHAT} carries waste it generated: that its vehicles meet the technical and management requirements "
        "(LEP Art. 83(4)(a)) is not on the ledger",
    )
    assert found[of(nobody)] == (
        INCONCLUSIVE,
        f"no carrier is recorded for hazardous {SOLVENT}: who carried it is not on the ledger",
    )
    # The licence on file names the carrier's authorisation; without it, its other permits are looked at.
    assert found[of(unlicensed)] == (
        PASS,
        f"hazardous {SOLVENT} carried by {DEEP_C} under hazardous_waste_transport_licence CTNH-VC-07",
    )
    found = judged(vn_case((unlicensed,), permits=(GPMT,)), "VN-HW-05")
    assert found[of(unlicensed)] == (
        FAIL,
        f"{DEEP_C} is neither the generator nor holds an authorisation (environmental_permit, "
        f"hazardous_waste_transport_licence) covering {SOLVENT} valid on 2026-03-02",
    )
    # A shipper carrying waste it received is no generator; a permit declaring the code as generated lets it
    # treat nothing.
    reshipped = replace(vn_lot(VN_SOLVENT), origin="received")
    found = judged(vn_case((own,), (reshipped,)), "VN-HW-05")
    assert found[of(own)] == (
        FAIL,
        f"{HOA_PHAT} is neither the generator nor holds an authorisation (environmental_permit, "
        f"hazardous_waste_transport_licence) covering {SOLVENT} valid on 2026-03-02",
    )


def test_hw06_gps_tracks_are_not_on_the_ledger_so_hazardous_transport_is_inconclusive():
    hazardous, ordinary = carried(vn_transfer(1, VN_SOLVENT)), vn_transfer(2, VN_SLAG)
    found = judged(vn_case((hazardous, ordinary)), "VN-HW-06")
    assert found == {
        of(hazardous): (
            INCONCLUSIVE,
            f"hazardous {SOLVENT} was carried ({DEEP_C}): the positioning (GPS) device of each vehicle and its "
            "track against the routes and times set by the provincial People's Committee are not on the ledger",
        )
    }
    assert judged(vn_case((ordinary,)), "VN-HW-06") == {
        "test case": (NA, "no record in this case file is subject to it")
    }


def test_hw07_the_manifest_is_signed_by_shipper_carrier_and_receiver():
    signed = carried(vn_transfer(1, VN_SOLVENT))
    no_pick_up = replace(
        signed, id="0x" + "71" * 32, signatures=signed.signatures[:1] + signed.signatures[2:]
    )
    in_transit = carried(vn_transfer(3, VN_SOLVENT, received=None))
    in_transit = replace(in_transit, status="in_transit", signatures=in_transit.signatures[:2])
    found = judged(vn_case((signed, no_pick_up, in_transit)), "VN-HW-07")
    assert found[of(signed)] == (
        PASS,
        f"the manifest is signed by every party: the dispatch of the shipper {HOA_PHAT} (2026-03-02 09:00 UTC); "
        f"the pick-up of the carrier {DEEP_C} (2026-03-02 09:30 UTC); the delivery of the carrier {DEEP_C} "
        f"(2026-03-02 10:30 UTC); the receipt of the receiver {NAM_CAU} (2026-03-02 11:00 UTC)",
    )
    assert found[of(no_pick_up)] == (
        FAIL,
        f"the manifest of hazardous {SOLVENT} lacks the pick-up of the carrier {DEEP_C}",
    )
    assert found[of(in_transit)] == (
        WARN,
        f"the manifest is signed so far (the dispatch of the shipper {HOA_PHAT} (2026-03-02 11:00 UTC); the "
        f"pick-up of the carrier {DEEP_C} (2026-03-02 11:30 UTC)); the delivery of the carrier {DEEP_C}, the "
        f"receipt of the receiver {NAM_CAU} are not yet due",
    )


def test_hw08_signatures_in_custody_order_and_the_receipt_signed_on_time():
    ok = carried(vn_transfer(1, VN_SOLVENT))
    dispatch, pick_up, delivery, receipt = ok.signatures
    backdated = replace(ok, signatures=(dispatch, replace(pick_up, recorded_at=T0), delivery, receipt))
    late = replace(
        ok, signatures=(dispatch, pick_up, delivery, replace(receipt, recorded_at=T0 + timedelta(days=3)))
    )
    assert judged(vn_case((ok,)), "VN-HW-08")[of(ok)] == (
        PASS,
        f"4 signatures in custody order, from the dispatch of the shipper {HOA_PHAT} to the receipt of the "
        f"receiver {NAM_CAU}",
    )
    assert judged(vn_case((backdated,)), "VN-HW-08")[of(ok)] == (
        FAIL,
        f"the pick-up of the carrier {DEEP_C} (2026-03-02 08:00 UTC) is recorded before the dispatch of the "
        f"shipper {HOA_PHAT} (2026-03-02 09:00 UTC)",
    )
    assert judged(vn_case((late,)), "VN-HW-08")[of(ok)] == (
        FAIL,
        "the receiver signed its receipt on 2026-03-05 08:00 UTC, more than 1 day(s) after the last delivery "
        "(2026-03-02 10:30 UTC)",
    )


def test_hw10_received_quantity_and_code_reconcile_with_the_manifest():
    exact, short = vn_transfer(1, VN_SOLVENT), vn_transfer(2, VN_SOLVENT, 12_300, 11_000)
    opened = replace(
        vn_lot(VN_SOLVENT), id=exact.id, origin="received", source_transfer=exact.id, holder=RECEIVER
    )
    found = judged(vn_case((exact, short), (vn_lot(VN_SOLVENT), opened)), "VN-HW-10")
    assert found[of(exact)] == (
        PASS,
        "the receiver measured 12300 KGM against 12300 KGM shipped, within the tolerance of 100 per mille; the lot "
        "its receipt opened carries the same code",
    )
    assert found[of(short)] == (
        FAIL,
        "the receiver measured 11000 KGM against 12300 KGM shipped: a difference of 1300 KGM, beyond the "
        "tolerance of 100 per mille",
    )
    relabelled = replace(
        vn_lot(VN_SLAG), id=exact.id, origin="received", source_transfer=exact.id, holder=RECEIVER
    )
    lots = (vn_lot(VN_SOLVENT), relabelled)
    assert judged(vn_case((exact,), lots), "VN-HW-10")[of(exact)] == (
        FAIL,
        f"shipped as {SOLVENT}, it was received into lot {exact.id} as {SLAG_VN}",
    )
    # A partial rejection: the refused part is measured too.
    refused = vn_transfer(3, VN_SOLVENT, 12_300, 10_000, rejected_quantity=2_300, status="partially_rejected")
    assert judged(vn_case((refused,)), "VN-HW-10")[of(refused)] == (
        PASS,
        "the receiver measured 12300 KGM against 12300 KGM shipped, within the tolerance of 100 per mille; the lot "
        "its receipt opened is not in the case file",
    )


def test_hw12_no_relabelling_nor_mixing_of_hazardous_waste():
    honest = vn_transfer(1, VN_SOLVENT)
    relabelled = vn_transfer(2, VN_SLAG, lot_id=lot_of(VN_SOLVENT))
    found = judged(vn_case((honest, relabelled)), "VN-HW-12")
    assert found[of(honest)] == (PASS, f"shipped under the code of its lot, {SOLVENT}")
    assert found[of(relabelled)] == (
        FAIL,
        f"lot {lot_of(VN_SOLVENT)} holds {SOLVENT}, but the transfer ships it as {SLAG_VN}",
    )
    where = f"processing {'0x' + '9c' * 32}"
    mixed = processing(inputs=(VN_SOLVENT, VN_SLAG), output=VN_SLAG, kind="residue", processor=SHIPPER)
    assert judged(vn_case(processings=(mixed,), permits=()), "VN-HW-12")[where] == (
        FAIL,
        f"{HOA_PHAT} mixed hazardous {SOLVENT} with non-hazardous {SLAG_VN} without an environmental permit "
        "covering it on 2026-03-04",
    )
    relabel = processing(inputs=(VN_SOLVENT,), output=VN_SLAG, kind="residue", processor=SHIPPER)
    assert judged(vn_case(processings=(relabel,), permits=()), "VN-HW-12")[where] == (
        FAIL,
        f"{HOA_PHAT} turned hazardous {SOLVENT} into {SLAG_VN} without an environmental permit covering it on "
        "2026-03-04",
    )
    treated = processing(inputs=(VN_SOLVENT, VN_SLAG), output=VN_SLAG, kind="residue")
    assert judged(vn_case(processings=(treated,)), "VN-HW-12")[where] == (
        PASS,
        f"{NAM_CAU} treats hazardous {SOLVENT} under its environmental permit GPMT-36/2025, valid on 2026-03-04",
    )


# --- permits, wastewater, feed ----------------------------------------------------------------------------


def test_permit01_receivers_and_processors_hold_a_valid_permit_for_the_activity():
    t = vn_transfer(1, VN_SLAG)
    expired = replace(GPMT, valid_until=T0 + timedelta(hours=2))
    assert judged(vn_case((t,)), "VN-PERMIT-01")[of(t)] == (
        PASS,
        f"the receiver {NAM_CAU} holds environmental permit GPMT-36/2025, valid on 2026-03-02 (receipt), "
        f"covering {SLAG_VN} for operation R5",
    )
    assert judged(vn_case((t,), permits=(expired,)), "VN-PERMIT-01")[of(t)] == (
        FAIL,
        f"the environmental permit GPMT-36/2025 of the receiver {NAM_CAU} had expired (on 2026-03-02) on "
        "2026-03-02 (receipt)",
    )
    where = f"processing {'0x' + '9c' * 32}"
    assert judged(vn_case(processings=(processing(),)), "VN-PERMIT-01")[where] == (
        PASS,
        f"{NAM_CAU}'s environmental permit covered every input, {SLAG_VN}, on 2026-03-04",
    )
    by_shipper = processing(processor=SHIPPER)
    assert judged(vn_case(processings=(by_shipper,)), "VN-PERMIT-01")[where] == (
        FAIL,
        f"{HOA_PHAT} processed {SLAG_VN} on 2026-03-04 without an environmental permit valid then covering it",
    )
    assert judged(vn_case(processings=(by_shipper,), permits=(GPMT,)), "VN-PERMIT-01")[where] == (
        INCONCLUSIVE,
        f"no environmental permit of the processor {HOA_PHAT} is in the case file",
    )


def test_ww01_reused_wastewater_meets_the_reuse_limits():
    clean = certificate(1, VN_WATER, {"BOD5_mg_l": 12, "COD_mg_l": 40, "TSS_mg_l": 20})
    dirty = certificate(2, VN_WATER, {"BOD5_mg_l": 12, "COD_mg_l": 140, "TSS_mg_l": 20})
    good, bad = (vn_transfer(n, VN_WATER, certificates=(c.id,)) for n, c in ((1, clean), (2, dirty)))
    bare = vn_transfer(3, VN_WATER)
    found = judged(vn_case((good, bad, bare), certificates=(clean, dirty)), "VN-WW-01")
    reuse = f"code 12 06 13 (VN-TT02-2022) 'treated wastewater' is passed to {NAM_CAU} for reuse"
    table = "QCVN 40:2011/BTNMT column A (placeholder for the reuse purpose's standard)"
    assert found[of(good)] == (
        PASS,
        f"{reuse}: {cert_by_quatest(clean)}: BOD5_mg_l 12 (limit 30 mg/L), COD_mg_l 40 (limit 75 mg/L), "
        f"TSS_mg_l 20 (limit 50 mg/L), within {table}",
    )
    assert found[of(bad)] == (
        FAIL,
        f"{reuse}, but COD_mg_l is 140 mg/L in certificate {dirty.id}, above 75 ({table}): it is not fit for reuse",
    )
    assert found[of(bare)] == (FAIL, f"{reuse} without a valid certificate of analysis: none is cited")
    assert of(vn_transfer(4, VN_SLAG)) not in judged(vn_case((vn_transfer(4, VN_SLAG),)), "VN-WW-01")


def test_feed01_feed_material_within_the_feed_safety_limits():
    clean = certificate(1, VN_FISH, {"As_ug_kg": 4_000, "Cd_ug_kg": 300, "Hg_ug_kg": 100, "Pb_ug_kg": 1_200})
    leaded = certificate(
        2, VN_FISH, {"As_ug_kg": 4_000, "Cd_ug_kg": 300, "Hg_ug_kg": 100, "Pb_ug_kg": 12_000}
    )
    unread = certificate(3, VN_FISH)
    good, bad, blind = (
        vn_transfer(n, VN_FISH, certificates=(c.id,)) for n, c in ((1, clean), (2, leaded), (3, unread))
    )
    found = judged(vn_case((good, bad, blind), certificates=(clean, leaded, unread)), "VN-FEED-01")
    feed = f"code 02 02 03 (VN-TT02-2022) 'fish heads and bones for feed' goes to {NAM_CAU} as feed material"
    assert found[of(good)] == (
        PASS,
        f"{feed}: {cert_by_quatest(clean)}: As_ug_kg 4000 (limit 25000 ug/kg), Cd_ug_kg 300 (limit 2000 ug/kg), "
        "Hg_ug_kg 100 (limit 500 ug/kg), Pb_ug_kg 1200 (limit 10000 ug/kg), within QCVN 01-190:2020/BNNPTNT",
    )
    assert found[of(bad)] == (
        FAIL,
        f"{feed}, but Pb_ug_kg is 12000 ug/kg in certificate {leaded.id}, above 10000 (QCVN 01-190:2020/BNNPTNT): "
        "it may not be used as feed",
    )
    assert found[of(blind)] == (
        INCONCLUSIVE,
        f"{feed}: the results document of certificate {unread.id} is not in the case file; no result for "
        "As_ug_kg, Cd_ug_kg, Hg_ug_kg, Pb_ug_kg",
    )
    # "feedstock" is not feed.
    kiln = replace(VN_SLAG, description="feedstock for cement kilns")
    t = vn_transfer(4, VN_SLAG)
    assert of(t) not in judged(vn_case((t,), codes=(kiln,)), "VN-FEED-01")
