"""Metered flows: a pipe between two firms (steam, CO2, treated wastewater), registered by both parties, then
anchored period after period, each period's total signed by both, many periods in one transaction."""

from types import SimpleNamespace
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_service.access import flows_visible_to, visible
from ledger_service.api.deps import SIGNED_IN, CurrentParty, Party, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.schemas import (
    AnchorPeriodsMessage,
    Bytes32,
    FlowOut,
    FlowTerms,
    FlowTotals,
    PeriodBatch,
    PeriodsTerms,
    PreparedJointStatement,
    PreparedPeriod,
    PreparedPeriods,
    SignedFlow,
    Submission,
)
from ledger_service.api.signing import ACCEPTED, prepare, record, require_role
from ledger_service.api.views import flow_out, period_bounds
from ledger_service.db.models import MeteredFlow, MeteredPeriod
from ledger_service.roles import Role
from ledger_service.statements import (
    ANCHOR_PERIODS,
    METER_PERIOD,
    REGISTER_FLOW,
    compact_signature,
    digest,
    recover_signer,
    typed_data,
)

router = APIRouter(prefix="/flows", tags=["metered flows"], dependencies=SIGNED_IN)


@router.post("/prepare", operation_id="prepare_flow")
def prepare_flow(terms: FlowTerms, runtime: RuntimeDep, session: SessionDep) -> PreparedJointStatement:
    """The RegisterFlow statement both parties sign, unchanged: the supplier (an active SHIPPER) and the
    offtaker (an active RECEIVER). Its digest will be the flow's id."""
    if terms.supplier == terms.offtaker:
        raise ApiError(
            422, "self_flow", "the supplier cannot name itself as the offtaker", ["body", "offtaker"]
        )
    fields = {
        "supplier": terms.supplier,
        "offtaker": terms.offtaker,
        "medium": terms.medium,
        "unit": terms.unit,
        "meterId": terms.meter_id,
        "periodSeconds": terms.period_seconds,
        "firstPeriodStart": int(terms.first_period_start.timestamp()),
    }
    require_role(runtime, REGISTER_FLOW, fields, terms.supplier, Role.SHIPPER)
    require_role(runtime, REGISTER_FLOW, fields, terms.offtaker, Role.RECEIVER)
    prepared = prepare(runtime, session, REGISTER_FLOW, fields, terms)
    return PreparedJointStatement(**prepared.model_dump(), signers=[terms.supplier, terms.offtaker])


@router.post("", operation_id="register_flow", status_code=status.HTTP_201_CREATED, responses=ACCEPTED)
def register_flow(
    body: SignedFlow, runtime: RuntimeDep, session: SessionDep, response: Response
) -> FlowOut | Submission:
    """Records a flow both parties signed; its id is the RegisterFlow statement's EIP-712 digest."""
    message = body.message.model_dump()
    payload = typed_data(REGISTER_FLOW, runtime.chain_id, runtime.gateway.address_for(REGISTER_FLOW), message)
    try:
        return record(
            runtime,
            session,
            REGISTER_FLOW,
            SimpleNamespace(message=body.message, signature=body.supplier_signature),
            response,
            lambda p: flow_out(session, _get(session, p.digest)),
            context={"offtakerSignature": body.offtaker_signature},
        )
    except ApiError as error:
        if error.type == "invalid_signature":
            # The shared explanation recovers the supplier's signature; name the signature actually at fault.
            field = error.loc[-1]
            signature = body.offtaker_signature if field == "offtaker_signature" else body.supplier_signature
            recovered = recover_signer(payload, bytes.fromhex(signature[2:]))
            error.msg = error.msg.split(" (it ")[0] + (
                f" (it was signed by {recovered})" if recovered else " (it is not a valid signature)"
            )
        raise


@router.post("/{flow_id}/periods/prepare", operation_id="prepare_periods")
def prepare_periods(
    flow_id: Bytes32, terms: PeriodsTerms, runtime: RuntimeDep, session: SessionDep
) -> PreparedPeriods:
    """The MeterPeriod statements both parties sign, one per period, from the flow's next period on (or
    `first_period`)."""
    flow = _get(session, flow_id)
    first = flow.next_period if terms.first_period is None else terms.first_period
    verifying = runtime.gateway.address_for(METER_PERIOD)
    periods = []
    for i, item in enumerate(terms.periods):
        message = {
            "flowId": flow_id,
            "period": first + i,
            "quantity": item.quantity,
            "readingHash": item.reading_hash,
        }
        payload = typed_data(METER_PERIOD, runtime.chain_id, verifying, message)
        periods.append(
            PreparedPeriod(period=first + i, digest="0x" + digest(payload).hex(), typed_data=payload)
        )
    return PreparedPeriods(
        flow_id=flow_id, first_period=first, signers=[flow.supplier, flow.offtaker], periods=periods
    )


