"""A small evidence bundle signed with real keys, for the verifier's own tests: a regulator registers two
firms, a waste code and a receiver's permit; the shipper registers a lot and dispatches part of it; the
receiver receives it. Transactions and blocks are made up (the chain's inclusion is checked with --rpc)."""

import base64
import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from compliance import bundle, packs, serialise
from compliance.casefile import (
    CaseFile,
    Coverage,
    Document,
    Evidence,
    Lot,
    Party,
    Permit,
    Signature,
    Transfer,
    WasteCode,
)
from compliance.engine import evaluate
from ledger_service import statements as st

CHAIN_ID = 31337
LEDGER = "0x" + "5a" * 20
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
REGULATOR, SHIPPER, RECEIVER = (
    Account.from_key(keccak(text=f"bundle test {n}")) for n in ("reg", "ship", "recv")
)
TICKET = b"%PDF-1.7 weighbridge ticket 12,300 kg"
TICKET_HASH = "0x" + hashlib.sha256(TICKET).hexdigest()
UNIX = int(T0.timestamp())
# The blocks of the lot's registration, the dispatch and the receipt (the others' times are not records').
BLOCK_TIMES = {5: UNIX - 3600, 6: UNIX, 7: UNIX + 7200}


def _signed(statement: st.Statement, account, message: dict[str, Any], n: int) -> dict[str, Any]:
    message = st.normalise_message(statement, message)
    typed = st.typed_data(statement, CHAIN_ID, LEDGER, message)
    signature = Account.sign_message(encode_typed_data(full_message=typed), account.key).signature
    return {
        "typed_data": typed,
        "signature": "0x" + bytes(signature).hex(),
        "signer": account.address,
        "digest": bundle.statement_digest(typed),
        "tx_hash": _tx(n),
    }


def _tx(n: int) -> str:
    return "0x" + f"{n:064x}"


def _ev(n: int, signer=None) -> Evidence:
    return Evidence(_tx(n), 100 + n, 0, signer.address if signer else None)


