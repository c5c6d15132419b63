"""Gas used by the processing module (contracts/processing/Processing.sol), checked against the committed
snapshots/gas.json under "Processing.*" (the rules of the snapshot, and how to rewrite it, are in gas_snapshot.py).

Compared in the same run with contracts/baseline/NaiveProcessing.sol, the same module written the common naive
way (the processing stored in full with strings and arrays, each output lot and each use a struct of its own,
sequential nonces in storage), through the same statements signed by the same keys; its input lots are those
of contracts/baseline/NaiveTransferLedger.sol, as the module's are SymbiosisLedger's, and both consult
SymbiosisLedger as participant registry and code catalogue. Its figures are recorded as "NaiveProcessing.*".
The issue's target: a baseline/ours ratio of at least 2.5. No budget is set for processing: it runs once per
batch a plant processes, not per shipment.
"""

import json

import pytest
from brownie import NaiveProcessing, NaiveTransferLedger, SymbiosisLedger, accounts
from gas_snapshot import FAR_DEADLINE, SNAPSHOT, fixed_party
from processing_statements import (
    AGGREGATE,
    GRAMS_PER_KILOGRAM,
    PROCESSING_RECORD,
    USE_DOCUMENT,
    OutputKind,
    lot_input,
    output,
    output_lot_id,
)
from typed_statements import (
    DOCUMENT_HASH,
    GENERATION_RECORD,
    LOT_QUANTITY,
    RECEIVER,
    SHIPPED,
    SHIPPER,
    SLAG,
    SLAG_OPERATIONS,
    code_key,
    plain,
    sign,
)

TARGET_RATIO = 2.5
# What is measured, for ours and the baseline alike.
OPERATIONS = {
    "process": (
        "a slag processor's usual batch: 10,000 kg of each of two received lots into 18,000 kg of aggregate "
        "(a product) and 1,500 kg of slag (a residue), 500 kg lost as moisture"
    ),
    "declareUse": "the second declaration of use of 4,000 kg of the product (the holder's nonces already in use)",
}
USE = "road base course, National Road 10"
LOSS_GRAMS = 500 * GRAMS_PER_KILOGRAM

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


# Each deployed by an account nothing else in this module uses, so its address (and that of the module the
# ledger creates), hence the domain, the signatures and their calldata cost, is the same in every run.


@pytest.fixture(scope="module")
def symbiosis_ledger(module_isolation, regulator):
    return SymbiosisLedger.deploy(regulator.address, "Environmental Agency", {"from": accounts[2]})


@pytest.fixture(scope="module")
def naive_ledger(symbiosis_ledger):
    # SymbiosisLedger implements both registry interfaces the baseline consults.
    return NaiveTransferLedger.deploy(symbiosis_ledger, symbiosis_ledger, {"from": accounts[3]})


@pytest.fixture(scope="module")
def naive_processing(naive_ledger, symbiosis_ledger):
    module = NaiveProcessing.deploy(naive_ledger, symbiosis_ledger, symbiosis_ledger, {"from": accounts[4]})
    naive_ledger.setProcessingModule(module, {"from": accounts[3]})
    return module


def _statements(slag, aggregate, received):
    """The processing's inputs and outputs, from the two received lots."""
    inputs = [lot_input(received[0], slag, 10_000), lot_input(received[1], slag, 10_000)]
    outputs = [output(OutputKind.PRODUCT, aggregate, 18_000), output(OutputKind.RESIDUE, slag, 1_500)]
    return inputs, outputs


