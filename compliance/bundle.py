"""Evidence bundles: one JSON file with everything a report's verdicts rest on, and its offline check.

A bundle holds the case file, the rule pack (its data, so the verdicts can be re-run exactly), the report,
every signed statement the records come from (EIP-712 typed data, signature, signer), the transactions
that recorded them (status, block, logs) and their blocks' headers, and optionally the documents' bodies.

`verify(raw)` re-checks it without the service or its database:
- the file is canonical JSON (sorted keys, no spaces), so no byte can change outside a checked value;
- every statement's digest is recomputed and its signature recovers to its named signer, on this chain and
  contract (a statement signed for another chain or contract is refused);
- every record of the case file matches the signed statement it comes from, field by field (a processing's
  inputs, outputs and grams, a final use's lot and quantity included);
- every piece of evidence names a transaction of the bundle that succeeded, in a block of the bundle, with
  a log at that index;
- every document body hashes to its SHA-256, and a certificate's results are those its results document
  (carried in the bundle) holds;
- the pack's content hash is the report's, and re-running the pack over the case file gives the report.
Each failure names exactly what failed ("case.transfers[3].quantity: 12301, the shipper signed 12300").
Whether the transactions are on the chain is checked with a node (ledger_service.bundles, --rpc).
"""

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from compliance import packs, serialise
from compliance.casefile import PERMIT_KINDS, ROLES, CaseFile, Certificate, Evidence, Lot, Permit, Processing
from compliance.engine import evaluate
from compliance.operations import operations_mask
from compliance.results import read_results
from compliance.verdicts import Report

FORMAT = "symbiosis-ledger/evidence-bundle/1"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # a time no block of the bundle has
# The EIP-712 domain every statement is signed in (eth_account hashes the domain from its values, so a
# changed type list would otherwise go unnoticed).
DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
# The field of each statement that names the party who must sign it.
SIGNER_FIELD = {
    "RegisterParticipant": "regulator",
    "SetParticipantStatus": "regulator",
    "RegisterWasteCode": "regulator",
    "RegisterPermit": "regulator",
    "RevokePermit": "regulator",
    "RegisterLot": "generator",
    "Dispatch": "shipper",
    "IssueCertificate": "lab",
    "RevokeCertificate": "lab",
    "PickUp": "transporter",
    "Delivery": "transporter",
    "Receipt": "receiver",
    "Rejection": "receiver",
    "RecordProcessing": "processor",
    "DeclareUse": "holder",
}


@dataclass(frozen=True)
class Problem:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


# The checks `_records` makes against its bundle's statements, handed on to the helpers that share them:
# attested(where, evidence, statement) and compare(where, [(field, recorded, signed)], who signed).
Attested = Callable[[str, Evidence, dict[str, Any]], Iterator[Problem]]
Compare = Callable[[str, list[tuple[str, Any, Any]], str], Iterator[Problem]]


@dataclass
class Verification:
    problems: list[Problem] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    report: Report | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def canonical(data: Any) -> bytes:
    return packs.canonical(data)


def statement_digest(typed_data: dict[str, Any]) -> str:
    signable = encode_typed_data(full_message=typed_data)
    return "0x" + keccak(b"\x19" + signable.version + signable.header + signable.body).hex()


def verify(raw: bytes) -> Verification:
    result = Verification()
    try:
        bundle = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        result.problems.append(Problem("bundle", f"not JSON: {error}"))
        return result
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        result.problems.append(Problem("bundle.format", f"not an evidence bundle of format {FORMAT}"))
        return result
    if canonical(bundle) != raw:
        result.problems.append(Problem("bundle", "not in canonical JSON form: bytes were changed or added"))
    try:
        case = serialise.case_file(bundle["case"])
        bundled_report = serialise.report(bundle["report"])
    except (KeyError, serialise.BundleFormatError) as error:
        result.problems.append(Problem("bundle", f"malformed: {error}"))
        return result
    result.problems.extend(check_records(bundle, case))
    result.problems.extend(_documents(bundle, case))
    result.problems.extend(_results(bundle, case))
    result.problems.extend(_rerun(bundle, case, bundled_report, result))
    result.checked = {
        "statements": len(bundle.get("statements", [])),
        "transactions": len(bundle.get("transactions", [])),
        "blocks": len(bundle.get("blocks", [])),
        "documents": len(bundle.get("documents", [])),
        "records": sum(
            len(getattr(case, f))
            for f in (
                "parties",
                "codes",
                "permits",
                "lots",
                "certificates",
                "transfers",
                "processings",
                "uses",
            )
        ),
    }
    return result


