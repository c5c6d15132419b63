"""Lots: what a generator declares it generated, and what receivers hold after a receipt."""

from fastapi import APIRouter, Response, status

from ledger_service.access import lots_visible_to, visible
from ledger_service.api.deps import SIGNED_IN, CurrentParty, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.schemas import Bytes32, LotOut, LotTerms, PreparedStatement, SignedLot, Submission
from ledger_service.api.signing import ACCEPTED, prepare, record, require_role
from ledger_service.api.views import lot_out
from ledger_service.db.models import Lot, WasteCode
from ledger_service.roles import Role
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


@router.get("/{lot_id}", operation_id="get_lot")
def get_lot(lot_id: Bytes32, session: SessionDep, party: CurrentParty) -> LotOut:
    """A lot with its holder, waste code, balance and evidence (if the caller may see it)."""
    lot = get_lot_row(session, lot_id)
    if not visible(session, Lot.id == lot_id, lots_visible_to(party)):
        raise ApiError(404, "unknown_lot", f"no lot {lot_id} is recorded", ["path", "lot_id"])
    return lot_out(session, lot)


def get_lot_row(session: SessionDep, lot_id: str) -> Lot:
    lot = session.get(Lot, lot_id)
    if lot is None:
        raise ApiError(404, "unknown_lot", f"no lot {lot_id} is recorded", ["path", "lot_id"])
    return lot
