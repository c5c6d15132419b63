"""Gas used per operation, checked against the committed snapshots/gas.json.

A test fails when its operation uses more than 5 % above the snapshot entry, or has no entry. After a
deliberate contract change, rewrite the snapshot and commit it with the change:

    make gas-snapshot
    # = UPDATE_GAS_SNAPSHOT=1 brownie test tests/contracts/test_gas.py --network anvil (Makefile env vars set)

Every input is fixed (keys, nonces, deadlines, strings, deployers) so the figures repeat to the gas unit:
calldata cost depends on the bytes of the signatures and addresses, and storage cost on which nonce words
are in use, so random keys or counter nonces would make the figures drift between runs.

SymbiosisLedger's custody operations are measured in the same run against
contracts/baseline/NaiveTransferLedger.sol, the same ledger written the common naive way (full records as
structs with strings, sequential nonces in storage), through the same statements; the baseline consults
SymbiosisLedger as its participant and permit registry, so parties, codes and permits are registered once.
With UPDATE_GAS_SNAPSHOT=1 the comparison is also written to snapshots/gas-vs-baseline.md. The issue's
targets: a baseline/ours ratio of at least 2.5, and absolute budgets for dispatch and receipt (GAS_BUDGETS).
"""

import json
import os
from pathlib import Path

import pytest
from brownie import NaiveTransferLedger, SymbiosisLedger, accounts, chain
from eth_account import Account
from eth_utils import keccak
from typed_statements import (
    DOCUMENT_HASH,
    GENERATION_RECORD,
    LAB,
    LOT_QUANTITY,
    OIL_OPERATIONS,
    RECEIVER,
    SHIPPED,
    SHIPPER,
    SLAG,
    SLAG_OPERATIONS,
    WASTE_OIL,
    code_key,
    permit_id,
    plain,
    sign,
    utc_year,
)

SNAPSHOTS = Path(__file__).resolve().parents[2] / "snapshots"
SNAPSHOT = SNAPSHOTS / "gas.json"
BASELINE_REPORT = SNAPSHOTS / "gas-vs-baseline.md"
TARGET_RATIO = 2.5
TOLERANCE = 0.05
UPDATE = os.environ.get("UPDATE_GAS_SNAPSHOT") == "1"
FAR_DEADLINE = 2**32  # year 2106: fixed, unlike a deadline relative to the latest block
# The issue's budgets, in gas per transaction: "dispatch of a single-lot transfer ... with the permit,
# capacity and lot-balance checks and the shipper's signature verified: <= 90,000 gas; receipt with the
# receiver's signature verified (creating the receiver's lot): <= 65,000 gas".
GAS_BUDGETS = {"dispatch.firstOfYear": 90_000, "dispatch": 90_000, "confirmReceipt": 65_000}


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


# Each deployed by an account nothing else uses, so its address (hence the domain, the signatures and
# their calldata cost) is the same whichever tests ran before, e.g. under `-k`.


@pytest.fixture(scope="module")
def symbiosis_ledger(module_isolation, regulator):
    return SymbiosisLedger.deploy(regulator.address, "Environmental Agency", {"from": accounts[1]})


@pytest.fixture(scope="module")
def naive_ledger(symbiosis_ledger):
    # SymbiosisLedger implements both registry interfaces the baseline consults.
    return NaiveTransferLedger.deploy(symbiosis_ledger, symbiosis_ledger, {"from": accounts[3]})


def test_register_participant(register, shipper, receiver, gas_snapshot):
    # A regulator's usual case: registering one firm after another (its nonce word is in use already).
    tx = register(fixed_party("lab"), LAB, nonce=3, deadline=FAR_DEADLINE)
    gas_snapshot("SymbiosisLedger.registerParticipant", tx)


def test_waste_codes_and_permits(
    permits, relayer, receiver, register_waste_code, signed_permit, revoke_permit, gas_snapshot
):
    # The regulator's nonces are one bitmap for all its statements: 1-3 went to registrations.
    register_waste_code(*SLAG, nonce=4, deadline=FAR_DEADLINE)
    # A regulator's usual case: a code after others (catalogue counter and nonce word already in use).
    second_code = register_waste_code(*WASTE_OIL, nonce=5, deadline=FAR_DEADLINE)
    gas_snapshot("SymbiosisLedger.registerWasteCode", second_code)

    coverage = [(code_key(*SLAG[:2]), SLAG_OPERATIONS), (code_key(*WASTE_OIL[:2]), OIL_OPERATIONS)]
    statement = signed_permit(
        receiver,
        coverage,
        permitNumber="GP-000123/BTNMT",
        validFrom=1_735_689_600,  # 2025-01-01
        validUntil=1_893_456_000,  # 2030-01-01
        nonce=6,
        deadline=FAR_DEADLINE,
    )
    tx = permits.registerPermit(*statement.args, {"from": relayer})
    gas_snapshot("SymbiosisLedger.registerPermit.twoCodes", tx)

    tx = revoke_permit(tx.events["PermitRegistered"]["permitId"], nonce=7, deadline=FAR_DEADLINE)
    gas_snapshot("SymbiosisLedger.revokePermit", tx)


