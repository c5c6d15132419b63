"""Fixtures for the contract tests.

Trust model under test: the parties (regulators, shippers, receivers) are fresh keys that hold no ether
and never send a transaction; they only sign EIP-712 statements. `relayer`, a funded dev account, submits
every statement. Whatever a test sees happen therefore happened on a party's signature, not on msg.sender.

Deployments and the standing parties are module-scoped (set up once per module, after brownie's chain
reset); `fn_isolation` reverts the chain to that state before every test.
"""

import gc

import pytest
import receipt_wait
from brownie import SymbiosisLedger, accounts, chain
from gas_snapshot import GasSnapshot
from typed_statements import (
    CERTIFICATE_DOCUMENT,
    CERTIFICATE_RESULTS,
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
    TRANSPORTER,
    WASTE_OIL,
    CatalogueCode,
    PermitKind,
    address_of,
    code_key,
    coverage,
    deadline_in,
    leg_args,
    new_party,
    next_nonce,
    permit_id,
    sign,
)

DAY = 24 * 3600
YEAR = 365 * DAY


def pytest_configure(config):
    receipt_wait.install()
    # brownie 1.22 warns about its own internal rpc.snapshot/revert calls on every test; that noise hides
    # the warnings that matter.
    config.addinivalue_line("filterwarnings", r"ignore:rpc\.\w+ should not be called directly:FutureWarning")


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    # brownie runs a full gc.collect() at every chain revert (to drop dead objects from its revert registry),
    # and a full collection walks every object alive: a few hundred tests in, a second per test. What is
    # alive now moves out of the collector's sight (gc.freeze), so those collections walk what this test made.
    gc.freeze()


@pytest.fixture(scope="module")
def gas_snapshot():
    """check(operation, tx) against snapshots/gas.json (see gas_snapshot.py); saved at the module's end."""
    snapshot = GasSnapshot()
    yield snapshot
    snapshot.save()


@pytest.fixture(scope="module")
def relayer():
    return accounts[0]


@pytest.fixture(scope="module")
def regulator():
    """The founding regulator's key."""
    return new_party()


@pytest.fixture(scope="module")
def symbiosis_ledger(module_isolation, relayer, regulator):
    """The one deployed contract: participants, waste codes and permits, lots and transfers."""
    # Depends on module_isolation so brownie's chain reset at module start runs before, not after, the deploy.
    return SymbiosisLedger.deploy(regulator.address, "Environmental Agency", {"from": relayer})


# The modules of SymbiosisLedger (contracts/custody), once three contracts, under the names the tests use
# for what they exercise: one and the same deployment.


@pytest.fixture(scope="module")
def registry(symbiosis_ledger):
    """SymbiosisLedger as the participant registry (custody/Participants.sol)."""
    return symbiosis_ledger


@pytest.fixture(scope="module")
def permits(symbiosis_ledger):
    """SymbiosisLedger as the waste-code catalogue and permit registry (custody/Permits.sol)."""
    return symbiosis_ledger


@pytest.fixture(scope="module")
def ledger(symbiosis_ledger):
    """SymbiosisLedger as the custody ledger of lots, certificates and transfers (custody/Lots.sol,
    Certificates.sol, Transfers.sol)."""
    return symbiosis_ledger


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
def signed_lot(ledger):
    """A RegisterLot statement: by default 80 t of slag (EU-LOW 10 02 02, the `slag` fixture's code)."""

    def build(generator, signer=None, chain_id=None, **fields):
        message = {
            "generator": generator.address,
            "wasteScheme": SLAG[0],
            "wasteCode": SLAG[1],
            "quantity": LOT_QUANTITY,
            "unit": SLAG[2],
            "documentHash": GENERATION_RECORD,
            "nonce": next_nonce(),
            "deadline": deadline_in(3600),
            **fields,
        }
        return sign(signer or generator, ledger, "RegisterLot", message, chain_id)

    return build


@pytest.fixture(scope="module")
def signed_dispatch(ledger):
    """A Dispatch of `SHIPPED` of lot `lot_id` for aggregate recovery (R5) under `permit_id_`, citing the
    certificate ids in `certificates`, carried by `transporters` (keys or addresses, in leg order) under
    `licences` (none of either unless given)."""

    def build(
        shipper,
        receiver,
        lot_id,
        permit_id_,
        signer=None,
        chain_id=None,
        certificates=(),
        transporters=(),
        licences=(),
        **fields,
    ):
        message = {
            "shipper": shipper.address,
            "receiver": receiver.address,
            "lotId": bytes(lot_id),
            "quantity": SHIPPED,
            "operation": "R5",
            "permitId": bytes(permit_id_),
            "certificates": [bytes(c) for c in certificates],
            "transporters": [address_of(t) for t in transporters],
            "licences": [bytes(licence) for licence in licences],
            "documentHash": DOCUMENT_HASH,
            "nonce": next_nonce(),
            "deadline": deadline_in(3600),
            **fields,
        }
        return sign(signer or shipper, ledger, "Dispatch", message, chain_id)

    return build


