"""Processing and final use: a processor turns lots it holds into product, by-product and residue lots in
mass balance (grams), and the holder of a product or by-product lot declares its final use."""

from fastapi import APIRouter, Response, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_service.access import processings_visible_to, visible
from ledger_service.api.deps import SIGNED_IN, CurrentParty, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.routes.lots import visible_lot
from ledger_service.api.schemas import (
    Bytes32,
    LotOut,
    PreparedStatement,
    ProcessingOut,
    ProcessingTerms,
    RecordProcessingMessage,
    SignedProcessing,
    SignedUse,
    Submission,
    UseTerms,
)
from ledger_service.api.signing import ACCEPTED, prepare, record, require_role
from ledger_service.api.views import lot_out, processing_out
from ledger_service.db.models import Lot, LotLineage, Processing, WasteCode
from ledger_service.roles import Role
from ledger_service.statements import DECLARE_USE, OUTPUT_KINDS, RECORD_PROCESSING, code_key

router = APIRouter(tags=["processing"], dependencies=SIGNED_IN)

# Grams per unit where the unit fixes it; a code in litres needs the density the processor declares, and a
# code in kilowatt-hours has no mass at all.
GRAMS_PER_UNIT = {"KGM": 1000}
NONCE_PROBES = 256


@router.post("/processings/prepare", operation_id="prepare_processing")
def prepare_processing(terms: ProcessingTerms, runtime: RuntimeDep, session: SessionDep) -> PreparedStatement:
    """The RecordProcessing statement a processor signs: lots it holds (and external inputs) in, output lots
    (product, by-product, residue) and losses out, in mass balance."""
    inputs, outputs = [], []
    for i, item in enumerate(terms.inputs):
        lot = session.get(Lot, item.lot_id)
        if lot is None:
            raise ApiError(
                422, "unknown_lot", f"no lot {item.lot_id} is recorded", ["body", "inputs", i, "lot_id"]
            )
        if lot.holder != terms.processor:
            raise ApiError(
                403,
                "not_lot_holder",
                f"processor {terms.processor} does not hold lot {item.lot_id}",
                ["body", "inputs", i, "lot_id"],
            )
        if lot.balance < item.quantity:
            raise ApiError(
                409,
                "insufficient_lot_balance",
                f"lot {item.lot_id} holds {lot.balance}, less than the {item.quantity} put in",
                ["body", "inputs", i, "quantity"],
            )
        code = session.get_one(WasteCode, lot.code_key)
        grams = _conversion(code, item.grams_per_unit, ["body", "inputs", i, "grams_per_unit"])
        inputs.append(
            {"lotId": item.lot_id, "codeKey": code.code_key, "quantity": item.quantity, "gramsPerUnit": grams}
        )
    for i, out in enumerate(terms.outputs):
        code = session.get(WasteCode, code_key(out.scheme, out.code))
        if code is None:
            raise ApiError(
                422,
                "unknown_waste_code",
                f"code {out.scheme} {out.code} is not in the catalogue",
                ["body", "outputs", i, "code"],
            )
        if code.hazardous and out.kind != "residue":
            raise ApiError(
                422,
                "hazardous_product",
                f"output {i}: code {out.code} ({out.scheme}) is hazardous, so the output is still waste: "
                "only a residue may carry it",
                ["body", "outputs", i, "kind"],
            )
        grams = _conversion(code, out.grams_per_unit, ["body", "outputs", i, "grams_per_unit"])
        outputs.append(
            {
                "kind": OUTPUT_KINDS.index(out.kind),
                "codeKey": code.code_key,
                "quantity": out.quantity,
                "gramsPerUnit": grams,
            }
        )
    available = sum(i["quantity"] * i["gramsPerUnit"] for i in inputs) + sum(
        e.grams for e in terms.external_inputs
    )
    produced_and_lost = sum(o["quantity"] * o["gramsPerUnit"] for o in outputs) + terms.loss_grams
    if produced_and_lost > available:
        raise ApiError(
            422,
            "mass_balance_exceeded",
            f"outputs and losses {produced_and_lost:,} g exceed inputs {available:,} g",
            ["body", "outputs"],
        )
    fields = {
        "processor": terms.processor,
        "inputs": inputs,
        "externalInputs": [
            {"material": e.material, "grams": e.grams, "documentHash": e.document_hash}
            for e in terms.external_inputs
        ],
        "outputs": outputs,
        "lossGrams": terms.loss_grams,
        "lossDescription": terms.loss_description,
        "documentHash": terms.document_hash,
    }
    require_role(runtime, RECORD_PROCESSING, fields, terms.processor, Role.RECEIVER)
    return prepare(runtime, session, RECORD_PROCESSING, fields, terms)


@router.post(
    "/processings", operation_id="record_processing", status_code=status.HTTP_201_CREATED, responses=ACCEPTED
)
def record_processing(
    body: SignedProcessing, runtime: RuntimeDep, session: SessionDep, response: Response
) -> ProcessingOut | Submission:
    """Records a processor's signed processing; its id is the statement's EIP-712 digest, and output `i`
    is the lot keccak256(abi.encode(id, i))."""
    return record(
        runtime,
        session,
        RECORD_PROCESSING,
        body,
        response,
        lambda p: processing_out(session, _get(session, p.digest)),
        labels=_code_labels(session, body.message),
    )


