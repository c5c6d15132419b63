"""Cross-jurisdiction design rules (rule catalogue §3.7): evidence every pack relies on."""

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from compliance.casefile import CaseFile, Certificate, Evidence, Permit, Signature, Transfer
from compliance.engine import Judge, check
from compliance.verdicts import Finding

ENVIRONMENTAL_PERMIT = "environmental_permit"
TRANSPORT_LICENCE = "hazardous_waste_transport_licence"
ZERO = "0x" + "00" * 32


def custody_order(s: Signature) -> tuple[datetime, int, int]:
    """Statements in the order the chain recorded them: several can share a block time, and within one
    block the order is the log's."""
    return (s.recorded_at, s.evidence.block or 0, s.evidence.log_index or 0)


def dispatch_order(t: Transfer) -> tuple[datetime, int, int, str]:
    """Transfers in the order the chain recorded their dispatches: several can share a block time."""
    return (t.dispatched_at, t.evidence.block or 0, t.evidence.log_index or 0, t.id)


def subject(transfer: Transfer) -> str:
    return f"transfer {transfer.id}"


def day(when: datetime) -> str:
    return when.date().isoformat()


@check("GEN-PERMIT-02")
def authorisations_valid_on_each_event_date(case: CaseFile, judge: Judge) -> Iterator[Finding]:
    """The receiver's permit on the dispatch and receipt dates; each licensed transporter's licence on the
    dispatch date. A return to its shipper needs no permit."""
    for t in case.transfers:
        if t.permit_id in (None, ZERO):
            yield judge.not_applicable(subject(t), "a return to its shipper needs no permit", t.evidence)
            continue
        permit = case.permit(t.permit_id)
        if permit is None:
            yield judge.inconclusive(subject(t), f"permit {t.permit_id} is not in the case file", t.evidence)
            continue
        problems = [
            f"the receiver's permit {permit.number} {why_invalid(permit, when)} on {day(when)} ({event})"
            for event, when in (("dispatch", t.dispatched_at), ("receipt", t.received_at))
            if when is not None and not permit.valid_on(when)
        ]
        for transporter, licence_id in zip(t.transporters, t.licences, strict=False):
            if licence_id in (None, ZERO):
                continue
            licence = case.permit(licence_id)
            if licence is None:
                problems.append(f"licence {licence_id} of {case.name(transporter)} is not in the case file")
            elif not licence.valid_on(t.dispatched_at):
                problems.append(
                    f"the transport licence {licence.number} of {case.name(transporter)} "
                    f"{why_invalid(licence, t.dispatched_at)} on {day(t.dispatched_at)}"
                )
        if problems:
            yield judge.failed(subject(t), "; ".join(problems), t.evidence, permit.evidence)
        else:
            yield judge.passed(
                subject(t),
                f"the receiver's permit {permit.number} was valid on every event date",
                t.evidence,
                permit.evidence,
            )


def why_invalid(record: Permit | Certificate, when: datetime) -> str:
    """Why a permit or certificate was not valid on `when`."""
    if record.revoked_at is not None and record.revoked_at <= when:
        return f"was revoked (on {day(record.revoked_at)})"
    start = record.valid_from if isinstance(record, Permit) else record.issued_at
    if when < start:
        return f"was not yet valid (from {day(start)})"
    return f"had expired (on {day(record.valid_until)})"


