"""Processing (contracts/processing/Processing.sol): a processor turns lots it holds into output lots with declared
losses, in mass balance; a product or by-product lot is then declared used. The ledger's lot hooks (ILotCustody,
custody/Lots.sol) serve only that module.

The processor is conftest's `receiver` (RECEIVER only), holding lots it received through dispatch and receipt.
"""

import pytest
from brownie import web3
from eth_abi import encode
from eth_utils import keccak
from processing_statements import (
    AGGREGATE,
    BASE_OIL,
    CLINKER_DELIVERY,
    FILTER_CAKE,
    GRAMS_PER_KILOGRAM,
    OIL_DENSITY,
    PROCESSING_RECORD,
    STEAM,
    USE_DOCUMENT,
    OutputKind,
    external_input,
    lot_input,
    output,
    output_lot_id,
)
from typed_statements import (
    MAX_QUANTITY,
    RECEIVER,
    SHIPPED,
    SHIPPER,
    WASTE_OIL,
    CatalogueCode,
    code_key,
    deadline_in,
    new_party,
    plain,
    reverts,
    sign,
)

KG = GRAMS_PER_KILOGRAM
OIL_RECEIVED = 1_000  # litres of waste oil the processor holds in `oil_lot`
RECORD_PROCESSING_TYPE = (
    "RecordProcessing(address processor,LotInput[] inputs,ExternalInput[] externalInputs,ProcessOutput[] outputs,"
    "uint64 lossGrams,string lossDescription,bytes32 documentHash,uint256 nonce,uint256 deadline)"
    "ExternalInput(string material,uint64 grams,bytes32 documentHash)"
    "LotInput(bytes32 lotId,bytes32 codeKey,uint64 quantity,uint32 gramsPerUnit)"
    "ProcessOutput(uint8 kind,bytes32 codeKey,uint64 quantity,uint32 gramsPerUnit)"
)


def _catalogue(register_waste_code, entry):
    tx = register_waste_code(*entry)
    return CatalogueCode(code_key(*entry[:2]), tx.events["WasteCodeRegistered"]["id"])


@pytest.fixture
def aggregate(permit, register_waste_code):
    """A product category in kilograms (registered after the permit's codes: slag is 1, waste oil 2)."""
    return _catalogue(register_waste_code, AGGREGATE)


@pytest.fixture
def base_oil(aggregate, register_waste_code):
    return _catalogue(register_waste_code, BASE_OIL)


@pytest.fixture
def filter_cake(aggregate, register_waste_code):
    return _catalogue(register_waste_code, FILTER_CAKE)


@pytest.fixture
def receive_lot(shipper, receiver, permit, dispatch, receive):
    """Ships `quantity` of `source` (a lot of the shipper) to the receiver for `operation` and receives it all;
    returns the receiver's lot id."""

    def run(source, quantity=SHIPPED, operation="R5"):
        tx = dispatch(shipper, receiver, source, permit, quantity=quantity, operation=operation)
        transfer_id = tx.events["TransferDispatched"]["transferId"]
        receive(transfer_id, receiver, quantity)
        return transfer_id

    return run


@pytest.fixture
def slag_lot(lot, receive_lot):
    """A lot of `SHIPPED` (12,500) kg of slag the processor received."""
    return receive_lot(lot)


@pytest.fixture
def second_slag_lot(lot, receive_lot):
    return receive_lot(lot)


@pytest.fixture
def oil_lot(shipper, waste_oil, register_lot, receive_lot):
    """A lot of 1,000 L of waste oil the processor received for re-refining (R9)."""
    source = register_lot(
        shipper, wasteScheme=WASTE_OIL[0], wasteCode=WASTE_OIL[1], unit="LTR", quantity=2_000
    )
    return receive_lot(source, OIL_RECEIVED, "R9")


@pytest.fixture
def products(receiver, slag, slag_lot, aggregate, process):
    """The processor's processing of its slag lot into 10 t of aggregate (product), 2 t of slag (by-product)
    and 500 kg of slag (residue); returns the output lot ids."""
    tx = process(
        receiver,
        [lot_input(slag_lot, slag.key, SHIPPED)],
        [
            output(OutputKind.PRODUCT, aggregate.key, 10_000),
            output(OutputKind.BY_PRODUCT, slag.key, 2_000),
            output(OutputKind.RESIDUE, slag.key, 500),
        ],
    )
    return [output_lot_id(tx.return_value, i) for i in range(3)]


