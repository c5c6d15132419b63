"""The indexer: turns chain events into the SQL read model, resuming from its checkpoint.

Each range of blocks is applied in one database transaction together with the checkpoint, so a crash
leaves either all of a range or none of it, and a restart continues where the last commit stopped.

Only blocks at least `confirmations` deep are applied (0 on chains with immediate finality such as QBFT).
The hashes of the last REORG_WINDOW indexed blocks are kept; before each sync the checkpoint's hash is
compared with the node's, and on a mismatch the read model is rolled back to the newest kept block the node
still has (the common ancestor) and the sync continues from there on the node's chain. The rollback
deletes the chain events after the ancestor and rebuilds every derived table by replaying the events kept
(db.models.DERIVED_TABLES): no handler needs undo code. Hooks registered with `on_rollback` run in the
same transaction (the relayer reopens the statements whose transactions the reorganisation dropped).
"""

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import delete, insert, select
from sqlalchemy import event as orm_events
from sqlalchemy.orm import Session, sessionmaker

from compliance.operations import OPERATIONS, operation_names
from ledger_service.chain.gateway import BlockHeader, ChainGateway, DecodedEvent
from ledger_service.db.models import (
    Certificate,
    ChainEvent,
    IndexedBlock,
    IndexerCheckpoint,
    Lot,
    Participant,
    Permit,
    Transfer,
    WasteCode,
    derived_tables,
)
from ledger_service.roles import PermitKind

log = logging.getLogger(__name__)

CHECKPOINT = "ledger"
ZERO_ADDRESS = "0x" + "0" * 40
BLOCKS_PER_QUERY = 2_000
# How many recent blocks' hashes are kept: the deepest reorganisation the indexer rolls back by itself.
REORG_WINDOW = 128
# How often one sync starts over when the chain changes under it before leaving it to the next tick.
SYNC_ATTEMPTS = 3
# The indexer's own record of the chain: trimmed to the ancestor on a rollback, not emptied and replayed.
_CHAIN_RECORDS = {ChainEvent.__tablename__, IndexerCheckpoint.__tablename__, IndexedBlock.__tablename__}

# A hook run inside a rollback's transaction with the common ancestor's block number.
RollbackHook = Callable[[Session, int], None]


class ChainMoved(Exception):
    """The node's chain changed while a range was read (a reorganisation in progress)."""


class ReorganisationTooDeep(RuntimeError):
    """None of the kept block hashes is on the node's chain any more."""


