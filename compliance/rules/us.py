"""US rules (rule catalogue section 3.6): the RCRA manifest's signatures, the designated facility's duties on
receipt, quantity discrepancies, exception reports and retention (40 CFR parts 262-264).

They judge transfers of hazardous waste coded under RCRA (scheme "US-RCRA"). A transfer is a manifest:
its Dispatch is the generator's signature, the first transporter's PickUp the initial transporter's dated
acceptance, the receiver's Receipt or Rejection the designated facility's signature, which the generator
reads on the ledger as soon as it is recorded (its copy of the manifest the facility signed).
"""

from collections.abc import Callable
from datetime import timedelta

from compliance.casefile import CaseFile, Correction, Transfer, WasteCode
from compliance.engine import Judge
from compliance.rules.common import day, subject
from compliance.rules.custody import (
    TransferCheck,
    acceptance,
    amount,
    arrived,
    at_receipt,
    corrected_after_receipt,
    days,
    delivery,
    facility_signature,
    kept,
    signature,
    transfer_check,
)
from compliance.verdicts import Finding

US_RCRA = "US-RCRA"


def manifest_check(rule_id: str) -> Callable[[TransferCheck], TransferCheck]:
    """Registers a check that judges each transfer of RCRA hazardous waste (a manifest); the others are not
    its business."""

    def register(judge_one: TransferCheck) -> TransferCheck:
        def hazardous_only(case: CaseFile, judge: Judge, t: Transfer, code: WasteCode) -> Finding:
            if not code.hazardous:
                return judge.not_applicable(
                    subject(t),
                    f"{code.label} is not a hazardous waste, which alone travels on a manifest",
                    t.evidence,
                )
            return judge_one(case, judge, t, code)

        transfer_check(rule_id, US_RCRA, "a RCRA waste code")(hazardous_only)
        return judge_one

    return register


@manifest_check("US-MAN-01")
def generator_and_transporter_signatures(
    case: CaseFile, judge: Judge, t: Transfer, code: WasteCode
) -> Finding:
    """The generator signed the manifest, and the initial transporter signed and dated its acceptance, not
    before the generator's signature (262.23(a); a transporter may not accept an unsigned manifest,
    263.20(a))."""
    if t.return_of is not None:
        return judge.not_applicable(
            subject(t),
            f"it returns waste rejected on transfer {t.return_of}: the facility's signed rejection starts it",
            t.evidence,
        )
    signed = signature(t, "Dispatch", t.shipper)
    if signed is None:
        return judge.inconclusive(
            subject(t),
            "the generator's signed manifest (its dispatch) is not in the case file",
            t.evidence,
        )
    generator = f"the generator {case.name(t.shipper)} signed on {day(signed.recorded_at)}"
    if not t.transporters:
        return judge.failed(
            subject(t),
            f"{generator}, but no transporter is named to sign and date its acceptance",
            t.evidence,
            signed.evidence,
        )
    first = case.name(t.transporters[0])
    accepted = acceptance(t)
    if accepted is None:
        moved = t.received_quantity is not None or any(
            s.statement not in ("Dispatch", "Correction") for s in t.signatures
        )
        if moved:
            return judge.failed(
                subject(t),
                f"{generator}, but the waste moved on without the signed acceptance of the initial transporter "
                f"{first}",
                t.evidence,
                signed.evidence,
            )
        else:
            return judge.not_applicable(
                subject(t),
                f"{generator}; the initial transporter {first} has not accepted it yet",
                t.evidence,
            )
    elif accepted.recorded_at < signed.recorded_at:
        return judge.failed(
            subject(t),
            f"the initial transporter {first} accepted it on {day(accepted.recorded_at)}, before {generator}",
            signed.evidence,
            accepted.evidence,
        )
    else:
        return judge.passed(
            subject(t),
            f"{generator}; the initial transporter {first} accepted it on {day(accepted.recorded_at)}",
            signed.evidence,
            accepted.evidence,
        )