# --- processing: the legal case ----------------------------------------------------------------------


def test_processor_turns_two_lots_into_outputs(
    ledger, processing, relayer, receiver, slag, slag_lot, second_slag_lot, aggregate, signed_processing
):
    statement = signed_processing(
        receiver,
        [lot_input(slag_lot, slag.key, 12_000), lot_input(second_slag_lot, slag.key, 8_000)],
        [output(OutputKind.PRODUCT, aggregate.key, 17_500), output(OutputKind.RESIDUE, slag.key, 1_500)],
        lossGrams=1_000 * KG,
        lossDescription="moisture driven off in the kiln",
    )

    tx = processing.process(*statement.args, {"from": relayer})

    processing_id = statement.digest
    assert plain(tx.return_value) == processing_id
    product, residue = (output_lot_id(processing_id, i) for i in range(2))
    # Inputs taken from the processor's lots, outputs opened for it on the ledger.
    assert plain(ledger.lot(slag_lot)) == (receiver.address, SHIPPED - 12_000, slag.id)
    assert plain(ledger.lot(second_slag_lot)) == (receiver.address, SHIPPED - 8_000, slag.id)
    assert plain(ledger.lot(product)) == (receiver.address, 17_500, aggregate.id)
    assert plain(ledger.lot(residue)) == (receiver.address, 1_500, slag.id)
    assert processing.outputKind(product) == OutputKind.PRODUCT
    assert processing.outputKind(residue) == OutputKind.RESIDUE
    assert processing.outputKind(slag_lot) == OutputKind.NONE

    opened = [plain(dict(e)) for e in tx.events["OutputLotOpened"]]
    assert opened == [
        {
            "lotId": product,
            "processingId": processing_id,
            "holder": receiver.address,
            "kind": OutputKind.PRODUCT,
            "codeKey": aggregate.key,
            "quantity": 17_500,
        },
        {
            "lotId": residue,
            "processingId": processing_id,
            "holder": receiver.address,
            "kind": OutputKind.RESIDUE,
            "codeKey": slag.key,
            "quantity": 1_500,
        },
    ]
    recorded = plain(dict(tx.events["ProcessingRecorded"]))
    m = statement.message
    assert recorded == {
        "processingId": processing_id,
        "processor": receiver.address,
        "inputs": tuple(plain(tuple(i.values())) for i in m["inputs"]),
        "externalInputs": (),
        "outputs": tuple(plain(tuple(o.values())) for o in m["outputs"]),
        "lossGrams": 1_000 * KG,
        "lossDescription": "moisture driven off in the kiln",
        "inputGrams": 20_000 * KG,
        "outputGrams": 19_000 * KG,
        "documentHash": PROCESSING_RECORD,
    }
    # Events in the order of the state changes: outputs opened, then the processing recorded.
    assert [e.name for e in tx.events] == ["OutputLotOpened", "OutputLotOpened", "ProcessingRecorded"]
    assert web3.eth.get_balance(receiver.address) == 0  # the relayer paid