class Indexer:
    def __init__(
        self,
        gateway: ChainGateway,
        sessions: sessionmaker[Session],
        start_block: int,
        confirmations: int = 0,
    ) -> None:
        self._gateway = gateway
        self._sessions = sessions
        self._start_block = start_block
        self._confirmations = confirmations
        self._derived = derived_tables()  # fails fast on a table nobody classified
        self._rollback_hooks: list[RollbackHook] = []
        self._lock = threading.RLock()

    def on_rollback(self, hook: RollbackHook) -> None:
        self._rollback_hooks.append(hook)

    def indexed_block(self) -> int | None:
        with self._sessions() as session:
            checkpoint = session.get(IndexerCheckpoint, CHECKPOINT)
            return checkpoint.block_number if checkpoint else None

    def includes(self, block_number: int, block_hash: str) -> bool:
        """Whether the read model has applied this very block (by number and hash)."""
        with self._sessions() as session:
            checkpoint = session.get(IndexerCheckpoint, CHECKPOINT)
            if checkpoint is None or checkpoint.block_number < block_number:
                return False
            kept = session.get(IndexedBlock, block_number)
            # Deeper than the window: final as far as the indexer is concerned.
            return kept is None or kept.block_hash == block_hash

    def sync(self, to_block: int | None = None) -> int:
        """Applies every event up to `to_block` (default: the chain head), skipping blocks less than
        `confirmations` deep, after rolling back a reorganisation; returns the indexed block."""
        with self._lock:
            for attempt in range(1, SYNC_ATTEMPTS + 1):
                try:
                    return self._sync(to_block)
                except ChainMoved as moved:
                    if attempt == SYNC_ATTEMPTS:
                        raise
                    log.warning("the chain changed during indexing (%s); starting over", moved)
            raise AssertionError("unreachable")

    def rebuild(self) -> int:
        """Empties every derived table and indexes the whole chain again; returns the indexed block."""
        with self._lock, self._sessions.begin() as session:
            for table in reversed(self._derived):
                session.execute(delete(table))
        return self.sync()

    def rollback_to(self, ancestor: int) -> None:
        """Forgets every block after `ancestor` and rebuilds the read model from the events kept."""
        with self._lock:
            self._rollback(ancestor)

    def _sync(self, to_block: int | None) -> int:
        head = self._gateway.block_number()
        target = head - self._confirmations
        if to_block is not None:
            target = min(target, to_block)
        indexed = self._checked_checkpoint()
        start = self._start_block if indexed is None else indexed + 1
        # Only the newest blocks' hashes are worth keeping: older ones are too deep to be reorganised.
        keep_from = target - REORG_WINDOW + 1
        while start <= target:
            end = min(target, start + BLOCKS_PER_QUERY - 1)
            self._apply_range(start, end, keep_from)
            indexed, start = end, end + 1
        return self._start_block - 1 if indexed is None else indexed

    def _checked_checkpoint(self) -> int | None:
        """The indexed block, after rolling back to the common ancestor if the node's chain forked."""
        with self._sessions() as session:
            checkpoint = session.get(IndexerCheckpoint, CHECKPOINT)
            if checkpoint is None:
                return None
            number, stored_hash = checkpoint.block_number, checkpoint.block_hash
            kept = session.execute(
                select(IndexedBlock.block_number, IndexedBlock.block_hash)
                .where(IndexedBlock.block_number < number)
                .order_by(IndexedBlock.block_number.desc())
            ).all()
        if self._node_hash(number) == stored_hash:
            return number  # kept blocks chain up to the checkpoint by parent hash, so they match too
        log.warning("block %d is no longer %s on the node: the chain was reorganised", number, stored_hash)
        for kept_number, kept_hash in kept:
            if self._node_hash(kept_number) == kept_hash:
                self._rollback(kept_number)
                return kept_number
        raise ReorganisationTooDeep(
            f"none of the last {len(kept) + 1} indexed blocks is on the node's chain any more: a "
            f"reorganisation deeper than {REORG_WINDOW} blocks, or another chain; run `symledger reindex`"
        )

    def _node_hash(self, number: int) -> str | None:
        header = self._gateway.block_header(number)
        return header.hash if header else None

    def _rollback(self, ancestor: int) -> None:
        with self._sessions.begin() as session:
            kept = session.get(IndexedBlock, ancestor)
            ancestor_hash = kept.block_hash if kept else self._header(ancestor).hash
            session.execute(delete(ChainEvent).where(ChainEvent.block_number > ancestor))
            session.execute(delete(IndexedBlock).where(IndexedBlock.block_number > ancestor))
            for table in reversed(self._derived):
                if table.name not in _CHAIN_RECORDS:
                    session.execute(delete(table))
            replayed = self._replay(session)
            checkpoint = session.get_one(IndexerCheckpoint, CHECKPOINT)
            checkpoint.block_number, checkpoint.block_hash = ancestor, ancestor_hash
            for hook in self._rollback_hooks:
                hook(session, ancestor)
        log.warning("read model rolled back to block %d (%d events replayed)", ancestor, replayed)

    def _replay(self, session: Session) -> int:
        """Applies the chain events kept in the database to the emptied read model, in chain order."""
        rows = session.execute(
            select(
                ChainEvent.contract,
                ChainEvent.event,
                ChainEvent.args,
                ChainEvent.block_number,
                ChainEvent.block_hash,
                ChainEvent.block_time,
                ChainEvent.tx_hash,
                ChainEvent.log_index,
            ).order_by(ChainEvent.block_number, ChainEvent.log_index)
        ).all()
        for row in rows:
            handler = _HANDLERS.get(row.event)
            if handler is not None:
                event = DecodedEvent(
                    address=row.contract,
                    event=row.event,
                    args=self._gateway.restore_event_args(row.event, row.args),
                    block_number=row.block_number,
                    block_hash=row.block_hash,
                    tx_hash=row.tx_hash,
                    log_index=row.log_index,
                )
                # As the node gives it: SQLite hands stored times back without their UTC offset.
                time = row.block_time if row.block_time.tzinfo else row.block_time.replace(tzinfo=UTC)
                handler(session, event, time)
        return len(rows)

    def _apply_range(self, start: int, end: int, keep_from: int) -> None:
        kept_numbers = range(max(start, keep_from), end + 1)
        headers = {number: self._header(number) for number in sorted({start, end, *kept_numbers})}
        events = self._gateway.events(start, end)
        for number in sorted({event.block_number for event in events} - headers.keys()):
            headers[number] = self._header(number)
        for event in events:
            if event.block_hash != headers[event.block_number].hash:
                raise ChainMoved(f"event {event.tx_hash}/{event.log_index} is from another block")
        for number in kept_numbers[1:]:
            if headers[number].parent_hash != headers[number - 1].hash:
                raise ChainMoved(f"block {number} does not follow block {number - 1} as read")
        # Unchanged since the headers were read, so the logs read in between are of the same chain.
        if self._node_hash(end) != headers[end].hash:
            raise ChainMoved(f"block {end} changed while its range was read")
        with self._sessions.begin() as session:
            previous = session.get(IndexedBlock, start - 1)
            if previous is not None and headers[start].parent_hash != previous.block_hash:
                raise ChainMoved(f"block {start} does not follow the indexed block {start - 1}")
            kept = _load_referenced(session, events)
            # The rows the handlers add are kept too: a receipt then finds the transfer dispatched earlier in
            # the range in the session, not by a query (a reindex applies both in one range).
            orm_events.listen(session, "transient_to_pending", lambda _session, row: kept.append(row))
            evidence = [self._apply(session, event, headers[event.block_number].time) for event in events]
            if evidence:
                session.execute(insert(ChainEvent), evidence)
            for number in kept_numbers:
                session.add(IndexedBlock(block_number=number, block_hash=headers[number].hash))
            session.execute(delete(IndexedBlock).where(IndexedBlock.block_number <= end - REORG_WINDOW))
            checkpoint = session.get(IndexerCheckpoint, CHECKPOINT)
            if checkpoint is None:
                session.add(
                    IndexerCheckpoint(name=CHECKPOINT, block_number=end, block_hash=headers[end].hash)
                )
            else:
                checkpoint.block_number, checkpoint.block_hash = end, headers[end].hash
        if events:
            log.info("indexed %d events in blocks %d-%d", len(events), start, end)

    def _header(self, number: int) -> BlockHeader:
        header = self._gateway.block_header(number)
        if header is None:
            raise ChainMoved(f"block {number} is gone from the node's chain")
        return header

    @staticmethod
    def _apply(session: Session, event: DecodedEvent, block_time: datetime) -> dict[str, Any]:
        """Applies the event to the read model; returns its ChainEvent row, for the caller to insert with the
        range's others (in one statement: nothing reads them back before the range is committed)."""
        handler = _HANDLERS.get(event.event)
        if handler is None:
            log.warning("no read-model rule for event %s; kept as evidence only", event.event)
            subject = event.tx_hash
        else:
            subject = handler(session, event, block_time)
        return {
            "block_number": event.block_number,
            "block_hash": event.block_hash,
            "block_time": block_time,
            "tx_hash": event.tx_hash,
            "log_index": event.log_index,
            "contract": event.address,
            "event": event.event,
            "subject": subject,
            "args": _json_args(event.args),
        }