def _naive_flow(naive_ledger, naive_processing, relayer, shipper, processor, permit, slag, aggregate):
    """The same job through the baseline: a lot, two dispatches of it to the processor and their receipts, the
    processing, two uses. Sequential nonces from 0 per signer, as the baseline requires.

    Returns (the processing and the second use, the roles of the flow's ids)."""

    def send(fn, signer, contract, primary_type, message):
        statement = sign(signer, contract, primary_type, message)
        return statement.digest, fn(*statement.args, {"from": relayer})

    lot = {
        "generator": shipper.address,
        "wasteScheme": SLAG[0],
        "wasteCode": SLAG[1],
        "quantity": LOT_QUANTITY,
        "unit": SLAG[2],
        "documentHash": GENERATION_RECORD,
        "nonce": 0,
        "deadline": FAR_DEADLINE,
    }
    lot_id, _ = send(naive_ledger.registerLot, shipper, naive_ledger, "RegisterLot", lot)
    received = []
    for nonce in (1, 2):
        dispatch = {
            "shipper": shipper.address,
            "receiver": processor.address,
            "lotId": lot_id,
            "quantity": SHIPPED,
            "operation": "R5",
            "permitId": bytes(permit),
            "certificates": [],
            "transporters": [],
            "licences": [],
            "documentHash": DOCUMENT_HASH,
            "nonce": nonce,
            "deadline": FAR_DEADLINE,
        }
        transfer_id, _ = send(naive_ledger.dispatch, shipper, naive_ledger, "Dispatch", dispatch)
        receipt = {
            "transferId": transfer_id,
            "receiver": processor.address,
            "receivedQuantity": SHIPPED,
            "deadline": FAR_DEADLINE,
        }
        send(naive_ledger.confirmReceipt, processor, naive_ledger, "Receipt", receipt)
        received.append(transfer_id)

    inputs, outputs = _statements(slag, aggregate, received)
    record = {
        "processor": processor.address,
        "inputs": inputs,
        "externalInputs": [],
        "outputs": outputs,
        "lossGrams": LOSS_GRAMS,
        "lossDescription": "moisture",
        "documentHash": PROCESSING_RECORD,
        "nonce": 0,
        "deadline": FAR_DEADLINE,
    }
    processing_id, process = send(
        naive_processing.process, processor, naive_processing, "RecordProcessing", record
    )
    product = output_lot_id(processing_id, 0)
    uses = []
    for nonce in (1, 2):
        use = {
            "holder": processor.address,
            "lotId": product,
            "quantity": 4_000,
            "use": USE,
            "documentHash": USE_DOCUMENT,
            "nonce": nonce,
            "deadline": FAR_DEADLINE,
        }
        uses.append(send(naive_processing.declareUse, processor, naive_processing, "DeclareUse", use))
    use_id, use = uses[1]
    return {"process": process, "declareUse": use}, _roles(processing_id, received, use_id)


def _named_events(txs, names):
    """Each measured transaction's events as (name, arguments), every id in `names` replaced by its role:
    ids are digests under each contract's own domain, so only their roles can be compared."""

    def named(value):
        if isinstance(value, tuple):
            return tuple(named(v) for v in value)
        return names.get(value, value) if isinstance(value, bytes) else value

    return {
        op: tuple((e.name, {k: named(v) for k, v in plain(dict(e)).items()}) for e in txs[op].events)
        for op in OPERATIONS
    }