def test_processing_id_is_the_eip712_digest(
    processing, relayer, receiver, slag, slag_lot, aggregate, signed_processing
):
    # Worked out by hand from the type strings: nested struct arrays hash as their elements' hashes, concatenated.
    statement = signed_processing(
        receiver,
        [lot_input(slag_lot, slag.key, 100)],
        [output(OutputKind.PRODUCT, aggregate.key, 90)],
        external=[external_input("limestone", 5 * KG)],
        lossGrams=15 * KG,
    )
    m = statement.message

    def struct_hash(type_string, types, values):
        return keccak(encode(["bytes32", *types], [keccak(text=type_string), *values]))

    def array_hash(hashes):
        return keccak(b"".join(hashes))

    inputs = array_hash(
        [
            struct_hash(
                "LotInput(bytes32 lotId,bytes32 codeKey,uint64 quantity,uint32 gramsPerUnit)",
                ["bytes32", "bytes32", "uint64", "uint32"],
                [i["lotId"], i["codeKey"], i["quantity"], i["gramsPerUnit"]],
            )
            for i in m["inputs"]
        ]
    )
    external = array_hash(
        [
            struct_hash(
                "ExternalInput(string material,uint64 grams,bytes32 documentHash)",
                ["bytes32", "uint64", "bytes32"],
                [keccak(text=e["material"]), e["grams"], e["documentHash"]],
            )
            for e in m["externalInputs"]
        ]
    )
    outputs = array_hash(
        [
            struct_hash(
                "ProcessOutput(uint8 kind,bytes32 codeKey,uint64 quantity,uint32 gramsPerUnit)",
                ["uint8", "bytes32", "uint64", "uint32"],
                [o["kind"], o["codeKey"], o["quantity"], o["gramsPerUnit"]],
            )
            for o in m["outputs"]
        ]
    )
    record = struct_hash(
        RECORD_PROCESSING_TYPE,
        ["address", "bytes32", "bytes32", "bytes32", "uint64", "bytes32", "bytes32", "uint256", "uint256"],
        [
            m["processor"],
            inputs,
            external,
            outputs,
            m["lossGrams"],
            keccak(text=m["lossDescription"]),
            m["documentHash"],
            m["nonce"],
            m["deadline"],
        ],
    )
    digest = keccak(b"\x19\x01" + bytes(processing.DOMAIN_SEPARATOR()) + record)
    assert digest == statement.digest
    tx = processing.process(*statement.args, {"from": relayer})
    assert plain(tx.return_value) == digest


def test_module_is_fixed_at_deployment(ledger, processing):
    assert ledger.processing() == processing.address
    assert processing.ledger() == ledger.address
    # Its own EIP-712 domain: a ledger statement's signature is not valid here, nor the other way round.
    assert processing.DOMAIN_SEPARATOR() != ledger.DOMAIN_SEPARATOR()


def test_mass_balance_exactly_met(ledger, receiver, slag, slag_lot, aggregate, process):
    tx = process(
        receiver,
        [lot_input(slag_lot, slag.key, SHIPPED)],
        [output(OutputKind.PRODUCT, aggregate.key, SHIPPED - 1)],
        lossGrams=KG,
    )
    assert tx.events["ProcessingRecorded"]["inputGrams"] == SHIPPED * KG
    assert plain(ledger.lot(slag_lot))[1] == 0


def test_mass_balance_exceeded_by_one_gram(
    processing, relayer, receiver, slag, slag_lot, aggregate, signed_processing
):
    statement = signed_processing(
        receiver,
        [lot_input(slag_lot, slag.key, SHIPPED)],
        [output(OutputKind.PRODUCT, aggregate.key, SHIPPED - 1)],
        lossGrams=KG + 1,
    )
    with reverts("MassBalanceExceeded", SHIPPED * KG + 1, SHIPPED * KG):
        processing.process(*statement.args, {"from": relayer})


def test_outputs_alone_may_not_exceed_inputs(
    processing, relayer, receiver, slag, slag_lot, aggregate, signed_processing
):
    statement = signed_processing(
        receiver,
        [lot_input(slag_lot, slag.key, 5_000)],
        [output(OutputKind.PRODUCT, aggregate.key, 5_001)],
    )
    with reverts("MassBalanceExceeded", 5_001 * KG, 5_000 * KG):
        processing.process(*statement.args, {"from": relayer})


def test_external_inputs_let_outputs_exceed_lot_inputs(
    processing, relayer, receiver, slag, slag_lot, aggregate, signed_processing
):
    # Artificial stone: 12.5 t of slag bound with 3 t of virgin cement clinker.
    outputs = [output(OutputKind.PRODUCT, aggregate.key, 15_500)]
    clinker = [external_input("Portland cement clinker", 3_000 * KG)]
    with reverts("MassBalanceExceeded", 15_500 * KG, SHIPPED * KG):
        processing.process(
            *signed_processing(receiver, [lot_input(slag_lot, slag.key, SHIPPED)], outputs).args,
            {"from": relayer},
        )

    statement = signed_processing(
        receiver, [lot_input(slag_lot, slag.key, SHIPPED)], outputs, external=clinker
    )
    tx = processing.process(*statement.args, {"from": relayer})

    recorded = tx.events["ProcessingRecorded"]
    assert plain(recorded["externalInputs"]) == (("Portland cement clinker", 3_000 * KG, CLINKER_DELIVERY),)
    assert (recorded["inputGrams"], recorded["outputGrams"]) == (15_500 * KG, 15_500 * KG)


