"""Gas used by RegulatorActions (contracts/regulator), checked against the committed snapshots/gas.json (rules
and rewriting: gas_snapshot.py). There is no naive baseline: a request is one event and one nonce bit, the least
a signed, replay-proof record can be.
"""

import json

import pytest
import test_gas
from brownie import RegulatorActions, accounts
from gas_snapshot import FAR_DEADLINE, SNAPSHOT
from regulator_statements import INSPECTION_REPORT, REQUEST_REASON
from typed_statements import SLAG, SLAG_OPERATIONS, code_key, permit_id, plain, sign

# The custody gas module's fixed parties (the regulator; the shipper and the receiver, registered with its
# nonces 1 and 2) and its ledger, deployed by the same account: the same transfer, to the byte, in every run.
regulator, shipper, receiver = test_gas.regulator, test_gas.shipper, test_gas.receiver
symbiosis_ledger = test_gas.symbiosis_ledger

# What is measured, and which state is warm when it runs.
OPERATIONS = {
    "requestCorrection.first": "the regulator's first request (its first nonce word here is a new slot)",
    "requestCorrection": "its next request, about the same transfer (the nonce word is in use)",
}


# Deployed by an account nothing else in this module uses, so its address (hence the domain, the signatures and
# their calldata cost) is the same whichever tests ran before.


@pytest.fixture(scope="module")
def regulator_actions(symbiosis_ledger):
    return RegulatorActions.deploy(symbiosis_ledger, {"from": accounts[6]})


@pytest.fixture(scope="module")
def transfer(
    ledger, relayer, shipper, receiver, register_waste_code, register_permit, signed_lot, signed_dispatch
):
    """The id of a dispatch of slag from the shipper to the receiver, every input of it fixed."""
    register_waste_code(*SLAG, nonce=3, deadline=FAR_DEADLINE)
    permit = register_permit(
        receiver,
        [(code_key(*SLAG[:2]), SLAG_OPERATIONS)],
        permitNumber="GP-000123/BTNMT",
        validFrom=1_735_689_600,  # 2025-01-01
        validUntil=1_893_456_000,  # 2030-01-01
        nonce=4,
        deadline=FAR_DEADLINE,
    )
    assert permit == permit_id("GP-000123/BTNMT")
    lot = signed_lot(shipper, nonce=1, deadline=FAR_DEADLINE)
    ledger.registerLot(*lot.args, {"from": relayer})
    dispatch = signed_dispatch(shipper, receiver, lot.digest, permit, nonce=2, deadline=FAR_DEADLINE)
    ledger.dispatch(*dispatch.args, {"from": relayer})
    return dispatch.digest


@pytest.fixture(scope="module")
def measured(regulator_actions, relayer, regulator, transfer):
    """{operation: gas used}: two requests of the regulator about the transfer, nonces 0 and 1."""
    gas = {}
    for operation, nonce in zip(OPERATIONS, (0, 1), strict=True):
        message = {
            "regulator": regulator.address,
            "transferId": transfer,
            "reason": REQUEST_REASON,
            "reportHash": INSPECTION_REPORT,
            "nonce": nonce,
            "deadline": FAR_DEADLINE,
        }
        statement = sign(regulator, regulator_actions, "CorrectionRequest", message)
        tx = regulator_actions.requestCorrection(*statement.args, {"from": relayer})
        assert plain(tx.events["CorrectionRequested"]["requestId"]) == statement.digest
        gas[operation] = tx.gas_used
    return gas


@pytest.mark.parametrize("operation", OPERATIONS)
def test_gas(measured, gas_snapshot, operation):
    gas_snapshot(f"RegulatorActions.{operation}", measured[operation])


def test_snapshot_holds_only_measured_operations():
    # An operation that no longer exists must leave the snapshot (UPDATE merges, so it never drops one).
    measured = {f"RegulatorActions.{op}" for op in OPERATIONS}
    recorded = {op for op in json.loads(SNAPSHOT.read_text()) if op.startswith("RegulatorActions.")}
    assert recorded == measured
