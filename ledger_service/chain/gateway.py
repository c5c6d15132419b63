"""The chain gateway: the only module that speaks to the node.

It binds the contracts from the build artifacts and the deployment record, reads their state,
simulates statements before they are accepted, signs the relayer's transactions locally and sends
them raw (production chains have no unlocked accounts), and reads and decodes event logs.
"""

import functools
import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import requests
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.codec import ABICodec
from eth_account.signers.local import LocalAccount
from eth_typing import ABIError, ABIEvent, ABIFunction, ChecksumAddress, HexStr
from eth_utils import (
    event_abi_to_log_topic,
    function_abi_to_4byte_selector,
    get_abi_input_types,
)
from hexbytes import HexBytes
from web3 import Web3
from web3._utils.abi import (
    exclude_indexed_event_inputs,
    get_indexed_event_inputs,
    named_tree,
    normalize_event_input_types,
)
from web3._utils.events import get_event_abi_types_for_decoding
from web3.contract.contract import Contract, ContractConstructor, ContractFunction
from web3.exceptions import (
    BlockNotFound,
    ContractCustomError,
    ContractLogicError,
    TransactionNotFound,
    Web3RPCError,
)
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import Nonce, TxParams, Wei

from ledger_service.chain import rpc
from ledger_service.deployment import MODULES, DeployedContract, Deployment
from ledger_service.statements import Statement, checksummed, normalise_message, typed_data  # svc-workflows
from ledger_service.statements import digest as statement_digest  # svc-workflows

LEDGER_CONTRACT = "SymbiosisLedger"
# Which contract function records each statement: it takes the message as a struct, then the call's context
# arguments (CONTEXT: data the contract checks but the signer does not sign), then the signature.
CONTEXT = {"PickUp": ("transporters",), "Delivery": ("transporters",)}
FUNCTIONS = {
    "RegisterParticipant": "registerParticipant",
    "SetParticipantStatus": "setParticipantStatus",
    "RegisterWasteCode": "registerWasteCode",
    "RegisterPermit": "registerPermit",
    "RevokePermit": "revokePermit",
    "RegisterLot": "registerLot",
    "IssueCertificate": "issueCertificate",
    "RevokeCertificate": "revokeCertificate",
    "Dispatch": "dispatch",
    "PickUp": "pickUp",
    "Delivery": "deliver",
    "Receipt": "confirmReceipt",
}

# svc-workflows: statements about an existing transfer come with its dispatch's EIP-712 encoding first
# (the ledger stores no shipper per transfer); a Correction's countersignature calls another function.
DISPATCH_PROVEN = {"Rejection": "reject", "Correction": "proposeCorrection"}
COUNTERSIGN_FUNCTION = "countersignCorrection"
BATCH_FUNCTION = "recordBatch"

T = TypeVar("T")


class NodeUnavailable(Exception):
    """The node did not answer (down, unreachable, or timed out)."""


@dataclass
class ContractRejection(Exception):
    """The contract refused a call with a custom error (decoded) or a plain revert."""

    error: str
    details: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.error}({', '.join(f'{k}={v}' for k, v in self.details.items())})"


@dataclass(frozen=True)
class DecodedEvent:
    address: str
    event: str
    args: dict[str, Any]
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    compiler: dict[str, Any]
    sha256: str

    @classmethod
    def load(cls, artifacts_dir: Path, name: str) -> "Artifact":
        path = artifacts_dir / f"{name}.json"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: compile the contracts first (make build)")
        raw = json.loads(path.read_text())
        canonical = json.dumps(
            {"abi": raw["abi"], "bytecode": raw["bytecode"], "deployedBytecode": raw["deployedBytecode"]},
            sort_keys=True,
        )
        return cls(
            name=name,
            abi=raw["abi"],
            bytecode=raw["bytecode"],
            compiler=raw.get("compiler", {}),
            sha256=hashlib.sha256(canonical.encode()).hexdigest(),
        )


def _event_table(artifact: Artifact) -> dict[bytes, dict[str, Any]]:
    """The artifact's events by their first log topic."""
    return {
        event_abi_to_log_topic(cast(ABIEvent, item)): item for item in artifact.abi if item["type"] == "event"
    }


@dataclass(frozen=True)
class _EventDecoder:
    """One event's ABI prepared for decoding its logs. web3's get_event_data prepares the ABI again for
    every log, which was most of the indexer's decoding time; this does the same decoding with the same
    web3 helpers, once."""

    topic_names: tuple[str, ...]
    topic_types: tuple[str, ...]
    data_inputs: tuple[Any, ...]
    data_types: tuple[str, ...]

    @classmethod
    def of(cls, abi: ABIEvent) -> "_EventDecoder":
        topics = list(normalize_event_input_types(get_indexed_event_inputs(abi)))
        data = list(normalize_event_input_types(exclude_indexed_event_inputs(abi)))
        return cls(
            topic_names=tuple(str(item["name"]) for item in topics),
            topic_types=tuple(get_event_abi_types_for_decoding(topics)),
            data_inputs=tuple(data),
            data_types=tuple(get_event_abi_types_for_decoding(data)),
        )

    def args(self, codec: ABICodec, log: Mapping[str, Any]) -> dict[str, Any]:
        topics = log["topics"][1:]
        if len(topics) != len(self.topic_types):
            raise ValueError(f"expected {len(self.topic_types)} indexed arguments, the log has {len(topics)}")
        # Indexed values are one 32-byte word each (dynamic ones are hashes, typed bytes32 here): the topics
        # side by side are their ABI encoding as a tuple, decoded in one call.
        values = codec.decode(self.topic_types, b"".join(bytes(topic) for topic in topics))
        args = dict(zip(self.topic_names, values, strict=True))
        args.update(named_tree(self.data_inputs, codec.decode(self.data_types, bytes(log["data"]))))
        return args