def test_a_processing_output_can_be_processed_again(ledger, receiver, slag, products, aggregate, process):
    product, by_product, _ = products
    tx = process(
        receiver,
        [lot_input(product, aggregate.key, 4_000), lot_input(by_product, slag.key, 2_000)],
        [output(OutputKind.PRODUCT, aggregate.key, 6_000)],
    )
    assert plain(ledger.lot(output_lot_id(tx.return_value, 0))) == (receiver.address, 6_000, aggregate.id)
    assert plain(ledger.lot(by_product))[1] == 0


def test_residue_lot_is_a_ledger_lot_its_holder_can_dispatch(
    ledger, register, slag, aggregate, permit, receiver, register_lot, process, dispatch
):
    # A firm that both generates and processes (SHIPPER | RECEIVER) ships its residue to a permitted receiver.
    firm = new_party()
    register(firm, SHIPPER | RECEIVER)
    source = register_lot(firm, quantity=1_000)
    tx = process(
        firm,
        [lot_input(source, slag.key, 1_000)],
        [output(OutputKind.PRODUCT, aggregate.key, 900), output(OutputKind.RESIDUE, slag.key, 100)],
    )
    residue = output_lot_id(tx.return_value, 1)
    dispatch(firm, receiver, residue, permit, quantity=100)
    assert plain(ledger.lot(residue)) == (firm.address, 0, slag.id)


# --- units and conversions ---------------------------------------------------------------------------


def test_litre_conversion_in_mass_balance(
    ledger, processing, relayer, receiver, waste_oil, oil_lot, base_oil, filter_cake, signed_processing
):
    inputs = [lot_input(oil_lot, waste_oil.key, OIL_RECEIVED, OIL_DENSITY)]
    outputs = [
        output(OutputKind.PRODUCT, base_oil.key, 700, 860),
        output(OutputKind.RESIDUE, filter_cake.key, 78),
    ]
    statement = signed_processing(receiver, inputs, outputs, lossGrams=200 * KG)
    tx = processing.process(*statement.args, {"from": relayer})
    recorded = tx.events["ProcessingRecorded"]
    assert (recorded["inputGrams"], recorded["outputGrams"]) == (880 * KG, 602 * KG + 78 * KG)
    # The declared densities travel in the event.
    assert [i[3] for i in recorded["inputs"]] == [OIL_DENSITY]
    assert [o[3] for o in recorded["outputs"]] == [860, KG]
    assert plain(ledger.lot(output_lot_id(statement.digest, 0))) == (receiver.address, 700, base_oil.id)

    # One gram more of loss than the 880 kg taken in is refused.
    again = signed_processing(
        receiver,
        [lot_input(output_lot_id(statement.digest, 0), base_oil.key, 700, 860)],
        [output(OutputKind.PRODUCT, base_oil.key, 600, 860)],
        lossGrams=86 * KG + 1,
    )
    with reverts("MassBalanceExceeded", 602 * KG + 1, 602 * KG):
        processing.process(*again.args, {"from": relayer})


@pytest.mark.parametrize("kind", [OutputKind.PRODUCT, OutputKind.BY_PRODUCT])
def test_hazardous_code_only_as_a_residue(
    ledger, processing, relayer, receiver, waste_oil, oil_lot, base_oil, signed_processing, kind
):
    # Waste oil (hazardous) cannot come out as a product or by-product: it is still hazardous waste.
    inputs = [lot_input(oil_lot, waste_oil.key, OIL_RECEIVED, OIL_DENSITY)]
    outputs = [
        output(OutputKind.PRODUCT, base_oil.key, 500, 860),
        output(kind, waste_oil.key, 300, OIL_DENSITY),
    ]
    statement = signed_processing(receiver, inputs, outputs)
    with reverts("HazardousProduct", 1, waste_oil.key):
        processing.process(*statement.args, {"from": relayer})
    outputs[1] = output(OutputKind.RESIDUE, waste_oil.key, 300, OIL_DENSITY)
    statement = signed_processing(receiver, inputs, outputs)
    processing.process(*statement.args, {"from": relayer})
    assert plain(ledger.lot(output_lot_id(statement.digest, 1)))[1] == 300