def _leg_builder(ledger, primary_type):
    def build(transfer_id, transporter, leg, signer=None, **fields):
        message = {
            "transferId": bytes(transfer_id),
            "transporter": address_of(transporter),
            "leg": leg,
            "deadline": deadline_in(3600),
            **fields,
        }
        return sign(signer or transporter, ledger, primary_type, message)

    return build


@pytest.fixture(scope="module")
def signed_pick_up(ledger):
    """A PickUp statement: `transporter` took custody of transfer `transfer_id` for leg `leg` (from 0)."""
    return _leg_builder(ledger, "PickUp")


@pytest.fixture(scope="module")
def signed_delivery(ledger):
    """A Delivery statement: `transporter` handed transfer `transfer_id` on at the end of leg `leg`."""
    return _leg_builder(ledger, "Delivery")


@pytest.fixture(scope="module")
def signed_receipt(ledger):
    def build(transfer_id, receiver, received_quantity=SHIPPED, signer=None, **fields):
        message = {
            "transferId": bytes(transfer_id),
            "receiver": receiver.address,
            "receivedQuantity": received_quantity,
            "deadline": deadline_in(3600),
            **fields,
        }
        return sign(signer or receiver, ledger, "Receipt", message)

    return build


@pytest.fixture(scope="module")
def signed_waste_code(permits, regulator):
    def build(scheme, code, unit="KGM", hazardous=False, description="", by=regulator, signer=None, **fields):
        message = {
            "regulator": by.address,
            "scheme": scheme,
            "code": code,
            "unit": unit,
            "hazardous": hazardous,
            "description": description,
            "nonce": next_nonce(),
            "deadline": deadline_in(3600),
            **fields,
        }
        return sign(signer or by, permits, "RegisterWasteCode", message)

    return build


@pytest.fixture(scope="module")
def signed_permit(permits, regulator):
    """`coverage_` is a list of (code key, operations) pairs; the permit number is fresh unless given."""

    def build(holder, coverage_, by=regulator, signer=None, **fields):
        now = chain[-1].timestamp
        message = {
            "regulator": by.address,
            "permitNumber": f"GP-{next_nonce():06d}/BTNMT",
            "holder": holder.address,
            "kind": PermitKind.ENVIRONMENTAL_PERMIT,
            "coverage": coverage(*coverage_),
            "yearlyCapacity": 40_000_000,
            "validFrom": now - YEAR,
            "validUntil": now + 5 * YEAR,
            "nonce": next_nonce(),
            "deadline": deadline_in(3600),
            **fields,
        }
        return sign(signer or by, permits, "RegisterPermit", message)

    return build


@pytest.fixture(scope="module")
def signed_revocation(permits, regulator):
    def build(permit_id_, by=regulator, signer=None, **fields):
        message = {
            "regulator": by.address,
            "permitId": permit_id_,
            "reason": "capacity exceeded",
            "nonce": next_nonce(),
            "deadline": deadline_in(3600),
            **fields,
        }
        return sign(signer or by, permits, "RevokePermit", message)

    return build


@pytest.fixture(scope="module")
def signed_certificate(ledger):
    """An IssueCertificate statement of `lab` for lot `lot_id` under `accreditation_id`, valid for 90 days."""

    def build(lab, lot_id, accreditation_id, signer=None, chain_id=None, **fields):
        message = {
            "lab": lab.address,
            "lotId": bytes(lot_id),
            "accreditationId": bytes(accreditation_id),
            "documentHash": CERTIFICATE_DOCUMENT,
            "resultsHash": CERTIFICATE_RESULTS,
            "validUntil": chain[-1].timestamp + 90 * DAY,
            "nonce": next_nonce(),
            "deadline": deadline_in(3600),
            **fields,
        }
        return sign(signer or lab, ledger, "IssueCertificate", message, chain_id)

    return build


