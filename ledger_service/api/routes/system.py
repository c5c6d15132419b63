"""Health of the service and the deployment it serves."""

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from ledger_service.api.deps import RuntimeDep
from ledger_service.chain.gateway import NodeUnavailable


class Health(BaseModel):
    status: str
    chain_id: int
    chain_block: int | None
    indexed_block: int | None


router = APIRouter(tags=["system"])


@router.get("/health", operation_id="get_health")
def health(runtime: RuntimeDep) -> Health:
    """Whether the node answers, and how far the read model has indexed the chain."""
    try:
        block: int | None = runtime.gateway.block_number()
    except NodeUnavailable:
        block = None
    return Health(
        status="ok" if block is not None else "node_unavailable",
        chain_id=runtime.chain_id,
        chain_block=block,
        indexed_block=runtime.indexer.indexed_block(),
    )


@router.get("/deployment", operation_id="get_deployment")
def deployment(runtime: RuntimeDep) -> dict[str, Any]:
    """The deployment record: chain id, contract addresses and the build they were deployed from."""
    return asdict(runtime.deployment)