@pytest.mark.parametrize("grams_per_unit", [0, 999, 1_001, 1])
def test_kilogram_code_converts_at_1000(
    processing, relayer, receiver, slag, slag_lot, aggregate, signed_processing, grams_per_unit
):
    statement = signed_processing(
        receiver,
        [lot_input(slag_lot, slag.key, 100)],
        [output(OutputKind.PRODUCT, aggregate.key, 1, grams_per_unit)],
    )
    with reverts("InvalidConversion", aggregate.key, grams_per_unit):
        processing.process(*statement.args, {"from": relayer})


def test_kilogram_input_converts_at_1000(
    processing, relayer, receiver, slag, slag_lot, aggregate, signed_processing
):
    # An inflated conversion on an input would create mass.
    statement = signed_processing(
        receiver,
        [lot_input(slag_lot, slag.key, 100, 2_000)],
        [output(OutputKind.PRODUCT, aggregate.key, 200)],
    )
    with reverts("InvalidConversion", slag.key, 2_000):
        processing.process(*statement.args, {"from": relayer})


def test_litre_code_needs_a_density(
    processing, relayer, receiver, waste_oil, oil_lot, aggregate, signed_processing
):
    statement = signed_processing(
        receiver,
        [lot_input(oil_lot, waste_oil.key, 100, 0)],
        [output(OutputKind.PRODUCT, aggregate.key, 1)],
    )
    with reverts("InvalidConversion", waste_oil.key, 0):
        processing.process(*statement.args, {"from": relayer})


def test_kilowatt_hours_are_not_an_output(
    processing, relayer, receiver, slag, slag_lot, aggregate, register_waste_code, signed_processing
):
    steam = _catalogue(register_waste_code, STEAM)
    statement = signed_processing(
        receiver, [lot_input(slag_lot, slag.key, 100)], [output(OutputKind.BY_PRODUCT, steam.key, 10, 1)]
    )
    with reverts("MasslessUnit", steam.key):
        processing.process(*statement.args, {"from": relayer})


def test_kilowatt_hours_are_not_an_input(
    processing, relayer, register, aggregate, register_waste_code, register_lot, signed_processing
):
    heat = _catalogue(register_waste_code, ("VN-TT02-2022", "waste heat", "KWH", False, "waste heat"))
    firm = new_party()
    register(firm, SHIPPER | RECEIVER)
    source = register_lot(firm, wasteScheme="VN-TT02-2022", wasteCode="waste heat", unit="KWH", quantity=500)
    statement = signed_processing(
        firm, [lot_input(source, heat.key, 500, 1)], [output(OutputKind.PRODUCT, aggregate.key, 1)]
    )
    with reverts("MasslessUnit", heat.key):
        processing.process(*statement.args, {"from": relayer})


def test_unknown_output_code(processing, relayer, receiver, slag, slag_lot, aggregate, signed_processing):
    unknown = code_key("UN-CPC-2.1", "99999")
    statement = signed_processing(
        receiver, [lot_input(slag_lot, slag.key, 100)], [output(OutputKind.PRODUCT, unknown, 10)]
    )
    with reverts("UnknownWasteCode", unknown):
        processing.process(*statement.args, {"from": relayer})


def test_input_named_with_another_code(processing, relayer, receiver, slag_lot, aggregate, signed_processing):
    # The lot is slag; calling it aggregate (catalogued, same unit) would launder the waste code.
    statement = signed_processing(
        receiver, [lot_input(slag_lot, aggregate.key, 100)], [output(OutputKind.PRODUCT, aggregate.key, 100)]
    )
    with reverts("LotCodeMismatch", slag_lot, aggregate.key):
        processing.process(*statement.args, {"from": relayer})


def test_input_named_with_an_unknown_code(
    processing, relayer, receiver, slag_lot, aggregate, signed_processing
):
    unknown = code_key("EU-LOW", "10 02 99")
    statement = signed_processing(
        receiver, [lot_input(slag_lot, unknown, 100)], [output(OutputKind.PRODUCT, aggregate.key, 100)]
    )
    with reverts("UnknownWasteCode", unknown):
        processing.process(*statement.args, {"from": relayer})


# --- what a processing must contain ------------------------------------------------------------------