@manifest_check("US-MAN-02")
def facility_signs_and_returns_a_copy(case: CaseFile, judge: Judge, t: Transfer, code: WasteCode) -> Finding:
    """The designated facility signed the manifest on receipt, noting what it measured, and the generator had
    that signed copy within the deadline after delivery (264.71(a))."""
    deadline = judge.param("copy_days")
    delivered = delivery(t)
    facility = case.name(t.receiver)
    if delivered is None:
        return judge.not_applicable(subject(t), f"it has not been delivered to {facility} yet", t.evidence)
    signed = facility_signature(t)
    if signed is None:
        late = days(delivered, case.evaluation_date)
        if late > deadline:
            return judge.failed(
                subject(t),
                f"delivered to {facility} on {day(delivered)}, {late} days ago, and still unsigned by it: the "
                f"generator {case.name(t.shipper)} has no signed copy, due within {deadline} days",
                t.evidence,
            )
        else:
            return judge.not_applicable(
                subject(t),
                f"delivered to {facility} on {day(delivered)}; it has until "
                f"{day(delivered + timedelta(days=deadline))} to sign and send the generator a copy",
                t.evidence,
            )
    taken = days(delivered, signed.recorded_at)
    what = f"its {signed.statement.lower()} of {amount(arrived(t) or 0, code)}"
    if taken > deadline:
        return judge.failed(
            subject(t),
            f"{facility} signed {what} on {day(signed.recorded_at)}, {taken} days after delivery on "
            f"{day(delivered)}: the generator's copy was due within {deadline} days",
            t.evidence,
            signed.evidence,
        )
    else:
        return judge.passed(
            subject(t),
            f"{facility} signed {what} on {day(signed.recorded_at)}, {taken} days after delivery on "
            f"{day(delivered)}; the generator {case.name(t.shipper)} reads the signed copy on the ledger",
            t.evidence,
            signed.evidence,
        )


def _significant(judge: Judge, code: WasteCode, shipped: int, measured: int) -> bool | None:
    """Whether a discrepancy is significant: any difference in a piece count, more than the tolerance by
    weight in bulk (264.72(b)); None when the code's unit is neither a weight nor a count."""
    if code.unit in judge.param("piece_units"):
        return measured != shipped
    if code.unit in judge.param("weight_units"):
        tolerance: int = judge.param("bulk_tolerance")  # per mille
        return abs(measured - shipped) * 1000 > tolerance * shipped
    return None


def _percent(per_mille: int) -> str:
    return f"{per_mille // 10}.{per_mille % 10} %"


def _gap(code: WasteCode, shipped: int, measured: int) -> str:
    off = abs(measured - shipped) * 1000 // shipped if shipped else 0
    return f"received {amount(measured, code)} of {amount(shipped, code)} shipped ({_percent(off)} off)"


def _reconciled(judge: Judge, case: CaseFile, t: Transfer, code: WasteCode) -> Correction | None:
    """The correction whose countersignature ended a significant discrepancy, if any did."""
    shipped, measured = at_receipt(case, t)
    for c in corrected_after_receipt(case, t):
        shipped, measured = shipped + c.shipped_delta, (measured or 0) + c.received_delta
        if not _significant(judge, code, shipped, measured):
            return c
    return None


def _unit_unknown(code: WasteCode) -> str:
    return (
        f"{code.label} is measured in {code.unit}: a bulk discrepancy is judged by weight and a batch one by piece "
        "count, and the ledger holds neither for it"
    )


@manifest_check("US-DISC-01")
def significant_discrepancy(case: CaseFile, judge: Judge, t: Transfer, code: WasteCode) -> Finding:
    """What the facility measured on receipt against what the manifest said: a significant discrepancy
    (bulk: more than the tolerance by weight; batch: any difference in piece count) fails unless the parties
    reconciled it by a countersigned correction, which leaves a warning."""
    shipped, measured = at_receipt(case, t)
    if measured is None:
        return judge.not_applicable(subject(t), "it has not been received yet", t.evidence)
    significant = _significant(judge, code, shipped, measured)
    if significant is None:
        return judge.inconclusive(subject(t), _unit_unknown(code), t.evidence)
    gap = _gap(code, shipped, measured)
    if code.unit in judge.param("piece_units"):
        within, beyond = "the piece count matches", "a significant discrepancy in piece count"
    else:
        tolerance = _percent(judge.param("bulk_tolerance"))
        within = f"within {tolerance} by weight"
        beyond = f"a significant discrepancy, more than {tolerance} by weight"
    if not significant:
        return judge.passed(subject(t), f"{gap}: {within}", t.evidence)
    reconciled = _reconciled(judge, case, t, code)
    if reconciled is None:
        return judge.failed(subject(t), f"{gap}: {beyond}", t.evidence)
    else:
        return judge.warned(
            subject(t),
            f"{gap} on receipt: {beyond}, reconciled by correction {reconciled.id} countersigned on "
            # corrected_after_receipt yields applied (countersigned) corrections only.
            f"{day(reconciled.countersigned_at)}",  # type: ignore[arg-type]
            t.evidence,
            reconciled.evidence,
        )


