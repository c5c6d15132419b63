"""Property test of the custody rules as a whole: random sequences of dispatches (alone and in batches),
transport legs, receipts, rejections with returns, and corrections, some signed by the wrong key.

Against a model of the rules, every step must succeed exactly when the model says it is legal, and then:
- a refused step leaves no trace (every lot balance and transfer status as before);
- a statement signed by anyone but its party never changes anything;
- every status change is one of the lifecycle's transitions;
- every lot's balance equals what the events put into it minus what they took out of it, so nothing shipped,
  rejected or corrected is ever lost or created, and no balance can go below zero.

A module of its own for the reason test_properties.py gives (brownie's `given` and function-scoped state);
sequences are drawn as lists (brownie's stateful runner crashes in 1.22.2, see TOOLCHAIN.md).
"""

from collections import defaultdict

import pytest
from brownie.exceptions import VirtualMachineError
from brownie.test import given
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from typed_statements import (
    LOT_QUANTITY,
    RECEIVER,
    SHIPPER,
    SLAG,
    SLAG_OPERATIONS,
    ZERO_BYTES32,
    CatalogueCode,
    TransferStatus,
    code_key,
    correction_effect,
    deadline_in,
    leg_args,
    new_party,
    next_nonce,
    plain,
    sign,
    struct_encoding,
)

EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)

S = TransferStatus
# Every status change a transfer may make (the same status again is no change: between transport legs).
TRANSITIONS = {
    (S.NONE, S.DISPATCHED),
    (S.NONE, S.AWAITING_PICK_UP),
    (S.NONE, S.RETURNING),
    (S.AWAITING_PICK_UP, S.IN_TRANSIT),
    (S.IN_TRANSIT, S.DELIVERED),
    *((s, t) for s in (S.DISPATCHED, S.DELIVERED) for t in (S.RECEIVED, S.PARTIALLY_REJECTED, S.REJECTED)),
    (S.RETURNING, S.RECEIVED),
}
AWAITING_RECEIPT = (S.DISPATCHED, S.DELIVERED, S.RETURNING)
HOLDING_A_LOT = (S.RECEIVED, S.PARTIALLY_REJECTED)


@pytest.fixture(scope="module")
def slag(register_waste_code):
    tx = register_waste_code(*SLAG)
    return CatalogueCode(code_key(*SLAG[:2]), tx.events["WasteCodeRegistered"]["id"])


@pytest.fixture(scope="module")
def world(register, register_permit, register_lot, slag, shipper, transporter):
    """A generator with a lot, a trader (receives, then ships on), a recycler, a transporter, an outsider."""
    trader, recycler, outsider = new_party(), new_party(), new_party()
    register(trader, SHIPPER | RECEIVER)
    register(recycler, RECEIVER)
    register(outsider, SHIPPER | RECEIVER)
    permits = {
        party.address: register_permit(party, [(slag.key, SLAG_OPERATIONS)], yearlyCapacity=2**56)
        for party in (trader, recycler)
    }
    lot = register_lot(shipper)
    return {
        "generator": shipper,
        "trader": trader,
        "recycler": recycler,
        "transporter": transporter,
        "outsider": outsider,
        "permits": permits,
        "lot": bytes(lot),
    }


quantity = st.one_of(st.integers(1, 5_000), st.integers(1, LOT_QUANTITY))
steps = st.lists(
    st.tuples(
        st.sampled_from(
            ["dispatch", "batch", "pickUp", "deliver", "receive", "receive", "reject", "reject", "correct"]
        ),
        st.integers(
            0, 50
        ),  # which lot or transfer (modulo how many there are; mostly among the plausible ones)
        quantity,
        quantity,
        st.integers(0, 3),  # variant: legs, alternative return destination, sign of a correction
        st.sampled_from([False] * 5 + [True]),  # signed by the outsider instead of the party
    ),
    min_size=4,
    max_size=20,
)


class Model:
    """What the rules say the ledger holds, and the lot balances the events account for."""

    def __init__(self, world):
        self.world = world
        self.lots = {world["lot"]: [world["generator"].address, LOT_QUANTITY]}
        self.transfers = {}  # id -> {status, receiver, shipper, quantity, legs, dispatch message | None}
        self.events_in = defaultdict(int, {world["lot"]: LOT_QUANTITY})
        self.events_out = defaultdict(int)
        self.proposed = {}

    def party(self, address):
        return next(
            p for p in (self.world[k] for k in ("generator", "trader", "recycler")) if p.address == address
        )

    def pick(self, collection, index):
        keys = sorted(collection)
        return keys[index % len(keys)] if keys else None

    def account(self, tx):
        """Adds a transaction's events to the per-lot ins and outs."""
        for event in tx.events:
            a = event
            match event.name:
                case "TransferDispatched":
                    self.events_out[bytes(a["lotId"])] += a["quantity"]
                case "TransferReceived":
                    self.events_in[bytes(a["transferId"])] += a["receivedQuantity"]
                case "TransferRejected":
                    self.events_in[bytes(a["transferId"])] += a["acceptedQuantity"]
                case "CorrectionProposed":
                    self.proposed[bytes(a["correctionId"])] = (a["receivedDelta"], bytes(a["transferId"]))
                case "TransferCorrected":
                    delta, transfer_id = self.proposed[bytes(a["correctionId"])]
                    self.events_in[transfer_id] += delta


