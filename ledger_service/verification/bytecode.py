"""The deployed contracts' runtime bytecode against their source, compiled anew with py-solc-x.

A source tree is a directory laid out like this repository: `brownie-config.yaml` and `package.json`
(which pin the compiler and its settings), `contracts/`, and the remapping targets
(`node_modules/@openzeppelin`). The files that define the deployed contracts are compiled with exactly
the settings brownie builds them with, read from those two files; solc reads their imports from the tree.

What may legitimately differ between the code on the chain and the compiled `deployedBytecode`:

- Immutables. The constructor writes their values into the runtime code (the ledger's processing
  module, each module's ledger, EIP-712's cached domain); solc leaves zeros there and lists the
  positions in `immutableReferences`. Those bytes are masked before comparing; every place of one
  immutable must hold the same value (a constructor writes one), and the values are reported, decoded
  where they are addresses or integers.
- Nothing else. The CBOR metadata solc appends (its last two bytes give its length) holds the IPFS hash
  of the contract's metadata, which commits to every source file's keccak256, the source unit names
  and the settings. It stays in the comparison: a match proves the code was built from these exact files,
  comments included, not just from equivalent code. When only that tail differs the reason says so:
  the executable code matches but the source text (or a file name, or a setting) differs.

The identity of the sources is reported with each result: the files the contract was compiled from (as
its metadata lists them), the commit the tree is at (`git rev-parse HEAD`, if it is a git checkout) and
those files that differ from it, and a sha256 that needs no git: from the tree's root,
`sha256sum FILES | sha256sum` over those files sorted by name.

A compile takes tens of seconds with solc-js, so each tree is compiled once per process (`compile_tree`), and
solc's output is kept on disk for the next process while the files it read are unchanged (`solc_cache`).
"""

import hashlib
import json
import os
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from eth_utils import to_checksum_address
from solcx.exceptions import SolcError

from ledger_service.chain.gateway import (
    LEDGER_CONTRACT,
    METERED_FLOWS_CONTRACT,
    PROCESSING_CONTRACT,
    REGULATOR_ACTIONS_CONTRACT,
    ChainGateway,
)
from ledger_service.deployment import Deployment
from ledger_service.settings import REPO_ROOT
from ledger_service.verification import solc_cache

DEPLOYED_CONTRACTS = (
    LEDGER_CONTRACT,
    PROCESSING_CONTRACT,
    METERED_FLOWS_CONTRACT,
    REGULATOR_ACTIONS_CONTRACT,
)
CONTRACTS_DIR = "contracts"  # brownie's default project layout


class SourceError(Exception):
    """The source tree cannot be compiled as brownie would (missing files, pins that disagree, no solc)."""


@dataclass(frozen=True)
class Immutable:
    name: str  # Contract.variable, as declared
    type: str  # solc's type string
    ranges: tuple[tuple[int, int], ...]  # (start, length) in the runtime code


@dataclass(frozen=True)
class CompiledContract:
    name: str
    source_unit: str
    runtime: bytes
    immutables: tuple[Immutable, ...]
    source_files: tuple[str, ...]  # every file it was compiled from, as its metadata lists them
    sources_sha256: str


@dataclass(frozen=True)
class Compilation:
    root: Path
    compiler_version: str
    settings: dict[str, Any]
    source_commit: str | None
    uncommitted: tuple[str, ...]  # source files that differ from source_commit
    contracts: dict[str, CompiledContract]


@dataclass(frozen=True)
class ContractVerification:
    name: str
    address: str | None
    verified: bool
    reason: str | None
    immutables: dict[str, str]  # deployed values, of a verified contract only
    compiler_version: str
    settings: dict[str, Any]
    source_commit: str | None
    uncommitted: list[str]
    source_files: list[str]
    sources_sha256: str


# --- compiling -----------------------------------------------------------------------------------------

_compiled: dict[Path, Compilation] = {}
_compile_lock = threading.Lock()


def compile_tree(root: Path = REPO_ROOT) -> Compilation:
    """The deployed contracts compiled from the tree at `root`, once per process and tree."""
    root = root.resolve()
    with _compile_lock:  # a second caller waits for the running compile instead of starting another
        if root not in _compiled:
            _compiled[root] = _compile(root)
        return _compiled[root]


