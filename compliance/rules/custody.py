"""Custody facts the EU and US rules share: who signed which step of a transfer and when, what a receipt
measured before any correction, calendar arithmetic in days and months, and whether a record's document is
still held for as long as the law says."""

from calendar import monthrange
from collections.abc import Callable, Iterator
from datetime import datetime

from compliance.casefile import CaseFile, Certificate, Correction, Signature, Transfer, WasteCode
from compliance.engine import Judge, check
from compliance.rules.common import ZERO, custody_order, day, subject
from compliance.verdicts import Finding

TransferCheck = Callable[[CaseFile, Judge, Transfer, WasteCode], Finding]


def signature(t: Transfer, statement: str, party: str | None = None) -> Signature | None:
    """The first `statement` signed on `t` (by `party`, if named)."""
    signed = [s for s in t.signatures if s.statement == statement and party in (None, s.party)]
    return min(signed, key=custody_order, default=None)


def acceptance(t: Transfer) -> Signature | None:
    """The initial transporter's signed pick-up: when the waste left its generator's hands."""
    return signature(t, "PickUp", t.transporters[0]) if t.transporters else None


def facility_signature(t: Transfer) -> Signature | None:
    """The receiver's signed receipt or rejection: its signature on arrival."""
    return signature(t, "Receipt", t.receiver) or signature(t, "Rejection", t.receiver)


def delivery(t: Transfer) -> datetime | None:
    """When the waste reached its receiver: the last transporter's signed delivery, or failing that (no
    transporter, or its delivery not in the case file) the receiver's own signature on arrival."""
    if t.transporters:
        delivered = signature(t, "Delivery", t.transporters[-1])
        if delivered is not None:
            return delivered.recorded_at
    signed = facility_signature(t)
    return signed.recorded_at if signed else None


def days(start: datetime, end: datetime) -> int:
    """Calendar days from `start` to `end` (UTC dates), as deadlines in days are counted."""
    return (end.date() - start.date()).days


def add_months(when: datetime, months: int) -> datetime:
    """The same day `months` later, or the month's last day when it has no such day."""
    year, month = divmod(when.month - 1 + months, 12)
    year += when.year
    return when.replace(year=year, month=month + 1, day=min(when.day, monthrange(year, month + 1)[1]))


def amount(quantity: int, code: WasteCode | None) -> str:
    return f"{quantity:,} {code.unit}" if code else f"{quantity:,}"


def arrived(t: Transfer) -> int | None:
    """What the receiver measured on arrival, accepted and rejected together; None before it signed."""
    if t.received_quantity is None and not t.rejected_quantity:
        return None
    return (t.received_quantity or 0) + t.rejected_quantity


def corrected_after_receipt(case: CaseFile, t: Transfer) -> list[Correction]:
    """The corrections of `t` its parties agreed on after the receiver signed, in the order they agreed."""
    signed = facility_signature(t)
    if signed is None:
        return []
    applied = [
        c
        for c in case.corrections
        if c.transfer_id == t.id
        and c.countersigned_at is not None
        and c.countersigned_at >= signed.recorded_at
    ]
    return sorted(applied, key=lambda c: (c.countersigned_at, c.id))


def at_receipt(case: CaseFile, t: Transfer) -> tuple[int, int | None]:
    """The shipped and measured quantities as the receiver's signature found them: today's quantities less
    every correction agreed on since."""
    shipped, measured = t.quantity, arrived(t)
    for c in corrected_after_receipt(case, t):
        shipped -= c.shipped_delta
        measured = None if measured is None else measured - c.received_delta
    return shipped, measured


def certificates_of(case: CaseFile, t: Transfer) -> list[Certificate]:
    """The certificates attached to the transfer and those bound to its lot, oldest first."""
    found = {c.id: c for c in case.certificates if c.lot_id == t.lot_id}
    found.update({c.id: c for cid in t.certificates if (c := case.certificate(cid)) is not None})
    return sorted(found.values(), key=lambda c: (c.issued_at, c.id))


def kept(case: CaseFile, judge: Judge, t: Transfer, start: datetime, months: int, basis: str) -> Finding:
    """Whether `t`'s record is still held `months` after `start` (`basis` says which event and who keeps
    it). The signed statements are on chain for good; what can be lost is the document they name."""
    until = add_months(start, months)
    period = f"until {day(until)}, {basis}"
    if case.evaluation_date > until:
        return judge.not_applicable(subject(t), f"its retention period ended on {day(until)} ({basis})")
    if t.document_hash in (None, ZERO):
        return judge.passed(
            subject(t),
            f"its record is the parties' signed statements on chain, which are never deleted; kept {period}",
            t.evidence,
        )
    document = case.document(t.document_hash)
    if document is None:
        return judge.inconclusive(
            subject(t),
            f"its document {t.document_hash} is not in the case file; it must be kept {period}",
            t.evidence,
        )
    if not document.stored:
        return judge.failed(
            subject(t),
            f"its document {t.document_hash} is no longer held, though it must be kept {period}",
            t.evidence,
        )
    if document.intact is False:
        return judge.failed(
            subject(t),
            f"its document {t.document_hash} no longer matches the hash the parties signed; it must be kept {period}",
            t.evidence,
        )
    return judge.passed(
        subject(t), f"its document {t.document_hash} is held, to be kept {period}", t.evidence
    )


def use_every_parameter(judge: Judge) -> None:
    """Reads all of the rule's parameters before any finding: the Judge gives each finding the parameters
    read so far, and those must not depend on which record came first."""
    for parameter in judge.rule.parameters:
        judge.param(parameter.name)


def transfer_check(rule_id: str, scheme: str, what: str) -> Callable[[TransferCheck], TransferCheck]:
    """Registers a check that judges each transfer coded in `scheme` (`what` names the scheme in the
    regulator's words) and says of the others why the rule cannot or need not judge them."""

    def register(judge_one: TransferCheck) -> TransferCheck:
        @check(rule_id)
        def each_transfer(case: CaseFile, judge: Judge) -> Iterator[Finding]:
            if any((code := case.code(t.code_key)) and code.scheme == scheme for t in case.transfers):
                use_every_parameter(judge)
            for t in case.transfers:
                code = case.code(t.code_key)
                if code is None:
                    yield judge.inconclusive(
                        subject(t), f"its waste code {t.code_key} is not in the case file", t.evidence
                    )
                elif code.scheme != scheme:
                    yield judge.not_applicable(subject(t), f"its code {code.label} is not {what}", t.evidence)
                else:
                    yield judge_one(case, judge, t, code)

        return judge_one

    return register
