"""Gas used by the processing module (contracts/processing/Processing.sol), checked against the committed
snapshots/gas.json under "Processing.*" (the rules of the snapshot, and how to rewrite it, are in gas_snapshot.py).

No budget is set for processing: it runs once per batch a plant processes, not per shipment.
"""

import json

import pytest
from brownie import SymbiosisLedger, accounts
from gas_snapshot import FAR_DEADLINE, SNAPSHOT, fixed_party
from processing_statements import AGGREGATE, GRAMS_PER_KILOGRAM, OutputKind, lot_input, output, output_lot_id
from typed_statements import RECEIVER, SHIPPED, SHIPPER, SLAG, SLAG_OPERATIONS, code_key

# Deterministic stand-ins for conftest's random parties (same names, so conftest's fixtures use them).


@pytest.fixture(scope="module")
def regulator():
    return fixed_party("regulator")


@pytest.fixture(scope="module")
def shipper(register):
    party = fixed_party("shipper")
    register(party, SHIPPER, nonce=1, deadline=FAR_DEADLINE)
    return party


@pytest.fixture(scope="module")
def processor(register):
    party = fixed_party("processor")
    register(party, RECEIVER, nonce=2, deadline=FAR_DEADLINE)
    return party


@pytest.fixture(scope="module")
def symbiosis_ledger(module_isolation, regulator):
    # Deployed by an account nothing else uses, so its address (and the module's, created by it) is fixed.
    return SymbiosisLedger.deploy(regulator.address, "Environmental Agency", {"from": accounts[2]})


@pytest.fixture(scope="module")
def measured(
    ledger,
    processing,
    relayer,
    shipper,
    processor,
    register_waste_code,
    register_permit,
    signed_lot,
    signed_dispatch,
    signed_receipt,
    signed_processing,
    signed_use,
):
    """A slag processor's usual batch: two received lots, part of each, into a product and a residue; then two
    declarations of use of the product (the second measured: the holder's nonce word is in use already)."""
    slag, aggregate = code_key(*SLAG[:2]), code_key(*AGGREGATE[:2])
    register_waste_code(*SLAG, nonce=3, deadline=FAR_DEADLINE)
    register_waste_code(*AGGREGATE, nonce=4, deadline=FAR_DEADLINE)
    permit = register_permit(
        processor,
        [(slag, SLAG_OPERATIONS)],
        permitNumber="GP-000321/BTNMT",
        validFrom=1_735_689_600,  # 2025-01-01
        validUntil=1_893_456_000,  # 2030-01-01
        nonce=5,
        deadline=FAR_DEADLINE,
    )
    lot = signed_lot(shipper, nonce=1, deadline=FAR_DEADLINE)
    ledger.registerLot(*lot.args, {"from": relayer})
    received = []
    for nonce in (2, 3):
        d = signed_dispatch(shipper, processor, lot.digest, permit, nonce=nonce, deadline=FAR_DEADLINE)
        ledger.dispatch(*d.args, {"from": relayer})
        ledger.confirmReceipt(
            *signed_receipt(d.digest, processor, deadline=FAR_DEADLINE).args, {"from": relayer}
        )
        received.append(d.digest)

    statement = signed_processing(
        processor,
        [lot_input(received[0], slag, 10_000), lot_input(received[1], slag, 10_000)],
        [output(OutputKind.PRODUCT, aggregate, 18_000), output(OutputKind.RESIDUE, slag, 1_500)],
        lossGrams=500 * GRAMS_PER_KILOGRAM,
        lossDescription="moisture",
        nonce=1,
        deadline=FAR_DEADLINE,
    )
    process = processing.process(*statement.args, {"from": relayer})
    product = output_lot_id(statement.digest, 0)
    uses = [
        processing.declareUse(
            *signed_use(processor, product, 4_000, nonce=nonce, deadline=FAR_DEADLINE).args, {"from": relayer}
        )
        for nonce in (1, 2)
    ]
    assert [ledger.lot(r)[1] for r in received] == [SHIPPED - 10_000] * 2
    assert ledger.lot(product)[1] == 18_000 - 8_000
    return {"Processing.process": process, "Processing.declareUse": uses[1]}


@pytest.mark.parametrize("operation", ["Processing.process", "Processing.declareUse"])
def test_processing_gas(measured, gas_snapshot, operation):
    gas_snapshot(operation, measured[operation])


def test_snapshot_holds_only_measured_operations():
    # An operation that no longer exists must leave the snapshot (UPDATE merges, so it never drops one).
    recorded = {op for op in json.loads(SNAPSHOT.read_text()) if op.startswith("Processing.")}
    assert recorded == {"Processing.process", "Processing.declareUse"}
