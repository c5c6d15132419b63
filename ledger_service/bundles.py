"""Evidence bundles: writing one from a case file and the chain, and checking one against a node.

`assemble` gathers what a report rests on: the case file, the pack's data, the report, every signed
statement the case's records come from (read back from the calldata of the transactions that recorded
them, so a statement relayed by anyone is found), the receipts of those transactions and their blocks'
headers, and optionally the documents' bodies. The offline check is compliance.bundle.verify; with a node,
`check_on_chain` also shows that each transaction is on the chain, with the same block and logs.

A batch transaction also carries other firms' statements: only the statements about the case's records go
into the bundle. The transactions' logs go in whole (every participant's node holds them anyway).
"""

import base64
from dataclasses import replace
from typing import Any

from eth_utils import keccak

from compliance import bundle, packs, serialise
from compliance.bundle import Problem
from compliance.casefile import CaseFile, Signature
from compliance.engine import evaluate
from ledger_service.chain.gateway import (
    ChainGateway,
    ChainReader,
    RecordedStatement,
    bundle_chain_records,
    recorded_statements,
)
from ledger_service.deployment import Deployment
from ledger_service.documents.crypto import DocumentUnreadable
from ledger_service.documents.store import DocumentStore
from ledger_service.statements import CORRECTION, code_key, permit_id, recover_signer, typed_data


def assemble(
    gateway: ChainGateway,
    deployment: Deployment,
    case: CaseFile,
    pack_id: str,
    overrides: dict[str, Any] | None = None,
    store: DocumentStore | None = None,
    documents: bool = False,
) -> bytes:
    """The bundle of `case` judged under pack `pack_id`, in canonical JSON. It carries the body of every
    results document whose results the case file holds (the verdicts rest on them, and the verifier reads
    them again), and with `documents` every body `store` holds (each read checked against its hash)."""
    results = {c.results_hash for c in case.certificates if c.results is not None}
    wanted = {d.sha256 for d in case.documents if d.stored and (documents or d.sha256 in results)}
    bodies = _bodies(case, store, wanted) if store is not None else {}
    # The verifier can see a document is intact only with its body: say exactly that in the case file.
    case = replace(
        case,
        documents=tuple(replace(d, intact=True if d.sha256 in bodies else None) for d in case.documents),
    )
    pack_data = packs.data(pack_id, overrides)
    case, evidence = chain_evidence(gateway, deployment, case)
    report = evaluate(case, packs.load(pack_id, overrides))
    data = {
        "format": bundle.FORMAT,
        "subject": case.subject,
        **evidence,
        "pack": pack_data,
        "case": serialise.encode(case),
        "report": serialise.encode(report),
        "documents": [
            {"sha256": sha, "media_type": media, "body": base64.b64encode(body).decode()}
            for sha, (media, body) in sorted(bodies.items())
        ],
    }
    return bundle.canonical(data)


def chain_evidence(
    gateway: ChainGateway, deployment: Deployment, case: CaseFile
) -> tuple[CaseFile, dict[str, Any]]:
    """What the chain holds for the case's records: the statements they come from (read back from the
    calldata), the transactions' receipts and their blocks, as a bundle's `chain`, `statements`,
    `transactions` and `blocks`; and the case with each signature's digest from its statement."""
    evidence_txs = {e.tx_hash for _, e in bundle._all_evidence(case) if e.tx_hash}
    statements = _statements(gateway, deployment.chain_id, case, sorted(evidence_txs))
    tx_hashes = sorted(evidence_txs | {s["tx_hash"] for s in statements})
    transactions, blocks = bundle_chain_records(gateway, tx_hashes)
    return _with_digests(case, statements), {
        "chain": {"chain_id": deployment.chain_id, "contracts": _contracts(deployment)},
        "statements": statements,
        "transactions": transactions,
        "blocks": blocks,
    }


def check_on_chain(reader: ChainReader, data: dict[str, Any]) -> list[Problem]:
    """Each of the bundle's transactions is on the node's chain, in the same block, with the same status
    and logs; each block has the same hash and time."""
    problems = []
    chain_id = reader.chain_id()
    if chain_id != data.get("chain", {}).get("chain_id"):
        return [
            Problem(
                "chain.chain_id", f"{data.get('chain', {}).get('chain_id')}, but the node is chain {chain_id}"
            )
        ]
    for i, tx in enumerate(data.get("transactions", [])):
        actual = reader.transaction(str(tx.get("hash")))
        if actual is None:
            problems.append(
                Problem(f"transactions[{i}]", f"transaction {tx.get('hash')} is not on the node's chain")
            )
        elif actual != tx:
            differs = sorted(k for k in actual.keys() | tx.keys() if actual.get(k) != tx.get(k))
            problems.append(
                Problem(f"transactions[{i}]", f"differs from the node's receipt in {', '.join(differs)}")
            )
    for i, block in enumerate(data.get("blocks", [])):
        actual_block = reader.block(int(block.get("number", -1)))
        if actual_block is None or actual_block != block:
            problems.append(
                Problem(
                    f"blocks[{i}]",
                    f"block {block.get('number')} is not the node's ({(actual_block or {}).get('hash')})",
                )
            )
    return problems


