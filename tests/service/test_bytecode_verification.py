"""The deployed contracts' runtime bytecode against their source, compiled anew with the pinned compiler and
settings (docs/verification.md): the deployment the session made verifies; a changed source and an address
holding other code do not."""

import hashlib
import json
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ledger_service.cli import app
from ledger_service.deployment import Deployment
from ledger_service.settings import REPO_ROOT, Settings
from ledger_service.verification import solc_cache
from ledger_service.verification.bytecode import brownie_settings, compile_tree, solc_binary

runner = CliRunner()


def verify(settings: Settings, *args: str):
    return runner.invoke(
        app,
        ["verify-contracts", "--rpc", settings.rpc_url, "--deployment", *args],
    )


@pytest.fixture(scope="module")
def deployment(settings: Settings) -> Deployment:
    return Deployment.load(settings.resolved_deployment_file)


@pytest.fixture(scope="module")
def modified_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the source tree in which the ledger allows nine transport legs instead of eight and
    MeteredFlows.sol gained a comment; Processing's sources are untouched."""
    root = tmp_path_factory.mktemp("sources")
    shutil.copytree(REPO_ROOT / "contracts", root / "contracts")
    for name in ("brownie-config.yaml", "package.json"):
        shutil.copy(REPO_ROOT / name, root / name)
    (root / "node_modules").symlink_to((REPO_ROOT / "node_modules").resolve())
    transfers = root / "contracts" / "custody" / "Transfers.sol"
    source = transfers.read_text()
    assert "_MAX_LEGS = 8;" in source
    transfers.write_text(source.replace("_MAX_LEGS = 8;", "_MAX_LEGS = 9;"))
    flows = root / "contracts" / "flows" / "MeteredFlows.sol"
    flows.write_text(flows.read_text() + "// reviewed\n")
    return root


def test_the_deployed_contracts_are_the_source_compiled(client, deployment: Deployment) -> None:
    response = client.get("/verification/contracts")
    assert response.status_code == 200, response.text
    body = response.json()
    contracts = {c["name"]: c for c in body["contracts"]}
    assert body["verified"] and all(c["verified"] and c["reason"] is None for c in contracts.values())
    assert {name: c["address"] for name, c in contracts.items()} == {
        "SymbiosisLedger": deployment.ledger.address,
        "Processing": deployment.processing.address,
        "MeteredFlows": deployment.metered_flows.address,
        "RegulatorActions": deployment.regulator_actions.address,
    }
    head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    pinned = json.loads((REPO_ROOT / "package.json").read_text())["dependencies"]["solc"]
    for c in contracts.values():
        assert c["source_commit"] == head.stdout.strip()
        assert c["compiler_version"].startswith(pinned + "+commit.")
        assert c["settings"]["viaIR"] is True and c["settings"]["optimizer"] == {"enabled": True, "runs": 200}
        # Reproducible without git, as docs/verification.md says: `sha256sum FILES | sha256sum`.
        listing = subprocess.run(
            ["sha256sum", *c["source_files"]], cwd=REPO_ROOT, capture_output=True, check=True
        )
        assert hashlib.sha256(listing.stdout).hexdigest() == c["sources_sha256"]
    assert "contracts/custody/Transfers.sol" in contracts["SymbiosisLedger"]["source_files"]
    assert "contracts/custody/Transfers.sol" not in contracts["MeteredFlows"]["source_files"]
    # The immutables the constructors fixed tie the contracts together.
    ledger, processing = deployment.ledger.address, deployment.processing.address
    assert contracts["SymbiosisLedger"]["immutables"]["Lots.processing"] == processing
    assert contracts["Processing"]["immutables"]["Processing.ledger"] == ledger
    assert contracts["MeteredFlows"]["immutables"]["MeteredFlows._registry"] == ledger
    assert ledger in contracts["RegulatorActions"]["immutables"].values()
    assert contracts["Processing"]["immutables"]["EIP712._cachedThis"] == processing


def test_the_cli_prints_one_line_per_verified_contract(settings: Settings, deployment: Deployment) -> None:
    result = verify(settings, str(settings.resolved_deployment_file))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["SymbiosisLedger", deployment.ledger.address, "verified:"],
        ["Processing", deployment.processing.address, "verified:"],
        ["MeteredFlows", deployment.metered_flows.address, "verified:"],
        ["RegulatorActions", deployment.regulator_actions.address, "verified:"],
    ]
    assert all("source commit " in line and "sources sha256 " in line for line in lines)


def test_a_modified_source_is_detected(settings: Settings, modified_sources: Path) -> None:
    result = verify(
        settings, str(settings.resolved_deployment_file), "--sources", str(modified_sources), "--json"
    )
    assert result.exit_code == 1, result.output
    reported = {r["name"]: r for r in json.loads(result.output)}
    assert not reported["SymbiosisLedger"]["verified"]
    assert reported["SymbiosisLedger"]["reason"].startswith("runtime bytecode differs from source at byte ")
    assert reported["SymbiosisLedger"]["immutables"] == {}
    # A comment changes no instruction, but the metadata hash commits to the exact source text.
    assert not reported["MeteredFlows"]["verified"]
    assert reported["MeteredFlows"]["reason"].startswith("the executable code matches but the metadata hash")
    assert reported["Processing"]["verified"]
    assert all(r["source_commit"] is None for r in reported.values())  # the copy is no git checkout