def check_records(chain_evidence: dict[str, Any], case: CaseFile) -> list[Problem]:
    """The case's records against the chain: every statement's digest and signature, every record against
    the statement it comes from, every piece of evidence against the transactions and blocks. Takes the
    `chain`, `statements`, `transactions` and `blocks` sections of a bundle (what a verification report's
    integrity check gathers too, ledger_service.integrity)."""
    checks: list[Callable[[dict[str, Any], CaseFile], Iterator[Problem]]] = [_statements, _records, _evidence]
    return [problem for check_ in checks for problem in check_(chain_evidence, case)]


def _statements(bundle: dict[str, Any], case: CaseFile) -> Iterator[Problem]:
    chain = bundle.get("chain", {})
    contracts = {a.lower() for a in chain.get("contracts", {}).values()}
    for i, s in enumerate(bundle.get("statements", [])):
        where = f"statements[{i}]"
        typed = s.get("typed_data", {})
        domain = typed.get("domain", {})
        if domain.get("chainId") != chain.get("chain_id"):
            yield Problem(
                where, f"signed for chain {domain.get('chainId')}, not chain {chain.get('chain_id')}"
            )
        if typed.get("types", {}).get("EIP712Domain") != DOMAIN_TYPE:
            yield Problem(
                where, "its EIP712Domain type is not the ledger's (name, version, chainId, verifyingContract)"
            )
        if str(domain.get("verifyingContract", "")).lower() not in contracts:
            yield Problem(
                where, f"signed for contract {domain.get('verifyingContract')}, not one of this deployment"
            )
        try:
            digest = statement_digest(typed)
        except Exception as error:  # malformed typed data raises several unrelated exception types
            yield Problem(where, f"its typed data cannot be hashed: {error}")
            continue
        if digest != s.get("digest"):
            yield Problem(
                where, f"its typed data hashes to {digest}, not the digest {s.get('digest')} it names"
            )
        primary = typed.get("primaryType", "")
        signer = s.get("signer")
        named = typed.get("message", {}).get(SIGNER_FIELD.get(primary, ""), signer)
        if primary != "Correction" and str(named).lower() != str(signer).lower():
            yield Problem(where, f"the {primary} names {named} as its party, but {signer} signed it")
        if s.get("contract_wallet"):
            continue  # an ERC-1271 wallet's signature is checked by asking the wallet, with a node (--rpc)
        try:
            recovered = Account.recover_message(
                encode_typed_data(full_message=typed), signature=s.get("signature")
            )
        except Exception:
            recovered = None
        if recovered is None or recovered.lower() != str(signer).lower():
            yield Problem(where, f"the signature of this {primary} does not recover to its signer {signer}")


