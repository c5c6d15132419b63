"""The integrity checks every verification report carries, so that a regulator reading its verdicts knows
what they rest on is what the parties signed and the chain holds:

- records: every record of the case file against the signed statement it comes from, read back from the
  calldata of the transaction that recorded it, with each signature re-verified and each piece of evidence
  found in its transaction and block (compliance.bundle.check_records, the evidence bundle's check);
- documents: every document the service holds re-read and re-hashed against the hash the chain records;
- contracts: the deployed contracts' runtime code against the audited source, compiled anew with the
  pinned compiler and settings ("contracts verified against source commit X").

A check that cannot run (node down, sources not shipped with this deployment) says "not checked" and why.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from compliance.bundle import check_records
from compliance.casefile import CaseFile
from ledger_service.bundles import chain_evidence
from ledger_service.chain.gateway import NodeUnavailable
from ledger_service.runtime import Runtime
from ledger_service.verification.bytecode import SourceError, compile_tree, verify_deployment

VERIFIED, FAILED, NOT_CHECKED = "verified", "failed", "not checked"


@dataclass(frozen=True)
class Integrity:
    check: str  # records | documents | contracts
    status: str  # verified | failed | not checked
    summary: str
    problems: tuple[str, ...] = ()


def integrity(runtime: Runtime, case: CaseFile, unreadable: Mapping[str, str]) -> list[Integrity]:
    return [records(runtime, case), documents(case, unreadable), contracts(runtime)]


def records(runtime: Runtime, case: CaseFile) -> Integrity:
    try:
        with_digests, evidence = chain_evidence(runtime.gateway, runtime.deployment, case)
    except NodeUnavailable as exc:
        return Integrity("records", NOT_CHECKED, f"the node does not answer: {exc}")
    problems = tuple(str(p) for p in check_records(evidence, with_digests))
    count = sum(
        len(getattr(case, f)) for f in ("parties", "codes", "permits", "lots", "certificates", "transfers")
    )
    statements = len(evidence["statements"])
    if problems:
        return Integrity(
            "records", FAILED, f"{len(problems)} differences between the records and the chain", problems
        )
    return Integrity(
        "records",
        VERIFIED,
        f"{count} records match the {statements} signed statements they come from, every signature re-verified, "
        f"in {len(evidence['transactions'])} transactions on chain",
    )


def documents(case: CaseFile, unreadable: Mapping[str, str]) -> Integrity:
    """`case`'s documents as the service received them, against what re-reading them found (`unreadable`:
    why each that failed did; ledger_service.casefiles.with_documents_checked)."""
    held = [d for d in case.documents if d.stored]
    problems = [f"document {d.sha256}: {unreadable[d.sha256]}" for d in held if d.sha256 in unreadable]
    elsewhere = len(case.documents) - len(held)
    note = f"; {elsewhere} cited but not held by this service" if elsewhere else ""
    if problems:
        return Integrity(
            "documents",
            FAILED,
            f"{len(problems)} of {len(held)} documents do not match their hash{note}",
            tuple(problems),
        )
    return Integrity(
        "documents", VERIFIED, f"{len(held)} documents re-read, each matching its on-chain hash{note}"
    )


def contracts(runtime: Runtime) -> Integrity:
    try:
        results = verify_deployment(
            runtime.gateway, runtime.deployment, compile_tree(runtime.settings.contract_sources)
        )
    except SourceError as exc:
        return Integrity("contracts", NOT_CHECKED, f"the contract sources cannot be compiled here: {exc}")
    except NodeUnavailable as exc:
        return Integrity("contracts", NOT_CHECKED, f"the node does not answer: {exc}")
    failed = tuple(f"{r.name} at {r.address}: {r.reason}" for r in results if not r.verified)
    commit = results[0].source_commit if results else None
    source = f"source commit {commit}" if commit else f"sources sha256 {results[0].sources_sha256}"
    if any(r.uncommitted for r in results):
        source += " (with uncommitted changes)"
    if failed:
        return Integrity("contracts", FAILED, f"{len(failed)} contracts differ from {source}", failed)
    return Integrity("contracts", VERIFIED, f"contracts verified against {source}")