@pytest.fixture(scope="module")
def signed_certificate_revocation(ledger):
    """A RevokeCertificate statement of `lab` for certificate `certificate_id` of lot `lot_id`."""

    def build(lab, certificate_id, lot_id, signer=None, **fields):
        message = {
            "lab": lab.address,
            "certificateId": bytes(certificate_id),
            "lotId": bytes(lot_id),
            "reason": "sample mislabelled",
            "nonce": next_nonce(),
            "deadline": deadline_in(3600),
            **fields,
        }
        return sign(signer or lab, ledger, "RevokeCertificate", message)

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
def register_lot(ledger, relayer, signed_lot):
    """Relays a lot registration signed by `generator`; returns the lot id."""

    def run(generator, **fields):
        statement = signed_lot(generator, **fields)
        ledger.registerLot(*statement.args, {"from": relayer})
        return statement.digest

    return run


@pytest.fixture(scope="module")
def dispatch(ledger, relayer, signed_dispatch):
    """Relays a dispatch signed by `shipper`; returns the transaction (its TransferDispatched event holds the id)."""

    def run(shipper, receiver, lot_id, permit_id_, **fields):
        return ledger.dispatch(
            *signed_dispatch(shipper, receiver, lot_id, permit_id_, **fields).args, {"from": relayer}
        )

    return run


@pytest.fixture(scope="module")
def pick_up(ledger, relayer, signed_pick_up):
    """Relays the pick-up of leg `leg` of `transfer_id` by `transporters[leg]`; returns the transaction."""

    def run(transfer_id, transporters, leg, **fields):
        statement = signed_pick_up(transfer_id, transporters[leg], leg, **fields)
        return ledger.pickUp(*leg_args(statement, transporters), {"from": relayer})

    return run


@pytest.fixture(scope="module")
def deliver(ledger, relayer, signed_delivery):
    """Relays the delivery of leg `leg` of `transfer_id` by `transporters[leg]`; returns the transaction."""

    def run(transfer_id, transporters, leg, **fields):
        statement = signed_delivery(transfer_id, transporters[leg], leg, **fields)
        return ledger.deliver(*leg_args(statement, transporters), {"from": relayer})

    return run


@pytest.fixture(scope="module")
def issue_certificate(ledger, relayer, signed_certificate):
    """Relays a certificate signed by `lab`; returns the certificate id."""

    def run(lab, lot_id, accreditation_id, **fields):
        statement = signed_certificate(lab, lot_id, accreditation_id, **fields)
        ledger.issueCertificate(*statement.args, {"from": relayer})
        return statement.digest

    return run


@pytest.fixture(scope="module")
def revoke_certificate(ledger, relayer, signed_certificate_revocation):
    """Relays `lab`'s revocation of `certificate_id` (of lot `lot_id`); returns the transaction."""

    def run(lab, certificate_id, lot_id, **fields):
        return ledger.revokeCertificate(
            *signed_certificate_revocation(lab, certificate_id, lot_id, **fields).args, {"from": relayer}
        )

    return run


@pytest.fixture(scope="module")
def receive(ledger, relayer, signed_receipt):
    """Relays `receiver`'s receipt of `transfer_id`; returns the transaction."""

    def run(transfer_id, receiver, received_quantity=SHIPPED, **fields):
        return ledger.confirmReceipt(
            *signed_receipt(transfer_id, receiver, received_quantity, **fields).args, {"from": relayer}
        )

    return run


@pytest.fixture(scope="module")
def register_waste_code(permits, relayer, signed_waste_code):
    """Registers a waste code (arguments as `signed_waste_code`); returns the transaction."""

    def run(*entry, **kwargs):
        return permits.registerWasteCode(*signed_waste_code(*entry, **kwargs).args, {"from": relayer})

    return run


@pytest.fixture(scope="module")
def register_permit(permits, relayer, signed_permit):
    """Registers `holder`'s permit covering (code key, operations) pairs; returns the permit id."""

    def run(holder, coverage_, **kwargs):
        statement = signed_permit(holder, coverage_, **kwargs)
        permits.registerPermit(*statement.args, {"from": relayer})
        return permit_id(statement.message["permitNumber"])

    return run


@pytest.fixture(scope="module")
def revoke_permit(permits, relayer, signed_revocation):
    """Revokes the permit `permit_id_`; returns the transaction."""

    def run(permit_id_, **kwargs):
        return permits.revokePermit(*signed_revocation(permit_id_, **kwargs).args, {"from": relayer})

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


@pytest.fixture(scope="module")
def transporter(register):
    """An active participant holding only the TRANSPORTER role."""
    party = new_party()
    register(party, TRANSPORTER)
    return party


@pytest.fixture(scope="module")
def lab(register):
    """An active participant holding only the LAB role."""
    party = new_party()
    register(party, LAB)
    return party


# --- catalogue and permit ----------------------------------------------------------------------------
# Function-scoped like `transfer_id`: registered inside each test's isolation, so catalogue ids depend only
# on the test itself (the first code a test registers is id 1).