def _records(bundle: dict[str, Any], case: CaseFile) -> Iterator[Problem]:
    """Each record against the statement it comes from."""
    by_digest = {s.get("digest"): s for s in bundle.get("statements", [])}
    by_type: dict[str, list[dict[str, Any]]] = {}
    for s in bundle.get("statements", []):
        by_type.setdefault(s.get("typed_data", {}).get("primaryType", ""), []).append(
            s["typed_data"]["message"]
        )

    signed_by = {(s.get("digest"), str(s.get("signer")).lower()): s for s in bundle.get("statements", [])}
    wrapper = {id(s["typed_data"]["message"]): s for s in bundle.get("statements", []) if "typed_data" in s}

    def attested(
        where: str, evidence: Evidence, statement: dict[str, Any], field: str = "evidence"
    ) -> Iterator[Problem]:
        """The record's evidence is the transaction that recorded its statement, and its signer."""
        if evidence.tx_hash != statement.get("tx_hash"):
            yield Problem(
                f"{where}.{field}.tx_hash",
                f"{evidence.tx_hash}, but its statement was recorded by {statement.get('tx_hash')}",
            )
        if evidence.signer is not None and evidence.signer.lower() != str(statement.get("signer")).lower():
            yield Problem(
                f"{where}.{field}.signer",
                f"{evidence.signer}, but {statement.get('signer')} signed its statement",
            )

    def compare(where: str, pairs: list[tuple[str, Any, Any]], who: str) -> Iterator[Problem]:
        for name, recorded, signed in pairs:
            if _norm(recorded) != _norm(signed):
                yield Problem(f"{where}.{name}", f"{_show(recorded)}, but {who} signed {_show(signed)}")

    def signed_as(
        where: str, record: Any, noun: str, who: str, fields: Callable[[Any, dict[str, Any]], list[Any]]
    ) -> Iterator[Problem]:
        """A record whose id is the digest of the statement it comes from, against that statement."""
        statement = by_digest.get(record.id)
        if statement is None:
            yield Problem(where, f"no signed statement in the bundle has the {noun}'s id {record.id}")
            return
        yield from attested(where, record.evidence, statement)
        yield from compare(where, fields(record, statement["typed_data"]["message"]), who)

    for i, t in enumerate(case.transfers):
        where = f"case.transfers[{i}]"
        statement = by_digest.get(t.id)
        if statement is None:
            yield Problem(where, f"no signed statement in the bundle has the transfer's id {t.id}")
            continue
        m = statement["typed_data"]["message"]
        yield from attested(where, t.evidence, statement)
        yield from compare(where, [("status", t.status, _signed_status(t, by_type))], "the parties")
        source = case.lot(t.lot_id)
        if source is not None:
            yield from compare(where, [("code_key", t.code_key, source.code_key)], "the lot's generator")
        rejected = sum(
            _as_int(r.get("rejectedQuantity"))
            for r in by_type.get("Rejection", [])
            if r.get("transferId") == t.id
        )
        yield from compare(where, [("rejected_quantity", t.rejected_quantity, rejected)], "the receiver")
        if t.return_of is None:
            yield from compare(
                where,
                [
                    ("shipper", t.shipper, m.get("shipper")),
                    ("receiver", t.receiver, m.get("receiver")),
                    ("lot_id", t.lot_id, m.get("lotId")),
                    ("quantity", t.quantity, m.get("quantity")),
                    ("operation", t.operation, m.get("operation")),
                    ("permit_id", t.permit_id, m.get("permitId")),
                    ("certificates", list(t.certificates), m.get("certificates")),
                    ("transporters", list(t.transporters), m.get("transporters")),
                    ("licences", list(t.licences), m.get("licences")),
                    ("document_hash", t.document_hash, m.get("documentHash")),
                ],
                "the shipper",
            )
        receipts = [r for r in by_type.get("Receipt", []) if r.get("transferId") == t.id]
        if t.received_quantity is not None and receipts:
            corrected = sum(
                _as_int(c.get("receivedDelta", 0))
                for c in by_type.get("Correction", [])
                if c.get("transferId") == t.id
            )
            yield from compare(
                where,
                [
                    (
                        "received_quantity",
                        t.received_quantity,
                        _as_int(receipts[0].get("receivedQuantity")) + corrected,
                    )
                ],
                "the receiver",
            )
        for j, sig in enumerate(t.signatures):
            at = f"{where}.signatures[{j}]"
            signed = signed_by.get((sig.digest, sig.party.lower()))
            if signed is None:
                yield Problem(
                    at, f"no statement with digest {sig.digest} signed by {sig.party} is in the bundle"
                )
                continue
            primary = signed["typed_data"].get("primaryType")
            message = signed["typed_data"].get("message", {})
            role = SIGNER_FIELD.get(primary) or (
                "proposer" if message.get("proposer") == signed.get("signer") else "counterparty"
            )
            yield from compare(
                at, [("statement", sig.statement, primary), ("role", sig.role, role)], sig.party
            )
            yield from attested(at, sig.evidence, signed)
    for i, lot in enumerate(case.lots):
        where = f"case.lots[{i}]"
        if lot.origin == "received":
            yield from _received_lot(where, lot, case, by_type, attested, compare, wrapper)
            continue
        if lot.origin == "produced":
            if not any(o.lot_id == lot.id for p in case.processings for o in p.outputs):
                yield Problem(
                    f"{where}.origin", f"produced, but no processing in the bundle output lot {lot.id}"
                )
            continue
        if lot.origin != "generated":
            yield Problem(f"{where}.origin", f"{lot.origin!r} is not an origin the ledger records")
            continue
        statement = by_digest.get(lot.id)
        if statement is None:
            yield Problem(where, f"no signed statement in the bundle has the lot's id {lot.id}")
            continue
        m = statement["typed_data"]["message"]
        yield from attested(where, lot.evidence, statement)
        key = (
            "0x" + keccak(keccak(text=str(m.get("wasteScheme"))) + keccak(text=str(m.get("wasteCode")))).hex()
        )
        yield from compare(
            where,
            [
                ("generator", lot.generator, m.get("generator")),
                ("holder", lot.holder, m.get("generator")),
                ("quantity", lot.quantity, m.get("quantity")),
                ("code_key", lot.code_key, key),
                ("document_hash", lot.document_hash, m.get("documentHash")),
            ],
            "the generator",
        )
    for i, c in enumerate(case.certificates):
        yield from signed_as(
            f"case.certificates[{i}]",
            c,
            "certificate",
            "the lab",
            lambda c, m: [
                ("lab", c.lab, m.get("lab")),
                ("lot_id", c.lot_id, m.get("lotId")),
                ("document_hash", c.document_hash, m.get("documentHash")),
                ("results_hash", c.results_hash, m.get("resultsHash")),
                ("valid_until", int(c.valid_until.timestamp()), m.get("validUntil")),
            ],
        )
    permits = {m.get("permitNumber"): m for m in by_type.get("RegisterPermit", [])}
    for i, p in enumerate(case.permits):
        where = f"case.permits[{i}]"
        if p.id != "0x" + keccak(text=p.number).hex():
            yield Problem(f"{where}.id", f"{p.id} is not the ledger's id of permit number {p.number}")
        m = permits.get(p.number)
        if m is None:
            yield Problem(where, f"no signed registration of permit {p.number} is in the bundle")
            continue
        statement = wrapper[id(m)]
        yield from attested(where, p.evidence, statement)
        yield from compare(
            where,
            [
                ("holder", p.holder, m.get("holder")),
                ("kind", PERMIT_KINDS.index(p.kind) + 1 if p.kind in PERMIT_KINDS else p.kind, m.get("kind")),
                ("coverage", _coverage(p.coverage), m.get("coverage")),
                ("number", p.number, m.get("permitNumber")),
                ("yearly_capacity", p.yearly_capacity, m.get("yearlyCapacity")),
                ("valid_from", int(p.valid_from.timestamp()), m.get("validFrom")),
                ("valid_until", int(p.valid_until.timestamp()), m.get("validUntil")),
            ],
            "the regulator",
        )
    revocations: list[tuple[str, Permit | Certificate, str, str]] = [
        ("permits", p, "RevokePermit", "permitId") for p in case.permits
    ]
    revocations += [("certificates", c, "RevokeCertificate", "certificateId") for c in case.certificates]
    for name, record, primary, key in revocations:
        if record.revocation is None:
            continue
        where = f"case.{name}[{getattr(case, name).index(record)}]"
        signed = [m for m in by_type.get(primary, []) if m.get(key) == record.id]
        if not signed:
            yield Problem(f"{where}.revocation", f"no signed {primary} of {record.id} is in the bundle")
        else:
            yield from attested(where, record.revocation, wrapper[id(signed[0])], "revocation")
    for i, processing in enumerate(case.processings):
        yield from _processing(f"case.processings[{i}]", processing, by_digest, attested, compare)
    for i, u in enumerate(case.uses):
        yield from signed_as(
            f"case.uses[{i}]",
            u,
            "use",
            "the holder",
            lambda u, m: [
                ("holder", u.holder, m.get("holder")),
                ("lot_id", u.lot_id, m.get("lotId")),
                ("quantity", u.quantity, m.get("quantity")),
                ("use", u.use, m.get("use")),
                ("document_hash", u.document_hash, m.get("documentHash")),
            ],
        )
    registrations = {str(m.get("participant")).lower(): m for m in by_type.get("RegisterParticipant", [])}
    for i, party in enumerate(case.parties):
        where = f"case.parties[{i}]"
        m = registrations.get(party.address.lower())
        if m is None:
            yield Problem(where, f"no signed registration of {party.address} is in the bundle")
            continue
        yield from attested(where, party.evidence, wrapper[id(m)])
        signed_roles = sorted(r for i, r in enumerate(ROLES) if _as_int(m.get("roles", 0)) >> i & 1)
        changes = [
            c
            for c in by_type.get("SetParticipantStatus", [])
            if str(c.get("participant")).lower() == party.address.lower()
        ]
        signed_status = "suspended" if changes and changes[-1].get("suspended") else "active"
        yield from compare(
            where,
            [
                ("legal_name", party.legal_name, m.get("legalName")),
                ("park", party.park, m.get("park")),
                ("roles", sorted(party.roles), signed_roles),
                ("status", party.status, signed_status),
            ],
            "the regulator",
        )
    registered_codes = {(m.get("scheme"), m.get("code")): m for m in by_type.get("RegisterWasteCode", [])}
    for i, code in enumerate(case.codes):
        where = f"case.codes[{i}]"
        if code.key != "0x" + keccak(keccak(text=code.scheme) + keccak(text=code.code)).hex():
            yield Problem(f"{where}.key", f"{code.key} is not the ledger's key of code {code.label}")
        m = registered_codes.get((code.scheme, code.code))
        if m is None:
            yield Problem(where, f"no signed registration of code {code.label} is in the bundle")
            continue
        yield from attested(where, code.evidence, wrapper[id(m)])
        yield from compare(
            where,
            [
                ("hazardous", code.hazardous, m.get("hazardous")),
                ("unit", code.unit, m.get("unit")),
                ("description", code.description, m.get("description")),
            ],
            "the regulator",
        )


