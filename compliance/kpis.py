"""Eco-industrial-park KPIs (rule catalogue VN-EIP-01, VN-EIP-04; docs/kpis.md) over a park's or a firm's
records of a period: tonnes exchanged per material, the share of generated waste reused or recycled, the
symbiosis links, CO2 avoided and water reused.

Pure: records in, numbers out, with what each number rests on (the transfers, lots, flows and factors it
counts). The caller reads the records (ledger_service.kpis) and may feed them a page at a time: a `Tally`
keeps totals and the pairs of parties, never the records themselves.

Masses are counted in integer grams, as the ledger's mass balances are; a unit converts to grams only where
the ledger itself fixes the conversion (KGM, TNE) or a processor declared a density for that lot (LTR,
MTQ). What does not convert is reported in its own unit, never guessed. Emission factors are data
(compliance/factors/*.json), each with its source and confidence tag.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from compliance.packs import CONFIDENCE_TAGS
from compliance.verdicts import Verdict

# Grams per unit where the unit fixes it (as ledger_service.api.routes.processing converts inputs).
GRAMS_PER_UNIT = {"KGM": 1_000, "TNE": 1_000_000}
LITRES_PER_UNIT = {"MTQ": 1_000, "LTR": 1}  # water is counted in m3: 1,000 litres each
GRAMS_PER_TONNE = 1_000_000
# A transfer counts for a KPI when verification finds nothing against it: the verdicts that export as
# failing (FAIL, INCONCLUSIVE) do not count (VN-EIP-01: "a non-compliant transfer must not be counted").
COUNTED = (Verdict.PASS, Verdict.WARN, Verdict.NOT_APPLICABLE)


class FactorError(ValueError):
    """A factors file or an override is malformed: the message names the factor and field."""


@dataclass(frozen=True)
class Factor:
    """kg CO2 avoided per tonne of a material (its `SCHEME CODE`) or a metered medium."""

    name: str
    applies_to: tuple[str, ...]
    value: int  # kg CO2 per tonne: an integer, as every number from outside the ledger is
    unit: str
    source: str
    confidence: str
    overridden: bool = False


@dataclass(frozen=True)
class Factors:
    id: str
    version: str
    factors: tuple[Factor, ...]
    water_media: tuple[str, ...]
    water_materials: tuple[str, ...]

    def for_material(self, key: str) -> Factor | None:
        return next((f for f in self.factors if key in f.applies_to), None)

    def is_water(self, key: str) -> bool:
        return key.casefold() in {m.casefold() for m in (*self.water_media, *self.water_materials)}


def factors_from_data(data: dict[str, Any], overrides: dict[str, int] | None = None) -> Factors:
    """The factors of a factors file's JSON, with a deployment's values (by factor name) in place of the
    file's; an override names a factor the file has."""
    given = dict(overrides or {})
    overrides = dict(given)
    factors = []
    for i, f in enumerate(data.get("factors", [])):
        where = f"factor {f.get('name', i)!r}"
        for key in ("name", "applies_to", "value", "unit", "source", "confidence"):
            if key not in f:
                raise FactorError(f"{where}: {key} is missing")
        if f["confidence"] not in CONFIDENCE_TAGS:
            raise FactorError(f"{where}: confidence must be one of {CONFIDENCE_TAGS}")
        value = overrides.pop(f["name"], f["value"])
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise FactorError(f"{where}: value must be a whole number of {f['unit']}, got {value!r}")
        factors.append(
            Factor(
                f["name"],
                tuple(f["applies_to"]),
                value,
                f["unit"],
                f["source"],
                f["confidence"],
                overridden=f["name"] in given,
            )
        )
    if overrides:
        raise FactorError(f"override names no factor: {', '.join(sorted(overrides))}")
    water = data.get("water", {})
    return Factors(
        data.get("id", "factors"),
        str(data.get("version", "")),
        tuple(factors),
        tuple(water.get("media", ())),
        tuple(water.get("materials", ())),
    )


# --- the records a KPI counts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """A transfer between firms as the KPIs count it."""

    id: str
    shipper: str
    receiver: str
    material: str  # "SCHEME CODE"
    description: str
    unit: str
    accepted: int | None  # what the receiver took (received less refused); None while not received
    operation: str  # R1-R13 or D1-D15
    dispatched_at: datetime
    verdict: Verdict
    failed_rules: tuple[str, ...] = ()
    from_generated_lot: bool = False  # shipped from a lot its shipper generated in the period
    return_of: str | None = None  # a return of refused material is no exchange
    grams_per_unit: int | None = None  # a density a processor declared for the received lot