# --- custody: SymbiosisLedger, and the naive baseline doing the same job ------------------------------

# What each measured transaction is, and which state is warm when it runs (both contracts alike).
OPERATIONS = {
    "registerLot": "the generator's second lot (for the baseline: its nonce counter is already non-zero)",
    "dispatch.firstOfYear": (
        "first dispatch under the permit this year (ours: the permit's one capacity slot, holding its "
        "capacity, starts the year's count, no new slot; the baseline: its counter for the year is a new slot)"
    ),
    "dispatch": (
        "steady state: the shipper's second dispatch from the same lot, to a receiver whose permit already "
        "has capacity used this year (lot balance and capacity used are non-zero slots)"
    ),
    "confirmReceipt": "receipt of that second dispatch, opening the receiver's lot",
}
# Operations whose baseline/ours ratio misses TARGET_RATIO: {operation: measured ratio}. Their ratio
# assertion is an expected failure (strict: it must start failing loudly once the ratio is reached).
BELOW_TARGET = {}


def _flow(contract, relayer, shipper, receiver, permit):
    """Two lots, two dispatches from the first, the receipt of the second: {operation: transaction}."""

    def send(fn, primary_type, message):
        statement = sign(signer, contract, primary_type, message)
        return statement.digest, fn(*statement.args, {"from": relayer})

    def lot_message(nonce):
        return {
            "generator": shipper.address,
            "wasteScheme": SLAG[0],
            "wasteCode": SLAG[1],
            "quantity": LOT_QUANTITY,
            "unit": SLAG[2],
            "documentHash": GENERATION_RECORD,
            "nonce": nonce,
            "deadline": FAR_DEADLINE,
        }

    def dispatch_message(lot_id, nonce):
        return {
            "shipper": shipper.address,
            "receiver": receiver.address,
            "lotId": lot_id,
            "quantity": SHIPPED,
            "operation": "R5",
            "permitId": permit,
            "documentHash": DOCUMENT_HASH,
            "nonce": nonce,
            "deadline": FAR_DEADLINE,
        }

    # Sequential nonces from 0, as the baseline requires (SymbiosisLedger accepts any).
    signer = shipper
    lot_id, _ = send(contract.registerLot, "RegisterLot", lot_message(0))
    _, second_lot = send(contract.registerLot, "RegisterLot", lot_message(1))
    _, first_dispatch = send(contract.dispatch, "Dispatch", dispatch_message(lot_id, 2))
    transfer_id, second_dispatch = send(contract.dispatch, "Dispatch", dispatch_message(lot_id, 3))
    signer = receiver
    receipt_message = {
        "transferId": transfer_id,
        "receiver": receiver.address,
        "receivedQuantity": SHIPPED - 20,
        "deadline": FAR_DEADLINE,
    }
    _, receipt = send(contract.confirmReceipt, "Receipt", receipt_message)
    txs = {
        "registerLot": second_lot,
        "dispatch.firstOfYear": first_dispatch,
        "dispatch": second_dispatch,
        "confirmReceipt": receipt,
    }
    return txs, lot_id, transfer_id


@pytest.fixture(scope="module")
def ledger_flows(
    ledger, naive_ledger, relayer, shipper, receiver, register_waste_code, signed_permit, permits
):
    """Runs the same flow through SymbiosisLedger and the baseline, then reverts the chain.

    Returns ({operation: (ours, baseline) transactions}, what each contract recorded). Module-scoped so
    both are measured once per run; the chain is reverted so the module's other tests start clean.
    """
    chain.snapshot()
    register_waste_code(*SLAG, nonce=10, deadline=FAR_DEADLINE)
    statement = signed_permit(
        receiver,
        [(code_key(*SLAG[:2]), SLAG_OPERATIONS)],
        permitNumber="GP-000777/BTNMT",
        yearlyCapacity=40_000_000,
        validFrom=1_735_689_600,  # 2025-01-01
        validUntil=2**40 - 1,
        nonce=11,
        deadline=FAR_DEADLINE,
    )
    permits.registerPermit(*statement.args, {"from": relayer})
    permit = permit_id("GP-000777/BTNMT")

    ours, lot_id, transfer_id = _flow(ledger, relayer, shipper, receiver, permit)
    year = utc_year(ours["dispatch"].timestamp)
    recorded = {
        "ours": (
            plain(ledger.lot(lot_id))[1],
            plain(ledger.lot(transfer_id))[:2],
            ledger.capacityUsed(permit, year),
        )
    }
    baseline, lot_id, transfer_id = _flow(naive_ledger, relayer, shipper, receiver, permit)
    naive_lot, naive_received = plain(naive_ledger.lots(lot_id)), plain(naive_ledger.lots(transfer_id))
    recorded["baseline"] = (
        naive_lot[7],  # balance
        (naive_received[2], naive_received[7]),  # holder, balance
        naive_ledger.capacityUsed(permit, year),
    )
    chain.revert()

    flows = {op: (ours[op], baseline[op]) for op in OPERATIONS}
    if UPDATE:
        _write_baseline_report(flows)
    return flows, recorded