def test_an_address_holding_other_code_is_not_verified(
    settings: Settings, deployment: Deployment, tmp_path: Path
) -> None:
    record = asdict(deployment)
    # MeteredFlows' record points at the processing module; Processing's at an account without code.
    record["metered_flows"]["address"] = deployment.processing.address
    record["processing"]["address"] = deployment.founding_regulator
    (tmp_path / "deployment.json").write_text(json.dumps(record))
    result = verify(settings, str(tmp_path / "deployment.json"))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(f"SymbiosisLedger {deployment.ledger.address} verified:")
    assert lines[1] == f"Processing {deployment.founding_regulator} NOT verified: no code at address"
    assert lines[2].startswith(
        f"MeteredFlows {deployment.processing.address} NOT verified: runtime bytecode differs from source at byte "
    )


def test_code_with_an_immutable_changed_in_one_place_is_not_verified(
    settings: Settings, deployment: Deployment, tmp_path: Path
) -> None:
    # Code a constructor cannot have written: Processing's, with its ledger swapped at one place only (the
    # masked bytes alone would let it through), installed at a fresh address.
    code = bytearray(rpc(settings, "eth_getCode", deployment.processing.address, "latest"))
    ledger_ref = next(
        i for i in compile_tree().contracts["Processing"].immutables if i.name == "Processing.ledger"
    )
    start, length = ledger_ref.ranges[-1]
    code[start : start + length] = bytes(12) + bytes.fromhex(deployment.founding_regulator[2:])
    forged = "0x" + "f0" * 20
    rpc(settings, "anvil_setCode", forged, "0x" + code.hex())
    record = asdict(deployment)
    record["processing"]["address"] = forged
    (tmp_path / "deployment.json").write_text(json.dumps(record))

    result = verify(settings, str(tmp_path / "deployment.json"))
    assert result.exit_code == 1
    assert result.output.splitlines()[1] == (
        f"Processing {forged} NOT verified: immutable Processing.ledger holds different values at its places "
        "in the code"
    )


def rpc(settings: Settings, method: str, *params: str) -> bytes:
    answer = httpx.post(
        settings.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    )
    result = answer.json()["result"]
    return bytes.fromhex(result[2:]) if isinstance(result, str) else b""


def test_solc_output_is_reused_from_disk_until_a_file_it_read_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A two-file tree, so the compile takes a second rather than the deployed contracts' minute.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "tree"
    (root / "contracts").mkdir(parents=True)
    top, imported = root / "contracts" / "Top.sol", root / "contracts" / "Imported.sol"
    imported.write_text(
        "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\nlibrary Imported { uint256 internal constant N = 1; }\n"
    )
    top_source = 'import "./Imported.sol";\ncontract Top { function n() external pure returns (uint256) { return Imported.N; } }\n'
    top.write_text("// SPDX-License-Identifier: MIT\npragma solidity ^0.8.0;\n" + top_source)
    binary = solc_binary(brownie_settings(REPO_ROOT)[0])
    cache = tmp_path / "cache" / "symledger" / "solc"
    assert solc_cache.cache_dir() == cache

    def compile() -> dict:
        standard_input = {
            "language": "Solidity",
            "sources": {"contracts/Top.sol": {"content": top.read_text()}},
            "settings": {"outputSelection": {"*": {"*": ["evm.deployedBytecode.object"]}}},
        }
        return solc_cache.compile_standard(standard_input, root, binary)

    def runtime(output: dict) -> str:
        return output["contracts"]["contracts/Top.sol"]["Top"]["evm"]["deployedBytecode"]["object"]

    first = compile()
    [entry] = cache.glob("*.json")
    assert set(json.loads(entry.read_text())["files"]) == {"contracts/Top.sol", "contracts/Imported.sol"}
    # The entry is what the second compile returns: marked, the mark comes back.
    marked = json.loads(entry.read_text())
    marked["output"]["marked"] = True
    entry.write_text(json.dumps(marked))
    assert compile()["marked"]

    # An imported file is not in solc's input, but a change to it is a miss all the same.
    imported.write_text(imported.read_text().replace("N = 1", "N = 2"))
    second = compile()
    assert "marked" not in second and runtime(second) != runtime(first)
    assert [entry] == list(cache.glob("*.json"))

    # A changed top-level file is another input: another entry.
    top.write_text(top.read_text() + "// reviewed\n")
    compile()
    assert len(list(cache.glob("*.json"))) == 2

    # An unreadable entry is compiled again and replaced.
    top.write_text(top.read_text().removesuffix("// reviewed\n"))
    entry.write_text("{not json")
    assert runtime(compile()) == runtime(second)
    assert json.loads(entry.read_text())["output"]["contracts"]