_Row = TypeVar("_Row", Participant, Permit, Lot, Certificate, Transfer)
# Each handler applies one event to the read model and returns the id of the record it concerns.
Handler = Callable[[Session, DecodedEvent, datetime], str]


def _participant_registered(session: Session, event: DecodedEvent, block_time: datetime) -> str:
    a = event.args
    session.add(
        Participant(
            address=a["participant"],
            roles=a["roles"],
            legal_name=a["legalName"],
            enterprise_id=a["enterpriseId"],
            park=a["park"],
            status="active",
            registered_by=None if a["regulator"] == ZERO_ADDRESS else a["regulator"],
            registered_tx=event.tx_hash,
            registered_block=event.block_number,
            registered_at=block_time,
        )
    )
    return a["participant"]


def _participant_status(session: Session, event: DecodedEvent, _time: datetime) -> str:
    a = event.args
    participant = _existing(session, Participant, a["participant"], event)
    participant.status = "suspended" if event.event == "ParticipantSuspended" else "active"
    participant.status_reason = a["reason"]
    participant.status_changed_tx = event.tx_hash
    return a["participant"]


def _waste_code_registered(session: Session, event: DecodedEvent, _time: datetime) -> str:
    a = event.args
    session.add(
        WasteCode(
            code_key=a["codeKey"],
            catalogue_id=a["id"],
            scheme=a["scheme"],
            code=a["code"],
            unit=a["unit"],
            hazardous=a["hazardous"],
            description=a["description"],
            registered_by=a["regulator"],
            registered_tx=event.tx_hash,
        )
    )
    return a["codeKey"]


