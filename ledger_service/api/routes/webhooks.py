"""A signed-in party's webhook subscriptions and their delivery log (ledger_service.notifications)."""

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Response, status
from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from sqlalchemy import func, select

from ledger_service.api.deps import CurrentParty, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.schemas import Strict, Utc
from ledger_service.db.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from ledger_service.notifications import (
    DELIVERED,
    FAILED,
    cancel_subscription,
    new_secret,
    redeliver,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

MAX_URL_LENGTH = 2000
EXAMPLE_ID = "5f0c8d1e-2a4b-4c6d-8e9f-0a1b2c3d4e5f"
EXAMPLE_MESSAGE = {
    "id": "9b2e4f61-7c3a-4d85-a0e1-6f2d8c9b3a47",
    "event": "TransferReceived",
    "transferId": "0x" + "ab" * 32,
    "status": "received",
    "block": 1042,
    "txHash": "0x" + "cd" * 32,
    "logIndex": 3,
    "occurredAt": "2025-03-14T09:26:53Z",
    "subscriber": "0x8ba1f109551bD432803012645Ac136ddd64DBA72",
}


def _webhook_url(value: str) -> str:
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError("the URL contains spaces or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number in range)
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("only http:// and https:// URLs can receive webhooks")
    if not parts.hostname:
        raise ValueError("the URL names no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "credentials in the URL are refused: they would be stored and shown in clear; "
            "check the message's X-Symledger-Signature instead"
        )
    if parts.fragment:
        raise ValueError("a fragment (#...) is never sent to a server; remove it")
    return value


WebhookUrl = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_URL_LENGTH),
    AfterValidator(_webhook_url),
    Field(
        description="http(s) URL that receives a POST for each change",
        examples=["https://erp.example.com/hooks/symledger"],
    ),
]


class WebhookIn(Strict):
    url: WebhookUrl
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = Field(
        None, examples=["ERP: receipts of slag"]
    )

    model_config = {
        "json_schema_extra": {
            "examples": [{"url": "https://erp.example.com/hooks/symledger", "description": "ERP"}]
        }
    }


class WebhookOut(BaseModel):
    id: str = Field(examples=[EXAMPLE_ID])
    url: str
    description: str | None
    created_at: Utc


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="The HMAC-SHA256 key of X-Symledger-Signature (its ASCII bytes). Shown only here: keep it.",
        examples=["3f" * 32],
    )


class AttemptOut(BaseModel):
    number: int
    started_at: Utc
    duration_ms: int
    http_status: int | None = Field(description="The receiver's answer; None if none came")
    error: str | None = Field(description="Why no 2xx came (network error, timeout, redirect)")


class DeliveryOut(BaseModel):
    id: str = Field(description="The message's id, also sent as X-Symledger-Delivery")
    event: str
    transfer_id: str
    status: Literal["queued", "delivered", "failed", "cancelled"]
    attempts: int
    next_attempt_at: Utc | None
    created_at: Utc
    delivered_at: Utc | None
    message: dict[str, Any] = Field(description="The JSON body as sent", examples=[EXAMPLE_MESSAGE])
    attempt_log: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    total: int
    offset: int
    limit: int


@router.post(
    "",
    operation_id="create_webhook",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "the party has this URL already, or too many webhooks"}},
)
def create_webhook(
    body: WebhookIn, party: CurrentParty, runtime: RuntimeDep, session: SessionDep
) -> WebhookCreated:
    """Subscribes the signed-in party: each later change of status of a transfer it is a party to (shipper,
    receiver, transporter) is posted to `url` as JSON signed with the returned secret (docs/webhooks.md)."""
    active = list(_active(session, party.address))
    same = next((s for s in active if s.url == body.url), None)
    if same is not None:
        raise ApiError(
            409, "webhook_exists", f"you have webhook {same.id} for this URL already", ["body", "url"]
        )
    limit = runtime.settings.webhook_subscriptions_per_party
    if len(active) >= limit:
        raise ApiError(
            409,
            "too_many_webhooks",
            f"a party may hold {limit} webhooks; delete one first (DELETE /webhooks/{{id}})",
            ["body", "url"],
        )
    indexed = runtime.indexer.indexed_block()
    subscription = WebhookSubscription(
        id=str(uuid.uuid4()),
        party=party.address,
        url=body.url,
        description=body.description or None,
        secret=new_secret(),
        after_block=-1 if indexed is None else indexed,
        created_at=datetime.now(UTC),
    )
    session.add(subscription)
    session.commit()
    return WebhookCreated(**_out(subscription).model_dump(), secret=subscription.secret)