OUTPUT_KINDS = {1: "product", 2: "by_product", 3: "residue"}  # Processing.OutputKind


def _processing(
    where: str,
    p: Processing,
    by_digest: dict[str, dict[str, Any]],
    attested: Attested,
    compare: Compare,
) -> Iterator[Problem]:
    """A processing against the RecordProcessing its processor signed: every input and output, the grams
    its mass balance is judged on, and its record."""
    statement = by_digest.get(p.id)
    if statement is None:
        yield Problem(where, f"no signed statement in the bundle has the processing's id {p.id}")
        return
    m = statement["typed_data"]["message"]
    inputs, outputs = m.get("inputs", []), m.get("outputs", [])
    external = sum(_as_int(e.get("grams")) for e in m.get("externalInputs", []))
    yield from attested(where, p.evidence, statement)
    yield from compare(
        where,
        [
            ("processor", p.processor, m.get("processor")),
            (
                "inputs",
                [[x.lot_id, x.quantity, x.code_key] for x in p.inputs],
                [[x.get("lotId"), x.get("quantity"), x.get("codeKey")] for x in inputs],
            ),
            (
                "outputs",
                [[o.lot_id, o.kind, o.quantity, o.code_key] for o in p.outputs],
                [
                    [
                        # An output's lot id is keccak256(abi.encode(processingId, index)).
                        "0x" + keccak(bytes.fromhex(p.id[2:]) + j.to_bytes(32, "big")).hex(),
                        OUTPUT_KINDS.get(_as_int(o.get("kind"))),
                        o.get("quantity"),
                        o.get("codeKey"),
                    ]
                    for j, o in enumerate(outputs)
                ],
            ),
            ("external_grams", p.external_grams, external),
            (
                "input_grams",
                p.input_grams,
                external + sum(_as_int(x.get("quantity")) * _as_int(x.get("gramsPerUnit")) for x in inputs),
            ),
            (
                "output_grams",
                p.output_grams,
                sum(_as_int(o.get("quantity")) * _as_int(o.get("gramsPerUnit")) for o in outputs),
            ),
            ("loss_grams", p.loss_grams, m.get("lossGrams")),
            ("evidence.document_hash", p.evidence.document_hash, m.get("documentHash")),
        ],
        "the processor",
    )


