"""Eco-industrial-park KPIs (compliance.kpis) on small record sets, checked against numbers worked out by
hand in the comments."""

from datetime import UTC, datetime

import pytest

from compliance.kpis import (
    Exchange,
    FactorError,
    GeneratedLot,
    MeteredQuantity,
    Tally,
    factors_from_data,
    kpis,
)
from compliance.verdicts import Verdict

SLAG, SLUDGE, AGGREGATE, EFFLUENT = "EU-LOW 10 02 02", "EU-LOW 19 08 14", "UN-CPC 15320", "VN 12 01 01"
JAN, FEB = datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 2, 10, tzinfo=UTC)
FACTORS = {
    "id": "test-factors",
    "version": "1",
    "factors": [
        {
            "name": "slag",
            "applies_to": [SLAG],
            "value": 520,
            "unit": "kg CO2 per tonne",
            "source": "IPCC 2006 Vol. 3 Ch. 2",
            "confidence": "H",
        },
        {
            "name": "steam",
            "applies_to": ["steam"],
            "value": 175,
            "unit": "kg CO2 per tonne",
            "source": "derived",
            "confidence": "U",
        },
    ],
    "water": {"media": ["treated wastewater"], "materials": [EFFLUENT]},
}


def exchange(id_, shipper, receiver, material, unit, accepted, operation="R5", **more) -> Exchange:
    fields = {"dispatched_at": JAN, "verdict": Verdict.PASS, "description": material, **more}
    return Exchange(
        id_, shipper, receiver, material, unit=unit, accepted=accepted, operation=operation, **fields
    )


EXCHANGES = [
    exchange("x1", "G", "R", SLAG, "KGM", 590, from_generated_lot=True),
    exchange("x2", "G", "R", SLAG, "KGM", 200, verdict=Verdict.WARN, from_generated_lot=True),
    exchange("x3", "G", "V", SLAG, "KGM", 50, verdict=Verdict.FAIL, failed_rules=("GEN-PERMIT-02",)),
    exchange("x4", "G", "D", SLUDGE, "KGM", 100, operation="D1", from_generated_lot=True),
    exchange("x5", "R", "G", SLAG, "KGM", 100, return_of="x2"),
    exchange("x6", "G", "X", SLAG, "KGM", None),
    exchange("x7", "W", "R", EFFLUENT, "MTQ", 30, operation="R3", dispatched_at=FEB),
    exchange("x8", "A", "B", AGGREGATE, "TNE", 2, dispatched_at=FEB),
]
GENERATED = [
    GeneratedLot("lot-g", "G", SLAG, "KGM", 2_000, 1_000),
    GeneratedLot("lot-oil", "G", "EU-LOW 13 02 05", "LTR", 500, 500),
]
METERED = [
    MeteredQuantity("steam-1", "G", "R", "steam", "TNE", 12, FEB),
    MeteredQuantity("steam-1", "G", "R", "steam", "TNE", 15, FEB),
    MeteredQuantity("ww-1", "W", "R", "treated wastewater", "MTQ", 40, FEB),
    MeteredQuantity("heat-1", "G", "R", "steam", "MWH", 5, FEB),
]


@pytest.fixture(scope="module")
def result() -> dict:
    return kpis(factors_from_data(FACTORS), EXCHANGES, GENERATED, METERED)


def test_tonnes_exchanged_count_received_quantities_of_passing_transfers_per_material(result):
    # 590 + 200 kg slag, 100 kg sludge, 2 t aggregate; the failing x3, the return x5 and x6 in transit
    # do not count; 30 m3 of effluent has no mass the ledger knows.
    assert result["tonnes_exchanged"] == 2.89
    by_material = {m["material"]: m for m in result["materials"]}
    assert [m["material"] for m in result["materials"]] == [AGGREGATE, SLAG, SLUDGE, EFFLUENT]
    slag = by_material[SLAG]
    assert (slag["transfers"], slag["quantity"], slag["tonnes"]) == (2, 790, 0.79)
    assert (slag["not_counted_transfers"], slag["not_counted_quantity"]) == (1, 50)
    assert (by_material[EFFLUENT]["tonnes"], by_material[EFFLUENT]["unconverted_quantity"]) == (0, 30)


def test_links_are_distinct_pairs_of_passing_transfers(result):
    links = result["links"]
    assert links["count"] == 4  # G→R (twice), G→D, W→R, A→B; not G→V (FAIL)
    assert {(p["shipper"], p["receiver"], p["transfers"]) for p in links["pairs"]} == {
        ("G", "R", 2),
        ("G", "D", 1),
        ("W", "R", 1),
        ("A", "B", 1),
    }
    assert links["not_counted"] == [
        {"transfer_id": "x3", "verdict": "FAIL", "failed_rules": ["GEN-PERMIT-02"]}
    ]
    assert links["in_transit"] == 1


