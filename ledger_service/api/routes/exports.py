"""Exports of a park's or a firm's records over a period (ledger_service.exports, docs/exports.md): the
legal registry as CSV or XLSX, GS1 EPCIS 2.0 JSON-LD, US EPA e-Manifest JSON.

Who may export what is who may verify it (ledger_service.api.routes.verification): a regulator any park or
firm, a park operator its park and its park's firms, a firm itself; anything else answers 404 as if
unknown. The answer streams: the records are read a page at a time while it is sent, in a session of
its own (the request's closes when the route returns). `X-Export-Transfers` tells how many transfers it
holds, for a progress bar.
"""

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from compliance import packs
from ledger_service import exports
from ledger_service.api.deps import SIGNED_IN, CurrentParty, RuntimeDep, SessionDep
from ledger_service.api.errors import ApiError
from ledger_service.api.routes.documents import Store
from ledger_service.api.routes.verification import PackId, PeriodDep, visible_firm, visible_park
from ledger_service.api.schemas import Address, ParkName
from ledger_service.documents.store import DocumentStore
from ledger_service.exports import emanifest, epcis, registry
from ledger_service.runtime import Runtime
from ledger_service.search import Period

router = APIRouter(
    prefix="/exports",
    tags=["exports"],
    dependencies=SIGNED_IN,
    responses={404: {"description": "No such park or firm, or one the signed-in party may not see"}},
)

ParkQuery = Annotated[ParkName | None, Query(description="The park whose records to export")]
FirmQuery = Annotated[Address | None, Query(description="…or the firm (its address) whose records to export")]
PackQuery = Annotated[
    PackId | None,
    Query(description="The rule pack the verdicts are judged by (default: the deployment's)"),
]
CHUNK = 1 << 16
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _scope(session: SessionDep, party: CurrentParty, park: str | None, firm: str | None) -> exports.Scope:
    if (park is None) == (firm is None):
        raise ApiError(
            422,
            "scope_required",
            "give either park or firm (one of them)",
            ["query", "park" if park is None else "firm"],
        )
    if firm is not None:
        participant = visible_firm(session, party, firm, ["query", "firm"])
        session.expunge(participant)
        return exports.Scope(firm=participant)
    visible_park(session, party, str(park), ["query", "park"])
    return exports.Scope(park=park)


def _pack(runtime: Runtime, pack: str | None) -> packs.Pack:
    pack_id = pack or runtime.settings.compliance_pack
    try:
        return packs.load(pack_id, runtime.settings.compliance_overrides.get(pack_id.upper()))
    except packs.PackError as exc:  # the deployment's own settings name a pack or override wrongly
        raise ApiError(500, "rule_pack_misconfigured", str(exc), ["query", "pack"]) from exc


@dataclass(frozen=True)
class Asked:
    """An export asked for: whose records, over which period, judged by which pack; with what answers it."""

    session: Session
    runtime: Runtime
    store: DocumentStore
    scope: exports.Scope
    when: tuple[Period, str]
    pack: packs.Pack

    @property
    def title(self) -> str:
        return f"{self.scope.name} {self.when[1]}"

    def answer(
        self,
        media_type: str,
        filename: str,
        write: Callable[..., Iterator[bytes]],
        scheme: str | None = None,
    ) -> StreamingResponse:
        """`write`'s chunks (given the session they read from, the selection and the transfers' pages),
        streamed from a session of the stream's own: the request's closes when the route returns.
        `X-Export-Transfers` counts the transfers it writes (those of `scheme`'s codes, when given)."""
        selection = exports.Selection.now(self.session, self.scope, self.when[0])
        headers = {
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Export-Transfers": str(exports.count_transfers(self.session, selection, scheme)),
            "X-Export-Block": str(selection.block),
            "X-Rule-Pack": f"{self.pack.id} {self.pack.version}",
        }

        def chunks() -> Iterator[bytes]:
            with self.runtime.sessions() as session:
                pages = exports.transfer_pages(session, selection, self.pack, self.store.read)
                yield from write(session, selection, pages)

        return StreamingResponse(chunks(), media_type=media_type, headers=headers)


def asked(
    session: SessionDep,
    party: CurrentParty,
    runtime: RuntimeDep,
    store: Store,
    when: PeriodDep,
    park: ParkQuery = None,
    firm: FirmQuery = None,
    pack: PackQuery = None,
) -> Asked:
    return Asked(session, runtime, store, _scope(session, party, park, firm), when, _pack(runtime, pack))


AskedDep = Annotated[Asked, Depends(asked)]


@router.get(
    "/registry", operation_id="export_registry", responses={200: {"content": {"text/csv": {}, XLSX: {}}}}
)
def export_registry(
    asked: AskedDep, format_: Annotated[Literal["csv", "xlsx"], Query(alias="format")] = "csv"
) -> StreamingResponse:
    """The legal registry: one row per transfer dispatched in the period, in dispatch order, with its waste
    code, quantities, parties, operation, dates, the signatures of each step and its verdict."""
    name, pack = f"registry-{asked.scope.slug}.{format_}", asked.pack.id
    if format_ == "csv":
        return asked.answer(
            "text/csv; charset=utf-8", name, lambda _s, _p, pages: registry.csv_chunks(pages, pack)
        )

    def xlsx(
        _session: object, _selection: object, pages: Iterator[list[exports.TransferRecord]]
    ) -> Iterator[bytes]:
        with tempfile.TemporaryFile() as file:
            registry.write_xlsx(pages, pack, asked.title, file)
            file.seek(0)
            while chunk := file.read(CHUNK):
                yield chunk

    return asked.answer(XLSX, name, xlsx)


@router.get("/epcis", operation_id="export_epcis", responses={200: {"content": {"application/ld+json": {}}}})
def export_epcis(asked: AskedDep) -> StreamingResponse:
    """A GS1 EPCIS 2.0 document: dispatches, receipts and rejections as ObjectEvents, processings as
    TransformationEvents, metered flows' periods as ObjectEvents with sensor data."""
    base, created = asked.runtime.settings.resolved_public_url, datetime.now(UTC)
    return asked.answer(
        "application/ld+json",
        f"epcis-{asked.scope.slug}.jsonld",
        lambda session, selection, pages: epcis.document_chunks(session, selection, pages, base, created),
    )


@router.get("/emanifest", operation_id="export_emanifest")
def export_emanifest(asked: AskedDep) -> StreamingResponse:
    """US EPA e-Manifest JSON: a manifest per transfer of a US-RCRA waste code, with the fields the ledger
    does not hold named; a transfer whose parties have no EPA site id is left out, with the reason."""
    created = datetime.now(UTC)
    return asked.answer(
        "application/json",
        f"emanifest-{asked.scope.slug}.json",
        lambda _s, _p, pages: emanifest.document_chunks(pages, asked.title, created),
        scheme=emanifest.US_SCHEME,
    )