@router.get("/processings/{processing_id}", operation_id="get_processing")
def get_processing(processing_id: Bytes32, session: SessionDep, party: CurrentParty) -> ProcessingOut:
    """A processing: input lots, external inputs, output lots with their kind, the mass balance in grams."""
    processing = _get(session, processing_id)
    if not visible(session, Processing.id == processing_id, processings_visible_to(party)):
        raise ApiError(
            404, "unknown_processing", f"no processing {processing_id} is recorded", ["path", "processing_id"]
        )
    return processing_out(session, processing)


@router.get("/lots/{lot_id}/lineage", operation_id="get_lot_lineage")
def get_lot_lineage(lot_id: Bytes32, session: SessionDep, party: CurrentParty) -> list[ProcessingOut]:
    """The processings behind a lot the caller may see, nearest first: the one that produced it, then those
    that produced its input lots, back to lots that were generated or received."""
    visible_lot(session, party, lot_id)
    chain: list[ProcessingOut] = []
    frontier, seen = [lot_id], set()
    while frontier:
        producers = session.scalars(
            select(LotLineage.processing_id).where(
                LotLineage.lot_id.in_(frontier), LotLineage.role == "output"
            )
        ).all()
        frontier = []
        for processing_id in dict.fromkeys(producers):
            if processing_id in seen:
                continue
            seen.add(processing_id)
            processing = _get(session, processing_id)
            chain.append(processing_out(session, processing))
            frontier += [item["lot_id"] for item in processing.inputs]
    return chain


@router.post("/lots/{lot_id}/uses/prepare", operation_id="prepare_use")
def prepare_use(
    lot_id: Bytes32, terms: UseTerms, runtime: RuntimeDep, session: SessionDep
) -> PreparedStatement:
    """The DeclareUse statement the holder of a product or by-product lot signs when part of it goes to its
    final use."""
    lot = session.get(Lot, lot_id)
    if lot is None:
        raise ApiError(404, "unknown_lot", f"no lot {lot_id} is recorded", ["path", "lot_id"])
    kind = session.scalar(
        select(LotLineage.kind).where(LotLineage.lot_id == lot_id, LotLineage.role == "output")
    )
    if kind not in ("product", "by_product"):
        raise ApiError(
            409 if kind == "residue" else 422,
            "not_usable",
            f"lot {lot_id} is a residue: it is still waste and leaves only by dispatch to a permitted receiver"
            if kind == "residue"
            else f"lot {lot_id} was not produced by a processing: only products and by-products are declared used",
            ["path", "lot_id"],
        )
    if lot.balance < terms.quantity:
        raise ApiError(
            409,
            "insufficient_lot_balance",
            f"lot {lot_id} holds {lot.balance}, less than the {terms.quantity} declared used",
            ["body", "quantity"],
        )
    fields = {
        "holder": lot.holder,
        "lotId": lot_id,
        "quantity": terms.quantity,
        "use": terms.use,
        "documentHash": terms.document_hash,
    }
    require_role(runtime, DECLARE_USE, fields, lot.holder, Role.RECEIVER)
    return prepare(runtime, session, DECLARE_USE, fields, terms)


@router.post(
    "/lots/{lot_id}/uses", operation_id="declare_use", status_code=status.HTTP_201_CREATED, responses=ACCEPTED
)
def declare_use(
    lot_id: Bytes32, body: SignedUse, runtime: RuntimeDep, session: SessionDep, response: Response
) -> LotOut | Submission:
    """Records the holder's signed declaration of final use; answers with the lot, its balance reduced."""
    if body.message.lotId != lot_id:
        raise ApiError(
            422,
            "path_mismatch",
            f"message names lot {body.message.lotId}, not {lot_id}",
            ["body", "message", "lotId"],
        )
    return record(
        runtime,
        session,
        DECLARE_USE,
        body,
        response,
        lambda _p: lot_out(session, session.get_one(Lot, lot_id)),
    )


def _conversion(code: WasteCode, given: int | None, loc: list[str | int]) -> int:
    if code.unit in GRAMS_PER_UNIT:
        expected = GRAMS_PER_UNIT[code.unit]
        if given is not None and given != expected:
            raise ApiError(
                422,
                "invalid_conversion",
                f"code {code.code} is in {code.unit}: it converts at {expected} g per unit, not {given}",
                loc,
            )
        return expected
    if code.unit == "KWH":
        raise ApiError(
            422,
            "massless_unit",
            f"code {code.code} is measured in kilowatt-hours, which have no mass: it cannot be processed",
            loc[:-1],
        )
    if given is None:
        raise ApiError(
            422, "conversion_required", f"code {code.code} is in {code.unit}: give its density in g/L", loc
        )
    return given


def _code_labels(session: Session, message: RecordProcessingMessage) -> dict[str, str]:
    """Codes named as 'code (scheme)' in refusals instead of their keys."""
    keys = {i.codeKey for i in message.inputs} | {o.codeKey for o in message.outputs}
    return {
        code.code_key: f"{code.code} ({code.scheme})"
        for code in session.scalars(select(WasteCode).where(WasteCode.code_key.in_(keys)))
    }


def _get(session: Session, processing_id: str) -> Processing:
    processing = session.get(Processing, processing_id)
    if processing is None:
        raise ApiError(
            404, "unknown_processing", f"no processing {processing_id} is recorded", ["path", "processing_id"]
        )
    return processing