@dataclass(frozen=True)
class GeneratedLot:
    """A lot a firm of the scope generated in the period, and what of it it still holds."""

    id: str
    holder: str
    material: str
    unit: str
    quantity: int
    balance: int


@dataclass(frozen=True)
class MeteredQuantity:
    """A metered period's total of a piped flow."""

    flow_id: str
    supplier: str
    offtaker: str
    medium: str
    unit: str
    quantity: int
    at: datetime  # when the period was anchored


def grams(quantity: int, unit: str, grams_per_unit: int | None = None) -> int | None:
    per_unit = GRAMS_PER_UNIT.get(unit, grams_per_unit if unit in LITRES_PER_UNIT else None)
    return None if per_unit is None else quantity * per_unit


def _tonnes(g: int | Fraction) -> float:
    return round(float(Fraction(g) / GRAMS_PER_TONNE), 6)


def _month(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


@dataclass
class _Material:
    material: str
    description: str
    unit: str
    transfers: int = 0
    quantity: int = 0  # accepted, in the code's unit, counted transfers only
    grams: int = 0
    unconverted: int = 0  # counted quantity with no mass conversion, in `unit`
    not_counted_transfers: int = 0
    not_counted_quantity: int = 0


@dataclass
class Tally:
    """KPIs accumulated over records fed in any order and in any number of batches."""

    factors: Factors
    materials: dict[tuple[str, str], _Material] = field(default_factory=dict)
    links: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    not_counted: list[dict[str, Any]] = field(default_factory=list)
    in_transit: int = 0
    generated_g: int = 0
    held_g: int = 0
    recovered_g: int = 0
    disposed_g: int = 0
    generated_unconverted: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    co2_basis_g: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    without_factor_g: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    water_litres: int = 0
    water_sources: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    monthly: dict[str, dict[str, Fraction]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Fraction))
    )
    flows_unconverted: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    # Tonnes from whom to whom of what (counted transfers and metered periods with a mass): the Sankey's.
    flows_g: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))

    def add_exchange(self, x: Exchange) -> None:
        if x.return_of is not None:
            return
        if x.accepted is None:
            self.in_transit += 1
            return
        entry = self.materials.setdefault((x.material, x.unit), _Material(x.material, x.description, x.unit))
        if x.verdict not in COUNTED:
            entry.not_counted_transfers += 1
            entry.not_counted_quantity += x.accepted
            self.not_counted.append(
                {"transfer_id": x.id, "verdict": x.verdict.value, "failed_rules": list(x.failed_rules)}
            )
            return
        self.links[(x.shipper, x.receiver)] += 1
        entry.transfers += 1
        entry.quantity += x.accepted
        month = self.monthly[_month(x.dispatched_at)]
        month["transfers"] += 1
        mass = grams(x.accepted, x.unit, x.grams_per_unit)
        if mass is None:
            entry.unconverted += x.accepted
        else:
            entry.grams += mass
            month["grams"] += mass
            self.flows_g[(x.shipper, x.receiver, x.material)] += mass
            if x.from_generated_lot:
                if x.operation.startswith("R"):
                    self.recovered_g += mass
                else:
                    self.disposed_g += mass
            self._co2(x.material, mass, month)
        if self.factors.is_water(x.material) and x.unit in LITRES_PER_UNIT:
            litres = x.accepted * LITRES_PER_UNIT[x.unit]
            self.water_litres += litres
            self.water_sources[f"transfer {x.id}"] += litres
            month["water_litres"] += litres

    def add_generated(self, lot: GeneratedLot) -> None:
        total, held = grams(lot.quantity, lot.unit), grams(lot.balance, lot.unit)
        if total is None or held is None:
            self.generated_unconverted[f"{lot.material} ({lot.unit})"] += lot.quantity
            return
        self.generated_g += total
        self.held_g += held

    def add_metered(self, q: MeteredQuantity) -> None:
        month = self.monthly[_month(q.at)]
        if self.factors.is_water(q.medium) and q.unit in LITRES_PER_UNIT:
            litres = q.quantity * LITRES_PER_UNIT[q.unit]
            self.water_litres += litres
            self.water_sources[f"flow {q.flow_id}"] += litres
            month["water_litres"] += litres
            return
        mass = grams(q.quantity, q.unit)
        if mass is None:
            self.flows_unconverted[(q.medium, q.unit)] += q.quantity
            return
        month["metered_grams"] += mass
        self.flows_g[(q.supplier, q.offtaker, q.medium)] += mass
        self._co2(q.medium, mass, month)

    def _co2(self, key: str, mass: int, month: dict[str, Fraction]) -> None:
        factor = self.factors.for_material(key)
        if factor is None:
            self.without_factor_g[key] += mass
            return
        self.co2_basis_g[factor.name] += mass
        month["co2_kg"] += Fraction(mass * factor.value, GRAMS_PER_TONNE)

    # --- the answer -------------------------------------------------------------------------------------

    def result(self) -> dict[str, Any]:
        counted_g = sum(m.grams for m in self.materials.values())
        by_factor = {f.name: f for f in self.factors.factors}
        co2: list[dict[str, Any]] = [
            {
                "factor": name,
                "applies_to": list(by_factor[name].applies_to),
                "value": by_factor[name].value,
                "unit": by_factor[name].unit,
                "source": by_factor[name].source,
                "confidence": by_factor[name].confidence,
                "overridden": by_factor[name].overridden,
                "tonnes": _tonnes(g),
                "kg_co2": round(float(Fraction(g * by_factor[name].value, GRAMS_PER_TONNE)), 3),
            }
            for name, g in sorted(self.co2_basis_g.items())
        ]
        accounted = self.recovered_g + self.disposed_g + self.held_g
        share = None if not self.generated_g else round(self.recovered_g / self.generated_g, 6)
        return {
            "tonnes_exchanged": _tonnes(counted_g),
            "materials": [
                {
                    "material": m.material,
                    "description": m.description,
                    "unit": m.unit,
                    "transfers": m.transfers,
                    "quantity": m.quantity,
                    "tonnes": _tonnes(m.grams),
                    "unconverted_quantity": m.unconverted,
                    "not_counted_transfers": m.not_counted_transfers,
                    "not_counted_quantity": m.not_counted_quantity,
                }
                for m in sorted(self.materials.values(), key=lambda m: (-m.grams, m.material, m.unit))
            ],
            "reuse": {
                "generated_tonnes": _tonnes(self.generated_g),
                "reused_recycled_tonnes": _tonnes(self.recovered_g),
                "disposed_tonnes": _tonnes(self.disposed_g),
                "held_tonnes": _tonnes(self.held_g),
                # shipped but not counted: in transit, refused, or failing verification
                "other_tonnes": _tonnes(max(0, self.generated_g - accounted)),
                "share_reused_recycled": share,
                "generated_unconverted": dict(sorted(self.generated_unconverted.items())),
            },
            "links": {
                "count": len(self.links),
                "pairs": [
                    {"shipper": s, "receiver": r, "transfers": n} for (s, r), n in sorted(self.links.items())
                ],
                "not_counted": self.not_counted,
                "in_transit": self.in_transit,
            },
            "co2_avoided": {
                "kg": round(sum(c["kg_co2"] for c in co2), 3),
                "by_factor": co2,
                "without_factor": [
                    {"material": k, "tonnes": _tonnes(g)} for k, g in sorted(self.without_factor_g.items())
                ],
                "factors": f"{self.factors.id} {self.factors.version}",
            },
            "water_reused": {
                "m3": round(self.water_litres / 1000, 3),
                "sources": [
                    {"source": k, "m3": round(v / 1000, 3)} for k, v in sorted(self.water_sources.items())
                ],
            },
            "flows": [
                {"from": a, "to": b, "material": material, "tonnes": _tonnes(g)}
                for (a, b, material), g in sorted(self.flows_g.items())
            ],
            "metered_unconverted": [
                {"medium": medium, "unit": unit, "quantity": q}
                for (medium, unit), q in sorted(self.flows_unconverted.items())
            ],
            "series": [
                {
                    "month": month,
                    "transfers": int(v["transfers"]),
                    "tonnes": _tonnes(v["grams"]),
                    "metered_tonnes": _tonnes(v["metered_grams"]),
                    "co2_avoided_kg": round(float(v["co2_kg"]), 3),
                    "water_m3": round(float(v["water_litres"]) / 1000, 3),
                }
                for month, v in sorted(self.monthly.items())
            ],
        }


def kpis(
    factors: Factors,
    exchanges: Iterable[Exchange] = (),
    generated: Iterable[GeneratedLot] = (),
    metered: Iterable[MeteredQuantity] = (),
) -> dict[str, Any]:
    """The KPIs of these records, each iterable read once."""
    tally = Tally(factors)
    for x in exchanges:
        tally.add_exchange(x)
    for lot in generated:
        tally.add_generated(lot)
    for q in metered:
        tally.add_metered(q)
    return tally.result()