def _snapshot(ledger, model):
    return (
        {lot: plain(ledger.lot(lot))[:2] for lot in model.lots},
        {t: plain(ledger.transfer(t))[1] for t in model.transfers},
    )


@EXAMPLES
@given(sequence=steps)
def test_custody_follows_the_rules_and_accounts_for_every_kilogram(
    ledger, relayer, world, signed_dispatch, signed_pick_up, signed_delivery, signed_receipt, sequence
):
    model = Model(world)
    for kind, index, q1, q2, variant, forged in sequence:
        before = _snapshot(ledger, model)
        send, legal, effect = _step(ledger, world, model, kind, index, q1, q2, variant, forged, locals())
        if send is None:
            continue
        try:
            tx = send()
        except VirtualMachineError:
            assert not legal, f"{kind} refused though legal"
            assert _snapshot(ledger, model) == before, f"refused {kind} left a trace"
            continue
        assert legal, f"{kind} accepted though illegal (forged={forged})"
        model.account(tx)
        effect(tx)
        after = _snapshot(ledger, model)
        for transfer_id, status in after[1].items():
            old = before[1].get(transfer_id, S.NONE)
            assert old == status or (old, status) in TRANSITIONS, f"{S(old).name} -> {S(status).name}"
        # The model and the chain agree, and every balance is what the events account for.
        assert after[0] == {lot: tuple(v) for lot, v in model.lots.items()}
        assert after[1] == {t: v["status"] for t, v in model.transfers.items()}
        for lot, (_, balance) in after[0].items():
            assert balance == model.events_in[lot] - model.events_out[lot] >= 0