def _unsupported(exc: Web3RPCError) -> bool:
    """Whether a node's error says it has no such method (JSON-RPC's -32601, or a node's own words)."""
    error = cast(Mapping[str, Any], exc.rpc_response or {}).get("error") or {}
    code = error.get("code") if isinstance(error, Mapping) else None
    text = str(exc).lower()
    return code == -32601 or "method not found" in text or "not supported" in text or "does not exist" in text


def _checksummed(address: str) -> ChecksumAddress:
    """An address the deployment record holds, as web3 takes it. The record holds them checksummed (written
    through to_checksum_address) and web3 checks it again: this only names the type."""
    return cast(ChecksumAddress, address)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str) and Web3.is_address(value) and value.startswith("0x") and len(value) == 42:
        return checksummed(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):  # a struct, decoded with its field names
        return {k: _jsonable(v) for k, v in value.items()}
    return value


class ChainGateway:
    def __init__(
        self,
        rpc_url: str,
        artifacts_dir: Path,
        *,
        relayer: LocalAccount | None,
        gas_price_wei: int | None = 0,
        poa_chain: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        if poa_chain:
            self.w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        self.relayer = relayer
        self.gas_price_wei = gas_price_wei
        self.artifact = Artifact.load(artifacts_dir, LEDGER_CONTRACT)
        self._errors = self._error_table(self.artifact)
        self._ledger_functions = {
            item["name"]: cast(ABIFunction, item) for item in self.artifact.abi if item["type"] == "function"
        }
        # Each ledger function's selector and argument types, for calldata encoded without web3.
        self._encodings = {
            name: (function_abi_to_4byte_selector(abi), get_abi_input_types(abi))
            for name, abi in self._ledger_functions.items()
        }
        self._events = _event_table(self.artifact)
        self._decoders: dict[bytes, _EventDecoder] = {}
        self._load_modules(artifacts_dir)  # processing and metered flows
        self._send_lock = threading.Lock()
        self._next_tx_nonce: int | None = None
        self._simulates_v1 = True  # until the node says it has no eth_simulateV1
        self._chain_id: int | None = None
        self.deployment: Deployment | None = None
        self.ledger: Contract | None = None

    # --- binding -------------------------------------------------------------------------------

    def bind(self, deployment: Deployment) -> None:
        """Binds the deployed ledger; refuses a record made for another chain or another build."""
        chain_id = self.chain_id()
        if deployment.chain_id != chain_id:
            raise RuntimeError(
                f"the deployment record is for chain {deployment.chain_id} but the node is chain {chain_id}"
            )
        deployed = deployment.ledger
        if self._call(lambda: self.w3.eth.get_code(_checksummed(deployed.address))) in (b"", None):
            raise RuntimeError(
                f"no contract code at {deployed.address} on chain {chain_id}: the chain state was lost; "
                "remove the deployment record to deploy anew"
            )
        if deployed.artifact_sha256 != self.artifact.sha256:
            raise RuntimeError(
                f"{LEDGER_CONTRACT} was deployed from another build than build/contracts "
                f"(artifact sha256 {deployed.artifact_sha256[:12]}… != {self.artifact.sha256[:12]}…)"
            )
        self.ledger = self.w3.eth.contract(address=_checksummed(deployed.address), abi=self.artifact.abi)
        self.deployment = deployment
        self._bind_modules(deployment)  # processing and metered flows

    @property
    def ledger_address(self) -> str:
        return self._bound().address

    # --- reads -------------------------------------------------------------------------------------

    def chain_id(self) -> int:
        """The node's chain id (asked once: a node does not change chains under a running service)."""
        if self._chain_id is None:
            self._chain_id = int(self._call(lambda: self.w3.eth.chain_id))
        return self._chain_id

    def block_number(self) -> int:
        return int(self._call(lambda: rpc.call(self.w3, "eth_blockNumber", [])), 16)

    def runtime_code(self, address: str) -> bytes:
        """The code deployed at `address` as the node holds it now (empty: none)."""
        return bytes(self._call(lambda: self.w3.eth.get_code(checksummed(address))) or b"")

    def block(self, number: int) -> tuple[str, datetime]:
        block = self._call(lambda: self.w3.eth.get_block(number))
        return "0x" + bytes(block["hash"]).hex(), datetime.fromtimestamp(block["timestamp"], UTC)

    def require_active(self, address: str, role: int) -> None:
        """Raises ContractRejection (UnregisteredParticipant, SuspendedParticipant, MissingRole)."""
        self._transact_or_call(self._bound().functions.requireActive(address, role).call)

    def participant(self, address: str) -> tuple[int, int]:
        """(roles mask, status: 0 unregistered, 1 active, 2 suspended) as the registry holds them now."""
        roles, status = self._call(self._bound().functions.participant(address).call)
        return int(roles), int(status)

    def nonce_used(self, statement: Statement, signer: str, nonce: int) -> bool:
        """Whether `signer` used `nonce` in the contract that verifies `statement` (each keeps its own)."""
        module = MODULE_CALLS.get(statement.primary_type)
        contract = self._bound() if module is None else self._module(module)
        return bool(self._call(contract.functions.nonceUsed(signer, nonce).call))

    # --- statements --------------------------------------------------------------------------------

    def statement_call(
        self,
        statement: Statement,
        message: dict[str, Any],
        signature: bytes,
        context: dict[str, Any] | None = None,
    ) -> ContractFunction:
        if statement.primary_type in DISPATCH_PROVEN:  # svc-workflows: see the block at the end
            return self._dispatch_proven_call(statement, message, signature, context or {})
        if statement.primary_type in MODULE_CALLS:  # processing and metered flows
            return self._module_call(statement, message, signature, context)
        args = self._abi_struct(statement, statement.fields, message)
        extra = [(context or {})[name] for name in CONTEXT.get(statement.primary_type, ())]
        return self._bound().functions[FUNCTIONS[statement.primary_type]](tuple(args), *extra, signature)

    def simulate(self, call: ContractFunction) -> int:
        """Gas the call needs; raises ContractRejection if the contract would refuse it."""
        # Against the pending block, which the transaction will be mined in: the latest block may be
        # minutes old, and a statement whose deadline passed since then would pass here, be sent and revert.
        return int(
            self._transact_or_call(
                lambda: call.estimate_gas({"from": self._signer().address}, block_identifier="pending")
            )
        )

    def send(
        self,
        call: ContractFunction | ContractConstructor,
        gas: int,
        on_signed: Callable[[str], None] | None = None,
    ) -> str:
        """Signs the call as the relayer and sends it raw; returns the transaction hash.

        `on_signed` gets the hash before the transaction leaves, so a caller can record it first: a crash
        after sending then finds the transaction by its hash instead of taking it for unsent.
        """
        # Encoded by web3 (its fields given, so it asks the node nothing), sent as any calldata is.
        tx = call.build_transaction(
            {"from": self._signer().address, "nonce": Nonce(0), "gas": gas, "gasPrice": Wei(0), "chainId": 0}
        )
        to = tx.get("to")
        return self.send_data(str(to) if to else None, HexBytes(tx["data"]), gas, on_signed)

    def send_data(
        self, to: str | None, data: bytes, gas: int, on_signed: Callable[[str], None] | None = None
    ) -> str:
        """`send` for calldata already encoded (a recordBatch call: web3 would encode and check each of its
        items again); `to` None: a deployment."""
        relayer = self._signer()
        with self._send_lock:
            fields = dict(self._tx_fields(relayer, gas), data=data)
            if to is not None:
                fields["to"] = checksummed(to)
            return self._sign_and_send(relayer, cast(TxParams, fields), on_signed)

    def _tx_fields(self, relayer: LocalAccount, gas: int) -> TxParams:
        """Sender, nonce, gas and chain of the relayer's next transaction (under the send lock)."""
        if self._next_tx_nonce is None:
            self._next_tx_nonce = self._call(
                lambda: self.w3.eth.get_transaction_count(relayer.address, "pending")
            )
        gas_price = (
            self.gas_price_wei
            if self.gas_price_wei is not None
            else self._call(lambda: self.w3.eth.gas_price)
        )
        return {
            "from": relayer.address,
            "nonce": Nonce(self._next_tx_nonce),
            "gas": gas,
            "gasPrice": Wei(gas_price),
            "chainId": self.chain_id(),
        }

    def _sign_and_send(
        self, relayer: LocalAccount, tx: TxParams, on_signed: Callable[[str], None] | None
    ) -> str:
        """Signs `tx` and hands it to the node (under the send lock, `tx` holding the next nonce)."""
        assert self._next_tx_nonce is not None
        # eth-account types the transaction as a plain dict of its value types; web3 builds it as its
        # TxParams TypedDict, which mypy does not take for a dict: the same mapping at run time.
        signed = relayer.sign_transaction(tx)  # type: ignore[arg-type]
        tx_hash_hex = "0x" + bytes(signed.hash).hex()
        if on_signed is not None:
            on_signed(tx_hash_hex)
        raw_tx = "0x" + bytes(signed.raw_transaction).hex()
        try:
            self._call(lambda: rpc.call(self.w3, "eth_sendRawTransaction", [raw_tx]))
        except Exception:
            # The node may or may not have taken the transaction: ask it again next time.
            self._next_tx_nonce = None
            raise
        self._next_tx_nonce += 1
        return tx_hash_hex

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        return rpc.receipt(self._call(lambda: rpc.call(self.w3, "eth_getTransactionReceipt", [tx_hash])))

    def transaction_known(self, tx_hash: str) -> bool:
        try:
            return self._call(lambda: self.w3.eth.get_transaction(HexStr(tx_hash))) is not None
        except TransactionNotFound:
            return False

    def replay_failure(self, tx_hash: str) -> ContractRejection:
        """Why a mined transaction reverted, by re-running it against the state of its block's parent."""
        tx = self._call(lambda: self.w3.eth.get_transaction(HexStr(tx_hash)))
        try:
            self._transact_or_call(
                lambda: self.w3.eth.call(
                    {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]},
                    tx["blockNumber"] - 1,
                )
            )
        except ContractRejection as rejection:
            return rejection
        return ContractRejection("Reverted", {"tx_hash": tx_hash})

    # --- events ------------------------------------------------------------------------------------

    def events(self, from_block: int, to_block: int) -> list[DecodedEvent]:
        query = {"fromBlock": hex(from_block), "toBlock": hex(to_block), "address": self._event_addresses()}
        logs = [rpc.log(raw) for raw in self._call(lambda: rpc.call(self.w3, "eth_getLogs", [query]))]
        decoded = []
        for log in logs:
            abi = self._events.get(bytes(log["topics"][0])) if log["topics"] else None
            if abi is None:
                continue
            args = self._event_args(abi, log)
            decoded.append(
                DecodedEvent(
                    address=checksummed(log["address"]),
                    event=abi["name"],
                    args={k: _jsonable(v) for k, v in args.items()},
                    block_number=int(log["blockNumber"]),
                    block_hash="0x" + bytes(log["blockHash"]).hex(),
                    tx_hash="0x" + bytes(log["transactionHash"]).hex(),
                    log_index=int(log["logIndex"]),
                )
            )
        return decoded

    def _event_args(self, abi: dict[str, Any], log: Mapping[str, Any]) -> dict[str, Any]:
        """A log's arguments by name, decoded as web3's get_event_data decodes them (addresses are left
        as the codec gives them: _jsonable checksums them), with the event's ABI prepared once."""
        topic = bytes(log["topics"][0])
        decoder = self._decoders.get(topic)
        if decoder is None:
            decoder = self._decoders[topic] = _EventDecoder.of(cast(ABIEvent, abi))
        return decoder.args(self.w3.codec, log)

    # --- deployment --------------------------------------------------------------------------------

    def deploy(self, founding_regulator: str, regulator_name: str) -> Deployment:
        """Deploys the ledger (which creates the processing module) and the modules beside it (metered flows,
        regulator actions) with transactions signed by the relayer key."""
        ledger = self._deploy(founding_regulator, regulator_name)
        return Deployment(
            chain_id=self.chain_id(),
            ledger=ledger,
            founding_regulator=checksummed(founding_regulator),
            deployer=self._signer().address,
            deployed_at=datetime.now(UTC).isoformat(timespec="seconds"),
            compiler=self.artifact.compiler,
            **self.deploy_modules(ledger),
        )

    def wait_for_receipt(self, tx_hash: str, timeout: float, poll: float) -> dict[str, Any] | None:
        """The receipt once mined, asked for every `poll` seconds at most: the first waits are shorter (a
        node that mines on arrival, as anvil does, has it within milliseconds)."""
        deadline = time.monotonic() + timeout
        wait = min(poll, 0.002)
        while True:
            receipt = self.receipt(tx_hash)
            if receipt is not None or time.monotonic() >= deadline:
                return receipt
            time.sleep(wait)
            wait = min(poll, wait * 2)

    def _deploy(self, *constructor_args: Any, artifact: Artifact | None = None) -> DeployedContract:
        artifact = artifact or self.artifact
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        call = factory.constructor(*constructor_args)
        gas = int(self._transact_or_call(lambda: call.estimate_gas({"from": self._signer().address})))
        tx_hash = self.send(call, gas + gas // 5)
        receipt = self.wait_for_receipt(tx_hash, timeout=60, poll=0.1)
        if receipt is None or receipt["status"] != 1:
            raise RuntimeError(f"deploying {artifact.name} failed (tx {tx_hash})")
        return DeployedContract(
            address=checksummed(receipt["contractAddress"]),
            tx_hash=tx_hash,
            block_number=int(receipt["blockNumber"]),
            artifact_sha256=artifact.sha256,
        )

    # --- internals ---------------------------------------------------------------------------------

    def _bound(self) -> Contract:
        if self.ledger is None:
            raise RuntimeError("no deployment bound: call bind() first")
        return self.ledger

    def _signer(self) -> LocalAccount:
        if self.relayer is None:
            raise RuntimeError("this gateway has no relayer key: it reads, it does not send")
        return self.relayer

    @classmethod
    def _abi_struct(
        cls,
        statement: Statement,
        fields: tuple[tuple[str, str], ...],
        message: dict[str, Any],
        raw_addresses: bool = False,
    ) -> list[Any]:
        return [cls._abi_field(statement, typ, message[name], raw_addresses) for name, typ in fields]

    @classmethod
    def _abi_field(cls, statement: Statement, typ: str, value: Any, raw_addresses: bool = False) -> Any:
        if typ.endswith("[]"):
            return [cls._abi_field(statement, typ[:-2], item, raw_addresses) for item in value]
        if typ in dict(statement.structs):
            return tuple(cls._abi_struct(statement, statement.struct_fields(typ), value, raw_addresses))
        return cls._abi_value(typ, value, raw_addresses)

    @staticmethod
    def _abi_value(typ: str, value: Any, raw_addresses: bool = False) -> Any:
        if typ.startswith(("uint", "int")):
            return int(value)
        if typ == "bytes32":
            return bytes.fromhex(value[2:])
        if typ == "address":
            return bytes.fromhex(checksummed(value)[2:]) if raw_addresses else checksummed(value)
        return value

    @staticmethod
    def _call(fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError) as exc:
            raise NodeUnavailable(str(exc)) from exc

    def _transact_or_call(self, fn: Callable[[], T]) -> T:
        try:
            return self._call(fn)
        except ContractCustomError as exc:
            raise self._decode_error(exc.data if isinstance(exc.data, str) else exc.args[0]) from exc
        except ContractLogicError as exc:
            if exc.data and isinstance(exc.data, str) and exc.data.startswith("0x") and len(exc.data) >= 10:
                raise self._decode_error(exc.data) from exc
            raise ContractRejection("Reverted", {"reason": exc.message or str(exc)}) from exc

    def _decode_error(self, data: str) -> ContractRejection:
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data)
        known = self._errors.get(raw[:4])
        if known is None:
            return ContractRejection("UnknownError", {"data": "0x" + raw.hex()})
        name, inputs = known
        values = abi_decode([i["type"] for i in inputs], raw[4:])
        return ContractRejection(name, {i["name"]: _jsonable(v) for i, v in zip(inputs, values, strict=True)})

    @staticmethod
    def _error_table(artifact: Artifact) -> dict[bytes, tuple[str, list[dict[str, Any]]]]:
        return {
            function_abi_to_4byte_selector(cast(ABIError, item)): (item["name"], item["inputs"])
            for item in artifact.abi
            if item["type"] == "error"
        }

    # --- rejections, corrections and batches (svc-workflows) ------------------------------------------

    def _dispatch_proven_call(
        self, statement: Statement, message: dict[str, Any], signature: bytes, context: dict[str, Any]
    ) -> ContractFunction:
        if (countersign := context.get("countersign")) is not None:
            # The correction's id and the effect its proposal fixed (see Corrections.CorrectionEffect).
            e = countersign["effect"]
            effect = (
                bytes.fromhex(e["transferId"][2:]),
                bytes.fromhex(e["lotId"][2:]),
                e["counterparty"],
                int(e["shippedDelta"]),
                int(e["receivedDelta"]),
                int(e["deadline"]),
            )
            correction_id = bytes.fromhex(countersign["correctionId"][2:])
            return self._bound().functions[COUNTERSIGN_FUNCTION](correction_id, effect, signature)
        encoding = [bytes.fromhex(word[2:]) for word in context["dispatchEncoding"]]
        args = tuple(self._abi_struct(statement, statement.fields, message))
        return self._bound().functions[DISPATCH_PROVEN[statement.primary_type]](encoding, args, signature)

    def batch_call(self, calldata: list[bytes]) -> bytes:
        """The calldata of one recordBatch call carrying each `dispatch` or `confirmReceipt` call's calldata
        (as statement_calldata encodes it, the same as it would be sent alone)."""
        abi = self._ledger_functions[BATCH_FUNCTION]
        return function_abi_to_4byte_selector(abi) + abi_encode(["bytes[]"], [calldata])

    def statement_calldata(self, statement: Statement, message: dict[str, Any], signature: bytes) -> bytes:
        """The calldata of the ledger's call recording a dispatch or a receipt (statement_call's), encoded
        straight from the function's ABI: web3 matches and re-validates every argument of a call it builds,
        which takes ten times as long, and a batch encodes up to 64 of them."""
        selector, types = self._encodings[FUNCTIONS[statement.primary_type]]
        # Addresses as their 20 bytes: eth_abi would otherwise check each one's checksum (a keccak) again.
        args = (tuple(self._abi_struct(statement, statement.fields, message, raw_addresses=True)), signature)
        return selector + abi_encode(types, args)

    def simulate_batch(self, batch: bytes) -> tuple[int, list[bool]]:
        """A gas limit for the recordBatch call `batch`, and which of its items the ledger would record now
        (a refused item's transfer id comes back zero; its reason is only in the event a mined batch emits).
        Raises ContractRejection if the call as a whole would revert.

        The limit is half as much again as one run of the batch uses: the room covers the refunds that
        figure has deducted (a fifth at most) and the 1/64 each item's call keeps back, so the items the run
        recorded are recorded under it too. One run (eth_simulateV1) where the node has it, else two."""
        tx = {"from": self._signer().address, "to": self._bound().address, "data": "0x" + batch.hex()}
        if self._simulates_v1:
            try:
                used, ids = self._simulated_once(tx)
                return used + used // 2, [i != bytes(32) for i in ids]
            except Web3RPCError as exc:
                if not _unsupported(exc):
                    raise
                self._simulates_v1 = False  # an older node: eth_createAccessList and eth_call instead
        used = self._batch_gas(tx)
        gas = used + used // 2
        result = self._transact_or_call(lambda: self.w3.eth.call(cast(TxParams, {**tx, "gas": gas})))
        (ids,) = abi_decode(["bytes32[]"], bytes(result))
        return gas, [bytes(i) != bytes(32) for i in ids]

    def _simulated_once(self, tx: dict[str, Any]) -> tuple[int, list[bytes]]:
        """(gas used, recorded transfer ids) of one run of a recordBatch call in the pending block."""
        simulation = {"blockStateCalls": [{"calls": [tx]}]}
        blocks = self._call(lambda: rpc.call(self.w3, "eth_simulateV1", [simulation, "pending"]))
        result = blocks[0]["calls"][0]
        if int(result["status"], 16) != 1:
            error = result.get("error") or {}
            data = error.get("data") if isinstance(error, Mapping) else None
            if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
                raise self._decode_error(data)
            raise ContractRejection("Reverted", {"reason": str(error.get("message", error))})
        (ids,) = abi_decode(["bytes32[]"], bytes.fromhex(result["returnData"][2:]))
        return int(result["gasUsed"], 16), [bytes(i) for i in ids]

    def _batch_gas(self, tx: dict[str, Any]) -> int:
        """The gas one run of a recordBatch call uses, as eth_createAccessList reports it (eth_estimateGas
        searches with several runs)."""
        try:
            result = self._transact_or_call(lambda: self.w3.eth.create_access_list(cast(TxParams, tx)))
        except Web3RPCError as exc:  # web3 reads no revert out of this method's errors: anvil's carry it
            error = cast(Mapping[str, Any], exc.rpc_response or {}).get("error") or {}
            data = error.get("data") if isinstance(error, Mapping) else None
            if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
                raise self._decode_error(data) from exc
            raise
        # geth-style nodes answer a revert with an `error` beside the figures (web3's type leaves it out).
        error = cast(Mapping[str, Any], result).get("error")
        if error:
            raise ContractRejection("Reverted", {"reason": str(error)})
        return int(result["gasUsed"])

    def batch_refusals(self, receipt: dict[str, Any]) -> dict[int, ContractRejection]:
        """The items of a mined recordBatch that the ledger refused, by their index in the call."""
        refused: dict[int, ContractRejection] = {}
        for log in receipt.get("logs", []):
            if checksummed(log["address"]) != self._bound().address or not log["topics"]:
                continue
            abi = self._events.get(bytes(log["topics"][0]))
            if abi is None or abi["name"] != "BatchItemRefused":
                continue
            args = self._event_args(abi, log)
            refused[int(args["index"])] = self._decode_error("0x" + bytes(args["reason"]).hex())
        return refused

    def recorded_statement(
        self, tx_hash: str, statement: Statement, digest_hex: str
    ) -> dict[str, Any] | None:
        """The message of `statement` whose digest is `digest_hex`, read back from the calldata of the
        transaction that recorded it (a dispatch alone or in a batch), or None if it is not there."""
        tx = self._call(lambda: self.w3.eth.get_transaction(HexStr(tx_hash)))
        if tx is None or tx.get("to") is None or checksummed(tx["to"]) != self._bound().address:
            return None  # sent through another contract (a wallet): its calldata is not the ledger's
        return self._find_statement(tx["input"], statement, digest_hex)

    def _find_statement(self, data: Any, statement: Statement, digest_hex: str) -> dict[str, Any] | None:
        try:
            function, params = self._bound().decode_function_input(data)
        except ValueError:
            return None
        if function.fn_name == BATCH_FUNCTION:
            for item in params["calls"]:
                if (found := self._find_statement(item, statement, digest_hex)) is not None:
                    return found
            return None
        names = [name for name, _ in statement.fields]
        for item in function.abi["inputs"]:
            if item["type"] != "tuple" or [c["name"] for c in item["components"]] != names:
                continue
            value = params[item["name"]]
            fields = value if isinstance(value, Mapping) else dict(zip(names, value, strict=True))
            message = normalise_message(statement, {k: _jsonable(v) for k, v in fields.items()})
            payload = typed_data(statement, self.chain_id(), self._bound().address, message)
            if "0x" + statement_digest(payload).hex() == digest_hex:
                return message
        return None

    # --- processing and metered flows ---------------------------------------------------------------------
    # The modules beside the ledger: Processing (created by the ledger's constructor, at `ledger.processing()`),
    # MeteredFlows and RegulatorActions (deployed after the ledger, with the ledger as their participant
    # registry). Each verifies its statements under its own EIP-712 domain; their events feed the same indexer
    # checkpoint.

    def _load_modules(self, artifacts_dir: Path) -> None:
        self.module_artifacts = {
            "processing": _module_artifact(artifacts_dir, PROCESSING_CONTRACT),
            "metered_flows": _module_artifact(artifacts_dir, METERED_FLOWS_CONTRACT),
            "regulator_actions": _module_artifact(artifacts_dir, REGULATOR_ACTIONS_CONTRACT),
        }
        self.modules: dict[str, Contract] = {}
        for artifact in self.module_artifacts.values():
            # Errors the modules share with the ledger (SignedMessages') have the same selector and meaning.
            self._errors.update(self._error_table(artifact))
            self._events.update(_event_table(artifact))

    def _bind_modules(self, deployment: Deployment) -> None:
        """Binds the modules the record names; refuses a record without them (written before they were
        recorded) with what to do about it."""
        if deployment.missing_modules:
            raise RuntimeError(
                "the deployment record names no "
                + " or ".join(m.replace("_", "-") for m in deployment.missing_modules)
                + " module (it was written before they were recorded): run `symledger deploy-modules` "
                "(`make run` does it by itself for the local profile)"
            )
        for name in MODULES:
            deployed: DeployedContract = getattr(deployment, name)
            artifact = self.module_artifacts[name]
            code = self._call(functools.partial(self.w3.eth.get_code, _checksummed(deployed.address)))
            if code in (b"", None):
                raise RuntimeError(f"no {artifact.name} contract code at {deployed.address}")
            if deployed.artifact_sha256 != artifact.sha256:
                raise RuntimeError(
                    f"{artifact.name} was deployed from another build than build/contracts "
                    f"(artifact sha256 {deployed.artifact_sha256[:12]}… != {artifact.sha256[:12]}…)"
                )
            self.modules[name] = self.w3.eth.contract(
                address=_checksummed(deployed.address), abi=artifact.abi
            )

    def deploy_modules(
        self, ledger: DeployedContract, names: tuple[str, ...] | list[str] = MODULES
    ) -> dict[str, DeployedContract]:
        """The modules `names` (default: all): the processing module the ledger created, recorded; the
        others deployed beside the ledger."""
        modules = {}
        for name in names:
            if name != "processing":
                modules[name] = self._deploy(ledger.address, artifact=self.module_artifacts[name])
                continue
            contract = self.w3.eth.contract(address=_checksummed(ledger.address), abi=self.artifact.abi)
            modules[name] = DeployedContract(
                address=checksummed(self._call(contract.functions.processing().call)),
                tx_hash=ledger.tx_hash,  # created by the ledger's constructor, in the same transaction
                block_number=ledger.block_number,
                artifact_sha256=self.module_artifacts["processing"].sha256,
            )
        return modules

    def complete_deployment(self, deployment: Deployment) -> Deployment:
        """A record written before some modules were recorded, with those added (deployed now where they are
        not the processing module); the modules it names are kept, with their state."""
        if deployment.chain_id != self.chain_id():
            raise RuntimeError(
                f"the deployment record is for chain {deployment.chain_id} but the node is chain {self.chain_id()}"
            )
        if self._call(lambda: self.w3.eth.get_code(_checksummed(deployment.ledger.address))) in (b"", None):
            raise RuntimeError(
                f"no contract code at {deployment.ledger.address}: the chain state was lost; "
                "remove the deployment record to deploy anew"
            )
        if deployment.ledger.artifact_sha256 != self.artifact.sha256:
            raise RuntimeError(
                f"{LEDGER_CONTRACT} was deployed from another build than build/contracts: deploy anew"
            )
        added = self.deploy_modules(deployment.ledger, deployment.missing_modules)
        # The keys are module fields of Deployment (MODULES); mypy checks a ** dict against every field.
        return replace(deployment, **added)  # type: ignore[arg-type]

    def address_for(self, statement: Statement) -> str:
        """The contract that verifies `statement`: its EIP-712 verifying contract."""
        module = MODULE_CALLS.get(statement.primary_type)
        return self._bound().address if module is None else self._module(module).address

    def _module(self, name: str) -> Contract:
        if name not in self.modules:
            raise RuntimeError("no deployment bound: call bind() first")
        return self.modules[name]

    def _event_addresses(self) -> list[ChecksumAddress]:
        return [self._bound().address, *(c.address for c in self.modules.values())]

    def _module_call(
        self,
        statement: Statement,
        message: dict[str, Any],
        signature: bytes,
        context: dict[str, Any] | None,
    ) -> ContractFunction:
        contract = self._module(MODULE_CALLS[statement.primary_type])
        args = self._abi_struct(statement, statement.fields, message)
        match statement.primary_type:
            case "RecordProcessing":
                return contract.functions.process(tuple(args), signature)
            case "DeclareUse":
                return contract.functions.declareUse(tuple(args), signature)
            case "RegisterFlow":
                # The supplier's signature is the submission's; the offtaker's travels in the context.
                offtaker = bytes.fromhex((context or {})["offtakerSignature"][2:])
                return contract.functions.registerFlow(tuple(args), signature, offtaker)
            case "AnchorPeriods":
                _supplier, flow_id, first_period, periods = args
                return contract.functions.anchorPeriods(flow_id, first_period, periods)
            case "CorrectionRequest":  # regulator actions
                return contract.functions.requestCorrection(tuple(args), signature)
        raise KeyError(statement.primary_type)

    def flow_state(self, flow_id: str) -> dict[str, Any] | None:
        """A flow as MeteredFlows holds it (parties, period grid, next period), or None if unknown."""
        supplier, offtaker, start, seconds, next_period = self._call(
            self._module("metered_flows").functions.flow(bytes.fromhex(flow_id[2:])).call
        )
        if int(supplier, 16) == 0:
            return None
        return {
            "supplier": supplier,
            "offtaker": offtaker,
            "firstPeriodStart": start,
            "periodSeconds": seconds,
            "nextPeriod": next_period,
        }

    # --- end processing and metered flows -----------------------------------------------------------------

    # --- blocks, stored events and the relayer's nonce across reorganisations (ledger_service.indexer) ---

    def block_header(self, number: int) -> "BlockHeader | None":
        """The block at `number` on the node's current chain, or None if the chain is not that long."""
        found = rpc.header(
            self._call(lambda: rpc.call(self.w3, "eth_getBlockByNumber", [hex(number), False]))
        )
        if found is None:
            return None
        block_hash, parent_hash, timestamp = found
        return BlockHeader(
            number=number,
            hash=block_hash,
            parent_hash=parent_hash,
            time=datetime.fromtimestamp(timestamp, UTC),
        )

    def restore_event_args(self, event: str, stored: dict[str, Any]) -> dict[str, Any]:
        """An event's arguments as events() decoded them, from the JSON they were stored as (where integers
        are decimal text): the event's ABI says which values were integers."""
        abi = next((item for item in self._events.values() if item["name"] == event), None)
        if abi is None:
            raise RuntimeError(f"no ABI for the stored event {event}: it cannot be replayed")
        return {item["name"]: _from_stored(item, stored[item["name"]]) for item in abi["inputs"]}

    def forget_tx_nonce(self) -> None:
        """Asks the node for the relayer's next nonce before the next send: a reorganisation may have
        dropped transactions of ours, so the nonces they used are free again."""
        with self._send_lock:
            self._next_tx_nonce = None


