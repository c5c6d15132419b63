"""The node's answers on the relayer's and the indexer's busy path, read as plain JSON-RPC.

web3 runs every answer through its formatters, field by field and log by log: for a batch of 64 statements
(a receipt and a range of logs of a few hundred entries each) that took longer than the node's own work.
These calls go through web3's provider (its session, timeouts and endpoint) but convert only the fields the
service reads, into the types web3 would have given them (HexBytes, int, checksummed addresses), so their
callers cannot tell the difference.
"""

from collections.abc import Mapping
from typing import Any, cast

from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import Web3RPCError
from web3.types import RPCEndpoint

from ledger_service.statements import checksummed


def call(w3: Web3, method: str, params: list[Any]) -> Any:
    """The result of one JSON-RPC call; a node's error answer raises Web3RPCError, as web3 would."""
    response = w3.provider.make_request(RPCEndpoint(method), params)
    error = response.get("error")
    if error is not None:
        message = error.get("message", str(error)) if isinstance(error, Mapping) else str(error)
        raise Web3RPCError(str(message), rpc_response=response)
    return response.get("result")


def receipt(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    contract = raw.get("contractAddress")
    return {
        "transactionHash": HexBytes(raw["transactionHash"]),
        "blockNumber": int(raw["blockNumber"], 16),
        "blockHash": HexBytes(raw["blockHash"]),
        "status": int(raw["status"], 16),
        "gasUsed": int(raw["gasUsed"], 16),
        "contractAddress": checksummed(contract) if contract else None,
        "logs": [log(entry) for entry in raw["logs"]],
    }


def log(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "address": checksummed(raw["address"]),
        "topics": [HexBytes(topic) for topic in raw["topics"]],
        "data": HexBytes(raw["data"]),
        "blockNumber": int(raw["blockNumber"], 16),
        "blockHash": HexBytes(raw["blockHash"]),
        "transactionHash": HexBytes(raw["transactionHash"]),
        "logIndex": int(raw["logIndex"], 16),
    }


def header(raw: Mapping[str, Any] | None) -> tuple[str, str, int] | None:
    """(hash, parent hash, timestamp) of a block, or None where the node has no such block."""
    if raw is None:
        return None
    return cast(str, raw["hash"]).lower(), cast(str, raw["parentHash"]).lower(), int(raw["timestamp"], 16)