@router.post(
    "/{flow_id}/periods",
    operation_id="anchor_periods",
    status_code=status.HTTP_201_CREATED,
    responses=ACCEPTED,
)
def anchor_periods(
    flow_id: Bytes32, body: PeriodBatch, runtime: RuntimeDep, session: SessionDep, response: Response
) -> FlowOut | Submission:
    """Anchors consecutive periods in one transaction, each with both parties' signatures (64-byte compact
    or 65-byte; 65-byte ones are made compact here). Answers with the flow and the periods anchored."""
    flow = _get(session, flow_id)
    periods = []
    for i, item in enumerate(body.periods):
        entry = {"quantity": item.quantity, "readingHash": item.reading_hash}
        for party in ("supplier", "offtaker"):
            signature = getattr(item, f"{party}_signature")
            try:
                entry[f"{party}R"], entry[f"{party}Vs"] = compact_signature(bytes.fromhex(signature[2:]))
            except ValueError as exc:
                raise ApiError(
                    422, "invalid_signature", str(exc), ["body", "periods", i, f"{party}_signature"]
                ) from None
        periods.append(entry)
    batch = AnchorPeriodsMessage(
        supplier=flow.supplier, flowId=flow_id, firstPeriod=body.first_period, periods=periods
    )
    last = body.first_period + len(periods) - 1
    return record(
        runtime,
        session,
        ANCHOR_PERIODS,
        # Nobody signs the batch as a whole: its periods carry the parties' signatures.
        SimpleNamespace(message=batch, signature="0x"),
        response,
        lambda _p: flow_out(session, _get(session, flow_id), body.first_period, last),
    )


@router.get("/{flow_id}", operation_id="get_flow")
def get_flow(
    flow_id: Bytes32,
    session: SessionDep,
    party: CurrentParty,
    from_period: Annotated[int, Query(ge=0)] = 0,
    to_period: Annotated[int | None, Query(ge=0, description="Inclusive; default: the last anchored")] = None,
) -> FlowOut:
    """A flow with its anchored periods (quantity, reading hash, start and end) in the range asked for."""
    return flow_out(session, _visible(session, party, flow_id), from_period, to_period)


@router.get("/{flow_id}/totals", operation_id="get_flow_totals")
def get_flow_totals(
    flow_id: Bytes32,
    session: SessionDep,
    party: CurrentParty,
    from_period: Annotated[int, Query(ge=0)] = 0,
    to_period: Annotated[int | None, Query(ge=0, description="Inclusive; default: the last anchored")] = None,
) -> FlowTotals:
    """The total that flowed over a range of periods, with how many of them are anchored."""
    flow = _visible(session, party, flow_id)
    last = max(flow.next_period - 1, from_period) if to_period is None else to_period
    if last < from_period:
        raise ApiError(422, "empty_range", "to_period must not be before from_period", ["query", "to_period"])
    quantities = session.scalars(
        select(MeteredPeriod.quantity).where(
            MeteredPeriod.flow_id == flow_id,
            MeteredPeriod.period >= from_period,
            MeteredPeriod.period <= last,
        )
    ).all()
    start, _ = period_bounds(flow, from_period)
    _, end = period_bounds(flow, last)
    return FlowTotals(
        flow_id=flow_id,
        unit=flow.unit,
        from_period=from_period,
        to_period=last,
        start=start,
        end=end,
        periods_anchored=len(quantities),
        periods_missing=last - from_period + 1 - len(quantities),
        # uint64 quantities: summed exactly in Python, not by SQL, whose integers stop at 2^63.
        total=sum(int(q) for q in quantities),
    )


def _visible(session: Session, party: Party, flow_id: str) -> MeteredFlow:
    """The flow, or 404 as if unknown when the caller is neither party to it nor may see all."""
    flow = _get(session, flow_id)
    if not visible(session, MeteredFlow.id == flow_id, flows_visible_to(party)):
        raise ApiError(404, "unknown_flow", f"no flow {flow_id} is registered", ["path", "flow_id"])
    return flow


def _get(session: Session, flow_id: str) -> MeteredFlow:
    flow = session.get(MeteredFlow, flow_id)
    if flow is None:
        raise ApiError(404, "unknown_flow", f"no flow {flow_id} is registered", ["path", "flow_id"])
    return flow