# --- processing and metered flows ------------------------------------------------------------------------
PROCESSING_CONTRACT, METERED_FLOWS_CONTRACT = "Processing", "MeteredFlows"
REGULATOR_ACTIONS_CONTRACT = "RegulatorActions"
# Which module verifies each statement (and records it: MeterPeriod is only recorded in AnchorPeriods).
MODULE_CALLS: dict[str, str] = {
    "RecordProcessing": "processing",
    "DeclareUse": "processing",
    "RegisterFlow": "metered_flows",
    "MeterPeriod": "metered_flows",
    "AnchorPeriods": "metered_flows",
    "CorrectionRequest": "regulator_actions",
}


def _module_artifact(artifacts_dir: Path, name: str) -> Artifact:
    path = artifacts_dir / f"{name}.json"
    # Parsing and hashing an artifact takes a tenth of a second: once per build, not once per gateway.
    return _cached_artifact(artifacts_dir, name, path.stat().st_mtime_ns if path.exists() else 0)


@functools.lru_cache(maxsize=16)
def _cached_artifact(artifacts_dir: Path, name: str, _mtime_ns: int) -> Artifact:
    return Artifact.load(artifacts_dir, name)


# --- end processing and metered flows --------------------------------------------------------------------


@dataclass(frozen=True)
class BlockHeader:
    number: int
    hash: str
    parent_hash: str
    time: datetime


