"""Fixtures for the contract tests.

Trust model under test: the parties (regulators, shippers, receivers) are fresh keys that hold no ether
and never send a transaction; they only sign EIP-712 statements. `relayer`, a funded dev account, submits
every statement. Whatever a test sees happen therefore happened on a party's signature, not on msg.sender.

Deployments and the standing parties are module-scoped (set up once per module, after brownie's chain
reset); `fn_isolation` reverts the chain to that state before every test.
"""

import pytest
from brownie import ParticipantRegistry, TransferLedger, accounts
from typed_statements import (
    RECEIVER,
    SHIPPER,
    deadline_in,
    new_party,
    next_nonce,
    sign,
)

DOCUMENT_HASH = bytes.fromhex("5e" * 32)  # stands for the SHA-256 of the transfer document
LOT_ID = bytes.fromhex("10" * 32)


def pytest_configure(config):
    # brownie 1.22 warns about its own internal rpc.snapshot/revert calls on every test; that noise hides
    # the warnings that matter.
    config.addinivalue_line("filterwarnings", r"ignore:rpc\.\w+ should not be called directly:FutureWarning")


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    pass


@pytest.fixture(scope="module")
def relayer():
    return accounts[0]


@pytest.fixture(scope="module")
def regulator():
    """The founding regulator's key."""
    return new_party()


@pytest.fixture(scope="module")
def registry(module_isolation, relayer, regulator):
    # Depends on module_isolation so brownie's chain reset at module start runs before, not after, the deploy.
    return ParticipantRegistry.deploy(regulator.address, "Environmental Agency", {"from": relayer})


@pytest.fixture(scope="module")
def ledger(registry, relayer):
    return TransferLedger.deploy(registry, {"from": relayer})


# --- signed statements -------------------------------------------------------------------------------
# Each builder fills in sensible defaults (fresh nonce, deadline an hour ahead); keyword arguments override
# any field. `signer=` makes another key sign a statement that names someone else, `chain_id=` signs for
# another chain's domain.


@pytest.fixture(scope="module")
def signed_registration(registry, regulator):
    def build(account, roles, by=regulator, signer=None, chain_id=None, **fields):
        message = {
            "regulator": by.address,
            "participant": account,
            "roles": roles,
            "legalName": "Xiamen Paper Co., Ltd.",
            "enterpriseId": "91350200MA2XYZ123K",
            "park": "Haicang Eco-Industrial Park",
            "nonce": next_nonce(),
            "deadline": deadline_in(3600),
            **fields,
        }
        return sign(signer or by, registry, "RegisterParticipant", message, chain_id)

    return build


@pytest.fixture(scope="module")
def signed_status(registry, regulator):
    def build(account, suspended, by=regulator, signer=None, **fields):
        message = {
            "regulator": by.address,
            "participant": account,
            "suspended": suspended,
            "reason": "inspection" if suspended else "inspection passed",
            "nonce": next_nonce(),
            "deadline": deadline_in(3600),
            **fields,
        }
        return sign(signer or by, registry, "SetParticipantStatus", message)

    return build


@pytest.fixture(scope="module")
def signed_dispatch(ledger):
    def build(shipper, receiver, signer=None, chain_id=None, **fields):
        message = {
            "shipper": shipper.address,
            "receiver": receiver.address,
            "lotId": LOT_ID,
            "wasteCode": "03 03 07",
            "quantity": 12_500,
            "unit": "KGM",
            "documentHash": DOCUMENT_HASH,
            "nonce": next_nonce(),
            "deadline": deadline_in(3600),
            **fields,
        }
        return sign(signer or shipper, ledger, "Dispatch", message, chain_id)

    return build


@pytest.fixture(scope="module")
def signed_receipt(ledger):
    def build(transfer_id, receiver, received_quantity=12_500, signer=None, **fields):
        message = {
            "transferId": bytes(transfer_id),
            "receiver": receiver.address,
            "receivedQuantity": received_quantity,
            "nonce": next_nonce(),
            "deadline": deadline_in(3600),
            **fields,
        }
        return sign(signer or receiver, ledger, "Receipt", message)

    return build


# --- sign and relay in one step (for setup and happy paths) ------------------------------------------


@pytest.fixture(scope="module")
def register(registry, relayer, signed_registration):
    """Registers `party` with `roles`; returns the transaction."""

    def run(party, roles, **kwargs):
        return registry.registerParticipant(
            *signed_registration(party.address, roles, **kwargs).args, {"from": relayer}
        )

    return run


@pytest.fixture(scope="module")
def set_status(registry, relayer, signed_status):
    """Suspends (`suspended=True`) or reinstates `party`; returns the transaction."""

    def run(party, suspended, **kwargs):
        return registry.setParticipantStatus(
            *signed_status(party.address, suspended, **kwargs).args, {"from": relayer}
        )

    return run


@pytest.fixture(scope="module")
def dispatch(ledger, relayer, signed_dispatch):
    """Relays a dispatch signed by `shipper`; returns the transaction (its return_value is the transfer id)."""

    def run(shipper, receiver, **fields):
        return ledger.dispatch(*signed_dispatch(shipper, receiver, **fields).args, {"from": relayer})

    return run


@pytest.fixture(scope="module")
def receive(ledger, relayer, signed_receipt):
    """Relays `receiver`'s receipt of `transfer_id`; returns the transaction."""

    def run(transfer_id, receiver, received_quantity=12_500, **fields):
        return ledger.confirmReceipt(
            *signed_receipt(transfer_id, receiver, received_quantity, **fields).args, {"from": relayer}
        )

    return run


# --- standing parties --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipper(register):
    """An active participant holding only the SHIPPER role."""
    party = new_party()
    register(party, SHIPPER)
    return party


@pytest.fixture(scope="module")
def receiver(register):
    """An active participant holding only the RECEIVER role."""
    party = new_party()
    register(party, RECEIVER)
    return party


@pytest.fixture
def transfer_id(shipper, receiver, signed_dispatch, ledger, relayer):
    """The id of a transfer dispatched from `shipper` to `receiver` and awaiting receipt."""
    statement = signed_dispatch(shipper, receiver)
    ledger.dispatch(*statement.args, {"from": relayer})
    return statement.digest
