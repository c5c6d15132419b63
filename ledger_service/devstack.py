"""The local profile in one process tree: anvil with its state on disk, the contracts deployed once,
the API on 127.0.0.1. Ctrl-C stops the API, then anvil, which writes its state on the way out."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uvicorn
from web3 import Web3

from ledger_service.chain.gateway import ChainGateway
from ledger_service.deployment import Deployment
from ledger_service.keystore import ensure_keystore, load_account, read_password_file
from ledger_service.main import create_app
from ledger_service.settings import REPO_ROOT, Settings

LOCAL_CHAIN_ID = 31337
REGULATOR_NAME = "Local Environmental Regulator"
# anvil writes its state to disk this often (seconds) besides on a clean exit.
STATE_INTERVAL_SECONDS = 1
# How far back a new local chain's genesis is dated: room for a history loaded later with its own dates
# (scripts/demo_park.py: six months by default, up to twelve). The clock is set to wall-clock time once the
# contracts are deployed.
HISTORY_ROOM = timedelta(days=365)


def anvil_command(data_dir: Path, port: int, genesis: datetime | None = None) -> list[str]:
    anvil = shutil.which("anvil") or str(REPO_ROOT / "node_modules" / ".bin" / "anvil")
    if not Path(anvil).exists():
        raise RuntimeError("anvil not found: run `make setup` (it installs anvil from npm)")
    return [
        anvil,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--chain-id",
        str(LOCAL_CHAIN_ID),
        "--hardfork",
        "prague",
        # Free gas, as on a permissioned Besu network with zeroBaseFee: parties and relayer need no ether.
        "--base-fee",
        "0",
        "--gas-price",
        "0",
        "--state",
        str(data_dir / "chain" / "anvil-state.json"),
        "--state-interval",
        str(STATE_INTERVAL_SECONDS),
        *(["--timestamp", str(int(genesis.timestamp()))] if genesis else []),
    ]


@contextmanager
def running_anvil(
    data_dir: Path, port: int, say: Callable[[str], None], genesis: datetime | None = None
) -> Iterator[str]:
    """Runs anvil until the block exits, then stops it with SIGINT so it dumps its state. A new chain's
    first block is dated `genesis` if given, and the node's clock runs from there until it is set."""
    if _port_open(port):
        raise RuntimeError(f"port {port} is already in use: another node or a running system?")
    (data_dir / "chain").mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "anvil.log"
    state = data_dir / "chain" / "anvil-state.json"
    say(f"starting anvil on 127.0.0.1:{port} ({'loading' if state.exists() else 'new'} state {state})")
    with open(log_path, "ab") as log:
        # Its own session: a terminal's Ctrl-C reaches the service first, which then stops anvil in order.
        process = subprocess.Popen(
            anvil_command(data_dir, port, None if state.exists() else genesis),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_rpc(url, process, log_path)
        yield url
    finally:
        say("stopping anvil (its state is kept on disk)")
        _stop_group(process)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    # npm's `anvil` is a node launcher with the real binary as its child: signal the whole group.
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def ensure_deployment(settings: Settings, say: Callable[[str], None]) -> Deployment:
    """Deploys the contracts unless the deployment record exists; keys for the local profile too."""
    keys = settings.data_dir / "keys"
    relayer_address = ensure_keystore(
        settings.resolved_relayer_keystore, settings.resolved_relayer_password_file
    )
    regulator_address = ensure_keystore(keys / "regulator.json", keys / "regulator.password")
    record = settings.resolved_deployment_file
    relayer = load_account(
        settings.resolved_relayer_keystore, read_password_file(settings.resolved_relayer_password_file)
    )
    gateway = ChainGateway(settings.rpc_url, settings.artifacts_dir, relayer=relayer, gas_price_wei=0)
    if record.exists():
        deployment = Deployment.load(record)
        say(f"reusing deployment on chain {deployment.chain_id}: ledger {deployment.ledger.address}")
        if deployment.missing_modules:  # the modules beside the ledger
            deployment = complete_modules(gateway, deployment, record, say)
        return deployment
    say(f"deploying contracts (relayer {relayer_address}, founding regulator {regulator_address})")
    deployment = gateway.deploy(regulator_address, REGULATOR_NAME)
    deployment.save(record)
    say(f"deployed the ledger at {deployment.ledger.address}; recorded in {record}")
    say(f"modules beside it: {deployment.module_addresses()}")
    say(
        f"the founding regulator's key is {keys / 'regulator.json'} (password in regulator.password); "
        "the service never reads it"
    )
    return deployment


# --- processing and metered flows ------------------------------------------------------------------


def complete_modules(
    gateway: ChainGateway, deployment: Deployment, record: Path, say: Callable[[str], None]
) -> Deployment:
    """Adds the modules a record written before they were recorded lacks."""
    missing = " or ".join(name.replace("_", "-") for name in deployment.missing_modules)
    say(f"{record} names no {missing} module: recording them (deploying those beside the ledger)")
    deployment = gateway.complete_deployment(deployment)
    deployment.save(record)
    say(f"{deployment.module_addresses()}; recorded in {record}")
    return deployment


# --- end processing and metered flows --------------------------------------------------------------


def run(settings: Settings, rpc_port: int, say: Callable[[str], None]) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # uvicorn re-raises the SIGTERM it caught once it has shut down; turning it into SystemExit lets
    # the `finally` blocks stop anvil cleanly instead of the process dying on the spot.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    genesis = datetime.now(UTC) - HISTORY_ROOM
    with running_anvil(settings.data_dir, rpc_port, say, genesis) as url:
        settings = settings.model_copy(update={"rpc_url": url})
        ensure_deployment(settings, say)
        # A new chain was deployed a year back; from here on its blocks carry today's time. (A restarted
        # anvil runs on wall-clock time already: this changes nothing then.)
        set_clock_to_now(url)
        say(f"serving the API on http://{settings.host}:{settings.port} (docs at /docs); Ctrl-C stops")
        # uvicorn re-raises the Ctrl-C it has already acted on.
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    say("stopped")


def set_clock_to_now(rpc_url: str) -> None:
    """The node's next block is dated now: never earlier (a history dated back is over) nor later."""
    Web3(Web3.HTTPProvider(rpc_url)).provider.make_request("evm_setTime", [int(time.time())])


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_for_rpc(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 30) -> None:
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 2}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"anvil exited with code {process.returncode}; see {log_path}")
        try:
            if w3.is_connected():
                return
        except Exception:  # not listening yet
            pass
        time.sleep(0.1)
    raise RuntimeError(f"anvil did not answer on {url} within {timeout:.0f} s; see {log_path}")