@check("GEN-CHAIN-01")
def mass_balance_of_each_lot(case: CaseFile, judge: Judge) -> Iterator[Finding]:
    """What left a lot (shipped, processed, put to its final use) never exceeds what it held, within the pack's tolerance; its
    balance is what it held less what left."""
    tolerance = judge.param("tolerance")  # per mille of what the lot held
    taken: dict[str, int] = defaultdict(int)
    evidence: dict[str, list[Evidence]] = defaultdict(list)
    for t in case.transfers:
        if t.return_of is None:  # a return leaves no lot: its quantity left the rejected transfer
            taken[t.lot_id] += t.quantity
            evidence[t.lot_id].append(t.evidence)
    for p in case.processings:
        for i in p.inputs:
            taken[i.lot_id] += i.quantity
            evidence[i.lot_id].append(p.evidence)
    for u in case.uses:
        taken[u.lot_id] += u.quantity
        evidence[u.lot_id].append(u.evidence)
    for lot in case.lots:
        out = taken.get(lot.id, 0)
        where = f"lot {lot.id}"
        if out * 1000 > lot.quantity * (1000 + tolerance):
            yield judge.failed(
                where,
                f"{out} left the lot, more than the {lot.quantity} it held (tolerance {tolerance} per mille)",
                lot.evidence,
                *evidence[lot.id],
            )
        elif lot.quantity - out != lot.balance:
            yield judge.warned(
                where,
                f"the lot held {lot.quantity} and {out} left it, yet its balance is {lot.balance}: a correction "
                "or a record outside this case file accounts for the difference",
                lot.evidence,
                *evidence[lot.id],
            )
        else:
            yield judge.passed(
                where,
                f"{out} of the {lot.quantity} it held left the lot; {lot.balance} remains",
                lot.evidence,
            )


@check("GEN-CHAIN-02")
def no_double_counting(case: CaseFile, judge: Judge) -> Iterator[Finding]:
    """A transfer's receipt opens one lot only, and no lot is both received and produced."""
    opened: dict[str, list[str]] = defaultdict(list)
    for lot in case.lots:
        if lot.source_transfer is not None:
            opened[lot.source_transfer].append(lot.id)
    produced = {o.lot_id for p in case.processings for o in p.outputs}
    for t in case.transfers:
        lots = opened.get(t.id, [])
        if len(lots) > 1:
            yield judge.failed(
                subject(t),
                f"its receipt is counted in {len(lots)} lots: {', '.join(sorted(lots))}",
                t.evidence,
            )
        elif lots and lots[0] in produced:
            yield judge.failed(
                subject(t), f"lot {lots[0]} is counted as received and as produced", t.evidence
            )
        elif t.received_quantity is not None:
            yield judge.passed(subject(t), "its receipt is counted once", t.evidence)


# Who must sign each step of a transfer, in order.
_STEPS = ("Dispatch", "PickUp", "Delivery", "Receipt")


@check("GEN-SIG-01")
def signatures_bound_and_in_order(case: CaseFile, judge: Judge) -> Iterator[Finding]:
    """Each step was signed by the party it belongs to, in custody order: the shipper's dispatch, each
    transporter's pick-up and delivery in leg order, the receiver's receipt or rejection."""
    for t in case.transfers:
        if t.return_of is not None:
            continue  # a return is the rejection the receiver signed; its receipt is judged like any other
        signed = sorted(t.signatures, key=custody_order)
        if not any(s.statement == "Dispatch" for s in signed):
            yield judge.inconclusive(
                subject(t), "the shipper's signed dispatch is not in the case file", t.evidence
            )
            continue
        problems = []
        expected = {"Dispatch": [t.shipper], "Receipt": [t.receiver], "Rejection": [t.receiver]}
        expected["PickUp"] = list(t.transporters)
        expected["Delivery"] = list(t.transporters)
        for s in signed:
            if s.party not in expected.get(s.statement, []):
                problems.append(
                    f"the {s.statement} was signed by {case.name(s.party)}, not a party entitled to it"
                )
        order = [s.statement for s in signed if s.statement in _STEPS]
        if order != sorted(order, key=_STEPS.index):
            problems.append(f"custody steps were recorded out of order: {', '.join(order)}")
        if t.received_quantity is not None and not any(
            s.statement in ("Receipt", "Rejection") for s in signed
        ):
            problems.append("it is received, but the receiver's signed receipt is not in the case file")
        if problems:
            yield judge.failed(subject(t), "; ".join(problems), t.evidence, *(s.evidence for s in signed))
        else:
            yield judge.passed(
                subject(t),
                f"{len(signed)} statements, each signed by its party, in custody order",
                *(s.evidence for s in signed),
            )