def _from_stored(abi: dict[str, Any], value: Any) -> Any:
    typ: str = abi["type"]
    if typ.endswith("]"):
        element = {**abi, "type": typ[: typ.rindex("[")]}
        return [_from_stored(element, item) for item in value]
    if typ == "tuple":
        if isinstance(value, Mapping):
            return {c["name"]: _from_stored(c, value[c["name"]]) for c in abi["components"]}
        return [_from_stored(c, item) for c, item in zip(abi["components"], value, strict=True)]
    if typ.startswith(("uint", "int")):
        return int(value)
    return value


# --- evidence bundles ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedStatement:
    """A signed statement as a transaction's calldata carried it. A countersignature carries no statement
    of its own: it names the proposed correction (`correction_id`) whose statement its party signed."""

    statement: Statement | None
    message: dict[str, Any] | None
    signature: bytes
    contract: str
    correction_id: str | None = None


def recorded_statements(gateway: ChainGateway, tx_hash: str) -> list[RecordedStatement]:
    """Every signed statement a transaction to the ledger or one of its modules carried (each item of a
    batch), with its signature: what an evidence bundle shows the parties signed. A transaction sent
    through another contract (a wallet) carries none the ledger's ABI can read."""
    tx = gateway._call(lambda: gateway.w3.eth.get_transaction(HexStr(tx_hash)))
    if tx is None or tx.get("to") is None:
        return []
    to = checksummed(tx["to"])
    contracts = {c.address: c for c in (gateway._bound(), *gateway.modules.values())}
    contract = contracts.get(to)
    return [] if contract is None else _statements_in(contract, tx["input"])