def _signed_status(t: Any, by_type: dict[str, list[dict[str, Any]]]) -> str:
    """Where the parties' signed statements put the transfer (the read model's status names)."""

    def about(statement: str) -> list[dict[str, Any]]:
        return [m for m in by_type.get(statement, []) if m.get("transferId") == t.id]

    rejections = about("Rejection")
    if rejections:
        return "rejected" if _as_int(rejections[0].get("acceptedQuantity")) == 0 else "partially_rejected"
    if about("Receipt"):
        corrections = about("Correction")
        return "corrected" if len(corrections) > len({c.get("nonce") for c in corrections}) else "received"
    if t.return_of is not None:
        return "returning"
    if not t.transporters:
        return "dispatched"
    delivered = len(about("Delivery"))
    if delivered == len(t.transporters):
        return "delivered"
    return "in_transit" if about("PickUp") else "awaiting_pick_up"


def _received_lot(
    where: str,
    lot: Lot,
    case: CaseFile,
    by_type: dict[str, list[dict[str, Any]]],
    attested: Attested,
    compare: Compare,
    wrapper: dict[int, dict[str, Any]],
) -> Iterator[Problem]:
    """A lot a receipt opened: its id is the transfer's, its holder the receiver, its quantity what the
    receiver signed it measured (plus agreed corrections)."""
    transfer = case.transfer(lot.id)
    receipts = [m for m in by_type.get("Receipt", []) if m.get("transferId") == lot.id]
    if transfer is None or not receipts:
        yield Problem(where, f"no transfer {lot.id} with a signed receipt is in the bundle to open it")
        return
    yield from attested(where, lot.evidence, wrapper[id(receipts[0])])
    yield from compare(
        where,
        [
            ("source_transfer", lot.source_transfer, lot.id),
            ("holder", lot.holder, receipts[0].get("receiver")),
            ("code_key", lot.code_key, transfer.code_key),
            ("quantity", lot.quantity, transfer.received_quantity),
        ],
        "the receiver",
    )