@pytest.fixture(scope="module")
def measured(
    ledger,
    processing,
    naive_ledger,
    naive_processing,
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
    declarations of use of the product (the second measured: the holder's nonce word is in use already);
    through ours, then the baseline.

    Returns ({operation: (ours, baseline) transactions}, what each recorded)."""
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
        *_statements(slag, aggregate, received),
        lossGrams=LOSS_GRAMS,
        lossDescription="moisture",
        nonce=1,
        deadline=FAR_DEADLINE,
    )
    process = processing.process(*statement.args, {"from": relayer})
    product = output_lot_id(statement.digest, 0)
    uses = [signed_use(processor, product, 4_000, nonce=nonce, deadline=FAR_DEADLINE) for nonce in (1, 2)]
    use_txs = [processing.declareUse(*use.args, {"from": relayer}) for use in uses]
    ours = {"process": process, "declareUse": use_txs[1]}
    names = _roles(statement.digest, received, uses[1].digest)
    recorded = {
        "ours": (
            tuple(plain(ledger.lot(r))[1] for r in received),
            tuple(plain(ledger.lot(output_lot_id(statement.digest, i)))[:2] for i in (0, 1)),
            tuple(processing.outputKind(output_lot_id(statement.digest, i)) for i in (0, 1)),
            _named_events(ours, names),
        )
    }

    baseline, names = _naive_flow(
        naive_ledger, naive_processing, relayer, shipper, processor, permit, slag, aggregate
    )
    role = {name: id_ for id_, name in names.items()}
    outputs = [plain(naive_processing.outputLots(role[kind])) for kind in ("product", "residue")]
    recorded["baseline"] = (
        tuple(plain(naive_ledger.lots(role[f"input {i}"]))[7] for i in (0, 1)),  # balance
        tuple((lot[3], lot[9]) for lot in outputs),  # holder, balance
        tuple(lot[4] for lot in outputs),  # kind
        _named_events(baseline, names),
    )
    return {op: (ours[op], baseline[op]) for op in OPERATIONS}, recorded


def _roles(processing_id, received, use_id):
    """{id: its role in the flow}: the processing, its output lots, the received (input) lots, the measured use."""
    return {
        bytes(use_id): "use",
        bytes(processing_id): "processing",
        bytes(output_lot_id(processing_id, 0)): "product",
        bytes(output_lot_id(processing_id, 1)): "residue",
        **{bytes(r): f"input {i}" for i, r in enumerate(received)},
    }


@pytest.mark.parametrize("operation", OPERATIONS)
def test_processing_gas(measured, gas_snapshot, operation):
    gas, _ = measured
    ours, baseline = gas[operation]
    gas_snapshot(f"Processing.{operation}", ours)
    gas_snapshot(f"NaiveProcessing.{operation}", baseline)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_against_naive_baseline(measured, operation):
    gas, _ = measured
    ours, baseline = (tx.gas_used for tx in gas[operation])
    assert baseline / ours >= TARGET_RATIO, f"{operation}: ours {ours}, baseline {baseline}"


def test_baseline_does_the_same_job(measured, processor):
    # The same input balances left, the same output lots (holder, balance after the uses, kind), the same
    # events (processing record with its grams, output lots, uses) argument for argument: a comparison of equals.
    _, recorded = measured
    ours, baseline = recorded["ours"], recorded["baseline"]
    assert (
        ours[:3]
        == baseline[:3]
        == (
            (SHIPPED - 10_000,) * 2,
            ((processor.address, 18_000 - 8_000), (processor.address, 1_500)),
            (OutputKind.PRODUCT, OutputKind.RESIDUE),
        )
    )
    assert ours[3] == baseline[3]
    events = ours[3]
    assert [name for name, _ in events["process"]] == [
        "OutputLotOpened",
        "OutputLotOpened",
        "ProcessingRecorded",
    ]
    recorded_args = events["process"][2][1]
    assert (recorded_args["inputGrams"], recorded_args["outputGrams"], recorded_args["lossGrams"]) == (
        20_000 * GRAMS_PER_KILOGRAM,
        19_500 * GRAMS_PER_KILOGRAM,
        LOSS_GRAMS,
    )
    assert [
        (name, args["lotId"], args["useId"], args["quantity"]) for name, args in events["declareUse"]
    ] == [("LotUsed", "product", "use", 4_000)]


def test_snapshot_holds_only_measured_operations():
    # An operation that no longer exists must leave the snapshot (UPDATE merges, so it never drops one).
    measured = {f"{contract}.{op}" for contract in ("Processing", "NaiveProcessing") for op in OPERATIONS}
    recorded = {
        op for op in json.loads(SNAPSHOT.read_text()) if op.startswith(("Processing.", "NaiveProcessing."))
    }
    assert recorded == measured