def make() -> dict[str, Any]:
    """A bundle as ledger_service.bundles writes it (before canonical encoding)."""
    reg = {"regulator": REGULATOR.address, "deadline": UNIX + 3600}
    registrations = [
        _signed(
            st.REGISTER_PARTICIPANT,
            REGULATOR,
            {
                **reg,
                "participant": a.address,
                "roles": roles,
                "legalName": name,
                "enterpriseId": eid,
                "park": "Phu My 3",
                "nonce": i,
            },
            i,
        )
        for i, (a, roles, name, eid) in enumerate(
            [(SHIPPER, 4, "Hoa Phat Steel", "0101"), (RECEIVER, 8, "Nam Cau Kien Stone", "0202")], start=1
        )
    ]
    code = _signed(
        st.REGISTER_WASTE_CODE,
        REGULATOR,
        {
            **reg,
            "scheme": "EU-LOW",
            "code": "10 02 02",
            "unit": "KGM",
            "hazardous": False,
            "description": "unprocessed slag",
            "nonce": 3,
        },
        3,
    )
    code_key = st.code_key("EU-LOW", "10 02 02")
    permit = _signed(
        st.REGISTER_PERMIT,
        REGULATOR,
        {
            **reg,
            "permitNumber": "P-123",
            "holder": RECEIVER.address,
            "kind": 1,
            "coverage": [{"codeKey": code_key, "operations": 16}],
            "yearlyCapacity": 1_000_000,
            "validFrom": UNIX - 86_400,
            "validUntil": UNIX + 365 * 86_400,
            "nonce": 4,
        },
        4,
    )
    lot = _signed(
        st.REGISTER_LOT,
        SHIPPER,
        {
            "generator": SHIPPER.address,
            "wasteScheme": "EU-LOW",
            "wasteCode": "10 02 02",
            "quantity": 100_000,
            "unit": "KGM",
            "documentHash": "0x" + "9e" * 32,
            "nonce": 5,
            "deadline": UNIX + 3600,
        },
        5,
    )
    dispatch = _signed(
        st.DISPATCH,
        SHIPPER,
        {
            "shipper": SHIPPER.address,
            "receiver": RECEIVER.address,
            "lotId": lot["digest"],
            "quantity": 12_300,
            "operation": "R5",
            "permitId": st.permit_id("P-123"),
            "certificates": [],
            "transporters": [],
            "licences": [],
            "documentHash": TICKET_HASH,
            "nonce": 6,
            "deadline": UNIX + 3600,
        },
        6,
    )
    receipt = _signed(
        st.RECEIPT,
        RECEIVER,
        {
            "transferId": dispatch["digest"],
            "receiver": RECEIVER.address,
            "receivedQuantity": 12_280,
            "deadline": UNIX + 7200,
        },
        7,
    )
    signed = [*registrations, code, permit, lot, dispatch, receipt]
    case = CaseFile(
        evaluation_date=T0 + timedelta(days=10),
        subject=f"transfer {dispatch['digest']}",
        parties=(
            Party(
                SHIPPER.address,
                "Hoa Phat Steel",
                "Phu My 3",
                frozenset({"shipper"}),
                "active",
                _ev(1, REGULATOR),
            ),
            Party(
                RECEIVER.address,
                "Nam Cau Kien Stone",
                "Phu My 3",
                frozenset({"receiver"}),
                "active",
                _ev(2, REGULATOR),
            ),
        ),
        codes=(
            WasteCode(code_key, "EU-LOW", "10 02 02", "unprocessed slag", False, "KGM", _ev(3, REGULATOR)),
        ),
        permits=(
            Permit(
                st.permit_id("P-123"),
                "P-123",
                RECEIVER.address,
                "environmental_permit",
                (Coverage(code_key, frozenset({"R5"})),),
                1_000_000,
                T0 - timedelta(days=1),
                T0 + timedelta(days=365),
                evidence=_ev(4, REGULATOR),
            ),
        ),
        lots=(
            Lot(
                lot["digest"],
                SHIPPER.address,
                code_key,
                "generated",
                100_000,
                87_700,
                T0 - timedelta(hours=1),
                generator=SHIPPER.address,
                document_hash="0x" + "9e" * 32,
                evidence=_ev(5, SHIPPER),
            ),
            Lot(
                dispatch["digest"],
                RECEIVER.address,
                code_key,
                "received",
                12_280,
                12_280,
                T0 + timedelta(hours=2),
                source_transfer=dispatch["digest"],
                evidence=_ev(7, RECEIVER),
            ),
        ),
        transfers=(
            Transfer(
                id=dispatch["digest"],
                lot_id=lot["digest"],
                shipper=SHIPPER.address,
                receiver=RECEIVER.address,
                code_key=code_key,
                operation="R5",
                permit_id=st.permit_id("P-123"),
                quantity=12_300,
                dispatched_at=T0,
                status="received",
                document_hash=TICKET_HASH,
                received_quantity=12_280,
                received_at=T0 + timedelta(hours=2),
                signatures=(
                    Signature(
                        SHIPPER.address, "shipper", "Dispatch", dispatch["digest"], T0, _ev(6, SHIPPER)
                    ),
                    Signature(
                        RECEIVER.address,
                        "receiver",
                        "Receipt",
                        receipt["digest"],
                        T0 + timedelta(hours=2),
                        _ev(7, RECEIVER),
                    ),
                ),
                evidence=_ev(6, SHIPPER),
            ),
        ),
        documents=(Document(TICKET_HASH, "application/pdf", True, True),),
    )
    pack_data = packs.data("EU")
    report = evaluate(case, packs.from_data(pack_data))
    return {
        "format": bundle.FORMAT,
        "subject": case.subject,
        "chain": {"chain_id": CHAIN_ID, "contracts": {"SymbiosisLedger": LEDGER}},
        "pack": pack_data,
        "case": serialise.encode(case),
        "report": serialise.encode(report),
        "statements": signed,
        "transactions": [
            {
                "hash": _tx(n),
                "block_number": 100 + n,
                "block_hash": "0x" + f"{100 + n:064x}",
                "status": 1,
                "logs": [{"log_index": 0}],
            }
            for n in range(1, 8)
        ],
        "blocks": [
            {
                "number": 100 + n,
                "hash": "0x" + f"{100 + n:064x}",
                "timestamp": BLOCK_TIMES.get(n, UNIX - 2 * 86_400),
            }
            for n in range(1, 8)
        ],
        "documents": [
            {
                "sha256": TICKET_HASH,
                "media_type": "application/pdf",
                "body": base64.b64encode(TICKET).decode(),
            }
        ],
    }


def encoded(data: dict[str, Any]) -> bytes:
    return bundle.canonical(data)


__all__ = ["encoded", "make", "replace"]