def _evidence(bundle: dict[str, Any], case: CaseFile) -> Iterator[Problem]:
    txs = {t.get("hash"): t for t in bundle.get("transactions", [])}
    blocks = {b.get("number"): b for b in bundle.get("blocks", [])}
    for i, t in enumerate(bundle.get("transactions", [])):
        block = blocks.get(t.get("block_number"))
        if t.get("status") != 1:
            yield Problem(f"transactions[{i}]", f"transaction {t.get('hash')} did not succeed")
        if block is None or block.get("hash") != t.get("block_hash"):
            yield Problem(
                f"transactions[{i}]",
                f"its block {t.get('block_number')} ({t.get('block_hash')}) is not in the bundle",
            )
    for where, when, evidence in _timed(case):
        block = blocks.get(evidence.block)
        if block is not None and block.get("timestamp") != int(when.timestamp()):
            yield Problem(
                where, f"{when.isoformat()}, but block {evidence.block} is of {_utc(block.get('timestamp'))}"
            )
    for where, evidence in _all_evidence(case):
        if evidence.tx_hash is None:
            continue
        tx = txs.get(evidence.tx_hash)
        if tx is None:
            yield Problem(where, f"transaction {evidence.tx_hash} is not in the bundle")
        elif evidence.block is not None and tx.get("block_number") != evidence.block:
            yield Problem(
                where,
                f"names block {evidence.block}, but transaction {evidence.tx_hash} is in block {tx.get('block_number')}",
            )
        elif evidence.log_index is not None and evidence.log_index not in {
            log.get("log_index") for log in tx.get("logs", [])
        }:
            yield Problem(where, f"transaction {evidence.tx_hash} has no log {evidence.log_index}")
    for i, s in enumerate(bundle.get("statements", [])):
        if s.get("tx_hash") not in txs:
            yield Problem(
                f"statements[{i}]",
                f"the transaction that recorded it, {s.get('tx_hash')}, is not in the bundle",
            )