@pytest.mark.parametrize(("inputs", "outputs"), [(0, 1), (1, 0), (0, 0)])
def test_empty_processing(
    processing, relayer, receiver, slag, slag_lot, aggregate, signed_processing, inputs, outputs
):
    statement = signed_processing(
        receiver,
        [lot_input(slag_lot, slag.key, 100)] * inputs,
        [output(OutputKind.PRODUCT, aggregate.key, 100)] * outputs,
        external=[external_input("sand", 100 * KG)],
    )
    with reverts("EmptyProcessing", inputs, outputs):
        processing.process(*statement.args, {"from": relayer})


@pytest.mark.parametrize("kind", [0, 4, 255])
def test_invalid_output_kind(
    processing, relayer, receiver, slag, slag_lot, aggregate, signed_processing, kind
):
    statement = signed_processing(
        receiver,
        [lot_input(slag_lot, slag.key, 100)],
        [output(OutputKind.PRODUCT, aggregate.key, 10), output(kind, aggregate.key, 10)],
    )
    with reverts("InvalidOutputKind", 1, kind):
        processing.process(*statement.args, {"from": relayer})


def test_zero_quantities(processing, relayer, receiver, slag, slag_lot, aggregate, signed_processing):
    for inputs, outputs in [
        ([lot_input(slag_lot, slag.key, 0)], [output(OutputKind.PRODUCT, aggregate.key, 0)]),
        ([lot_input(slag_lot, slag.key, 10)], [output(OutputKind.PRODUCT, aggregate.key, 0)]),
    ]:
        with reverts("ZeroQuantity"):
            processing.process(*signed_processing(receiver, inputs, outputs).args, {"from": relayer})


def test_output_too_large(processing, relayer, receiver, slag, slag_lot, aggregate, signed_processing):
    statement = signed_processing(
        receiver,
        [lot_input(slag_lot, slag.key, 10)],
        [output(OutputKind.PRODUCT, aggregate.key, MAX_QUANTITY + 1)],
    )
    with reverts("QuantityTooLarge", MAX_QUANTITY + 1, MAX_QUANTITY):
        processing.process(*statement.args, {"from": relayer})


# --- the processor and its lots ----------------------------------------------------------------------


def test_processor_must_hold_the_input(
    processing, relayer, receiver, slag, lot, aggregate, signed_processing
):
    # `lot` is the shipper's.
    statement = signed_processing(
        receiver, [lot_input(lot, slag.key, 100)], [output(OutputKind.PRODUCT, aggregate.key, 100)]
    )
    with reverts("NotLotHolder", lot, receiver.address):
        processing.process(*statement.args, {"from": relayer})


def test_processor_must_hold_enough(
    processing, relayer, receiver, slag, slag_lot, second_slag_lot, aggregate, signed_processing
):
    statement = signed_processing(
        receiver,
        [lot_input(second_slag_lot, slag.key, SHIPPED), lot_input(slag_lot, slag.key, SHIPPED + 1)],
        [output(OutputKind.PRODUCT, aggregate.key, 100)],
    )
    with reverts("InsufficientLotBalance", slag_lot, SHIPPED, SHIPPED + 1):
        processing.process(*statement.args, {"from": relayer})


def test_same_lot_twice_counts_against_one_balance(
    processing, relayer, receiver, slag, slag_lot, aggregate, signed_processing
):
    statement = signed_processing(
        receiver,
        [lot_input(slag_lot, slag.key, 10_000), lot_input(slag_lot, slag.key, 10_000)],
        [output(OutputKind.PRODUCT, aggregate.key, 100)],
    )
    with reverts("InsufficientLotBalance", slag_lot, SHIPPED - 10_000, 10_000):
        processing.process(*statement.args, {"from": relayer})


def test_unknown_input_lot(processing, relayer, receiver, slag, aggregate, signed_processing):
    missing = b"\x42" * 32
    statement = signed_processing(
        receiver, [lot_input(missing, slag.key, 100)], [output(OutputKind.PRODUCT, aggregate.key, 100)]
    )
    with reverts("UnknownLot", missing):
        processing.process(*statement.args, {"from": relayer})


def test_suspended_processor(
    processing, relayer, receiver, slag, slag_lot, aggregate, set_status, signed_processing
):
    set_status(receiver, True)
    statement = signed_processing(
        receiver, [lot_input(slag_lot, slag.key, 100)], [output(OutputKind.PRODUCT, aggregate.key, 100)]
    )
    with reverts("SuspendedParticipant", receiver.address):
        processing.process(*statement.args, {"from": relayer})


