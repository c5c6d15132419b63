"""Evidence bundles: one file with everything a lot's or a transfer's verdicts rest on, which a regulator
checks with `symledger verify-bundle FILE [--rpc URL]` without this service (ledger_service.bundles).

A bundle carries every party's records in the case, context included, with their signed statements: it is
for regulators only. Its report is the pack's plain re-run over the whole case file (what the verifier
recomputes), so it may hold findings about context records that the report endpoints leave out.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from ledger_service.api.deps import SIGNED_IN, CurrentParty, Party, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.routes.documents import Store
from ledger_service.api.routes.lots import visible_lot
from ledger_service.api.routes.transfers import visible_transfer
from ledger_service.api.routes.verification import PackId
from ledger_service.bundles import assemble
from ledger_service.casefiles import Case, LineageTooLarge, lot_case, transfer_case, with_results
from ledger_service.documents.store import DocumentStore
from ledger_service.roles import Role
from ledger_service.runtime import Runtime

router = APIRouter(prefix="/verification", tags=["verification"], dependencies=SIGNED_IN)

BUNDLE = {200: {"content": {"application/json": {}}, "description": "The evidence bundle (canonical JSON)"}}
Documents = Annotated[bool, Query(description="Carry the documents' bodies too (each re-checked)")]


@router.get("/lots/{lot_id}/bundle", operation_id="lot_evidence_bundle", responses=BUNDLE)
def lot_bundle(
    lot_id: str,
    session: SessionDep,
    party: CurrentParty,
    runtime: RuntimeDep,
    store: Store,
    pack: PackId | None = None,
    documents: Documents = False,
) -> Response:
    """The evidence bundle of a lot's whole lineage under a rule pack."""
    _require_regulator(party)
    lot = visible_lot(session, party, lot_id)
    try:
        case = lot_case(session, lot, runtime.settings.verification_max_records)
    except LineageTooLarge as exc:
        raise ApiError(422, "lineage_too_large", str(exc), ["path", "lot_id"]) from exc
    return _bundle(runtime, case, pack, store, documents, f"lot-{lot_id}")


@router.get("/transfers/{transfer_id}/bundle", operation_id="transfer_evidence_bundle", responses=BUNDLE)
def transfer_bundle(
    transfer_id: str,
    session: SessionDep,
    party: CurrentParty,
    runtime: RuntimeDep,
    store: Store,
    pack: PackId | None = None,
    documents: Documents = False,
) -> Response:
    """The evidence bundle of a transfer under a rule pack."""
    _require_regulator(party)
    transfer = visible_transfer(session, party, transfer_id)
    case = transfer_case(session, transfer)
    return _bundle(runtime, case, pack, store, documents, f"transfer-{transfer_id}")


def _require_regulator(party: Party) -> None:
    if not party.has(Role.REGULATOR):
        raise ApiError(
            403,
            "regulators_only",
            "an evidence bundle carries every party's signed records: only a regulator may take one",
            ["header", "authorization"],
        )


def _bundle(
    runtime: Runtime, case: Case, pack: str | None, store: DocumentStore, documents: bool, name: str
) -> Response:
    pack_id = (pack or runtime.settings.compliance_pack).upper()
    # A node that does not answer gives the app's 503 with Retry-After (ledger_service.api.errors).
    raw = assemble(
        runtime.gateway,
        runtime.deployment,
        with_results(case, store.read).file,
        pack_id,
        runtime.settings.compliance_overrides.get(pack_id),
        store,
        documents,
    )
    return Response(
        raw,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="evidence-{name}.json"'},
    )