def _timed(case: CaseFile) -> Iterator[tuple[str, datetime, Evidence]]:
    """Each recorded time with the evidence whose block it must be the time of."""
    for i, lot in enumerate(case.lots):
        yield f"case.lots[{i}].created_at", lot.created_at, lot.evidence
    for i, c in enumerate(case.certificates):
        yield f"case.certificates[{i}].issued_at", c.issued_at, c.evidence
    for name in ("permits", "certificates"):
        for i, record in enumerate(getattr(case, name)):
            if (record.revoked_at is None) != (record.revocation is None):
                yield (
                    f"case.{name}[{i}].revoked_at",
                    record.revoked_at or _EPOCH,
                    record.revocation or record.evidence,
                )
            elif record.revocation is not None:
                yield f"case.{name}[{i}].revoked_at", record.revoked_at, record.revocation
    for i, p in enumerate(case.processings):
        yield f"case.processings[{i}].recorded_at", p.recorded_at, p.evidence
    for i, u in enumerate(case.uses):
        yield f"case.uses[{i}].used_at", u.used_at, u.evidence
    for i, t in enumerate(case.transfers):
        yield f"case.transfers[{i}].dispatched_at", t.dispatched_at, t.evidence
        for j, sig in enumerate(t.signatures):
            yield f"case.transfers[{i}].signatures[{j}].recorded_at", sig.recorded_at, sig.evidence
            if sig.statement in ("Receipt", "Rejection") and t.received_at is not None:
                yield f"case.transfers[{i}].received_at", t.received_at, sig.evidence


def _utc(timestamp: Any) -> str:
    try:
        return datetime.fromtimestamp(int(timestamp), UTC).isoformat()
    except (TypeError, ValueError, OverflowError):
        return repr(timestamp)


def _all_evidence(case: CaseFile) -> Iterator[tuple[str, Evidence]]:
    for name in ("parties", "codes", "permits", "lots", "certificates", "transfers", "processings", "uses"):
        for i, record in enumerate(getattr(case, name)):
            yield f"case.{name}[{i}].evidence", record.evidence
            if getattr(record, "revocation", None) is not None:
                yield f"case.{name}[{i}].revocation", record.revocation
            for j, sig in enumerate(getattr(record, "signatures", ())):
                yield f"case.{name}[{i}].signatures[{j}].evidence", sig.evidence


def _documents(bundle: dict[str, Any], case: CaseFile) -> Iterator[Problem]:
    cited = {t.document_hash for t in case.transfers} | {lot.document_hash for lot in case.lots}
    cited |= {u.document_hash for u in case.uses} | {p.evidence.document_hash for p in case.processings}
    cited |= {h for c in case.certificates for h in (c.document_hash, c.results_hash)}
    bodies = {d.get("sha256"): d for d in bundle.get("documents", [])}
    for i, doc in enumerate(case.documents):
        where = f"case.documents[{i}]"
        if doc.sha256 not in cited:
            yield Problem(f"{where}.sha256", f"{doc.sha256} is cited by no record of the case file")
        body = bodies.get(doc.sha256)
        if body is not None and (not doc.stored or doc.media_type != body.get("media_type")):
            yield Problem(where, "its metadata does not match the document body the bundle carries")
        # Intact is what this verifier can see: true with the body in the bundle, unknown without it.
        if doc.intact is not (True if body is not None else None):
            yield Problem(
                f"{where}.intact",
                f"{doc.intact}, but the bundle {'carries' if body else 'does not carry'} its body",
            )
    for i, d in enumerate(bundle.get("documents", [])):
        try:
            body = base64.b64decode(d.get("body", ""), validate=True)
        except ValueError:
            yield Problem(f"documents[{i}].body", "not base64")
            continue
        actual = "0x" + hashlib.sha256(body).hexdigest()
        if actual != d.get("sha256"):
            yield Problem(f"documents[{i}]", f"its body hashes to {actual}, not {d.get('sha256')}")