def _statements_in(contract: Contract, data: Any) -> list[RecordedStatement]:
    from ledger_service.statements import DECLARE_USE, RECORD_PROCESSING, REGISTER_FLOW, STATEMENTS

    # The function names which statement it records (PickUp and Delivery have the same fields); a module's
    # statements are told apart by their fields.
    by_function = {
        name: STATEMENTS[t] for t, name in (FUNCTIONS | DISPATCH_PROVEN).items() if t in STATEMENTS
    }
    known = {s.fields: s for s in (RECORD_PROCESSING, DECLARE_USE, REGISTER_FLOW)}
    try:
        function, params = contract.decode_function_input(data)
    except ValueError:
        return []
    if function.fn_name == BATCH_FUNCTION:
        return [s for item in params["calls"] for s in _statements_in(contract, item)]
    signature = bytes(params.get("signature", b""))
    if function.fn_name == COUNTERSIGN_FUNCTION:
        return [
            RecordedStatement(
                None, None, signature, contract.address, "0x" + bytes(params["correctionId"]).hex()
            )
        ]
    found = []
    for item in function.abi["inputs"]:
        if item["type"] != "tuple":
            continue
        names = tuple(c["name"] for c in item["components"])
        statement = by_function.get(function.fn_name) or next(
            (s for fields, s in known.items() if tuple(n for n, _ in fields) == names), None
        )
        if statement is None or tuple(n for n, _ in statement.fields) != names:
            continue
        value = params[item["name"]]
        fields = value if isinstance(value, Mapping) else dict(zip(names, value, strict=True))
        try:
            message = normalise_message(statement, {k: _jsonable(v) for k, v in fields.items()})
        except (KeyError, TypeError):
            continue  # nested structs this decoder cannot name: left out, and the verifier says so
        found.append(RecordedStatement(statement, message, signature, contract.address))
    return found


