"""Property test of processing and final use (hypothesis through brownie's `given`; in a module of its own for
the reason test_properties.py gives: the setup is module-scoped, set up once before any example's snapshot).

Random sequences of processings and declarations of use, legal or not, by one firm (SHIPPER | RECEIVER, so it
can generate its own input lots): every balance stays >= 0 and equals a plain model's, every refusal is the one
the model expects, and in every lineage (lots linked by processing) what is held, used and lost never exceeds
what was generated plus external inputs.
"""

import pytest
from brownie.test import given
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from processing_statements import (
    AGGREGATE,
    GRAMS_PER_KILOGRAM,
    OutputKind,
    external_input,
    lot_input,
    output,
    output_lot_id,
)
from typed_statements import RECEIVER, SHIPPER, SLAG, CatalogueCode, code_key, new_party, plain, reverts

EXAMPLES = settings(
    max_examples=30,
    deadline=None,
    # data_too_large: hypothesis 6.27 (brownie's) now and then overruns its example buffer (test_properties.py).
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
KG = GRAMS_PER_KILOGRAM
GENERATED = (5_000, 3_000)  # kg of slag in the firm's two generated lots


@pytest.fixture(scope="module")
def slag(register_waste_code):
    tx = register_waste_code(*SLAG)
    return CatalogueCode(code_key(*SLAG[:2]), tx.events["WasteCodeRegistered"]["id"])


@pytest.fixture(scope="module")
def aggregate(slag, register_waste_code):
    tx = register_waste_code(*AGGREGATE)
    return CatalogueCode(code_key(*AGGREGATE[:2]), tx.events["WasteCodeRegistered"]["id"])


@pytest.fixture(scope="module")
def firm(register):
    party = new_party()
    register(party, SHIPPER | RECEIVER)
    return party


@pytest.fixture(scope="module")
def generated(firm, slag, register_lot):
    return [register_lot(firm, quantity=quantity) for quantity in GENERATED]


# Mostly parts that fit (so that processings and uses get recorded), sometimes more than a lot holds.
part = st.one_of(st.integers(1, 2_000), st.integers(1, 6_000))
processing_step = st.fixed_dictionaries(
    {
        "inputs": st.lists(st.tuples(st.integers(0, 50), part), min_size=1, max_size=2),
        "outputs": st.lists(
            st.tuples(
                st.sampled_from(list(OutputKind)[1:]),
                st.sampled_from(["slag", "aggregate"]),
                st.integers(1, 2_000),
            ),
            min_size=1,
            max_size=2,
        ),
        "loss": st.integers(0, 500 * KG),
        "external": st.one_of(st.just(0), st.integers(1, 3_000 * KG)),
    }
)
# Counted from the latest lot back: mostly the outputs of the latest processings.
use_step = st.tuples(st.integers(0, 3), part)
steps = st.lists(st.one_of(processing_step, use_step), min_size=2, max_size=8)


class Lineages:
    """Union-find over lot ids: lots linked by a processing share a lineage."""

    def __init__(self):
        self.parent = {}

    def find(self, lot):
        self.parent.setdefault(lot, lot)
        while self.parent[lot] != lot:
            lot = self.parent[lot]
        return lot

    def join(self, a, b):
        self.parent[self.find(a)] = self.find(b)


@EXAMPLES
@given(sequence=steps)
def test_processing_and_use_keep_every_lineage_in_balance(
    ledger, processing, relayer, firm, slag, aggregate, generated, signed_processing, signed_use, sequence
):
    codes = {"slag": slag, "aggregate": aggregate}
    # The model: every lot's balance (kg), kind and code.
    lots = {
        lot: [quantity, OutputKind.NONE, slag] for lot, quantity in zip(generated, GENERATED, strict=True)
    }
    lineages = Lineages()
    generated_grams = {lot: quantity * KG for lot, quantity in zip(generated, GENERATED, strict=True)}
    external_grams, lost_grams, used_grams = {}, {}, {}  # keyed by a lot of the lineage they belong to

    for step in sequence:
        ids = list(lots)
        if isinstance(step, dict):
            inputs = [(ids[i % len(ids)], q) for i, q in step["inputs"]]
            outputs = [(kind, codes[code], q) for kind, code, q in step["outputs"]]
            external = [external_input("sand", step["external"])] if step["external"] else []
            statement = signed_processing(
                firm,
                [lot_input(lot, lots[lot][2].key, q) for lot, q in inputs],
                [output(kind, code.key, q) for kind, code, q in outputs],
                external=external,
                lossGrams=step["loss"],
            )
            # What the contract must answer: the first input the lot cannot cover, else the mass balance.
            left = {lot: lots[lot][0] for lot, _ in inputs}
            expected = None
            for lot, q in inputs:
                if left[lot] < q:
                    expected = ("InsufficientLotBalance", lot, left[lot], q)
                    break
                left[lot] -= q
            available = sum(q for _, q in inputs) * KG + step["external"]
            spent = sum(q for _, _, q in outputs) * KG + step["loss"]
            if expected is None and spent > available:
                expected = ("MassBalanceExceeded", spent, available)
            if expected:
                event(f"processing refused: {expected[0]}")
                with reverts(*expected):
                    processing.process(*statement.args, {"from": relayer})
                continue
            event("processing recorded")
            processing.process(*statement.args, {"from": relayer})
            for lot, q in inputs:
                lots[lot][0] -= q
            for index, (kind, code, q) in enumerate(outputs):
                lot = output_lot_id(statement.digest, index)
                lots[lot] = [q, kind, code]
                lineages.join(lot, inputs[0][0])
            for lot, _ in inputs[1:]:
                lineages.join(lot, inputs[0][0])
            root = inputs[0][0]
            external_grams[root] = external_grams.get(root, 0) + step["external"]
            lost_grams[root] = lost_grams.get(root, 0) + step["loss"]
        else:
            lot, q = ids[-1 - step[0] % len(ids)], step[1]
            balance, kind, _ = lots[lot]
            statement = signed_use(firm, lot, q)
            if kind not in (OutputKind.PRODUCT, OutputKind.BY_PRODUCT):
                event("use refused: NotUsable")
                with reverts("NotUsable", lot, kind):
                    processing.declareUse(*statement.args, {"from": relayer})
            elif balance < q:
                event("use refused: InsufficientLotBalance")
                with reverts("InsufficientLotBalance", lot, balance, q):
                    processing.declareUse(*statement.args, {"from": relayer})
            else:
                event("use recorded")
                processing.declareUse(*statement.args, {"from": relayer})
                lots[lot][0] -= q
                used_grams[lot] = used_grams.get(lot, 0) + q * KG

        # No balance below zero, and the ledger holds exactly what the model says.
        for lot, (balance, kind, code) in lots.items():
            assert balance >= 0
            assert plain(ledger.lot(lot)) == (firm.address, balance, code.id)
            assert processing.outputKind(lot) == kind

    # Per lineage: held + used + lost <= generated + external (the difference is what processing declared
    # neither as output nor as loss).
    totals = {}
    for lot, (balance, _, _) in lots.items():
        t = totals.setdefault(lineages.find(lot), [0, 0])
        t[0] += balance * KG + used_grams.get(lot, 0) + lost_grams.get(lot, 0)
        t[1] += generated_grams.get(lot, 0) + external_grams.get(lot, 0)
    for held_used_lost, generated_and_external in totals.values():
        assert held_used_lost <= generated_and_external