def _permit_registered(session: Session, event: DecodedEvent, _time: datetime) -> str:
    a = event.args
    session.add(
        Permit(
            permit_id=a["permitId"],
            permit_number=a["permitNumber"],
            holder=a["holder"],
            kind=PermitKind.of(a["kind"]).value,
            coverage=[
                {"code_key": item["codeKey"], "operations": operation_names(item["operations"])}
                for item in a["coverage"]
            ],
            yearly_capacity=a["yearlyCapacity"],
            valid_from=datetime.fromtimestamp(a["validFrom"], UTC),
            valid_until=datetime.fromtimestamp(a["validUntil"], UTC),
            revoked=False,
            registered_by=a["regulator"],
            registered_tx=event.tx_hash,
        )
    )
    return a["permitId"]


def _permit_revoked(session: Session, event: DecodedEvent, _time: datetime) -> str:
    permit = _existing(session, Permit, event.args["permitId"], event)
    permit.revoked = True
    permit.revoked_reason = event.args["reason"]
    return permit.permit_id


def _lot_generated(session: Session, event: DecodedEvent, block_time: datetime) -> str:
    a = event.args
    _open_lot(
        session, event, block_time, a["lotId"], a["generator"], a["codeKey"], "generated", a["quantity"],
        document_hash=a["documentHash"],
    )  # fmt: skip
    return a["lotId"]


def _certificate_issued(session: Session, event: DecodedEvent, block_time: datetime) -> str:
    a = event.args
    session.add(
        Certificate(
            id=a["certificateId"],
            lot_id=a["lotId"],
            lab=a["lab"],
            accreditation_id=a["accreditationId"],
            document_hash=a["documentHash"],
            results_hash=a["resultsHash"],
            valid_until=datetime.fromtimestamp(a["validUntil"], UTC),
            revoked=False,
            issued_tx=event.tx_hash,
            issued_at=block_time,
        )
    )
    return a["certificateId"]


def _certificate_revoked(session: Session, event: DecodedEvent, _time: datetime) -> str:
    certificate = _existing(session, Certificate, event.args["certificateId"], event)
    certificate.revoked = True
    certificate.revoked_reason = event.args["reason"]
    return certificate.id


