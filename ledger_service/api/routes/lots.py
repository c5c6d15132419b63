"""Lots: what a generator declares it generated, and what receivers hold after a receipt."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from ledger_service.access import lots_visible_to, visible
from ledger_service.api.deps import SIGNED_IN, CurrentParty, Party, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.schemas import (
    Bytes32,
    LineageGraph,
    LotOut,
    LotPage,
    LotQuery,
    LotTerms,
    PreparedStatement,
    SignedLot,
    Submission,
)
from ledger_service.api.signing import ACCEPTED, prepare, record, require_role
from ledger_service.api.views import lot_out
from ledger_service.db.models import Lot, WasteCode
from ledger_service.lineage import lineage_graph
from ledger_service.roles import Role
from ledger_service.search import lot_filters, page
from ledger_service.statements import REGISTER_LOT, code_key

router = APIRouter(prefix="/lots", tags=["lots"], dependencies=SIGNED_IN)


@router.post("/prepare", operation_id="prepare_lot")
def prepare_lot(terms: LotTerms, runtime: RuntimeDep, session: SessionDep) -> PreparedStatement:
    """The RegisterLot statement a generator signs to declare a generated lot."""
    code = session.get(WasteCode, code_key(terms.waste_scheme, terms.waste_code))
    if code is None:
        raise ApiError(
            422,
            "unknown_waste_code",
            f"waste code {terms.waste_scheme} {terms.waste_code} is not in the catalogue",
            ["body", "waste_code"],
        )
    if code.unit != terms.unit:
        raise ApiError(
            422,
            "unit_mismatch",
            f"quantities of {code.code} are declared in {code.unit}, not {terms.unit}",
            ["body", "unit"],
        )
    fields = {
        "generator": terms.generator,
        "wasteScheme": terms.waste_scheme,
        "wasteCode": terms.waste_code,
        "quantity": terms.quantity,
        "unit": terms.unit,
        "documentHash": terms.document_hash,
    }
    require_role(runtime, REGISTER_LOT, fields, terms.generator, Role.SHIPPER)
    return prepare(runtime, session, REGISTER_LOT, fields, terms)


@router.post(
    "",
    operation_id="register_lot",
    status_code=status.HTTP_201_CREATED,
    responses=ACCEPTED,
)
def register_lot(
    body: SignedLot, runtime: RuntimeDep, session: SessionDep, response: Response
) -> LotOut | Submission:
    """Records a generator's signed lot; the lot's id is the statement's EIP-712 digest."""
    return record(
        runtime,
        session,
        REGISTER_LOT,
        body,
        response,
        lambda p: lot_out(session, get_lot_row(session, p.digest)),
    )


@router.get("", operation_id="list_lots")
def list_lots(session: SessionDep, party: CurrentParty, query: Annotated[LotQuery, Query()]) -> LotPage:
    """The lots the caller may see that match every filter given, oldest first (a stable order: the block
    that opened it, then id); `total` counts all that match. See ledger_service.search."""
    where = [lots_visible_to(party), *lot_filters(session, query)]
    rows, total = page(session, Lot, where, (Lot.created_block, Lot.id), query)
    return LotPage(
        items=[lot_out(session, lot) for lot in rows], total=total, offset=query.offset, limit=query.limit
    )


@router.get("/{lot_id}", operation_id="get_lot")
def get_lot(lot_id: Bytes32, session: SessionDep, party: CurrentParty) -> LotOut:
    """A lot with its holder, waste code, balance and evidence (if the caller may see it)."""
    return lot_out(session, visible_lot(session, party, lot_id))


@router.get("/{lot_id}/lineage/graph", operation_id="get_lot_lineage_graph", response_model=LineageGraph)
def get_lot_lineage_graph(
    lot_id: Bytes32,
    session: SessionDep,
    party: CurrentParty,
    runtime: RuntimeDep,
    depth: Annotated[int, Query(ge=1, le=100, description="Links followed up and down from the lot")] = 20,
    max_nodes: Annotated[int, Query(ge=1, le=2000, description="At most this many nodes")] = 500,
) -> Response:
    """Where a lot's material came from (transfers and processings back to generated lots) and where it
    went (on to final uses), as nodes and edges; what the caller may not see is redacted to its id and kind
    (see ledger_service.lineage)."""
    lot = visible_lot(session, party, lot_id)
    body = runtime.lineage_graphs.get(
        session,
        (lot.id, depth, max_nodes, party),  # what a caller is told depends on who it is
        lambda: lineage_graph(session, party, lot, depth, max_nodes).model_dump_json().encode(),
    )
    return Response(body, media_type="application/json")


def visible_lot(session: SessionDep, party: Party, lot_id: str) -> Lot:
    """The lot, or 404 as if unknown when the caller may not see it (its existence is not told)."""
    lot = get_lot_row(session, lot_id)
    if not visible(session, Lot.id == lot_id, lots_visible_to(party)):
        raise ApiError(404, "unknown_lot", f"no lot {lot_id} is recorded", ["path", "lot_id"])
    return lot


def get_lot_row(session: SessionDep, lot_id: str) -> Lot:
    lot = session.get(Lot, lot_id)
    if lot is None:
        raise ApiError(404, "unknown_lot", f"no lot {lot_id} is recorded", ["path", "lot_id"])
    return lot