def test_processor_must_be_a_receiver(processing, relayer, shipper, slag, lot, aggregate, signed_processing):
    # The shipper holds `lot`, but processing is the receiving side's statement.
    statement = signed_processing(
        shipper, [lot_input(lot, slag.key, 100)], [output(OutputKind.PRODUCT, aggregate.key, 100)]
    )
    with reverts("MissingRole", shipper.address, RECEIVER):
        processing.process(*statement.args, {"from": relayer})


def test_unregistered_processor(processing, relayer, slag, slag_lot, aggregate, signed_processing):
    stranger = new_party()
    statement = signed_processing(
        stranger, [lot_input(slag_lot, slag.key, 100)], [output(OutputKind.PRODUCT, aggregate.key, 100)]
    )
    with reverts("UnregisteredParticipant", stranger.address):
        processing.process(*statement.args, {"from": relayer})


# --- what a signature binds --------------------------------------------------------------------------


def test_replayed_processing(processing, relayer, receiver, slag, slag_lot, aggregate, signed_processing):
    statement = signed_processing(
        receiver, [lot_input(slag_lot, slag.key, 100)], [output(OutputKind.PRODUCT, aggregate.key, 100)]
    )
    processing.process(*statement.args, {"from": relayer})
    with reverts("AlreadyRecorded", statement.digest):
        processing.process(*statement.args, {"from": relayer})


def test_processing_signed_by_another_key(
    processing, relayer, receiver, slag, slag_lot, aggregate, signed_processing
):
    statement = signed_processing(
        receiver,
        [lot_input(slag_lot, slag.key, 100)],
        [output(OutputKind.PRODUCT, aggregate.key, 100)],
        signer=new_party(),
    )
    with reverts("InvalidSignature", receiver.address):
        processing.process(*statement.args, {"from": relayer})


def test_processing_signed_for_the_ledger_domain(
    ledger, processing, relayer, receiver, slag, slag_lot, aggregate, signed_processing
):
    message = signed_processing(
        receiver, [lot_input(slag_lot, slag.key, 100)], [output(OutputKind.PRODUCT, aggregate.key, 100)]
    ).message
    statement = sign(receiver, ledger, "RecordProcessing", message)
    with reverts("InvalidSignature", receiver.address):
        processing.process(*statement.args, {"from": relayer})


@pytest.mark.parametrize(
    "change",
    [
        lambda m: {"outputs": [{**m["outputs"][0], "kind": int(OutputKind.BY_PRODUCT)}]},
        lambda m: {"outputs": [{**m["outputs"][0], "quantity": 99}]},
        lambda m: {"inputs": [{**m["inputs"][0], "quantity": 101}]},
        lambda m: {"externalInputs": [external_input("sand", 1)]},
        lambda m: {"lossGrams": 1},
        lambda m: {"lossDescription": "dust"},
        lambda m: {"documentHash": b"\x00" * 32},
    ],
    ids=["kind", "outputQuantity", "inputQuantity", "external", "loss", "lossDescription", "documentHash"],
)
def test_processing_tampered_after_signing(
    processing, relayer, receiver, slag, slag_lot, aggregate, signed_processing, change
):
    statement = signed_processing(
        receiver, [lot_input(slag_lot, slag.key, 100)], [output(OutputKind.PRODUCT, aggregate.key, 100)]
    )
    with reverts("InvalidSignature", receiver.address):
        processing.process(*statement.tampered(**change(statement.message)), {"from": relayer})


def test_expired_processing(processing, relayer, receiver, slag, slag_lot, aggregate, signed_processing):
    deadline = deadline_in(-1)
    statement = signed_processing(
        receiver,
        [lot_input(slag_lot, slag.key, 100)],
        [output(OutputKind.PRODUCT, aggregate.key, 100)],
        deadline=deadline,
    )
    with reverts("SignatureExpired", deadline):
        processing.process(*statement.args, {"from": relayer})


# --- the ledger's lot hooks --------------------------------------------------------------------------