def brownie_settings(root: Path) -> tuple[str, dict[str, Any]]:
    """(solc version, standard-json settings) as brownie compiles the project at `root`."""
    try:
        compiler = yaml.safe_load((root / "brownie-config.yaml").read_text())["compiler"]
        solc = compiler["solc"]
        pinned = json.loads((root / "package.json").read_text())["dependencies"]["solc"]
        # The keys brownie's generate_input_json sets; remappings go to solc as written (prefix=path).
        settings = {
            "evmVersion": compiler["evm_version"],
            "optimizer": solc["optimizer"],
            "remappings": list(solc.get("remappings") or []),
        }
        if "viaIR" in solc:  # brownie sets it only when configured
            settings["viaIR"] = solc["viaIR"]
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as exc:
        raise SourceError(
            f"{root}: no compiler settings in brownie-config.yaml or solc pin in package.json ({exc!r})"
        ) from exc
    if str(solc["version"]) != pinned:
        raise SourceError(
            f"brownie-config.yaml pins solc {solc['version']} but package.json pins {pinned}: they must agree"
        )
    return pinned, settings


def solc_binary(version: str) -> Path:
    """The solc-js shim scripts/solc/install-solc writes, where py-solc-x and brownie look for it."""
    binary = Path(os.environ.get("SOLCX_BINARY_PATH") or REPO_ROOT / ".solcx") / f"solc-v{version}"
    if not binary.exists():
        raise SourceError(f"no solc {version} at {binary}: run `make setup` (scripts/solc/install-solc)")
    return binary


def _compile(root: Path) -> Compilation:
    version, settings = brownie_settings(root)
    units = {name: _source_unit(root, name) for name in DEPLOYED_CONTRACTS}
    selection: dict[str, dict[str, list[str]]] = {"*": {"": ["ast"]}}
    for name, unit in units.items():
        selection.setdefault(unit, {})[name] = ["evm.deployedBytecode", "metadata"]
    # Brownie's input holds every file under contracts/; only the deployed contracts' files are given here
    # (half the compile time). solc's output for a contract does not depend on files it does not import:
    # the tests verify contracts deployed from brownie's build against this compile.
    standard_input = {
        "language": "Solidity",
        "sources": {unit: {"content": (root / unit).read_text("utf-8")} for unit in set(units.values())},
        "settings": {**settings, "outputSelection": selection},
    }
    binary = solc_binary(version)
    try:
        # base_path (root): the shim resolves imports in this tree first.
        output = solc_cache.compile_standard(standard_input, root, binary)
    except SolcError as exc:
        raise SourceError(
            f"the sources in {root} do not compile: {str(exc).strip().splitlines()[0]}"
        ) from exc
    except (OSError, subprocess.SubprocessError) as exc:
        raise SourceError(f"{binary} does not run: {exc}") from exc
    files = sorted(output["sources"])
    for unit in files:
        if not (root / unit).is_file():
            raise SourceError(f"{unit} is not in {root}: the tree must hold every file the contracts import")
    declarations = _declarations(output["sources"])
    contracts = {
        name: _compiled_contract(root, name, unit, output["contracts"][unit][name], declarations)
        for name, unit in units.items()
    }
    metadata = json.loads(output["contracts"][units[LEDGER_CONTRACT]][LEDGER_CONTRACT]["metadata"])
    commit = _git(root, "rev-parse", "HEAD")
    changed = _git(root, "status", "--porcelain", "--", *files) if commit else None
    return Compilation(
        root=root,
        compiler_version=metadata["compiler"]["version"],
        settings=settings,
        source_commit=commit,
        uncommitted=tuple(line[3:] for line in (changed or "").splitlines()),
        contracts=contracts,
    )


def _source_unit(root: Path, name: str) -> str:
    """The file under contracts/ that defines contract `name`, as a source unit name (brownie's)."""
    definition = re.compile(rf"^\s*(?:abstract\s+)?contract\s+{name}\b", re.MULTILINE)
    found = [
        path.relative_to(root).as_posix()
        for path in sorted((root / CONTRACTS_DIR).rglob("*.sol"))
        if definition.search(path.read_text("utf-8"))
    ]
    if len(found) != 1:
        raise SourceError(
            f"{len(found)} files under {root / CONTRACTS_DIR} define contract {name}; expected 1"
        )
    return found[0]


def _compiled_contract(
    root: Path, name: str, unit: str, output: dict[str, Any], declarations: dict[int, tuple[str, str]]
) -> CompiledContract:
    deployed = output["evm"]["deployedBytecode"]
    if deployed.get("linkReferences"):
        raise SourceError(f"{name} links external libraries: linked code cannot be compared")
    files = sorted(json.loads(output["metadata"])["sources"])
    return CompiledContract(
        name=name,
        source_unit=unit,
        runtime=bytes.fromhex(deployed["object"]),
        immutables=tuple(
            Immutable(
                name=declarations[int(ast_id)][0],
                type=declarations[int(ast_id)][1],
                ranges=tuple((ref["start"], ref["length"]) for ref in refs),
            )
            for ast_id, refs in deployed.get("immutableReferences", {}).items()
        ),
        source_files=tuple(files),
        sources_sha256=_sources_sha256(root, files),
    )