def _write_baseline_report(flows):
    lines = [
        "# Gas: SymbiosisLedger against the naive baseline",
        "",
        "Written by `make gas-snapshot` (tests/contracts/test_gas.py); both measured in the same run, with the",
        "same statements and keys; the baseline consults SymbiosisLedger as its participant and permit registry.",
        "Baseline: contracts/baseline/NaiveTransferLedger.sol (full records as structs with strings, sequential",
        f"nonces in storage). Target ratio: at least {TARGET_RATIO}; the issue's budgets in the last column.",
        "",
        "| operation | ours | baseline | ratio baseline/ours | budget |",
        "|---|---:|---:|---:|---:|",
    ]
    for op, (ours, baseline) in flows.items():
        ratio = baseline.gas_used / ours.gas_used
        budget = f"{GAS_BUDGETS[op]:,}" if op in GAS_BUDGETS else ""
        lines.append(
            f"| `SymbiosisLedger.{op}` | {ours.gas_used:,} | {baseline.gas_used:,} | {ratio:.2f} | {budget} |"
        )
    lines += ["", "What each operation is, and which state is warm:", ""]
    lines += [f"- `{op}`: {what}." for op, what in OPERATIONS.items()]
    BASELINE_REPORT.write_text("\n".join(lines) + "\n")


def test_baseline_does_the_same_job(ledger_flows, receiver):
    # Same balances, same receiver's lot, same capacity used: the comparison is between equals.
    _, recorded = ledger_flows
    expected = (LOT_QUANTITY - 2 * SHIPPED, (receiver.address, SHIPPED - 20), 2 * SHIPPED)
    assert recorded["ours"] == recorded["baseline"] == expected


@pytest.mark.parametrize("operation", OPERATIONS)
def test_custody(ledger_flows, gas_snapshot, operation):
    flows, _ = ledger_flows
    gas_snapshot(f"SymbiosisLedger.{operation}", flows[operation][0])


@pytest.mark.parametrize("operation", GAS_BUDGETS)
def test_within_the_issues_budget(ledger_flows, operation):
    flows, _ = ledger_flows
    used = flows[operation][0].gas_used
    assert used <= GAS_BUDGETS[operation], (
        f"{operation} used {used} gas, over its budget {GAS_BUDGETS[operation]}"
    )


def test_first_dispatch_of_the_year_costs_no_new_slot(ledger_flows):
    # The permit's capacity slot is written when the permit is registered: a new year rewrites it. Opening
    # a new slot would cost 17,100 gas more (SSTORE of a zero slot, 20,000, against a non-zero one, 2,900).
    flows, _ = ledger_flows
    first, steady = (flows[op][0].gas_used for op in ("dispatch.firstOfYear", "dispatch"))
    assert abs(first - steady) < 1_000, f"first of the year {first}, steady {steady}"


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(
            op,
            marks=pytest.mark.xfail(
                strict=True,
                reason=f"baseline/ours is {BELOW_TARGET[op]:.2f} for {op}, below the target {TARGET_RATIO}",
            ),
        )
        if op in BELOW_TARGET
        else op
        for op in OPERATIONS
    ],
)
def test_against_naive_baseline(ledger_flows, operation):
    flows, _ = ledger_flows
    ours, baseline = (tx.gas_used for tx in flows[operation])
    assert baseline / ours >= TARGET_RATIO, f"{operation}: ours {ours}, baseline {baseline}"


def test_snapshot_holds_only_measured_operations():
    # An operation that no longer exists must leave the snapshot (UPDATE merges, so it never drops one).
    measured = {
        "SymbiosisLedger.registerParticipant",
        "SymbiosisLedger.registerWasteCode",
        "SymbiosisLedger.registerPermit.twoCodes",
        "SymbiosisLedger.revokePermit",
        *(f"SymbiosisLedger.{op}" for op in OPERATIONS),
    }
    assert set(json.loads(SNAPSHOT.read_text())) == measured