def _results(bundle: dict[str, Any], case: CaseFile) -> Iterator[Problem]:
    bodies = {d.get("sha256"): d.get("body", "") for d in bundle.get("documents", [])}
    for i, c in enumerate(case.certificates):
        if c.results is None:
            continue
        where = f"case.certificates[{i}].results"
        if c.results_hash not in bodies:
            yield Problem(where, f"the bundle does not carry their results document {c.results_hash}")
            continue
        try:
            held = read_results(base64.b64decode(bodies[c.results_hash], validate=True))
        except ValueError as error:  # not base64, or ResultsUnreadable
            yield Problem(where, f"their results document {c.results_hash} is unreadable: {error}")
            continue
        if held != c.results:
            yield Problem(where, f"{dict(c.results)}, but the results document holds {dict(held)}")


def _rerun(
    bundle: dict[str, Any], case: CaseFile, bundled: Report, result: Verification
) -> Iterator[Problem]:
    pack_data = bundle.get("pack", {})
    pack_hash = hashlib.sha256(canonical(pack_data)).hexdigest()
    if pack_hash != bundled.pack_hash:
        yield Problem(
            "pack", f"its content hash is {pack_hash}, but the report was made with pack {bundled.pack_hash}"
        )
        return
    try:
        pack = packs.from_data(pack_data, bundled.overrides)
    except (packs.PackError, KeyError) as error:
        yield Problem("pack", f"malformed: {error}")
        return
    rerun = evaluate(case, pack)
    result.report = rerun
    if rerun == bundled:
        return
    bundled_rules = {r.rule_id: r for r in bundled.rules}
    for rule in rerun.rules:
        before = bundled_rules.pop(rule.rule_id, None)
        if before is None:
            yield Problem(f"report.rules[{rule.rule_id}]", "missing from the bundled report")
        elif before != rule:
            yield Problem(
                f"report.rules[{rule.rule_id}]",
                f"the bundle says {before.verdict.value}, a re-run of the pack says {rule.verdict.value}"
                + ("" if before.verdict != rule.verdict else " (its findings differ)"),
            )
    for rule_id in bundled_rules:
        yield Problem(f"report.rules[{rule_id}]", "not a rule of the pack")
    for name in ("pack_id", "pack_version", "evaluation_date", "subject", "overrides"):
        if getattr(rerun, name) != getattr(bundled, name):
            yield Problem(
                f"report.{name}",
                f"{_show(getattr(bundled, name))}, but a re-run gives {_show(getattr(rerun, name))}",
            )


def _coverage(coverage: Any) -> list[dict[str, Any]] | str:
    """A permit's coverage as the regulator signs it: code keys with their operations as a bit mask."""
    try:
        return [
            {"codeKey": c.code_key, "operations": str(operations_mask(sorted(c.operations)))}
            for c in coverage
        ]
    except ValueError as error:
        return str(error)


def _as_int(value: Any) -> int:
    """A signed integer field (JSON strings in typed data); 0 when it is none, which then fails its comparison."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _norm(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("0x"):
        return value.lower()
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, datetime):
        return int(value.astimezone(UTC).timestamp())
    return value


def _show(value: Any) -> str:
    value = _norm(value)
    return json.dumps(value) if isinstance(value, list | str) else str(value)
