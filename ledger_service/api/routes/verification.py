"""The deployed contracts verified against their source (docs/verification.md)."""

from dataclasses import asdict

from fastapi import APIRouter

from ledger_service.api.deps import SIGNED_IN, RuntimeDep
from ledger_service.api.errors import ApiError
from ledger_service.api.schemas import ContractsVerification, ContractVerificationOut
from ledger_service.verification.bytecode import SourceError, compile_tree, verify_deployment

router = APIRouter(prefix="/verification", tags=["verification"], dependencies=SIGNED_IN)


@router.get("/contracts", operation_id="verify_contracts")
def verify_contracts(runtime: RuntimeDep) -> ContractsVerification:
    """Each deployed contract's runtime code against the source tree the service was given, compiled with
    the pinned compiler and settings (once per service process: the first call takes tens of seconds)."""
    try:
        compilation = compile_tree(runtime.settings.contract_sources)
    except SourceError as exc:
        raise ApiError(503, "sources_unavailable", str(exc)) from exc
    results = verify_deployment(runtime.gateway, runtime.deployment, compilation)
    return ContractsVerification(
        verified=all(r.verified for r in results),
        contracts=[ContractVerificationOut(**asdict(r)) for r in results],
    )