def _transfer_dispatched(session: Session, event: DecodedEvent, block_time: datetime) -> str:
    a = event.args
    lot = _existing(session, Lot, a["lotId"], event)
    lot.balance -= a["quantity"]
    session.add(
        Transfer(
            id=a["transferId"],
            shipper=a["shipper"],
            receiver=a["receiver"],
            lot_id=a["lotId"],
            code_key=lot.code_key,
            quantity=a["quantity"],
            operation=OPERATIONS[a["operation"]],
            permit_id=a["permitId"],
            certificates=a["certificates"],
            transporters=[],
            licences=[],
            legs_picked_up=0,
            legs_delivered=0,
            document_hash=a["documentHash"],
            status="dispatched",
            dispatch_tx=event.tx_hash,
            dispatch_block=event.block_number,
            dispatched_at=block_time,
        )
    )
    return a["transferId"]


def _transfer_carried(session: Session, event: DecodedEvent, _time: datetime) -> str:
    transfer = _existing(session, Transfer, event.args["transferId"], event)
    transfer.transporters = event.args["transporters"]
    transfer.licences = event.args["licences"]
    transfer.status = "awaiting_pick_up"
    return transfer.id


def _leg(session: Session, event: DecodedEvent, _time: datetime) -> str:
    transfer = _existing(session, Transfer, event.args["transferId"], event)
    leg = event.args["leg"]
    if event.event == "LegPickedUp":
        transfer.legs_picked_up = leg + 1
        transfer.status = "in_transit"
    else:
        transfer.legs_delivered = leg + 1
        if leg + 1 == len(transfer.transporters):
            transfer.status = "delivered"
    return transfer.id


def _transfer_received(session: Session, event: DecodedEvent, block_time: datetime) -> str:
    a = event.args
    transfer = _existing(session, Transfer, a["transferId"], event)
    transfer.status = "received"
    transfer.received_quantity = a["receivedQuantity"]
    transfer.receipt_tx = event.tx_hash
    transfer.receipt_block = event.block_number
    transfer.received_at = block_time
    _open_received_lot(session, event, block_time, transfer, a["receivedQuantity"])
    return transfer.id


_HANDLERS: dict[str, Handler] = {
    "ParticipantRegistered": _participant_registered,
    "ParticipantSuspended": _participant_status,
    "ParticipantReinstated": _participant_status,
    "WasteCodeRegistered": _waste_code_registered,
    "PermitRegistered": _permit_registered,
    "PermitRevoked": _permit_revoked,
    "LotGenerated": _lot_generated,
    "CertificateIssued": _certificate_issued,
    "CertificateRevoked": _certificate_revoked,
    "TransferDispatched": _transfer_dispatched,
    "TransferCarried": _transfer_carried,
    "LegPickedUp": _leg,
    "LegDelivered": _leg,
    "TransferReceived": _transfer_received,
}


def _open_lot(
    session: Session,
    event: DecodedEvent,
    block_time: datetime,
    lot_id: str,
    holder: str,
    code_key: str,
    origin: str,
    quantity: int,
    **details: Any,
) -> None:
    """Adds the lot an event opened, holding all of `quantity`, with the event as its evidence."""
    session.add(
        Lot(
            id=lot_id,
            holder=holder,
            code_key=code_key,
            origin=origin,
            quantity=quantity,
            balance=quantity,
            created_tx=event.tx_hash,
            created_block=event.block_number,
            created_at=block_time,
            **details,
        )
    )


def _open_received_lot(
    session: Session, event: DecodedEvent, block_time: datetime, transfer: Transfer, quantity: int
) -> None:
    # The receiver's lot has the transfer's id (Transfers.confirmReceipt, Returns.reject).
    _open_lot(
        session, event, block_time, transfer.id, transfer.receiver, transfer.code_key, "received", quantity,
        source_transfer=transfer.id,
    )  # fmt: skip


# Event arguments naming a row that handlers look up (`_existing`), and the row's model.
_REFERENCES: tuple[tuple[str, type[Transfer] | type[Lot]], ...] = (("transferId", Transfer), ("lotId", Lot))
_IN_LIST = 500  # ids in one IN (...) list: well below every database's limit on bound parameters