def test_hooks_refuse_every_other_caller(ledger, relayer, receiver, slag, slag_lot):
    with reverts("NotProcessingModule", relayer.address):
        ledger.takeFromLot(slag_lot, receiver.address, 1, {"from": relayer})
    with reverts("NotProcessingModule", relayer.address):
        ledger.openLot(b"\x01" * 32, relayer.address, 1, slag.id, {"from": relayer})
    assert plain(ledger.lot(slag_lot)) == (receiver.address, SHIPPED, slag.id)


# --- final use ---------------------------------------------------------------------------------------


def test_product_declared_used(ledger, processing, relayer, receiver, aggregate, products, signed_use):
    product = products[0]
    statement = signed_use(receiver, product, 4_000)

    tx = processing.declareUse(*statement.args, {"from": relayer})

    assert plain(tx.return_value) == statement.digest
    assert plain(dict(tx.events["LotUsed"])) == {
        "lotId": product,
        "holder": receiver.address,
        "useId": statement.digest,
        "quantity": 4_000,
        "use": "road base course, National Road 10",
        "documentHash": USE_DOCUMENT,
    }
    assert plain(ledger.lot(product)) == (receiver.address, 6_000, aggregate.id)
    assert processing.nonceUsed(receiver.address, statement.message["nonce"])


def test_by_product_used_up(ledger, receiver, slag, products, declare_use):
    by_product = products[1]
    declare_use(receiver, by_product, 2_000, use="cement additive")
    assert plain(ledger.lot(by_product)) == (receiver.address, 0, slag.id)


def test_residue_cannot_be_used(processing, relayer, receiver, products, signed_use):
    residue = products[2]
    with reverts("NotUsable", residue, OutputKind.RESIDUE):
        processing.declareUse(*signed_use(receiver, residue, 100).args, {"from": relayer})


def test_lot_no_processing_opened_cannot_be_used(processing, relayer, receiver, slag_lot, signed_use):
    with reverts("NotUsable", slag_lot, OutputKind.NONE):
        processing.declareUse(*signed_use(receiver, slag_lot, 100).args, {"from": relayer})


def test_using_more_than_held(processing, relayer, receiver, products, declare_use, signed_use):
    product = products[0]
    declare_use(receiver, product, 9_000)
    with reverts("InsufficientLotBalance", product, 1_000, 1_001):
        processing.declareUse(*signed_use(receiver, product, 1_001).args, {"from": relayer})


def test_zero_use(processing, relayer, receiver, products, signed_use):
    with reverts("ZeroQuantity"):
        processing.declareUse(*signed_use(receiver, products[0], 0).args, {"from": relayer})


def test_only_the_holder_declares_use(processing, relayer, register, products, signed_use):
    other = new_party()
    register(other, RECEIVER)
    with reverts("NotLotHolder", products[0], other.address):
        processing.declareUse(*signed_use(other, products[0], 100).args, {"from": relayer})


def test_replayed_use(processing, relayer, receiver, products, signed_use):
    statement = signed_use(receiver, products[0], 100)
    processing.declareUse(*statement.args, {"from": relayer})
    with reverts("NonceAlreadyUsed", receiver.address, statement.message["nonce"]):
        processing.declareUse(*statement.args, {"from": relayer})


def test_use_signed_by_another_key(processing, relayer, receiver, products, signed_use):
    statement = signed_use(receiver, products[0], 100, signer=new_party())
    with reverts("InvalidSignature", receiver.address):
        processing.declareUse(*statement.args, {"from": relayer})


@pytest.mark.parametrize(
    "change", [{"quantity": 101}, {"use": "landfill cover"}, {"documentHash": b"\x00" * 32}], ids=str
)
def test_use_tampered_after_signing(processing, relayer, receiver, products, signed_use, change):
    statement = signed_use(receiver, products[0], 100)
    with reverts("InvalidSignature", receiver.address):
        processing.declareUse(*statement.tampered(**change), {"from": relayer})


def test_suspended_holder_cannot_declare_use(processing, relayer, receiver, products, set_status, signed_use):
    set_status(receiver, True)
    with reverts("SuspendedParticipant", receiver.address):
        processing.declareUse(*signed_use(receiver, products[0], 100).args, {"from": relayer})


def test_expired_use(processing, relayer, receiver, products, signed_use):
    deadline = deadline_in(-1)
    with reverts("SignatureExpired", deadline):
        processing.declareUse(
            *signed_use(receiver, products[0], 100, deadline=deadline).args, {"from": relayer}
        )
