"""Gas used per operation, checked against the committed snapshots/gas.json.

A test fails when its operation uses more than 5 % above the snapshot entry, or has no entry. After a
deliberate contract change, rewrite the snapshot and commit it with the change:

    make gas-snapshot
    # = UPDATE_GAS_SNAPSHOT=1 brownie test tests/contracts/test_gas.py --network anvil (Makefile env vars set)

Every input is fixed (keys, nonces, deadlines, strings) so the figures repeat to the gas unit: calldata
cost depends on the bytes of the signatures and addresses, and storage cost on which nonce words are in
use, so random keys or counter nonces would make the figures drift between runs.
"""

import json
import os
from pathlib import Path

import pytest
from brownie import PermitRegistry, accounts
from eth_account import Account
from eth_utils import keccak
from typed_statements import (
    LAB,
    OIL_OPERATIONS,
    RECEIVER,
    SHIPPER,
    SLAG,
    SLAG_OPERATIONS,
    WASTE_OIL,
    code_key,
)

SNAPSHOT = Path(__file__).resolve().parents[2] / "snapshots" / "gas.json"
TOLERANCE = 0.05
UPDATE = os.environ.get("UPDATE_GAS_SNAPSHOT") == "1"
FAR_DEADLINE = 2**32  # year 2106: fixed, unlike a deadline relative to the latest block


def fixed_party(label):
    return Account.from_key(keccak(text=f"symbiosis-ledger gas test {label}"))


@pytest.fixture(scope="module")
def gas_snapshot():
    """check(operation, tx) compares tx's gas with the snapshot, or records it when updating."""
    snapshot = json.loads(SNAPSHOT.read_text()) if SNAPSHOT.exists() else {}
    measured = {}

    def check(operation, tx):
        measured[operation] = tx.gas_used
        if UPDATE:
            return
        assert operation in snapshot, f"no gas snapshot for {operation}: run `make gas-snapshot`"
        limit = snapshot[operation] * (1 + TOLERANCE)
        assert tx.gas_used <= limit, (
            f"{operation} used {tx.gas_used} gas, more than 5 % above its snapshot {snapshot[operation]}"
        )

    yield check
    if UPDATE and measured:
        # Merged, so updating with a subset of the tests (-k) keeps the other entries.
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps({**snapshot, **measured}, indent=2, sort_keys=True) + "\n")


# Deterministic stand-ins for conftest's random parties (same names, so conftest's fixtures use them).


@pytest.fixture(scope="module")
def regulator():
    return fixed_party("regulator")


@pytest.fixture(scope="module")
def shipper(register):
    party = fixed_party("shipper")
    register(party, SHIPPER, nonce=1, deadline=FAR_DEADLINE)
    return party


@pytest.fixture(scope="module")
def receiver(register):
    party = fixed_party("receiver")
    register(party, RECEIVER, nonce=2, deadline=FAR_DEADLINE)
    return party


@pytest.fixture(scope="module")
def permits(registry):
    # Deployed by an account nothing else uses, so its address (hence the domain, the signatures and their
    # calldata cost) is the same whichever tests ran before, e.g. under `-k`.
    return PermitRegistry.deploy(registry, {"from": accounts[1]})


def test_register_participant(register, shipper, receiver, gas_snapshot):
    # A regulator's usual case: registering one firm after another (its nonce word is in use already).
    tx = register(fixed_party("lab"), LAB, nonce=3, deadline=FAR_DEADLINE)
    gas_snapshot("ParticipantRegistry.registerParticipant", tx)


def test_dispatch(dispatch, shipper, receiver, gas_snapshot):
    first = dispatch(shipper, receiver, nonce=0, deadline=FAR_DEADLINE)
    # Same shipper, next nonce: its nonce bitmap word is already non-zero, so the nonce costs less.
    second = dispatch(shipper, receiver, nonce=1, deadline=FAR_DEADLINE)
    assert second.gas_used < first.gas_used
    gas_snapshot("TransferLedger.dispatch", first)
    gas_snapshot("TransferLedger.dispatch.secondByShipper", second)


def test_confirm_receipt(dispatch, receive, shipper, receiver, gas_snapshot):
    transfer_id = dispatch(shipper, receiver, nonce=0, deadline=FAR_DEADLINE).return_value
    tx = receive(transfer_id, receiver, 12_480, nonce=0, deadline=FAR_DEADLINE)
    gas_snapshot("TransferLedger.confirmReceipt", tx)


def test_permit_registry(
    permits, relayer, receiver, register_waste_code, signed_permit, revoke_permit, gas_snapshot
):
    register_waste_code(*SLAG, nonce=1, deadline=FAR_DEADLINE)
    # A regulator's usual case: a code after others (catalogue counter and nonce word already in use).
    second_code = register_waste_code(*WASTE_OIL, nonce=2, deadline=FAR_DEADLINE)
    gas_snapshot("PermitRegistry.registerWasteCode", second_code)

    coverage = [(code_key(*SLAG[:2]), SLAG_OPERATIONS), (code_key(*WASTE_OIL[:2]), OIL_OPERATIONS)]
    statement = signed_permit(
        receiver,
        coverage,
        permitNumber="GP-000123/BTNMT",
        validFrom=1_735_689_600,  # 2025-01-01
        validUntil=1_893_456_000,  # 2030-01-01
        nonce=3,
        deadline=FAR_DEADLINE,
    )
    tx = permits.registerPermit(*statement.args, {"from": relayer})
    gas_snapshot("PermitRegistry.registerPermit.twoCodes", tx)

    tx = revoke_permit(tx.events["PermitRegistered"]["permitId"], nonce=4, deadline=FAR_DEADLINE)
    gas_snapshot("PermitRegistry.revokePermit", tx)
