"""The indexer: turns chain events into the SQL read model, resuming from its checkpoint.

Each range of blocks is applied in one database transaction together with the checkpoint, so a crash
leaves either all of a range or none of it, and a restart continues where the last commit stopped.
"""

import logging
import threading
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from ledger_service.chain.gateway import ChainGateway, DecodedEvent
from ledger_service.db.models import ChainEvent, IndexerCheckpoint, Participant, Transfer

log = logging.getLogger(__name__)

CHECKPOINT = "ledger"
ZERO_ADDRESS = "0x" + "0" * 40
BLOCKS_PER_QUERY = 2_000


class Indexer:
    def __init__(self, gateway: ChainGateway, sessions: sessionmaker[Session], start_block: int) -> None:
        self._gateway = gateway
        self._sessions = sessions
        self._start_block = start_block
        self._lock = threading.Lock()

    def indexed_block(self) -> int | None:
        with self._sessions() as session:
            checkpoint = session.get(IndexerCheckpoint, CHECKPOINT)
            return checkpoint.block_number if checkpoint else None

    def sync(self, to_block: int | None = None) -> int:
        """Applies every event up to `to_block` (default: the chain head); returns the indexed block."""
        with self._lock:
            head = self._gateway.block_number() if to_block is None else to_block
            indexed = self.indexed_block()
            start = self._start_block if indexed is None else indexed + 1
            while start <= head:
                end = min(head, start + BLOCKS_PER_QUERY - 1)
                self._apply_range(start, end)
                start = end + 1
            return max(head, indexed or 0)

    def _apply_range(self, start: int, end: int) -> None:
        events = self._gateway.events(start, end)
        end_hash, _ = self._gateway.block(end)
        times: dict[int, datetime] = {}
        with self._sessions.begin() as session:
            for event in events:
                if event.block_number not in times:
                    times[event.block_number] = self._gateway.block(event.block_number)[1]
                self._apply(session, event, times[event.block_number])
            checkpoint = session.get(IndexerCheckpoint, CHECKPOINT)
            if checkpoint is None:
                session.add(IndexerCheckpoint(name=CHECKPOINT, block_number=end, block_hash=end_hash))
            else:
                checkpoint.block_number, checkpoint.block_hash = end, end_hash
        if events:
            log.info("indexed %d events in blocks %d-%d", len(events), start, end)

    @staticmethod
    def _apply(session: Session, event: DecodedEvent, block_time: datetime) -> None:
        a = event.args
        if event.event == "ParticipantRegistered":
            subject = a["participant"]
            session.add(
                Participant(
                    address=subject,
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
        elif event.event in ("ParticipantSuspended", "ParticipantReinstated"):
            subject = a["participant"]
            participant = session.get(Participant, subject)
            if participant is None:
                raise RuntimeError(f"{event.event} for unknown participant {subject}")
            participant.status = "suspended" if event.event == "ParticipantSuspended" else "active"
            participant.status_reason = a["reason"]
            participant.status_changed_tx = event.tx_hash
        elif event.event == "TransferDispatched":
            subject = a["transferId"]
            session.add(
                Transfer(
                    id=subject,
                    shipper=a["shipper"],
                    receiver=a["receiver"],
                    lot_id=a["lotId"],
                    waste_code=a["wasteCode"],
                    quantity=a["quantity"],
                    unit=a["unit"],
                    document_hash=a["documentHash"],
                    status="dispatched",
                    dispatch_nonce=str(a["nonce"]),
                    dispatch_tx=event.tx_hash,
                    dispatch_block=event.block_number,
                    dispatched_at=block_time,
                )
            )
        elif event.event == "TransferReceived":
            subject = a["transferId"]
            transfer = session.get(Transfer, subject)
            if transfer is None:
                raise RuntimeError(f"receipt for unknown transfer {subject}")
            transfer.status = "received"
            transfer.received_quantity = a["receivedQuantity"]
            transfer.receipt_nonce = str(a["nonce"])
            transfer.receipt_tx = event.tx_hash
            transfer.receipt_block = event.block_number
            transfer.received_at = block_time
        else:
            log.warning("no read-model rule for event %s; kept as evidence only", event.event)
            subject = event.tx_hash
        session.add(
            ChainEvent(
                block_number=event.block_number,
                block_hash=event.block_hash,
                block_time=block_time,
                tx_hash=event.tx_hash,
                log_index=event.log_index,
                contract=event.address,
                event=event.event,
                subject=subject,
                args={
                    k: str(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in a.items()
                },
            )
        )
