"""Batch recording (custody/Transfers.sol, recordBatch): many independently signed dispatches and receipts in
one transaction, each checked as if sent alone; a refused one is reported and leaves no trace, the others
stand."""

from typed_statements import (
    LOT_QUANTITY,
    SHIPPED,
    ZERO_BYTES32,
    TransferStatus,
    error_data,
    plain,
    reverts,
)


def dispatch_call(ledger, statement, signature=None):
    """The calldata of `dispatch` for a signed statement: what a relayer would send alone."""
    return ledger.dispatch.encode_input(statement.struct(), signature or statement.signature)


def test_every_item_recorded(ledger, relayer, shipper, receiver, lot, permit, signed_dispatch):
    statements = [signed_dispatch(shipper, receiver, lot, permit) for _ in range(3)]

    tx = ledger.recordBatch([dispatch_call(ledger, s) for s in statements], {"from": relayer})

    assert [plain(i) for i in tx.return_value] == [s.digest for s in statements]
    assert [plain(e["transferId"]) for e in tx.events["TransferDispatched"]] == [s.digest for s in statements]
    assert "BatchItemRefused" not in tx.events
    assert plain(ledger.lot(lot))[1] == LOT_QUANTITY - 3 * SHIPPED
    for s in statements:
        assert plain(ledger.transfer(s.digest))[1] == TransferStatus.DISPATCHED


def test_refused_item_reported_and_the_others_recorded(
    ledger, relayer, shipper, receiver, lot, permit, signed_dispatch
):
    first = signed_dispatch(shipper, receiver, lot, permit, quantity=30_000)
    too_much = signed_dispatch(shipper, receiver, lot, permit, quantity=60_000)  # 50,000 left after the first
    forged = signed_dispatch(shipper, receiver, lot, permit, signer=receiver)
    last = signed_dispatch(shipper, receiver, lot, permit, quantity=50_000)

    tx = ledger.recordBatch(
        [dispatch_call(ledger, s) for s in (first, too_much, forged, last)], {"from": relayer}
    )

    assert [plain(i) for i in tx.return_value] == [first.digest, ZERO_BYTES32, ZERO_BYTES32, last.digest]
    refused = [(e["index"], plain(e["reason"])) for e in tx.events["BatchItemRefused"]]
    assert refused == [
        (1, error_data("InsufficientLotBalance", lot, 50_000, 60_000)),
        (2, error_data("InvalidSignature", shipper.address)),
    ]
    # The refused items left no trace; their signed statements can be fixed and sent again.
    assert plain(ledger.lot(lot))[1] == 0
    assert plain(ledger.transfer(too_much.digest))[1] == TransferStatus.NONE
    assert plain(ledger.transfer(forged.digest))[1] == TransferStatus.NONE


def test_replayed_item_is_refused_alone(ledger, relayer, shipper, receiver, lot, permit, signed_dispatch):
    statement = signed_dispatch(shipper, receiver, lot, permit)
    ledger.dispatch(*statement.args, {"from": relayer})
    fresh = signed_dispatch(shipper, receiver, lot, permit)

    tx = ledger.recordBatch(
        [dispatch_call(ledger, statement), dispatch_call(ledger, fresh)], {"from": relayer}
    )

    assert [(e["index"], plain(e["reason"])) for e in tx.events["BatchItemRefused"]] == [
        (0, error_data("AlreadyRecorded", statement.digest))
    ]
    assert plain(ledger.lot(lot))[1] == LOT_QUANTITY - 2 * SHIPPED


def receipt_call(ledger, statement):
    return ledger.confirmReceipt.encode_input(*statement.args)


def test_dispatches_and_their_receipts_in_one_batch(
    ledger, relayer, shipper, receiver, lot, permit, signed_dispatch, signed_receipt
):
    # Items run in order: a receipt after its dispatch is recorded, one before it is refused alone.
    first, second = (signed_dispatch(shipper, receiver, lot, permit) for _ in range(2))
    early = signed_receipt(second.digest, receiver, SHIPPED)
    items = [
        receipt_call(ledger, early),
        dispatch_call(ledger, first),
        receipt_call(ledger, signed_receipt(first.digest, receiver, SHIPPED - 40)),
        dispatch_call(ledger, second),
    ]

    tx = ledger.recordBatch(items, {"from": relayer})

    assert [plain(i) for i in tx.return_value] == [ZERO_BYTES32, first.digest, first.digest, second.digest]
    assert [(e["index"], plain(e["reason"])) for e in tx.events["BatchItemRefused"]] == [
        (0, error_data("NotAwaitingReceipt", second.digest, TransferStatus.NONE))
    ]
    assert plain(dict(tx.events["TransferReceived"])) == {
        "transferId": first.digest,
        "receiver": receiver.address,
        "receivedQuantity": SHIPPED - 40,
        "shippedQuantity": SHIPPED,
    }
    assert plain(ledger.lot(first.digest))[:2] == (receiver.address, SHIPPED - 40)
    assert plain(ledger.transfer(second.digest))[1] == TransferStatus.DISPATCHED


def test_items_must_be_dispatches_or_receipts(
    ledger, relayer, shipper, receiver, lot, permit, signed_dispatch, signed_lot
):
    statement = signed_dispatch(shipper, receiver, lot, permit)
    registration = ledger.registerLot.encode_input(*signed_lot(shipper).args)
    with reverts("NotBatchable", 1):
        ledger.recordBatch([dispatch_call(ledger, statement), registration], {"from": relayer})
    with reverts("NotBatchable", 0):
        ledger.recordBatch(["0x1234"], {"from": relayer})


def test_empty_batch(ledger, relayer):
    tx = ledger.recordBatch([], {"from": relayer})
    assert list(tx.return_value) == []
