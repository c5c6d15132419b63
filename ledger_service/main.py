"""The application factory."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from ledger_service import dashboard
from ledger_service.api.deps import refuse_nul_characters
from ledger_service.api.errors import install_error_handlers
from ledger_service.api.idempotency import IdempotencyMiddleware
from ledger_service.api.openapi import document_errors
from ledger_service.api.routes import (
    auth,
    batches,
    catalogue,
    certificates,
    correction_requests,
    corrections,
    documents,
    evidence,
    exports,
    flows,
    kpis,
    lots,
    participants,
    processing,
    returns,
    system,
    transfers,
    verification,
    webhooks,
)
from ledger_service.runtime import Runtime
from ledger_service.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(settings)
        runtime.start()
        app.state.runtime = runtime
        try:
            yield
        finally:
            runtime.stop()

    app = FastAPI(
        title="Symbiosis Ledger",
        version="0.1.0",
        summary="Signed, traceable waste-to-resource transfers between firms in eco-industrial parks",
        lifespan=lifespan,
        dependencies=[Depends(refuse_nul_characters)],
    )
    install_error_handlers(app)
    app.add_middleware(IdempotencyMiddleware)
    app.include_router(system.router)
    app.include_router(auth.router)
    app.include_router(participants.router)
    app.include_router(catalogue.router)
    app.include_router(lots.router)
    app.include_router(certificates.router)
    app.include_router(transfers.router)
    app.include_router(returns.router)
    app.include_router(corrections.router)
    app.include_router(correction_requests.router)
    app.include_router(batches.router)
    app.include_router(documents.router)
    app.include_router(processing.router)
    app.include_router(flows.router)
    app.include_router(webhooks.router)
    app.include_router(verification.router)
    app.include_router(evidence.router)
    app.include_router(exports.router)
    app.include_router(kpis.router)
    dashboard.install(app)
    document_errors(app)
    return app