def _with_digests(case: CaseFile, statements: list[dict[str, Any]]) -> CaseFile:
    """The transfers' signatures with the digest of the statement each signed, from the calldata: an
    event does not carry it, and the read model knows it only for what this service relayed. A statement
    is found by its transaction, type, signer and transfer (a batch carries several)."""
    signed = {}
    for s in statements:
        message = s["typed_data"]["message"]
        about = message.get("transferId", s["digest"])  # a dispatch's digest is its transfer's id
        signed[(s["tx_hash"], s["typed_data"]["primaryType"], str(s["signer"]).lower(), about)] = s["digest"]

    def fill(transfer_id: str, sig: Signature) -> Signature:
        digest = signed.get((sig.evidence.tx_hash, sig.statement, sig.party.lower(), transfer_id))
        return replace(sig, digest=digest) if digest and digest != sig.digest else sig

    return replace(
        case,
        transfers=tuple(
            replace(t, signatures=tuple(fill(t.id, s) for s in t.signatures)) for t in case.transfers
        ),
    )


# The ledger's events that undo an authorisation, by the signature their first topic hashes: what a bundle
# might leave out to make a permit, a certificate or a participant look in good standing.
PERMIT_REVOKED = "PermitRevoked(bytes32,address,string)"
CERTIFICATE_REVOKED = "CertificateRevoked(bytes32,bytes32,address,string)"
PARTICIPANT_SUSPENDED = "ParticipantSuspended(address,address,string)"
PARTICIPANT_REINSTATED = "ParticipantReinstated(address,address,string)"


TRANSFER_DISPATCHED = (
    "TransferDispatched(bytes32,address,address,bytes32,uint64,uint8,bytes32,bytes32[],bytes32)"
)
LOT_USED = "LotUsed(bytes32,address,bytes32,uint64,string,bytes32)"


