"""The relayer: takes a party's signed statement to the chain without ever losing it.

A statement is first simulated (so one the contract would refuse is answered at once and leaves no
trace), then committed to the outbox (`signed_payloads`), and only then sent. Whatever happens after
the commit — the node down, the service killed — `resume()` finds the statement and finishes the job.
The digest of the statement is unique in the outbox, so a client that retries the same signed
statement gets the same submission back instead of a second one.
"""

import json
import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from web3.exceptions import Web3RPCError

from ledger_service.chain.gateway import ChainGateway, ContractRejection, NodeUnavailable
from ledger_service.db.models import SignedPayload
from ledger_service.indexer import Indexer
from ledger_service.statements import STATEMENTS, Statement

log = logging.getLogger(__name__)

# pending: accepted, no transaction yet; sent: a transaction with this hash was signed and handed to
# the node (which may have lost it, or mined it in a block not yet `confirmations` deep); recorded: mined
# and indexed (back to sent if a reorganisation drops its block); failed: refused by the contract.
PENDING, SENT, RECORDED, FAILED = "pending", "sent", "recorded", "failed"


class SubmissionInProgress(Exception):
    """The same signed statement is being checked by a concurrent request and is not accepted yet."""


class Relayer:
    def __init__(
        self,
        gateway: ChainGateway,
        sessions: sessionmaker[Session],
        indexer: Indexer,
        *,
        receipt_timeout: float,
        receipt_poll: float,
        max_batch_gas: int = 25_000_000,
    ) -> None:
        self._gateway = gateway
        self._sessions = sessions
        self._indexer = indexer
        self._receipt_timeout = receipt_timeout
        self._receipt_poll = receipt_poll
        self._max_batch_gas = max_batch_gas
        # Digests being worked on in this process, so the background resume never sends a statement
        # that a request is sending at the same moment.
        self._in_flight: set[str] = set()
        self._in_flight_lock = threading.Lock()
        indexer.on_rollback(self._reopen_dropped)

    def submit(
        self,
        statement: Statement,
        message: dict[str, Any],
        signature: bytes,
        digest: bytes,
        context: dict[str, Any] | None = None,
        *,
        signer: str | None = None,
    ) -> SignedPayload:
        """Records a signed statement; raises ContractRejection or NodeUnavailable before accepting it.

        `signer`: who signed, where the message names someone else (a correction's countersignature)."""
        digest_hex = "0x" + digest.hex()
        with self._claim(digest_hex) as claimed:
            if not claimed:  # a concurrent request is sending this very statement
                existing = self.find(digest_hex)
                if existing is None:
                    raise SubmissionInProgress(digest_hex)
                return existing
            return self._submit(statement, message, signature, digest_hex, context, signer)

    def _submit(
        self,
        statement: Statement,
        message: dict[str, Any],
        signature: bytes,
        digest_hex: str,
        context: dict[str, Any] | None,
        signer: str | None = None,
    ) -> SignedPayload:
        existing = self.find(digest_hex)
        if existing is not None:
            return self._advance(existing)
        call = self._gateway.statement_call(statement, message, signature, context)
        gas = self._gateway.simulate(call)
        payload = self._outbox_row(statement, message, signature, digest_hex, context, signer)
        try:
            with self._sessions.begin() as session:
                session.add(payload)
        except IntegrityError:
            # The same statement arrived through a concurrent request, which owns sending it.
            existing = self.find(digest_hex)
            if existing is None:
                raise
            return existing
        return self._send(payload, gas)

    def find(self, digest_hex: str) -> SignedPayload | None:
        with self._sessions() as session:
            return session.scalar(select(SignedPayload).where(SignedPayload.digest == digest_hex))

    def resume(self) -> int:
        """Sends or settles every statement accepted but not yet recorded; returns how many remain open."""
        with self._sessions() as session:
            open_payloads = session.scalars(
                select(SignedPayload)
                .where(SignedPayload.status.in_((PENDING, SENT)))
                .order_by(SignedPayload.id)
            ).all()
        remaining = 0
        for payload in open_payloads:
            with self._claim(payload.digest) as claimed:
                if claimed and self._advance(payload).status in (PENDING, SENT):
                    remaining += 1
        return remaining

    @contextmanager
    def _claim(self, digest_hex: str) -> Iterator[bool]:
        with self._in_flight_lock:
            claimed = digest_hex not in self._in_flight
            self._in_flight.add(digest_hex)
        try:
            yield claimed
        finally:
            if claimed:
                with self._in_flight_lock:
                    self._in_flight.discard(digest_hex)

    def _advance(self, payload: SignedPayload) -> SignedPayload:
        if payload.status == SENT and payload.tx_hash:
            receipt = self._gateway.receipt(payload.tx_hash)
            if receipt is not None:
                return self._settle(payload, receipt)
            if self._gateway.transaction_known(payload.tx_hash):
                return payload
            log.warning(
                "transaction %s of statement %s was lost by the node; resending",
                payload.tx_hash,
                payload.digest,
            )
            # Its nonce is free again, and so may be every later one (a node restarted from an older state
            # lost them all): the relayer's own count would leave a gap the node never mines past.
            self._gateway.forget_tx_nonce()
        if payload.status not in (PENDING, SENT):
            return payload
        try:
            gas = self._gateway.simulate(self._call_for(payload))
        except ContractRejection as rejection:
            if rejection.error == "AlreadyRecorded" and rejection.details.get("id") == payload.digest:
                # Its record exists: an earlier transaction of ours (or another relayer) got it on chain.
                self._indexer.sync()
                return self._update(payload, status=RECORDED)
            return self._fail(payload, rejection)
        return self._send(payload, gas)

    def _send(self, payload: SignedPayload, gas: int) -> SignedPayload:
        def record_hash(tx_hash: str) -> None:
            nonlocal payload
            payload = self._update(payload, status=SENT, tx_hash=tx_hash)

        try:
            tx_hash = self._gateway.send(self._call_for(payload), gas + gas // 5, on_signed=record_hash)
        except (NodeUnavailable, Web3RPCError) as exc:
            # Kept in the outbox: resume() finds the transaction by its hash or sends it again.
            log.warning("statement %s not sent now, kept in the outbox: %s", payload.digest, exc)
            return payload
        try:
            receipt = self._gateway.wait_for_receipt(tx_hash, self._receipt_timeout, self._receipt_poll)
            return payload if receipt is None else self._settle(payload, receipt)
        except NodeUnavailable as exc:
            # Sent, and the node went away before it answered for it: still accepted; resume() settles it.
            log.warning(
                "statement %s sent; the node stopped answering before it was settled: %s", payload.digest, exc
            )
            return payload

    def _settle(self, payload: SignedPayload, receipt: dict[str, Any]) -> SignedPayload:
        if receipt["status"] == 1:
            block, block_hash = int(receipt["blockNumber"]), "0x" + bytes(receipt["blockHash"]).hex()
            refusal = self._batch_refusal(payload, receipt)  # svc-workflows: an item of a batch
            if refusal is not None:
                self._indexer.sync(block)
                return self._fail(payload, refusal)
            self._indexer.sync(block)
            if not self._indexer.includes(block, block_hash):
                # Mined but not `confirmations` deep yet (or its block was just replaced): it stays sent,
                # and resume() settles it once the indexer has applied its block.
                return payload
            return self._update(payload, status=RECORDED, block_number=block)
        return self._fail(payload, self._gateway.replay_failure(payload.tx_hash or ""))

    def _fail(self, payload: SignedPayload, rejection: ContractRejection) -> SignedPayload:
        log.warning("statement %s refused by the contract: %s", payload.digest, rejection)
        error = json.dumps({"error": rejection.error, "args": rejection.details})
        return self._update(payload, status=FAILED, error=error)

    def _call_for(self, payload: SignedPayload):  # type: ignore[no-untyped-def]
        statement = STATEMENTS[payload.statement]
        return self._gateway.statement_call(
            statement, payload.message, bytes.fromhex(payload.signature[2:]), payload.context
        )

    def _update(self, payload: SignedPayload, **changes: Any) -> SignedPayload:
        with self._sessions.begin() as session:
            row = session.get_one(SignedPayload, payload.id)
            for key, value in changes.items():
                setattr(row, key, value)
            row.updated_at = datetime.now(UTC)
        return row

    def _update_each(self, payloads: Iterable[SignedPayload], changes: dict[int, dict[str, Any]]) -> None:
        """Each outbox record's own changes (by id), in one statement a kind of change, one transaction; the
        records in hand are given the values stored."""
        if not changes:
            return
        now = datetime.now(UTC)
        with self._sessions.begin() as session:
            session.execute(
                update(SignedPayload),
                [{"id": id_, **change, "updated_at": now} for id_, change in changes.items()],
            )
        for payload in payloads:
            if payload.id in changes:
                for key, value in {**changes[payload.id], "updated_at": now}.items():
                    set_committed_value(payload, key, value)

    def _outbox_row(
        self,
        statement: Statement,
        message: dict[str, Any],
        signature: bytes,
        digest_hex: str,
        context: dict[str, Any] | None,
        signer: str | None = None,
    ) -> SignedPayload:
        now = datetime.now(UTC)
        return SignedPayload(
            digest=digest_hex,
            statement=statement.primary_type,
            contract=self._gateway.address_for(statement),
            signer=signer or message[statement.signer_field],
            # A countersignature's nonce is the proposer's, not its signer's.
            nonce=str(message["nonce"]) if "nonce" in message and signer is None else None,
            message=message,
            signature="0x" + signature.hex(),
            context=context,
            status=PENDING,
            created_at=now,
            updated_at=now,
        )

    # --- batches of dispatches (svc-workflows) ------------------------------------------------------

    def submit_batch(
        self, items: list["BatchItem"]
    ) -> list[SignedPayload | ContractRejection | SubmissionInProgress]:
        """Records many signed statements with one recordBatch transaction; answers each item's outcome in
        order: its outbox record (recorded, sent, pending or failed) or the refusal its simulation met, which
        leaves no trace. Items are independent: one refused never holds the others back.

        The outbox guarantees hold item by item: every accepted item is committed before the transaction is
        sent, and `resume()` settles or resends each (alone) after a crash. An item already in the outbox (a
        retried request) is answered from there, as `submit` does."""
        unique = {item.digest_hex: item for item in items}
        outcomes: dict[str, SignedPayload | ContractRejection | SubmissionInProgress] = {}
        with ExitStack() as stack:
            existing = self._find_all(list(unique))
            candidates: list[BatchItem] = []
            for digest_hex, item in unique.items():
                found = existing.get(digest_hex)
                if not stack.enter_context(self._claim(digest_hex)):
                    outcomes[digest_hex] = found or SubmissionInProgress(digest_hex)
                elif found is not None:
                    outcomes[digest_hex] = self._advance(found)
                else:
                    candidates.append(item)
            outcomes.update(self._record_batch(candidates))
        return [outcomes[item.digest_hex] for item in items]

    def _record_batch(self, items: list["BatchItem"]) -> dict[str, SignedPayload | ContractRejection]:
        """Checks the items together and sends those the ledger would record in one transaction, or in
        halves where that would take more than `max_batch_gas` (each half checked again when its turn
        comes, in the state the one before left)."""
        fresh, refused, checked = self._checked(items)
        outcomes: dict[str, SignedPayload | ContractRejection] = dict(refused)
        if checked is not None and checked.gas > self._max_batch_gas and len(fresh) > 1:
            half = len(fresh) // 2
            for part in (fresh[:half], fresh[half:]):
                outcomes.update(self._record_batch([item for item, _calldata in part]))
        elif fresh:
            outcomes.update(self._send_batch(fresh, checked))
        return outcomes

    def _find_all(self, digests: list[str]) -> dict[str, SignedPayload]:
        with self._sessions() as session:
            found = session.scalars(select(SignedPayload).where(SignedPayload.digest.in_(digests)))
            return {payload.digest: payload for payload in found}

    def _checked(
        self, items: list["BatchItem"]
    ) -> tuple[list[tuple["BatchItem", bytes]], dict[str, ContractRejection], "CheckedBatch | None"]:
        """The items the contract would record, the refusal of each it would not, and the recordBatch call
        carrying the former with the gas it was checked under (None: the call must be built and its gas
        estimated again).

        All items are simulated together as the recordBatch call that will carry them (one run for the
        whole batch, each item checked by the contract in the state the items before it leave); an item
        refused there is simulated alone for the refusal to answer."""
        calls = [
            (item, self._gateway.statement_calldata(item.statement, item.message, item.signature))
            for item in items
        ]
        if not calls:
            return [], {}, None
        batch = self._gateway.batch_call([calldata for _item, calldata in calls])
        checked: CheckedBatch | None
        try:
            gas, would_record = self._gateway.simulate_batch(batch)
            checked = CheckedBatch(batch, gas)
        except ContractRejection:  # the batch as a whole would revert: every item is checked alone
            would_record, checked = [False] * len(calls), None
        fresh: list[tuple[BatchItem, bytes]] = []
        refused: dict[str, ContractRejection] = {}
        for (item, calldata), recordable in zip(calls, would_record, strict=True):
            if not recordable:
                try:
                    self._gateway.simulate(
                        self._gateway.statement_call(item.statement, item.message, item.signature)
                    )
                except ContractRejection as rejection:
                    refused[item.digest_hex] = rejection
                    continue
                # Refused only after an earlier item of the batch (both draw on one lot): it is sent with the
                # others, and the ledger's refusal inside the batch (BatchItemRefused) names the reason.
            fresh.append((item, calldata))
        if refused and fresh and checked is not None:
            # Without the refused items, whose changes revert alone: the others need no more gas than checked.
            checked = CheckedBatch(self._gateway.batch_call([data for _item, data in fresh]), checked.gas)
        return fresh, refused, checked

    def _send_batch(
        self, fresh: list[tuple["BatchItem", bytes]], checked: "CheckedBatch | None" = None
    ) -> dict[str, SignedPayload | ContractRejection]:
        rows = [
            self._outbox_row(item.statement, item.message, item.signature, item.digest_hex, {BATCH_INDEX: i})
            for i, (item, _calldata) in enumerate(fresh)
        ]
        committed = False

        def commit(status: str, tx_hash: str | None = None) -> None:
            nonlocal committed
            for row in rows:
                row.status, row.tx_hash = status, tx_hash
            with self._sessions.begin() as session:
                session.add_all(rows)
            committed = True

        try:
            if checked is None:
                batch = self._gateway.batch_call([calldata for _item, calldata in fresh])
                checked = CheckedBatch(batch, self._gateway.simulate_batch(batch)[0])
            # The items are committed once the transaction is signed, with its hash, and before it leaves
            # (one commit, not one to accept them and another for the hash): a crash from then on finds
            # them sent, and resume() looks for the transaction by its hash or sends each item again.
            ledger = self._gateway.ledger_address
            tx_hash = self._gateway.send_data(
                ledger, checked.calldata, checked.gas, on_signed=lambda tx_hash: commit(SENT, tx_hash)
            )
        except IntegrityError:
            # Another service instance took some of them meanwhile: it owns sending those; send the others.
            return self._send_batch_one_by_one(fresh)
        except (NodeUnavailable, Web3RPCError, ContractRejection) as exc:
            # Accepted all the same: resume() finds the transaction by its hash or sends each item again.
            log.warning("batch of %d statements not sent now, kept in the outbox: %s", len(rows), exc)
            if not committed:
                try:
                    commit(PENDING)
                except IntegrityError:
                    return self._send_batch_one_by_one(fresh)
            return {row.digest: row for row in rows}
        payloads = {row.digest: row for row in rows}
        try:
            receipt = self._gateway.wait_for_receipt(tx_hash, self._receipt_timeout, self._receipt_poll)
            if receipt is not None:
                return dict(self._settle_batch(payloads, receipt))
        except NodeUnavailable as exc:
            # Sent, and the node went away before it answered for it: every item is still accepted.
            log.warning("batch of %d statements sent; the node stopped answering: %s", len(rows), exc)
        return dict(payloads)

    def _settle_batch(
        self, payloads: dict[str, SignedPayload], receipt: dict[str, Any]
    ) -> dict[str, SignedPayload]:
        """`_settle` for every item of one mined recordBatch at once: one sync of the indexer, one read of
        the refusals, one database transaction."""
        if receipt["status"] != 1:
            return {d: self._settle(payload, receipt) for d, payload in payloads.items()}
        block, block_hash = int(receipt["blockNumber"]), "0x" + bytes(receipt["blockHash"]).hex()
        refusals = self._gateway.batch_refusals(receipt)
        self._indexer.sync(block)
        # Mined but not `confirmations` deep yet (or its block was just replaced): the recorded items stay
        # sent, and resume() settles them once the indexer has applied their block.
        included = self._indexer.includes(block, block_hash)
        changes: dict[int, dict[str, Any]] = {}
        for payload in payloads.values():
            refusal = refusals.get(int((payload.context or {})[BATCH_INDEX]))
            if refusal is not None:
                log.warning("statement %s refused by the contract: %s", payload.digest, refusal)
                error = json.dumps({"error": refusal.error, "args": refusal.details})
                changes[payload.id] = {"status": FAILED, "error": error}
            elif included:
                changes[payload.id] = {"status": RECORDED, "block_number": block}
        self._update_each(payloads.values(), changes)
        return payloads

    def _send_batch_one_by_one(
        self, fresh: list[tuple["BatchItem", bytes]]
    ) -> dict[str, SignedPayload | ContractRejection]:
        outcomes: dict[str, SignedPayload | ContractRejection] = {}
        for item, _calldata in fresh:
            try:
                outcomes[item.digest_hex] = self._submit(
                    item.statement, item.message, item.signature, item.digest_hex, None
                )
            except ContractRejection as rejection:  # the state moved since it was checked
                outcomes[item.digest_hex] = rejection
        return outcomes

    def _batch_refusal(self, payload: SignedPayload, receipt: dict[str, Any]) -> ContractRejection | None:
        index = (payload.context or {}).get(BATCH_INDEX)
        if index is None:
            return None
        # A batch item resent alone after its batch was lost has a receipt with no BatchItemRefused at all.
        return self._gateway.batch_refusals(receipt).get(int(index))

    # --- reorganisations (ledger_service.indexer) ------------------------------------------------------

    def _reopen_dropped(self, session: Session, ancestor: int) -> None:
        """Runs inside the indexer's rollback: a statement recorded after the common ancestor is sent
        again (its old transaction is looked for first, in case the node kept it in its pool)."""
        reopened = session.execute(
            update(SignedPayload)
            .where(SignedPayload.status == RECORDED, SignedPayload.block_number > ancestor)
            .values(status=SENT, block_number=None, updated_at=datetime.now(UTC))
        ).rowcount
        self._gateway.forget_tx_nonce()
        if reopened:
            log.warning("%d recorded statements were in blocks a reorganisation dropped; resending", reopened)


# The position of a statement in the recordBatch call that carries it (kept in its outbox context).
BATCH_INDEX = "batchIndex"


@dataclass(frozen=True)
class CheckedBatch:
    """A recordBatch call's calldata and the gas limit its items were simulated under."""

    calldata: bytes
    gas: int


@dataclass(frozen=True)
class BatchItem:
    statement: Statement
    message: dict[str, Any]
    signature: bytes
    digest_hex: str