def _declarations(sources: dict[str, Any]) -> dict[int, tuple[str, str]]:
    """Every state variable in the ASTs, by node id: (Contract.variable, type string)."""
    found: dict[int, tuple[str, str]] = {}

    def walk(node: Any, contract: str) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, contract)
        elif isinstance(node, dict):
            if node.get("nodeType") == "ContractDefinition":
                contract = node["name"]
            if node.get("nodeType") == "VariableDeclaration" and node.get("stateVariable"):
                found[node["id"]] = (f"{contract}.{node['name']}", node["typeDescriptions"]["typeString"])
            for value in node.values():
                walk(value, contract)

    for source in sources.values():
        walk(source["ast"], "")
    return found


def _sources_sha256(root: Path, files: list[str]) -> str:
    listing = "".join(f"{hashlib.sha256((root / f).read_bytes()).hexdigest()}  {f}\n" for f in files)
    return hashlib.sha256(listing.encode()).hexdigest()


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


# --- comparing -----------------------------------------------------------------------------------------


def verify_deployment(
    gateway: ChainGateway, deployment: Deployment, compilation: Compilation
) -> list[ContractVerification]:
    """Each contract the record names, its code on the chain against the compiled source."""
    recorded = {
        LEDGER_CONTRACT: deployment.ledger,
        PROCESSING_CONTRACT: deployment.processing,
        METERED_FLOWS_CONTRACT: deployment.metered_flows,
        REGULATOR_ACTIONS_CONTRACT: deployment.regulator_actions,
    }
    results = []
    for name in DEPLOYED_CONTRACTS:
        contract = recorded[name]
        if contract is None:
            results.append(_result(compilation, name, None, "the deployment record names no address for it"))
            continue
        results.append(
            verify_code(compilation, name, contract.address, gateway.runtime_code(contract.address))
        )
    return results


def verify_code(compilation: Compilation, name: str, address: str, code: bytes) -> ContractVerification:
    """`code` (deployed at `address`) against the compiled runtime code of contract `name`."""
    compiled = compilation.contracts[name]
    if not code:
        return _result(compilation, name, address, "no code at address")
    expected = compiled.runtime
    deployed = bytearray(code)
    for immutable in compiled.immutables:
        for start, length in immutable.ranges:
            deployed[start : start + length] = expected[start : start + length]
    first = next((i for i, (a, b) in enumerate(zip(deployed, expected, strict=False)) if a != b), None)
    if first is None and len(code) == len(expected):
        values = {i.name: {_value(i, code, at) for at in i.ranges} for i in compiled.immutables}
        # The constructor writes one value at every place: several mean code made some other way.
        if differing := [n for n, found in values.items() if len(found) > 1]:
            reason = f"immutable {', '.join(differing)} holds different values at its places in the code"
            return _result(compilation, name, address, reason)
        return _result(compilation, name, address, None, {n: found.pop() for n, found in values.items()})
    if first is None:
        first = min(len(code), len(expected))
    if len(code) == len(expected) and first >= len(expected) - _metadata_length(expected):
        return _result(
            compilation,
            name,
            address,
            "the executable code matches but the metadata hash differs: it was compiled from other source "
            "text (comments, file names) or settings",
        )
    return _result(
        compilation,
        name,
        address,
        f"runtime bytecode differs from source at byte {first} "
        f"(deployed {len(code)} bytes, source compiles to {len(expected)})",
    )


def _metadata_length(code: bytes) -> int:
    """Length of the CBOR metadata tail, with its two length bytes (0 if there is none)."""
    if len(code) < 2:
        return 0
    length = int.from_bytes(code[-2:], "big") + 2
    return length if length <= len(code) else 0


def _value(immutable: Immutable, code: bytes, at: tuple[int, int]) -> str:
    start, length = at
    word = code[start : start + length]
    if immutable.type.startswith(("address", "contract ")):
        return to_checksum_address(word[-20:])
    if immutable.type.startswith("uint"):
        return str(int.from_bytes(word, "big"))
    return "0x" + word.hex()


def _result(
    compilation: Compilation,
    name: str,
    address: str | None,
    reason: str | None,
    immutables: dict[str, str] | None = None,
) -> ContractVerification:
    compiled = compilation.contracts[name]
    return ContractVerification(
        name=name,
        address=address,
        verified=reason is None,
        reason=reason,
        immutables=immutables or {},
        compiler_version=compilation.compiler_version,
        settings=compilation.settings,
        source_commit=compilation.source_commit,
        uncommitted=[f for f in compilation.uncommitted if f in compiled.source_files],
        source_files=list(compiled.source_files),
        sources_sha256=compiled.sources_sha256,
    )