@pytest.fixture
def slag(register_waste_code):
    """EU-LOW 10 02 02 in the catalogue."""
    tx = register_waste_code(*SLAG)
    return CatalogueCode(code_key(*SLAG[:2]), tx.events["WasteCodeRegistered"]["id"])


@pytest.fixture
def waste_oil(register_waste_code):
    """EU-LOW 13 02 05* (hazardous, in litres) in the catalogue."""
    tx = register_waste_code(*WASTE_OIL)
    return CatalogueCode(code_key(*WASTE_OIL[:2]), tx.events["WasteCodeRegistered"]["id"])


@pytest.fixture
def permit(receiver, slag, waste_oil, register_permit):
    """The id of the receiver's environmental permit for slag and waste oil (SLAG_/OIL_OPERATIONS)."""
    return register_permit(receiver, [(slag.key, SLAG_OPERATIONS), (waste_oil.key, OIL_OPERATIONS)])


@pytest.fixture
def accreditation(lab, register_permit):
    """The id of the lab's accreditation (a LabAccreditation permit, covering no waste code), valid now."""
    return register_permit(lab, [], kind=PermitKind.LAB_ACCREDITATION)


# --- lot and transfer --------------------------------------------------------------------------------


@pytest.fixture
def lot(shipper, slag, register_lot):
    """The id of a lot of `LOT_QUANTITY` kg of slag that `shipper` generated and holds."""
    return register_lot(shipper)


@pytest.fixture
def certificate(lab, lot, accreditation, issue_certificate):
    """The id of the lab's certificate of `lot`, valid for 90 days."""
    return issue_certificate(lab, lot, accreditation)


@pytest.fixture
def transfer_id(ledger, relayer, shipper, receiver, lot, permit, signed_dispatch):
    """The id of a transfer of `SHIPPED` kg of `lot` from `shipper` to `receiver` (R5 under `permit`), awaiting receipt."""
    statement = signed_dispatch(shipper, receiver, lot, permit)
    ledger.dispatch(*statement.args, {"from": relayer})
    return statement.digest


# --- processing (contracts/processing/Processing.sol) ------------------------------------------------
# Its statement types come from processing_statements.py, imported here when first needed so that the
# ledger-only test modules do not depend on it.


@pytest.fixture(scope="module")
def processing(symbiosis_ledger):
    """The processing module the ledger created at deployment (its `processing` address)."""
    from brownie import Processing

    return Processing.at(symbiosis_ledger.processing())


@pytest.fixture(scope="module")
def signed_processing(processing):
    """A RecordProcessing statement of `processor` from `inputs` to `outputs` (lists of processing_statements'
    lot_input / output dicts), with `external` inputs and `lossGrams` of losses (none unless given)."""
    from processing_statements import PROCESSING_RECORD

    def build(processor, inputs, outputs, external=(), signer=None, chain_id=None, **fields):
        message = {
            "processor": processor.address,
            "inputs": list(inputs),
            "externalInputs": list(external),
            "outputs": list(outputs),
            "lossGrams": 0,
            "lossDescription": "moisture",
            "documentHash": PROCESSING_RECORD,
            "nonce": next_nonce(),
            "deadline": deadline_in(3600),
            **fields,
        }
        return sign(signer or processor, processing, "RecordProcessing", message, chain_id)

    return build


@pytest.fixture(scope="module")
def signed_use(processing):
    """A DeclareUse statement: `holder` put `quantity` of output lot `lot_id` to its final use."""
    from processing_statements import USE_DOCUMENT

    def build(holder, lot_id, quantity, signer=None, **fields):
        message = {
            "holder": holder.address,
            "lotId": bytes(lot_id),
            "quantity": quantity,
            "use": "road base course, National Road 10",
            "documentHash": USE_DOCUMENT,
            "nonce": next_nonce(),
            "deadline": deadline_in(3600),
            **fields,
        }
        return sign(signer or holder, processing, "DeclareUse", message)

    return build


@pytest.fixture(scope="module")
def process(processing, relayer, signed_processing):
    """Relays a processing signed by `processor` (arguments as `signed_processing`); returns the transaction
    (its return value is the processing id)."""

    def run(processor, inputs, outputs, **kwargs):
        return processing.process(
            *signed_processing(processor, inputs, outputs, **kwargs).args, {"from": relayer}
        )

    return run


@pytest.fixture(scope="module")
def declare_use(processing, relayer, signed_use):
    """Relays `holder`'s declaration that `quantity` of lot `lot_id` was used; returns the transaction."""

    def run(holder, lot_id, quantity, **kwargs):
        return processing.declareUse(*signed_use(holder, lot_id, quantity, **kwargs).args, {"from": relayer})

    return run