def test_flows_are_tonnes_from_whom_to_whom_of_what(result):
    # The dashboard's Sankey: passing transfers with a mass (x1 + x2: 0.79 t slag G→R, x4: 0.1 t sludge,
    # x8: 2 t aggregate) and metered periods with a mass (12 + 15 t steam G→R); not the failing x3, the
    # return, the transfer in transit, the effluent in m3, nor the MWh of heat.
    assert result["flows"] == [
        {"from": "A", "to": "B", "material": AGGREGATE, "tonnes": 2.0},
        {"from": "G", "to": "D", "material": SLUDGE, "tonnes": 0.1},
        {"from": "G", "to": "R", "material": SLAG, "tonnes": 0.79},
        {"from": "G", "to": "R", "material": "steam", "tonnes": 27.0},
    ]


def test_share_of_generated_waste_reused_or_recycled(result):
    reuse = result["reuse"]
    # 2 t generated: 0.79 t recovered (R), 0.1 t disposed (D), 1 t still held, 0.11 t otherwise.
    assert reuse["generated_tonnes"] == 2.0
    assert (reuse["reused_recycled_tonnes"], reuse["disposed_tonnes"], reuse["held_tonnes"]) == (
        0.79,
        0.1,
        1.0,
    )
    assert reuse["other_tonnes"] == 0.11
    assert reuse["share_reused_recycled"] == 0.395
    # Litres without a declared density are not guessed into tonnes.
    assert reuse["generated_unconverted"] == {"EU-LOW 13 02 05 (LTR)": 500}


def test_co2_avoided_uses_each_factor_with_its_source(result):
    co2 = result["co2_avoided"]
    # slag 0.79 t × 520 = 410.8 kg; steam 27 t × 175 = 4,725 kg
    assert co2["kg"] == 5135.8
    by_factor = {f["factor"]: f for f in co2["by_factor"]}
    assert (by_factor["slag"]["tonnes"], by_factor["slag"]["kg_co2"]) == (0.79, 410.8)
    assert (by_factor["steam"]["tonnes"], by_factor["steam"]["kg_co2"]) == (27.0, 4725.0)
    assert by_factor["slag"]["source"] == "IPCC 2006 Vol. 3 Ch. 2" and by_factor["steam"]["confidence"] == "U"
    assert co2["without_factor"] == [
        {"material": SLUDGE, "tonnes": 0.1},
        {"material": AGGREGATE, "tonnes": 2.0},
    ]
    assert result["metered_unconverted"] == [{"medium": "steam", "unit": "MWH", "quantity": 5}]


def test_water_reused_adds_effluent_transfers_and_metered_water(result):
    assert result["water_reused"]["m3"] == 70.0
    assert {s["source"]: s["m3"] for s in result["water_reused"]["sources"]} == {
        "transfer x7": 30.0,
        "flow ww-1": 40.0,
    }


def test_monthly_series_for_charts(result):
    assert result["series"] == [
        {
            "month": "2026-01",
            "transfers": 3,
            "tonnes": 0.89,
            "metered_tonnes": 0,
            "co2_avoided_kg": 410.8,
            "water_m3": 0,
        },
        {
            "month": "2026-02",
            "transfers": 2,
            "tonnes": 2.0,
            "metered_tonnes": 27.0,
            "co2_avoided_kg": 4725.0,
            "water_m3": 70.0,
        },
    ]


def test_records_fed_a_page_at_a_time_give_the_same_kpis(result):
    tally = Tally(factors_from_data(FACTORS))
    for start in range(0, len(EXCHANGES), 3):
        for x in EXCHANGES[start : start + 3]:
            tally.add_exchange(x)
    for lot in GENERATED:
        tally.add_generated(lot)
    for q in reversed(METERED):
        tally.add_metered(q)
    assert tally.result() == result


def test_a_deployment_overrides_a_factor_and_the_answer_says_so():
    overridden = kpis(factors_from_data(FACTORS, {"steam": 200}), metered=METERED[:2])
    (steam,) = overridden["co2_avoided"]["by_factor"]
    assert (steam["value"], steam["overridden"], steam["kg_co2"]) == (200, True, 5400.0)
    with pytest.raises(FactorError, match="names no factor: stean"):
        factors_from_data(FACTORS, {"stean": 1})
    with pytest.raises(FactorError, match="'steam': value must be a whole number"):
        factors_from_data(FACTORS, {"steam": 1.5})


def test_nothing_generated_has_no_share():
    assert kpis(factors_from_data(FACTORS))["reuse"]["share_reused_recycled"] is None


def test_the_shipped_factors_file_cites_every_factor():
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).parents[2] / "compliance" / "factors" / "kpi-factors.json").read_text())
    loaded = factors_from_data(data)
    assert loaded.factors and all(f.source and f.confidence for f in loaded.factors)