class ChainReader:
    """What an evidence bundle's verifier asks a node, with no deployment record or build at hand: each
    transaction's receipt and each block's header."""

    def __init__(self, rpc_url: str, timeout: float = 10.0) -> None:
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        self.w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)

    def chain_id(self) -> int:
        return int(ChainGateway._call(lambda: self.w3.eth.chain_id))

    def transaction(self, tx_hash: str) -> dict[str, Any] | None:
        """Status, block and logs of a mined transaction, as a bundle records them (None: not on chain)."""
        try:
            receipt = ChainGateway._call(lambda: self.w3.eth.get_transaction_receipt(HexStr(tx_hash)))
        except TransactionNotFound:
            return None
        return transaction_record(receipt)

    def block(self, number: int) -> dict[str, Any] | None:
        try:
            block = ChainGateway._call(lambda: self.w3.eth.get_block(number))
        except BlockNotFound:
            return None
        return block_record(block)

    def logs(self, address: str, topics: list[str]) -> list[dict[str, Any]]:
        """Every log of `address` whose first topics are `topics`, from the first block, with its block."""
        found = ChainGateway._call(
            lambda: self.w3.eth.get_logs(
                {
                    "address": checksummed(address),
                    "topics": topics,
                    "fromBlock": 0,
                    "toBlock": "latest",
                }
            )
        )
        return [
            {
                "tx_hash": "0x" + bytes(log["transactionHash"]).hex(),
                "block_number": int(log["blockNumber"]),
                "log_index": int(log["logIndex"]),
                "topics": ["0x" + bytes(t).hex() for t in log["topics"]],
                "data": "0x" + bytes(log["data"]).hex(),
            }
            for log in found
        ]


