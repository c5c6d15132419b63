"""Batch dispatch: many independently signed dispatches recorded in one transaction by the relayer. Each
item is answered on its own: recorded, accepted (not mined yet) or refused with the error the same
dispatch alone would get; a refused item never holds the others back."""

from fastapi import APIRouter

from ledger_service.api.custody import dispatch_labels
from ledger_service.api.deps import SIGNED_IN, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError, item_error
from ledger_service.api.schemas import (
    BatchItemOut,
    BatchReport,
    ItemError,
    SignedDispatchBatch,
    Submission,
)
from ledger_service.api.signing import explain_refusal, stored_refusal
from ledger_service.api.views import transfer_out
from ledger_service.chain.gateway import ContractRejection
from ledger_service.db.models import SignedPayload, Transfer
from ledger_service.relayer import FAILED, RECORDED, BatchItem, SubmissionInProgress
from ledger_service.statements import DISPATCH, digest, normalise_message, typed_data

router = APIRouter(prefix="/transfers", tags=["transfers"], dependencies=SIGNED_IN)


@router.post("/batches", operation_id="dispatch_batch")
def dispatch_batch(body: SignedDispatchBatch, runtime: RuntimeDep, session: SessionDep) -> BatchReport:
    """Records signed dispatches (each the body of `POST /transfers`) with one dispatchBatch transaction;
    reports every item. A retried request answers items already submitted as their single submit would."""
    items = []
    for signed in body.items:
        message = normalise_message(DISPATCH, signed.message.model_dump())
        payload = typed_data(DISPATCH, runtime.chain_id, runtime.gateway.ledger_address, message)
        items.append(
            BatchItem(DISPATCH, message, bytes.fromhex(signed.signature[2:]), "0x" + digest(payload).hex())
        )
    outcomes = runtime.relayer.submit_batch(items)
    session.expire_all()  # the indexer updated the read model in its own session
    report = [
        _item(runtime, session, i, item, outcome)
        for i, (item, outcome) in enumerate(zip(items, outcomes, strict=True))
    ]
    return BatchReport(
        recorded=sum(r.outcome == "recorded" for r in report),
        accepted=sum(r.outcome == "accepted" for r in report),
        refused=sum(r.outcome == "refused" for r in report),
        items=report,
    )


def _item(
    runtime: RuntimeDep,
    session: SessionDep,
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
        labels = dispatch_labels(session, item.message["lotId"], item.message["permitId"])
        error = explain_refusal(runtime, DISPATCH, item.message, item.signature, outcome, labels)
        return _refused(index, item, error)
    if outcome.status == RECORDED and (transfer := session.get(Transfer, item.digest_hex)) is not None:
        return BatchItemOut(
            index=index,
            outcome="recorded",
            transfer_id=item.digest_hex,
            transfer=transfer_out(session, transfer),
        )
    submission = Submission(
        digest=outcome.digest, statement=outcome.statement, status=outcome.status, tx_hash=outcome.tx_hash
    )
    return BatchItemOut(index=index, outcome="accepted", transfer_id=item.digest_hex, submission=submission)


def _refused(index: int, item: BatchItem, error: ApiError) -> BatchItemOut:
    return BatchItemOut(
        index=index,
        outcome="refused",
        transfer_id=item.digest_hex,
        error=ItemError(**item_error(error, index)),
    )
