"""The committed gas snapshot (snapshots/gas.json) and what the gas tests share.

A gas test fails when its operation uses more than 5 % above the snapshot entry, or has no entry. After a
deliberate contract change, rewrite the snapshot and commit it with the change: `make gas-snapshot`
(UPDATE_GAS_SNAPSHOT=1, every tests/contracts/test_gas*.py module).

Every input of a measured transaction is fixed (keys, nonces, deadlines, strings, deployers) so the figures
repeat to the gas unit: calldata cost depends on the bytes of the signatures and addresses, and storage cost
on which slots are in use, so random keys or counter nonces would make the figures drift between runs.
"""

import json
import os
from pathlib import Path

from eth_account import Account
from eth_utils import keccak

SNAPSHOTS = Path(__file__).resolve().parents[2] / "snapshots"
SNAPSHOT = SNAPSHOTS / "gas.json"
TOLERANCE = 0.05
UPDATE = os.environ.get("UPDATE_GAS_SNAPSHOT") == "1"
FAR_DEADLINE = 2**32  # year 2106: fixed, unlike a deadline relative to the latest block


def fixed_party(label):
    """A key derived from `label`: the same party, hence the same signature bytes, in every run."""
    return Account.from_key(keccak(text=f"symbiosis-ledger gas test {label}"))


class GasSnapshot:
    """check(operation, gas_used) compares with the snapshot, or records the figure when updating."""

    def __init__(self):
        self.snapshot = json.loads(SNAPSHOT.read_text()) if SNAPSHOT.exists() else {}
        self.measured = {}

    def __call__(self, operation, tx_or_gas):
        gas = tx_or_gas if isinstance(tx_or_gas, int) else tx_or_gas.gas_used
        self.measured[operation] = gas
        if UPDATE:
            return
        assert operation in self.snapshot, f"no gas snapshot for {operation}: run `make gas-snapshot`"
        limit = self.snapshot[operation] * (1 + TOLERANCE)
        assert gas <= limit, (
            f"{operation} used {gas} gas, more than 5 % above its snapshot {self.snapshot[operation]}"
        )

    def save(self):
        if UPDATE and self.measured:
            # Re-read and merged, so each gas module (and -k subsets) keeps the other entries.
            current = json.loads(SNAPSHOT.read_text()) if SNAPSHOT.exists() else {}
            SNAPSHOT.parent.mkdir(exist_ok=True)
            SNAPSHOT.write_text(json.dumps({**current, **self.measured}, indent=2, sort_keys=True) + "\n")
