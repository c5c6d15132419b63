"""Webhook notifications: each change of a transfer's status, posted to its parties' subscriptions.

The notifier reads the `chain_events` the indexer writes (it knows nothing else of the indexer), from its own
checkpoint, and in one transaction per batch turns each status-changing event into one delivery per active
subscription of each party of the transfer. A delivery is unique per subscription and chain event (named by
its block and log index), so a restart, a re-scan or a second service instance never queues it twice.

Delivery is at least once: a receiver may see a message again (a crash after its 2xx, before the service
recorded it) and must deduplicate by the `X-Symledger-Delivery` id. Each message is signed with the
subscription's secret (`signature`); docs/webhooks.md shows a receiver how to check it. A failed attempt is
retried after an exponential back-off with jitter; after the last attempt the delivery is failed, until its
party asks for a redelivery. Every attempt is logged (`webhook_attempts`).
"""

import hashlib
import hmac
import json
import logging
import random
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from ledger_service.db.models import (
    ChainEvent,
    NotifierCheckpoint,
    Participant,
    Transfer,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from ledger_service.settings import Settings

log = logging.getLogger(__name__)

CHECKPOINT = "notifier"
EVENTS_PER_SCAN = 500
ZERO_ADDRESS = "0x" + "0" * 40
QUEUED, DELIVERED, FAILED, CANCELLED = "queued", "delivered", "failed", "cancelled"
SIGNATURE_HEADER = "X-Symledger-Signature"
TIMESTAMP_HEADER = "X-Symledger-Timestamp"
DELIVERY_HEADER = "X-Symledger-Delivery"
# How long a notifier holds a delivery it is sending, beyond the attempt's own timeout: another instance
# takes it over only after that, should this one have died mid-attempt.
LEASE_MARGIN_SECONDS = 60

StatusOf = Callable[[dict[str, Any], Transfer | None], str]


@dataclass(frozen=True)
class Change:
    """How a chain event changes a transfer, and whom to tell.

    `status`: the transfer's status after the event, or a function of the event's args and the transfer's
    row giving it; for the correction events, the kind of change. `transfer`: the arg holding the id of
    the transfer that changed. `related`: args holding other transfers whose parties are told too.
    `parties`: args holding addresses (or lists of them) of parties to tell, besides the read model's
    shipper, receiver and transporters (and instead of them while the read model lacks the transfer).
    """

    status: str | StatusOf
    transfer: str = "transferId"
    related: tuple[str, ...] = ()
    parties: tuple[str, ...] = ()


def _leg_delivered(args: dict[str, Any], transfer: Transfer | None) -> str:
    if transfer is None:
        return "leg_delivered"
    # The last leg's delivery leaves the transfer with the receiver (TransferLedger.deliverLeg).
    return "delivered" if int(args["leg"]) + 1 == len(transfer.transporters) else "in_transit"


def _rejected(args: dict[str, Any], _transfer: Transfer | None) -> str:
    return "rejected" if int(args["acceptedQuantity"]) == 0 else "partially_rejected"


CHANGES: dict[str, Change] = {
    "TransferDispatched": Change("dispatched", parties=("shipper", "receiver")),
    "TransferCarried": Change("awaiting_pick_up", parties=("transporters",)),
    "LegPickedUp": Change("in_transit", parties=("transporter",)),
    "LegDelivered": Change(_leg_delivered, parties=("transporter",)),
    "TransferReceived": Change("received", parties=("receiver",)),
    "TransferRejected": Change(_rejected, parties=("receiver",)),
    # The refused quantity travels back as a new transfer (the return), told to both of the original's
    # parties and to whoever it returns to.
    "TransferReturned": Change(
        "returning", transfer="returnId", related=("transferId",), parties=("returnTo",)
    ),
    "CorrectionProposed": Change("correction_proposed", parties=("proposer", "counterparty")),
    "TransferCorrected": Change("corrected", parties=("counterparty",)),
    # A regulator asks the transfer's parties (the read model's shipper, receiver and transporters) to correct it.
    "CorrectionRequested": Change("correction_requested"),
}


# --- signing ----------------------------------------------------------------------------------------


def new_secret() -> str:
    """32 random bytes in hex; the HMAC key is this text's ASCII bytes."""
    return secrets.token_hex(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256, keyed with the secret, of `<timestamp>.<body>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, delivery_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


# --- what parties do to their subscriptions ---------------------------------------------------------


def cancel_subscription(session: Session, subscription: WebhookSubscription, now: datetime) -> None:
    """Stops a subscription: nothing more is queued for it, and what is queued is not sent."""
    subscription.deleted_at = now
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription.id, WebhookDelivery.status == QUEUED)
        .values(status=CANCELLED, next_attempt_at=None)
    )


def redeliver(delivery: WebhookDelivery, now: datetime) -> None:
    """Queues a delivery again, due now, with the full number of attempts."""
    delivery.status = QUEUED
    delivery.attempts_before_redelivery = delivery.attempts
    delivery.next_attempt_at = now
    delivery.leased_until = None


def backoff_seconds(failed_attempts: int, settings: Settings, draw: float) -> float:
    """The wait after `failed_attempts` failures in a row: doubling from the base up to the cap, shortened
    by up to the jitter's fraction (`draw` in [0, 1)) so that receivers back online are not hit at once."""
    exponent = min(failed_attempts - 1, 62)  # 2**62 times any base is past every cap
    delay = min(settings.webhook_backoff_cap_seconds, settings.webhook_backoff_base_seconds * 2.0**exponent)
    return delay * (1 - settings.webhook_backoff_jitter * draw)


# --- the notifier -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    started_at: datetime
    duration_ms: int
    http_status: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300


class Notifier:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        # Redirects are not followed: the party registered this URL, and the signature is for it alone.
        self._http = httpx.Client(follow_redirects=False)
        self._lock = threading.Lock()

    def run(self) -> None:
        """One round: queues what new chain events call for, then sends what is due."""
        with self._lock:
            self.enqueue()
            self.deliver_due()

    def close(self) -> None:
        self._http.close()

    # --- queueing ------------------------------------------------------------------------------------

    def enqueue(self) -> int:
        """Turns the chain events after the checkpoint into deliveries; returns how many were queued."""
        queued = 0
        while True:
            with self._sessions.begin() as session:
                checkpoint = session.get(NotifierCheckpoint, CHECKPOINT, with_for_update=True)
                if checkpoint is None:
                    checkpoint = NotifierCheckpoint(name=CHECKPOINT, block_number=-1, log_index=-1)
                    session.add(checkpoint)
                events = session.scalars(
                    select(ChainEvent)
                    .where(
                        or_(
                            ChainEvent.block_number > checkpoint.block_number,
                            and_(
                                ChainEvent.block_number == checkpoint.block_number,
                                ChainEvent.log_index > checkpoint.log_index,
                            ),
                        )
                    )
                    .order_by(ChainEvent.block_number, ChainEvent.log_index)
                    .limit(EVENTS_PER_SCAN)
                ).all()
                listening = _listening(session)
                # No one subscribed (the usual case, and all of a bulk load): nothing to work out per event.
                rows = [row for event in events for row in self._deliveries(session, event, listening)]
                queued += _insert_new(session, rows)
                if events:
                    checkpoint.block_number, checkpoint.log_index = (
                        events[-1].block_number,
                        events[-1].log_index,
                    )
            if len(events) < EVENTS_PER_SCAN:
                if queued:
                    log.info("queued %d webhook deliveries", queued)
                return queued

    def _deliveries(
        self, session: Session, event: ChainEvent, listening: dict[str, list[WebhookSubscription]]
    ) -> list[dict[str, Any]]:
        change = CHANGES.get(event.event)
        if change is None or not listening:
            return []
        args = event.args
        transfer_id = args[change.transfer]
        transfer = session.get(Transfer, transfer_id)
        parties: set[str] = set()
        for row in [transfer, *(session.get(Transfer, args[name]) for name in change.related)]:
            if row is not None:
                parties.update([row.shipper, row.receiver, *row.transporters])
        for name in change.parties:
            value = args.get(name)
            parties.update(value if isinstance(value, list) else [value] if value else [])
        parties.discard(ZERO_ADDRESS)
        if not parties:
            return []
        status = change.status if isinstance(change.status, str) else change.status(args, transfer)
        subscriptions = [
            subscription
            for party in sorted(parties)
            for subscription in listening.get(party, ())
            if subscription.after_block < event.block_number
        ]
        now = _now()
        rows = []
        for subscription in subscriptions:
            delivery_id = str(uuid.uuid4())
            message = {
                "id": delivery_id,
                "event": event.event,
                "transferId": transfer_id,
                "status": status,
                "block": event.block_number,
                "txHash": event.tx_hash,
                "logIndex": event.log_index,
                "occurredAt": _iso(event.block_time),
                "subscriber": subscription.party,
            }
            rows.append(
                {
                    "id": delivery_id,
                    "subscription_id": subscription.id,
                    "block_number": event.block_number,
                    "log_index": event.log_index,
                    "event": event.event,
                    "transfer_id": transfer_id,
                    "status": QUEUED,
                    "body": json.dumps(message, separators=(",", ":")),
                    "attempts": 0,
                    "attempts_before_redelivery": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
        return rows

    # --- sending -------------------------------------------------------------------------------------

    def deliver_due(self) -> int:
        """Sends the deliveries that are due (a bounded batch, in parallel); returns how many were tried."""
        now = _now()
        with self._sessions() as session:
            due = session.scalars(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.status == QUEUED,
                    WebhookDelivery.next_attempt_at <= now,
                    or_(WebhookDelivery.leased_until.is_(None), WebhookDelivery.leased_until < now),
                )
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(self._settings.webhook_batch_size)
            ).all()
        claimed = [delivery_id for delivery_id in due if self._claim(delivery_id, now)]
        if claimed:
            workers = min(self._settings.webhook_concurrency, len(claimed))
            with ThreadPoolExecutor(workers, thread_name_prefix="webhook") as pool:
                for future in [pool.submit(self._attempt, delivery_id) for delivery_id in claimed]:
                    if (exc := future.exception()) is not None:
                        log.error("webhook delivery failed unexpectedly", exc_info=exc)
        return len(claimed)

    def _claim(self, delivery_id: str, now: datetime) -> bool:
        # A conditional update: of two notifiers racing for the same delivery, exactly one changes the row.
        lease = timedelta(seconds=4 * self._settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS)
        with self._sessions.begin() as session:
            result = session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.status == QUEUED,
                    or_(WebhookDelivery.leased_until.is_(None), WebhookDelivery.leased_until < now),
                )
                .values(leased_until=now + lease)
            )
            return result.rowcount == 1  # type: ignore[attr-defined]

    def _attempt(self, delivery_id: str) -> None:
        with self._sessions() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            subscription = session.get(WebhookSubscription, delivery.subscription_id) if delivery else None
        if delivery is None or subscription is None:
            return
        if subscription.deleted_at is not None:  # deleted since it was queued
            with self._sessions.begin() as session:
                session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id == delivery_id)
                    .values(status=CANCELLED, next_attempt_at=None, leased_until=None)
                )
            return
        self._record(delivery_id, self._post(subscription, delivery))

    def _post(self, subscription: WebhookSubscription, delivery: WebhookDelivery) -> _Outcome:
        body = delivery.body.encode()
        timestamp = int(time.time())
        started_at, clock = _now(), time.monotonic()
        http_status: int | None = None
        error: str | None = None
        try:
            # Streamed and never read: what the receiver answers beyond its status is of no interest.
            with self._http.stream(
                "POST",
                subscription.url,
                content=body,
                headers=signed_headers(subscription.secret, delivery.id, timestamp, body),
                timeout=self._settings.webhook_timeout_seconds,
            ) as response:
                http_status = response.status_code
                if response.is_redirect:
                    error = (
                        f"redirected to {response.headers.get('location', '?')}; redirects are not followed"
                    )
        except httpx.TimeoutException:
            error = f"no answer within {self._settings.webhook_timeout_seconds:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        duration_ms = round((time.monotonic() - clock) * 1000)
        return _Outcome(started_at, duration_ms, http_status, error)

    def _record(self, delivery_id: str, outcome: _Outcome) -> None:
        settings = self._settings
        with self._sessions.begin() as session:
            delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
            if delivery is None:
                return
            delivery.attempts += 1
            delivery.leased_until = None
            session.add(
                WebhookAttempt(
                    delivery_id=delivery_id,
                    number=delivery.attempts,
                    started_at=outcome.started_at,
                    duration_ms=outcome.duration_ms,
                    http_status=outcome.http_status,
                    error=outcome.error,
                )
            )
            if delivery.status != QUEUED:  # cancelled while it was being sent
                return
            if outcome.delivered:
                delivery.status, delivery.delivered_at, delivery.next_attempt_at = DELIVERED, _now(), None
                return
            failures = delivery.attempts - delivery.attempts_before_redelivery
            if failures >= settings.webhook_max_attempts:
                delivery.status, delivery.next_attempt_at = FAILED, None
                log.warning("webhook delivery %s failed after %d attempts", delivery_id, failures)
                return
            wait = backoff_seconds(failures, settings, random.random())
            delivery.next_attempt_at = _now() + timedelta(seconds=wait)


def _listening(session: Session) -> dict[str, list[WebhookSubscription]]:
    """The live subscriptions, by party, read once a scan (there are few, and a scan has hundreds of
    events). A suspended party is told nothing more: it may no longer read its transfers either."""
    suspended = select(Participant.address).where(Participant.status != "active")
    subscriptions = session.scalars(
        select(WebhookSubscription)
        .where(WebhookSubscription.deleted_at.is_(None), WebhookSubscription.party.not_in(suspended))
        .order_by(WebhookSubscription.id)
    )
    by_party: dict[str, list[WebhookSubscription]] = {}
    for subscription in subscriptions:
        by_party.setdefault(subscription.party, []).append(subscription)
    return by_party


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> int:
    """Inserts the deliveries not queued before (same subscription and chain event); returns how many."""
    if not rows:
        return 0
    # The service runs on SQLite and PostgreSQL; both skip a duplicate row in place with ON CONFLICT.
    dialect_insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = dialect_insert(WebhookDelivery).on_conflict_do_nothing(
        index_elements=["subscription_id", "block_number", "log_index"]
    )
    return len(session.execute(statement.returning(WebhookDelivery.id), rows).all())


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    # SQLite hands back naive datetimes (stored as UTC).
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
