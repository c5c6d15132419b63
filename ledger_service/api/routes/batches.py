"""Batches: many independently signed dispatches and receipts recorded in one transaction by the relayer.
Each item is answered on its own: recorded, accepted (not mined yet) or refused with the error the same
statement alone would get; a refused item never holds the others back."""

from fastapi import APIRouter
from sqlalchemy import select

from ledger_service.api.custody import dispatch_labels
from ledger_service.api.deps import SIGNED_IN, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError, item_error
from ledger_service.api.schemas import (
    BatchItemOut,
    BatchReport,
    ItemError,
    SignedDispatch,
    SignedDispatchBatch,
    SignedReceipt,
    Submission,
    TransferOut,
)
from ledger_service.api.signing import explain_refusal, stored_refusal
from ledger_service.api.views import transfers_out
from ledger_service.chain.gateway import ContractRejection
from ledger_service.db.models import SignedPayload, Transfer
from ledger_service.relayer import FAILED, RECORDED, BatchItem, SubmissionInProgress
from ledger_service.statements import DISPATCH, RECEIPT, Statement, normalise_message, statement_digest

router = APIRouter(prefix="/transfers", tags=["transfers"], dependencies=SIGNED_IN)


@router.post("/batches", operation_id="dispatch_batch")
def dispatch_batch(body: SignedDispatchBatch, runtime: RuntimeDep, session: SessionDep) -> BatchReport:
    """Records signed dispatches and receipts (each the body its single submit takes) with one recordBatch
    transaction; reports every item. A retried request answers items already submitted as their single
    submit would."""
    dispatches = [_batch_item(runtime, DISPATCH, signed) for signed in body.items]
    receipts = [_batch_item(runtime, RECEIPT, signed) for signed in body.receipts]
    items = dispatches + receipts
    outcomes = runtime.relayer.submit_batch(items)
    session.expire_all()  # the indexer updated the read model in its own session
    shown = _recorded_transfers(session, items, outcomes)
    report = [
        _item(runtime, session, shown, i, item, outcome)
        for i, (item, outcome) in enumerate(zip(dispatches, outcomes[: len(dispatches)], strict=True))
    ]
    receipt_report = [
        _item(runtime, session, shown, i, item, outcome)
        for i, (item, outcome) in enumerate(zip(receipts, outcomes[len(dispatches) :], strict=True))
    ]
    every = report + receipt_report
    return BatchReport(
        recorded=sum(r.outcome == "recorded" for r in every),
        accepted=sum(r.outcome == "accepted" for r in every),
        refused=sum(r.outcome == "refused" for r in every),
        items=report,
        receipts=receipt_report,
    )


def _batch_item(
    runtime: RuntimeDep, statement: Statement, signed: SignedDispatch | SignedReceipt
) -> BatchItem:
    message = normalise_message(statement, signed.message.model_dump())
    key = statement_digest(statement, runtime.chain_id, runtime.gateway.ledger_address, message)
    return BatchItem(statement, message, bytes.fromhex(signed.signature[2:]), "0x" + key.hex())


def _recorded_transfers(
    session: SessionDep,
    items: list[BatchItem],
    outcomes: list[SignedPayload | ContractRejection | SubmissionInProgress],
) -> dict[str, TransferOut]:
    """The transfers of the items recorded, as the read model shows them (read together)."""
    ids = {
        _transfer_id(item)
        for item, outcome in zip(items, outcomes, strict=True)
        if isinstance(outcome, SignedPayload) and outcome.status == RECORDED
    }
    transfers = session.scalars(select(Transfer).where(Transfer.id.in_(ids))).all()
    return {t.id: out for t, out in zip(transfers, transfers_out(session, transfers), strict=True)}


def _item(
    runtime: RuntimeDep,
    session: SessionDep,
    shown: dict[str, TransferOut],
    index: int,
    item: BatchItem,
    outcome: SignedPayload | ContractRejection | SubmissionInProgress,
) -> BatchItemOut:
    if isinstance(outcome, SubmissionInProgress):
        error = ApiError(
            409,
            "submission_in_progress",
            f"statement {outcome} is being submitted by another request",
            ["body", "signature"],
        )
        return _refused(index, item, error)
    if isinstance(outcome, SignedPayload) and outcome.status == FAILED:
        outcome = stored_refusal(outcome)  # refused on chain, inside the batch
    if isinstance(outcome, ContractRejection):
        labels = (
            dispatch_labels(session, item.message["lotId"], item.message["permitId"])
            if item.statement is DISPATCH
            else {}
        )
        error = explain_refusal(runtime, item.statement, item.message, item.signature, outcome, labels)
        return _refused(index, item, error)
    transfer_id = _transfer_id(item)
    if outcome.status == RECORDED and transfer_id in shown:
        return BatchItemOut(
            index=index, outcome="recorded", transfer_id=transfer_id, transfer=shown[transfer_id]
        )
    submission = Submission(
        digest=outcome.digest, statement=outcome.statement, status=outcome.status, tx_hash=outcome.tx_hash
    )
    return BatchItemOut(index=index, outcome="accepted", transfer_id=transfer_id, submission=submission)


def _transfer_id(item: BatchItem) -> str:
    """A dispatch's digest is its transfer's id; a receipt names its transfer."""
    return item.digest_hex if item.statement is DISPATCH else str(item.message["transferId"])


def _refused(index: int, item: BatchItem, error: ApiError) -> BatchItemOut:
    return BatchItemOut(
        index=index,
        outcome="refused",
        transfer_id=_transfer_id(item),
        error=ItemError(**item_error(error, index, "items" if item.statement is DISPATCH else "receipts")),
    )
