"""Signed document requests: how a party proves, per call, that it is the one uploading or reading.

The party signs EIP-712 typed data "<action> <document hash> by <party> at <time>, nonce <n>" for this
deployment (chain id, ledger address); the service checks the signature, that the time is recent and
that the nonce was never used. Any Ethereum wallet can sign it. Pure code, shared by the service and
the CLI. The sign-in's bearer token is meant to replace it; until then it is the authentication.
"""

import secrets
import time
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import to_checksum_address

from ledger_service.statements import DOMAIN_TYPE

DOMAIN_NAME, DOMAIN_VERSION = "SymbiosisLedger documents", "1"
UPLOAD, DOWNLOAD, READ_AUDIT = "upload", "download", "read_audit"
ACTIONS = (UPLOAD, DOWNLOAD, READ_AUDIT)
NO_DOCUMENT = "0x" + "00" * 32  # a request about no single document (reading the audit log)
REQUEST_TYPE = [
    {"name": "action", "type": "string"},
    {"name": "document", "type": "bytes32"},
    {"name": "party", "type": "address"},
    {"name": "issuedAt", "type": "uint64"},
    {"name": "nonce", "type": "bytes32"},
]
# The HTTP headers a signed request travels in.
PARTY_HEADER = "X-Symledger-Party"
ISSUED_AT_HEADER = "X-Symledger-Issued-At"
NONCE_HEADER = "X-Symledger-Nonce"
SIGNATURE_HEADER = "X-Symledger-Signature"


def typed_data(
    chain_id: int, ledger: str, action: str, document: str, party: str, issued_at: int, nonce: str
) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": DOMAIN_TYPE, "DocumentRequest": REQUEST_TYPE},
        "primaryType": "DocumentRequest",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": str(chain_id),
            "verifyingContract": to_checksum_address(ledger),
        },
        "message": {
            "action": action,
            "document": document.lower(),
            "party": to_checksum_address(party),
            "issuedAt": str(issued_at),
            "nonce": nonce.lower(),
        },
    }


def signed_headers(
    account: Any,
    chain_id: int,
    ledger: str,
    action: str,
    document: str = NO_DOCUMENT,
    issued_at: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers of a request `account` signs now, with a fresh nonce (the party's side)."""
    issued_at = int(time.time()) if issued_at is None else issued_at
    nonce = nonce or "0x" + secrets.token_hex(32)
    payload = typed_data(chain_id, ledger, action, document, account.address, issued_at, nonce)
    signature = Account.sign_typed_data(account.key, full_message=payload).signature
    return {
        PARTY_HEADER: account.address,
        ISSUED_AT_HEADER: str(issued_at),
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: "0x" + bytes(signature).hex(),
    }


def recover(payload: dict[str, Any], signature: bytes) -> str | None:
    """Who signed `payload`; None if `signature` is no valid signature at all."""
    try:
        return str(Account.recover_message(encode_typed_data(full_message=payload), signature=signature))
    except Exception:  # malformed signatures raise several unrelated exception types
        return None
