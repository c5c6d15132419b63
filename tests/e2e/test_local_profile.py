"""The README's way: `make run` starts the system, a terminal does the whole slice with keys the
service never sees, Ctrl-C stops it, and a second `make run` finds the same chain and records."""

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
SYMLEDGER = str(REPO / ".venv" / "bin" / "symledger")

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class System:
    """`make run` in its own process group, as a terminal runs it; stopped with Ctrl-C (SIGINT)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir, self.port, self.rpc_port = data_dir, free_port(), free_port()
        self.api = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log = open(self.data_dir.parent / f"run-{time.monotonic_ns()}.log", "w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                "make",
                "--no-print-directory",
                "run",
                f"DATA_DIR={self.data_dir}",
                f"PORT={self.port}",
                f"RPC_PORT={self.rpc_port}",
            ],
            cwd=REPO,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"make run exited early:\n{self.output()}"
            try:
                if httpx.get(self.api + "/health", timeout=1).json()["status"] == "ok":
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"the API did not come up:\n{self.output()}")

    def interrupt(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(timeout=60)

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def cli(self, *args: str) -> dict:
        result = subprocess.run(
            [SYMLEDGER, *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "SYMLEDGER_API": self.api},
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if result.stdout.strip().startswith("{") else {"out": result.stdout}


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_make_run_then_a_transfer_from_the_terminal(tmp_path):
    system = System(tmp_path / "data")
    keys = tmp_path / "party-keys"  # the parties' own machine: the service never sees this folder
    keys.mkdir()
    (keys / "password").write_text("correct horse battery staple\n")
    regulator_key = [
        "-k",
        str(system.data_dir / "keys" / "regulator.json"),
        "--password-file",
        str(system.data_dir / "keys" / "regulator.password"),
    ]

    system.start()
    try:
        assert "deploying contracts" in system.output()
        shipper = system.cli(
            "key", "new", "-k", str(keys / "shipper.json"), "--password-file", str(keys / "password")
        )
        receiver = system.cli(
            "key", "new", "-k", str(keys / "recv.json"), "--password-file", str(keys / "password")
        )
        shipper_address, receiver_address = shipper["out"].strip(), receiver["out"].strip()
        system.cli(
            "register",
            *regulator_key,
            "--participant",
            shipper_address,
            "--role",
            "SHIPPER",
            "--legal-name",
            "Nam Cau Kien Steel",
            "--enterprise-id",
            "0200111222",
            "--park",
            "Nam Cau Kien",
        )
        system.cli(
            "register",
            *regulator_key,
            "--participant",
            receiver_address,
            "--role",
            "RECEIVER",
            "--legal-name",
            "Haiphong Aggregates",
            "--enterprise-id",
            "0200333444",
            "--park",
            "Nam Cau Kien",
        )
        system.cli(
            "waste-code",
            "register",
            *regulator_key,
            "--scheme",
            "EU-LOW",
            "--code",
            "10 02 02",
            "--unit",
            "KGM",
            "--not-hazardous",
            "--description",
            "Unprocessed slag",
        )
        system.cli(
            "permit",
            "register",
            *regulator_key,
            "--number",
            "GPMT-HP-0042",
            "--holder",
            receiver_address,
            "--kind",
            "ENVIRONMENTAL_PERMIT",
            "--cover",
            "EU-LOW|10 02 02|R5",
            "--capacity",
            "5000000",
            "--valid-from",
            "2026-01-01",
            "--valid-until",
            "2030-12-31",
        )
        shipper_key = ["-k", str(keys / "shipper.json"), "--password-file", str(keys / "password")]
        record = tmp_path / "furnace-log.pdf"
        record.write_bytes(b"%PDF-1.4 blast furnace 3, shift B: 80 t slag")
        lot = system.cli(
            "lot",
            "register",
            *shipper_key,
            "--scheme",
            "EU-LOW",
            "--code",
            "10 02 02",
            "--quantity",
            "80000",
            "--unit",
            "KGM",
            "--document",
            str(record),
        )
        lab = system.cli(
            "key", "new", "-k", str(keys / "lab.json"), "--password-file", str(keys / "password")
        )
        lab_address = lab["out"].strip()
        system.cli(
            "register",
            *regulator_key,
            "--participant",
            lab_address,
            "--role",
            "LAB",
            "--legal-name",
            "Quatest 1",
            "--enterprise-id",
            "0100999888",
            "--park",
            "",
        )
        system.cli(
            "permit",
            "register",
            *regulator_key,
            "--number",
            "VILAS-0427",
            "--holder",
            lab_address,
            "--kind",
            "LAB_ACCREDITATION",
            "--valid-from",
            "2026-01-01",
            "--valid-until",
            "2030-12-31",
        )
        analysis = tmp_path / "analysis.pdf"
        analysis.write_bytes(b"%PDF-1.4 leaching test: below QCVN 07 thresholds")
        certificate = system.cli(
            "certificate",
            "issue",
            "-k",
            str(keys / "lab.json"),
            "--password-file",
            str(keys / "password"),
            "--lot",
            lot["id"],
            "--accreditation",
            "VILAS-0427",
            "--document",
            str(analysis),
            "--results",
            str(analysis),
            "--valid-until",
            "2030-06-30",
        )
        truck = system.cli(
            "key", "new", "-k", str(keys / "truck.json"), "--password-file", str(keys / "password")
        )
        truck_address = truck["out"].strip()
        system.cli(
            "register",
            *regulator_key,
            "--participant",
            truck_address,
            "--role",
            "TRANSPORTER",
            "--legal-name",
            "Hai Phong Haulage",
            "--enterprise-id",
            "0200555666",
            "--park",
            "",
        )
        ticket = tmp_path / "weighbridge.pdf"
        ticket.write_bytes(b"%PDF-1.4 weighbridge ticket 24.5 t slag")
        transfer = system.cli(
            "dispatch",
            *shipper_key,
            "--receiver",
            receiver_address,
            "--lot",
            lot["id"],
            "--quantity",
            "24500",
            "--operation",
            "R5",
            "--permit",
            "GPMT-HP-0042",
            "--certificate",
            certificate["id"],
            "--transporter",
            truck_address,
            "--document",
            str(ticket),
        )
        assert transfer["certificates"] == [certificate["id"]]
        assert transfer["status"] == "awaiting_pick_up"
        truck_key = ["-k", str(keys / "truck.json"), "--password-file", str(keys / "password")]
        assert system.cli("pick-up", *truck_key, transfer["id"], "--leg", "0")["status"] == "in_transit"
        assert system.cli("deliver", *truck_key, transfer["id"], "--leg", "0")["status"] == "delivered"
        received = system.cli(
            "receive",
            "-k",
            str(keys / "recv.json"),
            "--password-file",
            str(keys / "password"),
            transfer["id"],
            "--quantity",
            "24380",
        )
        assert (received["status"], received["discrepancy"]) == ("received", -120)
        assert [(e["event"], e["signer"]) for e in received["evidence"]] == [
            ("TransferDispatched", shipper_address),
            ("TransferCarried", None),
            ("LegPickedUp", truck_address),
            ("LegDelivered", truck_address),
            ("TransferReceived", receiver_address),
        ]
    finally:
        system.interrupt()
    assert "stopping anvil" in system.output()
    assert not listening(system.port) and not listening(system.rpc_port)
    assert (system.data_dir / "chain" / "anvil-state.json").exists()

    system.start()  # a restart reuses the chain and the deployment
    try:
        assert "reusing deployment" in system.output()
        # The receiver signs in with its own key to read its transfer.
        again = system.cli(
            "show",
            "transfer",
            transfer["id"],
            "-k",
            str(keys / "recv.json"),
            "--password-file",
            str(keys / "password"),
        )
        assert again == received
    finally:
        system.interrupt()