def check_complete(reader: ChainReader, data: dict[str, Any]) -> list[Problem]:
    """What the bundle may have left out, recorded on chain by the report's evaluation date: a revocation
    of one of its permits or certificates, a suspension of one of its parties, a transfer shipped from or
    a final use declared of one of its lots."""
    try:
        case = serialise.case_file(data["case"])
        contracts = data["chain"]["contracts"]
        ledger = contracts["SymbiosisLedger"]
    except (KeyError, serialise.BundleFormatError):
        return []  # the offline check has named it
    horizon = int(case.evaluation_date.timestamp())
    times: dict[int, int] = {}

    def by_horizon(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for log in logs:
            if log["block_number"] not in times:
                times[log["block_number"]] = int(
                    (reader.block(log["block_number"]) or {}).get("timestamp", 0)
                )
        return [log for log in logs if times[log["block_number"]] <= horizon]

    def recorded(signature: str, *keys: str, address: str = ledger) -> list[dict[str, Any]]:
        return by_horizon(reader.logs(address, ["0x" + keccak(text=signature).hex(), *keys]))

    def left_out(where: str, what: str, log: dict[str, Any]) -> Problem:
        return Problem(
            where,
            f"{what} on chain in transaction {log['tx_hash']} (block {log['block_number']}), "
            "which the bundle leaves out",
        )

    problems = []
    for name, signature in (("permits", PERMIT_REVOKED), ("certificates", CERTIFICATE_REVOKED)):
        for i, record in enumerate(getattr(case, name)):
            for log in recorded(signature, record.id):
                if record.revocation is None or record.revocation.tx_hash != log["tx_hash"]:
                    problems.append(left_out(f"case.{name}[{i}]", "revoked", log))
    for i, party in enumerate(case.parties):
        topic = "0x" + party.address.lower().removeprefix("0x").rjust(64, "0")
        changes = sorted(
            [
                (log["block_number"], log["log_index"], "suspended")
                for log in recorded(PARTICIPANT_SUSPENDED, topic)
            ]
            + [
                (log["block_number"], log["log_index"], "active")
                for log in recorded(PARTICIPANT_REINSTATED, topic)
            ]
        )
        if changes and changes[-1][2] != party.status:
            problems.append(
                Problem(
                    f"case.parties[{i}].status",
                    f"{party.status}, but the chain has it {changes[-1][2]} since block {changes[-1][0]}",
                )
            )
    lots = {lot.id: i for i, lot in enumerate(case.lots)}
    shipped = {t.id for t in case.transfers}
    # The lot is no topic of a dispatch: every dispatch is read, and only the lot's are checked for time.
    topic = "0x" + keccak(text=TRANSFER_DISPATCHED).hex()
    dispatches = [
        log
        for log in reader.logs(ledger, [topic])
        if "0x" + log["data"][2:66] in lots and log["topics"][1] not in shipped
    ]
    for log in by_horizon(dispatches):
        where = f"case.lots[{lots['0x' + log['data'][2:66]]}]"
        problems.append(left_out(where, f"transfer {log['topics'][1]} was shipped from it", log))
    if "Processing" in contracts:
        declared = {u.id for u in case.uses}
        uses = [
            log
            for log in reader.logs(contracts["Processing"], ["0x" + keccak(text=LOT_USED).hex()])
            if log["topics"][1] in lots and log["topics"][3] not in declared
        ]
        for log in by_horizon(uses):
            where = f"case.lots[{lots[log['topics'][1]]}]"
            problems.append(left_out(where, f"final use {log['topics'][3]} of it was declared", log))
    return problems


def _contracts(deployment: Deployment) -> dict[str, str]:
    contracts = {"SymbiosisLedger": deployment.ledger.address}
    for name, label in (("processing", "Processing"), ("metered_flows", "MeteredFlows")):
        deployed = getattr(deployment, name, None)
        if deployed is not None:
            contracts[label] = deployed.address
    return contracts


def _statements(
    gateway: ChainGateway, chain_id: int, case: CaseFile, tx_hashes: list[str]
) -> list[dict[str, Any]]:
    """The statements about the case's records that `tx_hashes` carried, each with its signer."""
    relevant = _Relevance(case)
    found: list[dict[str, Any]] = []
    countersignatures: list[tuple[RecordedStatement, str]] = []
    for tx_hash in tx_hashes:
        for recorded in recorded_statements(gateway, tx_hash):
            if recorded.statement is None:
                countersignatures.append((recorded, tx_hash))
                continue
            typed = typed_data(recorded.statement, chain_id, recorded.contract, recorded.message or {})
            digest = bundle.statement_digest(typed)
            if relevant(recorded.statement.primary_type, digest, recorded.message or {}):
                found.append(_entry(typed, recorded, digest, tx_hash, recorded.statement.signer_field))
    proposals = {s["digest"]: s for s in found if s["typed_data"]["primaryType"] == CORRECTION.primary_type}
    for recorded, tx_hash in countersignatures:
        proposal = proposals.get(recorded.correction_id)
        if proposal is not None:
            signer = recover_signer(proposal["typed_data"], recorded.signature)
            entry = {**proposal, "signature": "0x" + recorded.signature.hex(), "tx_hash": tx_hash}
            entry["signer"] = signer or "unknown"
            entry["contract_wallet"] = signer is None
            found.append(entry)
    return found


def _entry(
    typed: dict[str, Any], recorded: RecordedStatement, digest: str, tx_hash: str, signer_field: str
) -> dict[str, Any]:
    named = (recorded.message or {}).get(signer_field)
    signer = recover_signer(typed, recorded.signature)
    return {
        "typed_data": typed,
        "signature": "0x" + recorded.signature.hex(),
        "signer": named or signer or "unknown",
        "digest": digest,
        "tx_hash": tx_hash,
        # A contract wallet's signature does not recover to it: the verifier asks the wallet (with --rpc).
        "contract_wallet": signer is None or (named is not None and signer.lower() != str(named).lower()),
    }


class _Relevance:
    """Whether a statement is about one of the case's records."""

    def __init__(self, case: CaseFile) -> None:
        self.transfers = {t.id for t in case.transfers}
        self.lots = {lot.id for lot in case.lots}
        self.certificates = {c.id for c in case.certificates}
        self.permits = {p.id for p in case.permits}
        self.parties = {p.address.lower() for p in case.parties}
        self.codes = {c.key for c in case.codes}
        self.processings = {p.id for p in case.processings}

    def __call__(self, primary: str, digest: str, m: dict[str, Any]) -> bool:
        match primary:
            case "Dispatch":
                return digest in self.transfers
            case "Receipt" | "PickUp" | "Delivery" | "Rejection" | "Correction":
                return m.get("transferId") in self.transfers
            case "RegisterLot":
                return digest in self.lots
            case "IssueCertificate":
                return digest in self.certificates
            case "RevokeCertificate":
                return m.get("certificateId") in self.certificates
            case "RegisterPermit":
                return permit_id(str(m.get("permitNumber"))) in self.permits
            case "RevokePermit":
                return m.get("permitId") in self.permits
            case "RegisterParticipant" | "SetParticipantStatus":
                return str(m.get("participant")).lower() in self.parties
            case "RegisterWasteCode":
                return code_key(str(m.get("scheme")), str(m.get("code"))) in self.codes
            case "RecordProcessing":
                return digest in self.processings
            case "DeclareUse":
                return m.get("lotId") in self.lots
        return False


def _bodies(case: CaseFile, store: DocumentStore, wanted: set[str]) -> dict[str, tuple[str | None, bytes]]:
    bodies = {}
    for d in case.documents:
        if d.sha256 not in wanted:
            continue
        try:
            bodies[d.sha256] = (d.media_type, store.read(d.sha256))
        except DocumentUnreadable:
            continue  # left out: the verifier then says its integrity is unknown
    return bodies