def transaction_record(receipt: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "hash": "0x" + bytes(receipt["transactionHash"]).hex(),
        "block_number": int(receipt["blockNumber"]),
        "block_hash": "0x" + bytes(receipt["blockHash"]).hex(),
        "status": int(receipt["status"]),
        "logs": [
            {
                "log_index": int(log["logIndex"]),
                "address": checksummed(log["address"]),
                "topics": ["0x" + bytes(t).hex() for t in log["topics"]],
                "data": "0x" + bytes(log["data"]).hex(),
            }
            for log in receipt["logs"]
        ],
    }


def block_record(block: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "number": int(block["number"]),
        "hash": "0x" + bytes(block["hash"]).hex(),
        "parent_hash": "0x" + bytes(block["parentHash"]).hex(),
        "timestamp": int(block["timestamp"]),
    }


def bundle_chain_records(
    gateway: ChainGateway, tx_hashes: list[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The receipts of `tx_hashes` and the headers of their blocks, as a bundle records them."""
    transactions = [
        transaction_record(
            gateway._call(functools.partial(gateway.w3.eth.get_transaction_receipt, HexStr(h)))
        )
        for h in tx_hashes
    ]
    numbers = sorted({t["block_number"] for t in transactions})
    blocks = [block_record(gateway._call(functools.partial(gateway.w3.eth.get_block, n))) for n in numbers]
    return transactions, blocks