@manifest_check("US-DISC-02")
def discrepancy_resolved_or_reported(case: CaseFile, judge: Judge, t: Transfer, code: WasteCode) -> Finding:
    """A significant discrepancy is reconciled within the deadline after receipt (a correction both parties
    signed); otherwise the facility must write to the EPA Regional Administrator at once (264.72(c)), a
    letter the ledger does not hold."""
    deadline = judge.param("resolution_days")
    shipped, measured = at_receipt(case, t)
    signed = facility_signature(t)
    received = signed.recorded_at if signed is not None else t.received_at
    if measured is None or received is None:
        return judge.not_applicable(subject(t), "it has not been received yet", t.evidence)
    significant = _significant(judge, code, shipped, measured)
    if significant is None:
        return judge.inconclusive(subject(t), _unit_unknown(code), t.evidence)
    gap = f"{_gap(code, shipped, measured)} on {day(received)}"
    if not significant:
        return judge.not_applicable(subject(t), f"{gap}: no significant discrepancy to resolve", t.evidence)
    letter = (
        f"after {deadline} days the facility had to send the EPA Regional Administrator a letter with a copy of "
        "the manifest, which the ledger does not hold"
    )
    reconciled = _reconciled(judge, case, t, code)
    if reconciled is not None:
        when = reconciled.countersigned_at or received  # applied corrections are countersigned
        taken = days(received, when)
        text = (
            f"{gap}; reconciled by correction {reconciled.id} ({reconciled.reason}) on {day(when)}, "
            f"{taken} days later"
        )
        if taken <= deadline:
            return judge.passed(subject(t), text, t.evidence, reconciled.evidence)
        else:
            return judge.inconclusive(subject(t), f"{text}: {letter}", t.evidence, reconciled.evidence)
    elif days(received, case.evaluation_date) > deadline:
        return judge.inconclusive(
            subject(t), f"{gap}, not reconciled within {deadline} days: {letter}", t.evidence
        )
    else:
        due = day(received + timedelta(days=deadline))
        return judge.not_applicable(subject(t), f"{gap}; to be reconciled by {due}", t.evidence)


@manifest_check("US-EXC-01")
def exception_report(case: CaseFile, judge: Judge, t: Transfer, code: WasteCode) -> Finding:
    """The copy signed by the designated facility came back to the generator in time; past the contact
    deadline (large quantity generators) or the exception-report deadlines (large, then small quantity
    generators), the ledger cannot show the generator's size, its contact or its exception report."""
    contact, large, small = (
        judge.param(n) for n in ("lqg_contact_days", "lqg_report_days", "sqg_report_days")
    )
    accepted = acceptance(t)
    if t.transporters and accepted is None:
        return judge.not_applicable(subject(t), "no transporter has accepted it yet", t.evidence)
    if accepted is not None:
        start = accepted.recorded_at
        started = f"the initial transporter {case.name(accepted.party)} accepted it on {day(start)}"
    else:
        start, started = (
            t.dispatched_at,
            f"it was dispatched on {day(t.dispatched_at)} with no transporter",
        )
    signed = facility_signature(t)
    facility = f"the designated facility {case.name(t.receiver)}"
    if signed is not None:
        elapsed = days(start, signed.recorded_at)
        text = f"{started}; {facility} signed it on {day(signed.recorded_at)}, {elapsed} days later"
    else:
        elapsed = days(start, case.evaluation_date)
        text = (
            f"{started}; {elapsed} days later, on {day(case.evaluation_date)}, {facility} has not signed it"
        )
    evidence = [
        t.evidence,
        *((accepted.evidence,) if accepted else ()),
        *((signed.evidence,) if signed else ()),
    ]
    if elapsed <= contact:
        if signed is not None:
            return judge.passed(subject(t), f"{text}: within {contact} days", *evidence)
        else:
            return judge.not_applicable(
                subject(t), f"{text}: its copy is not due before {contact} days", *evidence
            )
    elif elapsed <= large:
        return judge.inconclusive(
            subject(t),
            f"{text}: a large quantity generator had to contact the transporter or the facility after {contact} "
            "days; the ledger holds neither the generator's size (LQG or SQG) nor that contact",
            *evidence,
        )
    elif elapsed <= small:
        return judge.inconclusive(
            subject(t),
            f"{text}: a large quantity generator had to file an exception report after {large} days (a small "
            f"one after {small}); the ledger holds neither the generator's size (LQG or SQG) nor an exception "
            "report",
            *evidence,
        )
    else:
        return judge.inconclusive(
            subject(t),
            f"{text}: an exception report was due after {large} days (large quantity generator) or {small} days "
            "(small); none is in the ledger",
            *evidence,
        )


@manifest_check("US-RET-01")
def manifest_retained(case: CaseFile, judge: Judge, t: Transfer, code: WasteCode) -> Finding:
    """Each manifest is kept for the retention period: by the generator and transporters from the initial
    transporter's acceptance, by the facility from delivery; the later of those ends last."""
    months = judge.param("retention_months")
    accepted, delivered = acceptance(t), delivery(t)
    if delivered is not None:
        start, event = delivered, "delivery"
    elif accepted is not None:
        start, event = accepted.recorded_at, "the initial transporter's acceptance"
    else:
        start, event = t.dispatched_at, "dispatch"
    return kept(case, judge, t, start, months, f"{months} months from {event} on {day(start)}")