def _load_referenced(session: Session, events: list[DecodedEvent]) -> list[Any]:
    """Loads the transfers and lots the events name with a query for each 500, so that the handlers find
    them in the session instead of asking one by one. The caller holds the list until its transaction
    ends: the session keeps unchanged rows only while something else refers to them."""
    loaded: list[Any] = []
    for arg, model in _REFERENCES:
        ids = sorted({str(e.args[arg]) for e in events if arg in e.args})
        for i in range(0, len(ids), _IN_LIST):
            loaded.extend(session.scalars(select(model).where(model.id.in_(ids[i : i + _IN_LIST]))))
    return loaded


def _existing(session: Session, model: type[_Row], key: str, event: DecodedEvent) -> _Row:
    row = session.get(model, key)
    if row is None:
        raise RuntimeError(f"{event.event} in tx {event.tx_hash} refers to unknown {model.__name__} {key}")
    return row


def _json_args(args: dict[str, Any]) -> dict[str, Any]:
    # uint256 values do not fit JSON numbers everywhere: keep them as decimal text.
    def plain(value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return str(value)
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return {k: plain(v) for k, v in args.items()}


# --- rejections, returns, corrections and batches (svc-workflows) --------------------------------------

from ledger_service.db.models import Correction, Rejection  # noqa: E402

# TransferReturned's operation for a return to the shipper: no treatment operation at all.
NO_OPERATION = 255
ZERO_BYTES32 = "0x" + "00" * 32
# Statuses in which the receiver holds the transfer's lot: a correction of what it received moves that lot.
HOLDS_LOT = ("received", "partially_rejected", "corrected")


def _transfer_rejected(session: Session, event: DecodedEvent, block_time: datetime) -> str:
    a = event.args
    transfer = _existing(session, Transfer, a["transferId"], event)
    accepted = a["acceptedQuantity"]
    transfer.status = "partially_rejected" if accepted else "rejected"
    session.add(
        Rejection(
            transfer_id=transfer.id,
            receiver=a["receiver"],
            accepted_quantity=accepted,
            rejected_quantity=a["rejectedQuantity"],
            shipped_quantity=a["shippedQuantity"],
            reason=a["reason"],
            rejection_tx=event.tx_hash,
            rejection_block=event.block_number,
            rejected_at=block_time,
        )
    )
    if accepted:
        # What it accepted opens the receiver's lot as a receipt would (Returns.reject).
        transfer.received_quantity = accepted
        transfer.receipt_tx, transfer.receipt_block, transfer.received_at = (
            event.tx_hash,
            event.block_number,
            block_time,
        )
        _open_received_lot(session, event, block_time, transfer, accepted)
    return transfer.id


def _transfer_returned(session: Session, event: DecodedEvent, block_time: datetime) -> str:
    a = event.args
    rejected = _existing(session, Transfer, a["transferId"], event)
    rejection = _existing(session, Rejection, a["transferId"], event)
    operation = None if a["operation"] == NO_OPERATION else OPERATIONS[a["operation"]]
    rejection.return_id, rejection.return_to = a["returnId"], a["returnTo"]
    rejection.return_permit_id, rejection.return_operation = a["permitId"], operation
    # The return is a transfer of its own, from the rejecting receiver, closed by its receiver's receipt.
    session.add(
        Transfer(
            id=a["returnId"],
            shipper=rejected.receiver,
            receiver=a["returnTo"],
            lot_id=rejected.lot_id,
            code_key=rejected.code_key,
            quantity=a["quantity"],
            operation=operation or "",
            permit_id=a["permitId"],
            certificates=rejected.certificates,
            transporters=[],
            licences=[],
            legs_picked_up=0,
            legs_delivered=0,
            document_hash=rejected.document_hash,
            status="returning",
            dispatch_tx=event.tx_hash,
            dispatch_block=event.block_number,
            dispatched_at=block_time,
        )
    )
    return a["returnId"]


def _correction_proposed(session: Session, event: DecodedEvent, block_time: datetime) -> str:
    a = event.args
    session.add(
        Correction(
            id=a["correctionId"],
            transfer_id=a["transferId"],
            proposer=a["proposer"],
            counterparty=a["counterparty"],
            shipped_delta=a["shippedDelta"],
            received_delta=a["receivedDelta"],
            document_hash=a["documentHash"],
            reason=a["reason"],
            status="pending",
            proposed_tx=event.tx_hash,
            proposed_block=event.block_number,
            proposed_log_index=event.log_index,
            proposed_at=block_time,
        )
    )
    return a["correctionId"]


def _transfer_corrected(session: Session, event: DecodedEvent, block_time: datetime) -> str:
    correction = _existing(session, Correction, event.args["correctionId"], event)
    correction.status = "applied"
    correction.countersigned_tx = event.tx_hash
    correction.countersigned_block = event.block_number
    correction.countersigned_at = block_time
    transfer = _existing(session, Transfer, correction.transfer_id, event)
    # The agreed deltas move the lots as Corrections._applyDeltas does; the history stays in `corrections`.
    if correction.shipped_delta:
        _existing(session, Lot, transfer.lot_id, event).balance -= correction.shipped_delta
        transfer.quantity += correction.shipped_delta
    if correction.received_delta:
        received_lot = _existing(session, Lot, transfer.id, event)
        received_lot.balance += correction.received_delta
        received_lot.quantity += correction.received_delta
        transfer.received_quantity = (transfer.received_quantity or 0) + correction.received_delta
    if correction.document_hash != ZERO_BYTES32:
        transfer.document_hash = correction.document_hash
    if transfer.status in HOLDS_LOT:
        transfer.status = "corrected"
    return correction.id


def _batch_item_refused(_session: Session, event: DecodedEvent, _time: datetime) -> str:
    # Nothing of a refused item is recorded; the event stays as evidence of the batch transaction.
    return event.tx_hash


_HANDLERS.update(
    {
        "TransferRejected": _transfer_rejected,
        "TransferReturned": _transfer_returned,
        "CorrectionProposed": _correction_proposed,
        "TransferCorrected": _transfer_corrected,
        "BatchItemRefused": _batch_item_refused,
    }
)


# --- processing and metered flows ------------------------------------------------------------------
# The modules' events. A processing emits OutputLotOpened for each output, then ProcessingRecorded: the
# module takes the inputs from their lots (ledger hooks, which emit nothing) as it records the processing.

from ledger_service.db.models import LotLineage, LotUse, MeteredFlow, MeteredPeriod, Processing  # noqa: E402
from ledger_service.statements import OUTPUT_KINDS, output_lot_id  # noqa: E402


def _output_lot_opened(session: Session, event: DecodedEvent, block_time: datetime) -> str:
    a = event.args
    _open_lot(session, event, block_time, a["lotId"], a["holder"], a["codeKey"], "produced", a["quantity"])
    return a["lotId"]


def _processing_recorded(session: Session, event: DecodedEvent, block_time: datetime) -> str:
    a = event.args
    processing_id = a["processingId"]
    inputs = [
        {
            "lot_id": i["lotId"],
            "code_key": i["codeKey"],
            "quantity": i["quantity"],
            "grams_per_unit": i["gramsPerUnit"],
        }
        for i in a["inputs"]
    ]
    outputs = [
        {
            "lot_id": output_lot_id(processing_id, n),
            "kind": OUTPUT_KINDS[o["kind"]],
            "code_key": o["codeKey"],
            "quantity": o["quantity"],
            "grams_per_unit": o["gramsPerUnit"],
        }
        for n, o in enumerate(a["outputs"])
    ]
    for position, item in enumerate(inputs):
        _existing(session, Lot, item["lot_id"], event).balance -= item["quantity"]
        session.add(
            LotLineage(
                processing_id=processing_id,
                lot_id=item["lot_id"],
                role="input",
                position=position,
                quantity=str(item["quantity"]),
            )
        )
    for position, item in enumerate(outputs):
        session.add(
            LotLineage(
                processing_id=processing_id,
                lot_id=item["lot_id"],
                role="output",
                position=position,
                kind=item["kind"],
                quantity=str(item["quantity"]),
            )
        )
    session.add(
        Processing(
            id=processing_id,
            processor=a["processor"],
            inputs=inputs,
            external_inputs=[
                {"material": e["material"], "grams": e["grams"], "document_hash": e["documentHash"]}
                for e in a["externalInputs"]
            ],
            outputs=outputs,
            input_grams=str(a["inputGrams"]),
            output_grams=str(a["outputGrams"]),
            loss_grams=str(a["lossGrams"]),
            loss_description=a["lossDescription"],
            document_hash=a["documentHash"],
            recorded_tx=event.tx_hash,
            recorded_block=event.block_number,
            recorded_at=block_time,
        )
    )
    return processing_id


def _lot_used(session: Session, event: DecodedEvent, block_time: datetime) -> str:
    a = event.args
    _existing(session, Lot, a["lotId"], event).balance -= a["quantity"]
    session.add(
        LotUse(
            id=a["useId"],
            lot_id=a["lotId"],
            holder=a["holder"],
            quantity=str(a["quantity"]),
            use=a["use"],
            document_hash=a["documentHash"],
            declared_tx=event.tx_hash,
            declared_at=block_time,
        )
    )
    return a["lotId"]


def _flow_registered(session: Session, event: DecodedEvent, block_time: datetime) -> str:
    a = event.args
    session.add(
        MeteredFlow(
            id=a["flowId"],
            supplier=a["supplier"],
            offtaker=a["offtaker"],
            medium=a["medium"],
            unit=a["unit"],
            meter_id=a["meterId"],
            period_seconds=a["periodSeconds"],
            first_period_start=a["firstPeriodStart"],
            next_period=0,
            registered_tx=event.tx_hash,
            registered_block=event.block_number,
            registered_at=block_time,
        )
    )
    return a["flowId"]


def _periods_anchored(session: Session, event: DecodedEvent, block_time: datetime) -> str:
    a = event.args
    flow = session.get(MeteredFlow, a["flowId"])
    if flow is None:
        raise RuntimeError(f"PeriodsAnchored in tx {event.tx_hash} refers to unknown flow {a['flowId']}")
    first = a["firstPeriod"]
    for i, (quantity, reading_hash) in enumerate(zip(a["quantities"], a["readingHashes"], strict=True)):
        session.add(
            MeteredPeriod(
                flow_id=flow.id,
                period=first + i,
                quantity=str(quantity),
                reading_hash=reading_hash,
                anchored_tx=event.tx_hash,
                anchored_block=event.block_number,
                anchored_at=block_time,
            )
        )
    flow.next_period = first + len(a["quantities"])
    return flow.id


_HANDLERS.update(
    {
        "OutputLotOpened": _output_lot_opened,
        "ProcessingRecorded": _processing_recorded,
        "LotUsed": _lot_used,
        "FlowRegistered": _flow_registered,
        "PeriodsAnchored": _periods_anchored,
    }
)

# --- end processing and metered flows --------------------------------------------------------------


# --- regulator actions -----------------------------------------------------------------------------

from ledger_service.db.models import CorrectionRequest  # noqa: E402


def _correction_requested(session: Session, event: DecodedEvent, block_time: datetime) -> str:
    a = event.args
    session.add(
        CorrectionRequest(
            id=a["requestId"],
            transfer_id=a["transferId"],
            regulator=a["regulator"],
            reason=a["reason"],
            report_hash=a["reportHash"],
            requested_tx=event.tx_hash,
            requested_block=event.block_number,
            requested_log_index=event.log_index,
            requested_at=block_time,
        )
    )
    return a["requestId"]


_HANDLERS["CorrectionRequested"] = _correction_requested

# --- end regulator actions -------------------------------------------------------------------------