def _step(ledger, world, model, kind, index, q1, q2, variant, forged, fixtures):
    """(send() or None, whether the model says it is legal, effect(tx) applying it to the model)."""
    outsider = world["outsider"]
    if kind in ("dispatch", "batch"):
        held = {
            lot: v
            for lot, v in model.lots.items()
            if v[0] in (world["generator"].address, world["trader"].address)
        }
        lot = model.pick(held, index)
        if lot is None:
            return None, False, None
        items = [(q1, variant % 2)] + ([(q2, (variant // 2) % 2)] if kind == "batch" else [])
        statements, legal = [], []
        balance = model.lots[lot][1]
        holder = model.party(model.lots[lot][0])
        to = world["trader"] if holder is world["generator"] else world["recycler"]
        for quantity_, legs in items:
            statement = fixtures["signed_dispatch"](
                holder,
                to,
                lot,
                world["permits"][to.address],
                quantity=quantity_,
                transporters=[world["transporter"]] * legs,
                licences=[ZERO_BYTES32] * legs,
                signer=outsider if forged else None,
            )
            ok = not forged and quantity_ <= balance
            balance -= quantity_ if ok else 0
            statements.append(statement)
            legal.append(ok)

        def effect(tx):
            for statement, ok in zip(statements, legal, strict=True):
                if ok:
                    m = statement.message
                    model.lots[lot][1] -= m["quantity"]
                    model.transfers[statement.digest] = {
                        "status": S.AWAITING_PICK_UP if m["transporters"] else S.DISPATCHED,
                        "receiver": to,
                        "shipper": holder,
                        "quantity": m["quantity"],
                        "dispatch": m,
                    }

        if kind == "dispatch":
            return (
                (lambda: ledger.dispatch(*statements[0].args, {"from": fixtures["relayer"]})),
                legal[0],
                effect,
            )
        calls = [ledger.dispatch.encode_input(*s.args) for s in statements]
        # A batch is accepted whatever its items do; each item is then recorded exactly when legal.
        return (lambda: ledger.recordBatch(calls, {"from": fixtures["relayer"]})), True, effect

    # Three times in four among the transfers whose status the step needs, so that sequences get somewhere.
    plausible = {
        "pickUp": (S.AWAITING_PICK_UP,),
        "deliver": (S.IN_TRANSIT,),
        "receive": AWAITING_RECEIPT,
        "reject": (S.DISPATCHED, S.DELIVERED),
        "correct": HOLDING_A_LOT,
    }[kind]
    candidates = {t: v for t, v in model.transfers.items() if v["status"] in plausible}
    transfer_id = model.pick(candidates if candidates and index % 4 else model.transfers, index)
    if transfer_id is None:
        return None, False, None
    t = model.transfers[transfer_id]
    status = t["status"]
    relayer = {"from": fixtures["relayer"]}

    if kind in ("pickUp", "deliver"):
        transporters = [world["transporter"]]
        builder = fixtures["signed_pick_up" if kind == "pickUp" else "signed_delivery"]
        statement = builder(transfer_id, world["transporter"], 0, signer=outsider if forged else None)
        needed = S.AWAITING_PICK_UP if kind == "pickUp" else S.IN_TRANSIT
        legal = not forged and status == needed and bool(t["dispatch"] and t["dispatch"]["transporters"])

        def effect(tx):
            t["status"] = S.IN_TRANSIT if kind == "pickUp" else S.DELIVERED

        fn = ledger.pickUp if kind == "pickUp" else ledger.deliver
        return (lambda: fn(*leg_args(statement, transporters), relayer)), legal, effect

    if kind == "receive":
        statement = fixtures["signed_receipt"](
            transfer_id, t["receiver"], q1, signer=outsider if forged else None
        )
        legal = not forged and status in AWAITING_RECEIPT

        def effect(tx):
            t["status"] = S.RECEIVED
            model.lots[transfer_id] = [t["receiver"].address, q1]

        return (lambda: ledger.confirmReceipt(*statement.args, relayer)), legal, effect

    if kind == "reject":
        accepted, rejected = q1 % (t["quantity"] + 1), q2
        elsewhere = variant == 3 and t["receiver"] is not world["recycler"]
        destination = world["recycler"] if elsewhere else t["shipper"]
        message = {
            "transferId": transfer_id,
            "receiver": t["receiver"].address,
            "acceptedQuantity": accepted,
            "rejectedQuantity": rejected,
            "reason": "contaminated",
            "returnTo": destination.address,
            "returnPermitId": world["permits"][destination.address] if elsewhere else ZERO_BYTES32,
            "returnOperation": "R5" if elsewhere else "",
            "deadline": deadline_in(3600),
        }
        statement = sign(outsider if forged else t["receiver"], ledger, "Rejection", message)
        legal = not forged and status in (S.DISPATCHED, S.DELIVERED) and t["dispatch"] is not None

        def effect(tx):
            t["status"] = S.PARTIALLY_REJECTED if accepted else S.REJECTED
            if accepted:
                model.lots[transfer_id] = [t["receiver"].address, accepted]
            return_id = bytes(tx.return_value)
            model.transfers[return_id] = {
                "status": S.RETURNING,
                "receiver": destination,
                "shipper": t["receiver"],
                "quantity": rejected,
                "dispatch": None,
            }

        encoding = struct_encoding("Dispatch", t["dispatch"]) if t["dispatch"] else [ZERO_BYTES32] * 13
        return (lambda: ledger.reject(encoding, *statement.args, relayer)), legal, effect

    # correct: the receiver proposes a change to the received quantity, the shipper countersigns.
    if t["dispatch"] is None:
        return None, False, None
    delta = (q1 % 3_000 + 1) * (-1 if variant % 2 else 1)
    message = {
        "transferId": transfer_id,
        "proposer": t["receiver"].address,
        "shippedDelta": 0,
        "receivedDelta": delta,
        "documentHash": ZERO_BYTES32,
        "reason": "weighbridge recalibrated",
        "nonce": next_nonce(),
        "deadline": deadline_in(3600),
    }
    encoding = struct_encoding("Dispatch", t["dispatch"])
    proposal = sign(outsider if forged else t["receiver"], ledger, "Correction", message)
    countersignature = sign(t["shipper"], ledger, "Correction", message)
    lot_balance = model.lots.get(transfer_id, [None, 0])[1]
    legal = not forged and status in HOLDING_A_LOT and lot_balance + delta >= 0

    def send():
        # Proposal and countersignature in one step; a refused countersignature leaves only the proposal,
        # which moves nothing (the snapshot compares balances and statuses).
        model.account(ledger.proposeCorrection(encoding, *proposal.args, relayer))
        effect = correction_effect(t["dispatch"], message)
        return ledger.countersignCorrection(
            countersignature.digest, effect, countersignature.signature, relayer
        )

    def effect(tx):
        model.lots[transfer_id][1] += delta  # a correction changes no status

    return send, legal, effect