@router.get("", operation_id="list_webhooks")
def list_webhooks(party: CurrentParty, session: SessionDep) -> list[WebhookOut]:
    """The signed-in party's webhooks (their secrets are not shown again)."""
    return [_out(s) for s in _active(session, party.address)]


@router.delete(
    "/{webhook_id}",
    operation_id="delete_webhook",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "no such webhook of the signed-in party"}},
)
def delete_webhook(webhook_id: str, party: CurrentParty, session: SessionDep) -> Response:
    """Stops a webhook: nothing more is sent to it, including deliveries still waiting for a retry."""
    cancel_subscription(session, _own(session, party.address, webhook_id), datetime.now(UTC))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{webhook_id}/deliveries",
    operation_id="list_webhook_deliveries",
    responses={404: {"description": "no such webhook of the signed-in party"}},
)
def list_deliveries(
    webhook_id: str,
    party: CurrentParty,
    session: SessionDep,
    status_: Annotated[
        Literal["queued", "delivered", "failed", "cancelled"] | None,
        Query(alias="status", description="Only deliveries in this state"),
    ] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryPage:
    """The webhook's delivery log, newest chain event first: each message, where it stands, every attempt."""
    subscription = _own(session, party.address, webhook_id)
    where = [WebhookDelivery.subscription_id == subscription.id]
    if status_ is not None:
        where.append(WebhookDelivery.status == status_)
    total = session.scalar(select(func.count()).select_from(WebhookDelivery).where(*where)) or 0
    deliveries = session.scalars(
        select(WebhookDelivery)
        .where(*where)
        .order_by(WebhookDelivery.block_number.desc(), WebhookDelivery.log_index.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    attempts = _attempt_logs(session, [d.id for d in deliveries])
    return DeliveryPage(
        items=[_delivery_out(d, attempts[d.id]) for d in deliveries], total=total, offset=offset, limit=limit
    )


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    operation_id="redeliver_webhook_delivery",
    responses={
        404: {"description": "no such webhook of the signed-in party, or no such delivery of it"},
        409: {"description": "the delivery is queued already"},
    },
)
def redeliver_delivery(
    webhook_id: str, delivery_id: str, party: CurrentParty, session: SessionDep
) -> DeliveryOut:
    """Queues a failed (or delivered) message again, due at once, with a full set of attempts; the message
    and its id are unchanged, so a receiver that has it already can tell."""
    subscription = _own(session, party.address, webhook_id)
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.subscription_id != subscription.id:
        raise ApiError(
            404,
            "unknown_delivery",
            f"webhook {webhook_id} has no delivery {delivery_id}",
            ["path", "delivery_id"],
        )
    if delivery.status not in (FAILED, DELIVERED):
        raise ApiError(
            409,
            "delivery_queued",
            f"delivery {delivery_id} is {delivery.status} already; it is sent when due",
            ["path", "delivery_id"],
        )
    redeliver(delivery, datetime.now(UTC))
    session.commit()
    return _delivery_out(delivery, _attempt_logs(session, [delivery.id])[delivery.id])


def _active(session: SessionDep, party: str) -> list[WebhookSubscription]:
    return list(
        session.scalars(
            select(WebhookSubscription)
            .where(WebhookSubscription.party == party, WebhookSubscription.deleted_at.is_(None))
            .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
        )
    )


def _own(session: SessionDep, party: str, webhook_id: str) -> WebhookSubscription:
    subscription = session.get(WebhookSubscription, webhook_id)
    # Another party's webhook is answered like a missing one: its existence is not the caller's business.
    if subscription is None or subscription.party != party or subscription.deleted_at is not None:
        raise ApiError(404, "unknown_webhook", f"you have no webhook {webhook_id}", ["path", "webhook_id"])
    return subscription


def _attempt_logs(session: SessionDep, delivery_ids: list[str]) -> dict[str, list[AttemptOut]]:
    logs: dict[str, list[AttemptOut]] = {delivery_id: [] for delivery_id in delivery_ids}
    for attempt in session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
    ):
        logs[attempt.delivery_id].append(
            AttemptOut(
                number=attempt.number,
                started_at=attempt.started_at,
                duration_ms=attempt.duration_ms,
                http_status=attempt.http_status,
                error=attempt.error,
            )
        )
    return logs


def _out(subscription: WebhookSubscription) -> WebhookOut:
    return WebhookOut(
        id=subscription.id,
        url=subscription.url,
        description=subscription.description,
        created_at=subscription.created_at,
    )


def _delivery_out(delivery: WebhookDelivery, attempt_log: list[AttemptOut]) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        event=delivery.event,
        transfer_id=delivery.transfer_id,
        status=delivery.status,  # type: ignore[arg-type]
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
        message=json.loads(delivery.body),
        attempt_log=attempt_log,
    )
